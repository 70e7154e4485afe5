"""The benchmarks' shapes and floors: every shape is a valid scenario that runs, and each floor
simulates its case's lifecycle (arrival, start slot, start delay, lifetime), counted exactly on
tiny cases. Speed itself is measured by ``benchmarks/run.py``, not here."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from floor import bare_lifecycles, same_lifecycle
from run import common_shape, full_lifecycle, full_shape, storm_shape

from sim.edge.loader import load_text
from sim.experiment.expand import expand
from sim.run.runner import execute


@pytest.mark.parametrize("shape", [common_shape, storm_shape, full_shape])
def test_shapes_are_scenarios_that_run(shape):
    specs = expand(load_text(yaml.safe_dump(shape(20, 60)), "benchmark"))
    started = sum(execute(spec).metrics["started"] for spec in specs)
    assert started > 0


def test_full_lifecycle_is_the_main_examples():
    assert full_lifecycle(full_shape(10, 30)) == {
        "modes": 3, "duration_s": 14400.0, "lifetime": (1200.0, 7200.0)}


def test_common_floor_starts_every_instance_that_gets_a_slot():
    # 4 hosts x 8 slots; 64 arrivals spread over 100 s with a 1 s start: no slot is ever
    # refused for long, and only arrivals in the last second miss running
    done = bare_lifecycles(64, 4, horizon_s=100.0)
    assert 60 <= done <= 64
    # one host, one burst: 8 slots, a 1 s start each, 1,000 arrivals within 1 s reach at most
    # 8 running per second of the horizon
    assert bare_lifecycles(1000, 1, horizon_s=1.0) == 0
    assert bare_lifecycles(1000, 1, horizon_s=10.0) <= 8 * 9


def test_same_lifecycle_floor_counts_every_mode():
    lifetime = (60.0, 120.0)
    total = same_lifecycle(31, 5, modes=3, duration_s=3600.0, lifetime=lifetime)
    parts = [bare_lifecycles(n, 5, horizon_s=3600.0, seed=1 + k, lifetime=lifetime)
             for k, n in enumerate((11, 10, 10))]
    assert total == sum(parts)
    assert 28 <= total <= 31
    # lifetimes that end free their hosts' slots only at the start's end: the count is the same
    # whatever the lifetimes, so ending them changes the work, not the answer
    assert same_lifecycle(31, 5, modes=3, duration_s=3600.0, lifetime=(1.0, 2.0)) == total


def test_the_plan_case_plans_the_azure_day_with_every_vm(tmp_path):
    from overhead import azure_day

    loaded = load_text(azure_day(tmp_path).read_text(encoding="utf-8"), "azure-day")
    arrival = loaded.scenario.workloads[0].arrival
    assert arrival.sample == 1.0 and Path(arrival.path).is_file()
    assert loaded.scenario.plan is not None and loaded.scenario.plan.slo == ["wait_s.p99<=5min"]
    assert list(loaded.trace_rows.values()) == [74_576]  # every VM of the day
