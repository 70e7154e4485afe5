"""Fluid sharing of a capacity among concurrent jobs: processor sharing of a host's cores,
of its disk, and max-min fair sharing of the registry's egress among host NICs.

Owns: the arithmetic of who progresses how fast. A job is an amount of work (CPU-seconds or
bytes); ``run(work)`` returns an event that fires when it is done. Must not: know what the
work is for.

Every job on one ``SharedCapacity`` progresses at the same rate, min(per_job_cap, capacity/n),
so the pool keeps one "virtual time" (work done by each job so far) and a heap of the virtual
times at which jobs finish: an arrival or departure costs O(log n), whatever n is.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import math
from collections.abc import Callable

import simpy
from simpy.events import NORMAL, PENDING

_EPS = 1e-9


class Done(simpy.Event):
    """The event a job's owner waits on: it fires when the work is served, or a fixed time
    ``then`` after that (the wait that follows the work, without a second event)."""

    def __init__(self, env: simpy.Environment, then: float = 0.0) -> None:
        super().__init__(env)
        self.then = then

    def fire(self, served_in: float = 0.0) -> None:
        """The work is served now (or ``served_in`` seconds from now): fire ``then`` seconds
        after that, as a timeout would."""
        if self._value is not PENDING:
            raise RuntimeError(f"{self} has already been triggered")
        self._ok = True
        self._value = None
        self.env.schedule(self, NORMAL, served_in + self.then)


class SharedCapacity:
    """``capacity`` units/s shared equally by the jobs present, each at most ``per_job_cap``.

    ``max_jobs``: the most jobs its users can ever have in progress at once (a host's CPU is
    used only by start-ups, each holding one of the host's start slots). When even that many
    cannot oversubscribe it (``max_jobs * per_job_cap <= capacity``) every job runs at
    ``per_job_cap`` from start to end, so the pool is *never contended*: a job's event is
    scheduled when it starts, with no timer and no virtual time. A job cancelled or cleared
    then leaves the count at once, but its event still fires (whoever waited on it was
    interrupted, which is why it was cancelled)."""

    def __init__(self, env: simpy.Environment, capacity: float,
                 per_job_cap: float = math.inf,
                 on_count_change: Callable[[SharedCapacity], None] | None = None,
                 max_jobs: int | None = None) -> None:
        self.env = env
        self.capacity = capacity
        self.per_job_cap = per_job_cap
        self.on_count_change = on_count_change
        self._virtual = 0.0
        self._stamp = env.now
        self._heap: list[tuple[float, int, simpy.Event]] = []
        self._seq = itertools.count()
        self._generation = 0
        self.uncontended = max_jobs is not None and max_jobs * per_job_cap <= capacity
        self._ends: list[tuple[float, int, simpy.Event]] = []  # uncontended: a heap of
        # (served at, sequence, event)

    @property
    def jobs(self) -> int:
        """Jobs in progress."""
        if self.uncontended:
            ends, now = self._ends, self.env.now
            while ends and ends[0][0] <= now:
                heapq.heappop(ends)
            return len(ends)
        return len(self._heap)

    def rate(self) -> float:
        """Rate at which each job progresses now."""
        n = self.jobs
        return min(self.per_job_cap, self.capacity / n) if n else 0.0

    def run(self, work: float, then: float = 0.0) -> simpy.Event:
        """An event that fires when ``work`` units have been served, or ``then`` seconds
        after that."""
        done = Done(self.env, then)
        if work <= 0:
            done.fire()
            return done
        if self.uncontended:
            served_in = work / self.per_job_cap
            heapq.heappush(self._ends, (self.env.now + served_in, next(self._seq), done))
            done.fire(served_in)
            if self.on_count_change is not None:
                self.on_count_change(self)
            return done
        self._advance()
        heapq.heappush(self._heap, (self._virtual + work, next(self._seq), done))
        self._changed()
        return done

    def cancel(self, done: simpy.Event) -> None:
        """Drop the job whose event is ``done`` (it never fires, unless the pool is never
        contended); the others speed up."""
        if self.uncontended:
            self._ends[:] = [entry for entry in self._ends if entry[2] is not done]
            heapq.heapify(self._ends)
            if self.on_count_change is not None:
                self.on_count_change(self)
            return
        for k, entry in enumerate(self._heap):
            if entry[2] is done:
                self._advance()
                self._heap[k] = self._heap[-1]
                self._heap.pop()
                heapq.heapify(self._heap)
                self._changed()
                return

    def clear(self) -> None:
        """Drop every job (a crash): their events never fire (unless the pool is never
        contended)."""
        self._ends.clear()
        self._advance()
        self._heap.clear()
        self._changed()

    def set_capacity(self, capacity: float) -> None:
        """Change the capacity from now on (jobs in progress keep the work done so far)."""
        if capacity == self.capacity:
            return
        if self.uncontended:
            raise ValueError("a pool that is never contended has a fixed capacity")
        self._advance()
        self.capacity = capacity
        self._schedule()

    def _advance(self) -> None:
        now = self.env.now
        if self._heap and now > self._stamp:
            self._virtual += self.rate() * (now - self._stamp)
        self._stamp = now

    def _changed(self) -> None:
        if self.on_count_change is not None:
            self.on_count_change(self)  # may call set_capacity, which schedules
        self._schedule()

    def _schedule(self) -> None:
        self._generation += 1
        if not self._heap:
            return
        rate = self.rate()
        if rate <= 0:
            return
        delay = max(0.0, (self._heap[0][0] - self._virtual) / rate)
        generation = self._generation
        timer = self.env.timeout(delay)
        timer.callbacks.append(lambda _event: self._on_timer(generation))

    def _on_timer(self, generation: int) -> None:
        if generation != self._generation:
            return  # superseded by a later change
        self._advance()
        finished = False
        # a residual that no representable time step can finish counts as done (else the
        # timer would fire again at the same instant forever)
        tolerance = max(_EPS * max(1.0, abs(self._virtual)),
                        4.0 * self.rate() * math.ulp(self.env.now))
        while self._heap and self._heap[0][0] <= self._virtual + tolerance:
            _, _, done = heapq.heappop(self._heap)
            done.fire()
            finished = True
        if finished:
            self._changed()
        else:
            self._schedule()


class Network:
    """The registry's egress shared max-min fairly by host NICs; within a host, equally.

    Each host's downloads form one ``SharedCapacity`` whose capacity is that host's fair share:
    min(nic, n_h * level), where the water level solves sum_h min(nic_h, n_h * level) =
    registry bandwidth (progressive filling). Recomputed only when some host's download count
    changes, over the hosts with downloads in progress.
    """

    def __init__(self, env: simpy.Environment, registry_bandwidth: float) -> None:
        self.env = env
        self.bandwidth = registry_bandwidth
        self._links: dict[int, tuple[float, SharedCapacity]] = {}
        self._active: set[int] = set()
        self.on_egress: Callable[[float], None] | None = None  # told the egress after changes

    def link(self, host: int, nic: float) -> SharedCapacity:
        """The shared download capacity of ``host`` (created on first use)."""
        if host not in self._links:
            pool = SharedCapacity(self.env, 0.0, on_count_change=functools.partial(
                self._count_changed, host))
            self._links[host] = (nic, pool)
        return self._links[host][1]

    def links(self) -> dict[int, tuple[float, SharedCapacity]]:
        """The hosts that have downloaded something: host -> (NIC, its download pool)."""
        return self._links

    def egress(self) -> float:
        """Registry bandwidth in use now (bytes/s)."""
        return sum(self._links[h][1].capacity for h in self._active)

    def _count_changed(self, host: int, pool: SharedCapacity) -> None:
        if pool.jobs:
            self._active.add(host)
        else:
            self._active.discard(host)
            pool.capacity = 0.0
        self._rebalance()

    def _rebalance(self) -> None:
        hosts = sorted(self._active, key=lambda h: self._links[h][0] / self._links[h][1].jobs)
        remaining = self.bandwidth
        flows = sum(self._links[h][1].jobs for h in hosts)
        for h in hosts:
            nic, pool = self._links[h]
            level = remaining / flows if flows else 0.0
            share = min(nic, pool.jobs * level)
            remaining -= share
            flows -= pool.jobs
            pool.set_capacity(share)
        if self.on_egress is not None:
            self.on_egress(self.bandwidth - remaining if hosts else 0.0)


class BatchShare:
    """A host's cores shared by batch jobs in proportion to their vCPUs, each at most its own
    vCPUs, each slowed by its own factor (interference, nesting).

    Job j progresses at ``demand_j * min(1, capacity / sum(demand)) / factor_j`` CPU-seconds
    per second. Rates change whenever a job arrives or leaves or ``set_factors`` is called; the
    cost is O(jobs on the host) per change, and only this host's jobs are touched.
    """

    def __init__(self, env: simpy.Environment, capacity: float) -> None:
        self.env = env
        self.capacity = capacity
        self._jobs: dict[int, list] = {}  # id -> [remaining, demand, factor, event, rate]
        self._ids = itertools.count()
        self._stamp = env.now
        self._generation = 0

    @property
    def jobs(self) -> int:
        """Jobs in progress."""
        return len(self._jobs)

    def run(self, work: float, demand: float, factor: float = 1.0) -> tuple[int, simpy.Event]:
        """Start a job of ``work`` CPU-seconds; its id (to cancel or re-factor it) and the
        event that fires when it is done."""
        done = self.env.event()
        self._advance()
        job = next(self._ids)
        self._jobs[job] = [work, demand, factor, done, 0.0]
        self._reschedule()
        return job, done

    def cancel(self, job: int) -> None:
        """Drop a job (its event never fires)."""
        if job in self._jobs:
            self._advance()
            del self._jobs[job]
            self._reschedule()

    def set_factors(self, factor_of: Callable[[int], float]) -> None:
        """Give every job the slowdown factor ``factor_of(job id)`` from now on."""
        if not self._jobs:
            return
        self._advance()
        for job, entry in self._jobs.items():
            entry[2] = factor_of(job)
        self._reschedule()

    def clear(self) -> None:
        """Drop every job (a crash)."""
        self._jobs.clear()
        self._generation += 1

    def _advance(self) -> None:
        now = self.env.now
        if now > self._stamp:
            dt = now - self._stamp
            for entry in self._jobs.values():
                entry[0] -= entry[4] * dt
        self._stamp = now

    def _reschedule(self) -> None:
        self._generation += 1
        if not self._jobs:
            return
        total = sum(entry[1] for entry in self._jobs.values())
        share = min(1.0, self.capacity / total) if total > 0 else 1.0
        soonest = math.inf
        for entry in self._jobs.values():
            entry[4] = entry[1] * share / entry[2]
            if entry[4] > 0:
                soonest = min(soonest, max(0.0, entry[0]) / entry[4])
        if soonest == math.inf:
            return
        generation = self._generation
        timer = self.env.timeout(soonest)
        timer.callbacks.append(lambda _event: self._on_timer(generation))

    def _on_timer(self, generation: int) -> None:
        if generation != self._generation:
            return
        self._advance()
        finished = [job for job, entry in self._jobs.items()
                    if entry[0] <= entry[4] * _EPS * max(1.0, self.env.now)]
        for job in finished:
            self._jobs.pop(job)[3].succeed()
        self._reschedule()
