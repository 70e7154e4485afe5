"""Hostile and broken input: every failure a user can cause is a message with its place and
exit status 2, never a traceback or a silent wrong answer, and a failure leaves earlier
results byte for byte as they were (issue "Trust"). One test per defect found by hand and by
fuzzing; tests/test_fuzz.py runs the mutator over every shipped scenario."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim.cli import EXIT_BAD_INPUT, EXIT_BUG, main
from sim.edge import budget
from sim.edge.loader import ScenarioError, load_text
from sim.present import folders
from sim.run.store import Store

MAIN = Path("scenarios/windows-isolation.yaml").read_text()
SMALL = (MAIN.replace("duration: 8h", "duration: 20min").replace("warmup: 3h ", "warmup: 1min ")
         .replace("count: 20", "count: 3"))
LIFETIME = "lifetime: {dist: lognormal, median: 20min, p95: 2h}"


def _sub(old: str, new: str, text: str = SMALL) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def _write(tmp_path: Path, text: str | bytes, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def _refused(capsys, tmp_path: Path, text: str | bytes, *flags: str, command: str = "validate",
             expect: str = "") -> str:
    """Run ``command`` on ``text``; assert exit 2, a FILE:LINE:COL message and nothing
    written; return stderr."""
    path = _write(tmp_path, text)
    out = tmp_path / "out"
    argv = [command, str(path), *flags]
    if command in ("run", "density", "plan"):
        argv += ["--out", str(out), "--no-charts", "--quiet"]
    assert main(argv) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"{path}:" in err
    assert expect in err, err
    assert not out.exists() or not any(out.glob("*/summary.json"))
    return err


# --- the YAML itself ------------------------------------------------------------------------

def _bomb() -> str:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    for i in range(9):
        name, prev = chr(98 + i), chr(97 + i)
        lines.append(f"{name}: &{name} [{','.join(['*' + prev] * 10)}]")
    return "\n".join(lines) + "\n" + SMALL


def test_an_alias_bomb_is_refused_within_a_second(capsys, tmp_path):
    started = time.process_time()
    err = _refused(capsys, tmp_path, _bomb(), expect="expands to more than")
    assert time.process_time() - started < 1.0
    assert ":6:" in err  # where the expansion passes 10**6 values: the sixth anchor


def test_deep_nesting_binary_files_and_bad_utf8_are_refused(capsys, tmp_path):
    _refused(capsys, tmp_path, SMALL + "description: " + "[" * 250 + "]" * 250 + "\n",
             expect="nested more than 64 levels")
    _refused(capsys, tmp_path, bytes(range(256)) * 4, expect="not UTF-8")
    err = _refused(capsys, tmp_path, SMALL.encode() + b"\nnote: caf\xe9\n", expect="not UTF-8")
    assert f":{SMALL.count(chr(10)) + 2}:10:" in err  # line and column of the bad byte


def test_a_mapping_where_a_name_belongs_is_an_error_not_a_crash(capsys, tmp_path):
    _refused(capsys, tmp_path, _sub("- name: iis ", "- name: {a: 1} "),
             expect="images[0].name: Input should be a valid string")


def test_a_profile_field_set_to_null_is_an_error(capsys, tmp_path):
    _refused(capsys, tmp_path, _sub("boot: {dist: lognormal, median: 5s, p95: 20s}",
                                    "boot: null"),
             expect="profiles.hyperv.boot: cannot be null")


# --- numbers ----------------------------------------------------------------------------------

@pytest.mark.parametrize("old, new, expect", [
    (LIFETIME, "lifetime: {dist: lognormal, mean: 20min, cv: .inf}", "finite number"),
    (LIFETIME, "lifetime: {dist: lognormal, mean: 20min, cv: 1e200}", "less than or equal to 100"),
    (LIFETIME, "lifetime: {dist: gamma, mean: 20min, cv: 1e-300}",
     "greater than or equal to 0.001"),
    (LIFETIME, "lifetime: {dist: lognormal, median: 1s, p95: 1e300s}", "at most 1e12s"),
    (LIFETIME, "lifetime: {dist: lognormal, median: 1ms, p95: 100d}", "times the median"),
    ("cpu_overcommit: 2.0", "cpu_overcommit: .inf", "hosts[0].cpu_overcommit"),
    ("cpu_overcommit: 2.0", "cpu_overcommit: .nan", "finite number"),
    ("count: 3", "count: true", "hosts[0].count: Input should be a valid integer"),
    ("cpu: 1\n", "cpu: true\n", "workloads[0].cpu"),
    ("seed: 42", "seed: 123456789012345678901234567890123456789", "seed: Input should be less"),
    ("name: windows-isolation", "name: " + "x" * 300, "at most 100 characters"),
    ("duration: 20min", "duration: 1e308", "at most 1e12s"),
    ("rate: 0.5/s", "rate: 1e300/s", "at most 1e9/s"),
    ("rate: 0.5/s", "rate: 0/s", "no request arrives in the simulated window"),
])
def test_numbers_are_finite_in_range_and_not_booleans(capsys, tmp_path, old, new, expect):
    _refused(capsys, tmp_path, _sub(old, new), expect=expect)


def test_bad_seeds_on_the_command_line_are_usage_errors(capsys, tmp_path):
    path = _write(tmp_path, SMALL)
    for seed in ("-1", str(2**64), "x"):
        with pytest.raises(SystemExit) as stop:
            main(["run", str(path), "--seed", seed, "--out", str(tmp_path / "out")])
        assert stop.value.code == 2
        assert "--seed" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_non_finite_slo_is_refused(capsys, tmp_path):
    text = Path("scenarios/plan-web-farm.yaml").read_text()
    path = _write(tmp_path, text)
    assert main(["plan", str(path), "--slo", "startup_p99<=nan", "--out",
                 str(tmp_path / "out"), "--quiet", "--no-charts"]) == EXIT_BAD_INPUT
    assert "not a finite number" in capsys.readouterr().err


# --- duplicates and variants -----------------------------------------------------------------

def test_duplicate_variants_and_sweep_values_name_both_places(capsys, tmp_path):
    _refused(capsys, tmp_path, _sub("isolation: [process, hyperv, vm]",
                                    "isolation: [process, hyperv, process]"),
             expect="compare.isolation[2]: duplicate 'process' (first at compare.isolation[0])")
    _refused(capsys, tmp_path, SMALL + "sweep: {'hosts[0].count': [4, 5, 4.0]}\n",
             expect="sweep.hosts[0].count[2]: duplicate value 4.0 (first at "
                    "sweep.hosts[0].count[0])")


@pytest.mark.parametrize("value", ["PROCESS", "proces"])
def test_a_workload_isolation_nobody_knows_is_refused_even_under_compare(capsys, tmp_path,
                                                                          value):
    _refused(capsys, tmp_path, _sub("isolation: process ", f"isolation: {value} "),
             command="run", expect="workloads[0].isolation: unknown isolation profile")


def test_sweeping_a_distribution_runs_and_groups_by_it(capsys, tmp_path):
    text = (_sub("isolation: [process, hyperv, vm]", "isolation: [process]")
            .replace("duration: 20min", "duration: 5min").replace("warmup: 1min", "warmup: 0s")
            + "sweep: {'workloads[web].lifetime': [{dist: exponential, mean: 5min},"
              " {dist: exponential, mean: 6min}]}\n")
    path = _write(tmp_path, text)
    out = tmp_path / "out"
    argv = ["run", str(path), "--out", str(out), "--no-charts", "--quiet", "--jobs", "1"]
    assert main(argv) == 0
    assert main(argv) == 0  # every run from the store: the rerun groups them too
    assert "exponential" in (out / "windows-isolation" / "aggregate.csv").read_text()


# --- the size guard ----------------------------------------------------------------------------

@pytest.mark.parametrize("text, driver", ids=["hosts", "replications", "interval", "rate"],
                         argvalues=[
    (_sub("count: 3", "count: 10000000"), "hosts"),
    (SMALL + "replications: 1000000000\n", "replications"),
    (SMALL + "timeseries_interval: 1us\n", "timeseries_interval"),
    (_sub("rate: 0.5/s", "rate: 1e9/s"), "workloads[0].arrival"),
])
def test_the_size_guard_refuses_within_a_second_what_would_not_fit(capsys, tmp_path, text,
                                                                    driver):
    started = time.process_time()
    err = _refused(capsys, tmp_path, text, command="run", expect=f": {driver}: too big to run")
    assert time.process_time() - started < 1.0
    assert "pass --force" in err


def test_force_runs_past_the_guard(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(budget, "machine_limits", lambda: budget.Limits(1e6, 1.0))
    path = _write(tmp_path, SMALL.replace("duration: 20min", "duration: 5min"))
    argv = ["run", str(path), "--out", str(tmp_path / "out"), "--no-charts", "--quiet",
            "--jobs", "1"]
    assert main(argv) == EXIT_BAD_INPUT
    assert "too big to run" in capsys.readouterr().err
    assert main([*argv, "--force"]) == 0
    assert (tmp_path / "out" / "windows-isolation" / "summary.json").is_file()


def test_the_estimate_counts_arrivals_as_the_arithmetic_says():
    loaded = load_text(SMALL)
    found = budget.estimate([loaded.scenario], 3, 2)
    assert found.instances_per_run == pytest.approx(0.5 * 1200)
    assert found.instances == pytest.approx(0.5 * 1200 * 3 * 2)
    assert found.runs == 6 and found.hosts_per_run == 3 + 4  # the scale-out group's 4
    # the scale-out burst at 2 h is past the 20 min window: none of it counted
    assert found.samples_per_run == pytest.approx(241 * 2)  # a row per host group


# --- traces ------------------------------------------------------------------------------------

def _trace_scenario(name: str, cores: int, memory: str, arrival: str) -> str:
    """A two-host scenario whose one workload replays ``arrival``."""
    return f"""name: {name}
duration: 1h
hosts: [{{group: g, count: 2, cpu_cores: {cores}, memory: {memory}, disk: 1TiB,
         disk_rate: 500MB/s, nic: 10Gbit/s, preloaded_images: [base]}}]
registry: {{bandwidth: 10Gbit/s}}
images: [{{name: base, layers: [1GiB]}}]
workloads:
  - name: w
    image: base
    memory: 1GiB
    arrival: {arrival}
"""


CSV_TRACE = _trace_scenario("t", 16, "64GiB", "{kind: trace, format: csv, path: PATH TIME}")


def _csv_case(tmp_path: Path, body: bytes | str, name: str = "t.csv", time_unit: str = ""
              ) -> str:
    data = body.encode() if isinstance(body, str) else body
    if name.endswith(".gz"):
        data = gzip.compress(data)
    (tmp_path / name).write_bytes(data)
    return CSV_TRACE.replace("PATH", name).replace(
        "TIME", f", time_unit: {time_unit}" if time_unit else "")


@pytest.mark.parametrize("body, name, time_unit, expect", [
    ("arrival,lifetime,cpu,memory\n0,10,1,1,9,9\n1,10,1,1,9,9\n", "t.csv", "",
     "more fields than the header"),
    ("arrival,lifetime\n0,10\ninf,10\n", "t.csv", "", "'inf' is not a finite number"),
    ("arrival,lifetime\n0,10\n1,nan\n", "t.csv", "", "'nan' is not a finite number"),
    (b"arrival,lifetime\n0,10\n1,1\xff0\n", "t.csv", "", "not UTF-8"),
    ("arrival\n2023-01-01T00:00:00+00:00\n2023-01-01T00:01:00+05:00\n", "t.csv", "datetime",
     "cannot read the trace"),
])
def test_broken_csv_traces_are_errors_at_their_file(capsys, tmp_path, body, name, time_unit,
                                                    expect):
    text = _csv_case(tmp_path, body, name, time_unit)
    err = _refused(capsys, tmp_path, text, expect=expect)
    assert str(tmp_path) in err


def test_truncated_and_corrupt_gzip_traces_are_errors(capsys, tmp_path):
    data = gzip.compress(b"arrival,lifetime\n" + b"".join(b"%d,10\n" % i for i in range(999)))
    (tmp_path / "t.csv.gz").write_bytes(data[: len(data) // 2])
    _refused(capsys, tmp_path, CSV_TRACE.replace("PATH", "t.csv.gz").replace("TIME", ""),
             expect="truncated or corrupt")
    (tmp_path / "t.csv.gz").write_bytes(data[:20] + b"\x00" * 40 + data[60:])
    _refused(capsys, tmp_path, CSV_TRACE.replace("PATH", "t.csv.gz").replace("TIME", ""),
             expect="cannot read the trace")


def test_a_nul_in_a_trace_path_is_an_error(capsys, tmp_path):
    _refused(capsys, tmp_path, CSV_TRACE.replace("PATH", '"t\\0.csv"').replace("TIME", ""),
             expect="NUL")


def test_a_swept_trace_path_is_read_beside_the_scenario_and_checked(capsys, tmp_path,
                                                                     monkeypatch):
    (tmp_path / "a.csv").write_text("arrival,lifetime\n0,10\n5,10\n")
    (tmp_path / "b.csv").write_text("arrival,lifetime\n0,10\n1,x\n")
    text = (CSV_TRACE.replace("PATH", "a.csv").replace("TIME", "")
            + "sweep: {'workloads[0].arrival.path': [a.csv, b.csv]}\n")
    monkeypatch.chdir("/")
    err = _refused(capsys, tmp_path, text, expect="sweep.workloads[0].arrival.path[1]")
    assert "'x' is not a number" in err
    (tmp_path / "b.csv").write_text("arrival,lifetime\n0,10\n1,20\n")
    loaded = load_text(text, str(tmp_path / "s.yaml"))
    digests = {p.scenario.workloads[0].arrival.digest for p in loaded.points}
    assert len(digests) == 2  # each point replays its own file


AZURE = Path("sim/data/traces/azure-v1")


@pytest.mark.parametrize("part, content, expect", [
    ("v1.interval_map.txt", b"", "no intervals"),
    ("flav_map.txt", b"2,4 a\n4,8 \xff\n", "not UTF-8"),
    ("flav_map.txt", b"2,inf a\n", "expected 'VCPU,MEMORY_GB LETTER'"),
])
def test_broken_azure_partner_files_are_errors(capsys, tmp_path, part, content, expect):
    for name in ("flav_map.txt", "v1.interval_map.txt", "v1.test.day1.c2591400.txt",
                 "v1.test.day1.txt"):
        (tmp_path / name).write_bytes((AZURE / name).read_bytes())
    (tmp_path / part).write_bytes(content)
    text = CSV_TRACE.replace("format: csv, path: PATH TIME",
                             "format: azure-v1, path: v1.test.day1.txt")
    err = _refused(capsys, tmp_path, text, expect=expect)
    assert str(tmp_path / part) in err or part in err


GOOGLE = _trace_scenario("g", 32, "128GiB", "{kind: trace, format: google-2011, "
                         "path: events.csv, machine: {cpu: 32, memory: 128GiB}}")


def test_a_google_task_without_a_request_on_submit_takes_its_first_stated_one(tmp_path):
    # time, missing, job, task, machine, event, user, class, priority, cpu, memory, disk, diff
    rows = ["1000000,,7,0,,0,u,1,0,,,,0",  # SUBMIT without a request
            "2000000,,7,0,5,1,u,1,0,0.125,0.25,,0",  # SCHEDULE with it
            "9000000,,7,0,5,4,u,1,0,0.125,0.25,,0",  # FINISH
            "1000000,,8,0,,0,u,1,0,0.0625,0.125,,0",
            "2000000,,8,0,5,1,u,1,0,0.0625,0.125,,0"]
    (tmp_path / "events.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "s.yaml").write_text(GOOGLE)
    from sim.edge import traces

    loaded = load_text(GOOGLE, str(tmp_path / "s.yaml"))
    spec = loaded.scenario.workloads[0].arrival
    table = traces.read(spec)
    order = {round(c, 6) for c in table.cpu}
    assert order == {4.0, 2.0}  # 0.125 and 0.0625 of 32 vCPU: none fell back to the default
    assert sorted(table.memory_bytes / 2**30) == [16.0, 32.0]


# --- results and the output folder ---------------------------------------------------------

def _tiny(tmp_path: Path) -> Path:
    return _write(tmp_path, SMALL.replace("duration: 20min", "duration: 5min")
                  .replace("warmup: 1min", "warmup: 0s"))


def test_a_failing_report_leaves_the_earlier_results_byte_identical(capsys, tmp_path,
                                                                    monkeypatch):
    path = _tiny(tmp_path)
    out = tmp_path / "out"
    argv = ["run", str(path), "--out", str(out), "--quiet", "--jobs", "1"]
    assert main(argv) == 0
    folder = out / "windows-isolation"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert "report.html" in before and "summary.json" in before

    import sim.present.report

    def broken(folder: Path, loaded: object) -> Path:
        (folder / "report.html").write_text("half a report")
        raise RuntimeError("the report failed")

    monkeypatch.setattr(sim.present.report, "write_report", broken)
    (path).write_text(path.read_text().replace("seed: 42", "seed: 7"))
    assert main(argv) == EXIT_BUG
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: the report failed" in err
    assert "Traceback" not in err
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert not [p for p in out.iterdir() if p.name.startswith(".windows-isolation.")]


def test_an_output_folder_that_cannot_be_written_fails_before_simulating(capsys, tmp_path):
    path = _tiny(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    started = time.perf_counter()
    assert main(["run", str(path), "--out", str(blocker / "out"), "--quiet"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "cannot write results there" in err and "--out" in err
    assert time.perf_counter() - started < 5
    assert not (tmp_path / ".runs").exists()


def test_stale_staging_folders_of_dead_processes_are_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = [tmp_path / f".name.{dead.pid}.abc123.partial", tmp_path / f".x.y.{dead.pid}.q.old",
             tmp_path / ".runs" / f".partial-{dead.pid}-zz"]
    alive = [tmp_path / f".name.{os.getpid()}.abc123.partial",
             tmp_path / ".runs" / f".partial-{os.getpid()}-zz", tmp_path / "kept"]
    for folder in stale + alive:
        folder.mkdir(parents=True)
    removed = folders.remove_stale(tmp_path) + Store(tmp_path / ".runs").remove_stale()
    assert sorted(removed) == sorted(stale)
    assert all(f.exists() for f in alive) and not any(f.exists() for f in stale)


def test_an_unexpected_exception_is_a_short_bug_report(capsys, tmp_path, monkeypatch):
    import sim.edge.loader

    def boom(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("deep inside")

    monkeypatch.setattr(sim.edge.loader, "load_text", boom)
    assert main(["validate", str(_tiny(tmp_path))]) == EXIT_BUG
    err = capsys.readouterr().err
    assert "internal error: ZeroDivisionError: deep inside" in err
    assert "This is a bug" in err and "Traceback" not in err


@pytest.mark.slow
def test_an_unreachable_cluster_is_an_error(capsys, tmp_path):
    path = _tiny(tmp_path)
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet",
                 "--cluster", "tcp://127.0.0.1:9"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "cannot reach a Dask scheduler" in err and "Traceback" not in err


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_workers_end_when_their_parent_is_killed(tmp_path):
    path = _write(tmp_path, MAIN.replace("count: 20", "count: 4") + "replications: 6\n")
    proc = subprocess.Popen([sys.executable, "-m", "sim", "run", str(path), "--out",
                             str(tmp_path / "out"), "--jobs", "2", "--no-charts", "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    family: set[int] = set()
    while time.time() < deadline and not family:  # the worker, forked first thing
        time.sleep(0.2)
        family = _descendants(proc.pid)
    assert family, "the workers never started"
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(_alive(p) for p in family):
        time.sleep(0.2)
    assert not [p for p in family if _alive(p)]


def test_problems_are_listed_with_file_line_and_column():
    with pytest.raises(ScenarioError) as caught:
        load_text(_sub("count: 3", "count: -3").replace("cpu: 1\n", "cpu: -1\n"), "x.yaml")
    text = str(caught.value)
    assert "x.yaml:9:12: hosts[0].count" in text
    assert "workloads[0].cpu" in text


def test_a_time_ordered_csv_is_read_only_up_to_the_window(tmp_path):
    from sim.edge import traces
    from sim.spec.config import TraceArrivals

    rows = 500_000
    (tmp_path / "t.csv").write_text("arrival,lifetime\n" + "".join(f"{i},10\n"
                                                                    for i in range(rows)))
    spec = TraceArrivals(kind="trace", format="csv", path=str(tmp_path / "t.csv"), length=60.0)
    table = traces.read(spec)
    assert 60 < len(table) <= traces.CHUNK_ROWS  # the first chunk passes the window's end
    whole = traces.read(spec.model_copy(update={"length": None}))
    assert len(whole) == rows
    (tmp_path / "u.csv").write_text("arrival,lifetime\n" + "".join(
        f"{rows - i},10\n" for i in range(rows)))  # out of order: read whole
    backwards = traces.read(spec.model_copy(update={"path": str(tmp_path / "u.csv")}))
    assert len(backwards) == rows


def test_a_refused_plan_leaves_no_output_folder_behind(capsys, tmp_path):
    path = _write(tmp_path, Path("scenarios/plan-web-farm.yaml").read_text())
    out = tmp_path / "deep" / "out"
    assert main(["plan", str(path), "--group", "nonexistent", "--slo", "startup_p99<=10min",
                 "--out", str(out), "--quiet", "--no-charts"]) == EXIT_BAD_INPUT
    assert "unknown host group 'nonexistent'" in capsys.readouterr().err
    assert not (tmp_path / "deep").exists()
