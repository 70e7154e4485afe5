"""Sweeps, replications, the run store and where runs execute (issue: experiments at scale)."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from sim.analysis.aggregate import aggregate, mean_metrics
from sim.cli import main
from sim.cli.run import summary_rows
from sim.edge.loader import ScenarioError, load_file, load_text
from sim.experiment.expand import expand
from sim.run.results import runs_frame
from sim.spec.config import COMPARE_AXES, Compare, Scenario
from sim.spec.config import Workload as WorkloadSpec
from tests import helpers
from tests.helpers import only, scenario, two_workloads

SWEEP = Path("scenarios/sweep.yaml")


def test_expansion_is_points_then_variants_then_replications():
    loaded = load_file(SWEEP)
    specs = expand(loaded)
    assert len(specs) == 2 * 2 * 3 * 3
    first = specs[:9]
    assert [s.variant for s in first] == ["process"] * 3 + ["hyperv"] * 3 + ["vm"] * 3
    assert [s.replication for s in first] == [0, 1, 2] * 3
    assert {s.parameters for s in first} == {(("hosts[standard].count", 4),
                                              ("workloads[web].arrival.rate", "0.1/s"))}
    assert specs[9].parameters == (("hosts[standard].count", 4),
                                   ("workloads[web].arrival.rate", "0.2/s"))
    assert all(s.seed == 11 for s in specs)
    # each point's scenario carries the parameter values in canonical units
    assert specs[9].scenario.workloads[0].arrival.rate == pytest.approx(0.2)
    assert specs[-1].scenario.hosts[0].count == 8
    assert all(s.scenario.workloads[0].isolation == s.variant for s in specs)
    assert len({s.key() for s in specs}) == len(specs)


def test_compare_axes_combine_in_the_table_order_with_names_and_choices_as_before():
    data = helpers.scenario(
        compare={"kernel_sharing": ["same-tenant", "any"], "placement": ["spread", "first-fit"],
                 "isolation": ["free", "process"]},
        workloads=[helpers.BASE["workloads"][0], {**helpers.BASE["workloads"][0], "name": "v"}])
    specs = expand(helpers.load(data), replications=1)
    # isolation, then placement, then kernel sharing, whatever the order in the file
    assert [s.variant for s in specs] == [
        "free+spread+same-tenant", "free+spread+any", "free+first-fit+same-tenant",
        "free+first-fit+any", "process+spread+same-tenant", "process+spread+any",
        "process+first-fit+same-tenant", "process+first-fit+any"]
    for s in specs:
        isolation, policy, sharing = s.variant.split("+")
        assert s.choices == (("isolation", isolation), ("placement", policy),
                             ("kernel_sharing", sharing))
        assert [wl.isolation for wl in s.scenario.workloads] == [isolation, isolation]
        assert (s.scenario.placement, s.scenario.kernel_sharing) == (policy, sharing)
    # one axis: its values alone; the rest of the scenario as written
    specs = expand(helpers.load(helpers.scenario(compare={"placement": ["random", "spread"]})),
                   replications=1)
    assert [(s.variant, s.choices) for s in specs] == [
        ("random", (("placement", "random"),)), ("spread", (("placement", "spread"),))]
    assert {(s.scenario.workloads[0].isolation, s.scenario.kernel_sharing) for s in specs} == {
        ("free", "any")}
    assert [s.variant for s in expand(helpers.load(helpers.scenario()), replications=1)] == [
        "base"]


def test_every_compare_key_is_an_axis_in_the_table():
    assert list(COMPARE_AXES) == list(Compare.model_fields)
    assert all(axis.field in (WorkloadSpec if axis.every_workload else Scenario).model_fields
               for axis in COMPARE_AXES.values())


def test_a_run_key_depends_on_what_it_simulates_only():
    loaded = load_file(SWEEP)
    three = {s.key() for s in expand(loaded)}
    five = {s.key() for s in expand(loaded, replications=5)}
    assert three < five  # adding replications keeps the runs already made
    assert not three & {s.key() for s in expand(loaded, seed=12)}
    assert [s.key() for s in expand(loaded)] == [s.key() for s in expand(load_file(SWEEP))]


def test_aggregate_is_mean_std_and_student_t_half_width():
    runs = pd.DataFrame({"variant": ["a"] * 3 + ["b"] * 2, "p": [1, 1, 1, 2, 2],
                         "replication": [0, 1, 2, 0, 1], "seed": 0, "key": list("vwxyz"),
                         "m": [1.0, 2.0, 6.0, 5.0, 5.0]})
    agg = aggregate(runs, ["p"]).set_index("variant")
    a = agg.loc["a"]
    assert a["mean"] == 3.0 and a["n"] == 3
    assert a["std"] == pytest.approx(math.sqrt(((1 - 3) ** 2 + (2 - 3) ** 2 + (6 - 3) ** 2) / 2))
    assert a["ci95"] == pytest.approx(4.302652729911275 * a["std"] / math.sqrt(3))
    assert agg.loc["b"]["ci95"] == 0.0


def test_startup_by_workload_is_averaged_over_replications_and_has_table_rows(tmp_path):
    data = two_workloads()
    data["workloads"][0]["app_start"] = {"dist": "lognormal", "median": "2s", "p95": "5s"}
    outputs = [only(data, seed) for seed in (1, 2)]  # two replications, as far as combining goes
    runs = runs_frame(outputs)
    runs.to_parquet(tmp_path / "runs.parquet", index=False)
    runs = pd.read_parquet(tmp_path / "runs.parquet")
    web = runs["startup_by_workload_s.web.p50"]
    assert web.nunique() == 2
    summary = mean_metrics(outputs)
    assert summary["startup_by_workload_s"]["web"]["p50"] == pytest.approx(web.mean())
    assert summary["ci95"]["startup_by_workload_s.web.p50"] == pytest.approx(
        12.706204736174698 * web.std(ddof=1) / math.sqrt(2))
    assert set(summary["startup_by_workload_s"]) == {"web", "burst.cold", "early"}
    agg = aggregate(runs, []).set_index("metric")
    assert agg.loc["startup_by_workload_s.web.p50", "mean"] == pytest.approx(web.mean())
    assert agg.loc["startup_by_workload_s.burst.cold.p99", "n"] == 2

    rows = summary_rows({"base": summary})
    labels = [label.split(" (")[0] for label, _ in rows]  # each row names its unit
    at = labels.index("start-up max") + 1
    assert labels[at:at + 6] == [f"start-up {p}, {w}" for w in ("web", "burst.cold", "early")
                                 for p in ("p50", "p99")]
    cells = dict(rows)
    assert cells["start-up p50, burst.cold (ms)"] == ["943.7"]  # 100 MiB pulled, extracted
    assert cells["start-up p50, web (s)"][0].count(" ± ") == 1
    assert cells["start-up p99, early"] == ["-"]  # none after the warm-up
    single = [label for label, _ in summary_rows({"base": only(scenario()).metrics})]
    assert not [label for label in single if label.startswith("start-up p50,")]


def _outputs(folder: Path) -> tuple[bytes, pd.DataFrame, pd.DataFrame]:
    return ((folder / "summary.json").read_bytes(), pd.read_parquet(folder / "runs.parquet"),
            pd.read_csv(folder / "aggregate.csv"))


@pytest.mark.slow
def test_results_are_identical_on_one_process_four_processes_and_a_dask_cluster(tmp_path):
    distributed = pytest.importorskip("distributed")
    args = ["run", str(SWEEP), "--replications", "2", "--no-charts", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "one"), "--jobs", "1"]) == 0
    assert main([*args, "--out", str(tmp_path / "four"), "--jobs", "4"]) == 0
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        assert main([*args, "--out", str(tmp_path / "dask"), "--cluster",
                     cluster.scheduler_address]) == 0
    one = _outputs(tmp_path / "one" / "sweep")
    for other in ("four", "dask"):
        summary, runs, agg = _outputs(tmp_path / other / "sweep")
        assert summary == one[0]
        pd.testing.assert_frame_equal(runs, one[1])
        pd.testing.assert_frame_equal(agg, one[2])
    assert len(one[1]) == 2 * 2 * 3 * 2


@pytest.mark.slow
def test_summary_has_replication_means_and_confidence_half_widths(tmp_path):
    main(["run", "scenarios/density.yaml", "--replications", "3", "--out", str(tmp_path),
          "--no-charts", "--quiet"])
    folder = tmp_path / "density"
    summary = json.loads((folder / "summary.json").read_text())
    runs = pd.read_csv(folder / "runs.csv")
    hyperv = summary["variants"]["hyperv"]
    assert hyperv["replications"] == 3
    values = runs.loc[runs["variant"] == "hyperv", "startup_s.p50"]
    assert hyperv["startup_s"]["p50"] == pytest.approx(values.mean())
    assert hyperv["ci95"]["startup_s.p50"] == pytest.approx(
        4.302652729911275 * values.std(ddof=1) / math.sqrt(3))
    assert sorted(runs["replication"].unique()) == [0, 1, 2]


def _stored(store: Path) -> set[str]:
    return {p.name for p in store.iterdir() if not p.name.startswith(".")} \
        if store.exists() else set()


@pytest.mark.slow
def test_a_killed_sweep_resumes_with_only_the_missing_runs(tmp_path):
    scenario = tmp_path / "s.yaml"
    text = Path("scenarios/windows-isolation.yaml").read_text()
    scenario.write_text(text.replace("duration: 8h ", "duration: 2h ")
                        .replace("warmup: 3h ", "warmup: 10min ") + "replications: 4\n")
    out = tmp_path / "out"
    store = out / ".runs"
    command = [sys.executable, "-m", "sim", "run", str(scenario), "--out", str(out),
               "--jobs", "1", "--no-charts"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            cwd=os.getcwd())
    deadline = time.time() + 120
    while len(_stored(store)) < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "the sweep finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _stored(store)
    assert 2 <= len(before) < 12
    for name in before:  # nothing half-written looks complete
        assert (store / name / "run.json").is_file()
    assert not (out / "s").exists() and not (out / "windows-isolation").exists()
    mtimes = {name: (store / name / "run.json").stat().st_mtime_ns for name in before}

    done = subprocess.run(command, check=False, capture_output=True, text=True,
                          cwd=os.getcwd())
    assert done.returncode == 0, done.stderr
    assert f"12 runs, {len(before)} already in" in done.stderr
    assert f"{12 - len(before)} to run" in done.stderr
    assert len(_stored(store)) == 12
    assert all((store / n / "run.json").stat().st_mtime_ns == t for n, t in mtimes.items())
    summary = json.loads((out / "windows-isolation" / "summary.json").read_text())
    assert summary["variants"]["vm"]["replications"] == 4


@pytest.mark.slow
def test_force_reruns_and_gives_the_same_numbers(tmp_path):
    args = ["run", "scenarios/density.yaml", "--out", str(tmp_path), "--no-charts", "--quiet"]
    main(args)
    first = (tmp_path / "density" / "summary.json").read_bytes()
    main([*args, "--rerun"])
    assert (tmp_path / "density" / "summary.json").read_bytes() == first


@pytest.mark.parametrize("line,words", [
    ("  hosts[standard].cuont: [1, 2]", "unknown key 'cuont'; did you mean 'count'?"),
    ("  hosts[big].count: [1, 2]", "no entry named 'big'"),
    ("  seed: [1, 2]", "'seed' cannot be swept"),
    ("  hosts[standard].count: [4, -1]", "with hosts[standard].count = -1: hosts[0].count"),
    ("  workloads[web].arrival.rate: [fast]", "a rate such as"),
])
def test_bad_sweeps_are_reported_where_they_are(line, words):
    text = SWEEP.read_text().split("sweep:")[0] + "sweep:\n" + line + "\n"
    with pytest.raises(ScenarioError) as info:
        load_text(text, "s.yaml")
    message = str(info.value)
    assert words in message
    assert message.startswith(f"s.yaml:{len(text.splitlines())}:")


# --- how many processes a batch runs on (issue: speed where users wait) -----------------------

def test_a_batch_too_small_for_a_pool_runs_in_this_process():
    from sim.run.runner import POOL_WORTH_S, Workers, work_seconds

    specs = expand(load_file(SWEEP), replications=1)  # 12 runs, 0.6 s in all
    assert work_seconds(specs, {}) < POOL_WORTH_S
    assert Workers(jobs=2).processes(specs) == 1
    assert Workers(jobs=1).processes(specs * 100) == 1
    assert Workers(jobs=2).processes(specs * 100) == 2  # 66 s of estimated work
    assert Workers(jobs=2, batches="many").processes(specs[:2]) == 2  # a planner's probes
    assert Workers(jobs=2, cluster="tcp://x:1").processes(specs) == 0


def test_a_trace_whose_rows_are_unknown_is_worth_a_pool():
    from sim.run.runner import work_seconds

    specs = expand(load_file("scenarios/azure-replay.yaml"))
    loaded = load_file("scenarios/azure-replay.yaml")
    assert work_seconds(specs, {}) == math.inf
    assert 0 < work_seconds(specs, loaded.trace_rows) < math.inf


@pytest.mark.parametrize("rows", [False, True])
def test_this_process_and_the_workers_share_a_batch_and_each_run_is_done_once(monkeypatch,
                                                                                rows):
    """With a pool, this process takes runs from the back of the queue while the worker
    starts: every run comes back once, identical to the run made here. Their CSV rows are
    formatted where they ran for the run command (``rows``), and not at all for a planner."""
    from sim.run import runner
    from sim.run.results import with_parameters
    from sim.run.tables import FORMATS, rows_text

    monkeypatch.setattr(runner, "POOL_WORTH_S", 0.0)
    specs = expand(load_file(SWEEP), replications=1)[:8]
    keys = [s.key() for s in specs]
    here = []
    real = runner.collect

    def counted(result, key=None):
        here.append(key)
        return real(result, key)

    monkeypatch.setattr(runner, "collect", counted)  # this process's runs only (a worker
    # imports the module afresh)
    with runner.Workers(jobs=2, rows=rows) as workers:
        assert workers.processes(specs) == 2
        outputs = list(workers.outputs(specs, keys))
    assert sorted(o.key for o in outputs) == sorted(keys)
    assert 0 < len(here) < len(specs)  # some here, some on the worker
    assert here == [k for k in reversed(keys) if k in here]  # from the back
    for out in outputs:
        spec = specs[keys.index(out.key)]
        pd.testing.assert_frame_equal(out.instances, runner.execute(spec, out.key).instances)
        assert out.csv == ({t: rows_text(with_parameters(getattr(out, t), out), FORMATS[t])
                            for t in FORMATS} if rows else {})


def test_runs_stored_aside_are_stored_where_they_ran_and_come_back_without_tables(
        monkeypatch, tmp_path):
    """A planner's workers (``stored_aside``) store their runs themselves: every run of the
    batch is in the store with the tables it would have had, the worker's come back with
    empty tables, and this process's runs are not written twice."""
    from sim.run import runner
    from sim.run.store import Store

    monkeypatch.setattr(runner, "POOL_WORTH_S", 0.0)
    specs = expand(load_file(SWEEP), replications=1)[:6]
    store = Store(tmp_path / ".runs")
    the_plan = runner.plan(specs, store)
    saved = []
    real = Store.save

    def counted(self, out):
        saved.append((out.key, len(out.instances)))
        return real(self, out)

    monkeypatch.setattr(Store, "save", counted)  # in this process only
    seen = []
    with runner.Workers(jobs=2, batches="many", stored_aside=True) as workers:
        workers.fork()
        workers.run(the_plan, store, seen.append)
    assert sorted(o.key for o in seen) == sorted(the_plan.keys)
    emptied = [o.key for o in seen if o.instances.empty]
    assert 0 < len(emptied) < len(specs)  # some ran on the worker, some here
    assert {key for key, rows in saved if rows} == set(the_plan.keys) - set(emptied)
    for spec, key in zip(specs, the_plan.keys):
        direct = runner.execute(spec, key)
        stored = store.load(key)
        pd.testing.assert_frame_equal(stored.instances, direct.instances)
        assert stored.metrics == direct.metrics
    assert not list(store.root.glob(".partial-*"))


# --- a rerun whose results are already written ------------------------------------------------

def _files(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}


def test_a_rerun_of_written_results_prints_them_again_and_touches_nothing(tmp_path, capsys):
    import yaml

    data = scenario(duration="30min", compare={"isolation": ["process", "hyperv"]})
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data))
    args = ["run", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "out"), "--jobs", "1"]
    assert main(args) == 0
    first = capsys.readouterr()
    folder = tmp_path / "out" / data["name"]
    before = _files(folder)
    assert {"summary.json", "instances.csv", "report.html", "startup_cdf.png"} <= set(before)
    assert main(args) == 0
    second = capsys.readouterr()
    assert second.out == first.out  # the same table
    assert "already written" in second.err and "wrote" not in second.err
    assert _files(folder) == before  # not one file rewritten
    assert main([*args, "--rerun"]) == 0  # --rerun writes them again
    assert "wrote" in capsys.readouterr().err


@pytest.mark.parametrize("change", ["a chart deleted", "a file edited", "another seed",
                                    "--no-charts", "the scenario edited"])
def test_results_are_written_again_when_anything_they_came_from_changed(tmp_path, capsys,
                                                                        change):
    import yaml

    data = scenario(duration="30min")
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    args = ["run", str(path), "--out", str(tmp_path / "out"), "--jobs", "1"]
    folder = tmp_path / "out" / data["name"]
    assert main(args) == 0
    capsys.readouterr()
    if change == "a chart deleted":
        (folder / "running.png").unlink()
    elif change == "a file edited":
        (folder / "summary.json").write_text("{}")
    elif change == "another seed":
        args += ["--seed", "7"]
    elif change == "--no-charts":
        args += ["--no-charts"]
    else:
        path.write_text(yaml.safe_dump({**data, "description": "edited"}))
    assert main(args) == 0
    assert "wrote" in capsys.readouterr().err
    assert (folder / "summary.json").read_text() != "{}"
    assert (folder / "running.png").exists() == (change != "--no-charts")


def test_written_results_with_warnings_still_exit_3_under_strict(tmp_path, capsys):
    import yaml

    data = scenario(duration="30min", host={"count": 1},
                    workload={"arrival": {"kind": "poisson", "rate": "5/s"}})
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data))
    args = ["run", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "out"), "--jobs", "1",
            "--no-charts", "--strict"]
    assert main(args) == 3
    first = capsys.readouterr().err
    assert main(args) == 3
    second = capsys.readouterr().err
    assert "already written" in second
    warnings = [line for line in first.splitlines() if line.startswith("WARNING")]
    assert warnings and warnings == [line for line in second.splitlines()
                                     if line.startswith("WARNING")]


def test_a_pool_that_cannot_take_a_run_fails_the_batch_and_loses_no_run(monkeypatch):
    """The thread feeding the workers cannot submit (a broken pool): the batch raises that
    error here, rather than returning without the run the thread had taken."""
    import concurrent.futures as cf
    from concurrent.futures.process import BrokenProcessPool

    from sim.run import runner

    def broken(self, *args, **kwargs):
        raise BrokenProcessPool("a worker died")

    monkeypatch.setattr(runner, "POOL_WORTH_S", 0.0)
    monkeypatch.setattr(cf.ProcessPoolExecutor, "submit", broken)
    specs = expand(load_file(SWEEP), replications=1)[:4]
    keys = [s.key() for s in specs]
    with pytest.raises(BrokenProcessPool, match="a worker died"), \
            runner.Workers(jobs=2) as workers:
        list(workers.outputs(specs, keys))


def test_local_jobs_are_never_more_than_the_runs_or_the_cores(monkeypatch):
    """--jobs 100000 forked 99,999 workers for one run; above the cores a count is kept up
    to the runs (tests use it to show results do not depend on the processes)."""
    from sim.run import runner

    monkeypatch.setattr(runner, "default_jobs", lambda: 2)
    assert runner.local_jobs(100_000, 1) == 2
    assert runner.local_jobs(4, 24) == 4
    assert runner.local_jobs(100_000, 24) == 24
    assert runner.local_jobs(None, 24) == 2
    assert runner.local_jobs(1, 24) == 1
