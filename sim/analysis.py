"""Statistics computed after a run from its recorded facts: the warm-up cut, percentiles and
time averages that make ``summary.json``.

Owns: every statistic's definition. Must not: touch SimPy or files.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from sim.recorder import TRANSITIONS, InstanceRecord, Level

# phase name -> (from transition, to transition)
PHASES = {
    "pull": ("slot", "pulled"),
    "extract": ("pulled", "extracted"),
    "copy": ("extracted", "copied"),
    "create": ("copied", "created"),
    "boot": ("created", "booted"),
    "app_start": ("booted", "running"),
}


def instances_frame(records: list[InstanceRecord]) -> pd.DataFrame:
    """One row per instance, one column per field of ``InstanceRecord``."""
    columns = ["id", "workload", "tenant", "isolation", "host", *TRANSITIONS, "rejected",
               "pulled_bytes"]
    return pd.DataFrame({c: [getattr(r, c) for r in records] for c in columns})


def describe(values: np.ndarray) -> dict[str, float | None]:
    """mean, p50, p95, p99 and max of ``values`` (None for each when there are none)."""
    if len(values) == 0:
        return {"mean": None, "p50": None, "p95": None, "p99": None, "max": None}
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {"mean": float(np.mean(values)), "p50": float(p50), "p95": float(p95),
            "p99": float(p99), "max": float(np.max(values))}


def time_average(level: Level | None, start: float, end: float) -> float:
    """The time average of a piecewise-constant level over [start, end]."""
    if level is None or end <= start:
        return 0.0
    times = np.asarray(level.times + [end])
    values = np.asarray(level.values)
    lo = np.clip(times[:-1], start, end)
    hi = np.clip(times[1:], start, end)
    return float(np.sum(values * (hi - lo)) / (end - start))


def time_quantile(level: Level | None, q: float, start: float, end: float) -> float:
    """The ``q`` quantile of a level's value over [start, end], weighting values by time."""
    if level is None or end <= start:
        return 0.0
    times = np.asarray(level.times + [end])
    values = np.asarray(level.values)
    weights = np.clip(times[1:], start, end) - np.clip(times[:-1], start, end)
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    index = int(np.searchsorted(cumulative, q * cumulative[-1] * (1 - 1e-12)))
    return float(values[order][min(index, len(order) - 1)])


def peak(level: Level | None, start: float, end: float) -> float:
    """The largest value a level takes in [start, end]."""
    if level is None:
        return 0.0
    times = np.asarray(level.times)
    values = np.asarray(level.values)
    first = max(int(np.searchsorted(times, start, side="right")) - 1, 0)
    last = int(np.searchsorted(times, end, side="right"))
    return float(values[first:last].max()) if last > first else 0.0


def summarize(frame: pd.DataFrame, levels: dict[str, Level], host_levels: dict[int, Level],
              memory_capacity: float, warmup: float, duration: float) -> dict[str, Any]:
    """The metrics of one run (one variant) as they appear in ``summary.json``."""
    counted = frame[frame["arrival"] >= warmup]
    started = counted[counted["running"].notna()]
    requests = len(counted)
    rejected = int(counted["rejected"].sum())
    waits = (counted["slot"] - counted["arrival"]).dropna().to_numpy()
    phases = {}
    for name, (a, b) in PHASES.items():
        spans = (started[b] - started[a]).to_numpy()
        d = describe(spans)
        phases[name] = {"mean": d["mean"], "p95": d["p95"]}
    return {
        "requests": requests,
        "started": len(started),
        "rejected": rejected,
        "blocking": rejected / requests if requests else 0.0,
        "pending_at_end": int(requests - len(started) - rejected),
        "startup_s": describe((started["running"] - started["arrival"]).to_numpy()),
        "wait_s": describe(waits),
        "all_running_s": (float(started["running"].max() - counted["arrival"].min())
                          if len(started) else None),
        "waited_fraction": float(np.mean(waits > 0)) if len(waits) else 0.0,
        "phases_s": phases,
        "running_mean": time_average(levels.get("running"), warmup, duration),
        "running_p99": time_quantile(levels.get("running"), 0.99, warmup, duration),
        "running_peak": peak(levels.get("running"), warmup, duration),
        "starting_mean": time_average(levels.get("starting"), warmup, duration),
        "queued_mean": time_average(levels.get("queued"), warmup, duration),
        "density_max": max((peak(lv, warmup, duration) for lv in host_levels.values()),
                           default=0.0),
        "hosts_used_max": peak(levels.get("hosts_used"), warmup, duration),
        "memory_utilization_mean": time_average(levels.get("memory_committed"), warmup,
                                                duration) / memory_capacity,
        "pulled_bytes": float(counted["pulled_bytes"].sum()),
    }


def per_host_peaks(host_levels: dict[int, Level], n_hosts: int, warmup: float,
                   duration: float) -> list[float]:
    """The most instances each host held at once after warm-up (0 for hosts never used)."""
    return [peak(host_levels.get(h), warmup, duration) for h in range(n_hosts)]


def clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become None, recursively."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def metric_names() -> set[str]:
    """The dotted names of every metric ``summarize`` produces (for SLOs and checks)."""
    from sim.recorder import TRANSITIONS

    columns = ["arrival", "rejected", "pulled_bytes", *TRANSITIONS]
    empty = pd.DataFrame({c: pd.Series(dtype=float) for c in columns})
    metrics = summarize(empty, {}, {}, 1.0, 0.0, 1.0)
    names: set[str] = set()

    def walk(node: dict[str, Any], prefix: str) -> None:
        for key, value in node.items():
            if isinstance(value, dict):
                walk(value, f"{prefix}{key}.")
            else:
                names.add(f"{prefix}{key}")

    walk(metrics, "")
    return names
