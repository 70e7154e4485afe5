"""The kernel's events against SimPy's: a ``Wake`` (``wake``, ``alarm``) fires when a
``Timeout`` of the same delay scheduled at the same moment would, in the same order among ties,
on the kernel's ``Environment`` (whose clock the model reads from a slot) as on SimPy's; an
urgent event goes before the normal events due at its instant; ``run`` processes what
``Environment.run`` would; and the kernel refuses, on import, a SimPy whose internals differ."""

from __future__ import annotations

import gc
import heapq
import math

import pytest
import simpy
from hypothesis import given
from hypothesis import strategies as st

from sim.model import kernel
from sim.model.kernel import Environment, Wake, alarm, discard, run, urgent, wake


@given(st.lists(st.tuples(st.sampled_from([0.0, 0.5, 1.0, 2.5]),
                          st.sampled_from(["timeout", "wake", "alarm"])),
                min_size=1, max_size=30))
def test_wake_and_alarm_fire_as_a_timeout_would(timers):
    """Timers of tying delays, each a ``Wake`` (from ``wake`` or ``alarm``) or a ``Timeout``,
    fire in the order a run of timeouts alone fires them, at the same times."""
    def fired(only: str | None, make=Environment) -> list[tuple[int, float, float]]:
        env = make()
        seen: list[tuple[int, float, float]] = []
        for k, (delay, kind) in enumerate(timers):
            def step(_event, k=k):  # the clock the model reads, and SimPy's property
                seen.append((k, env.now, simpy.Environment.now.fget(env)))
            kind = only or kind
            if kind == "wake":
                wake(env, delay, step)
            elif kind == "alarm":
                alarm(env, delay, step)
            else:
                env.timeout(delay).callbacks.append(step)
        env.run()
        return seen

    reference = fired("timeout", simpy.Environment)
    assert [k for k, _, _ in reference] == sorted(
        range(len(timers)), key=lambda k: (timers[k][0], k))
    assert fired("timeout") == reference
    assert fired(None) == reference
    assert fired(None, simpy.Environment) == reference
    assert fired("wake") == reference
    assert fired("alarm") == reference
    assert all(now == clock for _, now, clock in reference)


def test_wake_callbacks_added_and_removed_before_it_fires():
    env = simpy.Environment()
    seen = []
    timer = wake(env, 1.0)
    assert isinstance(timer, Wake) and timer.callbacks == []
    first, second = (lambda e: seen.append(("first", e))), (lambda e: seen.append(("second", e)))
    timer.callbacks.extend([first, second])
    timer.callbacks.remove(first)  # as an interrupt takes its step off
    env.run()
    assert seen == [("second", timer)]
    assert timer.callbacks is None  # fired


def test_urgent_goes_before_normal_events_due_then():
    env = simpy.Environment()
    seen = []
    wake(env, 0.0, lambda _e: seen.append("normal"))
    urgent(env, lambda e: seen.append(("urgent", e.value)), value=7)
    env.run()
    assert seen == [("urgent", 7), "normal"]


@given(st.lists(st.tuples(st.sampled_from(["wake", "timeout", "urgent", "process"]),
                          st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0])), min_size=1, max_size=25),
       st.sampled_from([1.0, 2.0, 2.5, 10.0]))
def test_run_processes_what_environment_run_does(plan, until):
    """``kernel.run`` on the kernel's ``Environment`` against ``Environment.run`` on SimPy's:
    the same events fire in the same order at the same times (ties, urgent events and events
    due exactly at the end included), events they schedule included, and the clock ends at
    ``until``."""
    def trace(runner, make=Environment) -> tuple[list[tuple[int, str, float]], float]:
        env = make()
        seen: list[tuple[int, str, float]] = []

        def later(k: int, what: str):
            def step(_event):
                seen.append((k, what, env.now))
                if what == "first" and k % 2:  # a follow-up, due at once or later
                    wake(env, float(k % 3), later(k, "then"))
            return step

        def process(k: int, delay: float):
            yield env.timeout(delay)
            seen.append((k, "process", env.now))
            yield env.timeout(delay)
            seen.append((k, "process again", env.now))

        for k, (kind, delay) in enumerate(plan):
            if kind == "wake":
                wake(env, delay, later(k, "first"))
            elif kind == "timeout":
                env.timeout(delay).callbacks.append(later(k, "first"))
            elif kind == "urgent":
                urgent(env, later(k, "first"))
            else:
                env.process(process(k, delay))
        runner(env)
        return seen, env.now

    reference = trace(lambda env: env.run(until=until), simpy.Environment)
    assert trace(lambda env: run(env, until)) == reference
    assert trace(lambda env: env.run(until=until)) == reference
    assert trace(lambda env: run(env, until), simpy.Environment) == reference


def test_run_raises_a_failure_nobody_handled_and_refuses_a_past_end():
    env = simpy.Environment()
    env.timeout(1.0).callbacks.append(lambda _e: env.event().fail(KeyError("lost")))
    with pytest.raises(KeyError, match="lost"):
        run(env, 5.0)
    assert env.now == 1.0
    with pytest.raises(ValueError, match="greater than"):
        run(env, 1.0)


def test_discard_drops_what_is_pending_and_its_callbacks():
    env = simpy.Environment()
    seen = []
    timer = wake(env, 5.0, seen.append)
    event = env.timeout(6.0)
    run(env, 1.0)
    discard(env)
    assert env.peek() == math.inf and timer.callbacks is None and event.callbacks is None
    assert seen == []


def test_a_finished_run_leaves_no_request_for_the_cyclic_collector():
    """Instances still starting or running at the end (lifetimes past it), each waiting on a
    timer: nothing interrupts them, so no request holds the timer that holds it, and dropping
    the pending events frees every one of them at once: none is left when the run's own
    collection at its end begins (counted then, since that collection would free them anyway).
    (A request waiting in the queue or for a start slot is held by the model, in a
    cycle the collector frees.)"""
    from sim.experiment.expand import expand
    from sim.model.lifecycle import Request
    from sim.run.execute import run as run_spec
    from tests.helpers import load, scenario

    data = scenario(workload={"arrival": {"kind": "poisson", "rate": "0.5/s"},
                              "lifetime": {"dist": "lognormal", "median": "20min",
                                           "p95": "2h"}})
    data["profiles"]["free"]["create"] = "3s"
    (spec,) = expand(load(data))
    left = []  # requests alive when the run's own collection at its end begins
    collect = gc.collect

    def counting(*args: int) -> int:
        left.append(sum(1 for o in gc.get_objects() if isinstance(o, Request)))
        return collect(*args)

    collect()
    gc.disable()  # what is left then is what only the cyclic collector would free
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(gc, "collect", counting)
            result = run_spec(spec)
    finally:
        gc.enable()
    assert len(result.recorder.open_records()) > 100  # in progress at the end
    assert left == [0]


def test_the_clock_is_a_slot_that_simpy_keeps_under_its_own_name():
    """The model's ``env.now`` reads a slot (no call), the one SimPy writes as ``_now``."""
    assert type(vars(Environment)["now"]).__name__ == "member_descriptor"
    env = Environment(3.0)
    env.timeout(1.5)
    env.step()  # SimPy's own step writes ``_now``
    assert env.now == 4.5 == simpy.Environment.now.fget(env)


def test_a_simpy_with_other_internals_is_refused_with_its_version(monkeypatch):
    """``verify`` (run on import) names the installed SimPy and what differs: here a schedule
    whose entries are not (time, priority, id, event)."""
    kernel.verify()  # this SimPy passes

    def schedule(self, event, priority=1, delay=0):
        heapq.heappush(self._queue, (self._now + delay, priority, event))

    monkeypatch.setattr(simpy.Environment, "schedule", schedule)
    with pytest.raises(kernel.IncompatibleSimPy, match=rf"SimPy {simpy.__version__} differs"
                       r".*Environment\.schedule pushes"):
        kernel.verify()
