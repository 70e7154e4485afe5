"""What an elastic run's hosts did: how many were there over time, the host-hours, the hosts
added and removed (``sim.model.autoscaler`` records the levels).

Owns: those metrics. Must not: run the model or write files.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sim.analysis.metrics import changes, level_of, peak, time_average, value_at
from sim.recorder import Level, Steps
from sim.spec.config import Scenario


def elastic(scenario: Scenario) -> bool:
    """Whether a host group of ``scenario`` scales."""
    return any(g.autoscale is not None for g in scenario.hosts)


def replicated(scenario: Scenario) -> bool:
    """Whether a workload of ``scenario`` follows a demand with replicas."""
    return any(wl.replicas is not None for wl in scenario.workloads)


def elastic_metrics(levels: Mapping[str, Level | Steps], warmup: float, duration: float
                    ) -> dict[str, Any]:
    """``hosts_mean`` and ``hosts_peak`` (hosts present, every group's, over [warmup,
    duration]), ``host_hours`` (their integral), and the hosts added (``scale_ups``: asked
    for), removed (``scale_downs``) and provisions given up (``provision_failures``) in that
    window."""
    hosts = levels.get("hosts_present")
    window = max(duration - warmup, 0.0)
    mean = time_average(hosts, warmup, duration)

    def counted(name: str) -> int:
        level = levels.get(name)
        if level is None:
            return 0
        before = value_at(level, warmup) if warmup > 0 else 0.0
        return int(value_at(level, duration) - before)

    return {"hosts_mean": mean, "hosts_peak": peak(hosts, warmup, duration),
            "host_hours": mean * window / 3600.0, "scale_ups": counted("scale_ups"),
            "scale_downs": counted("scale_downs"),
            "provision_failures": counted("provision_failures"),
            "scale_down_restarts": counted("scale_down_restarts")}


def mean_hosts(levels: Mapping[str, Level | Steps], group: str, count: int, warmup: float,
               duration: float) -> float:
    """The hosts of ``group`` present on average over [warmup, duration] (``count`` when
    the group does not scale)."""
    level = levels.get(f"hosts:{group}")
    return count if level is None else time_average(level, warmup, duration)


def replica_metrics(scenario: Scenario, table: Mapping[str, np.ndarray],
                    levels: Mapping[str, Level | Steps], warmup: float, duration: float
                    ) -> dict[str, Any]:
    """For the workloads whose replicas follow a demand: ``unserved`` (``instance_hours``:
    the replicas the demand asked for beyond those running, demand / target_per_replica
    less running, integrated over [warmup, duration]; ``share``: of all it asked for) and
    ``time_to_capacity_s`` (``mean``, ``p95``, ``max`` over the demand's rises in the window:
    from each rise until as many replicas ran as the autoscaler settled on before the next
    change; ``not_reached``: rises after which they never did)."""
    short = asked = 0.0
    delays: list[float] = []
    missed = 0
    for wl in scenario.workloads:
        if wl.replicas is None:
            continue
        spec = wl.replicas
        times, running = _running(table, wl.name)
        steps = spec.demand.steps
        edges = sorted({warmup, duration, *(s.at for s in steps if warmup < s.at < duration),
                        *(t for t in times.tolist() if warmup < t < duration)})
        for a, b in zip(edges, edges[1:]):
            want = spec.demand.at(a) / spec.target_per_replica
            have = float(running[np.searchsorted(times, a, side="right") - 1])
            short += max(want - have, 0.0) * (b - a)
            asked += want * (b - a)
        desired = levels.get(f"replicas:{wl.name}")
        for k, step in enumerate(steps):
            if k == 0 or step.value <= steps[k - 1].value or not warmup <= step.at < duration:
                continue
            until = steps[k + 1].at if k + 1 < len(steps) else duration
            goal = peak(desired, step.at, min(until, duration))
            reached = np.flatnonzero((times >= step.at) & (running >= goal))
            if len(reached):
                delays.append(float(times[reached[0]]) - step.at)
            else:
                missed += 1
    spread = np.array(delays)
    return {"unserved": {"instance_hours": short / 3600.0,
                         "share": short / asked if asked > 0 else 0.0},
            "time_to_capacity_s": {
                "mean": float(spread.mean()) if len(spread) else None,
                "p95": float(np.quantile(spread, 0.95)) if len(spread) else None,
                "max": float(spread.max()) if len(spread) else None,
                "not_reached": missed}}


def _running(table: Mapping[str, np.ndarray], workload: str) -> tuple[np.ndarray, np.ndarray]:
    """(times, running): instances of ``workload`` running from each time on (from 0), as
    ``record_levels`` counts them (from running to stopping, or to removed)."""
    rows = table["workload"] == workload
    start = table["running"][rows]
    end = np.where(np.isnan(table["stopping"][rows]), table["removed"][rows],
                   table["stopping"][rows])
    ran = ~np.isnan(start)
    return level_of(*changes(start[ran], end[ran])).arrays()
