"""The command line: ``csim run``, ``validate``, ``schema``, ``density``, ``plan``, ``images``,
``fidelity``, ``profiles`` and ``fit``.

Owns: arguments, exit statuses and what is printed. Bad input exits with status 2 after
printing every problem as FILE:LINE:COL: path: message, and writes nothing. The parser and
dispatch are in ``sim.cli.dispatch``, each command's work in its own module.
"""

from __future__ import annotations

from sim.cli.common import EXIT_BAD_INPUT, EXIT_BUG
from sim.cli.dispatch import main

__all__ = ["EXIT_BAD_INPUT", "EXIT_BUG", "main"]
