"""The kernel: the one module that touches SimPy's internals. The model's own events on SimPy's
schedule (timers that only run callbacks, urgent events, the event a shared pool's job fires),
the clock read on the hot path, the loop that processes the schedule, and discarding a
finished run.

Owns: every use of a SimPy attribute or constant that is not public (``Environment._now``,
``_queue`` and ``_eid``, ``Event._ok``, ``_value`` and ``_defused``, ``simpy.events.PENDING``,
``NORMAL`` and ``URGENT``), and the check, on import, that the installed SimPy still has them
as this module was written against (SimPy 4.1; ``pyproject.toml`` pins 4.1.x): a SimPy that
differs fails at once with a message that names it, not with wrong numbers. Must not: know
what the callbacks do.

``Environment`` is ``simpy.Environment`` with the clock in a slot: ``env.now`` reads that
slot, where SimPy's ``now`` is a property (a Python-level call), and ``_now``, SimPy's own
name for the clock, is the same slot, so SimPy's methods and this module's loop keep it. The
per-instance and per-event code (``sim.model.lifecycle``, ``sim.model.sharing`` and the
cluster's methods a request calls) reads the clock about 14 times per instance (as a property,
2.3 % of the instructions per instance, ``benchmarks/instructions.py``); given a plain
``simpy.Environment`` it still runs, at the property's cost.

``Wake`` is a timer as light as ``simpy.Environment.step`` needs an event to be: a list of
callbacks and ``_ok`` (a timer cannot fail). ``simpy.Timeout`` costs a Python-level
``__init__`` and five attributes per timer, and at a million instances the model sets several
timers per instance (an arrival, a start-up's end, a lifetime's, a stop's). A ``Wake`` is
scheduled with ``Environment.schedule`` exactly as a timeout schedules itself, so the order of
events is the same, tie for tie. It is not a ``simpy.Event``: nothing may yield it or combine it
(``&``, ``|``) or ask whether it has triggered; the model only appends callbacks to it (or
removes one, for an interrupt) before it fires. ``tests/test_timers.py`` checks timers and the
clock against SimPy's own events.

``run`` is ``Environment.run(until=...)`` with ``Environment.step``'s body in its loop: the
same events in the same order, the same clock, the same failure of an event nobody defused,
without a method call per event (1.0-1.2 % of the instructions per instance,
``benchmarks/instructions.py``).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Any

import simpy
from simpy.events import NORMAL, PENDING, URGENT

WRITTEN_FOR = "4.1"  # the SimPy minor series this module was written against


class Environment(simpy.Environment):
    """``simpy.Environment`` whose clock ``now`` is a plain attribute (a slot) that reads
    without a call; SimPy's methods keep it under their own name, ``_now``, the same slot.
    Nothing else differs."""

    __slots__ = ("now",)
    now: float  # type: ignore[assignment]  # the slot, where SimPy's is a property


Environment._now = vars(Environment)["now"]  # type: ignore[attr-defined]  # the same slot


Step = Callable[[Any], None]  # what runs when the event fires (given the event)


class Wake:
    """A timer's event (see the module's docstring): ``callbacks`` run when it fires, each
    given the timer; ``None`` once it has fired."""

    __slots__ = ("callbacks",)
    _ok = True  # read by ``Environment.step``: a timer never fails
    _value = None

    # set to None by SimPy once fired (as on its own events); a tuple where nobody will add
    # or remove a callback
    callbacks: list[Step] | tuple[Step, ...]


def wake(env: simpy.Environment, delay: float, step: Step | None = None) -> Wake:
    """A timer that fires ``delay`` seconds from now (``delay >= 0``) and runs ``step``, if
    given, first."""
    timer = Wake()
    timer.callbacks = [] if step is None else [step]
    env.schedule(timer, NORMAL, delay)  # type: ignore[arg-type]
    return timer


def alarm(env: simpy.Environment, delay: float, step: Step) -> Wake:
    """A timer that fires ``delay`` seconds from now (``delay >= 0``) and runs only ``step``:
    its callbacks are a tuple (one allocation, where a list is two), so nothing may be added
    to them or taken off. Scheduled as ``wake`` schedules, with ``Environment.schedule``'s one
    line inline (a timer or more per instance: a request's own, the arrivals', the sharing
    pools')."""
    timer = Wake()
    timer.callbacks = (step,)
    inner: Any = env  # ``env.schedule(timer, NORMAL, delay)``, inline
    heapq.heappush(inner._queue, (inner._now + delay, NORMAL, next(inner._eid), timer))
    return timer


def urgent(env: simpy.Environment, step: Step, value: Any = None) -> simpy.Event:
    """An event that runs ``step`` now, before the normal events due now: as SimPy schedules
    a process's start (``Initialize``) or an ``Interrupt``."""
    event = simpy.Event(env)
    event._ok = True
    event._value = value
    event.callbacks.append(step)
    env.schedule(event, URGENT)
    return event


class Done(simpy.Event):
    """The event a shared pool's job fires (``sim.model.sharing``): when the work is served, or
    a fixed time ``then`` after that (the wait that follows the work, without a second event).
    Made without ``simpy.Event.__init__``'s call (its two attributes, inline)."""

    def __init__(self, env: simpy.Environment, then: float = 0.0) -> None:
        self.env = env  # ``simpy.Event.__init__``, inline
        self.callbacks = []
        self.then = then

    def fire(self, served_in: float = 0.0) -> None:
        """The work is served now (or ``served_in`` seconds from now): fire ``then`` seconds
        after that, as a timeout would."""
        if self._value is not PENDING:
            raise RuntimeError(f"{self} has already been triggered")
        self._ok = True
        self._value = None
        self.env.schedule(self, NORMAL, served_in + self.then)

    def complete(self) -> None:
        """The work is served now and nothing else is due now (``then`` is 0): run the
        callbacks at once, as ``Environment.step`` would process the event ``fire`` schedules,
        which would be the next one processed."""
        if self._value is not PENDING:
            raise RuntimeError(f"{self} has already been triggered")
        self._ok = True
        self._value = None
        callbacks, self.callbacks = self.callbacks, None  # type: ignore[assignment]
        for callback in callbacks:
            callback(self)


def run(env: simpy.Environment, until: float) -> None:
    """``env.run(until=until)``, event for event: the events due before ``until`` (and urgent
    ones due at it that were scheduled before this call), each as ``Environment.step``
    processes it; the clock is ``until`` at the end."""
    at = float(until)
    if at <= env._now:
        raise ValueError(f"until ({at}) must be greater than the current simulation time")
    stop = simpy.Event(env)  # as ``Environment.run`` marks the end: before every timer then
    stop._ok = True
    stop._value = None
    env.schedule(stop, URGENT, at - env._now)
    queue = env._queue
    pop = heapq.heappop
    while True:  # the queue holds ``stop`` until it is reached: never empty before
        env._now, _, _, event = pop(queue)
        if event is stop:
            stop.callbacks = None  # type: ignore[assignment]  # processed
            return
        callbacks, event.callbacks = event.callbacks, None  # type: ignore[assignment]
        for callback in callbacks:
            callback(event)
        if not event._ok and not hasattr(event, "_defused"):  # a failure nobody handled
            exc = type(event._value)(*event._value.args)
            exc.__cause__ = event._value
            raise exc


def discard(env: simpy.Environment) -> None:
    """After a run: drop the events still pending, and the callbacks they hold (the requests in
    progress). They are freed at once, by reference counting, where they would otherwise stay
    in reference cycles through the environment until the cyclic collector found them."""
    for *_, event in env._queue:
        event.callbacks = None  # type: ignore[assignment]
    env._queue.clear()


class IncompatibleSimPy(ImportError):
    """The installed SimPy lacks an internal this module relies on."""


def verify() -> None:
    """Check that the installed SimPy has every internal this module relies on, as SimPy
    ``WRITTEN_FOR`` has them; raise ``IncompatibleSimPy`` naming the installed version and
    each difference. Run on import (a few microseconds)."""
    problems: list[str] = []

    def need(ok: bool, what: str) -> None:
        if not ok:
            problems.append(what)

    need(NORMAL == 1 and URGENT == 0, "priorities simpy.events.URGENT == 0 < NORMAL == 1")
    need(getattr(simpy.Event, "_value", None) is PENDING,
         "simpy.Event._value defaults to simpy.events.PENDING")
    need(isinstance(vars(simpy.Environment).get("now"), property),
         "simpy.Environment.now is a property (the clock lives in _now)")
    try:
        env = Environment(2.0)
        need(env.now == 2.0, "Environment.__init__ sets the clock as _now")
        need(isinstance(getattr(env, "_queue", None), list) and not env._queue,
             "Environment._queue is a list (the heap of the schedule), empty at first")
        need(isinstance(getattr(env, "_eid", None), itertools.count),
             "Environment._eid is an itertools.count (the schedule's tie-breaker)")
        event = simpy.Event(env)
        need(set(vars(event)) == {"env", "callbacks"} and event.callbacks == [],
             "simpy.Event.__init__ sets only env and callbacks (a list)")
        event.succeed("x")
        need(event._ok is True and event._value == "x",
             "Event.succeed sets _ok and _value")
        need(bool(env._queue) and len(env._queue[0]) == 4 and env._queue[0][1:] == (
            NORMAL, 0, event) and env._queue[0][0] == 2.0,
            "Environment.schedule pushes (time, priority, next(_eid), event) onto _queue")
        seen: list[Any] = []
        event.callbacks.append(seen.append)
        timer = wake(env, 1.5, seen.append)
        env.step()
        env.step()
        need(seen == [event, timer] and event.callbacks is None and timer.callbacks is None
             and env.now == 3.5,
             "Environment.step pops (time, _, _, event) into _now, sets the event's callbacks "
             "to None and runs them with the event, reading _ok")
        failed = simpy.Event(env)
        failed.fail(ValueError("probe"))
        failed.defused = True
        need(getattr(failed, "_defused", False) is True and failed._ok is False,
             "Event.fail sets _ok False and Event.defused sets _defused")
    except Exception as exc:  # noqa: BLE001  # an internal gone or changed: say which probe
        problems.append(f"the probes failed: {exc!r}")
    if problems:
        raise IncompatibleSimPy(
            f"sim.model.kernel was written against SimPy {WRITTEN_FOR}.x and relies on its "
            f"internals; the installed SimPy {getattr(simpy, '__version__', '?')} differs: "
            + "; ".join(problems) + f". Install simpy~={WRITTEN_FOR}.0 (pyproject.toml pins "
            "it), or update sim/model/kernel.py to the new SimPy and re-check its outputs.")


verify()
