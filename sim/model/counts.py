"""The run's counters: how many instances are running, starting, allocated and queued, in the
whole cluster, per host group and per host, with the levels the recorder keeps of them.

Owns: the counts and when a change of one is recorded as a level (``queued``,
``memory_committed``, a physical host's instances, the per-version running counts, the
cross-tenant kernel pairs; ``running``, ``starting`` and ``allocated`` are worked out after the
run from the records: ``sim.analysis.metrics.record_levels``). Must not: decide anything; the
roles that change a count call the method named for the change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import simpy

if TYPE_CHECKING:
    from sim.model.host import Host
    from sim.model.workload import WorkloadRuntime
    from sim.recorder import Level, Recorder


@dataclass(slots=True)
class GroupCounts:
    """One host group's instances by state (the sampler reads them)."""

    running: int = 0
    starting: int = 0
    allocated: int = 0


class Counts:
    """The cluster's counters (see the module's docstring)."""

    def __init__(self, env: simpy.Environment, recorder: Recorder, groups: int,
                 hosts: int) -> None:
        self.env = env
        self.recorder = recorder
        self.running = 0
        self.starting = 0
        self.allocated = 0
        self.queued = 0
        self.memory_committed = 0.0
        self.cross_tenant_kernel_pairs = 0
        self.groups = [GroupCounts() for _ in range(groups)]
        self.host_running = [0] * hosts  # running instances per host
        self.physical = [0] * hosts  # instances inside each physical host's container-host VMs
        self.versions: dict[str, int] = {}  # running per image version and per workload
        self._committed: Level | None = None  # the memory_committed level, once it changes

    def queue(self, delta: int) -> None:
        """A request joined (+1) or left (-1) the placement queue."""
        self.queued += delta
        self.recorder.level("queued", self.env.now, self.queued)

    def starting_on(self, host: Host, delta: int) -> None:
        """A start-up on ``host`` took its start slot (+1) or ended without running (-1)."""
        self.starting += delta
        self.groups[host.group_index].starting += delta

    def started(self, host: Host) -> None:
        """An instance on ``host`` is running: from starting to running."""
        group = self.groups[host.group_index]
        self.starting -= 1
        group.starting -= 1
        self.running += 1
        group.running += 1
        self.host_running[host.index] += 1

    def stopped(self, host: Host) -> None:
        """An instance on ``host`` no longer runs (it stops, or a fault or a rollout ends
        it)."""
        self.running -= 1
        self.groups[host.group_index].running -= 1
        self.host_running[host.index] -= 1

    def moved(self, source: Host, dest: Host) -> None:
        """A running instance moved from ``source`` to ``dest`` (a live migration)."""
        self.groups[source.group_index].running -= 1
        self.groups[dest.group_index].running += 1
        self.host_running[source.index] -= 1
        self.host_running[dest.index] += 1

    def allocation(self, host: Host, delta: int, memory: float) -> None:
        """An instance of ``memory`` bytes was placed on (+1) or released from (-1) ``host``:
        the allocated and committed-memory counts, and the physical host's level when
        ``host`` is a container-host VM."""
        self.allocated += delta
        self.groups[host.group_index].allocated += delta
        committed = self.memory_committed = self.memory_committed + delta * memory
        level = self._committed
        if level is None:
            level = self._committed = self.recorder.level_of("memory_committed", dense=True)
        now = self.env.now
        level.set(now, committed)
        if host.parent is not None:
            p = host.parent.index
            self.physical[p] += delta
            self.recorder.physical_level(p, now, self.physical[p])

    def kernel_pairs(self, change: int) -> None:
        """The pairs of tenants sharing a host kernel changed by ``change``."""
        self.cross_tenant_kernel_pairs += change
        self.recorder.level("cross_tenant_kernel_pairs", self.env.now,
                            self.cross_tenant_kernel_pairs)

    def version(self, wl: WorkloadRuntime, delta: int) -> None:
        """Running instances per image version and per workload (for rollout timelines)."""
        for name in (f"running_image:{wl.spec.name}:{wl.chain_key}",
                     f"running_workload:{wl.spec.name}"):
            value = self.versions[name] = self.versions.get(name, 0) + delta
            self.recorder.level(name, self.env.now, value)
