"""Charts drawn in a second process, started before the simulations so that matplotlib (about a
second to import here) loads on a core they leave idle, and drawing while this process writes
the tables: on a machine with a core to spare, the charts leave the critical path.

Owns: that process (forked, so it starts with this one's modules and needs no re-import of
the simulator), the work sent to it (a function of ``sim.present.plots`` and its arguments,
pickled) and its outcome. Must not: draw anything itself, or be used where processes cannot
be forked (``start`` says None there: draw in this process).
"""

from __future__ import annotations

import multiprocessing
import traceback
from typing import Any


def _serve(conn: Any) -> None:
    """The second process: load the plotting code, then draw what comes, once."""
    from sim.present import plots

    job = conn.recv()
    if job is None:  # nothing to draw after all
        return
    name, args = job
    try:
        getattr(plots, name)(*args)
    except BaseException:  # reported to the parent, which raises it
        conn.send(traceback.format_exc())
        return
    conn.send("")


class Charts:
    """A second process that draws one batch of charts."""

    def __init__(self, process: Any, conn: Any) -> None:
        self.process = process
        self.conn = conn
        self.sent = False

    @classmethod
    def start(cls) -> Charts | None:
        """The process, started (None where processes cannot be forked)."""
        if "fork" not in multiprocessing.get_all_start_methods():
            return None
        context = multiprocessing.get_context("fork")
        here, there = context.Pipe()
        process = context.Process(target=_serve, args=(there,), name="charts", daemon=True)
        process.start()
        there.close()
        return cls(process, here)

    def draw(self, name: str, *args: Any) -> None:
        """Have it call ``sim.present.plots.<name>(*args)``; returns at once."""
        self.conn.send((name, args))
        self.sent = True

    def wait(self) -> None:
        """Wait until the charts are drawn (or tell the process there is nothing to draw).

        Raises:
            RuntimeError: drawing failed; the message holds the second process's traceback.
        """
        if not self.sent:
            self.conn.send(None)
            self.process.join()
            return
        try:
            error = self.conn.recv()
        except EOFError:
            error = f"the charts' process ended without a word (exit {self.process.exitcode})"
        self.process.join()
        if error:
            raise RuntimeError(f"drawing the charts failed:\n{error}")
