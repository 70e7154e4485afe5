"""Invariants that must hold for any scenario (property-based, over random small scenarios):
transitions in order, capacity never exceeded, start slots respected, every request
accounted for."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.edge.loader import ScenarioError
from sim.recorder import TRANSITIONS
from sim.spec.demand import demand
from tests.helpers import load, only

MODES = ["process", "hyperv", "vm"]


@st.composite
def scenarios(draw):
    hosts = [{"group": f"g{i}", "count": draw(st.integers(1, 3)),
              "cpu_cores": draw(st.integers(2, 16)),
              "cpu_overcommit": draw(st.sampled_from([1.0, 2.0])),
              "memory": f"{draw(st.integers(4, 32))}GiB", "reserved_memory": "1GiB",
              "disk": f"{draw(st.integers(20, 200))}GiB", "disk_rate": "500MB/s",
              "nic": "1Gbit/s", "max_concurrent_starts": draw(st.integers(1, 4)),
              "preloaded_images": draw(st.sampled_from([[], ["base"]]))}
             for i in range(draw(st.integers(1, 2)))]
    workloads = []
    for i in range(draw(st.integers(1, 2))):
        arrival = draw(st.sampled_from([
            {"kind": "burst", "count": draw(st.integers(1, 30)), "at": "1s"},
            {"kind": "poisson", "rate": f"{draw(st.integers(1, 20))}/min"}]))
        workloads.append({
            "name": f"w{i}", "image": draw(st.sampled_from(["base", "app"])),
            "isolation": draw(st.sampled_from(MODES)), "tenant": f"t{i}",
            "cpu": draw(st.sampled_from([0.5, 1, 2])),
            "memory": f"{draw(st.sampled_from([256, 512, 1024, 2048]))}MiB",
            "app_start": {"dist": "exponential", "mean": "1s"},
            "lifetime": draw(st.sampled_from([None, "2min", {"dist": "exponential",
                                                             "mean": "5min"}])),
            "arrival": arrival, "on_full": draw(st.sampled_from(["queue", "reject"]))})
    for wl in workloads:
        if wl["lifetime"] is None:
            del wl["lifetime"]
    return {
        "name": "prop", "seed": draw(st.integers(0, 1000)), "duration": "30min",
        "hosts": hosts, "registry": {"bandwidth": "1Gbit/s", "latency": "10ms"},
        "images": [{"name": "base", "os_build": "ltsc2022", "layers": ["2GiB"]},
                   {"name": "app", "base": "base", "layers": ["100MiB", "20MiB"]}],
        "workloads": workloads,
        "placement": draw(st.sampled_from(["first-fit", "best-fit", "spread", "random",
                                           "image-locality"])),
    }


def _max_concurrent(starts: np.ndarray, ends: np.ndarray) -> float:
    """The largest number of [start, end) intervals open at once (ends first on ties)."""
    events = sorted([(t, 1) for t in starts] + [(t, -1) for t in ends],
                    key=lambda e: (e[0], e[1]))
    level = peak = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    return peak


@pytest.mark.slow
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(scenarios())
def test_invariants_hold_for_any_scenario(data):
    try:
        loaded = load(data)
    except ScenarioError as exc:  # only "no host can ever run it" may reject a draw
        assert all("no host can ever run it" in p.message for p in exc.problems), exc
        return
    result = only(data)
    df = result.instances
    end = loaded.scenario.duration
    # 1. transitions happen in order, and once one is missing so are the later ones
    times = df[list(TRANSITIONS)].to_numpy(dtype=float)
    for row in times:
        reached = row[~np.isnan(row)]
        assert (np.diff(reached) >= -1e-9).all()
        assert np.isnan(row[len(reached):]).all()
    # 2. every request is accounted for
    m = result.metrics
    assert m["requests"] == m["started"] + m["rejected"] + m["pending_at_end"]
    assert (df.loc[df["rejected"], "host"] == -1).all()
    assert (df.loc[df["running"].notna(), "host"] >= 0).all()
    # 3. no host ever holds more committed memory than it has, nor runs more
    #    start-ups at once than its start slots
    images = {i.name: i for i in loaded.scenario.images}
    need = {wl.name: demand(wl, loaded.profiles[wl.isolation], images)
            for wl in loaded.scenario.workloads}
    specs = [g for g in loaded.scenario.hosts for _ in range(g.count)]
    for host, rows in df[df["host"] >= 0].groupby("host"):
        spec = specs[int(host)]
        placed = rows["placed"].to_numpy()
        removed = rows["removed"].fillna(end + 1).to_numpy()
        memory = np.array([need[w].memory for w in rows["workload"]])
        events = sorted([(t, +mem) for t, mem in zip(placed, memory)]
                        + [(t, -mem) for t, mem in zip(removed, memory)],
                        key=lambda e: (e[0], e[1]))
        level = 0.0
        for _, step in events:
            level += step
            assert level <= spec.memory - spec.reserved_memory + 1e-3
        slot = rows["slot"].dropna()
        running = rows.loc[slot.index, "running"].fillna(end + 1)
        assert _max_concurrent(slot.to_numpy(), running.to_numpy()) \
            <= spec.max_concurrent_starts
