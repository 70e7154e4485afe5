"""What an elastic run's hosts did: how many were there over time, the host-hours, the hosts
added and removed (``sim.model.autoscaler`` records the levels).

Owns: those metrics. Must not: run the model or write files.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sim.analysis.metrics import peak, time_average, value_at
from sim.recorder import Level, Steps
from sim.spec.config import Scenario


def elastic(scenario: Scenario) -> bool:
    """Whether a host group of ``scenario`` scales."""
    return any(g.autoscale is not None for g in scenario.hosts)


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
            "provision_failures": counted("provision_failures")}


def mean_hosts(levels: Mapping[str, Level | Steps], group: str, count: int, warmup: float,
               duration: float) -> float:
    """The hosts of ``group`` present on average over [warmup, duration] (``count`` when
    the group does not scale)."""
    level = levels.get(f"hosts:{group}")
    return count if level is None else time_average(level, warmup, duration)
