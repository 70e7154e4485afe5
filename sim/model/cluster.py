"""The cluster: hosts, the registry network, placement, faults, and what each requested
instance's lifecycle (``sim.model.lifecycle``) asks of them.

Owns: what the steps of a lifecycle do to the cluster (placement and the queue, levels, a
start-up phase's work, pulls, release), faults that cut a lifecycle short (a host's hardware,
a host kernel, or a kernel fault the instance triggers, which takes down the whole host when
the profile shares the host kernel), and the single place (``build``) where a scenario becomes
runtime objects.
Must not: read files, compute statistics, or branch on an isolation mode's name: profiles
are data.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter, deque
from collections.abc import Callable, Generator
from typing import Any

import numpy as np
import simpy

from sim.edge.traces import Replay, tenant_name
from sim.experiment.rng import generator, sampler, sampler_exponential
from sim.model.host import Host, LayerFetch, Slots
from sim.model.kernel import Wake, alarm, urgent, wake
from sim.model.lifecycle import RETIRE, Draws, Live, Request
from sim.model.pipelines import PipelineRunner
from sim.model.placement import CapacityIndex, Placement
from sim.model.sharing import Network, SharedCapacity
from sim.model.totals import GroupTotals
from sim.model.workload import WorkloadRuntime, as_slice
from sim.recorder import FaultRecord, InstanceRecord, Level, Recorder
from sim.spec.config import (
    BurstArrivals,
    ConstantArrivals,
    PoissonArrivals,
    ResolvedProfile,
    Scenario,
    TraceArrivals,
    Workload,
)
from sim.spec.demand import Demand, Layer, carriers, demand, eligible_groups, layer_chain, why_not

Process = Generator[simpy.Event, Any, None]


class Cluster:
    """Runtime state of one run. Build it with ``build``."""

    def __init__(self, env: simpy.Environment, scenario: Scenario,
                 profiles: dict[str, ResolvedProfile], seed: int, replication: int,
                 recorder: Recorder, traces: dict[str, Replay] | None = None) -> None:
        self.env = env
        self.traces = traces or {}
        self.scenario = scenario
        self.recorder = recorder
        self.seed = seed
        self.replication = replication
        self.tracking = bool(scenario.pipelines)  # keep live requests and per-image levels
        faults = scenario.faults
        self.interruptible = (self.tracking or faults.host_hardware is not None
                              or faults.host_kernel.mtbf is not None
                              or any(wl.kernel_fault_rate > 0 for wl in scenario.workloads))
        # nothing can change a start-up's pace once it begins: no fault or rollout interrupts
        # it, no noisy neighbour stretches it (see ``startup``)
        self.foreseeable = not self.interruptible and all(
            wl.noise == "none" for wl in scenario.workloads)
        self.network = Network(env, scenario.registry.bandwidth)
        self.images = {img.name: img for img in scenario.images}
        self.hosts: list[Host] = []
        by_group: dict[str, list[Host]] = {}
        for g, group in enumerate(scenario.hosts):
            members = by_group.setdefault(group.group, [])
            preloaded = [layer_chain(self.images, image) for image in group.preloaded_images]
            for k in range(group.count):
                index = len(self.hosts)
                host = Host(index=index, name=f"{group.group}-{k + 1:02d}", group_index=g,
                            spec=group, cpu=SharedCapacity(env, group.cpu_cores, 1.0,
                                                            max_jobs=group.max_concurrent_starts),
                            disk_io=SharedCapacity(env, group.disk_rate),
                            slots=Slots(env, group.max_concurrent_starts))
                for chain in preloaded:
                    host.preload(chain)
                self.hosts.append(host)
                members.append(host)
        for group in scenario.hosts:  # container-host VMs: k-th VM in physical host k // per
            if group.virtual is not None:
                physical = by_group[group.virtual.physical_group]
                for k, host in enumerate(by_group[group.group]):
                    host.parent = physical[k // group.virtual.per_physical]
                    host.parent.children.append(host)
        if self.interruptible:  # a crash and a recovery are events others may wait for
            for host in self.hosts:
                host.crashed = env.event()
                host.back = env.event()
        for host in self.hosts:
            recorder.hosts.append({"host": host.index, "name": host.name,
                                   "group": host.spec.group, "physical": host.physical.index})
        self.index = CapacityIndex(self.hosts)
        interval = self._sample_interval = (scenario.timeseries_interval
                                            or scenario.duration / 240)
        times = [0.0]  # when ``_sampler`` samples (from 0 s: its timeouts add up to these)
        while times[-1] + interval <= scenario.duration + 1e-9:
            times.append(times[-1] + interval)
        self.totals = GroupTotals(self.hosts, self.index, times)  # what the samples sum
        self.placement = Placement(scenario.placement, self.rng("placement"), self.index)
        tenants = sorted({wl.tenant for wl in scenario.workloads})
        self.tenant_codes = {t: i for i, t in enumerate(tenants)}
        self.workloads = [self._workload(wl, profiles[wl.isolation]) for wl in scenario.workloads]
        # one tenant: no kernel is ever shared across tenants, nothing to keep track of
        self.several_tenants = len(self.tenant_codes) > 1 or any(
            wl.replay is not None for wl in self.workloads)
        self.workloads_by_name = {wl.spec.name: wl for wl in self.workloads}
        self._views: dict[tuple[int, float, float, str], WorkloadRuntime] = {}
        self._jobs: dict[int, tuple[SharedCapacity, simpy.Event]] = {}  # start-up work by rec
        self._needs: dict[tuple[int, float, float], Demand] = {}
        self.queue: deque[tuple[WorkloadRuntime, simpy.Event]] = deque()
        self.counts = {"running": 0, "starting": 0, "allocated": 0, "queued": 0,
                       "memory_committed": 0.0}
        self.group_counts = [{"running": 0, "starting": 0, "allocated": 0}
                             for _ in scenario.hosts]
        self.host_running = [0] * len(self.hosts)
        self._next_id = 0
        self.kernel_owner = np.full(len(self.hosts), -1, dtype=np.int64)
        self.same_tenant = scenario.kernel_sharing == "same-tenant"
        self.physical_count = [0] * len(self.hosts)
        self.counts["cross_tenant_kernel_pairs"] = 0
        self.current = {wl.spec.name: wl for wl in self.workloads}  # the version now deployed
        self.live: dict[str, dict[int, Live]] = {wl.spec.name: {} for wl in self.workloads}
        self.registry_layers = {layer.key for name in self.images
                                for layer in layer_chain(self.images, name)}
        self.bytes_downloaded = 0.0
        self._ingress: SharedCapacity | None = None
        self._draw_reboot: Callable[[], float] | None = None
        self._committed: Level | None = None  # the memory_committed level, once it changes
        if self.tracking:
            self.network.on_egress = lambda bps: recorder.level("registry_egress_Bps", env.now,
                                                                bps)

    def rng(self, name: str) -> Any:
        return generator(self.seed, name, self.replication)

    def _workload(self, wl: Workload, profile: ResolvedProfile) -> WorkloadRuntime:
        need = demand(wl, profile, self.images)
        replay = None
        if isinstance(wl.arrival, TraceArrivals):
            if wl.name not in self.traces:
                raise ValueError(f"workload {wl.name!r} replays a trace, but build() was "
                                 "given none for it (sim.run.execute reads traces)")
            replay = self.traces[wl.name]
            # instances differ in size: a host group is left out only for what no size fixes
            need = demand(wl, profile, self.images, cpu=0.0, memory=0.0)
        allowed = {g.group for g in eligible_groups(list(self.scenario.hosts), wl, profile)}
        hosts = [h for h in self.hosts if h.spec.group in allowed and not why_not(h.spec, need)]
        tag = f"{profile.name}/{wl.name}"
        rate = wl.kernel_fault_rate
        return WorkloadRuntime(
            replay=replay, spec=wl, profile=profile, need=need,
            chain=layer_chain(self.images, wl.image),
            host_ids=as_slice([h.index for h in hosts]),
            chain_key=wl.image,
            draw_app=sampler(wl.app_start, self.rng(f"app_start/{wl.name}")),
            draw_lifetime=(sampler(wl.lifetime, self.rng(f"lifetime/{wl.name}"))
                           if wl.lifetime is not None else None),
            draw_create=sampler(profile.create, self.rng(f"create/{tag}")),
            draw_boot=sampler(profile.boot, self.rng(f"boot/{tag}")),
            draw_stop=sampler(profile.stop, self.rng(f"stop/{tag}")),
            draw_fault=(sampler_exponential(self.rng(f"kernel_faults/{wl.name}"), 1 / rate)
                        if rate > 0 else None),
            redraw_fault=(sampler_exponential(self.rng(f"kernel_faults/{wl.name}/again"),
                                              1 / rate) if rate > 0 else None),
            tenant_code=self.tenant_codes[wl.tenant],
            shares_kernel=profile.shares_host_kernel,
            tenant=wl.tenant,
        )

    # --- levels -------------------------------------------------------------------------

    def bump(self, name: str, delta: float, group: int | None = None) -> None:
        """Change a count and record its level."""
        self._count(name, delta, group)
        self.recorder.level(name, self.env.now, self.counts[name])

    def _count(self, name: str, delta: float, group: int | None = None) -> None:
        """Change a count (its level is worked out after the run from the records:
        ``sim.analysis.metrics.record_levels``; the samples read the counts)."""
        self.counts[name] += delta
        if group is not None:
            self.group_counts[group][name] += int(delta)

    def started(self, host: Host) -> None:
        """An instance on ``host`` is running: ``_count`` from starting to running, inline."""
        counts, group = self.counts, self.group_counts[host.group_index]
        counts["starting"] -= 1
        group["starting"] -= 1
        counts["running"] += 1
        group["running"] += 1
        self.host_running[host.index] += 1

    def _host_changed(self, host: Host, delta: int, wl: WorkloadRuntime) -> None:
        counts = self.counts  # _count("allocated") and bump("memory_committed"), inline
        counts["allocated"] += delta
        self.group_counts[host.group_index]["allocated"] += delta
        committed = counts["memory_committed"] = counts["memory_committed"] + delta * wl.need.memory
        level = self._committed
        if level is None:
            level = self._committed = self.recorder.level_of("memory_committed", dense=True)
        now = self.env.now
        if level.times[-1] == now:  # level.set(now, committed), inline
            level.values[-1] = committed
        else:
            level.times.append(now)
            level.values.append(committed)
        if host.parent is not None:
            p = host.parent.index
            self.physical_count[p] += delta
            self.recorder.physical_level(p, now, self.physical_count[p])
        if wl.shares_kernel and self.several_tenants:
            tenants = host.kernel_tenants
            if tenants is None:
                tenants = host.kernel_tenants = Counter()
            pairs_before = _pairs(len(tenants))
            tenants[wl.tenant] += delta
            if tenants[wl.tenant] == 0:
                del tenants[wl.tenant]
            if len(tenants) != 1:
                self.kernel_owner[host.index] = -1 if not tenants else -2
            else:
                self.kernel_owner[host.index] = self.tenant_codes[next(iter(tenants))]
            change = _pairs(len(tenants)) - pairs_before
            if change:
                self.bump("cross_tenant_kernel_pairs", change)

    # --- arrivals -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the arrival processes, the fault processes and the sampler."""
        for wl in self.workloads:
            self._arrivals(wl)
        faults = self.scenario.faults
        if faults.host_hardware is not None:
            self.env.process(self._host_faults(
                "host_hardware", [h for h in self.hosts if h.parent is None],
                faults.host_hardware.mtbf, faults.host_hardware.repair))
        if faults.host_kernel.mtbf is not None:
            self.env.process(self._host_faults("host_kernel", self.hosts,
                                               faults.host_kernel.mtbf,
                                               faults.host_kernel.reboot))
        for pipeline in self.scenario.pipelines:
            PipelineRunner(self, pipeline).start()
        self.env.process(self._sampler())

    def registry_ingress(self) -> SharedCapacity:
        """The registry's upload side, shared by every push (links are full duplex: pushes
        do not take egress from pulls)."""
        if self._ingress is None:
            self._ingress = SharedCapacity(self.env, self.scenario.registry.bandwidth)
        return self._ingress

    def finish(self) -> None:
        """Record the end state: every image's layers and the layers each host holds. Start-up
        transitions filled in ahead (``startup``) that the run did not reach are taken back
        (an event due at the end itself is not processed either)."""
        end = self.env.now
        if self.foreseeable:
            for rec in self.recorder.open_records():
                if rec.created >= end:
                    rec.created = math.nan
                if rec.booted >= end:
                    rec.booted = math.nan
        self.recorder.end_state = {
            "images": {name: [{"key": layer.key, "bytes": layer.size}
                              for layer in layer_chain(self.images, name)]
                       for name in self.images},
            "hosts": {h.name: sorted(h.layers) for h in self.hosts},
            "registry": sorted(self.registry_layers),
        }

    def _arrival_times(self, wl: WorkloadRuntime) -> Generator[float, None, None]:
        spec = wl.spec.arrival
        end = min(self.scenario.duration, spec.until if spec.until is not None else math.inf)
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
        times = enumerate(self._arrival_times(wl))
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
        current = self.current[name]
        if trace is not None:  # this instance's own size, tenant and lifetime
            current = self._sized(current, float(trace.cpu[i]),
                                  float(trace.memory_bytes[i]),
                                  tenant_name(trace, i, wl.spec.tenant))
            if trace.has_lifetime:  # NaN: censored, runs to the end
                life = float(trace.lifetime_s[i])
                lifetime = None if math.isnan(life) else life
        record = self.record(current, self._next_id, 0)  # ``submit``, as an arrival
        Request(self, current, record, wl.draw_app(), lifetime, wl.draw_create(),  # ``Draws``
                wl.draw_boot(), wl.draw_stop(), wl.draw_fault() if wl.draw_fault else math.inf,
                self.tracking, None, True)

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
            if tenant not in self.tenant_codes:
                self.tenant_codes[tenant] = len(self.tenant_codes)
            view = dataclasses.replace(wl, need=need, tenant=tenant,
                                       tenant_code=self.tenant_codes[tenant])
            self._views[key] = view
        return view

    def submit(self, wl: WorkloadRuntime, draws: Draws, origin: str = "arrival",
               on_running: simpy.Event | None = None) -> Request:
        """Request one instance of ``wl`` now; a rollout follows it unless it is a
        pipeline's test. An arrival's lifecycle begins at once; a pipeline's on an urgent
        event (as a SimPy process would), so the retirements just asked for go first."""
        record = self.record(wl, request=self._next_id, attempt=0, origin=origin)
        return Request(self, wl, record, draws.app_s, draws.lifetime_s, draws.create_s,
                       draws.boot_s, draws.stop_s, draws.fault_s,
                       live=self.tracking and origin != "test",
                       on_running=on_running, at_once=origin == "arrival")

    def record(self, wl: WorkloadRuntime, request: int, attempt: int,
                origin: str = "arrival") -> InstanceRecord:
        record = InstanceRecord(id=self._next_id, workload=wl.spec.name, tenant=wl.tenant,
                                isolation=wl.profile.name, arrival=self.env.now,
                                request=request, attempt=attempt, origin=origin,
                                image=wl.chain_key)
        self._next_id += 1
        self.recorder.instance(record)
        return record

    # --- placement ----------------------------------------------------------------------

    def try_place(self, wl: WorkloadRuntime) -> Host | None:
        allowed = None
        if self.same_tenant and wl.shares_kernel:
            owner = self.kernel_owner
            allowed = (owner == -1) | (owner == wl.tenant_code)
        host = self.placement.choose(wl.host_ids, wl.need, wl.chain_key, wl.chain, allowed)
        if host is not None:
            host.allocate(wl.need, wl.chain)
            self.index.update(host)
            self._host_changed(host, +1, wl)
        return host

    def _drain_queue(self) -> None:
        while self.queue:
            wl, ticket = self.queue[0]
            host = self.try_place(wl)
            if host is None:
                return
            self.queue.popleft()
            self.bump("queued", -1)
            ticket.succeed(host)

    # --- one requested instance ---------------------------------------------------------

    def retire(self, live: Live) -> None:
        """Stop a live instance for good (a rollout replaced it): it stops as it would at the
        end of its lifetime; one still starting is dropped; one waiting (for placement or to
        restart) ends when its wait does."""
        live.retiring = True
        rec = live.rec
        on_host = rec.host >= 0 and math.isnan(rec.removed) and math.isnan(rec.disrupted)
        if on_host and rec.id in self.hosts[rec.host].residents and live.request.is_alive:
            live.request.interrupt(RETIRE)

    def wanted(self, wl: WorkloadRuntime, remaining: float | None) -> float:
        """How much longer a request that ended now meant to run (NaN: to the end)."""
        if wl.spec.work is not None:
            return wl.spec.work / wl.spec.cpu
        return remaining if remaining is not None else math.nan

    def leave_running(self, host: Host, wl: WorkloadRuntime, rec: InstanceRecord) -> None:
        self.counts["running"] -= 1  # _count("running", -1, group), inline
        self.group_counts[host.group_index]["running"] -= 1
        self.host_running[host.index] -= 1
        if wl.spec.noise != "none":
            self.noise(host, wl, -1)
        if self.tracking:
            live = self.live[wl.spec.name].get(rec.request)
            if live is not None and live.counted:
                live.counted = False
                self.version_level(wl, -1)

    def version_level(self, wl: WorkloadRuntime, delta: int) -> None:
        """Running instances per image version and per workload (for rollout timelines)."""
        for name in (f"running_image:{wl.spec.name}:{wl.chain_key}",
                     f"running_workload:{wl.spec.name}"):
            self.counts[name] = self.counts.get(name, 0) + delta
            self.recorder.level(name, self.env.now, self.counts[name])

    def release(self, host: Host, wl: WorkloadRuntime, rec: InstanceRecord) -> None:
        host.residents.pop(rec.id, None)
        host.release(wl.need)
        self.index.update(host)
        rec.removed = self.env.now
        self._host_changed(host, -1, wl)
        if self.queue:
            self._drain_queue()

    def abort(self, wl: WorkloadRuntime, rec: InstanceRecord) -> str:
        """Undo what an interrupted attempt held on its host; 'done' if it was stopping
        anyway, else 'disrupted'."""
        host = self.hosts[rec.host]
        if not math.isnan(rec.stopping):
            self.release(host, wl, rec)
            return "done"
        if not math.isnan(rec.running):
            self.leave_running(host, wl, rec)
        elif not math.isnan(rec.slot):
            self._count("starting", -1, host.group_index)
        job = self._jobs.pop(rec.id, None)
        if job is not None:  # a start-up phase's CPU or disk work in progress
            job[0].cancel(job[1])
        self.release(host, wl, rec)
        return "disrupted"

    def own_fault(self, wl: WorkloadRuntime, rec: InstanceRecord, host: Host) -> str:
        """The instance triggered a kernel fault: in a shared host kernel the host crashes
        with everything on it; in its own kernel only the instance goes down."""
        if wl.shares_kernel:
            self._crash(host, "instance_kernel", self.scenario.faults.host_kernel.reboot,
                        trigger=rec)
        else:
            self.recorder.faults.append(FaultRecord(
                id=len(self.recorder.faults), time=self.env.now, kind="instance_kernel",
                host=host.index, disrupted=1, tenants=1, workload=wl.spec.name))
            rec.disrupted = self.env.now
            rec.fault = len(self.recorder.faults) - 1
        self.abort(wl, rec)
        return "faulted"

    # --- faults -------------------------------------------------------------------------

    def _host_faults(self, kind: str, hosts: list[Host], mtbf: float, downtime: Any
                     ) -> Process:
        """Faults of one kind on ``hosts``: per host, exponential up times of mean ``mtbf``
        between faults, each followed by a down time. Drawn up front, host by host, so every
        variant of a scenario sees the same faults at the same times."""
        gen = self.rng(f"faults/{kind}")
        draw_down = sampler(downtime, self.rng(f"faults/{kind}/down"))
        events: list[tuple[float, int, float]] = []
        for host in hosts:
            t = 0.0
            while True:
                t += float(gen.exponential(mtbf))
                if t >= self.scenario.duration:
                    break
                down = draw_down()
                events.append((t, host.index, down))
                t += down
        events.sort()
        for t, index, down in events:
            if t > self.env.now:
                yield self.env.timeout(t - self.env.now)
            self._crash(self.hosts[index], kind, down)

    def _crash(self, host: Host, kind: str, downtime: Any,
               trigger: InstanceRecord | None = None) -> None:
        """``host`` goes down now with every instance on it (and on the container-host VMs
        inside it); it comes back after ``downtime`` (seconds, or a distribution to draw)."""
        if not host.available:  # already down: a kernel that is off cannot crash
            return
        down = downtime if isinstance(downtime, float) else self._reboot_draw()
        fault_id = len(self.recorder.faults)
        struck = [host, *host.children]
        victims = [entry for h in struck for entry in h.residents.values()]
        for h in struck:  # each victim is interrupted once, whatever strikes next
            h.residents.clear()
        self.recorder.faults.append(FaultRecord(
            id=fault_id, time=self.env.now, kind=kind, host=host.index,
            disrupted=len(victims), tenants=len({entry[1].tenant for entry in victims}),
            workload=trigger.workload if trigger is not None else ""))
        for h in struck:
            h.outages += 1
            self.index.update(h)
            h.cpu.clear()
            h.disk_io.clear()
            if h.batch is not None:
                h.batch.clear()
            if h.index in self.network.links():
                self.network.link(h.index, h.spec.nic).clear()
            h.fetching.clear()
            h.epoch += 1
            crashed, h.crashed = h.crashed, self.env.event()
            crashed.succeed()
        for entry in victims:
            request, rec = entry[0], entry[1]
            rec.disrupted = self.env.now
            rec.fault = fault_id
            if rec is not trigger and request.is_alive:
                request.interrupt(fault_id)
        self.env.process(self._recover(struck, down))

    def _reboot_draw(self) -> float:
        """A reboot after a crash an instance triggered (its own stream, made on first use)."""
        if self._draw_reboot is None:
            self._draw_reboot = sampler(self.scenario.faults.host_kernel.reboot,
                                        self.rng("faults/reboot"))
        return self._draw_reboot()

    def _recover(self, hosts: list[Host], down: float) -> Process:
        yield self.env.timeout(down)
        for h in hosts:
            h.outages -= 1
            self.index.update(h)
            if h.available:
                back, h.back = h.back, self.env.event()
                back.succeed()
        self._drain_queue()

    # --- interference -------------------------------------------------------------------

    def noise(self, host: Host, wl: WorkloadRuntime, delta: int) -> None:
        """A running instance with a noise class arrived on or left ``host``: re-rate the
        host's batch jobs."""
        noise = wl.spec.noise
        if noise == "none":
            return
        if host.noise is None:
            host.noise = Counter()
        host.noise[noise] += delta
        if host.noise[noise] <= 0:
            del host.noise[noise]
        if host.batch is not None and host.batch.jobs:
            jobs = {entry[2]: self.workloads_by_name[entry[1].workload]
                    for entry in host.residents.values() if len(entry) > 2}
            def factor(job: int) -> float:
                owner = jobs.get(job)
                if owner is None:
                    return 1.0
                return self.slowdown(host, owner) * self.cpu_factor(host, owner)

            host.batch.set_factors(factor)

    def slowdown(self, host: Host, wl: WorkloadRuntime) -> float:
        """The interference factor an instance of ``wl`` suffers on ``host`` now: the largest
        its profile gives for the noise classes of the other running instances there."""
        if not host.noise:
            return 1.0
        table = wl.profile.interference
        own = wl.spec.noise
        factor = 1.0
        for noise, count in host.noise.items():
            if count - (1 if noise == own else 0) > 0:
                factor = max(factor, table.get(noise, 1.0))
        return factor

    def cpu_factor(self, host: Host, wl: WorkloadRuntime) -> float:
        return wl.profile.nested.cpu_factor if host.parent is not None else 1.0

    def job(self, rec: InstanceRecord, pool: SharedCapacity, work: float,
             then: float = 0.0) -> simpy.Event:
        """``pool.run(work, then)`` for ``rec``'s start-up, remembered so a fault or a retire
        can cancel it (when anything can)."""
        done = pool.run(work, then)
        if self.interruptible:
            self._jobs[rec.id] = (pool, done)

            def forget(_event: simpy.Event) -> None:
                self._jobs.pop(rec.id, None)

            done.callbacks.append(forget)
        return done

    def phase(self, host: Host, wl: WorkloadRuntime, duration: float,
               rec: InstanceRecord) -> simpy.Event | Wake | None:
        """The event that ends a start-up phase that takes ``duration`` on an idle host (None
        if it takes no time): its CPU-bound part is processor-shared over the host's cores
        with the other start-ups, the rest waits. Noisy neighbours and nesting (inside a
        container-host VM) stretch it."""
        if duration <= 0:
            return None
        work, wait = self._phase_parts(host, wl, duration)
        if work > 0:  # the wait follows the work without an event of its own
            return self.job(rec, host.cpu, work, wait if wait > 0 else 0.0)
        if wait > 0:
            return wake(self.env, wait)
        return None

    def _phase_parts(self, host: Host, wl: WorkloadRuntime, duration: float
                     ) -> tuple[float, float]:
        """(CPU work, wait) of a start-up phase that takes ``duration`` on an idle host:
        noisy neighbours and nesting (inside a container-host VM) stretch it."""
        if host.noise:
            duration *= self.slowdown(host, wl)
        if host.parent is not None:
            duration *= wl.profile.nested.boot_factor
        work = duration * wl.profile.cpu_bound_fraction
        return work, duration - work

    def startup(self, host: Host, wl: WorkloadRuntime, rec: InstanceRecord,
                 create_s: float, boot_s: float, app_s: float) -> float | None:
        """Create, boot and app start as ``phase`` runs them one after the other, when their
        ends are known as the first begins (``foreseeable``, and the host's CPU pool is never
        contended: each phase's CPU work is served at the per-job rate, whatever else starts
        meanwhile): the CPU work of each phase is booked now with the group's sample totals
        (``GroupTotals.book``, which counts it as the pool would), ``created`` and ``booted``
        are filled in, and the delay until the app has started is returned (None
        if it already has: the caller sets one timer for it). The times are ``phase``'s, bit
        for bit: the same additions in the same order."""
        pool = host.cpu
        now = t = self.env.now
        stretched = host.noise or host.parent is not None  # else ``_phase_parts``, inline
        fraction = wl.profile.cpu_bound_fraction
        cap = pool.per_job_cap  # the pool would serve ``work`` in ``work / cap``
        ends = []
        jobs = []
        for duration in (create_s, boot_s, app_s):
            if duration > 0:
                if stretched:
                    work, wait = self._phase_parts(host, wl, duration)
                else:
                    work = duration * fraction
                    wait = duration - work
                if work > 0:
                    served_in = work / cap
                    jobs.append((t, t + served_in))
                    t = t + (served_in + (wait if wait > 0 else 0.0))
                elif wait > 0:
                    t = t + wait
            ends.append(t)
        if jobs:
            self.totals.book(host.group_index, jobs)
        rec.created, rec.booted = ends[0], ends[1]
        if t == now:
            return None
        delay = t - now
        return delay if now + delay == t else _delay_to(now, t)

    def fetch(self, host: Host, layer: Layer, rec: InstanceRecord | None = None) -> LayerFetch:
        """Bring ``layer`` to ``host`` from the registry, or join the download on its way."""
        fetch = host.fetching.get(layer.key)
        if fetch is None:
            fetch = LayerFetch(self.env.event(), self.env.event())
            host.fetching[layer.key] = fetch
            if rec is not None:
                rec.pulled_bytes += layer.size
            self.bytes_downloaded += layer.size
            self.env.process(self._download(host, layer, fetch))
        return fetch

    def _download(self, host: Host, layer: Layer, fetch: LayerFetch) -> Process:
        epoch = host.epoch  # a crash meanwhile ends this download where it is
        latency = self.scenario.registry.latency
        if latency > 0:
            yield self.env.timeout(latency)
            if host.epoch != epoch:
                return
        yield self.network.link(host.index, host.spec.nic).run(layer.size)
        fetch.downloaded.succeed()
        yield host.disk_io.run(layer.size)
        host.layers.add(layer.key)
        if host.fetching.get(layer.key) is fetch:
            del host.fetching[layer.key]
        fetch.ready.succeed()

    # --- sampling -----------------------------------------------------------------------

    def _sampler(self) -> Process:
        interval = self._sample_interval
        skip = carriers(list(self.scenario.hosts))  # their capacity is the VMs'
        groups = [(g, spec) for g, spec in enumerate(self.scenario.hosts)
                  if spec.group not in skip]
        totals = self.totals
        for k in range(len(totals.sample_times)):
            now = self.env.now  # ``sample_times[k]``: the timeouts add up to it
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
                    "cpu_busy_startup_cores": totals.busy_startup_cores(g, now),
                    "registry_egress_bps": egress * 8,
                })
            if k + 1 < len(totals.sample_times):
                yield self.env.timeout(interval)


def _delay_to(now: float, then: float) -> float:
    """The delay ``d`` for which ``now + d == then`` exactly, as SimPy adds it (``then - now``
    may round so that the sum misses ``then`` by an ulp)."""
    delay = then - now
    while now + delay < then:
        delay = math.nextafter(delay, math.inf)
    while now + delay > then:
        delay = math.nextafter(delay, -math.inf)
    return delay


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def build(env: simpy.Environment, scenario: Scenario, profiles: dict[str, ResolvedProfile],
          seed: int, replication: int, recorder: Recorder,
          traces: dict[str, Replay] | None = None) -> Cluster:
    """Wire a scenario (one variant) into runtime objects on ``env``, ready to run;
    ``traces`` holds, by workload name, the instances each trace workload replays."""
    cluster = Cluster(env, scenario, profiles, seed, replication, recorder, traces)
    cluster.start()
    return cluster
