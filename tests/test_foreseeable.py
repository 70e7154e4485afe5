"""Start-ups booked ahead (``Startup.book``) are the phase-by-phase start-ups, bit for bit.

When nothing can change a start-up's pace once it begins (no fault, no rollout, no noise class)
and the host's CPU pool is never contended, create, boot and app start are worked out when
create begins: one event instead of three. Everything recorded must be what the phases give one
event at a time: every transition time, every sample, every metric.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sim.experiment.expand import expand
from sim.model import startup as startup_module
from sim.run.runner import execute
from tests.helpers import FREE, load, scenario

ROOT = Path(__file__).resolve().parent.parent


def _shrunk_main_example() -> dict:
    data = yaml.safe_load((ROOT / "scenarios" / "windows-isolation.yaml").read_text())
    data["hosts"][0]["count"] = 3
    data["hosts"][0]["max_concurrent_starts"] = 3
    data["duration"] = "40min"  # the end cuts through start-ups in progress
    data["warmup"] = "5min"
    data["workloads"][0]["arrival"] = {"kind": "poisson", "rate": "0.2/s"}
    return data


def _nested_constant() -> dict:
    """Container-host VMs (nesting stretches start-ups), constant phases that tie, CPU-bound
    fractions that split each phase into work and a wait, a create time growing with the
    instances running, bursts that queue for start slots, an end in the middle of them."""
    profile = {**FREE, "create": "2s", "boot": "3s", "cpu_bound_fraction": 0.4,
               "create_per_running": "0.25s", "nested": {"boot_factor": 1.5}}
    return scenario(
        duration="90s", timeseries_interval="1s", placement="spread",
        hosts=[{"group": "metal", "count": 1, "cpu_cores": 64, "memory": "512GiB",
                "disk": "100TiB", "disk_rate": "1GB/s", "nic": "10Gbit/s"},
               {"group": "vms", "count": 2, "cpu_cores": 4, "memory": "250GiB",
                "disk": "50TiB", "disk_rate": "1GB/s", "nic": "10Gbit/s",
                "max_concurrent_starts": 3, "preloaded_images": ["base"],
                "virtual": {"physical_group": "metal", "per_physical": 2}}],
        workloads=[{"name": "w", "image": "base", "isolation": "free", "cpu": 1,
                    "memory": "1GiB", "app_start": "1s", "lifetime": "20s",
                    "arrival": {"kind": "constant", "interval": "2s", "count": 30}},
                   {"name": "burst", "image": "base", "isolation": "free", "cpu": 1,
                    "memory": "1GiB", "app_start": {"dist": "uniform", "low": "0s",
                                                    "high": "4s"},
                    "arrival": {"kind": "burst", "count": 25, "at": "60s"}}],
        profiles={"free": profile})


@pytest.mark.parametrize("make", [_shrunk_main_example, _nested_constant])
def test_start_ups_booked_ahead_record_what_the_phases_one_by_one_record(make, monkeypatch):
    specs = expand(load(make()), None, replications=1)
    booked = []
    book = startup_module.Startup.book

    def counting(self, *args):
        booked.append(1)
        return book(self, *args)

    monkeypatch.setattr(startup_module.Startup, "book", counting)
    ahead = [execute(spec) for spec in specs]
    assert booked, "no start-up was booked ahead: the test would compare a path with itself"
    monkeypatch.setattr(startup_module.Startup, "can_book", lambda self, host: False)
    booked.clear()
    one_by_one = [execute(spec) for spec in specs]
    assert not booked
    unfinished = 0
    for a, b in zip(ahead, one_by_one, strict=True):
        pd.testing.assert_frame_equal(a.instances, b.instances, check_exact=True)
        pd.testing.assert_frame_equal(a.timeseries, b.timeseries, check_exact=True)
        assert _same(a.metrics, b.metrics)
        frame = a.instances
        unfinished += int((frame["running"].isna() & frame["slot"].notna()).sum())
    assert unfinished > 0, "the end should cut through start-ups in progress"


def _same(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return a == b



def test_no_phase_comes_out_negative_where_a_start_up_lands_an_ulp_early():
    """A start-up booked ahead ends where SimPy's clock can land, which may be an ulp before
    the end booked for its boot: a VM's app start of 0 s came out at -7e-17 s on average in
    ``density.yaml``. Every phase's statistics are at least 0, and a phase of 0 s is 0."""
    data = yaml.safe_load((ROOT / "scenarios" / "density.yaml").read_text())
    data["workloads"][0]["arrival"]["count"] = 200
    data["compare"] = {"isolation": ["vm"]}
    (spec,) = expand(load(data), None, replications=1)
    out = execute(spec)
    frame = out.instances.dropna(subset=["running"])
    assert (frame["running"] < frame["booted"]).any(), "no start-up landed early: no case here"
    phases = out.metrics["phases_s"]
    assert phases["app_start"] == {"mean": 0.0, "p95": 0.0}
    assert all(v >= 0 for phase in phases.values() for v in phase.values() if v is not None)
