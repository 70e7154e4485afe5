"""Statistics computed after a run from its recorded facts: the warm-up cut, percentiles and
time averages that make ``summary.json``.

Owns: every statistic's definition. Must not: touch SimPy or files.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.steady import warmup_estimate
from sim.recorder import COLUMNS, TRANSITIONS, FaultRecord, Level, Steps

FAULT_KINDS = ("host_hardware", "host_kernel", "instance_kernel")

# phase name -> (from transition, to transition)
PHASES = {
    "pull": ("slot", "pulled"),
    "extract": ("pulled", "extracted"),
    "copy": ("extracted", "copied"),
    "create": ("copied", "created"),
    "boot": ("created", "booted"),
    "app_start": ("booted", "running"),
}


def instances_frame(table: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per instance, one column per field of ``InstanceRecord``, from the recorder's
    table (``Recorder.table``)."""
    return pd.DataFrame({c: table[c] for c in COLUMNS})


def record_levels(table: dict[str, np.ndarray]) -> tuple[dict[str, Steps], dict[int, Steps]]:
    """The levels the instance records hold, worked out after the run: ``running`` (from
    ``running`` to ``stopping``, or to ``removed`` when taken down before stopping),
    ``starting`` (from ``slot`` to ``running``, or to ``removed``), ``hosts_used`` (hosts
    holding at least one instance), and each host's instance count (from ``placed`` to
    ``removed``). A missing end (NaN) means to the end of the run. Each level holds one value
    per distinct time, the last, as ``Level.set`` keeps it."""
    running, stopping, removed = table["running"], table["stopping"], table["removed"]
    ran = ~np.isnan(running)
    end = np.where(np.isnan(stopping), removed, stopping)[ran]
    levels = {"running": level_of(*changes(running[ran], end))}
    slot = table["slot"]
    got = ~np.isnan(slot)
    levels["starting"] = level_of(*changes(slot[got], np.where(ran, running, removed)[got]))
    placed = table["placed"]
    on = (table["host"] >= 0) & ~np.isnan(placed)
    times, deltas, hosts = changes(placed[on], removed[on], table["host"][on])
    order = np.lexsort((times, hosts))  # by host, then time
    hosts, times, deltas = hosts[order], times[order], deltas[order]
    counts = pd.Series(deltas).groupby(hosts).cumsum().to_numpy()  # each host's own count
    keep = ~_superseded(hosts, times)  # each host's count after the last change at a time
    hosts, times, counts = hosts[keep], times[keep], counts[keep]
    first = firsts(hosts)
    before = np.where(first, 0, np.r_[0, counts[:-1]])  # each host starts empty
    flips = (before == 0) != (counts == 0)  # a host taken into use, or emptied
    levels["hosts_used"] = level_of(times[flips], np.where(before[flips] == 0, 1, -1))
    host_levels: dict[int, Steps] = {}
    for a, b in itertools.pairwise([*np.flatnonzero(first).tolist(), len(hosts)]):
        host_levels[int(hosts[a])] = _from_points(times[a:b], counts[a:b])
    return levels, host_levels


def firsts(keys: np.ndarray) -> np.ndarray:
    """Where each run of equal ``keys`` begins (a boolean per element)."""
    return np.r_[True, keys[1:] != keys[:-1]][:len(keys)]


def _superseded(*keys: np.ndarray) -> np.ndarray:
    """Where the next element has the same ``keys`` (a boolean per element)."""
    same = np.ones(max(len(keys[0]) - 1, 0), dtype=bool)
    for k in keys:
        same &= k[1:] == k[:-1]
    return np.r_[same, False][:len(keys[0])]


def changes(starts: np.ndarray, ends: np.ndarray, *keys: np.ndarray
             ) -> tuple[np.ndarray, ...]:
    """(times, deltas, keys...): +1 at each start and -1 at each end that is not NaN."""
    ended = ~np.isnan(ends)
    times = np.concatenate([starts, ends[ended]])
    deltas = np.concatenate([np.ones(len(starts), dtype=np.int64),
                             -np.ones(int(ended.sum()), dtype=np.int64)])
    return (times, deltas, *(np.concatenate([k, k[ended]]) for k in keys))


def level_of(times: np.ndarray, deltas: np.ndarray) -> Steps:
    """A level from 0 that changes by ``deltas`` at ``times`` (in any order)."""
    order = np.argsort(times, kind="stable")
    times, values = times[order], np.cumsum(deltas[order])
    keep = ~_superseded(times)  # the value after the last change at each time
    return _from_points(times[keep], values[keep])


def _from_points(times: np.ndarray, values: np.ndarray) -> Steps:
    """A level that is 0 from time 0 and ``values[i]`` from ``times[i]`` on."""
    if len(times) and times[0] == 0.0:
        return Steps(times, values)
    return Steps(np.concatenate([[0.0], times]),
                 np.concatenate([np.zeros(1, dtype=values.dtype), values]))


def describe(values: np.ndarray) -> dict[str, float | None]:
    """mean, p50, p95, p99 and max of ``values`` (None for each when there are none)."""
    if len(values) == 0:
        return {"mean": None, "p50": None, "p95": None, "p99": None, "max": None}
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {"mean": float(np.mean(values)), "p50": float(p50), "p95": float(p95),
            "p99": float(p99), "max": float(np.max(values))}


def time_average(level: Level | Steps | None, start: float, end: float) -> float:
    """The time average of a piecewise-constant level over [start, end]."""
    if level is None or end <= start:
        return 0.0
    times, values = level.arrays()
    times = np.append(times, end)
    lo = np.clip(times[:-1], start, end)
    hi = np.clip(times[1:], start, end)
    return float(np.sum(values * (hi - lo)) / (end - start))


def time_quantile(level: Level | Steps | None, q: float, start: float, end: float) -> float:
    """The ``q`` quantile of a level's value over [start, end], weighting values by time."""
    if level is None or end <= start:
        return 0.0
    times, values = level.arrays()
    times = np.append(times, end)
    weights = np.clip(times[1:], start, end) - np.clip(times[:-1], start, end)
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    index = int(np.searchsorted(cumulative, q * cumulative[-1] * (1 - 1e-12)))
    return float(values[order][min(index, len(order) - 1)])


def _window(level: Level | Steps, start: float, end: float) -> tuple[np.ndarray, int, int]:
    """A level's values and the index range [first, last) of those it takes in [start, end]."""
    times, values = level.arrays()
    first = max(int(np.searchsorted(times, start, side="right")) - 1, 0)
    last = int(np.searchsorted(times, end, side="right"))
    return values, first, last


def peak(level: Level | Steps | None, start: float, end: float) -> float:
    """The largest value a level takes in [start, end]."""
    if level is None:
        return 0.0
    values, first, last = _window(level, start, end)
    return float(values[first:last].max()) if last > first else 0.0


def _steady(level: Level | Steps | None, warmup: float, duration: float) -> dict[str, float]:
    """``warmup_mser_s``: the warm-up MSER-5 finds in the running level
    (``sim.analysis.steady``); ``level_settled``: 1 if that level settled within the run's
    first half, else 0 (a mean over replications: the share that settled);
    ``warmup_bias``: how far the level's time average after the stated warm-up is from its
    average after MSER-5's cut (relative; 0 when the stated warm-up is the longer)."""
    if level is None:
        return {"warmup_mser_s": 0.0, "level_settled": 1.0, "warmup_bias": 0.0}
    times, values = level.arrays()
    cut, settled = warmup_estimate(np.asarray(times, dtype=float),
                                   np.asarray(values, dtype=float), duration)
    bias = 0.0
    if cut > warmup:
        after_cut = time_average(level, cut, duration)
        if after_cut > 0:
            bias = time_average(level, warmup, duration) / after_cut - 1.0
    return {"warmup_mser_s": cut, "level_settled": 1.0 if settled else 0.0,
            "warmup_bias": bias}


def summarize(frame: pd.DataFrame, levels: Mapping[str, Level | Steps],
              host_levels: Mapping[int, Level | Steps], memory_capacity: float, warmup: float,
              duration: float,
              faults: list[FaultRecord] | None = None,
              physical_levels: Mapping[int, Level | Steps] | None = None,
              pipeline_runs: list[dict[str, Any]] | None = None,
              workloads: Sequence[str] = ()) -> dict[str, Any]:
    """The metrics of one run (one variant) as they appear in ``summary.json``.

    Start-up, wait and phase statistics count requests (first starts) arriving after the
    warm-up; restarts after faults have their own ``restart_startup_s``. With more than one
    name in ``workloads`` (the scenario's workloads), ``startup_by_workload_s`` gives each
    workload's start-up statistics over the same requests, in that order.
    """
    if "attempt" in frame:
        if "origin" in frame:
            frame = _rows(frame, frame["origin"] != "test")  # a pipeline's tests: not load
        restarts = frame[(frame["attempt"] > 0) & (frame["arrival"] >= warmup)]
        if "origin" in frame:  # a live migration's arrival on its new host is no restart
            restarts = restarts[restarts["origin"] != "migration"]
        frame_first = _rows(frame, frame["attempt"] == 0)
        if "origin" in frame:
            frame_first = _rows(frame_first, frame_first["origin"] == "arrival")
    else:
        restarts = frame.iloc[0:0]
        frame_first = frame
    isolation = isolation_metrics(frame, restarts, levels, host_levels, warmup, duration,
                                  faults or [], physical_levels or {})
    pipelines = (pipeline_metrics(pipeline_runs, frame, levels) if pipeline_runs else None)
    full = frame
    # only the columns read below (a selection of rows copies every column it has)
    by_workload = len(workloads) > 1
    read = ("arrival", "rejected", *TRANSITIONS[2:], *(["workload"] if by_workload else []))
    frame = frame_first[[c for c in read if c in frame_first]]
    counted = frame[frame["arrival"] >= warmup]
    started = counted[counted["running"].notna()]
    requests = len(counted)
    rejected = int(counted["rejected"].sum())
    waits = (counted["slot"] - counted["arrival"]).dropna().to_numpy()
    phases = {}
    for name, (a, b) in PHASES.items():
        # a start-up booked ahead ends where SimPy's clock can land, which may be an ulp
        # before the end booked for its boot: an app start of 0 s came out at -1e-16 s
        spans = np.maximum((started[b] - started[a]).to_numpy(), 0.0)
        d = describe(spans)
        phases[name] = {"mean": d["mean"], "p95": d["p95"]}
    startups = started["running"] - started["arrival"]
    return {
        "requests": requests,
        "started": len(started),
        "rejected": rejected,
        "blocking": rejected / requests if requests else 0.0,
        "pending_at_end": int(requests - len(started) - rejected),
        "queued_at_end": int((counted["slot"].isna() & counted["running"].isna()
                              & ~counted["rejected"].astype(bool)).sum()),
        "pending_age_s": describe(duration - counted.loc[
            counted["running"].isna() & ~counted["rejected"].astype(bool), "arrival"].to_numpy()),
        "startup_s": describe(startups.to_numpy()),
        **({"startup_by_workload_s": _by_workload(startups, started["workload"], workloads)}
           if by_workload else {}),
        "wait_s": describe(waits),
        "all_running_s": (float(started["running"].max() - counted["arrival"].min())
                          if len(started) else None),
        "waited_fraction": float(np.mean(waits > 0)) if len(waits) else 0.0,
        "phases_s": phases,
        "running_mean": time_average(levels.get("running"), warmup, duration),
        **_steady(levels.get("running"), warmup, duration),
        "running_p99": time_quantile(levels.get("running"), 0.99, warmup, duration),
        "running_peak": peak(levels.get("running"), warmup, duration),
        "starting_mean": time_average(levels.get("starting"), warmup, duration),
        "queued_mean": time_average(levels.get("queued"), warmup, duration),
        "density_max": max((peak(lv, warmup, duration) for lv in host_levels.values()),
                           default=0.0),
        "hosts_used_max": peak(levels.get("hosts_used"), warmup, duration),
        "memory_utilization_mean": time_average(levels.get("memory_committed"), warmup,
                                                duration) / memory_capacity,
        "pulled_bytes": float(full.loc[full["arrival"] >= warmup, "pulled_bytes"].sum()),
        # layers image GC removed from hosts' disks over the whole run (it only grows)
        "image_gc_removed_bytes": peak(levels.get("image_gc_removed_bytes"), 0.0, duration),
        **isolation,
        **({"pipelines": pipelines} if pipelines is not None else {}),
    }


def _by_workload(values: pd.Series, names: pd.Series, workloads: Sequence[str]
                 ) -> dict[str, dict[str, float | None]]:
    """``describe`` of ``values`` per workload, for every one of ``workloads`` (None for each
    statistic of a workload without values), so that every run has the same keys."""
    parts = {name: part.to_numpy() for name, part in values.groupby(names, sort=False)}
    return {name: describe(parts.get(name, np.array([]))) for name in workloads}


def _rows(frame: pd.DataFrame, mask: pd.Series) -> pd.DataFrame:
    """``frame[mask]``, or ``frame`` itself when the mask keeps every row (no copy)."""
    return frame if mask.all() else frame[mask]


def _mean(values: Sequence[float | None]) -> float | None:
    """The mean of the values that are neither None nor NaN (None if there are none)."""
    kept = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(kept)) if kept else None


def pipeline_metrics(runs: list[dict[str, Any]], frame: pd.DataFrame,
                     levels: Mapping[str, Level | Steps]) -> dict[str, Any]:
    """Per pipeline: runs, mean step times over the runs that reached them, and what the
    rollouts did: bytes pulled, peak registry egress, the dip in running instances, and the
    start-up p99 of instances requested while a rollout was in progress."""
    out: dict[str, Any] = {}
    egress = levels.get("registry_egress_Bps")
    for name in dict.fromkeys(r["pipeline"] for r in runs):
        rows = [r for r in runs if r["pipeline"] == name]

        def span(r: dict[str, Any], a: str, b: str) -> float | None:
            return r[b] - r[a] if a in r and b in r else None

        windows = [(r["rollout_start"], r.get("rollout_end", math.inf), r.get("workload"))
                   for r in rows if "rollout_start" in r]
        peak_bps = max((peak(egress, a, min(b, 1e300)) * 8 for a, b, _ in windows),
                       default=None) if egress is not None else (0.0 if windows else None)
        dips, starts = [], []
        for a, b, workload in windows:
            level = levels.get(f"running_workload:{workload}")
            before = value_at(level, a)
            low = _minimum(level, a, b)
            if before > 0:
                dips.append(1.0 - low / before)
            inside = frame[(frame["workload"] == workload) & (frame["arrival"] >= a)
                           & (frame["arrival"] <= b) & frame["running"].notna()]
            starts.extend((inside["running"] - inside["arrival"]).tolist())
        out[name] = {
            "runs": len(rows),
            "completed": sum(1 for r in rows if "finished" in r),
            "build_s": _mean([span(r, "build_start", "build_end") for r in rows]),
            "test_s": _mean([span(r, "test_start", "test_end") for r in rows]),
            "push_s": _mean([span(r, "push_start", "push_end") for r in rows]),
            "pre_pull_s": _mean([span(r, "rollout_start", "switch") for r in rows]),
            "rollout_s": _mean([span(r, "rollout_start", "rollout_end") for r in rows]),
            "commit_to_production_s": _mean([span(r, "triggered", "finished") for r in rows]),
            "bytes_pulled": _mean([r.get("bytes_pulled") for r in rows]),
            "registry_egress_peak_bps": peak_bps,
            "capacity_dip": max(dips) if dips else None,
            "rollout_startup_p99_s": (float(np.percentile(starts, 99)) if starts else None),
        }
    return out


def value_at(level: Level | Steps | None, t: float) -> float:
    """The level's value just before ``t`` (before anything that happens at ``t``)."""
    if level is None:
        return 0.0
    times, values = level.arrays()
    i = int(np.searchsorted(times, t, side="left")) - 1
    return float(values[max(i, 0)])


def _minimum(level: Level | Steps | None, start: float, end: float) -> float:
    """The smallest value a level takes in [start, end]."""
    if level is None:
        return 0.0
    values, first, last = _window(level, start, end)
    return float(values[first:max(last, first + 1)].min())


def isolation_metrics(frame: pd.DataFrame, restarts: pd.DataFrame,
                      levels: Mapping[str, Level | Steps], host_levels: Mapping[int, Level | Steps],
                      warmup: float, duration: float,
                      faults: list[FaultRecord], physical_levels: Mapping[int, Level | Steps]
                      ) -> dict[str, Any]:
    """Faults, blast radius, availability, kernel sharing across tenants and slowdown.

    ``availability``: the running instance-time over the requested instance-time, both
    within [warmup, duration]; a request is requested from its arrival until it meant to
    stop (its own stop; for one a fault ended for good, when its lifetime would have run
    out; the end of the run for services). ``lost_instance_hours``: from each fault that
    took an instance down until it ran again (or its request ended).
    """
    counted = [f for f in faults if f.time >= warmup]
    radius = np.array([f.disrupted for f in counted], dtype=float)
    d = describe(radius)
    out: dict[str, Any] = {
        "faults": {kind: sum(1 for f in counted if f.kind == kind) for kind in FAULT_KINDS},
        "blast_radius": {"mean": d["mean"], "p99": d["p99"], "max": d["max"]},
        "tenants_per_fault_mean": (float(np.mean([f.tenants for f in counted]))
                                   if counted else None),
    }
    available, lost = availability(frame, warmup, duration)
    out["availability"] = available
    out["lost_instance_hours"] = lost
    out["restarts"] = len(restarts)
    started = restarts[restarts["running"].notna()] if len(restarts) else restarts
    out["restart_startup_s"] = describe((started["running"] - started["arrival"]).to_numpy()
                                        if len(started) else np.array([]))
    out["cross_tenant_kernel_pairs_mean"] = time_average(
        levels.get("cross_tenant_kernel_pairs"), warmup, duration)
    done = frame.loc[frame["arrival"] >= warmup, "slowdown"].dropna().to_numpy() \
        if "slowdown" in frame else np.array([])
    out["slowdown"] = describe(done)
    physical = physical_levels or host_levels
    out["density_physical_max"] = max((peak(lv, warmup, duration) for lv in physical.values()),
                                      default=0.0)
    return out


def availability(frame: pd.DataFrame, warmup: float, duration: float
                 ) -> tuple[float | None, float]:
    """(availability, lost instance-hours) over [warmup, duration], as
    ``isolation_metrics`` defines them."""
    if len(frame) == 0 or "request" not in frame:
        return None, 0.0
    df = frame[["request", "attempt", "wanted_until", "arrival", "running", "stopping",
                "disrupted"]].sort_values(["request", "attempt"], kind="stable")
    ends = df.groupby("request", sort=False)["wanted_until"].transform("max").to_numpy()
    ends = np.where(np.isnan(ends), duration, np.minimum(ends, duration))
    first = df.groupby("request", sort=False)["arrival"].transform("min").to_numpy()
    is_first = df["attempt"].to_numpy() == 0

    def span(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        lo = np.clip(a, warmup, duration)
        hi = np.clip(b, warmup, duration)
        return np.where(np.isnan(lo) | np.isnan(hi), 0.0, np.maximum(hi - lo, 0.0))

    requested = float(span(first[is_first], ends[is_first]).sum())
    running = df["running"].to_numpy()
    stop = df["stopping"].to_numpy()
    cut = df["disrupted"].to_numpy()
    until = np.where(~np.isnan(stop), stop, np.where(~np.isnan(cut), cut, duration))
    ran = float(span(running, np.minimum(until, duration)).sum())
    # an outage runs from a cut until the request next runs (a later attempt taken down
    # before it ran belongs to the same outage); it begins with the first attempt's cut or
    # with the cut of an attempt that had run
    later = df.groupby("request", sort=False)["running"].shift(-1)
    back = later.groupby(df["request"], sort=False).bfill().to_numpy()
    back = np.where(np.isnan(back), ends, back)
    starts_outage = is_first | ~np.isnan(running)
    cut = np.where(starts_outage, cut, np.nan)
    lost = float(span(cut, np.minimum(back, ends)).sum()) / 3600.0
    # at most 1: the spans' sums differ in the last bit when every request ran throughout
    return (min(ran / requested, 1.0) if requested > 0 else None), lost


def per_host_peaks(host_levels: Mapping[int, Level | Steps], n_hosts: int, warmup: float,
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


# The numeric metrics a costed run adds (``sim.analysis.cost``).
COST_METRICS = ("energy_kwh", "power_w.mean", "power_w.peak", "carbon_kg", "cost.hosts",
                "cost.licences", "cost.energy", "cost.total", "cost.instance_hours",
                "cost.per_instance_hour", "cost.per_instance_hour_standard",
                "cost.per_instance_hour_datacenter", "licences.sets",
                "licences.standard_cost", "licences.datacenter_cost")
# The metrics an elastic run adds (``sim.analysis.elastic``).
ELASTIC_METRICS = ("hosts_mean", "hosts_peak", "host_hours", "scale_ups", "scale_downs",
                   "provision_failures", "scale_down_restarts", "unserved.instance_hours",
                   "unserved.share",
                   "time_to_capacity_s.mean", "time_to_capacity_s.p95",
                   "time_to_capacity_s.max", "time_to_capacity_s.not_reached")


# The metrics of a maintenance campaign (``sim.analysis.maintenance``) a plan may take as an
# SLO, under maintenance.<name>.: they improve with hosts to spare (a campaign's duration and
# its hosts patched grow with the group instead)
CAMPAIGN_SLO_METRICS = ("availability", "lost_instance_hours", "startup_p99_s",
                        "all_on_new_build_s", "not_back")


def campaign_metric_names(campaigns: Sequence[str]) -> set[str]:
    """The dotted names of the metrics the maintenance ``campaigns`` (their names) add that
    an SLO may use."""
    return {f"maintenance.{name}.{key}" for name in campaigns for key in CAMPAIGN_SLO_METRICS}


def metric_names() -> set[str]:
    """The dotted names of every metric ``summarize`` produces (for SLOs and checks)."""
    columns = ["arrival", "rejected", "pulled_bytes", *TRANSITIONS, "request", "attempt",
               "disrupted", "fault", "wanted_until", "slowdown"]
    empty = pd.DataFrame({c: pd.Series(dtype=float) for c in columns})
    empty["origin"] = pd.Series(dtype=str)
    metrics = summarize(empty, {}, {}, 1.0, 0.0, 1.0)
    names: set[str] = set()

    def walk(node: dict[str, Any], prefix: str) -> None:
        for key, value in node.items():
            if isinstance(value, dict):
                walk(value, f"{prefix}{key}.")
            else:
                names.add(f"{prefix}{key}")

    walk(metrics, "")
    return names | set(COST_METRICS) | set(ELASTIC_METRICS)
