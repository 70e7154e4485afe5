"""The cluster: hosts, the registry network, placement and one process per instance lifecycle.

Owns: the lifecycle requested -> (queued) -> placed -> start slot -> pulling -> extracting ->
(disk copy) -> creating -> booting -> app starting -> running -> stopping -> removed, or
rejected; and the single place (``build``) where a scenario becomes runtime objects.
Must not: read files, compute statistics, or branch on an isolation mode's name: profiles
are data.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from sim.config import (
    BurstArrivals,
    ConstantArrivals,
    Exponential,
    PoissonArrivals,
    ResolvedProfile,
    Scenario,
    Workload,
)
from sim.demand import Demand, Layer, demand, layer_chain, why_not
from sim.model.host import Host, LayerFetch
from sim.model.placement import CapacityIndex, Placement
from sim.model.sharing import Network, SharedCapacity
from sim.model.totals import GroupTotals
from sim.recorder import InstanceRecord, Recorder
from sim.rng import generator, sampler

Process = Generator[simpy.Event, Any, None]


@dataclass(eq=False)
class WorkloadRuntime:
    """A workload with what every instance of it needs, resolved once."""

    spec: Workload
    profile: ResolvedProfile
    need: Demand
    chain: list[Layer]
    host_ids: Any  # the hosts' indexes, ascending (NumPy array)
    chain_key: str
    draw_app: Callable[[], float]
    draw_lifetime: Callable[[], float] | None
    draw_create: Callable[[], float]
    draw_boot: Callable[[], float]
    draw_stop: Callable[[], float]


class Cluster:
    """Runtime state of one run. Build it with ``build``."""

    def __init__(self, env: simpy.Environment, scenario: Scenario,
                 profiles: dict[str, ResolvedProfile], seed: int, replication: int,
                 recorder: Recorder) -> None:
        self.env = env
        self.scenario = scenario
        self.recorder = recorder
        self.seed = seed
        self.replication = replication
        self.network = Network(env, scenario.registry.bandwidth)
        self.images = {img.name: img for img in scenario.images}
        self.hosts: list[Host] = []
        for g, group in enumerate(scenario.hosts):
            for k in range(group.count):
                index = len(self.hosts)
                host = Host(index=index, name=f"{group.group}-{k + 1:02d}", group_index=g,
                            spec=group, cpu=SharedCapacity(env, group.cpu_cores, 1.0),
                            disk_io=SharedCapacity(env, group.disk_rate),
                            slots=simpy.Resource(env, group.max_concurrent_starts))
                for image in group.preloaded_images:
                    host.preload(layer_chain(self.images, image))
                self.hosts.append(host)
                recorder.hosts.append({"host": index, "name": host.name, "group": group.group})
        self.index = CapacityIndex(self.hosts)
        self.placement = Placement(scenario.placement, self._rng("placement"), self.index)
        self.workloads = [self._workload(wl, profiles[wl.isolation]) for wl in scenario.workloads]
        self.queue: deque[tuple[WorkloadRuntime, simpy.Event]] = deque()
        self.counts = {"running": 0, "starting": 0, "allocated": 0, "queued": 0,
                       "hosts_used": 0, "memory_committed": 0.0}
        self.group_counts = [{"running": 0, "starting": 0, "allocated": 0}
                             for _ in scenario.hosts]
        self.host_running = [0] * len(self.hosts)
        self._next_id = 0

    def _rng(self, name: str) -> Any:
        return generator(self.seed, name, self.replication)

    def _workload(self, wl: Workload, profile: ResolvedProfile) -> WorkloadRuntime:
        need = demand(wl, profile, self.images)
        allowed = set(wl.host_groups or [g.group for g in self.scenario.hosts])
        hosts = [h for h in self.hosts if h.spec.group in allowed and not why_not(h.spec, need)]
        tag = f"{profile.name}/{wl.name}"
        return WorkloadRuntime(
            spec=wl, profile=profile, need=need, chain=layer_chain(self.images, wl.image),
            host_ids=_as_slice([h.index for h in hosts]),
            chain_key=wl.image,
            draw_app=sampler(wl.app_start, self._rng(f"app_start/{wl.name}")),
            draw_lifetime=(sampler(wl.lifetime, self._rng(f"lifetime/{wl.name}"))
                           if wl.lifetime is not None else None),
            draw_create=sampler(profile.create, self._rng(f"create/{tag}")),
            draw_boot=sampler(profile.boot, self._rng(f"boot/{tag}")),
            draw_stop=sampler(profile.stop, self._rng(f"stop/{tag}")),
        )

    # --- levels -------------------------------------------------------------------------

    def _bump(self, name: str, delta: float, group: int | None = None) -> None:
        self.counts[name] += delta
        self.recorder.level(name, self.env.now, self.counts[name])
        if group is not None:
            self.group_counts[group][name] += int(delta)

    def _host_changed(self, host: Host, delta: int, need: Demand) -> None:
        before = host.instances - delta
        if before == 0 and host.instances > 0:
            self._bump("hosts_used", 1)
        elif before > 0 and host.instances == 0:
            self._bump("hosts_used", -1)
        self._bump("allocated", delta, host.group_index)
        self._bump("memory_committed", delta * need.memory)
        self.recorder.host_level(host.index, self.env.now, host.instances)

    # --- arrivals -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the arrival processes and the sampler."""
        for wl in self.workloads:
            self.env.process(self._arrivals(wl))
        self.env.process(self._sampler())

    def _arrival_times(self, wl: WorkloadRuntime) -> Generator[float, None, None]:
        spec = wl.spec.arrival
        end = min(self.scenario.duration, spec.until if spec.until is not None else math.inf)
        limit = spec.count if spec.count is not None else math.inf
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
        unit = sampler_exponential(self._rng(f"arrivals/{wl.spec.name}"), 1.0)
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

    def _arrivals(self, wl: WorkloadRuntime) -> Process:
        for t in self._arrival_times(wl):
            if t > self.env.now:
                yield self.env.timeout(t - self.env.now)
            record = InstanceRecord(id=self._next_id, workload=wl.spec.name,
                                    tenant=wl.spec.tenant, isolation=wl.profile.name,
                                    arrival=self.env.now)
            self._next_id += 1
            self.recorder.instance(record)
            draws = (wl.draw_app(), wl.draw_lifetime() if wl.draw_lifetime else None,
                     wl.draw_create(), wl.draw_boot(), wl.draw_stop())
            self.env.process(self._lifecycle(wl, record, *draws))

    # --- placement ----------------------------------------------------------------------

    def _try_place(self, wl: WorkloadRuntime) -> Host | None:
        host = self.placement.choose(wl.host_ids, wl.need, wl.chain_key, wl.chain)
        if host is not None:
            host.allocate(wl.need, wl.chain)
            self.index.update(host)
            self._host_changed(host, +1, wl.need)
        return host

    def _drain_queue(self) -> None:
        while self.queue:
            wl, ticket = self.queue[0]
            host = self._try_place(wl)
            if host is None:
                return
            self.queue.popleft()
            self._bump("queued", -1)
            ticket.succeed(host)

    # --- the lifecycle ------------------------------------------------------------------

    def _lifecycle(self, wl: WorkloadRuntime, rec: InstanceRecord, app_s: float,
                   lifetime_s: float | None, create_s: float, boot_s: float,
                   stop_s: float) -> Process:
        env = self.env
        host = None if (self.queue and wl.spec.on_full == "queue") else self._try_place(wl)
        if host is None:
            if wl.spec.on_full == "reject":
                rec.rejected = True
                return
            ticket = env.event()
            self.queue.append((wl, ticket))
            self._bump("queued", 1)
            host = yield ticket
        rec.placed = env.now
        rec.host = host.index
        group = host.group_index
        with host.slots.request() as slot:
            yield slot
            rec.slot = env.now
            self._bump("starting", 1, group)
            fetches = [self._fetch(host, layer, rec) for layer in wl.chain
                       if layer.key not in host.layers]
            if fetches:
                yield env.all_of([f.downloaded for f in fetches])
                rec.pulled = env.now
                yield env.all_of([f.ready for f in fetches])
            else:
                rec.pulled = env.now
            rec.extracted = env.now
            if wl.profile.disk_image == "copy":
                yield host.disk_io.run(wl.need.image_bytes)
            rec.copied = env.now
            f = wl.profile.cpu_bound_fraction
            if wl.profile.create_per_running:
                create_s += wl.profile.create_per_running * self.host_running[host.index]
            yield from self._phase(host, create_s, f)
            rec.created = env.now
            yield from self._phase(host, boot_s, f)
            rec.booted = env.now
            yield from self._phase(host, app_s, f)
            rec.running = env.now
            self._bump("starting", -1, group)
            self._bump("running", 1, group)
            self.host_running[host.index] += 1
        if lifetime_s is None:
            return
        yield env.timeout(lifetime_s)
        rec.stopping = env.now
        self._bump("running", -1, group)
        self.host_running[host.index] -= 1
        if stop_s > 0:
            yield env.timeout(stop_s)
        host.release(wl.need)
        self.index.update(host)
        rec.removed = env.now
        self._host_changed(host, -1, wl.need)
        self._drain_queue()

    def _phase(self, host: Host, duration: float, cpu_fraction: float) -> Process:
        """A start-up phase that takes ``duration`` on an idle host: its CPU-bound part is
        processor-shared over the host's cores with the other start-ups, the rest waits."""
        if duration <= 0:
            return
        work = duration * cpu_fraction
        if work > 0:
            yield host.cpu.run(work)
        if duration - work > 0:
            yield self.env.timeout(duration - work)

    def _fetch(self, host: Host, layer: Layer, rec: InstanceRecord) -> LayerFetch:
        fetch = host.fetching.get(layer.key)
        if fetch is None:
            fetch = LayerFetch(self.env.event(), self.env.event())
            host.fetching[layer.key] = fetch
            rec.pulled_bytes += layer.size
            self.env.process(self._download(host, layer, fetch))
        return fetch

    def _download(self, host: Host, layer: Layer, fetch: LayerFetch) -> Process:
        latency = self.scenario.registry.latency
        if latency > 0:
            yield self.env.timeout(latency)
        yield self.network.link(host.index, host.spec.nic).run(layer.size)
        fetch.downloaded.succeed()
        yield host.disk_io.run(layer.size)
        host.layers.add(layer.key)
        del host.fetching[layer.key]
        fetch.ready.succeed()

    # --- sampling -----------------------------------------------------------------------

    def _sampler(self) -> Process:
        interval = self.scenario.timeseries_interval or self.scenario.duration / 240
        groups = list(enumerate(self.scenario.hosts))
        totals = GroupTotals(self.hosts, self.index)
        while True:
            now = self.env.now
            egress = self.network.egress()
            for g, spec in groups:
                counts = self.group_counts[g]
                self.recorder.sample({
                    "time_s": now, "group": spec.group,
                    "running": counts["running"], "starting": counts["starting"],
                    "allocated": counts["allocated"], "queued": self.counts["queued"],
                    "memory_committed_bytes": totals.memory_committed(g),
                    "memory_capacity_bytes": totals.memory_capacity[g],
                    "vcpu_allocated": totals.vcpu_allocated(g),
                    "vcpu_capacity": totals.vcpu_capacity[g],
                    "cpu_busy_startup_cores": totals.busy_startup_cores(g),
                    "registry_egress_bps": egress * 8,
                })
            if now + interval > self.scenario.duration + 1e-9:
                return
            yield self.env.timeout(interval)


def _as_slice(indexes: list[int]) -> Any:
    """Consecutive host indexes as a slice (NumPy arrays serve it without copying), else an
    index array."""
    if indexes and indexes == list(range(indexes[0], indexes[-1] + 1)):
        return slice(indexes[0], indexes[-1] + 1)
    return np.array(indexes, dtype=np.int64)


def sampler_exponential(gen: Any, mean: float) -> Callable[[], float]:
    """Exponential gaps of ``mean`` drawn from ``gen`` in blocks."""
    return sampler(Exponential(dist="exponential", mean=mean), gen)


def build(env: simpy.Environment, scenario: Scenario, profiles: dict[str, ResolvedProfile],
          seed: int, replication: int, recorder: Recorder) -> Cluster:
    """Wire a scenario (one variant) into runtime objects on ``env``, ready to run."""
    cluster = Cluster(env, scenario, profiles, seed, replication, recorder)
    cluster.start()
    return cluster
