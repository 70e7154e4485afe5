"""Arrivals: when each workload's requests come (Poisson, with a schedule of rates; constant;
a burst; a trace's instances), and the requests they make.

Owns: the arrival times, each arrival's draws (in a fixed order per workload's named streams,
so the isolation modes compared in one scenario see the same arrivals and lifetimes), a trace
instance's own size, tenant and lifetime, and making a request (``submit`` makes one for a
pipeline too). Must not: place or start anything (the request does: ``lifecycle``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from sim.edge.traces import tenant_name
from sim.experiment.rng import sampler_exponential
from sim.model.kernel import alarm, urgent
from sim.model.lifecycle import Draws, ModelForRequests, Request
from sim.spec.config import (
    BurstArrivals,
    ConstantArrivals,
    PoissonArrivals,
    ReplicaArrivals,
    TraceArrivals,
)
from sim.spec.demand import Demand, demand

if TYPE_CHECKING:
    from sim.model.roster import Roster
    from sim.model.tenancy import Tenancy
    from sim.model.workload import WorkloadRuntime
    from sim.spec.config import Image


class Arrivals:
    """The requests of one run's workloads."""

    def __init__(self, model: ModelForRequests, duration: float, rng: Callable[[str], Any],
                 roster: Roster, tenancy: Tenancy, images: dict[str, Image]) -> None:
        """``model``: the handle each request is given."""
        self.model = model
        self.env = model.env
        self.duration = duration
        self.rng = rng
        self.roster = roster
        self.tenancy = tenancy
        self.images = images
        self._views: dict[tuple[int, float, float, str], WorkloadRuntime] = {}
        self._needs: dict[tuple[int, float, float], Demand] = {}

    def start(self, workloads: list[WorkloadRuntime]) -> None:
        """Start each workload's arrivals."""
        for wl in workloads:
            self._arrivals(wl)

    def submit(self, wl: WorkloadRuntime, draws: Draws, origin: str = "arrival",
               on_running: simpy.Event | None = None) -> Request:
        """Request one instance of ``wl`` now; a rollout follows it unless it is a
        pipeline's test. An arrival's lifecycle begins at once; a pipeline's on an urgent
        event (as a SimPy process would), so the retirements just asked for go first."""
        roster = self.roster
        record = roster.record(wl, request=roster.next_id, attempt=0, origin=origin)
        return Request(self.model, wl, record, draws.app_s, draws.lifetime_s, draws.create_s,
                       draws.boot_s, draws.stop_s, draws.fault_s,
                       live=roster.tracking and origin != "test",
                       on_running=on_running, at_once=origin == "arrival")

    def _times(self, wl: WorkloadRuntime) -> Generator[float, None, None]:
        """``wl``'s arrival times, in order, up to the end of the run."""
        spec = wl.spec.arrival
        if isinstance(spec, ReplicaArrivals):  # its replicas' controller asks for them
            return
        end = min(self.duration, spec.until if spec.until is not None else math.inf)
        limit = spec.count if spec.count is not None else math.inf
        if isinstance(spec, TraceArrivals):
            assert wl.replay is not None
            times = wl.replay.arrival_s
            last = min(int(np.searchsorted(times, end, side="left")), int(min(limit, len(times))))
            yield from times[:last].tolist()
            return
        if isinstance(spec, BurstArrivals):
            if spec.at < end:
                yield from (spec.at for _ in range(spec.count))
            return
        n = 0
        if isinstance(spec, ConstantArrivals):
            while n < limit and (t := spec.start + n * spec.interval) < end:
                yield t
                n += 1
            return
        assert isinstance(spec, PoissonArrivals)
        steps = ([(s.at, s.rate) for s in spec.schedule] if spec.schedule is not None
                 else [(spec.start, spec.rate)])
        unit = sampler_exponential(self.rng(f"arrivals/{wl.spec.name}"), 1.0)
        for k, (begin, rate) in enumerate(steps):
            stop = min(end, steps[k + 1][0] if k + 1 < len(steps) else math.inf)
            if rate <= 0:
                continue
            t = begin  # memoryless: restarting the clock at each step is exact
            while n < limit:
                t += unit() / rate
                if t >= stop:
                    break
                yield t
                n += 1

    def _arrivals(self, wl: WorkloadRuntime) -> None:
        """Submit ``wl``'s arrivals, each at its time: the callback of one timeout per arrival
        (the steps of a SimPy process that yields those timeouts, without the process: it
        begins on an urgent event now, as a process is initialized)."""
        env = self.env
        times = enumerate(self._times(wl))
        due = -1  # the arrival the pending timeout is for

        def arrive(_event: simpy.Event) -> None:
            nonlocal due
            if due >= 0:
                self._arrive(wl, due)
            for i, t in times:
                if t > env.now:
                    due = i
                    alarm(env, t - env.now, arrive)
                    return
                self._arrive(wl, i)

        urgent(env, arrive)

    def _arrive(self, wl: WorkloadRuntime, i: int) -> None:
        """The ``i``-th arrival of ``wl``, now: its draws, then its request."""
        name = wl.spec.name
        trace = wl.replay
        lifetime = wl.draw_lifetime() if wl.draw_lifetime else None
        current = self.roster.current[name]
        if trace is not None:  # this instance's own size, tenant and lifetime
            current = self._sized(current, float(trace.cpu[i]),
                                  float(trace.memory_bytes[i]),
                                  tenant_name(trace, i, wl.spec.tenant))
            if trace.has_lifetime:  # NaN: censored, runs to the end
                life = float(trace.lifetime_s[i])
                lifetime = None if math.isnan(life) else life
        roster = self.roster
        record = roster.record(current, roster.next_id, 0)  # ``submit``, as an arrival
        Request(self.model, current, record, wl.draw_app(), lifetime,  # ``Draws``' order
                wl.draw_create(), wl.draw_boot(), wl.draw_stop(),
                wl.draw_fault() if wl.draw_fault else math.inf, roster.tracking, None, True)

    def _sized(self, wl: WorkloadRuntime, cpu: float, memory: float, tenant: str
               ) -> WorkloadRuntime:
        """``wl`` for one trace instance of ``cpu`` vCPU, ``memory`` bytes and ``tenant``
        (cached: instances of one size and tenant share it)."""
        key = (id(wl), cpu, memory, tenant)
        view = self._views.get(key)
        if view is None:
            need = self._needs.get((id(wl), cpu, memory))
            if need is None:
                need = demand(wl.spec, wl.profile, self.images, cpu=cpu, memory=memory)
                self._needs[(id(wl), cpu, memory)] = need
            view = dataclasses.replace(wl, need=need, tenant=tenant,
                                       tenant_code=self.tenancy.code(tenant))
            self._views[key] = view
        return view
