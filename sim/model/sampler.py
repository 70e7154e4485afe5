"""The sampler: every host group's counts, committed capacity, start-up CPU and the registry's
egress, recorded at fixed times (``timeseries.csv``).

Owns: the sample times and the sample rows. Must not: change anything it samples.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import simpy

from sim.spec.demand import carriers

if TYPE_CHECKING:
    from sim.model.autoscaler import Autoscaler
    from sim.model.counts import Counts
    from sim.model.sharing import Network
    from sim.model.totals import GroupTotals
    from sim.recorder import Recorder
    from sim.spec.config import Scenario

Process = Generator[simpy.Event, Any, None]


def sample_times(duration: float, interval: float) -> list[float]:
    """The times the sampler samples at: from 0 s, every ``interval``, up to ``duration``
    (each the sum of the intervals before it, as the sampler's timeouts add up)."""
    times = [0.0]
    while times[-1] + interval <= duration + 1e-9:
        times.append(times[-1] + interval)
    return times


class Sampler:
    """Samples the host groups at ``totals.sample_times``."""

    def __init__(self, env: simpy.Environment, scenario: Scenario, interval: float,
                 counts: Counts, totals: GroupTotals, network: Network,
                 recorder: Recorder, autoscaler: Autoscaler | None = None) -> None:
        self.env = env
        self.interval = interval
        skip = carriers(list(scenario.hosts))  # their capacity is the VMs'
        self.groups = [(g, spec.group) for g, spec in enumerate(scenario.hosts)
                       if spec.group not in skip]
        self.counts = counts
        self.totals = totals
        self.network = network
        self.recorder = recorder
        self.autoscaler = autoscaler
        self.specs = list(scenario.hosts)

    def start(self) -> None:
        """Start sampling (the first sample is now)."""
        self.env.process(self._sample())

    def _sample(self) -> Process:
        totals, counts = self.totals, self.counts
        times = totals.sample_times
        for k in range(len(times)):
            now = self.env.now  # ``times[k]``: the timeouts add up to it
            egress = self.network.egress()
            for g, group in self.groups:
                in_group = counts.groups[g]
                present = (self.autoscaler.present_in(g) if self.autoscaler is not None
                           else None)
                row = {
                    "time_s": now, "group": group,
                    "running": in_group.running, "starting": in_group.starting,
                    "allocated": in_group.allocated, "queued": counts.queued,
                    "memory_committed_bytes": totals.memory_committed(g),
                    "memory_capacity_bytes": totals.memory_capacity[g],
                    "vcpu_allocated": totals.vcpu_allocated(g),
                    "vcpu_capacity": totals.vcpu_capacity[g],
                    "cpu_busy_startup_cores": totals.busy_startup_cores(g, now),
                    "registry_egress_bps": egress * 8,
                }
                if present is not None:  # an elastic group: what is there now
                    spec = self.specs[g]
                    row["hosts"] = present
                    row["memory_capacity_bytes"] = present * (spec.memory
                                                              - spec.reserved_memory)
                    row["vcpu_capacity"] = present * spec.cpu_cores * spec.cpu_overcommit
                self.recorder.sample(row)
            if k + 1 < len(times):
                yield self.env.timeout(self.interval)
