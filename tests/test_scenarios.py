"""Every shipped scenario validates and runs, and its summary has the documented shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from sim.cli import main

SCENARIOS = sorted(Path("scenarios").glob("*.yaml"))
METRICS = {"isolation", "requests", "started", "rejected", "blocking", "startup_s", "wait_s",
           "phases_s", "running_mean", "running_peak", "density_max", "hosts_used_max",
           "memory_utilization_mean"}


def test_there_are_scenarios():
    names = {p.stem for p in SCENARIOS}
    assert {"windows-isolation", "boot-storm", "density"} <= names


def yaml_has_workloads(path: Path) -> bool:
    """Whether the scenario file has workloads (a commands script may stand alone)."""
    return bool(yaml.safe_load(path.read_text()).get("workloads"))


@pytest.mark.slow
@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_scenario_validates_and_runs(path, tmp_path, capsys):
    assert main(["validate", str(path)]) == 0
    assert main(["run", str(path), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    summary = json.loads(next(tmp_path.glob("*/summary.json")).read_text())
    points = summary.get("points", [summary])
    variants = [(name, m) for point in points for name, m in point["variants"].items()]
    assert variants
    for name, metrics in variants:
        assert name in out
        assert set(metrics) >= METRICS
        assert set(metrics["startup_s"]) == {"mean", "p50", "p95", "p99", "max"}
        assert {"pull", "extract", "create", "boot", "app_start"} <= set(metrics["phases_s"])
        if "commands" in summary:  # a script: every step of it done in every variant
            script = metrics["commands"]
            assert script["finished"] == 1.0 and script["completed"] == script["steps"]
            assert len(script["step_s"]) == len(summary["commands"])
        if not yaml_has_workloads(path):
            continue
        assert metrics["started"] > 0
    folder = next(tmp_path.glob("*/summary.json")).parent
    charts = (["sweep_*"] if "points" in summary else
              ["startup_cdf", "startup_phases", "running", "density", "memory"]
              if yaml_has_workloads(path) else [])
    if "commands" in summary:
        charts.append("commands_timeline")
    for chart in charts:
        for png in folder.glob(f"{chart}.png"):
            assert png.stat().st_size > 10_000
        assert list(folder.glob(f"{chart}.png"))
    for table in ("runs.csv", "runs.parquet", "aggregate.csv", "instances.csv",
                  "timeseries.csv", "scenario.resolved.yaml"):
        assert (folder / table).is_file()
    assert [p.name for p in tmp_path.glob(".*")] == [".runs"]  # no staging folders left


@pytest.mark.slow
def test_main_example_compares_the_three_modes_in_the_expected_order(tmp_path):
    main(["run", "scenarios/windows-isolation.yaml", "--out", str(tmp_path), "--no-charts",
          "--quiet"])
    v = json.loads((tmp_path / "windows-isolation" / "summary.json").read_text())["variants"]
    assert list(v) == ["process", "hyperv", "vm"]
    p50 = [v[m]["startup_s"]["p50"] for m in v]
    memory = [v[m]["memory_utilization_mean"] for m in v]
    assert p50 == sorted(p50) and memory == sorted(memory)
    assert v["process"]["requests"] == v["hyperv"]["requests"] == v["vm"]["requests"]
