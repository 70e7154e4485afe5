"""Admission: a request is placed on a host, waits in the queue, or is rejected (the
request's own rule: ``on_full``); what it held is given back when it leaves.

Owns: the placement queue (first come, first served: a request that cannot be placed blocks
those behind it; or, under ``queue: any-fit``, each waiting request placed as soon as it fits;
one stopped while it waits leaves it), allocating the capacity the placement
policy chose (on a host whose OS build runs the image, once a campaign has upgraded some:
``builds``) and releasing it, and telling the index, the counts, the kernel tenancy and the
image collector of each change.
Must not: choose a host (``placement``) or drive a request's steps (``lifecycle``).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import simpy

if TYPE_CHECKING:
    from sim.model.builds import Builds
    from sim.model.counts import Counts
    from sim.model.host import Host
    from sim.model.imagegc import ImageCollector
    from sim.model.placement import CapacityIndex, Placement
    from sim.model.tenancy import Tenancy
    from sim.model.workload import WorkloadRuntime
    from sim.recorder import InstanceRecord


class Admission:
    """Places instances, keeps the queue and releases what they held."""

    def __init__(self, env: simpy.Environment, placement: Placement, index: CapacityIndex,
                 tenancy: Tenancy, counts: Counts, images: ImageCollector,
                 builds: Builds, any_fit: bool = False) -> None:
        """``any_fit``: a waiting request that cannot be placed does not hold back those
        behind it (the scenario's ``queue: any-fit``); else the queue is first come, first
        served."""
        self.env = env
        self.builds = builds
        self.any_fit = any_fit
        self.images = images
        self.placement = placement
        self.index = index
        self.tenancy = tenancy
        self.counts = counts
        # requests waiting for a host, each with the event that grants it one
        self.queue: deque[tuple[WorkloadRuntime, simpy.Event]] = deque()

    def place(self, wl: WorkloadRuntime) -> Host | None:
        """Allocate an instance of ``wl`` on the host the policy chooses (None: none can take
        it now)."""
        allowed = self.tenancy.allowed(wl)
        runs = self.builds.allowed(wl.need)  # once a campaign has upgraded hosts
        if runs is not None:
            allowed = runs if allowed is None else allowed & runs
        host = self.placement.choose(wl.host_ids, wl.need, wl.chain_key, wl.chain, allowed)
        if host is not None:
            host.allocate(wl.need, wl.chain)
            self.images.placed(host, wl.chain_key, wl.chain)
            self.index.update(host)
            self.changed(host, +1, wl)
        return host

    def queued_first(self) -> bool:
        """Whether a new request must join the queue rather than be placed at once: others
        wait before it, first come, first served (under any-fit, every waiting request is
        tried whenever capacity frees, so one that fits now is placed now)."""
        return bool(self.queue) and not self.any_fit

    def enqueue(self, wl: WorkloadRuntime) -> simpy.Event:
        """Queue a request for ``wl``: the event returned fires with the host it is given."""
        ticket = simpy.Event(self.env)
        self.queue.append((wl, ticket))
        self.counts.queue(+1)
        return ticket

    def withdraw(self, ticket: simpy.Event) -> None:
        """Take a request waiting in the queue out of it (a rollout or a scale-down stopped
        it before it was given a host)."""
        for k, (_wl, waiting) in enumerate(self.queue):
            if waiting is ticket:
                del self.queue[k]
                self.counts.queue(-1)
                if k == 0 and not self.any_fit:  # the head left: those behind may fit now
                    self.drain()
                return

    def release(self, host: Host, wl: WorkloadRuntime, rec: InstanceRecord) -> None:
        """``rec``'s instance leaves ``host``: its capacity goes back, and the queue moves."""
        host.residents.pop(rec.id, None)
        host.release(wl.need)
        self.images.released(host, wl.chain_key)
        self.index.update(host)
        rec.removed = self.env.now
        self.changed(host, -1, wl)
        if self.queue:
            self.drain()

    def changed(self, host: Host, delta: int, wl: WorkloadRuntime) -> None:
        """An instance of ``wl`` was placed on (+1) or released from (-1) ``host``."""
        self.counts.allocation(host, delta, wl.need.memory)
        self.tenancy.changed(host, wl, delta)

    def drain(self) -> None:
        """Place the queued requests, in order, until one cannot be placed (under any-fit:
        each that can, skipping those that cannot; once one of a kind cannot, the others of
        its kind are not tried again in this pass)."""
        queue = self.queue
        if self.any_fit:
            self._drain_any()
            return
        while queue:
            wl, ticket = queue[0]
            host = self.place(wl)
            if host is None:
                return
            queue.popleft()
            self.counts.queue(-1)
            ticket.succeed(host)

    def _drain_any(self) -> None:
        waiting: deque[tuple[WorkloadRuntime, simpy.Event]] = deque()
        stuck: set[int] = set()  # kinds (workload runtimes) that did not fit in this pass
        queue = self.queue
        while queue:
            wl, ticket = queue.popleft()
            host = None if id(wl) in stuck else self.place(wl)
            if host is None:
                stuck.add(id(wl))
                waiting.append((wl, ticket))
                continue
            self.counts.queue(-1)
            ticket.succeed(host)
        self.queue = waiting
