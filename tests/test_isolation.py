"""Isolation as numbers: faults and their blast radius, restarts, availability, kernel sharing
across tenants, noisy neighbours, and container hosts that are VMs.

Exact cases are written as arithmetic on tiny scenarios; fault counts are checked against
their Poisson expectation; the tenant constraint is checked over random scenarios.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.edge.loader import ScenarioError
from tests.helpers import FREE, load, only, scenario

# FREE, but with its own kernel (as under Hyper-V isolation or in a VM).
OWN = {**FREE, "shares_host_kernel": False}
PROFILES = {"free": FREE, "own": OWN}


def hosts(count: int, **extra: object) -> list[dict]:
    """``count`` big hosts with the base image preloaded."""
    return [{"group": "h", "count": count, "cpu_cores": 1000, "memory": "1000GiB",
             "disk": "100TiB", "disk_rate": "1GB/s", "nic": "10Gbit/s",
             "max_concurrent_starts": 1000, "preloaded_images": ["base"], **extra}]


def running_hours(frame) -> float:
    """Instance-hours spent running, from the records."""
    until = frame["stopping"].fillna(frame["disrupted"]).fillna(3600.0 * 1e9)
    return float(((np.minimum(until, frame["_end"]) - frame["running"]).clip(lower=0)).sum()
                 / 3600.0)


def test_a_shared_kernel_fault_takes_every_instance_on_the_host_and_its_own_kernel_one():
    base = dict(hosts=hosts(1), profiles=PROFILES, duration="200h",
                workload={"arrival": {"kind": "burst", "count": 10, "at": 0},
                          "kernel_fault_rate": "0.01/h"})
    shared = only(scenario(**base, workloads=[{**scenario()["workloads"][0],
                                               **base["workload"], "isolation": "free"}]))
    first = shared.instances
    (fault_time,) = first.loc[first["fault"] == 0, "disrupted"].unique()
    on_host = ((first["placed"] <= fault_time)
               & ~(first["removed"] < fault_time)).sum()
    assert on_host == 10
    assert shared.metrics["blast_radius"]["max"] == 10
    assert shared.metrics["faults"]["instance_kernel"] >= 1
    own = only(scenario(**base, workloads=[{**scenario()["workloads"][0], **base["workload"],
                                            "isolation": "own"}]))
    assert own.metrics["faults"]["instance_kernel"] >= 1
    assert own.metrics["blast_radius"]["max"] == 1
    assert own.metrics["blast_radius"]["mean"] == 1


@pytest.mark.parametrize("mode", ["free", "own"])
def test_fault_count_matches_rate_times_running_hours(mode):
    """N instances kept running (restart at once, zero start-up): faults ~ Poisson(r x
    instance-hours); within 4 standard deviations."""
    rate_per_h = 0.02
    data = scenario(hosts=hosts(4), profiles=PROFILES, duration="500h",
                    placement="spread",
                    workload={"isolation": mode, "kernel_fault_rate": f"{rate_per_h}/h",
                              "restart": {"policy": "always", "delay": "0s"},
                              "arrival": {"kind": "burst", "count": 40, "at": 0}},
                    faults={"host_kernel": {"reboot": "0s"}})
    out = only(data)
    frame = out.instances.copy()
    frame["_end"] = 500 * 3600.0
    hours = running_hours(frame)
    expected = rate_per_h * hours
    count = out.metrics["faults"]["instance_kernel"]
    assert abs(count - expected) <= 4 * math.sqrt(expected), (count, expected, hours)
    assert hours > 0.95 * 40 * 500  # the population stayed (nearly) fixed


def test_availability_is_exact_when_one_host_reboots():
    """One service instance on one host, kernel crashes rebooting for 5 min, restart at once:
    it is down exactly while the host reboots."""
    data = scenario(profiles=PROFILES, duration="2000h",
                    workload={"restart": {"policy": "always", "delay": "0s"}},
                    faults={"host_kernel": {"mtbf": "100h", "reboot": "5min"}})
    out = only(data)
    frame = out.instances
    times = frame["disrupted"].dropna().to_numpy()
    assert len(times) >= 5
    lost = sum(min(300.0, 2000 * 3600.0 - t) for t in times)
    assert out.metrics["faults"]["host_kernel"] == len(times)
    assert out.metrics["lost_instance_hours"] == pytest.approx(lost / 3600.0, rel=1e-9)
    assert out.metrics["availability"] == pytest.approx(1 - lost / (2000 * 3600.0), rel=1e-9)
    restarted = frame[frame["attempt"] > 0]
    assert np.allclose(restarted["running"].to_numpy(), times + 300.0)
    assert out.metrics["restart_startup_s"]["max"] == pytest.approx(300.0)


def test_a_hardware_fault_restarts_instances_on_another_host_after_the_delay():
    data = scenario(hosts=hosts(2), profiles=PROFILES, duration="400h", placement="first-fit",
                    workload={"restart": {"policy": "always", "delay": "10s"},
                              "arrival": {"kind": "burst", "count": 6, "at": 0}},
                    faults={"host_hardware": {"mtbf": "100h", "repair": "4h"}})
    out = only(data)
    frame = out.instances
    hit = frame[frame["fault"] >= 0]
    assert len(hit) > 0
    restarted = frame[frame["attempt"] > 0].set_index(["request", "attempt"])
    for _, rec in hit.iterrows():
        nxt = restarted.loc[(rec["request"], rec["attempt"] + 1)]
        assert nxt["arrival"] == pytest.approx(rec["disrupted"] + 10.0)
        assert nxt["host"] != rec["host"] or nxt["placed"] >= rec["disrupted"] + 4 * 3600.0


def test_restart_never_ends_the_request_and_counts_what_it_wanted():
    data = scenario(profiles=PROFILES, duration="1000h",
                    workload={"lifetime": "900h", "arrival": {"kind": "burst", "count": 3}},
                    faults={"host_kernel": {"mtbf": "300h", "reboot": "5min"}})
    out = only(data)
    frame = out.instances
    assert (frame["attempt"] == 0).all()
    cut = frame[frame["disrupted"].notna()]
    assert len(cut) > 0
    ran = cut["disrupted"] - cut["running"]
    assert np.allclose(cut["wanted_until"], cut["disrupted"] + (900 * 3600.0 - ran))


def test_a_batch_job_alone_runs_its_work_and_two_share_the_core():
    one = scenario(profiles=PROFILES, host={"cpu_cores": 1},
                   workload={"work": "100s", "cpu": 1})
    assert only(one).instances["slowdown"].iloc[0] == pytest.approx(1.0)
    two = scenario(profiles=PROFILES, host={"cpu_cores": 1, "cpu_overcommit": 2},
                   workload={"work": "100s", "cpu": 1,
                             "arrival": {"kind": "burst", "count": 2}})
    frame = only(two).instances
    assert frame["slowdown"].tolist() == pytest.approx([2.0, 2.0])
    assert (frame["stopping"] - frame["running"]).tolist() == pytest.approx([200.0, 200.0])


def test_a_noisy_neighbour_slows_a_batch_job_by_the_profiles_factor():
    job = {"name": "job", "image": "base", "isolation": "free", "cpu": 1, "memory": "1GiB",
           "work": "100s", "arrival": {"kind": "burst", "count": 1, "at": 10}}
    noisy = {"name": "noisy", "image": "base", "isolation": "free", "cpu": 1, "memory": "1GiB",
             "noise": "cpu", "arrival": {"kind": "burst", "count": 1, "at": 0}}
    profiles = {"free": {**FREE, "interference": {"cpu": 1.6}}}
    out = only(scenario(profiles=profiles, workloads=[job, noisy]))
    slow = out.instances.set_index("workload").loc["job", "slowdown"]
    assert slow == pytest.approx(1.6)
    assert out.metrics["slowdown"]["max"] == pytest.approx(1.6)
    # the same neighbour leaving half way: 50 s at 1/1.6 speed, then full speed
    noisy_short = {**noisy, "lifetime": f"{10 + 50 * 1.6}s"}
    out = only(scenario(profiles=profiles, workloads=[job, noisy_short]))
    frame = out.instances.set_index("workload")
    assert frame.loc["job", "stopping"] - frame.loc["job", "running"] == pytest.approx(
        50 * 1.6 + 50)


def test_same_tenant_keeps_tenants_off_one_kernel_and_costs_hosts():
    wl = scenario()["workloads"][0]
    workloads = [{**wl, "name": f"t{k}", "tenant": f"t{k}", "lifetime": "1h",
                  "arrival": {"kind": "burst", "count": 3, "at": 0}} for k in range(3)]
    base = dict(hosts=hosts(4), profiles=PROFILES, workloads=workloads,
                placement="first-fit", duration="30min")
    shared = only(scenario(**base))
    assert shared.metrics["hosts_used_max"] == 1
    assert shared.metrics["cross_tenant_kernel_pairs_mean"] == pytest.approx(3.0)
    apart = only(scenario(**base, kernel_sharing="same-tenant"))
    assert apart.metrics["hosts_used_max"] == 3
    assert apart.metrics["cross_tenant_kernel_pairs_mean"] == 0.0
    own = only(scenario(**{**base, "workloads": [{**w, "isolation": "own"}
                                                 for w in workloads]},
                        kernel_sharing="same-tenant"))
    assert own.metrics["hosts_used_max"] == 1  # own kernels may share a host


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tenants=st.integers(2, 4), per=st.integers(1, 6), n_hosts=st.integers(1, 4),
       rate=st.floats(0.05, 1.0), lifetime=st.floats(10, 300),
       placement=st.sampled_from(["first-fit", "best-fit", "spread", "random"]),
       fault=st.booleans())
def test_same_tenant_never_puts_two_tenants_on_one_kernel(tenants, per, n_hosts, rate,
                                                         lifetime, placement, fault):
    wl = scenario()["workloads"][0]
    workloads = [{**wl, "name": f"w{k}", "tenant": f"t{k}", "memory": "100GiB",
                  "lifetime": f"{lifetime}s", "restart": {"policy": "always"},
                  "kernel_fault_rate": "2/h" if fault else 0,
                  "arrival": {"kind": "poisson", "rate": f"{rate}/s", "count": per * 5}}
                 for k in range(tenants)]
    data = scenario(hosts=hosts(n_hosts), profiles=PROFILES, workloads=workloads,
                    placement=placement, duration="30min", kernel_sharing="same-tenant")
    out = only(data)
    frame = out.instances
    placed = frame[frame["placed"].notna()]
    for _, on_host in placed.groupby("host"):
        end = on_host["removed"].fillna(1e18).to_numpy()
        start = on_host["placed"].to_numpy()
        tenant = on_host["tenant"].to_numpy()
        for i in range(len(on_host)):
            overlap = (start < end[i]) & (end > start[i]) & (tenant != tenant[i])
            assert not overlap.any()
    assert out.metrics["cross_tenant_kernel_pairs_mean"] == 0.0


def container_vms(**extra: object) -> dict:
    """One physical host carrying two container-host VMs."""
    return scenario(
        hosts=[{"group": "metal", "count": 1, "cpu_cores": 64, "memory": "512GiB",
                "disk": "100TiB", "disk_rate": "1GB/s", "nic": "10Gbit/s"},
               {"group": "vms", "count": 2, "cpu_cores": 32, "memory": "250GiB",
                "disk": "50TiB", "disk_rate": "1GB/s", "nic": "10Gbit/s",
                "max_concurrent_starts": 100, "preloaded_images": ["base"],
                "virtual": {"physical_group": "metal", "per_physical": 2}}],
        **{"profiles": PROFILES, "placement": "spread", **extra})


def test_in_a_container_host_vm_a_shared_kernel_fault_stays_in_that_vm():
    data = container_vms(duration="100h", workload={
        "arrival": {"kind": "burst", "count": 10}, "kernel_fault_rate": "0.01/h"})
    out = only(data)
    frame = out.instances
    first = frame[frame["fault"] == 0]
    assert len(first) == 5  # spread: 5 per VM; only that VM's instances went down
    assert first["host"].nunique() == 1
    assert out.metrics["density_physical_max"] == 10
    assert out.metrics["density_max"] == 5


def test_a_hardware_fault_of_the_physical_host_takes_its_vms():
    data = container_vms(duration="400h", workload={"arrival": {"kind": "burst", "count": 10}},
                         faults={"host_hardware": {"mtbf": "100h", "repair": "1h"}})
    out = only(data)
    assert out.metrics["faults"]["host_hardware"] >= 1
    assert out.metrics["blast_radius"]["max"] == 10


def test_nested_penalty_stretches_start_up_inside_a_vm():
    profiles = {"free": {**FREE, "boot": "10s", "nested": {"boot_factor": 1.5}}}
    out = only(container_vms(profiles=profiles))
    row = out.instances.iloc[0]
    assert row["booted"] - row["created"] == pytest.approx(15.0)


def test_hyperv_inside_a_vm_needs_nested_virtualization():
    data = container_vms(workload={"isolation": "hyperv"})
    with pytest.raises(ScenarioError, match="nested_virtualization"):
        load(data)
    data["hosts"][1]["nested_virtualization"] = True
    load(data)


@pytest.mark.parametrize("change, message", [
    ({"faults": {"host_kernel": {"mtbf": "0s"}}}, "faults.host_kernel.mtbf"),
    ({"workload": {"noise": "cpuu"}}, "did you mean 'cpu'"),
    ({"workload": {"work": "10s", "lifetime": "1h"}}, "either lifetime or work"),
    ({"workload": {"restart": {"policy": "sometimes"}}}, "restart.policy"),
    ({"kernel_sharing": "tenant"}, "kernel_sharing"),
    ({"host": {"virtual": {"physical_group": "nope"}}}, "unknown host group 'nope'"),
])
def test_bad_isolation_input_is_reported_with_its_place(change, message):
    data = scenario(**change)
    with pytest.raises(ScenarioError) as err:
        load(data)
    assert message in str(err.value)


def _steps(level) -> list[tuple[float, float]]:
    """A level as the function of time it is: (time, value) where the value changes."""
    points = [(level.times[0], level.values[0])]
    for t, v in zip(level.times[1:], level.values[1:]):
        if v != points[-1][1]:
            points.append((t, v))
    return points


@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), delay=st.sampled_from(["0s", "30s", "10min"]),
       latency=st.sampled_from(["0s", "3s"]), surge=st.sampled_from([0, 1, "50%"]),
       placement=st.sampled_from(["first-fit", "best-fit", "spread"]))
def test_faults_restarts_and_rollouts_leave_no_capacity_behind(seed, delay, latency, surge,
                                                               placement):
    """Faults, restarts (with delays), registry latency, batch jobs and a rollout every
    20 min: at the end, each host holds exactly the instances placed on it and not removed,
    and the running level counts exactly the records that run; no record changes after the
    model has closed it (the table keeps it as it was then); and the levels worked out from
    the records after the run (running, starting, hosts used, each host's instances) are,
    change for change, those the counts went through during it."""
    import simpy

    from sim.analysis.metrics import record_levels
    from sim.experiment.expand import expand
    from sim.model.build import build
    from sim.model.counts import Counts
    from sim.recorder import ROW, Level, Recorder

    class Keeping(Recorder):
        """Remembers each record it closes, with its fields at that moment."""

        def __init__(self) -> None:
            super().__init__()
            self.closed: list[tuple] = []

        def close(self, record) -> None:
            self.closed.append((record, [getattr(record, f) for f in ROW.names or ()]))
            super().close(record)

    slow = {**FREE, "create": "5s", "boot": "5s", "stop": "3s", "cpu_bound_fraction": 0.5,
            "interference": {"cpu": 1.6}}
    web = {"name": "web", "image": "app", "isolation": "p", "cpu": 1, "memory": "1GiB",
           "app_start": "2s", "arrival": {"kind": "poisson", "rate": "40/h"},
           "lifetime": {"dist": "exponential", "mean": "30min"}, "kernel_fault_rate": "0.3/h",
           "restart": {"policy": "always", "delay": delay}}
    job = {"name": "job", "image": "app", "isolation": "o", "cpu": 2, "memory": "1GiB",
           "tenant": "batch", "work": "20min", "noise": "cpu",
           "arrival": {"kind": "poisson", "rate": "6/h"}, "kernel_fault_rate": "0.2/h",
           "restart": {"policy": "always", "delay": delay}}
    data = scenario(
        duration="4h", placement=placement, seed=seed,
        hosts=[{"group": "farm", "count": 3, "cpu_cores": 8, "memory": "8GiB", "disk": "1TiB",
                "disk_rate": "1GB/s", "nic": "1Gbit/s", "max_concurrent_starts": 2,
                "preloaded_images": ["base"]},
               {"group": "build", "count": 1, "cpu_cores": 8, "memory": "16GiB",
                "disk": "1TiB", "disk_rate": "1GB/s", "nic": "1Gbit/s"}],
        registry={"bandwidth": "1Gbit/s", "latency": latency},
        images=[{"name": "base", "os_build": "ltsc2022", "layers": ["1GiB"]},
                {"name": "app", "base": "base", "layers": ["50MiB"]}],
        workloads=[{**web, "host_groups": ["farm"]}, {**job, "host_groups": ["farm"]}],
        profiles={"p": slow, "o": {**slow, "shares_host_kernel": False}},
        faults={"host_hardware": {"mtbf": "6h", "repair": "15min"},
                "host_kernel": {"mtbf": "5h", "reboot": "2min"}},
        pipelines=[{"name": "ci", "host_group": "build", "trigger": {"at": "10min",
                                                                      "every": "20min"},
                    "steps": [{"build": {"base": "base", "install": "1min",
                                         "layer": "20MiB"}},
                              {"push": {}},
                              {"rollout": {"workload": "web", "max_surge": surge,
                                           "max_unavailable": 1}}]}])
    spec = expand(load(data), replications=1)[0]
    env = simpy.Environment()
    recorder = Keeping()
    model = build(env, spec.scenario, spec.profiles, spec.seed, 0, recorder)
    # the levels worked out after the run must be those the counts take during it
    live: dict = {name: Level() for name in ("running", "starting", "hosts_used")}
    live_hosts: dict = {}
    host_changed = model.admission.changed

    class Observed(Counts):
        """The model's counts, each change to running or starting seen as it happens
        (however the model changes them)."""

        def __setattr__(self, name, value):
            super().__setattr__(name, value)
            if name in ("running", "starting"):
                live[name].set(env.now, value)

    model.counts.__class__ = Observed

    def changing(host, delta, wl):
        host_changed(host, delta, wl)
        live_hosts.setdefault(host.index, Level()).set(env.now, host.instances)
        before = host.instances - delta
        if (before == 0) != (host.instances == 0):
            used = live["hosts_used"]
            used.set(env.now, used.values[-1] + (1 if before == 0 else -1))

    model.admission.changed = changing
    env.run(until=spec.scenario.duration)
    derived, host_levels = record_levels(recorder.table())
    for name in ("running", "starting"):
        assert (derived[name].times, derived[name].values) == (live[name].times,
                                                               live[name].values), name
    # a host emptied and taken again at one instant: a change during the run, none after it
    assert _steps(derived["hosts_used"]) == _steps(live["hosts_used"])
    assert {h: (lv.times, lv.values) for h, lv in host_levels.items()} == {
        h: (lv.times, lv.values) for h, lv in live_hosts.items()}
    on_host = {h.index: 0 for h in model.hosts}
    running = 0
    table = recorder.table()
    for r in (dict(zip(table, row)) for row in zip(*table.values())):
        if r["host"] >= 0 and math.isnan(r["removed"]):
            on_host[int(r["host"])] += 1
        if not (math.isnan(r["running"]) or not math.isnan(r["stopping"])
                or not math.isnan(r["disrupted"])):
            running += 1
    assert {h.index: h.instances for h in model.hosts} == on_host
    assert model.counts.running == running
    assert model.counts.allocated == sum(on_host.values())
    assert recorder.closed
    for record, fields in recorder.closed:
        now = [getattr(record, f) for f in ROW.names or ()]
        assert all(a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b))
                   for a, b in zip(now, fields)), record
    for h in model.hosts:
        assert h.memory_free <= h.memory_capacity + 1e-6
        assert h.batch is None or h.batch.jobs <= h.instances
