"""Charts drawn by a worker process (forked from this one before the simulations, so it starts
with this one's modules), which loads matplotlib (about a second to import here) before the
runs it is given, and draws while this process writes the tables: on a machine with a core
to spare, the charts leave the critical path.

Owns: the work sent to that worker (a function of ``sim.present.plots`` and its arguments,
pickled) and its outcome. Must not: draw anything itself, or start processes (the run layer's
``Workers`` does).
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any


def _load() -> None:
    """In the worker: load the plotting code (matplotlib) before the runs it is given."""
    from sim.present import plots  # noqa: F401


def _draw(name: str, args: tuple[Any, ...]) -> str:
    """In the worker: ``sim.present.plots.<name>(*args)``; its traceback if it failed ('' if
    not), so that the failure is told here in full."""
    from sim.present import plots

    try:
        getattr(plots, name)(*args)
    except BaseException:  # reported to the parent, which raises it
        return traceback.format_exc()
    return ""


class Charts:
    """One batch of charts, drawn by a worker forked from this process
    (``sim.run.runner.Workers.fork``): ``submit`` is its ``Workers.submit``."""

    def __init__(self, submit: Callable[..., Future[Any]]) -> None:
        self.submit = submit
        self.loaded = submit(_load)  # on a core the runs leave idle, before them
        self.drawn: Future[Any] | None = None

    def draw(self, name: str, *args: Any) -> None:
        """Have the worker call ``sim.present.plots.<name>(*args)``; returns at once."""
        self.drawn = self.submit(_draw, name, args)

    def wait(self) -> None:
        """Wait until the charts are drawn (at once when nothing was sent).

        Raises:
            RuntimeError: drawing failed; the message holds the worker's traceback.
        """
        self.loaded.result()
        error = self.drawn.result() if self.drawn is not None else ""
        if error:
            raise RuntimeError(f"drawing the charts failed:\n{error}")
