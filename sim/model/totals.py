"""Per-group totals of what the hosts have allocated, for the periodic host samples.

Owns: committed memory, allocated vCPU and busy start-up cores summed over one host group,
without a Python loop over every host at every sample. Must not: change hosts or record
anything (the cluster's sampler records the rows).

Each total is the one the plain loop ``sum(term(h) for h in group)`` gives, bit for bit: the
terms are the same floats in the same host order, added by the same built-in ``sum`` (running
sums kept up to date at each change would add them in another order, and a vCPU demand such as
1.1 is not exact in binary, so the last bits would differ). Memory and vCPU terms come from the
placement index's arrays in one vectorized step, and only the non-zero ones (the hosts in use)
are added in Python; busy start-up cores come only from the hosts
that have CPU work in progress (every other host adds an integer 0, which changes nothing),
tracked by observing each host's CPU pool, plus the start-up work booked ahead on the group's
never-contended pools (``book``), tallied per sample when it is booked: a never-contended
pool's jobs never outnumber its cores, so each such host adds its count of jobs in progress as
it is, and the group's sum is the count of the group's jobs in progress at the sample.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Sequence

import numpy as np

from sim.model.host import Host
from sim.model.placement import CapacityIndex
from sim.model.sharing import SharedCapacity


class GroupTotals:
    """Totals over each host group of ``hosts`` (groups are ``Host.group_index``), read at
    ``sample_times`` (ascending simulation times; work booked ahead is counted at these
    only)."""

    def __init__(self, hosts: list[Host], index: CapacityIndex,
                 sample_times: Sequence[float] = ()) -> None:
        self.hosts = hosts
        self.sample_times = list(sample_times)
        self.index = index
        members: dict[int, list[int]] = {}
        for h in hosts:
            members.setdefault(h.group_index, []).append(h.index)
        self.groups = {g: _as_slice(ids) for g, ids in members.items()}
        self.memory_capacity = {g: sum(hosts[i].memory_capacity for i in ids)
                                for g, ids in members.items()}
        self.vcpu_capacity = {g: sum(hosts[i].vcpu_capacity for i in ids)
                              for g, ids in members.items()}
        self._busy: dict[int, set[int]] = {g: set() for g in members}
        # per group, per sample time: the jobs booked ahead in progress then (``book``)
        self._tally: dict[int, list[int]] = {g: [0] * len(self.sample_times) for g in members}
        self._pools: dict[int, tuple[Host, Callable[[SharedCapacity], None] | None]] = {}
        for h in hosts:
            self._pools[id(h.cpu)] = (h, h.cpu.on_count_change)
            h.cpu.on_count_change = self._cpu_changed
            if h.cpu.pending:
                self._busy[h.group_index].add(h.index)

    def memory_committed(self, group: int) -> float:
        """Sum over the group's hosts of memory capacity minus free memory (bytes)."""
        ix, members = self.index, self.groups[group]
        ix.refresh()
        return _sum_in_order(ix.memory_capacity[members] - ix.memory[members])

    def vcpu_allocated(self, group: int) -> float:
        """Sum over the group's hosts of vCPU capacity minus free vCPU."""
        ix, members = self.index, self.groups[group]
        ix.refresh()
        return _sum_in_order(ix.vcpu_capacity[members] - ix.vcpu[members])

    def book(self, group: int, jobs: list[tuple[float, float]]) -> None:
        """CPU work booked now on a never-contended pool of ``group``'s hosts, to begin now or
        later, that nobody waits on (its owner knows when it ends): each job as (starts at,
        served at). ``busy_startup_cores`` counts it from its start to its end, as the pool
        would count it: in each sample from its start (inclusive) to its end (exclusive). A
        sample taken already is not read again, so what is booked after it cannot change it."""
        times, tally = self.sample_times, self._tally[group]
        for start, end in jobs:
            for k in range(bisect_left(times, start), bisect_left(times, end)):
                tally[k] += 1

    def busy_startup_cores(self, group: int, now: float) -> float:
        """Sum over the group's hosts of min(CPU jobs in progress, cores) at ``now`` (the
        simulation's time: one of ``sample_times`` if any work was booked ahead)."""
        hosts, busy = self.hosts, self._busy[group]
        jobs = [(i, hosts[i].cpu.jobs) for i in sorted(busy)]
        # ended unseen (a never-contended pool tells only when its first job starts)
        busy.difference_update(i for i, n in jobs if not n)
        return sum(min(n, hosts[i].cpu.capacity) for i, n in jobs) + self._booked_at(group,
                                                                                      now)

    def _booked_at(self, group: int, now: float) -> int:
        """Jobs booked ahead on ``group`` in progress at the sample time ``now``."""
        times, tally = self.sample_times, self._tally[group]
        k = bisect_left(times, now)
        if k < len(times) and times[k] == now:
            return tally[k]
        if any(tally):
            raise ValueError(f"work booked ahead is counted at the sample times only, not at "
                             f"{now}")
        return 0

    def _cpu_changed(self, pool: SharedCapacity) -> None:
        host, chained = self._pools[id(pool)]
        if pool.pending:
            self._busy[host.group_index].add(host.index)
        else:
            self._busy[host.group_index].discard(host.index)
        if chained is not None:
            chained(pool)


def _sum_in_order(terms: np.ndarray) -> float:
    """``sum(terms)`` as the built-in adds them, one by one in order, leaving out the terms
    that are exactly +0.0 (adding them changes no bit: the running total is never -0.0)."""
    return sum(terms[terms != 0.0].tolist(), 0.0)


def _as_slice(ids: list[int]) -> slice | np.ndarray:
    """Consecutive indexes as a slice (served without copying), else an index array."""
    if ids == list(range(ids[0], ids[-1] + 1)):
        return slice(ids[0], ids[-1] + 1)
    return np.array(ids, dtype=np.int64)
