"""The one wiring place: a scenario (one variant) becomes the model's runtime objects on a SimPy
environment, started and ready to run.

Owns: making the hosts (container-host VMs inside their physical hosts), each workload's
runtime (its eligible hosts, its image chain, its named random streams), the roles that act on
them (admission, the registry, start-up, interference, faults, the roster) wired to one
another, and starting the processes (arrivals, faults, pipelines, the sampler). ``Model`` is
the handle a request and a pipeline are given; it holds the roles and does nothing itself
but record the end state. Must not: read files (traces come in as ``Replay`` arrays), or
branch on an isolation mode's name: profiles are data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import simpy

from sim.edge.traces import Replay
from sim.experiment.rng import generator, sampler, sampler_exponential
from sim.model.admission import Admission
from sim.model.arrivals import Arrivals
from sim.model.autoscaler import Autoscaler
from sim.model.builds import Builds
from sim.model.commands import Script
from sim.model.counts import Counts
from sim.model.faults import Faults
from sim.model.host import Host, Slots
from sim.model.imagegc import ImageCollector
from sim.model.interference import Interference
from sim.model.maintenance import Budgets, Campaign
from sim.model.migration import Migrations
from sim.model.pipelines import PipelineRunner
from sim.model.placement import CapacityIndex, Placement
from sim.model.prepull import start_pre_pulls
from sim.model.registry import Registry
from sim.model.replicas import ReplicaController
from sim.model.roster import Roster
from sim.model.sampler import Sampler, sample_times
from sim.model.sharing import SharedCapacity
from sim.model.startup import Startup
from sim.model.tenancy import Tenancy
from sim.model.totals import GroupTotals
from sim.model.workload import WorkloadRuntime, eligible_ids
from sim.recorder import Recorder
from sim.spec.commands import Commands
from sim.spec.config import (
    Image,
    ResolvedProfile,
    Scenario,
    TraceArrivals,
    Workload,
    host_name,
)
from sim.spec.demand import carriers, demand, layer_chain
from sim.spec.runtimes import (
    antivirus_factors,
    extraction_cost,
    resolve_runtimes,
    runtime_of,
)


@dataclass(eq=False)
class Model:
    """One run's model: what ``build`` wired, as the handle requests and pipelines use."""

    env: simpy.Environment
    scenario: Scenario
    recorder: Recorder
    seed: int
    replication: int
    hosts: list[Host]
    images: dict[str, Image]
    workloads: list[WorkloadRuntime]
    index: CapacityIndex
    counts: Counts
    tenancy: Tenancy
    admission: Admission
    collector: ImageCollector
    registry: Registry
    startup: Startup
    interference: Interference
    faults: Faults
    roster: Roster
    interruptible: bool  # a fault or a rollout may interrupt a request
    builds: Builds
    campaigns: list[Campaign] = field(default_factory=list)

    def rng(self, name: str) -> Any:
        """The generator of the stream ``name`` in this run."""
        return generator(self.seed, name, self.replication)

    def finish(self) -> None:
        """Record the end state: every image's layers and the layers each host holds (and
        take back the start-up transitions booked ahead that the run did not reach)."""
        self.startup.finish(self.recorder)
        for campaign in self.campaigns:
            campaign.finish()
        self.recorder.end_state = {
            "images": {name: [{"key": layer.key, "bytes": layer.size}
                              for layer in layer_chain(self.images, name)]
                       for name in self.images},
            "hosts": {h.name: sorted(h.layers) for h in self.hosts},
            "registry": sorted(self.registry.layers),
        }


def build(env: simpy.Environment, scenario: Scenario, profiles: dict[str, ResolvedProfile],
          seed: int, replication: int, recorder: Recorder,
          traces: dict[str, Replay] | None = None) -> Model:
    """Wire a scenario (one variant) into runtime objects on ``env`` and start its processes;
    ``traces`` holds, by workload name, the instances each trace workload replays."""
    traces = traces or {}

    def rng(name: str) -> Any:
        return generator(seed, name, replication)

    # rollouts, replica autoscalers and disruption budgets follow requests
    tracking = (bool(scenario.pipelines) or any(wl.replicas for wl in scenario.workloads)
                or bool(scenario.maintenance))
    faults = scenario.faults
    interruptible = (tracking or any(g.autoscale for g in scenario.hosts)  # drains
                     or faults.host_hardware is not None
                     or faults.host_kernel.mtbf is not None
                     or any(wl.kernel_fault_rate > 0 for wl in scenario.workloads))
    # nothing can change a start-up's pace once it begins: no fault or rollout interrupts
    # it, no noisy neighbour stretches it (see ``sim.model.startup``)
    foreseeable = not interruptible and all(wl.noise == "none" for wl in scenario.workloads)
    images = {img.name: img for img in scenario.images}
    hosts = _hosts(env, scenario, images, interruptible)
    for host in hosts:
        recorder.hosts.append({"host": host.index, "name": host.name,
                               "group": host.spec.group, "physical": host.physical.index})
    index = CapacityIndex(hosts)
    interval = scenario.sample_interval
    totals = GroupTotals(hosts, index, sample_times(scenario.duration, interval))
    placement = Placement(scenario.placement, rng("placement"), index)
    counts = Counts(env, recorder, len(scenario.hosts), len(hosts))
    tenancy = Tenancy([wl.tenant for wl in scenario.workloads], len(hosts),
                      scenario.kernel_sharing == "same-tenant",
                      any(isinstance(wl.arrival, TraceArrivals) for wl in scenario.workloads),
                      counts)
    workloads = [_workload(wl, profiles[wl.isolation], scenario, images, hosts, traces,
                           tenancy, rng) for wl in scenario.workloads]
    collector = ImageCollector(env, hosts, index, recorder)
    for host in hosts:  # what the node image holds, unused so far
        for name in host.spec.preloaded_images:
            collector.present(host, name, layer_chain(images, name))
    builds = Builds(hosts)
    admission = Admission(env, placement, index, tenancy, counts, collector, builds,
                          any_fit=scenario.queue == "any-fit")
    registry = Registry(env, scenario.registry,
                        {layer.key for name in images for layer in layer_chain(images, name)},
                        recorder)
    for host in hosts:  # the layers held from the start
        for key in sorted(host.layers):
            recorder.layer(0.0, host.index, key, True)
    if tracking:
        registry.network.on_egress = lambda bps: recorder.level("registry_egress_Bps",
                                                                env.now, bps)
    autoscaler = Autoscaler(env, hosts, index, admission, collector, images, recorder, rng)
    interference = Interference({wl.spec.name: wl for wl in workloads})
    model = Model(
        env=env, scenario=scenario, recorder=recorder, seed=seed, replication=replication,
        hosts=hosts, images=images, workloads=workloads, index=index, counts=counts,
        tenancy=tenancy, admission=admission, collector=collector, registry=registry,
        startup=Startup(env, totals, interference, interruptible, foreseeable),
        interference=interference,
        faults=Faults(env, faults, scenario.duration, rng, hosts, index, registry, admission,
                      recorder),
        roster=Roster(env, recorder, workloads, tracking),
        interruptible=interruptible, builds=builds)
    arrivals = Arrivals(model, scenario.duration, rng, model.roster, tenancy, images)
    arrivals.start(workloads)
    for wl in workloads:
        if wl.spec.replicas is not None:
            ReplicaController(env, wl, arrivals, model.roster, hosts, recorder).start()
    model.faults.start()
    _start_changes(model, arrivals)
    if scenario.commands is not None:
        for host in script_hosts(scenario.commands, hosts):
            Script(model, host, scenario.commands, profiles).start()
    start_pre_pulls(env, hosts, images, registry, collector, index)
    autoscaler.start()
    Sampler(env, scenario, interval, counts, totals, registry.network, recorder,
            autoscaler).start()
    return model


def _start_changes(model: Model, arrivals: Arrivals) -> None:
    """Start what changes the fleet and its images as it runs: maintenance campaigns and
    pipelines (a pipeline only in the variants of its ``isolation``)."""
    scenario = model.scenario
    if scenario.maintenance:
        migrations = Migrations(model.env, model.admission, model.recorder)
        budgets = Budgets(model.env, scenario, model.roster, model.recorder)
        for spec in scenario.maintenance:
            campaign = Campaign(model, spec, model.builds, migrations, budgets)
            model.campaigns.append(campaign)
            campaign.start()
    for pipeline in scenario.pipelines:
        runner = PipelineRunner(model, arrivals, pipeline)
        if pipeline.isolation is None or runner.profile.name in pipeline.isolation:
            runner.start()


def script_hosts(commands: Commands, hosts: list[Host]) -> list[Host]:
    """The hosts a commands script runs on: its host, each host of its group, or the first
    host of the first group that carries no container-host VMs (``sim.edge.commands`` checks
    the script against that group)."""
    if commands.host is not None:
        return [h for h in hosts if h.name == commands.host]
    if commands.group is not None:
        return [h for h in hosts if h.spec.group == commands.group]
    skip = carriers([h.spec for h in hosts])
    return [next(h for h in hosts if h.spec.group not in skip)]


def _hosts(env: simpy.Environment, scenario: Scenario, images: dict[str, Image],
           interruptible: bool) -> list[Host]:
    """Every host of every group, in group order, with its preloaded images; a group of
    container-host VMs puts its k-th VM in physical host k // ``per_physical`` of its
    physical group."""
    hosts: list[Host] = []
    by_group: dict[str, list[Host]] = {}
    runtimes, problems = resolve_runtimes(scenario.runtimes)
    if problems:
        raise ValueError(f"runtimes: {problems[0]} (sim.edge.checks reports these)")
    for g, group in enumerate(scenario.hosts):
        members = by_group.setdefault(group.group, [])
        preloaded = [layer_chain(images, image) for image in group.preloaded_images]
        runtime = runtime_of(group, runtimes)
        cost = extraction_cost(group, runtimes, antivirus_factors(scenario.antivirus))
        # start-ups alone hold the cores only in their start slots: then no more CPU jobs run
        # than there are slots (an instance extracts its layers one after another, before its
        # phases), unless extraction runs outside slots (pipelines, commands, pre-pulls), beside the
        # phases (lazy pulls) or layers extract at once
        bounded = cost is None or (runtime.extraction == "sequential" and not scenario.pipelines
                                   and scenario.commands is None and group.pre_pull is None
                                   and runtime.lazy_pull is None)
        max_jobs = group.max_concurrent_starts if bounded else None
        for k in range(group.built):  # an elastic group's hosts beyond count start absent
            host = Host(index=len(hosts), name=host_name(group.group, k), group_index=g,
                        spec=group, cpu=SharedCapacity(env, group.cpu_cores, 1.0,
                                                        max_jobs=max_jobs),
                        disk_io=SharedCapacity(env, group.disk_rate),
                        slots=Slots(env, group.max_concurrent_starts),
                        extract_cost=cost, sequential=runtime.extraction == "sequential",
                        shared_pulls=runtime.concurrent_pulls == "shared",
                        lazy_pull=runtime.lazy_pull)
            for chain in preloaded:
                host.preload(chain)
            hosts.append(host)
            members.append(host)
    for group in scenario.hosts:
        if group.virtual is not None:
            physical = by_group[group.virtual.physical_group]
            for k, host in enumerate(by_group[group.group]):
                host.parent = physical[k // group.virtual.per_physical]
                host.parent.children.append(host)
    if interruptible:  # a crash and a recovery are events others may wait for
        for host in hosts:
            host.crashed = env.event()
            host.back = env.event()
    return hosts


def _workload(wl: Workload, profile: ResolvedProfile, scenario: Scenario,
              images: dict[str, Image], hosts: list[Host], traces: dict[str, Replay],
              tenancy: Tenancy, rng: Any) -> WorkloadRuntime:
    """``wl``'s runtime: what each instance needs, the hosts that may ever take one, its
    image chain and its draws' named streams."""
    need = demand(wl, profile, images)
    replay = None
    if isinstance(wl.arrival, TraceArrivals):
        if wl.name not in traces:
            raise ValueError(f"workload {wl.name!r} replays a trace, but build() was "
                             "given none for it (sim.run.execute reads traces)")
        replay = traces[wl.name]
        # instances differ in size: a host group is left out only for what no size fixes
        need = demand(wl, profile, images, cpu=0.0, memory=0.0)
    tag = f"{profile.name}/{wl.name}"
    rate = wl.kernel_fault_rate
    return WorkloadRuntime(
        replay=replay, spec=wl, profile=profile, need=need,
        chain=layer_chain(images, wl.image),
        host_ids=eligible_ids(scenario, wl, profile, need, [h.spec.group for h in hosts]),
        chain_key=wl.image,
        draw_app=sampler(wl.app_start, rng(f"app_start/{wl.name}")),
        draw_lifetime=(sampler(wl.lifetime, rng(f"lifetime/{wl.name}"))
                       if wl.lifetime is not None else None),
        draw_create=sampler(profile.create, rng(f"create/{tag}")),
        draw_boot=sampler(profile.boot, rng(f"boot/{tag}")),
        draw_stop=sampler(profile.stop, rng(f"stop/{tag}")),
        draw_fault=(sampler_exponential(rng(f"kernel_faults/{wl.name}"), 1 / rate)
                    if rate > 0 else None),
        redraw_fault=(sampler_exponential(rng(f"kernel_faults/{wl.name}/again"), 1 / rate)
                      if rate > 0 else None),
        tenant_code=tenancy.code(wl.tenant),
        shares_kernel=profile.shares_host_kernel,
        tenant=wl.tenant,
    )
