"""Trace replay: what the readers load equals what a few lines of pandas find in the file, and
a replay with unlimited capacity and zero start-up runs exactly the trace's instances."""

from __future__ import annotations

import gzip
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.edge import traces
from sim.experiment.expand import expand
from sim.run.execute import replays
from sim.spec.config import TraceArrivals
from sim.spec.units import GiB
from tests.helpers import FREE, load, only, scenario, simulate

SAMPLE_DIR = Path("sim/data/traces/azure-v1").resolve()
SAMPLE = SAMPLE_DIR / "v1.test.day1.txt"
SHARED = Path("/work/shared/data/traces")
AZURE_FULL = SHARED / "azure-v1-huawei-rnn/traces/v1.test.txt"
GOOGLE_PART = SHARED / "google-2011-borg/task_events/part-00000-of-00500.csv.gz"
LLM = SHARED / "azure-llm-inference-2023/AzureLLMInferenceTrace_code.csv"
HUGE = {"cpu_cores": 1_000_000, "memory": "10000TiB", "max_concurrent_starts": 1_000_000}


def azure(**options):
    return {"kind": "trace", "format": "azure-v1", "path": str(SAMPLE), **options}


def spec_of(arrival: dict) -> TraceArrivals:
    return TraceArrivals.model_validate(arrival)


def running_at(instances: pd.DataFrame, t: float) -> int:
    """Instances running at ``t`` in a simulation."""
    return int(((instances["running"] <= t) & ~(instances["stopping"] <= t)).sum())


def trace_count(replay: traces.Replay, t: float) -> int:
    """The trace's own count: instances with arrival <= t < arrival + lifetime."""
    life = np.where(np.isnan(replay.lifetime_s), np.inf, replay.lifetime_s)
    return int(((replay.arrival_s <= t) & (t < replay.arrival_s + life)).sum())


# --- the readers against pandas -------------------------------------------------------------

def azure_by_pandas(flavors_file: Path, durations_file: Path) -> dict:
    lines = pd.read_csv(flavors_file, sep=" ", header=None, names=["t", "vms"])
    tokens = lines.assign(vm=lines["vms"].str.split(",")).explode("vm")
    vms = tokens[tokens["vm"] != "|"]
    flav = pd.read_csv(SAMPLE_DIR / "flav_map.txt", sep=" ", header=None, names=["size", "f"])
    cpu = flav["size"].str.split(",").str[0].astype(float).set_axis(flav["f"])
    mem = flav["size"].str.split(",").str[1].astype(float).set_axis(flav["f"])
    durations = pd.read_csv(durations_file, sep=" ", header=None, names=["t", "d"])
    dur = durations["d"].str.split(",").explode()
    return {"instances": len(vms), "deployments": int((tokens["vm"] == "|").sum()),
            "censored": int(dur.str.startswith("C").sum()),
            "first_arrival_s": float(vms["t"].min() - 300),
            "last_arrival_s": float(vms["t"].max() - 300),
            "cpu_total": float(vms["vm"].map(cpu).sum()),
            "memory_total_bytes": float(vms["vm"].map(mem).sum() * GiB)}


def test_azure_sample_loads_the_counts_span_and_totals_pandas_finds():
    table = traces.read(spec_of(azure()))
    assert traces.summary(table) == pytest.approx(
        azure_by_pandas(SAMPLE, SAMPLE_DIR / "v1.test.day1.c2591400.txt"))
    assert table.has_lifetime and table.arrival_spread_s == 300


def test_azure_lifetimes_lie_in_their_duration_bins():
    table = traces.read(spec_of(azure()))
    known = ~table.censored
    # bins 0-12 are 5-minute steps, so an uncensored lifetime lies in [k*300, (k+1)*300)
    short = known & (table.lifetime_high_s <= 3900)
    assert np.all(table.lifetime_high_s[short] - table.lifetime_low_s[short] == 300)
    assert np.all(table.lifetime_low_s[known] >= 0)
    assert table.lifetime_high_s[known].max() <= 20 * 86400 + 300


@pytest.mark.slow
@pytest.mark.skipif(not AZURE_FULL.exists(), reason="the full Azure test split is not here")
def test_full_azure_test_split_loads_what_pandas_finds():
    spec = spec_of({"kind": "trace", "format": "azure-v1", "path": str(AZURE_FULL),
                    "flavors": str(SAMPLE_DIR / "flav_map.txt")})
    table = traces.read(spec)
    expected = azure_by_pandas(AZURE_FULL, AZURE_FULL.with_name("v1.test.c2591400.txt"))
    assert traces.summary(table) == pytest.approx(expected)
    assert len(table) == 410_276 and int(table.censored.sum()) == 23_311


def google_by_pandas(path: Path, machine_cpu: float, machine_memory: float) -> dict:
    ev = pd.read_csv(path, header=None, usecols=[0, 2, 3, 5, 9, 10],
                     names=["t", "job", "task", "type", "cpu", "mem"])
    ev = ev.sort_values("t", kind="stable")
    first = ev[ev["type"] == 0].drop_duplicates(["job", "task"]).set_index(["job", "task"])
    for column in ("cpu", "mem"):  # a SUBMIT without a request: the task's first one given
        given = ev.dropna(subset=[column]).drop_duplicates(["job", "task"])
        first[column] = first[column].fillna(given.set_index(["job", "task"])[column])
    start = ev[ev["type"] == 1].groupby(["job", "task"])["t"].min()
    end = ev[ev["type"].isin([2, 3, 4, 5, 6])].groupby(["job", "task"])["t"].min()
    tasks = first.join(start.rename("start")).join(end.rename("end"))
    tasks = tasks[tasks["end"].isna() | (tasks["start"] <= tasks["end"])]
    return {"instances": len(tasks), "censored": int(tasks["end"].isna().sum()),
            "first_arrival_s": tasks["t"].min() / 1e6, "last_arrival_s": tasks["t"].max() / 1e6,
            "cpu_total": tasks["cpu"].sum() * machine_cpu,
            "memory_total_bytes": tasks["mem"].sum() * machine_memory,
            "deployments": tasks.index.get_level_values("job").nunique()}


def google_spec(path: Path | str, **options) -> TraceArrivals:
    return spec_of({"kind": "trace", "format": "google-2011", "path": str(path),
                    "machine": {"cpu": 32, "memory": "128GiB"}, **options})


def write_google(path: Path, rows: list[str]) -> Path:
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(rows) + "\n")
    return path


def test_google_tasks_first_submit_schedule_and_end_with_a_resubmission(tmp_path):
    user = "u1"
    rows = [  # t(us), missing, job, task, machine, type, user, class, prio, cpu, mem, disk, diff
        f"0,,7,0,1,0,{user},2,9,0.5,0.25,0,0",        # task 7/0 submitted before the trace
        f"0,,7,0,1,1,{user},2,9,0.5,0.25,0,0",        # ... scheduled
        f"5000000,,7,0,1,2,{user},2,9,0.5,0.25,0,0",  # ... evicted at 5 s
        f"6000000,,7,0,,0,{user},2,9,0.5,0.25,0,0",   # resubmitted at 6 s
        f"8000000,,7,0,2,1,{user},2,9,0.5,0.25,0,0",  # scheduled at 8 s, never ends
        "1000000,,8,3,,0,u2,0,1,0.125,0.5,0,0",      # task 8/3 submitted at 1 s
        "2000000,,8,3,,5,u2,0,1,0.125,0.5,0,0",      # killed before it ran: dropped
    ]
    path = write_google(tmp_path / "part-00000.csv.gz", rows)
    first = traces.read(google_spec(path))
    assert len(first) == 1
    assert first.arrival_s[0] == 0 and first.lifetime_low_s[0] == 5.0
    assert first.cpu[0] == 16 and first.memory_bytes[0] == 32 * GiB
    assert first.classes == ("2",) and first.tenants == ("u1",)
    wl = load(scenario()).scenario.workloads[0]
    assert len(traces.select(first, google_spec(path, classes=[2]), wl).index) == 1
    assert len(traces.select(first, google_spec(path, classes=[0]), wl).index) == 0
    each = traces.read(google_spec(path, resubmissions="separate"))
    assert list(each.arrival_s) == [0.0, 6.0] and np.isnan(each.lifetime_low_s[1])


@pytest.mark.skipif(not GOOGLE_PART.exists(), reason="the Google 2011 trace is not here")
def test_google_part_loads_what_pandas_finds():
    table = traces.read(google_spec(GOOGLE_PART))
    assert traces.summary(table) == pytest.approx(google_by_pandas(GOOGLE_PART, 32, 128 * GiB))


def test_csv_with_a_column_mapping_and_units(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("when_ms,dur_ms,vcpu,mem_gb,owner,app\n"
                    "1000,60000,2,4,acme,iis\n"
                    "500,,1,2,acme,nano\n"
                    "2500,1000,4,8,zeta,iis\n")
    spec = spec_of({"kind": "trace", "format": "csv", "path": str(path), "time_unit": "ms",
                    "memory_unit": "1GiB",
                    "columns": {"arrival": "when_ms", "lifetime": "dur_ms", "cpu": "vcpu",
                                "memory": "mem_gb", "tenant": "owner", "class": "app"}})
    table = traces.read(spec)
    frame = pd.read_csv(path)
    assert len(table) == len(frame)
    assert np.array_equal(table.arrival_s, frame["when_ms"] / 1000)
    assert np.allclose(table.lifetime_low_s, frame["dur_ms"] / 1000, equal_nan=True)
    assert table.cpu.sum() == frame["vcpu"].sum()
    assert table.memory_bytes.sum() == frame["mem_gb"].sum() * GiB
    assert table.tenants == ("acme", "zeta") and table.classes == ("iis", "nano")


@pytest.mark.skipif(not LLM.exists(), reason="the Azure LLM trace is not here")
def test_llm_arrivals_drive_a_workload_whose_lifetimes_come_from_a_distribution():
    arrival = {"kind": "trace", "format": "csv", "path": str(LLM), "time_unit": "datetime",
               "columns": {"arrival": "TIMESTAMP"}}
    data = scenario(duration="1h", host=HUGE,
                    workload={"arrival": arrival, "lifetime": "30s", "cpu": 2, "memory": "4GiB"})
    result = only(data)
    stamps = pd.to_datetime(pd.read_csv(LLM)["TIMESTAMP"], format="ISO8601")
    offsets = np.sort((stamps - stamps.min()).dt.total_seconds().to_numpy())
    offsets = offsets[offsets < 3600]
    df = result.instances.sort_values("arrival")
    assert len(df) == len(offsets)
    assert np.allclose(df["arrival"].to_numpy(), offsets, atol=1e-6)
    assert np.allclose(df["stopping"] - df["running"], 30.0)
    assert result.timeseries["vcpu_allocated"].max() <= 2 * len(df)


# --- replay: options, running counts, determinism --------------------------------------------

@pytest.mark.slow
def test_replay_with_unlimited_capacity_runs_exactly_the_trace_instances():
    data = scenario(duration="8h", host=HUGE, workload={"arrival": azure()})
    result = only(data)
    spec = expand(load(data))[0]
    replay = replays(spec.scenario, spec.seed, spec.replication)["w"]
    df = result.instances
    assert len(df) == int((replay.arrival_s < 8 * 3600).sum())
    assert (df["running"] == df["arrival"]).all()  # zero start-up
    for t in np.linspace(0, 8 * 3600, 41)[1:-1] + 0.5:
        assert running_at(df, t) == trace_count(replay, t), t
    memory = np.sort(df["arrival"].to_numpy())
    assert np.array_equal(memory, replay.arrival_s[replay.arrival_s < 8 * 3600])


def test_a_batch_arrives_together_within_its_five_minute_bin():
    table = traces.read(spec_of(azure()))
    data = scenario(duration="1h", host=HUGE, workload={"arrival": azure()})
    spec = expand(load(data))[0]
    replay = replays(spec.scenario, spec.seed, spec.replication)["w"]
    frame = pd.DataFrame({"t": replay.arrival_s, "d": replay.deployment})
    assert (frame.groupby("d")["t"].nunique() == 1).all()
    bins = np.floor(replay.arrival_s / 300)
    raw = table.arrival_s[np.argsort(table.arrival_s, kind="stable")] - table.arrival_s.min()
    assert np.array_equal(np.bincount(bins.astype(int)), np.bincount((raw / 300).astype(int)))


def test_window_speedup_sample_scaling_and_classes():
    table = traces.read(spec_of(azure()))
    wl = load(scenario(workload={"arrival": azure()})).scenario.workloads[0]
    def gen():
        return np.random.default_rng(5)
    full = traces.replay(table, spec_of(azure()), wl, gen())
    fast = traces.replay(table, spec_of(azure(speedup=4)), wl, gen())
    assert np.allclose(fast.arrival_s, full.arrival_s / 4)
    assert np.allclose(fast.lifetime_s, full.lifetime_s / 4, equal_nan=True)
    window = traces.replay(table, spec_of(azure(offset="1h", length="2h")), wl, gen())
    in_window = (table.arrival_s >= table.arrival_s.min() + 3600) & \
        (table.arrival_s < table.arrival_s.min() + 3 * 3600)
    assert len(window) == in_window.sum() and window.arrival_s.min() >= 0
    half = traces.replay(table, spec_of(azure(sample=0.5)), wl, gen())
    assert abs(len(half) / len(full) - 0.5) < 0.01
    assert np.isin(half.arrival_s, full.arrival_s).all()  # a subset, same draws
    scaled = traces.replay(table, spec_of(azure(cpu_scale=0.5, memory_scale=2)), wl, gen())
    assert scaled.cpu.sum() == full.cpu.sum() / 2
    assert scaled.memory_bytes.sum() == full.memory_bytes.sum() * 2
    small = traces.replay(table, spec_of(azure(classes=["b", "g"])), wl, gen())
    assert set(zip(small.cpu, small.memory_bytes / GiB)) == {(1.0, 1.75), (2.0, 3.5)}
    assert len(small) == int(np.isin(table.klass, [1, 6]).sum())


@pytest.mark.slow
def test_modes_compared_see_the_same_trace_instances_and_seeds_matter():
    data = scenario(duration="2h", host=HUGE, workload={"arrival": azure(sample=0.5)},
                    profiles={"free": FREE, "free2": {"extends": "free", "boot": "1s"}},
                    compare={"isolation": ["free", "free2"]})
    runs = simulate(data)
    cols = ["arrival", "tenant"]
    a = runs["free"].instances.sort_values("id")[cols].reset_index(drop=True)
    b = runs["free2"].instances.sort_values("id")[cols].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    again = simulate(data)["free"].instances
    pd.testing.assert_frame_equal(again, runs["free"].instances)
    other = simulate(data, seed=2)["free"].instances
    assert len(other) != len(a) or not np.array_equal(other["arrival"], a["arrival"])


def test_run_key_follows_the_trace_content(tmp_path):
    folder = tmp_path / "trace"
    shutil.copytree(SAMPLE_DIR, folder)
    arrival = azure(path=str(folder / SAMPLE.name))
    data = scenario(host=HUGE, workload={"arrival": arrival})
    before = expand(load(data))[0]
    assert before.key() == expand(load(data))[0].key()
    flavors = folder / SAMPLE.name
    flavors.write_text(flavors.read_text().replace("m,m,m,|", "m,m,b,|", 1))
    after = expand(load(data))[0]
    assert after.scenario.workloads[0].arrival.digest != \
        before.scenario.workloads[0].arrival.digest
    assert after.key() != before.key()


def test_paths_are_relative_to_the_scenario_file(tmp_path):
    shutil.copytree(SAMPLE_DIR, tmp_path / "data")
    import yaml

    from sim.edge.loader import load_file

    data = scenario(host=HUGE, workload={"arrival": azure(path="data/" + SAMPLE.name)})
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    arrival = load_file(path).scenario.workloads[0].arrival
    assert arrival.path == str((tmp_path / "data" / SAMPLE.name).resolve())
    assert arrival.durations.endswith("v1.test.day1.c2591400.txt")


def test_instances_too_large_for_every_host_are_counted():
    from sim.edge.loader import ScenarioError

    data = scenario(host={"cpu_cores": 8, "memory": "64GiB"}, workload={"arrival": azure()})
    with pytest.raises(ScenarioError) as info:
        load(data)
    table = traces.read(spec_of(azure()))
    too_big = int(((table.cpu > 8) | (table.memory_bytes > 64 * GiB)).sum())
    assert f"workloads[0]: {too_big:,} of {len(table):,} trace instances can never run under " \
           "free isolation" in str(info.value)
    assert "16 vCPU" in str(info.value)
    load(scenario(host={"cpu_cores": 8, "memory": "64GiB"},
                  workload={"arrival": azure(classes=["a", "b", "c", "g", "h", "k", "l"])}))


def test_a_censored_lifetime_runs_to_the_end(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("arrival,lifetime\n0,10\n5,\n")
    arrival = {"kind": "trace", "format": "csv", "path": str(path)}
    df = only(scenario(duration="1min", host=HUGE, workload={"arrival": arrival,
                                                             "lifetime": "1s"})).instances
    df = df.sort_values("arrival")
    assert list(df["stopping"].iloc[:1]) == [10.0] and math.isnan(df["stopping"].iloc[1])


def test_workloads_splitting_a_trace_by_flavor_replay_a_partition_of_it():
    both = scenario(duration="3h", host=HUGE,
                    workload={"arrival": azure(sample=0.5, classes=["b", "g"])})
    split = scenario(duration="3h", host=HUGE)
    split["workloads"] = [
        {**split["workloads"][0], "name": "small", "arrival": azure(sample=0.5, classes=["b"])},
        {**split["workloads"][0], "name": "medium", "image": "base",
         "arrival": azure(sample=0.5, classes=["g"])}]
    one = only(both).instances
    two = only(split).instances
    assert sorted(one["arrival"]) == sorted(two["arrival"])
    assert sorted(one["tenant"]) == sorted(two["tenant"])


def test_count_and_until_bound_a_trace_like_any_arrival():
    counted = only(scenario(duration="2h", host=HUGE,
                            workload={"arrival": azure(count=100)})).instances
    assert len(counted) == 100
    until = only(scenario(duration="2h", host=HUGE,
                          workload={"arrival": azure(until="30min")})).instances
    assert len(until) > 0 and until["arrival"].max() < 1800


@pytest.mark.slow
def test_worker_processes_read_the_trace_and_replay_it_identically():
    from sim.run.runner import Workers

    data = scenario(duration="2h", host=HUGE, workload={"arrival": azure(sample=0.2)},
                    profiles={"free": FREE, "free2": {"extends": "free", "boot": "1s"}},
                    compare={"isolation": ["free", "free2"]})
    specs = expand(load(data))
    keys = [s.key() for s in specs]
    with Workers(jobs=2) as workers:
        remote = {o.variant: o for o in workers.outputs(specs, keys)}
    local = simulate(data)
    for variant, out in local.items():
        pd.testing.assert_frame_equal(remote[variant].instances, out.instances)


@pytest.mark.parametrize("column", [2, 3, 5])  # job_id, task_index, event_type
def test_an_endless_id_in_a_google_part_is_an_error_without_a_numpy_warning(tmp_path, column):
    import warnings

    row = ["1000000", "", "8", "3", "", "0", "u2", "0", "1", "0.125", "0.5", "0", "0"]
    row[column] = "inf"
    path = write_google(tmp_path / "part-00000.csv.gz", ["0,,7,0,1,0,u1,2,9,0.5,0.25,0,0",
                                                         ",".join(row)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a cast of inf to an integer warns: it must not happen
        with pytest.raises(traces.TraceError) as error:
            traces.read(google_spec(path))
    assert "line 2" in str(error.value) or ":2:" in str(error.value)
    assert "not finite" in str(error.value)


def test_a_flavor_name_with_a_nul_is_a_bad_line(tmp_path):
    """NumPy's fixed-width strings drop a trailing NUL, so 'b\\0' would match 'b' in the
    trace and then be missing from the map: the map's line is refused instead (fuzz)."""
    shipped = Path(traces.__file__).resolve().parent.parent / "data" / "traces" / "azure-v1"
    for name in ("v1.test.day1.txt", "v1.test.day1.c2591400.txt", "v1.interval_map.txt",
                 "flav_map.txt"):
        shutil.copy(shipped / name, tmp_path / name)
    flavors = (tmp_path / "flav_map.txt").read_text().replace(" b\n", " b\x00\n", 1)
    (tmp_path / "flav_map.txt").write_text(flavors)
    with pytest.raises(traces.TraceError, match=r"flav_map.txt:2"):
        traces.read_azure_v1(tmp_path / "v1.test.day1.txt",
                             tmp_path / "v1.test.day1.c2591400.txt",
                             tmp_path / "flav_map.txt", tmp_path / "v1.interval_map.txt")
