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

import heapq
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import simpy
from sortedcontainers import SortedList

from sim.model.kernel import Done, Wake, alarm, wake

_EPS = 1e-9


def _tolerance(clock: float, rate: float, now: float) -> float:
    """How far short of its target a job on a virtual clock at ``clock``, served at ``rate``,
    may be and still count as done: a residual that no representable time step after ``now``
    can finish (else its timer would fire again at the same instant forever)."""
    return max(_EPS * max(1.0, abs(clock)), 4.0 * rate * math.ulp(now))


class SharedCapacity:
    """``capacity`` units/s shared equally by the jobs present, each at most ``per_job_cap``.

    ``max_jobs``: the most jobs its users can ever have in progress at once (a host's CPU is
    used only by start-ups, each holding one of the host's start slots). When even that many
    cannot oversubscribe it (``max_jobs * per_job_cap <= capacity``) every job runs at
    ``per_job_cap`` from start to end, so the pool is *never contended*: a job's event is
    scheduled when it starts, with no timer and no virtual time (and work whose end its owner
    knows need not be run on it at all: ``Startup.book`` books it with the samples' totals,
    ``GroupTotals.book``). A job cancelled or cleared then leaves the count at once, but its
    event still fires (whoever waited on it was interrupted, which is why it was cancelled).

    ``on_count_change(pool)`` is told when the number of jobs changes; a never-contended pool,
    which has no timer, tells only of a job started while none is in progress (``pending``
    turns true), and of cancellations and clears (ask ``jobs`` for the count at any moment)."""

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
        self._heap: list[tuple[float, int, Done]] = []
        self._seq = itertools.count()
        self._timer: Wake | None = None  # the timer due at the soonest job's end, if any
        self.uncontended = max_jobs is not None and max_jobs * per_job_cap <= capacity
        # never contended: (served at, event) of the jobs started since the pool was last
        # idle, and the latest of those ends (the pool is idle from then on)
        self._ends: list[tuple[float, simpy.Event]] = []
        self._last_end = -math.inf

    @property
    def jobs(self) -> int:
        """Jobs in progress."""
        if self.uncontended:
            now = self.env.now
            if self._last_end <= now:  # all ended
                return 0
            self._ends = [entry for entry in self._ends if entry[0] > now]
            return len(self._ends)
        return len(self._heap)

    @property
    def pending(self) -> bool:
        """Jobs in progress."""
        if self.uncontended:
            return self._last_end > self.env.now
        return bool(self._heap)

    def rate(self) -> float:
        """Rate at which each job progresses now."""
        n = self.jobs if self.uncontended else len(self._heap)
        return self._share(n) if n else 0.0

    def _share(self, n: int) -> float:
        """The rate of each of ``n`` jobs (``n > 0``)."""
        return min(self.per_job_cap, self.capacity / n)

    def run(self, work: float, then: float = 0.0) -> simpy.Event:
        """An event that fires when ``work`` units have been served, or ``then`` seconds
        after that."""
        done = Done(self.env, then)
        if work <= 0:
            done.fire()
            return done
        if self.uncontended:
            served_in = self.served_in(work)
            now = self.env.now
            self._book(now + served_in, done)
            done.fire(served_in)
            return done
        self._advance()
        heapq.heappush(self._heap, (self._virtual + work, next(self._seq), done))
        self._changed()
        return done

    def served_in(self, work: float) -> float:
        """How long ``work`` takes on a never-contended pool (``uncontended``): it is served
        at the per-job rate from start to end."""
        return work / self.per_job_cap

    def _book(self, end: float, done: simpy.Event) -> None:
        """Add a job that started now to a never-contended pool: served at ``end``."""
        idle = self._last_end <= self.env.now
        if idle:  # every job started before has ended
            self._ends.clear()
        self._ends.append((end, done))
        self._last_end = max(self._last_end, end)
        if idle and self.on_count_change is not None:
            self.on_count_change(self)

    def cancel(self, done: simpy.Event) -> None:
        """Drop the job whose event is ``done`` (it never fires, unless the pool is never
        contended); the others speed up."""
        if self.uncontended:
            self._ends = [entry for entry in self._ends if entry[1] is not done]
            self._last_end = max((entry[0] for entry in self._ends), default=-math.inf)
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
        self._last_end = -math.inf
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
        n = len(self._heap)  # the jobs only a contended pool keeps
        if n and now > self._stamp:
            self._virtual += self._share(n) * (now - self._stamp)
        self._stamp = now

    def _changed(self) -> None:
        if self.on_count_change is not None:
            self.on_count_change(self)  # may call set_capacity, which schedules
        self._schedule()

    def _schedule(self) -> None:
        self._timer = None  # a timer still pending is superseded (it will do nothing)
        n = len(self._heap)
        if not n:
            return
        rate = self._share(n)
        if rate <= 0:
            return
        delay = max(0.0, (self._heap[0][0] - self._virtual) / rate)
        self._timer = alarm(self.env, delay, self._on_timer)

    def _on_timer(self, timer: Wake) -> None:
        if timer is not self._timer:
            return  # superseded by a later change
        self._advance()
        now = self.env.now
        heap = self._heap
        rate = self._share(len(heap)) if heap else 0.0
        tolerance = _tolerance(self._virtual, rate, now)
        if not (heap and heap[0][0] <= self._virtual + tolerance):
            self._schedule()
            return
        _, _, done = heapq.heappop(heap)
        if (heap and heap[0][0] <= self._virtual + tolerance  # more than one job done now
                or done.then > 0 or self.env.peek() <= now):  # or another event due now
            done.fire()
            while heap and heap[0][0] <= self._virtual + tolerance:
                heapq.heappop(heap)[2].fire()
            self._changed()
            return
        # One job done, and nothing else due now: its event, fired now, would be the next
        # processed, after this timer and whatever ``_changed`` schedules (later, or now but
        # after it). So its callbacks run here, after ``_changed``, in that same order: the
        # same order of events as firing it, without an event of its own.
        self._changed()
        done.complete()


class Link:
    """One host's downloads from the registry: equal shares of what the network gives the host
    (see ``Network``). ``run`` and ``clear`` as on a ``SharedCapacity``."""

    def __init__(self, network: Network, host: int, nic: float) -> None:
        self.network = network
        self.host = host
        self.nic = nic
        # (target, sequence, event): a heap of when each download is done, in the common
        # clock's units while the link is open, in its own clock's while it is capped
        self.flows: list[tuple[float, int, Done]] = []
        self.capped = False
        self.key: tuple[float, int] | None = None  # (NIC per flow, host) while it has flows
        self.keyed_flows = 0  # its flow count when keyed
        self.version = 0  # which of its entries in the network's heap of heads is current
        self.virtual = 0.0  # capped: service each of its flows has had
        self.stamp = 0.0
        self.generation = 0

    def run(self, work: float, then: float = 0.0) -> simpy.Event:
        """An event that fires when ``work`` bytes have arrived, or ``then`` seconds after
        that."""
        return self.network.start(self, work, then)

    def clear(self) -> None:
        """Drop every download (a crash): their events never fire."""
        self.network.clear(self)

    def advance(self) -> None:
        """Bring the link's own clock up to now: while it is capped, each of its downloads has
        had an equal share of the NIC since ``stamp``."""
        now = self.network.env.now
        if self.capped and self.flows and now > self.stamp:
            self.virtual += self.nic / len(self.flows) * (now - self.stamp)
        self.stamp = now


class Network:
    """The registry's egress shared max-min fairly by host NICs; within a host, equally.

    With n_h downloads at host h and the water level L solving sum_h min(nic_h, n_h * L) =
    registry bandwidth (progressive filling), a host whose NIC per download nic_h / n_h is
    below L is *capped*: each of its downloads gets nic_h / n_h, on a clock of its own. Every
    other host is *open*: each of its downloads gets L, so all open downloads share one common
    clock, L = (bandwidth - sum of capped NICs) / (downloads at open hosts). A change at one
    host re-keys that host and moves the few hosts whose side of L changed (each move makes L
    larger, so it ends): O(log hosts) plus the hosts moved, never a pass over every transfer.
    One timer for the open downloads (the soonest of each open host's soonest, in a heap) and
    one per capped host.
    """

    def __init__(self, env: simpy.Environment, registry_bandwidth: float) -> None:
        self.env = env
        self.bandwidth = registry_bandwidth
        self._links: dict[int, Link] = {}
        self._open: SortedList = SortedList()  # keys of open hosts with downloads
        self._capped: SortedList = SortedList()  # keys of capped hosts
        self._open_flows = 0
        self._capped_nic = 0.0
        self.level = 0.0  # what each download at an open host gets (bytes/s)
        self._virtual = 0.0  # the common clock: service each open download has had
        self._stamp = env.now
        self._heads: list[tuple[float, int, int, int]] = []  # (target, seq, host, version)
        self._seq = itertools.count()
        self._generation = 0
        self.on_egress: Callable[[float], None] | None = None  # told the egress after changes

    def link(self, host: int, nic: float) -> Link:
        """The downloads of ``host`` (created on first use)."""
        link = self._links.get(host)
        if link is None:
            link = self._links[host] = Link(self, host, nic)
        return link

    def links(self) -> dict[int, Link]:
        """The hosts that have downloaded something: host -> its link."""
        return self._links

    def egress(self) -> float:
        """Registry bandwidth in use now (bytes/s)."""
        return self._capped_nic + (self._open_flows * self.level if self._open_flows else 0.0)

    # --- changes ----------------------------------------------------------------------------

    def start(self, link: Link, work: float, then: float) -> Done:
        """Start a download of ``work`` bytes on ``link`` (``Link.run``): its event fires when
        they have arrived (at once for none), ``then`` seconds after that."""
        done = Done(self.env, then)
        if work <= 0:
            done.fire()
            return done
        self._advance()
        link.advance()
        clock = link.virtual if link.capped else self._virtual
        heapq.heappush(link.flows, (clock + work, next(self._seq), done))
        self._changed([link])
        return done

    def clear(self, link: Link) -> None:
        """Drop every download on ``link`` (``Link.clear``): their events never fire."""
        self._advance()
        link.flows.clear()
        self._changed([link])

    def _advance(self) -> None:
        now = self.env.now
        if self._open_flows and now > self._stamp:
            self._virtual += self.level * (now - self._stamp)
        self._stamp = now

    def _changed(self, links: list[Link]) -> None:
        """``links`` gained or lost downloads (clocks advanced to now): re-key them, move the
        hosts whose side of the level changed, and reschedule what changed."""
        for link in links:
            self._unkey(link)
            if link.flows:
                self._key(link)
            else:
                link.capped = False
                link.generation += 1
                link.version += 1
        moved = self._settle()
        for link in (*links, *moved):
            if link.flows:
                self._reschedule(link)
        self._schedule_common()
        if self.on_egress is not None:
            self.on_egress(self.egress())

    def _key(self, link: Link) -> None:
        n = len(link.flows)
        link.key = (link.nic / n, link.host)
        link.keyed_flows = n
        if link.capped:
            self._capped.add(link.key)
            self._capped_nic += link.nic
        else:
            self._open.add(link.key)
            self._open_flows += n

    def _unkey(self, link: Link) -> None:
        if link.key is None:
            return
        if link.capped:
            self._capped.remove(link.key)
            self._capped_nic = self._capped_nic - link.nic if self._capped else 0.0
        else:
            self._open.remove(link.key)
            self._open_flows -= link.keyed_flows
        link.key = None

    def _settle(self) -> list[Link]:
        """Move hosts across the level until every capped host's NIC per download is below
        it and every open host's is not; the hosts moved."""
        moved = []
        while True:
            level = ((self.bandwidth - self._capped_nic) / self._open_flows
                     if self._open_flows else math.inf)
            if self._open and self._open[0][0] < level:
                link = self._links[self._open[0][1]]
                self._unkey(link)  # open -> capped: its targets onto a clock of its own
                link.flows = [(t - self._virtual, k, e) for t, k, e in link.flows]
                link.virtual = 0.0
                link.stamp = self.env.now
                link.capped = True
                link.version += 1
            elif self._capped and self._capped[-1][0] > level:
                link = self._links[self._capped[-1][1]]
                self._unkey(link)  # capped -> open: its targets onto the common clock
                link.advance()
                link.flows = [(t - link.virtual + self._virtual, k, e)
                              for t, k, e in link.flows]
                link.capped = False
                link.generation += 1
            else:
                break
            self._key(link)
            moved.append(link)
        self.level = max(0.0, level) if self._open_flows else 0.0
        return moved

    # --- timers -----------------------------------------------------------------------------

    def _reschedule(self, link: Link) -> None:
        if not link.capped:  # its soonest download, among the open hosts' soonest
            link.version += 1
            heapq.heappush(self._heads, (link.flows[0][0], next(self._seq), link.host,
                                         link.version))
            return
        link.generation += 1
        rate = link.nic / len(link.flows)
        delay = max(0.0, (link.flows[0][0] - link.virtual) / rate)
        generation = link.generation
        wake(self.env, delay, lambda _event: self._on_capped(link, generation))

    def _schedule_common(self) -> None:
        self._generation += 1
        heads = self._heads
        while heads and not self._current(heads[0]):
            heapq.heappop(heads)
        if not heads or self.level <= 0:
            return
        delay = max(0.0, (heads[0][0] - self._virtual) / self.level)
        generation = self._generation
        wake(self.env, delay, lambda _event: self._on_common(generation))

    def _current(self, head: tuple[float, int, int, int]) -> bool:
        link = self._links[head[2]]
        return not link.capped and bool(link.flows) and head[3] == link.version

    def _finish(self, link: Link, until: float) -> bool:
        """Fire the downloads of ``link`` done by ``until`` (its clock plus the tolerance);
        whether there were any."""
        finished = False
        while link.flows and link.flows[0][0] <= until:
            heapq.heappop(link.flows)[2].fire()
            finished = True
        return finished

    def _on_common(self, generation: int) -> None:
        if generation != self._generation:
            return
        self._advance()
        done = []
        until = self._virtual + _tolerance(self._virtual, self.level, self.env.now)
        heads = self._heads
        while heads and heads[0][0] <= until:
            head = heapq.heappop(heads)
            if self._current(head):
                link = self._links[head[2]]
                self._finish(link, until)
                done.append(link)
        if done:
            self._changed(done)
        else:
            self._schedule_common()

    def _on_capped(self, link: Link, generation: int) -> None:
        if generation != link.generation:
            return
        self._advance()
        link.advance()
        rate = link.nic / len(link.flows)
        if self._finish(link, link.virtual + _tolerance(link.virtual, rate, self.env.now)):
            self._changed([link])
        else:
            self._reschedule(link)


@dataclass(slots=True)
class BatchJob:
    """A batch job on a ``BatchShare``: CPU-seconds left, vCPUs it asks for, its slowdown
    factor, the event it fires when done, and its rate since the last change."""

    remaining: float
    demand: float
    factor: float
    done: simpy.Event
    rate: float = 0.0


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
        self._jobs: dict[int, BatchJob] = {}  # by id
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
        self._jobs[job] = BatchJob(work, demand, factor, done)
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
            entry.factor = factor_of(job)
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
                entry.remaining -= entry.rate * dt
        self._stamp = now

    def _reschedule(self) -> None:
        self._generation += 1
        if not self._jobs:
            return
        total = sum(entry.demand for entry in self._jobs.values())
        share = min(1.0, self.capacity / total) if total > 0 else 1.0
        soonest = math.inf
        for entry in self._jobs.values():
            entry.rate = entry.demand * share / entry.factor
            if entry.rate > 0:
                soonest = min(soonest, max(0.0, entry.remaining) / entry.rate)
        if soonest == math.inf:
            return
        generation = self._generation
        wake(self.env, soonest, lambda _event: self._on_timer(generation))

    def _on_timer(self, generation: int) -> None:
        if generation != self._generation:
            return
        self._advance()
        finished = [job for job, entry in self._jobs.items()
                    if entry.remaining <= entry.rate * _EPS * max(1.0, self.env.now)]
        for job in finished:
            self._jobs.pop(job).done.succeed()
        self._reschedule()
