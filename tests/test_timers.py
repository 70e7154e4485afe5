"""The model's own events against SimPy's: a ``Wake`` fires when a ``Timeout`` of the same
delay scheduled at the same moment would, in the same order among ties, with the clock the model
reads (``env._now``) equal to ``env.now``; an urgent event goes before the normal events due
at its instant."""

from __future__ import annotations

import simpy
from hypothesis import given
from hypothesis import strategies as st

from sim.model.timers import Wake, urgent, wake


@given(st.lists(st.tuples(st.sampled_from([0.0, 0.5, 1.0, 2.5]), st.booleans()),
                min_size=1, max_size=30))
def test_wake_fires_as_a_timeout_would(timers):
    """Timers of tying delays, each a ``Wake`` or a ``Timeout``, fire in the order a run of
    timeouts alone fires them, at the same times."""
    def fired(use_wake: bool | None) -> list[tuple[int, float, float]]:
        env = simpy.Environment()
        seen: list[tuple[int, float, float]] = []
        for k, (delay, light) in enumerate(timers):
            def step(_event, k=k):
                seen.append((k, env.now, env._now))
            if light if use_wake is None else use_wake:
                wake(env, delay, step)
            else:
                env.timeout(delay).callbacks.append(step)
        env.run()
        return seen

    reference = fired(False)
    assert [k for k, _, _ in reference] == sorted(
        range(len(timers)), key=lambda k: (timers[k][0], k))
    assert fired(None) == reference
    assert fired(True) == reference
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
