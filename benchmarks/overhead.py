"""The seconds a planner waits around the simulations (issue #26), each case measured as a
user runs it (``python -m sim ...`` in a fresh process, results in a fresh folder) beside a
baseline measured in the same invocation: the machines are shared and noisy, so the ratio
holds where the absolute time does not.

=============  ===========================================  ===================================
case           figure                                       baseline, target
=============  ===========================================  ===================================
import         ``python -c "import sim.cli"``               ``python -c pass``; under 0.3 s
whole-run      the main example, ``run --jobs 1``           its simulations' own time (the sum
                                                            of its runs' ``wall_s``); within
                                                            2x that plus 0.5 s
whole-run-     the same as the README runs it (every core:  the same
default        the charts beside the tables)
cached         ``scenarios/sweep.yaml`` run again, charts   its first run; under 1.5 s
jobs-small     the 12-run sweep (``sweep.yaml``, one        the same with ``--jobs 1``; never
               replication) with ``--jobs 2``, fastest of   slower (within the machine's noise,
               3 each                                       10 %)
jobs-long      8 long runs (the main example, 4x hosts and  the same with ``--jobs 1``; >= 1.8x
               arrivals, 2 modes x 4 replications),
               ``--jobs 2``
common-run     the common shape (``run.common_shape``) as   the bare-SimPy floor of the same
               a whole ``run --jobs 1``, and (``all``) on   lifecycles; within 4x at
               every core as the README runs it             5,000/20,000, 3x at 50,000/100,000
plan           ``plan --no-charts`` on the Azure day (every one bare-SimPy replay of the same
               VM: ``scenarios/azure-replay.yaml`` at       arrivals and lifetimes on 502
               ``sample: 1.0``), every core                 hosts (``floor.replayed``); the
                                                            target: under 5 minutes
=============  ===========================================  ===================================

    python benchmarks/run.py --only overhead [--common-run-sizes 5000/20000] [--tree PATH]

``--tree PATH`` runs the same cases on another checkout's ``sim`` and scenarios (the code
before a change, say: ``git worktree add /tmp/before main``), for figures side by side.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent  # the tree measured (--tree: another)
MAIN_EXAMPLE = ROOT / "scenarios" / "windows-isolation.yaml"
SWEEP = ROOT / "scenarios" / "sweep.yaml"
AZURE_DAY = ROOT / "scenarios" / "azure-replay.yaml"


def wall(*args: str) -> float:
    """Seconds ``python args...`` takes in a fresh process, run in the tree measured with its
    ``sim`` on the path; a failure stops the benchmark with its output."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True)
    took = time.perf_counter() - started
    if done.returncode not in (0, 3):  # 3: --strict's warnings, not a failure
        raise SystemExit(f"benchmark command failed: {' '.join(args)}\n{done.stderr}")
    return took


def sim(*args: str) -> float:
    return wall("-m", "sim", *args)


def _simulated_s(out: Path) -> float:
    """The runs' own time: the sum of ``wall_s`` over the run store's runs."""
    return sum(json.loads(p.read_text())["wall_s"] for p in (out / ".runs").glob("*/run.json"))


def case_import(folder: Path) -> dict[str, Any]:
    base = min(wall("-c", "pass") for _ in range(3))
    figure = min(wall("-c", "import sim.cli") for _ in range(3))
    return {"figure_s": figure, "baseline_s": base, "target": "under 0.3 s",
            "met": figure < 0.3}


def case_whole_run(folder: Path) -> dict[str, Any]:
    out = folder / "whole"
    figure = sim("run", str(MAIN_EXAMPLE), "--jobs", "1", "--quiet", "--out", str(out))
    base = _simulated_s(out)
    return {"figure_s": figure, "baseline_s": base, "target": "2x baseline + 0.5 s",
            "met": figure <= 2 * base + 0.5}


def case_whole_run_default(folder: Path) -> dict[str, Any]:
    """The main example as the README runs it (every core: the charts drawn beside the
    tables), against its simulations' own time."""
    out = folder / "whole-default"
    figure = sim("run", str(MAIN_EXAMPLE), "--quiet", "--out", str(out))
    base = _simulated_s(out)
    return {"figure_s": figure, "baseline_s": base, "target": "2x baseline + 0.5 s",
            "met": figure <= 2 * base + 0.5}


def case_cached(folder: Path) -> dict[str, Any]:
    out = folder / "cached"
    base = sim("run", str(SWEEP), "--quiet", "--out", str(out))
    figure = min(sim("run", str(SWEEP), "--quiet", "--out", str(out)) for _ in range(3))
    return {"figure_s": figure, "baseline_s": base, "target": "under 1.5 s",
            "met": figure < 1.5}


def _jobs(folder: Path, name: str, scenario: Path, *extra: str, repeat: int = 1
          ) -> tuple[float, float]:
    """(``--jobs 2``, ``--jobs 1``): the fastest of ``repeat`` runs of each, alternating, each
    into a fresh folder (nothing already written or stored)."""
    times: dict[str, list[float]] = {"1": [], "2": []}
    for i in range(repeat):
        for jobs in ("1", "2"):
            times[jobs].append(sim("run", str(scenario), *extra, "--jobs", jobs, "--quiet",
                                   "--out", str(folder / f"{name}-{jobs}-{i}")))
    return min(times["2"]), min(times["1"])


def case_jobs_small(folder: Path) -> dict[str, Any]:
    two, one = _jobs(folder, "small", SWEEP, "--replications", "1", repeat=3)
    return {"figure_s": two, "baseline_s": one, "target": "baseline, +10 % noise",
            "met": two <= 1.1 * one, "speedup": one / two}


def long_runs(folder: Path) -> Path:
    """The main example with 4x the hosts and arrivals, process and Hyper-V, 4 replications:
    8 runs of a few seconds each."""
    from sim.spec import paths

    data = yaml.safe_load(MAIN_EXAMPLE.read_text(encoding="utf-8"))
    data = paths.replace(data, "hosts[standard].count",
                         4 * paths.get(data, "hosts[standard].count"))
    rate = paths.get(data, "workloads[web].arrival.rate")
    number, unit = str(rate).split("/")
    data = paths.replace(data, "workloads[web].arrival.rate", f"{4 * float(number)}/{unit}")
    data = {**data, "name": "long-runs", "replications": 4,
            "compare": {"isolation": ["process", "hyperv"]}}
    path = folder / "long-runs.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def case_jobs_long(folder: Path) -> dict[str, Any]:
    two, one = _jobs(folder, "long", long_runs(folder), "--no-charts")
    return {"figure_s": two, "baseline_s": one, "target": "baseline / 1.8 (1.8x)",
            "met": one / two >= 1.8, "speedup": one / two}


def _floor_s(hosts: int, instances: int) -> float:
    """The bare-SimPy floor's seconds for the common shape, timed in a fresh process (in
    this one it slows down run after run, as its heap grows)."""
    return _timed("from floor import bare_lifecycles",
                  f"bare_lifecycles({instances}, {hosts})")


def _timed(setup: str, timed: str) -> float:
    """Seconds ``timed`` takes after ``setup``, in a fresh process with the benchmarks'
    modules and ``sim`` on its path."""
    code = (f"import sys, time; sys.path.insert(0, sys.argv[1]); {setup}; "
            f"t = time.perf_counter(); {timed}; print(time.perf_counter() - t)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent)], env=env,
                          capture_output=True, text=True, check=True)
    return float(done.stdout)


def case_common_run(folder: Path, hosts: int, instances: int, jobs: str = "1"
                    ) -> dict[str, Any]:
    """The common shape as a whole ``run`` with ``jobs`` (``""``: every core, as the
    README runs it), against its bare-SimPy floor."""
    from run import common_shape

    path = folder / f"common-{hosts}.yaml"
    path.write_text(yaml.safe_dump(common_shape(hosts, instances)))
    figure = sim("run", str(path), *(("--jobs", jobs) if jobs else ()), "--quiet", "--out",
                 str(folder / f"common-{jobs or 'all'}"))
    base = min(_floor_s(hosts, instances) for _ in range(3))  # one varies twofold here
    limit = 4.0 if instances <= 20_000 else 3.0
    return {"figure_s": figure, "baseline_s": base, "target": f"within {limit:g}x baseline",
            "met": figure <= limit * base}


def azure_day(folder: Path) -> Path:
    """The Azure day with every VM (``run.azure_day``: ``scenarios/azure-replay.yaml`` at
    ``sample: 1.0``, 74,576 VMs), its three modes and its plan (``wait_s.p99<=5min``, 3
    replications), written into ``folder``."""
    from run import azure_day as day

    path = folder / "azure-day.yaml"
    path.write_text(yaml.safe_dump(day(100, AZURE_DAY), sort_keys=False))
    return path


def case_plan(folder: Path) -> dict[str, Any]:
    """``plan`` on the Azure day as a user runs it (every core, an empty run store), against
    one bare-SimPy replay of the same arrivals and lifetimes on 502 hosts (the trace read
    before its clock): the floor of one of the plan's runs, which shows how fast the machine
    is today. ``runs``: the simulations the plan made."""
    out = folder / "plan"
    figure = sim("plan", str(azure_day(folder)), "--no-charts", "--quiet", "--out", str(out))
    base = _timed("from run import trace_lifecycles, trace_shape; from floor import replayed; "
                  "a, l, d = trace_lifecycles(trace_shape(502, 100))", "replayed(a, l, 502, d)")
    return {"figure_s": figure, "baseline_s": base, "target": "under 300 s",
            "met": figure < 300, "runs": len(list((out / ".runs").glob("*/run.json")))}


CASES: dict[str, Callable[[Path], dict[str, Any]]] = {
    "import": case_import, "whole-run": case_whole_run,
    "whole-run-default": case_whole_run_default, "cached": case_cached,
    "jobs-small": case_jobs_small, "jobs-long": case_jobs_long, "plan": case_plan,
}


def measure(common_sizes: list[tuple[int, int]], tree: Path | None = None,
            only: list[str] | None = None) -> list[dict[str, Any]]:
    """Every case (``only``: those whose names start with one of these), printed as it is
    measured, on this tree or ``tree``; the rows."""
    global ROOT, MAIN_EXAMPLE, SWEEP, AZURE_DAY
    if tree is not None:
        ROOT = tree.resolve()
        MAIN_EXAMPLE = ROOT / "scenarios" / "windows-isolation.yaml"
        SWEEP = ROOT / "scenarios" / "sweep.yaml"
        AZURE_DAY = ROOT / "scenarios" / "azure-replay.yaml"
        print(f"the code and scenarios of {ROOT}")
    rows = []
    print(f"{'case':<22}{'figure s':>10}{'baseline s':>12}{'ratio':>8}  {'target':<28}met")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cases = [(name, case) for name, case in CASES.items()]
        cases += [(f"common-run {h}/{m}{' all' if not jobs else ''}",
                   lambda f, h=h, m=m, jobs=jobs: case_common_run(f, h, m, jobs))
                  for h, m in common_sizes for jobs in ("1", "")]
        if only:
            cases = [(name, case) for name, case in cases
                     if any(name.startswith(prefix) for prefix in only)]
        for name, case in cases:
            row = {"case": name, **case(folder)}
            ratio = row["figure_s"] / row["baseline_s"] if row["baseline_s"] else float("nan")
            print(f"{name:<22}{row['figure_s']:>10.2f}{row['baseline_s']:>12.2f}{ratio:>8.2f}"
                  f"  {row['target']:<28}{'yes' if row['met'] else 'NO'}", flush=True)
            rows.append({**row, "ratio": ratio})
    return rows
