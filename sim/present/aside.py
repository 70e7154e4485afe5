"""Charts drawn by a worker process (forked from this one before the simulations, so it starts
with this one's modules), which loads matplotlib (about a second to import here) before the
runs it is given, and draws while this process writes the tables: on a machine with a core
to spare, the charts leave the critical path. The worker shares the charts, one file each,
with processes it forks once matplotlib is loaded (``sim.run.forks.shared``), as many in all
as the run has jobs: five charts take about a second and a quarter on one process.

Owns: the work sent to that worker (a function of ``sim.present.plots`` that lists the
charts, and its arguments, pickled) and its outcome. Must not: draw anything itself, or start
processes (the run layer's ``Workers`` and ``forks`` do).
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any


def _load() -> None:
    """In the worker: load the plotting code (matplotlib) before the runs it is given."""
    from sim.present import plots  # noqa: F401


def _draw(name: str, args: tuple[Any, ...], processes: int) -> str:
    """In the worker: the charts ``sim.present.plots.<name>(*args)`` lists, made on up to
    ``processes`` processes; the tracebacks of those that failed ('' if none did), so that a
    failure is told here in full."""
    from sim.present import plots
    from sim.run.forks import shared

    try:
        calls = getattr(plots, name)(*args)
        return "\n".join(error for error in shared(calls, processes) if error)
    except BaseException:  # reported to the parent, which raises it (a fork refused, say)
        return traceback.format_exc()


class Charts:
    """One batch of charts, drawn by a worker forked from this process
    (``sim.run.runner.Workers.fork``): ``submit`` is its ``Workers.submit``; ``processes``,
    how many processes may draw them at once (the run's jobs)."""

    def __init__(self, submit: Callable[..., Future[Any]], processes: int) -> None:
        self.submit = submit
        self.processes = processes
        self.loaded = submit(_load)  # on a core the runs leave idle, before them
        self.drawn: Future[Any] | None = None

    def draw(self, name: str, *args: Any) -> None:
        """Have the worker make the charts ``sim.present.plots.<name>(*args)`` lists (a list
        of calls, as ``chart_calls``); returns at once."""
        self.drawn = self.submit(_draw, name, args, self.processes)

    def wait(self) -> None:
        """Wait until the charts are drawn (at once when nothing was sent).

        Raises:
            RuntimeError: drawing failed; the message holds the worker's traceback.
        """
        self.loaded.result()
        error = self.drawn.result() if self.drawn is not None else ""
        if error:
            raise RuntimeError(f"drawing the charts failed:\n{error}")
