"""The one kind of failure a user causes and can fix: an output folder that cannot be written,
a cluster that cannot be reached, a scenario's problems (``sim.edge.loader.ScenarioError`` is
one). The command line prints its message and exits with status 2; any other exception is a
bug and is reported as one.

Owns: ``UserError``. Must not: import anything of the simulator.
"""

from __future__ import annotations


class UserError(Exception):
    """A failure caused by the command's input or surroundings; ``str()`` says what is wrong
    and what would be right."""


class OutputError(UserError):
    """A results folder that cannot be written."""


class ClusterError(UserError):
    """A Dask scheduler that cannot be reached or used."""
