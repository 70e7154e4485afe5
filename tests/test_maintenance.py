"""Maintenance campaigns: patch waves in batches, drains within disruption budgets, live
migration, OS upgrades and the version-compatibility rule."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.cli import main
from sim.edge.loader import ScenarioError
from sim.experiment.expand import expand
from sim.model.migration import precopy
from sim.run.execute import run
from sim.spec import builds
from tests.helpers import FREE, load, only, scenario

GiB = 2**30

# a VM that starts at once and moves live (the vm profile's rules, none of its costs)
FREE_VM = {**FREE, "extends": "vm", "disk_image": "none", "partition": False,
           "new_version": "template"}
# a Hyper-V isolated container that starts at once
FREE_HYPERV = {**FREE, "extends": "hyperv", "partition": False}


def fleet(hosts: int, **changes):
    """``hosts`` roomy hosts whose instances start at once (FREE), with ``changes``."""
    changes = {"duration": "10h", **changes, "host": {"count": hosts, **changes.get("host", {})}}
    return scenario(profiles={"free": FREE, "free-vm": FREE_VM, "free-hyperv": FREE_HYPERV},
                    **changes)


def campaign(**keys):
    return {"name": "patch", "group": "h", "at": "1h",
            "downtime": {"dist": "constant", "value": "10min"}, **keys}


def events(data):
    """The campaign events of a scenario's only variant, and its output."""
    (spec,) = expand(load(data), None, replications=1)
    return run(spec).recorder.maintenance


# --- arithmetic -----------------------------------------------------------------------------

@pytest.mark.parametrize(("hosts", "batch"), [(5, 2), (5, 1), (4, "50%"), (3, "10%")])
def test_n_hosts_in_batches_of_k_take_ceil_n_over_k_downtimes(hosts, batch):
    data = fleet(hosts, maintenance=[campaign(batch=batch)],
                 workload={"arrival": {"kind": "burst", "count": 3, "at": 0}})
    m = only(data).metrics["maintenance"]["patch"]
    k = batch if isinstance(batch, int) else math.ceil(int(batch[:-1]) / 100 * hosts)
    assert m["duration_s"] == pytest.approx(math.ceil(hosts / k) * 600.0, abs=1e-9)
    assert m["hosts_done"] == hosts
    assert m["capacity_dip"] == pytest.approx(k / hosts)
    assert m["restarts"] >= 3 and m["migrations"] == 0
    assert m["unfinished"] is None


def test_drains_add_to_the_downtimes():
    """Evicted instances that take 100 s to start, one at a time (budget 1): a host's drain
    waits 100 s for each running instance on it but the last (which leaves it empty)."""
    data = fleet(2, maintenance=[campaign()],
                 workload={"app_start": "100s", "disruption_budget": 1,
                           "arrival": {"kind": "burst", "count": 2, "at": 0}})
    m = only(data).metrics["maintenance"]["patch"]
    # host 0 holds both: 100 s, then 600 s down; host 1 then holds both: the same again
    assert m["duration_s"] == pytest.approx(2 * (100.0 + 600.0))
    assert m["restarts"] == 4


def test_precopy_without_dirtying_is_memory_over_bandwidth_plus_the_pause():
    plan = precopy(GiB, 1e9, 0.0, 0.2, 10)
    assert (plan.copy_s, plan.pause_s, plan.bytes, plan.rounds) == (GiB / 1e9, 0.2, GiB, 1)


def test_precopy_rounds_send_what_was_dirtied_until_the_rest_fits_in_the_pause():
    # dirtying at half the bandwidth: rounds of M, M/2, M/4; then M/8 <= 0.2 s worth
    plan = precopy(GiB, 1e9, 0.5e9, 0.2, 10)
    assert plan.rounds == 3
    assert plan.copy_s == pytest.approx(GiB / 1e9 * 1.75)
    assert plan.pause_s == pytest.approx(0.2 + GiB / 8 / 1e9)
    assert plan.bytes == pytest.approx(GiB * (1 + 0.5 + 0.25 + 0.125))


def test_precopy_that_cannot_converge_gives_up():
    plan = precopy(GiB, 1e9, 2e9, 0.2, 5)  # dirtied faster than sent: no round sends less
    assert plan.rounds == 1
    assert plan.pause_s == pytest.approx(0.2 + GiB / 1e9)
    slow = precopy(GiB, 1e9, 0.9e9, 0.01, 3)  # converging slowly: max_rounds stops it
    assert slow.rounds == 3
    assert slow.pause_s == pytest.approx(0.01 + GiB * 0.9**3 / 1e9)


def test_a_live_migration_takes_memory_over_bandwidth_plus_the_pause():
    data = fleet(2, maintenance=[campaign(live_migration=True)],
                 host={"migration_bandwidth": "8Gbit/s"},
                 workload={"isolation": "free-vm", "dirty_rate": "0B/s"})
    rows = events(data)
    moves = [r for r in rows if r["event"] == "migrated"]
    assert len(moves) == 2  # off host 0, then back off host 1
    first = moves[0]
    assert first["time"] - first["began"] == pytest.approx(GiB / 1e9 + 0.2)
    assert first["bytes"] == GiB
    m = only(data).metrics["maintenance"]["patch"]
    assert m["duration_s"] == pytest.approx(2 * (GiB / 1e9 + 0.2 + 600.0))
    assert (m["restarts"], m["migrations"], m["bytes_moved"]) == (0, 2, 2 * GiB)
    # the pauses are the only time it did not run
    span = m["duration_s"]
    assert m["availability"] == pytest.approx(1 - 2 * 0.2 / span)


def test_without_live_migration_a_vm_restarts():
    data = fleet(2, maintenance=[campaign()], workload={"isolation": "free-vm"})
    m = only(data).metrics["maintenance"]["patch"]
    assert (m["restarts"], m["migrations"]) == (2, 0)


def test_containers_restart_even_with_live_migration_on():
    data = fleet(2, maintenance=[campaign(live_migration=True)])
    m = only(data).metrics["maintenance"]["patch"]
    assert (m["restarts"], m["migrations"]) == (2, 0)


def test_a_monthly_wave_repeats():
    data = fleet(2, duration="70d", timeseries_interval="1d",
                 maintenance=[campaign(every="30d")])
    m = only(data).metrics["maintenance"]["patch"]
    assert (m["waves"], m["hosts_done"]) == (3, 6)
    assert m["duration_s"] == pytest.approx(1200.0)


# --- disruption budgets ---------------------------------------------------------------------

@settings(max_examples=20, deadline=None)
@given(st.integers(2, 5), st.integers(1, 3), st.one_of(st.none(), st.integers(1, 3)),
       st.integers(1, 8), st.sampled_from(["0s", "30s", "5min"]))
def test_a_disruption_budget_is_never_exceeded(hosts, batch, budget, count, start):
    budget = None if budget is None else min(budget, count)
    data = fleet(hosts, maintenance=[campaign(batch=batch)],
                 workload={"app_start": start, "disruption_budget": budget,
                           "lifetime": {"dist": "exponential", "mean": "3h"},
                           "restart": {"policy": "always"},
                           "arrival": {"kind": "burst", "count": count, "at": 0}})
    out = only(data)
    rows = out.extra["maintenance"]
    frame = out.instances
    # each eviction of a running instance: down from then until its request runs again
    spans = []
    for r in rows:
        if r["event"] == "evicted" and r["running"]:
            later = frame[(frame["request"] == r["request"]) & (frame["arrival"] >= r["time"])]
            back = later["running"].min()
            spans.append((r["time"], back if not math.isnan(back) else math.inf))
    edges = sorted([(t, 1) for t, _ in spans] + [(b, -1) for _, b in spans])
    down = most = 0
    for _t, step in edges:
        down += step
        most = max(most, down)
    assert most <= (budget if budget is not None else count)
    unfinished = out.metrics["maintenance"]["patch"]["unfinished"]
    if batch < hosts or budget is None:
        assert unfinished is None
    else:  # the batch takes every host: with a budget the drain waits for ever
        assert unfinished is None or "no host it may use is up" in unfinished


def test_a_zero_budget_stalls_the_campaign_and_says_why():
    data = fleet(2, maintenance=[campaign()],
                 workload={"disruption_budget": 0,
                           "arrival": {"kind": "burst", "count": 1, "at": 0}})
    m = only(data).metrics["maintenance"]["patch"]
    assert m["duration_s"] is None and m["hosts_done"] == 0
    assert "disruption budget is 0" in m["unfinished"]


def test_a_percentage_budget_rounds_up():
    data = fleet(2, maintenance=[campaign()],
                 workload={"app_start": "100s", "disruption_budget": "10%",
                           "arrival": {"kind": "burst", "count": 4, "at": 0}})
    m = only(data).metrics["maintenance"]["patch"]
    assert m["duration_s"] == pytest.approx(2 * (3 * 100.0 + 600.0))  # 10 % of 4: 1


# --- OS upgrades and the compatibility table ------------------------------------------------

def test_the_compatibility_table():
    assert builds.runs("same", "ltsc2022", "ltsc2022")
    assert not builds.runs("same", "ltsc2019", "ltsc2022")
    assert builds.runs("same", "ltsc2022", "ltsc2025")  # the table's one exception
    assert builds.runs("older", "ltsc2016", "ltsc2025")
    assert builds.runs("older", "ltsc2019", "ltsc2022")
    assert not builds.runs("older", "ltsc2025", "ltsc2022")  # never a newer image
    assert builds.runs("any", "ltsc2025", "ltsc2016")
    assert builds.runs("older", "linux", "linux") and not builds.runs("older", "x", "linux")


def upgrade(isolation, pipelines=(), budget=1):
    """Two ltsc2019 hosts upgraded to ltsc2022 one at a time; 2 instances of an ltsc2019
    image, at most ``budget`` down at once."""
    return fleet(2, host={"os_build": "ltsc2019"},
                 images=[{"name": "base", "os_build": "ltsc2019", "layers": ["1GiB"]},
                         {"name": "base22", "os_build": "ltsc2022", "layers": ["1GiB"]}],
                 workload={"isolation": isolation, "disruption_budget": budget,
                           "arrival": {"kind": "burst", "count": 2, "at": 0}},
                 maintenance=[campaign(os_build="ltsc2022")], pipelines=list(pipelines))


def test_an_upgrade_strands_process_isolated_instances_of_the_old_build():
    m = only(upgrade("free")).metrics["maintenance"]["patch"]
    assert m["hosts_done"] == 1  # host 0 upgraded; host 1's instances have nowhere to go
    assert m["all_on_new_build_s"] is None
    assert "must be rebuilt" in m["unfinished"] and "build ltsc2019" in m["unfinished"]


def test_without_a_budget_the_upgrade_finishes_and_strands_them():
    m = only(upgrade("free", budget=None)).metrics["maintenance"]["patch"]
    assert m["hosts_done"] == 2 and m["unfinished"] is None
    assert m["not_back"] == 2 and m["all_on_new_build_s"] is None


def test_hyperv_isolation_runs_the_old_image_on_upgraded_hosts():
    m = only(upgrade("free-hyperv")).metrics["maintenance"]["patch"]
    assert m["hosts_done"] == 2 and m["unfinished"] is None
    assert m["all_on_new_build_s"] == pytest.approx(1200.0)


def test_an_image_rebuilt_on_the_new_base_moves():
    rebuild = {"name": "rebuild", "trigger": {"at": "90min"}, "host_group": "h",
               "image": "app22",
               "steps": [{"build": {"base": "base22", "install": "1min", "layer": "100MiB"}},
                         {"push": {}},
                         {"rollout": {"workload": "w", "max_surge": "100%"}}]}
    out = only(upgrade("free", [rebuild]))
    m = out.metrics["maintenance"]["patch"]
    assert m["hosts_done"] == 2 and m["unfinished"] is None
    assert m["all_on_new_build_s"] is not None and m["all_on_new_build_s"] > 1800
    running = out.instances[out.instances["running"].notna() & out.instances["removed"].isna()]
    assert set(running["image"]) == {"app22-v1"}


def test_upgraded_hosts_refuse_old_process_images_and_take_hyperv_ones():
    from sim.model.builds import Builds
    from sim.spec.config import HostGroup
    from sim.spec.demand import Demand

    group = HostGroup(group="h", count=2, cpu_cores=4, memory=2**34, disk=2**40,
                      disk_rate=1e9, nic=1e9, os_build="ltsc2019")

    class Host:
        def __init__(self, index):
            self.index, self.os_build = index, "ltsc2019"

    hosts = [Host(0), Host(1)]
    table = Builds(hosts)  # type: ignore[arg-type]

    def need(rule):
        return Demand(memory=1, vcpu=1, disk_private=0, partition=0, image_bytes=0,
                      requires_hyperv=rule != "same", os_build="ltsc2019", build_rule=rule)

    assert table.allowed(need("same")) is None  # nothing upgraded: no mask
    table.upgrade(hosts[0], "ltsc2022")  # type: ignore[arg-type]
    assert table.allowed(need("same")).tolist() == [False, True]
    assert table.allowed(need("older")).tolist() == [True, True]
    assert group.os_build == "ltsc2019"


# --- bad input ------------------------------------------------------------------------------

def problems(data):
    with pytest.raises(ScenarioError) as info:
        load(data)
    return [f"{p.path}: {p.message}" for p in info.value.problems]


@pytest.mark.parametrize(("keys", "words"), [
    ({"batch": 0}, "maintenance[0].batch: give a number of hosts (at least 1)"),
    ({"batch": "0%"}, "maintenance[0].batch: give a number of hosts"),
    ({"batch": "150%"}, "a percentage up to 100%"),  # was accepted
    ({"os_build": "ltsc2030"}, "unknown build 'ltsc2030'"),
    ({"os_build": "ltsc2019"}, "ltsc2019 is not newer than the group's build ltsc2022"),
    ({"group": "nope"}, "unknown host group 'nope'"),
    ({"at": "2h"}, "at or after the end of the run"),
])
def test_bad_campaigns_are_refused(keys, words):
    data = scenario(maintenance=[campaign(**keys) | {"at": keys.get("at", "10min")}])
    assert any(words in p for p in problems(data)), problems(data)


def test_a_budget_above_the_instances_is_refused():
    data = scenario(workload={"disruption_budget": 3})
    assert any("workloads[0].disruption_budget: 3 is above the 1 instances" in p
               for p in problems(data))


def test_a_budget_above_the_replicas_is_refused():
    data = scenario(workload={"disruption_budget": 5, "arrival": None,
                              "replicas": {"max": 4, "target_per_replica": 10,
                                           "demand": {"kind": "constant", "value": 20}}})
    del data["workloads"][0]["arrival"]
    assert any("disruption_budget: 5 is above the 4 instances" in p for p in problems(data))


def test_an_elastic_or_carrier_group_is_refused():
    data = scenario(maintenance=[campaign(at="10min")],
                    host={"count": 1, "autoscale": {"min": 1, "max": 2}})
    assert any("scales (autoscale)" in p for p in problems(data))


def test_the_cli_exits_2_and_writes_nothing(tmp_path, capsys):
    import yaml

    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(scenario(maintenance=[campaign(batch=0, at="1min")]),
                                  sort_keys=False))
    out = tmp_path / "out"
    assert main(["run", str(bad), "--out", str(out)]) == 2
    assert not out.exists()
    err = capsys.readouterr().err
    assert f"{bad}:" in err and "maintenance[0].batch" in err


def test_same_scenario_same_campaign():
    data = fleet(3, maintenance=[campaign(batch=1)],
                 workload={"lifetime": {"dist": "exponential", "mean": "2h"},
                           "arrival": {"kind": "poisson", "rate": "10/h"}})
    assert only(data).metrics["maintenance"] == only(data).metrics["maintenance"]


# --- what an adversarial review found ------------------------------------------------------

def test_two_campaigns_on_one_group_evict_each_instance_once():
    data = fleet(3, maintenance=[campaign(), campaign(name="again")],
                 workload={"app_start": "30s", "disruption_budget": 3,
                           "arrival": {"kind": "burst", "count": 5, "at": 0}})
    out = only(data)
    rows = out.extra["maintenance"]
    evictions = [(r["request"], r["time"]) for r in rows if r["event"] == "evicted"]
    assert len(evictions) == len(set(evictions))
    down = out.extra["series"]["disrupted:w"]["values"]
    assert down[-1] == 0 and max(down) <= 3  # the budget's count comes back to 0
    for name in ("patch", "again"):
        assert out.metrics["maintenance"][name]["unfinished"] is None
    frame = out.instances
    assert frame["running"].notna().sum() >= 5
    still = frame[frame["running"].notna() & frame["removed"].isna()]
    assert len(still) == 5  # every instance runs at the end, once


def test_an_evicted_batch_job_gives_up_its_cpu_share():
    job = {"image": "base", "isolation": "free", "cpu": 1000, "memory": "1GiB",
           "work": "20h", "app_start": "30s"}
    data = fleet(2, duration="40h", maintenance=[campaign()],
                 workloads=[{**job, "name": "first", "arrival": {"kind": "burst", "count": 1}},
                            {**job, "name": "later",
                             "arrival": {"kind": "burst", "count": 1, "at": "2h"}}])
    out = only(data)
    # the one evicted at 1 h restarts; the later one, never evicted, runs alone on its host
    assert out.metrics["slowdown"]["max"] == pytest.approx(1.0, abs=1e-6)


def test_a_fault_strikes_a_host_being_drained():
    """Cordoned is not down: a host kernel fault during a long drain still takes the host
    down with what runs there."""
    data = fleet(2, maintenance=[campaign(batch=1)],
                 faults={"host_kernel": {"mtbf": "10min", "reboot": "1min"}},
                 workload={"app_start": "5min", "disruption_budget": 1,
                           "restart": {"policy": "always"},
                           "arrival": {"kind": "burst", "count": 4, "at": 0}})
    (spec,) = expand(load(data), None, replications=1)
    recorder = run(spec).recorder
    rows = recorder.maintenance
    cordoned = {r["host"]: r["time"] for r in rows if r["event"] == "cordoned"}
    downs = {r["host"]: r["time"] for r in rows if r["event"] == "down"}
    during = [f for f in recorder.faults
              if f.host in cordoned and cordoned[f.host] < f.time < downs.get(f.host, 1e18)]
    assert during and any(f.disrupted > 0 for f in during)


def test_a_host_under_repair_is_patched_once_it_is_back():
    data = fleet(2, duration="20h", maintenance=[campaign(batch=2)],
                 faults={"host_hardware": {"mtbf": "30min", "repair": "6h"}})
    rows = events(data)
    ups = [r for r in rows if r["event"] == "up"]
    downs = {r["host"]: r["time"] for r in rows if r["event"] == "down"}
    assert all(r["time"] - downs[r["host"]] == pytest.approx(600.0) for r in ups)


def test_rejected_restarts_are_never_back():
    data = fleet(1, maintenance=[campaign()],
                 workload={"on_full": "reject",
                           "arrival": {"kind": "burst", "count": 3, "at": 0}})
    m = only(data).metrics["maintenance"]["patch"]
    assert m["not_back"] == 3


def test_a_sweep_of_counts_and_percentages_writes_its_tables(tmp_path):
    import yaml

    data = fleet(2, maintenance=[campaign()], sweep={"maintenance[0].batch": [1, "50%"]})
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--no-charts",
                 "--quiet"]) == 0
    assert (tmp_path / "out" / "tiny" / "runs.parquet").exists()


def test_upgrades_are_checked_in_time_order():
    later = campaign(name="to2025", at="8h", os_build="ltsc2025")
    first = campaign(name="to2022", at="1h", os_build="ltsc2022")
    old = {"os_build": "ltsc2019"}
    load(fleet(2, host=old, maintenance=[later, first],
               images=[{"name": "base", "os_build": "ltsc2019", "layers": ["1GiB"]}]))
    down = campaign(name="down", at="8h", os_build="ltsc2022")
    up = campaign(name="up", at="1h", os_build="ltsc2025")
    assert any("not newer than the group's build ltsc2025" in p
               for p in problems(fleet(2, maintenance=[down, up])))


def test_a_workload_for_after_the_upgrade_is_accepted():
    images = [{"name": "base", "os_build": "ltsc2022", "layers": ["1GiB"]},
              {"name": "new", "os_build": "ltsc2025", "layers": ["1GiB"]}]
    wl = {"name": "after", "image": "new", "isolation": "free", "memory": "1GiB",
          "arrival": {"kind": "burst", "count": 1, "at": "3h"}}
    data = fleet(1, images=images, maintenance=[campaign(os_build="ltsc2025")])
    data["workloads"].append(wl)
    frame = only(data).instances
    assert frame.loc[frame["workload"] == "after", "running"].notna().all()


@pytest.mark.parametrize(("changes", "words"), [
    ({"maintenance": [campaign(every="1s")]}, "repeats at most hourly"),
    ({"maintenance": [campaign()], "commands": {"steps": [{"run": "c", "image": "base"}]}},
     "commands script's containers cannot be drained"),
])
def test_campaigns_that_could_not_end_are_refused(changes, words):
    assert any(words in p for p in problems(fleet(2, **changes)))


def test_a_plan_may_take_a_campaign_metric_as_its_slo(tmp_path):
    import json

    import yaml

    data = fleet(2, duration="6h", warmup="1h", queue="any-fit",
                 maintenance=[campaign(at="2h")],
                 workload={"cpu": 8, "app_start": "30s", "disruption_budget": "10%",
                           "lifetime": {"dist": "exponential", "mean": "30min"},
                           "arrival": {"kind": "poisson", "rate": "2/min"}},
                 host={"cpu_cores": 16})
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert main(["plan", str(path), "--slo", "maintenance.patch.startup_p99_s<=1s",
                 "--replications", "1", "--out", str(tmp_path / "out"), "--quiet"]) == 0
    plan = json.loads((tmp_path / "out" / "tiny" / "plan.json").read_text())
    assert json.dumps(plan).count("maintenance.patch.startup_p99_s") >= 1
    data["plan"] = {"slo": ["maintenance.patch.duration_s<=1h"]}
    assert any("unknown metric 'maintenance.patch.duration_s'" in p for p in problems(data))
