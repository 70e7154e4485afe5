"""Exact tests: tiny scenarios whose results are written as arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from sim.spec.demand import committed_memory
from sim.spec.profiles import builtin_profiles
from sim.spec.units import GiB, MiB
from tests.helpers import FREE, only, scenario, two_workloads

GBIT = 1e9 / 8  # bytes per second in 1 Gbit/s


def rows(result):
    return result.instances.sort_values("id").reset_index(drop=True)


def test_free_profile_starts_at_once_and_costs_exactly_cpu_and_memory():
    data = scenario(workload={"cpu": 2, "memory": "3GiB",
                              "arrival": {"kind": "burst", "count": 3, "at": "5s"}})
    result = only(data)
    df = rows(result)
    assert (df["running"] == 5.0).all() and (df["arrival"] == 5.0).all()
    ts = result.timeseries
    last = ts[ts["time_s"] == ts["time_s"].max()].iloc[0]
    assert last["memory_committed_bytes"] == 3 * 3 * GiB
    assert last["vcpu_allocated"] == 3 * 2
    assert result.metrics["startup_s"]["max"] == 0.0


def test_cold_pull_of_one_layer_is_latency_plus_size_over_bandwidth_then_extraction():
    data = scenario(registry={"bandwidth": "1Gbit/s", "latency": "30ms"},
                    host={"disk_rate": "200MB/s"},
                    images=[{"name": "base", "os_build": "ltsc2022", "layers": ["1GiB"]},
                            {"name": "app", "base": "base", "layers": ["100MiB"]}],
                    workload={"image": "app"})
    df = rows(only(data))
    pulled = 0.030 + 100 * MiB / GBIT
    assert df.loc[0, "pulled"] == pytest.approx(pulled, rel=1e-12)
    assert df.loc[0, "extracted"] == pytest.approx(pulled + 100 * MiB / 200e6, rel=1e-12)
    assert df.loc[0, "running"] == df.loc[0, "extracted"]
    assert df.loc[0, "pulled_bytes"] == 100 * MiB


def test_two_layers_share_the_link_and_extract_as_each_arrives():
    data = scenario(registry={"bandwidth": "1Gbit/s"}, host={"disk_rate": "1GB/s"},
                    images=[{"name": "base", "os_build": "ltsc2022", "layers": ["1GiB"]},
                            {"name": "app", "base": "base", "layers": ["100MiB", "50MiB"]}],
                    workload={"image": "app"})
    df = rows(only(data))
    # both download at B/2 until the 50 MiB one ends at 2*50MiB/B; the rest goes at B.
    downloaded = 150 * MiB / GBIT
    assert df.loc[0, "pulled"] == pytest.approx(downloaded, rel=1e-12)
    # the 50 MiB layer extracts (disk faster than the link) before the 100 MiB one arrives
    assert df.loc[0, "extracted"] == pytest.approx(downloaded + 100 * MiB / 1e9, rel=1e-12)


def test_instances_needing_one_layer_at_once_share_one_download():
    data = scenario(registry={"bandwidth": "1Gbit/s"}, host={"disk_rate": "1GB/s"},
                    images=[{"name": "base", "os_build": "ltsc2022", "layers": ["1GiB"]},
                            {"name": "app", "base": "base", "layers": ["100MiB"]}],
                    workload={"image": "app", "arrival": {"kind": "burst", "count": 5}})
    result = only(data)
    df = rows(result)
    assert df["pulled_bytes"].sum() == 100 * MiB
    assert np.allclose(df["pulled"], 100 * MiB / GBIT, rtol=1e-12)
    assert df["running"].nunique() == 1


def test_ten_hosts_pulling_at_once_each_get_a_tenth_of_the_registry():
    data = scenario(registry={"bandwidth": "1Gbit/s"},
                    host={"count": 10, "disk_rate": "100GB/s"}, placement="spread",
                    images=[{"name": "base", "os_build": "ltsc2022", "layers": ["1GiB"]},
                            {"name": "app", "base": "base", "layers": ["100MiB"]}],
                    workload={"image": "app", "arrival": {"kind": "burst", "count": 10}})
    df = rows(only(data))
    assert df["host"].nunique() == 10
    assert np.allclose(df["pulled"], 10 * 100 * MiB / GBIT, rtol=1e-12)


def test_a_slow_nic_gets_its_own_rate_and_the_others_share_the_rest_max_min_fairly():
    slow_nic = GBIT / 20
    data = scenario(registry={"bandwidth": "1Gbit/s"}, placement="spread",
                    hosts=[{"group": "slow", "count": 1, "cpu_cores": 8, "memory": "64GiB",
                            "disk": "1TiB", "disk_rate": "100GB/s", "nic": slow_nic},
                           {"group": "fast", "count": 9, "cpu_cores": 8, "memory": "64GiB",
                            "disk": "1TiB", "disk_rate": "100GB/s", "nic": "10Gbit/s"}],
                    workload={"arrival": {"kind": "burst", "count": 10}})
    df = rows(only(data))
    size = 1 * GiB
    fast_rate = (GBIT - slow_nic) / 9
    fast_done = size / fast_rate
    assert np.allclose(df.loc[df["host"] > 0, "pulled"], fast_done, rtol=1e-9)
    assert df.loc[df["host"] == 0, "pulled"].iloc[0] == pytest.approx(size / slow_nic, rel=1e-9)


@pytest.mark.parametrize("fraction", [1.0, 0.5])
def test_start_ups_share_the_cores_by_processor_sharing(fraction):
    n, cores, d = 40, 8, 2.0
    profile = {**FREE, "create": f"{d}s", "cpu_bound_fraction": fraction}
    data = scenario(profiles={"free": profile}, host={"cpu_cores": cores},
                    workload={"cpu": 0.1, "arrival": {"kind": "burst", "count": n}})
    df = rows(only(data))
    expected = d * fraction * n / cores + d * (1 - fraction)
    assert np.allclose(df["running"], expected, rtol=1e-9)


def test_a_burst_of_hyperv_containers_slows_every_start_up():
    def startups(cores):
        data = scenario(profiles={}, host={"cpu_cores": cores, "max_concurrent_starts": 100},
                        workload={"isolation": "hyperv", "cpu": 0.1,
                                  "arrival": {"kind": "burst", "count": 100}})
        df = rows(only(data))
        return (df["running"] - df["arrival"]).to_numpy()

    alone = startups(1000)  # no contention: each takes its own draws' time
    crowded = startups(16)
    assert (crowded > alone).all()
    assert crowded.mean() > 1.5 * alone.mean()


def test_start_slots_make_a_burst_wait_fifo():
    profile = {**FREE, "create": "2s"}
    data = scenario(profiles={"free": profile}, host={"max_concurrent_starts": 1},
                    workload={"arrival": {"kind": "burst", "count": 3}})
    df = rows(only(data))
    assert df["running"].tolist() == [2.0, 4.0, 6.0]
    assert (df["slot"] - df["arrival"]).tolist() == [0.0, 2.0, 4.0]


def test_vm_disk_is_a_copy_of_the_image_at_disk_rate():
    profile = {**FREE, "disk_image": "copy"}
    data = scenario(profiles={"free": profile}, host={"disk_rate": "500MB/s"})
    df = rows(only(data))
    assert df.loc[0, "copied"] == pytest.approx(1 * GiB / 500e6, rel=1e-12)
    assert df.loc[0, "running"] == df.loc[0, "copied"]


def test_utility_vm_commit_rule():
    hyperv = builtin_profiles()["hyperv"]
    overhead = hyperv.memory_overhead
    assert committed_memory(1 * GiB, hyperv) == 1.5 * GiB + overhead
    assert committed_memory(256 * MiB, hyperv) == 512 * MiB + overhead
    assert committed_memory(257 * MiB, hyperv) == 1 * GiB + overhead
    assert committed_memory(1 * GiB, builtin_profiles()["process"]) == 1 * GiB + 50e6


def test_commit_rule_limits_how_many_hyperv_containers_fit():
    per = 1.5 * GiB + builtin_profiles()["hyperv"].memory_overhead
    data = scenario(profiles={}, host={"memory": 2 * per + 0.5 * GiB},
                    workload={"isolation": "hyperv", "on_full": "reject",
                              "arrival": {"kind": "burst", "count": 3}})
    result = only(data)
    assert result.metrics["rejected"] == 1 and result.metrics["started"] == 2


def test_queue_is_fifo_and_waits_for_capacity():
    data = scenario(host={"memory": "1GiB"},
                    workload={"lifetime": "10s", "arrival": {"kind": "burst", "count": 3}})
    df = rows(only(data))
    assert df["running"].tolist() == [0.0, 10.0, 20.0]
    assert df["removed"].tolist() == [10.0, 20.0, 30.0]


def test_reject_refuses_at_once_when_full():
    data = scenario(host={"memory": "2GiB"},
                    workload={"on_full": "reject", "arrival": {"kind": "burst", "count": 5}})
    result = only(data)
    assert result.metrics["rejected"] == 3
    assert result.metrics["blocking"] == pytest.approx(0.6)


def test_partition_limit_counts_hyperv_containers():
    data = scenario(profiles={}, host={"max_partitions": 2},
                    workload={"isolation": "hyperv", "on_full": "reject",
                              "arrival": {"kind": "burst", "count": 3}})
    assert only(data).metrics["rejected"] == 1


def test_disk_limits_placement():
    profile = {**FREE, "disk_per_instance": "10GiB"}
    data = scenario(profiles={"free": profile}, host={"disk": "25GiB"},
                    workload={"on_full": "reject", "arrival": {"kind": "burst", "count": 3}})
    # 1 GiB preloaded image + 2 x 10 GiB fit in 25 GiB, a third does not
    assert only(data).metrics["rejected"] == 1


@pytest.mark.parametrize("policy,expected", [
    ("first-fit", [0, 0, 0, 0]),
    ("best-fit", [0, 0, 0, 0]),
    ("spread", [0, 1, 2, 0]),
])
def test_placement_policies(policy, expected):
    data = scenario(placement=policy, host={"count": 3, "memory": "8GiB"},
                    workload={"arrival": {"kind": "constant", "interval": "1s", "count": 4}})
    assert rows(only(data))["host"].tolist() == expected


def test_image_locality_prefers_hosts_holding_the_image():
    hosts = [{"group": "empty", "count": 2, "cpu_cores": 8, "memory": "64GiB", "disk": "1TiB",
              "disk_rate": "1GB/s", "nic": "10Gbit/s"},
             {"group": "warm", "count": 1, "cpu_cores": 8, "memory": "64GiB", "disk": "1TiB",
              "disk_rate": "1GB/s", "nic": "10Gbit/s", "preloaded_images": ["base"]}]
    data = scenario(placement="image-locality", hosts=hosts,
                    workload={"arrival": {"kind": "burst", "count": 2}})
    df = rows(only(data))
    assert df["host"].tolist() == [2, 2]
    assert df["pulled_bytes"].sum() == 0


def test_hyperv_workloads_only_go_to_hosts_with_hyperv():
    common = {"cpu_cores": 8, "memory": "64GiB", "disk": "1TiB", "disk_rate": "1GB/s",
              "nic": "10Gbit/s", "preloaded_images": ["base"]}
    hosts = [{"group": "plain", "count": 2, "hyperv": False, **common},
             {"group": "hv", "count": 1, **common}]
    data = scenario(profiles={}, placement="first-fit", hosts=hosts,
                    workload={"isolation": "hyperv", "arrival": {"kind": "burst", "count": 3}})
    assert rows(only(data))["host"].tolist() == [2, 2, 2]


def test_hyperv_isolation_runs_an_image_of_another_os_build():
    data = scenario(profiles={}, host={"os_build": "ltsc2025"},
                    workload={"isolation": "hyperv"})
    assert only(data).metrics["started"] == 1


def test_warmup_excludes_earlier_arrivals_from_statistics():
    data = scenario(warmup="10s", workload={"arrival": {"kind": "constant", "interval": "1s",
                                                        "count": 30}})
    result = only(data)
    assert result.metrics["requests"] == 20
    assert len(result.instances) == 30


def test_the_issue_zero_cost_recipe_on_the_process_profile():
    """create/boot/stop 0 s, memory_overhead 0 MiB and a preloaded image: exactly cpu + memory."""
    zero = {"extends": "process", "create": "0s", "boot": "0s", "stop": "0s",
            "memory_overhead": "0MiB"}
    data = scenario(profiles={"zero": zero}, host={"memory": "3GiB", "cpu_cores": 3},
                    workload={"isolation": "zero", "on_full": "reject",
                              "arrival": {"kind": "burst", "count": 4, "at": "1s"}})
    result = only(data)
    assert result.metrics["started"] == 3 and result.metrics["rejected"] == 1
    assert (rows(result)["running"].dropna() == 1.0).all()


def test_a_differencing_disk_copies_nothing():
    profile = {**FREE, "disk_image": "differencing", "disk_per_instance": "1GiB"}
    data = scenario(profiles={"free": profile}, host={"disk": "3GiB"},
                    workload={"on_full": "reject", "arrival": {"kind": "burst", "count": 3}})
    result = only(data)
    assert (rows(result)["running"].dropna() == 0.0).all()
    assert result.metrics["started"] == 2  # 1 GiB image + 2 x 1 GiB private disks


def test_a_levels_arrays_follow_its_changes_and_its_statistics_are_exact():
    from sim.analysis.metrics import peak, time_average, time_quantile
    from sim.recorder import Level

    level = Level()
    level.set(10.0, 2.0)
    assert [a.tolist() for a in level.arrays()] == [[0.0, 10.0], [0.0, 2.0]]
    assert time_average(level, 0.0, 20.0) == 1.0  # 0 for 10 s, then 2 for 10 s
    level.set(10.0, 4.0)  # the same instant: the last value replaced
    assert level.arrays()[1].tolist() == [0.0, 4.0]
    assert time_average(level, 0.0, 20.0) == 2.0
    level.set(15.0, 1.0)  # a new instant: appended
    assert [a.tolist() for a in level.arrays()] == [[0.0, 10.0, 15.0], [0.0, 4.0, 1.0]]
    assert time_average(level, 0.0, 20.0) == 1.25  # (0*10 + 4*5 + 1*5) / 20
    assert peak(level, 12.0, 20.0) == 4.0 and peak(level, 16.0, 20.0) == 1.0
    assert time_quantile(level, 0.99, 0.0, 20.0) == 4.0


def test_each_workload_has_its_own_startup_statistics():
    metrics = only(two_workloads()).metrics
    by = metrics["startup_by_workload_s"]
    assert list(by) == ["web", "burst.cold", "early"]  # the scenario's order
    assert by["web"]["p50"] == by["web"]["max"] == 2.0
    cold = 100 * MiB / GBIT + 100 * MiB / 1e9  # one shared download, then one extraction
    assert by["burst.cold"]["p50"] == pytest.approx(cold, rel=1e-12)
    assert by["burst.cold"]["max"] == pytest.approx(cold, rel=1e-12)
    assert set(by["early"].values()) == {None}  # every request before the warm-up
    assert metrics["requests"] == 15 + 4  # web's arrivals from 5 s on, the burst
    assert metrics["startup_s"]["mean"] == pytest.approx((15 * 2.0 + 4 * cold) / 19, rel=1e-12)


def test_one_workload_has_no_startup_by_workload():
    assert "startup_by_workload_s" not in only(scenario()).metrics
