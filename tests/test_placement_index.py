"""The placement index chooses exactly the host the reference scan chooses, for every policy,
over random sequences of allocations and releases on random host groups (property-based);
and the per-group sample totals equal the plain per-host loops bit for bit."""

from __future__ import annotations

import contextlib
import typing
from unittest import mock

import numpy as np
import pytest
import simpy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.model import placement
from sim.model.host import Host, Slots
from sim.model.placement import POLICIES, CapacityIndex, Placement
from sim.model.sharing import SharedCapacity
from sim.model.totals import GroupTotals
from sim.spec.config import HostGroup, PlacementName
from sim.spec.demand import Demand, Layer

GiB = 1024.0**3
LAYERS = [Layer("base#0", 2 * GiB), Layer("app#0", 0.3 * GiB), Layer("app#1", 17e6),
          Layer("other#0", 1.5 * GiB)]
CHAINS = {"base": LAYERS[:1], "app": LAYERS[:3], "other": [LAYERS[0], LAYERS[3]]}


def _hosts(env: simpy.Environment, groups: list[dict]) -> list[Host]:
    hosts: list[Host] = []
    for g, spec in enumerate(groups):
        group = HostGroup(group=f"g{g}", disk_rate=1e9, nic=1e9, **spec)
        for _ in range(group.count):
            host = Host(index=len(hosts), name=f"g{g}-{len(hosts)}", group_index=g,
                        spec=group, cpu=SharedCapacity(env, group.cpu_cores, 1.0),
                        disk_io=SharedCapacity(env, 1e9),
                        slots=Slots(env, group.max_concurrent_starts))
            if group.preloaded_images:
                host.preload(CHAINS["base"])
            hosts.append(host)
    return hosts


group_specs = st.fixed_dictionaries({
    "count": st.integers(1, 6),
    "cpu_cores": st.integers(2, 16),
    "cpu_overcommit": st.sampled_from([1.0, 1.5, 2.0]),
    "memory": st.sampled_from([8 * GiB, 16 * GiB, 12.5 * GiB]),
    "reserved_memory": st.sampled_from([0.0, 1 * GiB]),
    "disk": st.sampled_from([6 * GiB, 20 * GiB, 100 * GiB]),
    "max_partitions": st.integers(1, 8),
    "preloaded_images": st.sampled_from([[], ["base"]]),
})

demands = st.builds(
    Demand, memory=st.sampled_from([0.5 * GiB, 1 * GiB, 1.5 * GiB + 37e6, 3 * GiB]),
    vcpu=st.sampled_from([0.5, 1.0, 1.1, 2.2, 3.0]),
    disk_private=st.sampled_from([0.0, 1 * GiB, 2.5 * GiB]),
    partition=st.sampled_from([0, 1]), image_bytes=st.just(0.0),
    requires_hyperv=st.just(False), os_build=st.none())


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(groups=st.lists(group_specs, min_size=1, max_size=3),
       needs=st.lists(st.tuples(demands, st.sampled_from(sorted(CHAINS))), min_size=1,
                      max_size=3),
       steps=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 10**6), st.integers(0, 3)),
                      min_size=1, max_size=120),
       policy=st.sampled_from(POLICIES), seed=st.integers(0, 2**32 - 1),
       few_buckets=st.booleans(), idle=st.sampled_from([None, -10**9, -3]))
def test_index_chooses_what_the_scan_chooses(groups, needs, steps, policy, seed, few_buckets,
                                             idle):
    # few_buckets: empty buckets are forgotten at once; one order (or census) is kept per
    # group (others are dropped and rebuilt). idle: orders and censuses left unread are
    # dropped after every change (-10**9), or after a few (-3 below the buckets or hosts)
    limits = (mock.patch.multiple(placement, _KEEP_EMPTY=0, _MAX_ORDERS=1)
              if few_buckets else contextlib.nullcontext())
    dropping = (mock.patch.object(placement, "_IDLE_SLACK", idle) if idle is not None
                else contextlib.nullcontext())
    with limits, dropping:
        _allocate_and_release(groups, needs, steps, policy, seed)


def _allocate_and_release(groups: list[dict], needs: list[tuple[Demand, str]],
                          steps: list[tuple[int, int, int]], policy: str, seed: int) -> None:
    env = simpy.Environment()
    hosts = _hosts(env, groups)
    index = CapacityIndex(hosts)
    fast = Placement(policy, np.random.default_rng(seed), index)
    reference = Placement(policy, np.random.default_rng(seed), index)
    first = [h.index for h in hosts if h.group_index == 0]
    candidate_sets: list[np.ndarray | slice] = [
        slice(0, len(hosts)), np.array(first, dtype=np.int64),
        np.arange(0, len(hosts), 2, dtype=np.int64)]  # the last splits groups
    live: list[tuple[Host, Demand]] = []
    totals = GroupTotals(hosts, index)
    for op, pick, which in steps:
        if op == 2 and live:  # release one instance
            host, need = live.pop(pick % len(live))
            host.release(need)
            index.update(host)
            continue
        need, chain_key = needs[pick % len(needs)]
        candidates = candidate_sets[which % len(candidate_sets)]
        chain = CHAINS[chain_key]
        if which == 3:  # a per-host mask (falls back to the scan)
            allowed = np.arange(len(hosts)) % 3 != 1
            got = fast.choose(candidates, need, chain_key, chain, allowed)
            want = reference.scan(candidates, need, chain_key, chain, allowed)
        else:
            got = fast.choose(candidates, need, chain_key, chain)
            want = reference.scan(candidates, need, chain_key, chain)
        assert got is want, (policy, op, got and got.index, want and want.index)
        if got is not None:
            got.allocate(need, chain)
            index.update(got)
            live.append((got, need))
    for g in range(len(groups)):
        members = [h for h in hosts if h.group_index == g]
        assert totals.memory_committed(g) == sum(h.memory_capacity - h.memory_free
                                                 for h in members)
        assert totals.vcpu_allocated(g) == sum(h.vcpu_capacity - h.vcpu_free for h in members)
        assert totals.memory_capacity[g] == sum(h.memory_capacity for h in members)


def _need(memory: float, vcpu: float) -> Demand:
    return Demand(memory=memory, vcpu=vcpu, disk_private=0.0, partition=0, image_bytes=0.0,
                  requires_hyperv=False, os_build=None)


def _five_hosts() -> tuple[list[Host], CapacityIndex]:
    """Hosts 0-1: 16 GiB and 8 vCPU, no image; 2-4: 8 GiB and 4 vCPU, the base layer (2 GiB)
    preloaded. Some memory and vCPU is taken on hosts 0, 1, 3 and 4."""
    hosts = _hosts(simpy.Environment(), [
        {"count": 2, "cpu_cores": 8, "memory": 16 * GiB, "disk": 100 * GiB},
        {"count": 3, "cpu_cores": 4, "memory": 8 * GiB, "disk": 100 * GiB,
         "preloaded_images": ["base"]}])
    for i, (memory, vcpu) in {0: (6 * GiB, 1), 1: (12 * GiB, 2), 3: (7.5 * GiB, 0),
                              4: (4 * GiB, 0)}.items():
        hosts[i].allocate(_need(memory, vcpu), [])
    return hosts, CapacityIndex(hosts)


# With 1 GiB and 1 vCPU placed, a host's tightness (the fuller of memory and vCPU) would be
TIGHT = {0: max(1 - 9 / 16, 1 - 6 / 8), 1: max(1 - 3 / 16, 1 - 5 / 8), 2: max(1 - 7 / 8, 1 - 3 / 4),
         4: max(1 - 3 / 8, 1 - 3 / 4)}  # host 3 (0.5 GiB free) does not fit
assert TIGHT == {0: 0.4375, 1: 0.8125, 2: 0.25, 4: 0.625}
# and of the "app" image (base + app layers) hosts 2 and 4 hold the base layer (2 GiB), so:
EXPECTED = {
    "first-fit": 0,  # the lowest index that fits
    "best-fit": 1,  # the tightest
    "spread": 2,  # the loosest
    "image-locality": 4,  # of 2 and 4 (most of the image), the tightest
    "random": sorted(TIGHT)[int(np.random.default_rng(7).integers(len(TIGHT)))],  # k-th fit
}


@pytest.mark.parametrize("policy", POLICIES)
def test_each_preset_chooses_the_host_its_weighers_prefer(policy):
    assert sorted(EXPECTED) == sorted(POLICIES)
    for way in ("choose", "scan"):
        hosts, index = _five_hosts()
        chooser = getattr(Placement(policy, np.random.default_rng(7), index), way)
        got = chooser(slice(0, 5), _need(1 * GiB, 1), "app", CHAINS["app"])
        assert got is hosts[EXPECTED[policy]], (way, got and got.index)


def test_hosts_down_or_masked_out_are_filtered():
    hosts, index = _five_hosts()
    best_fit = Placement("best-fit", np.random.default_rng(7), index)
    need, chain = _need(1 * GiB, 1), CHAINS["app"]
    allowed = np.array([True, False, True, True, True])  # a tenant mask without host 1
    assert best_fit.choose(slice(0, 5), need, "app", chain, allowed) is hosts[4]  # 0.625
    hosts[1].outages += 1  # down
    index.update(hosts[1])
    assert best_fit.choose(slice(0, 5), need, "app", chain) is hosts[4]
    assert best_fit.scan(slice(0, 5), need, "app", chain) is hosts[4]


def test_an_order_weighs_the_buckets_that_changed_only_when_asked_for_and_once():
    hosts, index = _five_hosts()
    best_fit = Placement("best-fit", np.random.default_rng(7), index)
    small, large = _need(1 * GiB, 1), _need(2 * GiB, 1)
    for need in (small, large):  # an order each
        assert best_fit.choose(slice(0, 5), need, "app", CHAINS["app"]) is hosts[1]
    with mock.patch.object(placement, "fits", wraps=placement.fits) as weigh:  # once a bucket
        for _ in range(3):  # host 2 through three states: the first two left behind
            hosts[2].allocate(_need(0.25 * GiB, 0.25), [])
            index.update(hosts[2])
        assert weigh.call_count == 0  # logged, not weighed
        for need, calls in ((small, 1), (large, 2), (small, 2)):
            got = best_fit.choose(slice(0, 5), need, "app", CHAINS["app"])
            assert got is best_fit.scan(slice(0, 5), need, "app", CHAINS["app"])
            assert weigh.call_count == calls  # host 2's last state, once per order


def test_the_filter_and_tightness_for_one_host_and_for_arrays_agree():
    rng = np.random.default_rng(3)
    n = 4000
    need = _need(1 * GiB, 1.5)
    # free amounts around the request's, some exactly at it or within the tolerances
    memory = np.concatenate([rng.choice([1 * GiB - 1e-6, 1 * GiB, 1 * GiB - 1e-5, -np.inf],
                                        size=n // 2), rng.uniform(0, 4 * GiB, n - n // 2)])
    vcpu = rng.choice([1.5, 1.5 - 1e-9, 1.5 - 1e-8, 0.0, 2.0, 16.0], size=n)
    partitions = rng.choice([0.0, 1.0], size=n)
    disk = rng.uniform(0, 3 * GiB, n)
    missing = rng.choice([0.0, 2 * GiB, 2.3 * GiB], size=n)
    each = placement.fits_each(need, memory, vcpu, partitions, disk, missing)
    one = [placement.fits(need, float(m), float(v), float(p), float(d), float(x))
           for m, v, p, d, x in zip(memory, vcpu, partitions, disk, missing)]
    assert each.tolist() == one
    assert 0 < sum(one) < n
    capacity = rng.choice([8 * GiB, 16 * GiB], size=n)
    cores = rng.choice([4.0, 16.0], size=n)
    tight = placement.tightness_each(need, memory, vcpu, capacity, cores)
    assert tight.tolist() == [placement.tightness(need, float(m), float(v), float(c), float(k))
                              for m, v, c, k in zip(memory, vcpu, capacity, cores)]


def test_an_unknown_policy_fails_with_the_valid_names():
    _, index = _five_hosts()
    with pytest.raises(ValueError, match="unknown placement 'worst-fit'; one of first-fit, "
                                         "best-fit, spread, random, image-locality$"):
        Placement("worst-fit", np.random.default_rng(7), index)
    assert tuple(placement.PRESETS) == POLICIES


def test_the_presets_are_the_policies_a_scenario_may_name():
    assert typing.get_args(PlacementName) == POLICIES


def test_busy_startup_cores_follow_the_cpu_pools():
    env = simpy.Environment()
    hosts = _hosts(env, [{"count": 3, "cpu_cores": 2, "memory": 8 * GiB, "disk": 20 * GiB},
                         {"count": 2, "cpu_cores": 4, "memory": 8 * GiB, "disk": 20 * GiB}])
    totals = GroupTotals(hosts, CapacityIndex(hosts))

    def loop(g: int) -> int | float:
        return sum(min(h.cpu.jobs, h.cpu.capacity) for h in hosts if h.group_index == g)

    for h, jobs in ((hosts[0], 3), (hosts[2], 1), (hosts[4], 2)):
        for k in range(jobs):
            h.cpu.run(1.0 + k)
    assert [totals.busy_startup_cores(g, env.now) for g in (0, 1)] == [loop(0), loop(1)] == [3, 2]
    env.run(until=2.5)  # hosts 2 and 4 are done, host 0 still has work
    assert [totals.busy_startup_cores(g, env.now) for g in (0, 1)] == [loop(0), loop(1)]
    env.run()
    assert [totals.busy_startup_cores(g, env.now) for g in (0, 1)] == [0, 0]


def test_busy_startup_cores_count_work_booked_ahead_from_its_start_to_its_end():
    """Work booked ahead (``GroupTotals.book``, as ``Cluster.startup`` books a start-up's
    phases) counts in its group's busy cores from its start, now or later, to its end, beside
    the jobs the pools run."""
    env = simpy.Environment()
    hosts = _hosts(env, [{"count": 2, "cpu_cores": 4, "memory": 8 * GiB, "disk": 20 * GiB},
                         {"count": 1, "cpu_cores": 4, "memory": 8 * GiB, "disk": 20 * GiB}])
    totals = GroupTotals(hosts, CapacityIndex(hosts), [k / 2 for k in range(12)])
    totals.book(0, [(0.0, 2.0), (2.0, 5.0)])  # one start-up: two phases' work, back to back
    totals.book(0, [(1.0, 1.5)])
    totals.book(1, [(3.0, 4.0)])
    hosts[1].cpu.run(2.75)  # a job the pool runs: from 0 s to 2.75 s
    counts = []

    def sample():
        while True:
            counts.append((env.now, totals.busy_startup_cores(0, env.now),
                           totals.busy_startup_cores(1, env.now)))
            yield env.timeout(0.5)

    env.process(sample())
    env.run(until=6.0)
    assert [c[0] for c in counts] == [k / 2 for k in range(12)]
    assert [c[1] for c in counts] == [2, 2, 3, 2, 2, 2, 1, 1, 1, 1, 0, 0]
    assert [c[2] for c in counts] == [0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0]
    with pytest.raises(ValueError, match="at the sample times only"):
        totals.busy_startup_cores(0, 0.25)
