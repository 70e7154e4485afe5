"""Calls shared between this process and processes forked from it for them: each process takes
the next call as it becomes free, so a few calls of a second or less each (a run's charts,
each writing its own file) finish on every core at once. The children are forked, so they
start with this process's modules and data: nothing is pickled but what a call returns.

Owns: starting those children, handing out the calls, and gathering what became of each.
Must not: know what the calls do (they are plain functions of no arguments), or be used for
long or many calls (``runner.Workers`` runs simulations).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import Any


def _made(call: Callable[[], object]) -> str:
    """Make ``call``: its traceback if it failed, else ''."""
    try:
        call()
    except BaseException:  # told to the caller, who raises it with its whole story
        return traceback.format_exc()
    return ""


def _taken(counter: Any, total: int) -> Iterator[int]:
    """The index of each call this process takes from the shared ``counter``, until none is
    left."""
    while True:
        with counter.get_lock():
            i = counter.value
            counter.value = i + 1
        if i >= total:
            return
        yield i


def shared(calls: Sequence[Callable[[], object]], processes: int) -> list[str]:
    """Make every call, on this process and up to ``processes - 1`` children forked from it,
    each process taking the next call in order as it becomes free; where processes cannot be
    forked, or for one process or one call, all here in turn.

    Returns:
        For each call, in order, the traceback of its failure, or '' where it did not fail (a
        child that ended before telling leaves its calls' failure in their place).
    """
    children = min(processes, len(calls)) - 1
    if children < 1 or "fork" not in multiprocessing.get_all_start_methods():
        return [_made(call) for call in calls]
    context = multiprocessing.get_context("fork")
    counter = context.Value("i", 0)
    told: dict[int, str] = {}
    readers: list[Any] = []
    started = []
    for n in range(children):
        reader, writer = context.Pipe(duplex=False)

        def share(writer: Any = writer) -> None:
            for i in _taken(counter, len(calls)):
                writer.send((i, _made(calls[i])))
            writer.close()

        child = context.Process(target=share, name=f"sim-shared-{n + 1}", daemon=True)
        child.start()
        writer.close()  # the child's alone: its reader ends when the child has told all
        readers.append(reader)
        started.append(child)
    for i in _taken(counter, len(calls)):
        told[i] = _made(calls[i])
    while readers:
        for ready in multiprocessing.connection.wait(readers):
            connection: Any = ready  # one of ``readers``
            try:
                i, error = connection.recv()
            except EOFError:  # that child has told all it made
                readers.remove(ready)
                connection.close()
                continue
            told[i] = error
    for child in started:
        child.join()
    codes = ", ".join(str(child.exitcode) for child in started)
    return [told.get(i, f"the process that took this call ended without telling what became "
                        f"of it (exit codes {codes})") for i in range(len(calls))]
