"""What a run's maintenance campaigns did (``sim.model.maintenance`` records their events):
how long each took, the hosts patched, the instances restarted and moved, the bytes that
moved, the capacity out of service, the service meanwhile (the availability of every request
over the campaign's window, and the instance-hours its evictions and pauses cost) and, for an
OS upgrade, when every instance ran on the new build again.

Owns: those metrics (``maintenance.<name>`` in ``summary.json``) and the warnings of a
campaign that did not finish. Must not: run the model or write files.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.metrics import availability, describe, peak
from sim.recorder import Level, Steps
from sim.spec.config import Scenario

# The metrics each campaign adds, under maintenance.<name>.
MAINTENANCE_METRICS = ("duration_s", "waves", "waves_done", "hosts_done", "restarts",
                       "migrations", "bytes_moved", "capacity_dip", "availability",
                       "lost_instance_hours", "startup_p99_s", "not_back",
                       "all_on_new_build_s")


def maintenance_metrics(scenario: Scenario, events: list[dict[str, Any]], frame: pd.DataFrame,
                        levels: Mapping[str, Level | Steps]) -> dict[str, Any]:
    """``{"maintenance": {name: metrics}}`` for each campaign of ``scenario``."""
    out = {}
    for spec in scenario.maintenance:
        rows = [e for e in events if e["campaign"] == spec.name]
        group = sum(g.count for g in scenario.hosts if g.group == spec.group)
        out[spec.name] = campaign_metrics(rows, frame, levels.get(f"maintenance:{spec.name}"),
                                          group, scenario.duration, spec.os_build is not None)
    return {"maintenance": out}


def campaign_metrics(rows: list[dict[str, Any]], frame: pd.DataFrame,
                     out_of_service: Level | Steps | None, group_hosts: int, duration: float,
                     upgrade: bool) -> dict[str, Any]:
    """One campaign's metrics from its events (see the module's docstring)."""
    starts = [r["time"] for r in rows if r["event"] == "wave"]
    ends = [r["time"] for r in rows if r["event"] == "wave_end"]
    evicted = [r for r in rows if r["event"] == "evicted"]
    migrated = [r for r in rows if r["event"] == "migrated"]
    unfinished = [r["reason"] for r in rows if r["event"] == "unfinished"]
    begin = starts[0] if starts else duration
    end = ends[-1] if len(ends) == len(starts) and ends else duration
    restarted = _restarts(frame, evicted)
    stopped = [r for r in evicted if r["running"]]  # running when evicted
    returns = _returns(frame, stopped)
    lost = sum(min(back, duration) - r["time"] for r, back in zip(stopped, returns)) \
        + sum(r["pause_s"] for r in migrated)
    window = _window(frame, begin, end)
    startups = window["running"] - window["arrival"]
    found: dict[str, Any] = {
        "duration_s": float(np.mean(np.subtract(ends, starts[:len(ends)]))) if ends else None,
        "waves": len(starts),
        "waves_done": len(ends),
        "hosts_done": sum(1 for r in rows if r["event"] == "up"),
        "restarts": len(evicted),
        "migrations": len(migrated),
        "bytes_moved": float(sum(r["bytes"] for r in migrated)
                             + restarted["pulled_bytes"].sum()),
        "migration_pause_s": describe(np.array([r["pause_s"] for r in migrated])),
        "capacity_dip": (peak(out_of_service, begin, end) / group_hosts
                         if group_hosts else 0.0),
        "availability": availability(frame, begin, end)[0] if end > begin else None,
        "lost_instance_hours": lost / 3600.0,
        "startup_p99_s": describe(startups.dropna().to_numpy())["p99"],
        "not_back": sum(1 for t in returns if not math.isfinite(t)),
        "unfinished": unfinished[0] if unfinished else None,
    }
    if upgrade:
        found["all_on_new_build_s"] = _all_on_new_build(rows, returns, begin)
    return found


def _restarts(frame: pd.DataFrame, evicted: list[dict[str, Any]]) -> pd.DataFrame:
    """The attempts the campaign's evictions began: the same request's, arriving then."""
    if not evicted or len(frame) == 0:
        return frame.iloc[0:0]
    keys = pd.MultiIndex.from_tuples([(r["request"], r["time"]) for r in evicted])
    mine = pd.MultiIndex.from_arrays([frame["request"], frame["arrival"]]).isin(keys)
    return frame[mine & (frame["attempt"] > 0).to_numpy()]


def _window(frame: pd.DataFrame, begin: float, end: float) -> pd.DataFrame:
    """Start-ups that began in [begin, end]: first starts and restarts, not a pipeline's
    tests nor a live migration's arrival on its new host."""
    if len(frame) == 0:
        return frame
    arrived = frame["arrival"].between(begin, end)
    kept = ~frame["origin"].isin(["test", "migration"])
    return frame[arrived & kept & frame["running"].notna()]


def _returns(frame: pd.DataFrame, evicted: list[dict[str, Any]]) -> list[float]:
    """When each evicted request ran again (or ended for good, retired while it waited);
    inf if it did neither by the end of the run."""
    if not evicted:
        return []
    by_request = frame.groupby("request", sort=False)
    out = []
    for r in evicted:
        if r["request"] not in by_request.groups:
            out.append(math.inf)
            continue
        attempts = by_request.get_group(r["request"])
        later = attempts[attempts["arrival"] >= r["time"]]
        ran = later["running"].dropna()
        # stopped for good before it ran (retired); a rejected attempt is lost, not back
        ended = later.loc[~later["rejected"].astype(bool), "wanted_until"].dropna()
        out.append(float(ran.min()) if len(ran) else
                   float(ended.max()) if len(ended) else math.inf)
    return out


def _all_on_new_build(rows: list[dict[str, Any]], returns: list[float], begin: float
                      ) -> float | None:
    """Seconds from the campaign's start until its last host is back on the new build and
    every instance it evicted runs again (or has ended); None if that is not reached by the
    end of the run."""
    ups = [r["time"] for r in rows if r["event"] == "up"]
    if not ups or any(r["event"] == "unfinished" for r in rows):
        return None
    last = max([*ups, *returns])
    return last - begin if math.isfinite(last) else None
