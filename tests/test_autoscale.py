"""Node autoscaling (issue #23): elastic host groups that add hosts for waiting requests and
remove idle ones, as the Kubernetes cluster autoscaler does."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.edge.loader import ScenarioError
from sim.experiment.expand import expand
from sim.run.execute import run
from tests.helpers import load, only, scenario

GBIT = 1e9 / 8


def pool(**autoscale):
    return {"count": 1, "cpu_cores": 4,
            "autoscale": {"min": 1, "max": 3, "provision": "5min", "scan_interval": "10s",
                          **autoscale}}


def test_time_to_capacity_is_scan_plus_provision_plus_pull_plus_extraction():
    """One host full at 5 s, two more instances: the scan at 10 s asks for one host, ready
    300 s later, cold (no node image): it pulls the 1 GiB layer over 1 Gbit/s (30 ms
    latency) and extracts it at 1 GB/s, then the instances start at once."""
    data = scenario(duration="1h", registry={"bandwidth": "1Gbit/s", "latency": "30ms"},
                    host={**pool(), "preloaded_images": [], "disk_rate": "1GB/s"},
                    workload={"cpu": 2, "arrival": {"kind": "burst", "count": 4, "at": "5s"}})
    df = only(data).instances.sort_values("id")
    pull = 0.030 + 2**30 / GBIT
    ready = 10.0 + 300.0
    first = df.iloc[:2]
    later = df.iloc[2:]
    assert (first["host"] == 0).all()
    assert (later["host"] == 1).all() and (later["placed"] == ready).all()
    assert later["pulled"].tolist() == pytest.approx([ready + pull] * 2, abs=1e-9)
    assert later["running"].tolist() == pytest.approx([ready + pull + 2**30 / 1e9] * 2,
                                                      abs=1e-6)


def test_the_fewest_hosts_that_fit_the_waiting_requests_are_added():
    data = scenario(duration="1h", host=pool(max=10),
                    workload={"cpu": 2, "arrival": {"kind": "burst", "count": 7, "at": 0}})
    out = only(data)
    # 2 per host: 1 present takes 2, the other 5 need 3 more hosts (not 5, not 9)
    assert out.metrics["scale_ups"] == 3
    assert out.metrics["hosts_peak"] == 4
    assert sorted(out.instances.groupby("host").size().tolist()) == [1, 2, 2, 2]


def test_idle_hosts_go_after_the_unneeded_time_down_to_min():
    data = scenario(duration="2h", host=pool(unneeded_time="10min",
                                             scale_down_delay_after_add="0s"),
                    workload={"cpu": 2, "lifetime": "20min",
                              "arrival": {"kind": "burst", "count": 6, "at": 0}})
    out = only(data)
    m = out.metrics
    assert (m["scale_ups"], m["scale_downs"], m["hosts_peak"]) == (2, 2, 3)
    # host 0 is empty from 20 min: removed at 30 min; the two added at 310 s run to 1,510 s
    # and one of them goes 10 min later (the other stays: min 1)
    assert m["host_hours"] == pytest.approx((1800 + (2110 - 310) + (7200 - 310)) / 3600)


def test_max_holds_and_requests_wait():
    data = scenario(duration="1h", host=pool(max=2),
                    workload={"cpu": 2, "arrival": {"kind": "burst", "count": 6, "at": 0}})
    out = only(data)
    assert out.metrics["hosts_peak"] == 2 and out.metrics["scale_ups"] == 1
    assert out.instances["running"].isna().sum() == 2


def test_a_fixed_scenario_has_no_elastic_metrics():
    assert "hosts_mean" not in only(scenario()).metrics


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3000), st.integers(1, 6)), min_size=1, max_size=5),
       st.integers(0, 2), st.integers(1, 4), st.sampled_from(["0s", "5min"]))
def test_min_and_max_hold_and_no_host_leaves_with_instances(bursts, low, extra, delay):
    workloads = [{"name": f"w{i}", "image": "base", "isolation": "free", "cpu": 2,
                  "memory": "1GiB", "lifetime": "15min",
                  "arrival": {"kind": "burst", "count": n, "at": t}}
                 for i, (t, n) in enumerate(bursts)]
    data = scenario(duration="2h", workloads=workloads,
                    host={"count": max(low, 1), "cpu_cores": 4,
                          "autoscale": {"min": low, "max": max(low, 1) + extra,
                                        "provision": {"dist": "uniform", "low": "1min",
                                                      "high": "20min"},
                                        "scan_interval": "10s", "unneeded_time": "5min",
                                        "scale_down_delay_after_add": delay}})
    result = run(expand(load(data), None, 1)[0])
    level = result.recorder.levels["hosts_present"]
    assert all(low <= v <= max(low, 1) + extra for v in level.values)
    table = result.recorder.table()
    for time, host, present in result.recorder.presence:
        if present:
            continue
        on = (table["host"] == host) & (table["placed"] <= time)
        ended = np.where(np.isnan(table["removed"]), math.inf, table["removed"])
        assert not np.any(on & (ended > time)), f"host {host} left at {time} with instances"


@pytest.mark.parametrize("autoscale, says", [
    ({"min": 3, "max": 2}, "min (3) is above max (2)"),
    ({"min": 1, "max": 2, "provision": "20min"}, "always takes longer than provision_timeout"),
    ({"min": 2, "max": 4}, "must be within autoscale's min (2) and max (4)"),
    ({"min": 1, "max": 2, "scan_interval": "0s"}, "scan_interval"),
])
def test_bad_autoscale_is_refused(autoscale, says):
    with pytest.raises(ScenarioError, match=says.replace("(", r"\(").replace(")", r"\)")):
        load(scenario(host={"count": 1, "autoscale": autoscale}))


def replicated(demand, host=None, **replicas):
    data = scenario(duration="2h", host={"count": 1, "cpu_cores": 4, **(host or {})},
                    workload={"cpu": 2})
    del data["workloads"][0]["arrival"]
    data["workloads"][0]["replicas"] = {"min": 1, "max": 10, "target_per_replica": 50,
                                        "demand": demand, **replicas}
    return data


def test_a_step_served_after_sync_scan_provision_pull_and_extraction():
    """Demand 100 → 200 at 3,605 s (2 → 4 replicas of 2 vCPU; 2 fit a host): the sync at
    3,615 s asks for 2 more, the node scan at 3,620 s for exactly one host, ready 300 s
    later and cold: the 1 GiB layer pulled over 1 Gbit/s (30 ms latency) and extracted at
    1 GB/s, then they start at once."""
    data = replicated({"kind": "step", "at": "3605s", "from": 100, "to": 200},
                      host={"preloaded_images": [], "disk_rate": "1GB/s",
                            "autoscale": {"min": 1, "max": 5, "provision": "5min",
                                          "scan_interval": "10s"}})
    data["registry"] = {"bandwidth": "1Gbit/s", "latency": "30ms"}
    data["warmup"] = "30min"
    m = only(data).metrics
    ready = 3620.0 + 300.0
    pull = 0.030 + 2**30 / GBIT
    expected = ready + pull + 2**30 / 1e9 - 3605.0
    assert m["time_to_capacity_s"]["max"] == pytest.approx(expected, abs=1e-6)
    assert m["time_to_capacity_s"]["not_reached"] == 0
    # 2 replicas short from the step until they ran
    assert m["unserved"]["instance_hours"] == pytest.approx(2 * expected / 3600, abs=1e-6)
    assert m["scale_ups"] == 1


def test_the_autoscaler_rule_on_a_known_series():
    """Target 50: demand 100 → 2; 105 is within the tolerance of 2 × 50 (no change); 160 →
    ceil(3.2) = 4; 60 → 2 only once 5 min of recommendations have fallen."""
    steps = [{"at": 0, "value": 100}, {"at": "15min", "value": 105},
             {"at": "30min", "value": 160}, {"at": "45min", "value": 60}]
    data = replicated({"kind": "schedule", "steps": steps}, host={"cpu_cores": 100})
    result = run(expand(load(data), None, 1)[0])
    level = result.recorder.levels["replicas:w"]
    at = dict(zip(level.times, level.values))
    assert at[0.0] == 2 and at[900.0] == 2 and at[1800.0] == 4
    assert at[2700.0] == 4 and at[2700.0 + 285.0] == 4 and at[2700.0 + 300.0] == 2


def test_replicas_stop_not_running_first_then_newest():
    data = replicated({"kind": "spike", "at": "10min", "from": 50, "to": 200,
                       "duration": "20min"}, host={"cpu_cores": 100},
                      scale_down_stabilization="0s")
    df = only(data).instances.sort_values("id")
    stopped = df[df["stopping"].notna()]
    assert len(stopped) == 3 and stopped["stopping"].min() >= 1800.0
    assert (df["stopping"].isna() | (df["id"] > 0)).all()  # the first replica stays


@pytest.mark.parametrize("replicas, says", [
    ({"min": 5, "max": 2}, r"min \(5\) is above max \(2\)"),
    ({"target_per_replica": 0}, "target_per_replica"),
    ({"demand": {"kind": "step", "at": "1h", "from": 1}}, "missing: to"),
    ({"demand": {"kind": "schedule", "steps": [{"at": "1h", "value": 3}]}},
     "the first step is at 0"),
])
def test_bad_replicas_are_refused(replicas, says):
    data = replicated({"kind": "constant", "value": 100})
    data["workloads"][0]["replicas"].update(replicas)
    with pytest.raises(ScenarioError, match=says):
        load(data)


def test_replicas_and_arrival_together_are_refused():
    data = replicated({"kind": "constant", "value": 100})
    data["workloads"][0]["arrival"] = {"kind": "burst", "count": 1, "at": 0}
    with pytest.raises(ScenarioError, match="either arrival or replicas"):
        load(data)


def test_a_demand_file_is_read_as_a_schedule(tmp_path):
    from sim.edge.loader import load_file

    data = replicated({"kind": "file", "file": "demand.csv"})
    import yaml

    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    (tmp_path / "demand.csv").write_text("seconds,rps\n0,100\n600,300\n")
    steps = load_file(str(tmp_path / "s.yaml")).scenario.workloads[0].replicas.demand.steps
    assert [(s.at, s.value) for s in steps] == [(0.0, 100.0), (600.0, 300.0)]
    (tmp_path / "demand.csv").write_text("seconds,rps\n0,100\nsoon,300\n")
    with pytest.raises(ScenarioError, match="line 3") as info:
        load_file(str(tmp_path / "s.yaml"))
    assert len(str(info.value).splitlines()) == 1  # said once


def two_pools(expander, small=None, big=None):
    """Two empty elastic groups that 4 instances of 3 vCPU and 2 GiB may use: 'small' (4
    cores, 8 GiB: one each, a core and 6 GiB idle) and 'big' (12 cores, 32 GiB: four on one
    host, no core idle, 24 GiB idle)."""
    data = scenario(duration="1h", workload={"cpu": 3, "memory": "2GiB",
                                             "arrival": {"kind": "burst", "count": 4, "at": 0}})
    host = data["hosts"][0]
    data["hosts"] = [
        {**host, "group": "small", "count": 0, "cpu_cores": 4, "memory": "8GiB",
         "autoscale": {"min": 0, "max": 10, "provision": "1min", "expander": expander,
                       **(small or {})}},
        {**host, "group": "big", "count": 0, "cpu_cores": 12, "memory": "32GiB",
         "autoscale": {"min": 0, "max": 10, "provision": "1min", "expander": expander,
                       **(big or {})}},
    ]
    return data


def test_least_waste_picks_the_group_left_least_idle():
    out = only(two_pools("least-waste"))
    assert out.instances["host_name"].str.startswith("big").all()
    assert (out.metrics["scale_ups"], out.metrics["hosts_peak"]) == (1, 1)


def test_priority_grows_the_highest_priority_group():
    out = only(two_pools("priority", small={"priority": 5}, big={"priority": 1}))
    assert out.instances["host_name"].str.startswith("small").all()
    assert out.metrics["scale_ups"] == 4


def test_only_one_group_grows_for_the_same_requests():
    for rule in ("least-waste", "random", "priority"):
        m = only(two_pools(rule)).metrics
        assert m["hosts_peak"] in (1, 4), rule  # never both groups for one burst


def test_a_fixed_group_needs_a_host():
    with pytest.raises(ScenarioError, match=r"count: .*0 only for a group that scales"):
        load(scenario(host={"count": 0}))


def test_every_elastic_group_names_the_same_expander():
    with pytest.raises(ScenarioError, match="one expander"):
        load(two_pools("least-waste", big={"expander": "random"}))


def test_a_host_below_the_threshold_is_drained_when_its_instances_fit_elsewhere():
    """Spread puts 2 instances on host 0 and 1 on host 1 (25 % of its 4 cores, below 0.5);
    it fits on host 0, so host 1 is drained once unneeded for 5 min (from the start: at the
    scan at 300 s) and its instance starts again on host 0."""
    data = scenario(duration="1h", placement="spread",
                    host={"count": 2, "cpu_cores": 4,
                          "autoscale": {"min": 1, "max": 2, "provision": "1min",
                                        "unneeded_time": "5min"}},
                    workload={"arrival": {"kind": "burst", "count": 3, "at": 0}})
    out = only(data)
    m = out.metrics
    assert (m["scale_downs"], m["scale_down_restarts"]) == (1, 1)
    df = out.instances.sort_values("id")
    moved = df[df["attempt"] == 1]
    assert len(moved) == 1 and moved["host"].iloc[0] == 0
    assert moved["arrival"].iloc[0] == 300.0 and moved["running"].iloc[0] == 300.0
    first = df[(df["request"] == moved["request"].iloc[0]) & (df["attempt"] == 0)]
    assert first["host"].iloc[0] == 1 and first["disrupted"].iloc[0] == 300.0


def test_a_host_whose_instances_fit_nowhere_else_stays():
    data = scenario(duration="1h", placement="spread",
                    host={"count": 2, "cpu_cores": 4,
                          "autoscale": {"min": 1, "max": 2, "provision": "1min",
                                        "unneeded_time": "5min"}},
                    workload={"cpu": 1.5, "arrival": {"kind": "burst", "count": 3, "at": 0}})
    m = only(data).metrics  # host 0 holds 3 of 4 cores: host 1's 1.5 does not fit there
    assert (m["scale_downs"], m["scale_down_restarts"]) == (0, 0)


def test_plan_sizes_an_elastic_groups_baseline(tmp_path):
    """8 replicas at the peak, 2 per host: a baseline of 4 hosts serves the rise within the
    sync period; 3 would wait 5 minutes for a host to be provisioned."""
    import json
    import subprocess
    import sys

    import yaml

    data = replicated({"kind": "step", "at": "3605s", "from": 100, "to": 400},
                      host={"count": 1, "autoscale": {"min": 1, "max": 10,
                                                      "provision": "5min"}})
    data["warmup"] = "30min"
    path = tmp_path / "pool.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    done = subprocess.run([sys.executable, "-m", "sim", "plan", str(path), "--slo",
                           "time_to_capacity_s.max<=1min", "--replications", "1", "--out",
                           str(tmp_path / "out"), "--no-charts", "--quiet"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    plan = json.loads((tmp_path / "out" / "tiny" / "plan.json").read_text())
    assert plan["free"]["hosts"] == 4
