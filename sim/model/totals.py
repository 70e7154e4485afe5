"""Per-group totals of what the hosts have allocated, for the periodic host samples.

Owns: committed memory, allocated vCPU and busy start-up cores summed over one host group,
without a Python loop over every host at every sample. Must not: change hosts or record
anything (the cluster's sampler records the rows).

Each total is the one the plain loop ``sum(term(h) for h in group)`` gives, bit for bit: the
terms are the same floats in the same host order, added by the same built-in ``sum`` (running
sums kept up to date at each change would add them in another order, and a vCPU demand such as
1.1 is not exact in binary, so the last bits would differ). Memory and vCPU terms come from the
placement index's arrays in one vectorized step; busy start-up cores come only from the hosts
that have CPU work in progress (every other host adds an integer 0, which changes nothing),
tracked by observing each host's CPU pool.
"""

from __future__ import annotations

import functools

from sortedcontainers import SortedSet

from sim.model.host import Host
from sim.model.placement import CapacityIndex
from sim.model.sharing import SharedCapacity


class GroupTotals:
    """Totals over each host group of ``hosts`` (groups are ``Host.group_index``)."""

    def __init__(self, hosts: list[Host], index: CapacityIndex) -> None:
        self.hosts = hosts
        self.index = index
        self.groups: dict[int, list[int]] = {}
        for h in hosts:
            self.groups.setdefault(h.group_index, []).append(h.index)
        self.memory_capacity = {g: sum(hosts[i].memory_capacity for i in members)
                                for g, members in self.groups.items()}
        self.vcpu_capacity = {g: sum(hosts[i].vcpu_capacity for i in members)
                              for g, members in self.groups.items()}
        self._busy: dict[int, SortedSet] = {g: SortedSet() for g in self.groups}
        for h in hosts:
            h.cpu.on_count_change = functools.partial(
                self._cpu_changed, h, h.cpu.on_count_change)
            if h.cpu.jobs:
                self._busy[h.group_index].add(h.index)

    def memory_committed(self, group: int) -> float:
        """Sum over the group's hosts of memory capacity minus free memory (bytes)."""
        ix = self.index
        members = self.groups[group]
        terms = ix.memory_capacity[members] - ix.memory[members]
        return sum(terms.tolist())

    def vcpu_allocated(self, group: int) -> float:
        """Sum over the group's hosts of vCPU capacity minus free vCPU."""
        ix = self.index
        members = self.groups[group]
        terms = ix.vcpu_capacity[members] - ix.vcpu[members]
        return sum(terms.tolist())

    def busy_startup_cores(self, group: int) -> float:
        """Sum over the group's hosts of min(CPU jobs in progress, cores)."""
        hosts = self.hosts
        return sum(min(hosts[i].cpu.jobs, hosts[i].cpu.capacity) for i in self._busy[group])

    def _cpu_changed(self, host: Host, chained: object, pool: SharedCapacity) -> None:
        if pool.jobs:
            self._busy[host.group_index].add(host.index)
        else:
            self._busy[host.group_index].discard(host.index)
        if callable(chained):
            chained(pool)
