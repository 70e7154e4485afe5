"""Fluid sharing: processor sharing on one capacity and max-min fairness across NICs."""

from __future__ import annotations

import heapq
import math

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.model import sharing
from sim.model.kernel import Wake, wake
from sim.model.sharing import Network, SharedCapacity


def finish_times(env, events):
    done = {}
    for i, ev in enumerate(events):
        ev.callbacks.append(lambda _e, i=i: done.__setitem__(i, env.now))
    env.run()
    return [done[i] for i in range(len(events))]


def test_one_job_runs_at_its_cap():
    env = simpy.Environment()
    cpu = SharedCapacity(env, 8, per_job_cap=1.0)
    assert finish_times(env, [cpu.run(3.0)]) == [3.0]


def test_equal_jobs_share_and_the_short_one_leaves_first():
    env = simpy.Environment()
    disk = SharedCapacity(env, 100.0)
    # 50 and 150 units at 100/s shared: first ends at 1.0 s; the rest, 100 units, alone: 2.0 s
    assert finish_times(env, [disk.run(50.0), disk.run(150.0)]) == pytest.approx([1.0, 2.0])


@settings(max_examples=60, deadline=None)
@given(works=st.lists(st.floats(0.01, 100.0), min_size=1, max_size=30),
       starts=st.lists(st.floats(0.0, 50.0), min_size=30, max_size=30),
       capacity=st.floats(0.5, 16.0))
def test_work_is_conserved_and_never_faster_than_the_capacity(works, starts, capacity):
    """The last job ends no earlier than total work / capacity after the first start, and a
    busy pool with no per-job cap never idles: with all jobs present at 0 it ends exactly then."""
    env = simpy.Environment()
    pool = SharedCapacity(env, capacity)
    events = [pool.run(w) for w in works]
    ends = finish_times(env, events)
    assert max(ends) == pytest.approx(sum(works) / capacity, rel=1e-9)
    order = sorted(range(len(works)), key=lambda i: works[i])
    assert [ends[i] for i in order] == sorted(ends)

    env = simpy.Environment()
    pool = SharedCapacity(env, capacity, per_job_cap=1.0)
    events = []

    def submit(at, work):
        yield env.timeout(at)
        events.append((at, work, pool.run(work)))

    for at, work in zip(starts, works):
        env.process(submit(at, work))
    env.run()
    for _at, _work, ev in events:
        assert ev.processed
    assert pool.jobs == 0


def test_network_water_filling():
    env = simpy.Environment()
    net = Network(env, registry_bandwidth=100.0)
    slow = net.link(0, nic=10.0)
    fast = net.link(1, nic=1000.0)
    ends = finish_times(env, [slow.run(10.0), fast.run(90.0), fast.run(45.0)])
    # slow host: 10/s (its NIC); fast host: 90/s for two jobs = 45/s each.
    # jobs 1 and 3 end at 1.0 s; job 2 has 45 left and then the whole registry: 1.45 s
    assert ends == pytest.approx([1.0, 1.45, 1.0])
    assert net.egress() == 0.0


def test_capacity_change_keeps_work_done():
    env = simpy.Environment()
    pool = SharedCapacity(env, 1.0)
    ev = pool.run(10.0)

    def slow_down():
        yield env.timeout(4.0)
        pool.set_capacity(2.0)

    env.process(slow_down())
    assert finish_times(env, [ev]) == [pytest.approx(4.0 + 6.0 / 2.0)]


@settings(max_examples=60, deadline=None)
@given(jobs=st.lists(st.tuples(st.floats(0.0, 50.0), st.floats(0.0, 5.0), st.floats(0.0, 3.0),
                               st.booleans()), min_size=1, max_size=30),
       slots=st.integers(1, 4), cap=st.sampled_from([1.0, 0.5]))
def test_a_pool_that_is_never_contended_serves_as_the_shared_pool_does(jobs, slots, cap):
    """Users that hold one of ``slots`` slots while they run a job (a host's start-ups): a pool
    told ``max_jobs=slots`` with slots x cap <= capacity schedules each job when it starts;
    finish times, the count in progress and cancellations match the general pool's."""
    def run(max_jobs):
        env = simpy.Environment()
        pool = SharedCapacity(env, slots * cap, per_job_cap=cap, max_jobs=max_jobs)
        assert pool.uncontended == (max_jobs is not None)
        gate = simpy.Resource(env, slots)
        ends, counts = {}, []

        def user(i, start, work, then, cancel):
            yield env.timeout(start)
            with gate.request() as slot:
                yield slot
                done = pool.run(work, then)
                if cancel:  # gives up half way through its work
                    yield env.timeout(work / cap / 2)
                    pool.cancel(done)
                    ends[i] = None
                    return
                yield done
                ends[i] = env.now

        def sampler():
            while True:
                counts.append(pool.jobs)
                yield env.timeout(0.37)

        for i, job in enumerate(jobs):
            env.process(user(i, *job))
        env.process(sampler())
        env.run(until=200)
        return ends, counts

    general, counts = run(None)
    fast, fast_counts = run(slots)
    assert general.keys() == fast.keys()
    for i, end in general.items():
        assert (end is None and fast[i] is None) or end == pytest.approx(fast[i], abs=1e-9)
    assert counts == fast_counts  # jobs in progress, at every sample


def _water_filling_reference(bandwidth, nics, flows):
    """Finish times by brute force: at every arrival or finish, rates from scratch by
    progressive filling over all hosts. ``flows``: (start, host, size)."""
    t, live, ends = 0.0, {}, {}
    pending = sorted(range(len(flows)), key=lambda i: flows[i][0])
    while pending or live:
        per_host = {}
        for i in live:
            per_host.setdefault(flows[i][1], []).append(i)
        rate = {}
        remaining_bw, left = bandwidth, sum(len(v) for v in per_host.values())
        for h in sorted(per_host, key=lambda h: nics[h] / len(per_host[h])):
            level = remaining_bw / left
            share = min(nics[h], len(per_host[h]) * level)
            for i in per_host[h]:
                rate[i] = share / len(per_host[h])
            remaining_bw -= share
            left -= len(per_host[h])
        step = min((live[i] / rate[i] for i in live), default=math.inf)
        arrive = flows[pending[0]][0] - t if pending else math.inf
        dt = min(step, arrive)
        for i in list(live):
            live[i] -= rate[i] * dt
            if live[i] <= 1e-9 * max(1.0, flows[i][2]):
                ends[i] = t + dt
                del live[i]
        t += dt
        while pending and flows[pending[0]][0] <= t:
            i = pending.pop(0)
            live[i] = flows[i][2]
    return [ends[i] for i in range(len(flows))]


@settings(max_examples=80, deadline=None)
@given(nics=st.lists(st.sampled_from([10.0, 25.0, 40.0, 100.0]), min_size=1, max_size=5),
       flows=st.lists(st.tuples(st.floats(0.0, 5.0), st.integers(0, 4), st.floats(1.0, 200.0)),
                      min_size=1, max_size=25),
       bandwidth=st.sampled_from([30.0, 100.0, 1000.0]))
def test_network_matches_progressive_filling_from_scratch(nics, flows, bandwidth):
    flows = [(start, host % len(nics), size) for start, host, size in flows]
    env = simpy.Environment()
    net = Network(env, bandwidth)
    ends, peak = {}, [0.0]
    net.on_egress = lambda bps: peak.__setitem__(0, max(peak[0], bps))

    def download(i, start, host, size):
        yield env.timeout(start)
        yield net.link(host, nics[host]).run(size)
        ends[i] = env.now

    for i, flow in enumerate(flows):
        env.process(download(i, *flow))
    env.run()
    want = _water_filling_reference(bandwidth, nics, flows)
    assert [ends[i] for i in range(len(flows))] == pytest.approx(want, rel=1e-6, abs=1e-6)
    assert peak[0] <= bandwidth * (1 + 1e-9) and net.egress() == 0.0


def test_a_crash_clears_a_host_s_downloads_and_the_others_take_its_share():
    env = simpy.Environment()
    net = Network(env, registry_bandwidth=100.0)
    slow = net.link(0, nic=10.0)  # capped at its NIC: 10/s
    fast = net.link(1, nic=1000.0)  # open: the other 90/s
    lost = slow.run(100.0)
    kept = fast.run(180.0)

    def crash():
        yield env.timeout(1.0)
        assert net.egress() == pytest.approx(100.0)
        slow.clear()  # the rest of its download never arrives
        assert net.egress() == pytest.approx(100.0)  # fast now has the whole registry

    env.process(crash())
    # fast: 90 bytes by 1 s, then the remaining 90 at 100/s: done at 1.9 s
    assert finish_times(env, [kept]) == [pytest.approx(1.9)]
    assert not lost.triggered and net.egress() == 0.0


def _on_timer_firing_every_event(pool: SharedCapacity, timer: Wake) -> None:
    """``SharedCapacity._on_timer`` as it was before a lone job's completion ran inline: every
    job done fires its event."""
    if timer is not pool._timer:
        return
    pool._advance()
    finished = False
    tolerance = sharing._tolerance(pool._virtual, pool.rate(), pool.env.now)
    while pool._heap and pool._heap[0][0] <= pool._virtual + tolerance:
        _, _, done = heapq.heappop(pool._heap)
        done.fire()
        finished = True
    if finished:
        pool._changed()
    else:
        pool._schedule()


@settings(max_examples=150, deadline=None)
@given(jobs=st.lists(st.tuples(st.sampled_from([0.0, 1.0, 2.0, 3.0]),
                               st.sampled_from([1.0, 2.0, 4.0]),
                               st.sampled_from([0.0, 0.0, 1.0]),
                               st.sampled_from(["step", "process", "timer"])),
                     min_size=1, max_size=12))
def test_a_lone_job_done_runs_its_callbacks_in_the_order_its_event_would(jobs):
    """Jobs starting at tying times (some followed by a wait, some awaited by a SimPy process
    that starts another job when it resumes), with timers due at the same instants: every
    callback runs at the time and in the order it runs when every job's completion is an
    event of its own."""
    def trace() -> list[tuple[int, str, float]]:
        env = simpy.Environment()
        pool = SharedCapacity(env, 2.0)
        seen: list[tuple[int, str, float]] = []

        def begin(k: int, work: float, then: float, kind: str):
            def start(_event):
                if kind == "timer":  # something else due when the job may end
                    wake(env, work / 2.0, lambda _e: seen.append((k, "timer", env.now)))
                    return
                done = pool.run(work, then)
                if kind == "step":
                    done.callbacks.append(lambda _e: seen.append((k, "done", env.now)))
                else:
                    env.process(waiter(k, done, work))
            return start

        def waiter(k: int, done, work: float):
            yield done
            seen.append((k, "resumed", env.now))
            yield pool.run(work / 2.0)
            seen.append((k, "again", env.now))

        for k, (at, work, then, kind) in enumerate(jobs):
            wake(env, at, begin(k, work, then, kind))
        env.run()
        return seen

    inline = trace()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SharedCapacity, "_on_timer", _on_timer_firing_every_event)
        assert inline == trace()
