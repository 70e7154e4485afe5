"""The model's own events on SimPy's schedule: timers that only run callbacks, urgent
events, and the loop that processes them.

Owns: how the model puts a callback on the event queue without a SimPy process, and how a
run steps through the queue. Must not: know what the callbacks do.

``Wake`` is a timer as light as ``simpy.Environment.step`` needs an event to be: a list of
callbacks and ``_ok`` (a timer cannot fail). ``simpy.Timeout`` costs a Python-level
``__init__`` and five attributes per timer, and at a million instances the model sets several
timers per instance (an arrival, a start-up's end, a lifetime's, a stop's). A ``Wake`` is
scheduled with ``Environment.schedule`` exactly as a timeout schedules itself, so the order of
events is the same, tie for tie. It is not a ``simpy.Event``: nothing may yield it or combine it
(``&``, ``|``) or ask whether it has triggered; the model only appends callbacks to it (or
removes one, for an interrupt) before it fires.

The per-instance and per-event code (``sim.model.lifecycle``, ``sim.model.sharing`` and the
cluster's methods a request calls) reads the clock as ``env._now``, the attribute
``Environment.now`` returns: a property is a Python-level call, and that code reads the clock
about 14 times per instance (2.3 % of the instructions per instance,
``benchmarks/instructions.py``). Code that runs once per run, per fault or per pipeline step
reads ``env.now``. Both this and ``Wake`` rely on how
SimPy 4's ``Environment`` steps and keeps time (``pyproject.toml`` pins the major version), and
``tests/test_timers.py`` checks both against SimPy's own events.

``run`` is ``Environment.run(until=...)`` with ``Environment.step``'s body in its loop: the
same events in the same order, the same clock, the same failure of an event nobody defused,
without a method call per event (1.0-1.2 % of the instructions per instance,
``benchmarks/instructions.py``).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any

import simpy
from simpy.events import NORMAL, URGENT

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
