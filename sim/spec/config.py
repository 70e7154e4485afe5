"""The scenario format: validated, frozen data with canonical units (seconds, bytes, 1/s, B/s).

Owns: every key a scenario file may hold, its type, default and meaning, and the JSON Schema
that editors use. Must not: read files (``sim.edge.loader`` does), hold behaviour, or know about
SimPy. Cross-references (images, profiles) and "can any host ever take this workload" are checked in
``sim.edge.checks``, because they need the whole scenario and the resolved profiles.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    GetJsonSchemaHandler,
    Tag,
    model_validator,
)

from sim.spec import catalog, units
from sim.spec.builds import Rule as BuildRule
from sim.spec.commands import Commands
from sim.spec.cost import LIST_PRICES, Edition, Embodied, Energy, Licensing, PowerModel
from sim.spec.maintenance import Budget, Maintenance
from sim.spec.values import (  # the value types, here too for the sections' readers
    QUANTITY_PATTERN as QUANTITY_PATTERN,
)
from sim.spec.values import (
    ZERO,
    Bandwidth,
    Constant,
    DataRate,
    Distribution,
    Duration,
    Fraction,
    Lognormal,
    Price,
    Rate,
    Size,
    Spec,
)

# --- arrivals -------------------------------------------------------------------------------

class _Bounded(Spec):
    count: Annotated[int, Field(ge=0)] | None = Field(
        None, description="at most this many arrivals; none: no limit")
    until: Duration | None = Field(None, description="no arrivals after this time")


class RateStep(Spec):
    """From ``at`` on, arrivals come at ``rate``."""

    at: Duration = Field(description="required: the time this step's rate starts")
    rate: Rate = Field(description="required: arrivals per second from at on, e.g. 2/min")


class PoissonArrivals(_Bounded):
    """Poisson arrivals at ``rate``, from ``start``; with ``schedule``, a time-varying
    (piecewise-constant) rate instead: each step's rate holds from its ``at`` to the next."""

    kind: Literal["poisson"] = Field(
        description="required: names the arrival process, which says what the other keys mean")
    rate: Rate = Field(0.0, description="arrivals per second, e.g. 0.5/s or 30/min (give rate "
                                        "or schedule)")
    start: Duration = Field(0.0, description="when arrivals begin")
    schedule: list[RateStep] | None = Field(
        None, description="a piecewise-constant rate instead of rate: steps in time order, "
                          "each rate holding from its at to the next step's")

    @model_validator(mode="after")
    def _one_rate(self) -> PoissonArrivals:
        if self.schedule is not None:
            if "rate" in self.model_fields_set:
                raise ValueError("give either rate or schedule")
            times = [step.at for step in self.schedule]
            if not times:
                raise ValueError("a schedule needs at least one step ({at, rate})")
            if times != sorted(times):
                raise ValueError("schedule steps must be in time order")
        elif "rate" not in self.model_fields_set:
            raise ValueError("give rate (or a schedule)")
        return self


class ConstantArrivals(_Bounded):
    """One arrival every ``interval``, the first at ``start``."""

    kind: Literal["constant"] = Field(
        description="required: names the arrival process, which says what the other keys mean")
    interval: Annotated[Duration, Field(gt=0)] = Field(
        description="required: the time between arrivals, which sets their rate")
    start: Duration = Field(0.0, description="the first arrival's time")


class BurstArrivals(_Bounded):
    """A burst: ``count`` arrivals, all at time ``at``."""

    kind: Literal["burst"] = Field(
        description="required: names the arrival process, which says what the other keys mean")
    count: Annotated[int, Field(ge=0)] = Field(
        description="required: how many arrivals the burst brings, all at time at")
    at: Duration = Field(0.0, description="when the burst arrives")


class TraceMachine(Spec):
    """The machine a normalised trace's 1.0 stands for (Google 2011: the largest machine)."""

    cpu: Annotated[float, Field(gt=0)] = Field(
        description="required: vCPU of a 1.0 machine, to turn the trace's fractions into vCPU")
    memory: Annotated[Size, Field(gt=0)] = Field(
        description="required: memory of a 1.0 machine, to turn the trace's fractions into "
                    "bytes")


def _label(value: Any) -> Any:
    """A class label written as a number (Google's scheduling class 2) as the text it is."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:g}"
    return value


Label = Annotated[str, BeforeValidator(_label)]
_FORMAT_ONLY = {"durations": "azure-v1", "flavors": "azure-v1", "intervals": "azure-v1",
                "machine": "google-2011", "resubmissions": "google-2011", "columns": "csv",
                "time_unit": "csv", "memory_unit": "csv"}


class TraceArrivals(_Bounded):
    """Arrivals replayed from a trace file, with the trace's lifetimes, vCPU and memory
    where it has them (docs/traces.md: the formats and their options)."""

    kind: Literal["trace"] = Field(
        description="required: names the arrival process, which says what the other keys mean")
    format: Literal["azure-v1", "google-2011", "csv"] = Field(
        description="required: the trace file's format, which says how to read it "
                    "(docs/traces.md)")
    path: str = Field(description="required: the trace file to replay, relative to the "
                                  "scenario file; google-2011: a file or a glob of task_events "
                                  "parts")
    durations: str | None = Field(None, description="azure-v1: the durations file; default "
                                                    "the v1.<split>.c*.txt beside path")
    flavors: str | None = Field(None, description="azure-v1: flav_map.txt; default beside "
                                                  "path or in ../maps/")
    intervals: str | None = Field(None, description="azure-v1: v1.interval_map.txt; default "
                                                    "beside path or in ../maps/")
    digest: str | None = Field(None, description="content digest of the trace's files, "
                                                 "filled in on loading; a stated one must match")
    offset: Duration = Field(0.0, description="replay starts this long after the trace's "
                                              "first arrival")
    length: Annotated[Duration, Field(gt=0)] | None = Field(
        None, description="how much of the trace (trace time) to replay; default to its end")
    speedup: Annotated[float, Field(gt=0)] = Field(
        1.0, description="trace time per simulated second (arrivals and lifetimes)")
    sample: Annotated[float, Field(gt=0, le=1)] = Field(
        1.0, description="fraction of the trace's instances replayed (drawn at random)")
    cpu_scale: Annotated[float, Field(gt=0, le=1e6)] = Field(
        1.0, description="multiplies the trace's vCPU")
    memory_scale: Annotated[float, Field(gt=0, le=1e6)] = Field(
        1.0, description="multiplies the trace's memory")
    classes: Annotated[list[Label], Field(min_length=1)] | None = Field(
        None, description="replay only these flavors (azure-v1), scheduling classes "
                          "(google-2011) or class values (csv); default all")
    spread: bool = Field(True, description="spread a binned trace's arrivals uniformly over "
                                           "their bin, a batch together")
    machine: TraceMachine | None = Field(None, description="google-2011: the size of 1.0")
    resubmissions: Literal["first", "separate"] = Field(
        "first", description="google-2011: replay a task's first submission only, or each")
    columns: dict[str, str] = Field(
        {}, description="csv: field -> column name (fields: arrival, lifetime, cpu, memory, "
                        "tenant, class, deployment)")
    time_unit: Literal["s", "ms", "us", "datetime"] = Field(
        "s", description="csv: unit of arrival and lifetime; datetime: ISO 8601 arrivals")
    memory_unit: Annotated[Size, Field(gt=0)] = Field(
        1.0, description="csv: bytes per unit of the memory column, e.g. 1GiB")

    @model_validator(mode="after")
    def _format_options(self) -> TraceArrivals:
        for key, fmt in _FORMAT_ONLY.items():
            if key in self.model_fields_set and self.format != fmt:
                raise ValueError(f"{key} is an option of format {fmt}, not {self.format}")
        if self.format == "google-2011" and self.machine is None:
            raise ValueError("google-2011 needs machine: {cpu: N, memory: SIZE}, the machine "
                             "its normalised 1.0 stands for")
        unknown = set(self.columns) - {"arrival", "lifetime", "cpu", "memory", "tenant",
                                       "class", "deployment"}
        if unknown:
            raise ValueError(f"columns: unknown field {min(unknown)!r}; fields: "
                             "arrival, lifetime, cpu, memory, tenant, class, deployment")
        return self


class ReplicaArrivals(Spec):
    """Instances asked for by the workload's ``replicas`` autoscaler, not by arrivals (set
    when ``replicas`` is given)."""

    kind: Literal["replicas"] = Field(
        description="required: the workload's replicas: section decides how many run")


Arrival = Annotated[
    PoissonArrivals | ConstantArrivals | BurstArrivals | TraceArrivals | ReplicaArrivals,
    Field(discriminator="kind"),
]


# --- demand signals and replica autoscaling -------------------------------------------------

class SignalStep(Spec):
    """The demand from ``at`` on."""

    at: Duration = Field(description="required: when the demand becomes value")
    value: Annotated[float, Field(ge=0, le=1e12)] = Field(
        description="required: the demand from then on, in the units of target_per_replica "
                    "(requests per second, say)")


def _signal(value: Any) -> Any:
    """A step, a spike or a constant written as the schedule it is."""
    if not isinstance(value, dict) or "kind" not in value:
        return value
    kind, rest = value["kind"], {k: v for k, v in value.items() if k != "kind"}

    def need(*keys: str) -> None:
        missing = [k for k in keys if k not in rest]
        extra = sorted(set(rest) - set(keys))
        if missing or extra:
            raise ValueError(f"a {kind} demand has " + ", ".join(keys)
                             + (f" (missing: {', '.join(missing)})" if missing else "")
                             + (f" (unknown: {', '.join(extra)})" if extra else ""))

    if kind == "constant":
        need("value")
        return {"kind": "schedule", "steps": [{"at": 0, "value": rest["value"]}]}
    if kind == "step":
        need("at", "from", "to")
        return {"kind": "schedule", "steps": [{"at": 0, "value": rest["from"]},
                                              {"at": rest["at"], "value": rest["to"]}]}
    if kind == "spike":
        need("at", "from", "to", "duration")
        end = units.parse_duration(rest["at"]) + units.parse_duration(rest["duration"])
        return {"kind": "schedule", "steps": [{"at": 0, "value": rest["from"]},
                                              {"at": rest["at"], "value": rest["to"]},
                                              {"at": end, "value": rest["from"]}]}
    if kind not in ("schedule", "file"):  # a file is read by the loader, before this
        raise ValueError(f"unknown demand kind {kind!r}; one of constant, step, spike, "
                         "schedule or file")
    return value


class Signal(Spec):
    """A demand over time: a schedule of values, each holding until the next. Written as
    {kind: constant, value}, {kind: step, at, from, to}, {kind: spike, at, from, to,
    duration}, {kind: schedule, steps: [{at, value}, ...]} or {kind: file, file: demand.csv}
    (two columns: seconds from the start, value)."""

    kind: Literal["schedule"] = Field(
        description="required: constant, step, spike, schedule or file (each read as a "
                    "schedule)")
    steps: Annotated[list[SignalStep], Field(min_length=1)] = Field(
        description="required: the values and when each begins, in time order; the first "
                    "from 0")

    @model_validator(mode="after")
    def _ordered(self) -> Signal:
        times = [step.at for step in self.steps]
        if times[0] != 0:
            raise ValueError(f"the first step is at 0 (the demand at the start), not at "
                             f"{times[0]:g}s")
        if any(b <= a for a, b in zip(times, times[1:])):
            raise ValueError("steps: each later than the one before")
        return self

    def at(self, t: float) -> float:
        """The demand at time ``t``."""
        value = self.steps[0].value
        for step in self.steps:
            if step.at > t:
                break
            value = step.value
        return value


DemandSignal = Annotated[Signal, BeforeValidator(_signal)]


class Replicas(Spec):
    """How many instances of the workload run, as the Kubernetes horizontal pod autoscaler
    sets it from an external demand: every ``sync_period`` the desired count is
    ceil(demand / ``target_per_replica``), unless the ratio of demand to what the replicas
    asked for serve is within ``tolerance`` of 1; scale-down takes the highest desired count
    of the last ``scale_down_stabilization``; always between ``min`` and ``max``. More are
    requested at once; fewer stop (those not yet running first, then the newest)."""

    min: Annotated[int, Field(ge=0)] = Field(1, description="the fewest replicas")
    max: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        description="required: the most replicas")
    target_per_replica: Annotated[float, Field(gt=0)] = Field(
        description="required: the demand one replica serves at its target (the HPA's "
                    "target average value)")
    sync_period: Annotated[Duration, Field(gt=0)] = Field(
        15.0, description="how often the desired count is worked out (Kubernetes: 15s)")
    tolerance: Annotated[float, Field(ge=0, le=1)] = Field(
        0.1, description="no change while demand / served is within this of 1 (Kubernetes: "
                         "0.1)")
    scale_down_stabilization: Duration = Field(
        300.0, description="scale-down follows the highest desired count of this window "
                           "(Kubernetes: 5min)")
    demand: DemandSignal = Field(
        description="required: the demand over time: {kind: step, at: 1h, from: 500, to: "
                    "2500}, spike, constant, schedule or file")

    @model_validator(mode="after")
    def _ordered(self) -> Replicas:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self

    def wanted(self, demand: float) -> int:
        """The replicas ``demand`` asks for, within min and max (no tolerance)."""
        return min(self.max, max(self.min, math.ceil(demand / self.target_per_replica - 1e-9)))

    def mean_wanted(self, duration: float) -> float:
        """The replicas the demand asks for, averaged over [0, ``duration``] (steady state
        for capacity estimates)."""
        steps = self.demand.steps
        total = 0.0
        for k, step in enumerate(steps):
            end = min(duration, steps[k + 1].at) if k + 1 < len(steps) else duration
            if end > step.at:
                total += self.wanted(step.value) * (end - step.at)
        return total / duration if duration > 0 else float(self.wanted(steps[0].value))

    def most(self) -> int:
        """The most replicas the demand ever asks for."""
        return max(self.wanted(step.value) for step in self.demand.steps)


# --- infrastructure -------------------------------------------------------------------------

class VirtualHost(Spec):
    """Container hosts that are VMs: ``per_physical`` of them inside each host of
    ``physical_group`` (which then runs no instances of its own)."""

    physical_group: str = Field(
        description="required: the group of physical hosts that holds these VMs")
    per_physical: Annotated[int, Field(ge=1)] = Field(
        1, description="VMs in each physical host")


class ImageGC(Spec):
    """Image garbage collection, as the kubelet does it: when a host's disk use passes
    ``high`` (a fraction of its disk), images no instance there uses are removed, least
    recently used first, until it is at most ``low``; a layer goes with the last image on the
    host that has it. ``high: 1`` turns it off."""

    high: Annotated[Fraction, Field(gt=0)] = Field(
        0.85, description="disk use that starts a collection (kubelet imageGCHighThresholdPercent)")
    low: Annotated[Fraction, Field(gt=0)] = Field(
        0.80, description="disk use a collection brings it down to (imageGCLowThresholdPercent)")

    @model_validator(mode="after")
    def _low_below_high(self) -> ImageGC:
        if self.low > self.high:
            raise ValueError(f"low ({self.low:g}) must be at most high ({self.high:g}): a "
                             "collection brings disk use down from high to low")
        return self


class PrePull(Spec):
    """Images pulled onto every host of a group at ``at`` whether or not an instance needs
    them yet (a pre-puller DaemonSet, or a warm-up script), through the same registry,
    network and runtime as any pull."""

    images: Annotated[list[str], Field(min_length=1)] = Field(
        description="required: the images to pull, at least one")
    at: Duration = Field(0.0, description="when the pulls start")


class Autoscale(Spec):
    """A host group that grows and shrinks as the Kubernetes cluster autoscaler makes it: at
    each scan it adds the fewest hosts that fit the requests waiting for one (each ready after
    ``provision``: create the VM, boot, join; given up and retried past
    ``provision_timeout``), up to ``max``, the ``expander`` choosing among groups; it removes
    a host unneeded for ``unneeded_time`` (empty, or below ``scale_down_utilization`` with its
    instances able to move: it is drained first), not within ``scale_down_delay_after_add``
    of adding one, down to ``min``. Defaults: AKS's autoscaler profile; ``provision`` an
    estimate (docs/autoscaling.md)."""

    min: Annotated[int, Field(ge=0)] = Field(description="required: the fewest hosts it keeps")
    max: Annotated[int, Field(ge=1, le=100_000)] = Field(
        description="required: the most hosts it grows to (hosts are built up to it)")
    provision: Distribution = Field(
        default_factory=lambda: Lognormal(dist="lognormal", median=360.0, p95=720.0),
        description="from the decision to a ready host (VM created, booted, joined); default "
                    "lognormal median 6min, p95 12min, an estimate: Windows nodes were given "
                    "15 min to become ready (docs/autoscaling.md)")
    scan_interval: Annotated[Duration, Field(gt=0)] = Field(
        10.0, description="how often it looks at waiting requests and idle hosts (AKS: 10s; "
                          "one scan for the cluster, at the shortest of its groups)")
    provision_timeout: Annotated[Duration, Field(gt=0)] = Field(
        900.0, description="a host not ready by then is given up and asked for again (AKS "
                           "max-node-provision-time: 15min)")
    scale_down_utilization: Fraction = Field(
        0.5, description="a host below this share of its memory and vCPU allocated, whose "
                         "instances fit on other hosts, is unneeded and is drained before it "
                         "is removed (AKS: 0.5)")
    unneeded_time: Duration = Field(
        600.0, description="how long a host stays unneeded before it is removed (AKS: 10min)")
    scale_down_delay_after_add: Duration = Field(
        600.0, description="no removal this soon after a host was added (AKS: 10min)")
    expander: Literal["least-waste", "random", "priority"] = Field(
        "least-waste", description="which group grows when several could take the waiting "
                                   "requests: the least idle CPU and memory left, random, or "
                                   "the highest priority (the same for every elastic group)")
    priority: int = Field(0, description="with expander priority: higher grows first")

    @model_validator(mode="after")
    def _ordered(self) -> Autoscale:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        if isinstance(self.provision, Constant) and self.provision.value > \
                self.provision_timeout:
            raise ValueError(f"provision ({self.provision.value:g}s) always takes longer than "
                             f"provision_timeout ({self.provision_timeout:g}s): no host would "
                             "ever be ready")
        return self


class HostGroup(Spec):
    """A group of ``count`` identical hosts."""

    group: str = Field(
        description="required: the group's name, which workloads' and profiles' host_groups, "
                    "sweeps' hosts[name] and plan.group refer to")
    count: Annotated[int, Field(ge=0)] = Field(
        1, description="hosts in the group (at the start, for an elastic group: 0 lets it "
                       "scale from zero)")
    cpu_cores: Annotated[int, Field(ge=1)] = Field(
        description="required: physical cores of each host: placement promises vCPU against "
                    "them and start-ups' CPU work shares them")
    cpu_overcommit: Annotated[float, Field(gt=0, le=100)] = Field(
        1.0, description="vCPU per core that placement may promise (at most 100)")
    memory: Size = Field(
        description="required: physical memory of each host, e.g. 256GiB: what placement "
                    "commits instances' memory against")
    reserved_memory: Size = Field(
        0.0, description="memory kept for the host OS or root partition, never committed to "
                         "instances")
    disk: Size = Field(
        description="required: disk of each host, e.g. 1TiB: it holds the image layers and "
                    "the instances' private disks")
    disk_rate: Bandwidth = Field(
        description="required: disk throughput of each host, e.g. 500MB/s: layer extraction "
                    "and VM disk copies share it equally")
    nic: Bandwidth = Field(
        description="required: network interface of each host, e.g. 10Gbit/s: it caps the "
                    "host's share of the registry's bandwidth")
    hyperv: bool = Field(True, description="Hyper-V installed: hyperv and vm isolation need it")
    os_build: str = Field(
        "ltsc2022", description="the host's Windows build; process isolation needs the "
                                "image's build to match")
    max_concurrent_starts: Annotated[int, Field(ge=1)] = Field(
        8, description="start slots: start-ups in progress at once on a host; more wait, "
                       "first come first served")
    max_partitions: Annotated[int, Field(ge=1)] = Field(
        1024, description="running Hyper-V partitions (utility VMs and VMs); Microsoft: 1024")
    preloaded_images: list[str] = Field(
        [], description="images whose layers are on every host of the group at time 0")
    cost_per_host: Annotated[float, Field(ge=0)] | None = Field(
        None, description="cost of one host (any currency and period), for plan tables")
    virtual: VirtualHost | None = Field(
        None, description="these hosts are VMs inside the physical hosts of another group")
    nested_virtualization: bool = Field(
        False, description="a virtual host exposes virtualization extensions, so Hyper-V "
                           "isolation can run inside it (paying the profile's nested penalty)")
    runtime: str | None = Field(
        None, description="the container runtime that pulls and extracts images: docker, "
                          "containerd, disk-bound or containerd-lazy (what-ifs) or one of the "
                          "scenario's runtimes; default containerd (Kubernetes node pools)")
    antivirus: AntivirusName | None = Field(
        None, description="real-time scanning that slows extraction unless the runtime is "
                          "excluded; default defender (on by default on Windows Server)")
    serialize_pulls: bool = Field(
        False, description="one image pull at a time on a host, as the kubelet does by default "
                           "(serializeImagePulls): a later pull waits, then pulls what is still "
                           "missing")
    pre_pull: PrePull | None = Field(
        None, description="images pulled onto every host of the group at a given time, "
                          "before instances need them")
    image_gc: ImageGC = Field(
        default_factory=lambda: ImageGC(),
        description="removing unused images under disk pressure; kubelet defaults 85 % / 80 %")
    autoscale: Autoscale | None = Field(
        None, description="the group scales out and in between min and max as waiting "
                          "requests need (count: the hosts at the start): {min, max, "
                          "provision, scan_interval, provision_timeout, ...}")
    max_instances: Annotated[int, Field(ge=1)] | None = Field(
        None, description="the most instances a host holds at once (Kubernetes maxPods: 30, 110 "
                          "or 250 on AKS): placement skips a host that has them; none: no limit")
    creation_rate: Annotated[Rate, Field(gt=0)] | None = Field(
        None, description="the most create phases a host begins per second (its kubelet and "
                          "container runtime: Windows nodes fell behind from about 1 pod/s); "
                          "a start-up waits its turn; none: no limit")
    power: PowerModel | None = Field(
        None, description="each host's power draw by CPU utilisation: {model: linear, idle: "
                          "55W, max: 469W} or {specpower: [11 load points]}; none: no energy")
    price: Price | None = Field(
        None, description="what one host costs per hour in service (on demand, or a monthly "
                          "amortised cost), e.g. 1.20/h or 876/month")
    licensing: Licensing | None = Field(
        None, description="Windows Server licences of each host: none, windows-standard (2 "
                          "Hyper-V containers or VMs per full licensing of the cores), "
                          "windows-datacenter (unlimited) or cheapest (per host)")
    licence_price: dict[Edition, Annotated[float, Field(ge=0, le=1e9)]] = Field(
        {}, description="price of 16 core licences per edition; default the illustrative "
                        "list prices of Windows Server 2022: "
                        + ", ".join(f"{k} {v:,.0f}" for k, v in LIST_PRICES.items()))
    licence_years: Annotated[float, Field(gt=0, le=100)] | None = Field(
        None, description="years a perpetual licence is spread over; default 3 (an estimate)")
    sockets: Annotated[int, Field(ge=1, le=64)] = Field(
        2, description="processors per host: licences cover at least 8 cores per processor "
                       "and 16 per host")
    embodied: Embodied | None = Field(
        None, description="carbon made in making each host, spread over its lifetime: "
                          "{carbon: 1300kg, lifetime: 4y}")
    migration_bandwidth: Bandwidth | None = Field(
        None, description="what a live migration off one of its hosts sends per second (one "
                          "migration at a time per host); default the host's nic")


    @model_validator(mode="after")
    def _elastic(self) -> HostGroup:
        scale = self.autoscale
        if scale is None:
            return self
        if self.virtual is not None:
            raise ValueError("autoscale: container-host VMs scale with their physical group; "
                             "give autoscale to a group of physical hosts or cloud VMs")
        return self

    @property
    def built(self) -> int:
        """Hosts the model builds for the group: ``count``, or an elastic group's ``max``."""
        return self.autoscale.max if self.autoscale is not None else self.count


def host_name(group: str, k: int) -> str:
    """The name of the ``k``-th host (from 0) of ``group``, as results call it: standard-01."""
    return f"{group}-{k + 1:02d}"


class Registry(Spec):
    """The shared remote registry all hosts pull from."""

    bandwidth: Bandwidth = Field(
        description="required: egress bandwidth, e.g. 10Gbit/s, shared max-min fairly by all "
                    "concurrent pulls: it sets how long pulls take")
    latency: Duration = Field(0.0, description="added to each layer request")


class LayerSize(Spec):
    """A layer's size in the registry (compressed: what the network moves) and on disk
    (extracted: what extraction writes and the disk holds)."""

    download: Size = Field(description="required: the compressed size, what the network moves")
    size: Size = Field(description="required: the extracted size, what extraction writes and "
                                   "the disk holds")

    @model_validator(mode="after")
    def _extracted_holds_the_download(self) -> LayerSize:
        if self.size < self.download:
            raise ValueError(f"the extracted size ({units.format_size(self.size)}) is smaller "
                             f"than the download ({units.format_size(self.download)}): "
                             "extraction does not shrink a layer")
        return self


def _layer_form(value: Any) -> str:
    """Which form a layer entry takes: a mapping of both sizes, or one size for both."""
    return "split" if isinstance(value, dict | LayerSize) else "bare"


# A layer: one size (downloaded and extracted alike), or {download, size}; the form is chosen
# by the value's shape, so a bad entry gets only its own form's error
LayerEntry = Annotated[Annotated[Size, Tag("bare")] | Annotated[LayerSize, Tag("split")],
                       Discriminator(_layer_form)]


class Image(Spec):
    """An image: its own layers on top of its ``base`` image's layers."""

    name: str = Field(description="required: the name workloads, bases, pre-pulls and "
                                  "pipelines refer to")
    base: str | None = Field(None, description="the image it is built on; its layers come "
                                               "first")
    os_build: str | None = Field(None, description="the Windows build it needs, e.g. "
                                                   "ltsc2022; inherited from the base when not "
                                                   "given")
    layers: list[LayerEntry] = Field(
        [], description="each a size (downloaded and extracted alike) or {download, size}: "
                        "compressed in the registry, extracted on disk")


class LazyPull(Spec):
    """Lazy pulling (a what-if for Windows: no Windows runtime does it today): a start-up
    begins before its image has arrived, and runs slower until it has."""

    start_at: Annotated[float, Field(gt=0, le=1)] = Field(
        description="required: the share of each missing layer's compressed bytes that must "
                    "have arrived before the start-up begins (its start-up files, fetched "
                    "first); 1: all")
    slowdown: Annotated[float, Field(ge=1)] = Field(
        description="required: how many times longer a create, boot or app-start phase "
                    "takes when it begins while the image is still streaming")


class Runtime(Spec):
    """A scenario's container runtime: a built-in's values changed (named as the built-in),
    or a new one that ``extends`` one. Only the keys given change."""

    extends: str | None = Field(
        None, description="the built-in runtime a new one starts from (required for a new "
                          "name; a built-in's own name changes that built-in)")
    description: str | None = Field(None, description="free text")
    extract_rate: Annotated[Bandwidth, Field(gt=0)] | None = Field(
        None, description="extracted bytes per core-second, one layer on one core, no "
                          "antivirus; null: extraction is bound by the disk alone")
    extraction: Literal["sequential", "parallel"] | None = Field(
        None, description="the layers of one image extract one after another or at once")
    concurrent_pulls: Literal["shared", "duplicated"] | None = Field(
        None, description="two requests for one layer on a host share the download and the "
                          "extraction, or share the download and each extracts a copy")
    antivirus_excluded: bool | None = Field(
        None, description="the runtime's folders are excluded from real-time scanning, so the "
                          "host's antivirus does not slow its extraction")
    lazy_pull: LazyPull | None = Field(
        None, description="{start_at, slowdown}, both given: start-ups begin before the image "
                          "has arrived (a what-if on Windows); null: none")


class Antivirus(Spec):
    """A host antivirus setting's cost to the extraction it scans (a built-in's value
    changed: ``antivirus: {defender: {factor: 2.0}}``)."""

    factor: Annotated[float, Field(ge=1.0)] = Field(
        description="required: extraction time under real-time scanning over extraction "
                    "time without, the one thing the setting changes")


AntivirusName = Literal["defender", "none"]


class ResolvedRuntime(Spec):
    """A container runtime with every value (``sim.spec.runtimes`` resolves them)."""

    name: str
    description: str = ""
    extract_rate: Annotated[float, Field(gt=0)] | None
    extraction: Literal["sequential", "parallel"]
    concurrent_pulls: Literal["shared", "duplicated"]
    antivirus_excluded: bool
    lazy_pull: LazyPull | None = None


class Restart(Spec):
    """What happens to an instance a fault took down: ``never`` (it is gone) or ``always``
    (after ``delay`` it is requested again, going through placement and start-up)."""

    policy: Literal["never", "always"] = Field(
        "never", description="never: the instance is gone; always: it is requested again, "
                             "through placement and start-up")
    delay: Duration = Field(0.0, description="time before it is requested again")


def _arrival_or_replicas(schema: dict[str, Any]) -> None:
    """In the JSON schema: a workload needs arrival, or replicas instead (the model says
    which is missing)."""
    schema["required"] = [k for k in schema.get("required", []) if k != "arrival"]


class Workload(Spec):
    """A stream of identical instance requests."""

    model_config = ConfigDict(**Spec.model_config, json_schema_extra=_arrival_or_replicas)

    name: str = Field(description="required: the workload's name, which results "
                                  "(startup_by_workload_s) and rollouts use")
    image: str = Field(description="required: the image its instances run, which hosts pull "
                                   "before starting one")
    isolation: str = Field(
        "process", description="a profile: process, hyperv, vm or one defined under profiles")
    tenant: str = Field(
        "default", description="trust boundary: with kernel_sharing same-tenant, instances of "
                               "different tenants never share a host kernel")
    cpu: Annotated[float, Field(ge=0.001)] = Field(
        1.0, description="vCPU, at least 0.001 (Kubernetes' smallest, 1m); a trace's own "
                         "values replace it where it has them")
    memory: Size = Field(description="required: the memory limit, e.g. 2GiB, which placement "
                                     "commits on a host; a trace's own values replace it where "
                                     "it has them")
    app_start: Distribution = Field(ZERO, description="the application's start after the boot")
    arrival: Arrival = Field(description="required (unless replicas is given): how requests "
                                         "arrive (kind: poisson, constant, burst or trace); "
                                         "without it none would")
    lifetime: Distribution | None = Field(
        None, description="running time before the instance stops; none: runs to the end")
    on_full: Literal["queue", "reject"] = Field(
        "queue", description="when no host fits: queue (one FIFO queue for the pool) or reject")
    host_groups: list[str] | None = Field(None, description="groups it may run on; all if unset")
    kernel_fault_rate: Rate = Field(
        0.0, description="kernel faults one instance triggers per running second (write "
                         "0.0005/h); under a profile that shares the host kernel the host "
                         "crashes, otherwise only the instance's own kernel")
    restart: Restart = Field(default_factory=lambda: Restart(),
                             description="what happens to an instance a fault took down")
    work: Duration | None = Field(
        None, description="a batch job: CPU-seconds of work per vCPU-second at full speed; "
                          "it stops when done (instead of a lifetime)")
    noise: str = Field("none", description="noise class it inflicts on its neighbours while "
                                           "running (a key of the profiles' interference)")
    replicas: Replicas | None = Field(
        None, description="instances follow a demand signal, as a horizontal pod autoscaler "
                          "keeps them (instead of arrival): {min, max, target_per_replica, "
                          "sync_period, demand}")
    cpu_use: Fraction | None = Field(
        None, description="mean share of its vCPU busy while it runs, for host power; "
                          "default 0.25, an estimate (range 0.05-0.6)")
    disruption_budget: Budget | None = Field(
        None, description="the most of its instances a maintenance drain may have down at "
                          "once (a PodDisruptionBudget's maxUnavailable): a count, or a "
                          "percentage of its instances rounded up; a drain waits while "
                          "evicting one more would exceed it; none: no limit")
    dirty_rate: DataRate | None = Field(
        None, description="memory a running VM of it writes per second, which a live "
                          "migration sends again; default 50MB/s, an estimate "
                          "(1MB/s-1GB/s)")

    @model_validator(mode="before")
    @classmethod
    def _replicas_arrive(cls, data: Any) -> Any:
        """With replicas and no arrival, the arrivals are the replicas'."""
        if isinstance(data, dict) and data.get("replicas") is not None \
                and "arrival" not in data:
            return {**data, "arrival": {"kind": "replicas"}}
        return data

    @model_validator(mode="after")
    def _replicas_or_arrival(self) -> Workload:
        replicated = isinstance(self.arrival, ReplicaArrivals)
        if (self.replicas is not None) != replicated:
            raise ValueError("give either arrival or replicas (an autoscaler decides how many "
                             "run), not both" if self.replicas is not None else
                             "arrival kind replicas needs a replicas: section")
        if replicated and (self.lifetime is not None or self.work is not None):
            raise ValueError("a replica runs until the autoscaler stops it: leave out "
                             "lifetime and work")
        return self

    @model_validator(mode="after")
    def _work_or_lifetime(self) -> Workload:
        if self.work is not None and self.lifetime is not None:
            raise ValueError("give either lifetime or work (a batch job ends when its work "
                             "is done)")
        if self.work is not None and self.work <= 0:
            raise ValueError("work must be positive")
        return self


# --- isolation profiles ---------------------------------------------------------------------

class Commit(Spec):
    """Committed memory = round_up(memory + ``add``, ``round_to``) + the profile's
    ``memory_overhead``; the rounding is Hyper-V's utility-VM rule."""

    add: Size = Field(0.0, description="added to the workload's memory limit")
    round_to: Size = Field(0.0, description="then rounded up to a multiple of this (0: not "
                                            "rounded)")

    @model_validator(mode="after")
    def _whole_bytes(self) -> Commit:
        if 0 < self.round_to < 1:
            raise ValueError("round_to: 0 (no rounding) or at least 1B (got a fraction of a "
                             "byte)")
        return self


class Nested(Spec):
    """What running inside a container-host VM costs an instance of a profile: start-up
    phases take ``boot_factor`` times as long, and batch work ``cpu_factor`` times as long.
    (Whether Hyper-V is available inside the VM is the host group's
    ``nested_virtualization``.)"""

    boot_factor: Annotated[float, Field(ge=1.0)] = Field(
        1.0, description="start-up phases take this many times as long")
    cpu_factor: Annotated[float, Field(ge=1.0)] = Field(
        1.0, description="batch work takes this many times as long")


class ImageCommit(Spec):
    """What a ``commit`` of a container (``commands:``) costs under a profile: ``cost`` besides
    writing the new layer (a whole template, where versions are templates) at the host's disk
    rate, and what committing a running container does: ``refuse`` (Windows: stop it first)
    or ``pause`` (paused while its changes are written)."""

    cost: Annotated[Duration, Field(ge=0)] = Field(
        2.0, description="time besides writing the layer")
    running: Literal["refuse", "pause"] = Field(
        "refuse", description="a commit of a running container: refuse (Windows) or pause it")


class Profile(Spec):
    """An isolation mode as data. Every field is optional here so that a scenario can override
    a few fields of a built-in profile, or ``extends`` one to make a new profile."""

    extends: str | None = Field(
        None, description="the profile a new one starts from (required for a new name; a "
                          "built-in's own name changes that built-in)")
    description: str | None = Field(None, description="free text")
    create: Distribution | None = Field(None, description="create phase on an idle host")
    boot: Distribution | None = Field(None, description="boot phase on an idle host")
    stop: Distribution | None = Field(None, description="stop phase")
    memory_overhead: Size | None = Field(None, description="resident memory per instance")
    commit: Commit | None = Field(
        None, description="committed memory = round_up(memory + add, round_to) + "
                          "memory_overhead")
    cpu_overhead: Annotated[float, Field(ge=0)] | None = Field(
        None, description="extra vCPU per vCPU of the workload")
    disk_per_instance: Size | None = Field(
        None, description="private disk per instance (sandbox, pagefile, VHD)")
    disk_image: Literal["none", "copy", "differencing"] | None = Field(
        None, description="copy: the image is copied to a private disk at disk_rate")
    cpu_bound_fraction: Fraction | None = Field(
        None, description="share of create, boot and app start that needs a CPU, "
                          "processor-shared with the host's other start-ups")
    shares_host_kernel: bool | None = Field(
        None, description="the image's OS build must match the host's, and a kernel fault "
                          "reaches every such instance on the host")
    requires_hyperv: bool | None = Field(None, description="only hosts with hyperv: true")
    partition: bool | None = Field(None, description="counts against the host's max_partitions")
    create_per_running: Duration | None = Field(
        None, description="added to create for each instance already running on the host: a "
                          "control plane that slows as it manages more (LightVM, SOSP 2017)")
    interference: dict[str, Annotated[float, Field(ge=1.0)]] | None = Field(
        None, description="noise class of a running neighbour -> slowdown factor it inflicts "
                          "on an instance of this profile (the largest present applies)")
    nested: Nested | None = Field(
        None, description="penalty when this profile runs inside a virtual host")
    host_groups: list[str] | None = Field(
        None, description="host groups instances of this profile may use (all if unset)")
    image_commit: ImageCommit | None = Field(
        None, description="a commands script's commit: its cost besides writing the layer, "
                          "and whether a running container may be committed")
    new_version: Literal["layer", "template"] | None = Field(
        None, description="what a pipeline's new image version is for this profile: a layer "
                          "on the old base (containers) or a whole new template (VMs)")
    os_builds: BuildRule | None = Field(
        None, description="which image OS builds a host runs: same (the host's own: process "
                          "isolation), older (the host's and the older ones Microsoft's "
                          "compatibility table lists: Hyper-V isolation) or any (a full guest "
                          "OS); default same when the profile shares the host kernel, else any")
    live_migration: bool | None = Field(
        None, description="a running instance can move to another host with its memory (a "
                          "Hyper-V VM) when a maintenance campaign drains its host; otherwise "
                          "it restarts there")


class ResolvedProfile(Spec):
    """A profile with every field filled in (built-in defaults, extends, then overrides)."""

    name: str
    description: str = ""
    create: Distribution
    boot: Distribution
    stop: Distribution
    memory_overhead: Size
    commit: Commit
    cpu_overhead: Annotated[float, Field(ge=0)]
    disk_per_instance: Size
    disk_image: Literal["none", "copy", "differencing"]
    cpu_bound_fraction: Fraction
    shares_host_kernel: bool
    requires_hyperv: bool
    partition: bool
    create_per_running: Duration = 0.0
    interference: dict[str, Annotated[float, Field(ge=1.0)]] = {}
    nested: Nested = Nested()
    host_groups: list[str] | None = None
    image_commit: ImageCommit = ImageCommit()
    new_version: Literal["layer", "template"] = "layer"
    os_builds: BuildRule | None = None
    live_migration: bool = False

    @property
    def build_rule(self) -> BuildRule:
        """Which image builds a host runs under this profile (``sim.spec.builds``)."""
        if self.os_builds is not None:
            return self.os_builds
        return "same" if self.shares_host_kernel else "any"


# --- pipelines ------------------------------------------------------------------------------

class Trigger(Spec):
    """When a pipeline runs: once ``at``, ``every`` interval from ``at``, or on each commit of
    a Poisson stream of ``commits`` per second. Runs of one pipeline queue, one at a time."""

    at: Duration = Field(0.0, description="the first (or only) run")
    every: Annotated[Duration, Field(gt=0)] | None = Field(
        None, description="then again every this long")
    commits: Annotated[Rate, Field(gt=0)] | None = Field(
        None, description="instead of every: a run per commit of a Poisson stream at this "
                          "rate, e.g. 2/h")

    @model_validator(mode="after")
    def _one_kind(self) -> Trigger:
        if self.every is not None and self.commits is not None:
            raise ValueError("give every or commits, not both")
        return self


class BuildStep(Spec):
    """Start a container from ``base``, run an install step for ``install``, stop it and
    commit its changes as a new layer of ``layer`` bytes (writing it takes layer / disk_rate
    plus ``commit``); the new image (``base`` + the layer) exists on the build host."""

    base: str = Field(description="required: the image the build starts from")
    install: Distribution = Field(
        description="required: the install step's duration, the build's own work")
    layer: Size = Field(description="required: size of the new layer the build commits, which "
                                    "hosts then pull")
    commit: Duration = Field(1.0, description="commit time, besides writing the layer at "
                                              "disk_rate")


class TestStep(Spec):
    """A fixed ``duration``, or ``instances`` of the new image started on the build group and
    run for ``run`` each."""

    duration: Duration | None = Field(
        None, description="a fixed test time (give duration or instances)")
    instances: Annotated[int, Field(ge=1)] | None = Field(
        None, description="instead of duration: instances of the new image started on the "
                          "build group")
    run: Duration = Field(60.0, description="how long each test instance runs")

    @model_validator(mode="after")
    def _one_kind(self) -> TestStep:
        if (self.duration is None) == (self.instances is None):
            raise ValueError("give duration, or instances (and run)")
        return self


Count = Annotated[
    Annotated[int, Field(ge=0)] | Annotated[str, Field(pattern=r"^\s*\d+(\.\d+)?\s*%\s*$")],
    Field(description="a number of instances, or a percentage such as 25% of the old ones")]


class RolloutStep(Spec):
    """Replace the instances of ``workload`` with the new image: in batches that start up to
    ``max_surge`` new instances beyond the old count and take up to ``max_unavailable`` old
    ones down before their replacements run (blue-green: all new first, then all old down);
    with ``pre_pull``, the new layers are first pulled to every host the workload may use."""

    workload: str = Field(description="required: the workload whose instances are replaced")
    strategy: Literal["rolling", "blue-green"] = Field(
        "rolling", description="rolling batches, or blue-green (one batch with 100 % surge)")
    max_surge: Count = Field(
        "25%", description="new instances a batch starts beyond the old count: a number, or a "
                           "percentage such as 25% of the old ones")
    max_unavailable: Count = Field(
        0, description="old instances a batch takes down before their replacements run: a "
                       "number, or a percentage of the old ones")
    pre_pull: bool = Field(
        False, description="first pull the new layers to every host the workload may use")


class Step(Spec):
    """One pipeline step: exactly one of build, push, test, rollout."""

    build: BuildStep | None = Field(None, description="build a new image")
    push: dict[str, Any] | None = Field(None, description="{}: upload the new layers the "
                                                          "registry lacks")
    test: TestStep | None = Field(None, description="test the new image")
    rollout: RolloutStep | None = Field(
        None, description="replace a workload's instances with the new image")

    @model_validator(mode="after")
    def _exactly_one(self) -> Step:
        given = [k for k in ("build", "push", "test", "rollout") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("each step is exactly one of build, push, test, rollout (got "
                             + (", ".join(given) or "none") + ")")
        if self.push:
            raise ValueError("push takes no options; write push: {}")
        return self


class Pipeline(Spec):
    """Commit -> build -> test -> push -> roll out, on the hosts of ``host_group``."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")] = Field(
        description="required: names the pipeline and, unless image is given, the images it "
                    "builds")
    trigger: Trigger = Field(default_factory=lambda: Trigger(),
                             description="when it runs; default once, at time 0")
    host_group: str | None = Field(None, description="where builds and tests run; default "
                                                     "the first group")
    image: str | None = Field(None, description="name of the images built: <image>-v<run>; "
                                                "default the pipeline's name")
    steps: Annotated[list[Step], Field(min_length=1)] = Field(
        description="required: what the pipeline does, at least one step, run in order")
    isolation: list[str] | None = Field(
        None, description="the isolation modes it runs under: with compare, a variant whose "
                          "rolled-out workload (else first workload) runs under another mode "
                          "does without it (an image rebuilt on a new base only for process "
                          "isolation); default every mode")


# --- the scenario ---------------------------------------------------------------------------

class PlanSpec(Spec):
    """What ``python -m sim plan`` sizes and against which SLOs (the CLI may override)."""

    group: str | None = Field(None, description="host group to size; default the first")
    slo: list[str] = Field([], description="e.g. 'startup_p99<=30s', 'blocking<=1%'")
    headroom: Annotated[int, Field(ge=0)] = Field(0, description="hosts that may fail (N+K)")
    objective: Literal["hosts", "cost"] | None = Field(
        None, description="what the plan minimises: hosts (the fewest that meet the SLOs, "
                          "the default) or cost (the cheapest count that meets them, with "
                          "the hosts' price, power and licensing)")
    replications: Annotated[int, Field(ge=1)] = Field(
        3, description="runs per candidate host count")
    max_hosts: Annotated[int, Field(ge=1)] = Field(
        10_000, description="the most hosts the search tries")


PlacementName = Literal["first-fit", "best-fit", "spread", "random", "image-locality"]


KernelSharing = Literal["any", "same-tenant"]


class Compare(Spec):
    """One variant per value (several keys: one per combination); same arrivals in each."""

    isolation: Annotated[list[str], Field(min_length=1)] | None = Field(
        None, description="sets every workload's isolation, and a commands script's")
    placement: Annotated[list[PlacementName], Field(min_length=1)] | None = Field(
        None, description="one variant per placement policy")
    kernel_sharing: Annotated[list[KernelSharing], Field(min_length=1)] | None = Field(
        None, description="one variant per value (what the constraint costs)")


@dataclass(frozen=True)
class CompareAxis:
    """What the values of one ``compare`` key set: the scenario's ``field``, or, with
    ``every_workload``, that field of every workload."""

    field: str
    every_workload: bool = False


# The compare axes: each key of ``Compare`` (the same keys, in the same order) and what its values
# set. Variants combine the axes in this order, and a variant's name joins its values in it
# (``hyperv+spread``). Adding an axis is one entry here, and its field in ``Compare``.
COMPARE_AXES: Mapping[str, CompareAxis] = MappingProxyType({
    "isolation": CompareAxis("isolation", every_workload=True),
    "placement": CompareAxis("placement"),
    "kernel_sharing": CompareAxis("kernel_sharing"),
})


class HardwareFaults(Spec):
    """Whole-host failures: exponential time between failures, then down for ``repair``."""

    mtbf: Annotated[Duration, Field(gt=0)] = Field(
        description="required: mean up time of each physical host (exponential), e.g. 5y: "
                    "the failure rate")
    repair: Distribution = Field(default_factory=lambda: Constant(value=4 * 3600.0),
                                 description="time down after a failure")


class KernelFaults(Spec):
    """Host kernel crashes (bugchecks): exponential time between them (none without
    ``mtbf``), then the host is down for ``reboot``; ``reboot`` also applies after a crash an
    instance triggers in a shared kernel."""

    mtbf: Annotated[Duration, Field(gt=0)] | None = Field(
        None, description="mean up time between spontaneous crashes (exponential); none: "
                          "only instances' faults crash it")
    reboot: Distribution = Field(default_factory=lambda: Constant(value=300.0),
                                 description="time down after a crash")


class Faults(Spec):
    """Failures injected into the run."""

    host_hardware: HardwareFaults | None = Field(
        None, description="whole-host failures, per physical host; none: no hardware faults")
    host_kernel: KernelFaults = Field(
        default_factory=lambda: KernelFaults(),
        description="host kernel crashes, per kernel (container-host VMs included)")


# --- uncertainty ----------------------------------------------------------------------------

Quantity = Annotated[str | int | float, Field(union_mode="left_to_right")]


class UncertainRange(Spec):
    """What is known of one uncertain input: its low and high values (written as the key at
    its path is, units included) and how it is spread between them: ``uniform`` (also the
    meaning of a bare ``[low, high]``), ``triangular`` (most likely at ``mode``) or
    ``loguniform`` (uniform in the logarithm: for a value known to a factor)."""

    dist: Literal["uniform", "triangular", "loguniform"] = Field(
        "uniform", description="how the input is spread between low and high: uniform, "
                               "triangular (most likely at mode) or loguniform (for a value "
                               "known to a factor)")
    low: Quantity = Field(description="required: the lowest value, written as the key at the "
                                      "path is (units included)")
    high: Quantity = Field(description="required: the highest value, written as low is")
    mode: Quantity | None = Field(None, description="triangular only: the most likely value")

    @model_validator(mode="before")
    @classmethod
    def _pair(cls, data: Any) -> Any:
        """``[low, high]`` is a uniform range."""
        if isinstance(data, list):
            if len(data) != 2:
                raise ValueError(f"a range is [low, high] (got {len(data)} values) or "
                                 "{dist: triangular, low: ..., mode: ..., high: ...}")
            return {"low": data[0], "high": data[1]}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> UncertainRange:
        values = {"low": self.low, "high": self.high}
        if self.mode is not None:
            values["mode"] = self.mode
        parsed = {}
        for name, text in values.items():
            try:
                parsed[name] = units.parse_quantity(text)
            except units.UnitError as exc:
                raise ValueError(f"{name}: {exc}") from None
        kinds = {kind for _, kind in parsed.values() if kind != "number"}  # a bare number
        if len(kinds) > 1:  # is in canonical units, so it goes with any kind
            raise ValueError("low, high (and mode) must be of one kind, written with the same "
                             "kind of unit (got " + ", ".join(
                                 f"{name} a {kind}" for name, (_, kind) in parsed.items()) + ")")
        low, high = parsed["low"][0], parsed["high"][0]
        if high < low:
            raise ValueError(f"needs low <= high (got {self.low!r} > {self.high!r})")
        if self.dist == "triangular":
            if self.mode is None:
                raise ValueError("a triangular range needs its mode, between low and high")
            if not low <= parsed["mode"][0] <= high:
                raise ValueError(f"needs low <= mode <= high (got mode {self.mode!r})")
        elif self.mode is not None:
            raise ValueError(f"mode belongs to a triangular range, not a {self.dist} one")
        if self.dist == "loguniform" and low <= 0:
            raise ValueError("a loguniform range needs low > 0")
        return self

    def bounds(self) -> tuple[float, float, float | None]:
        """Low, high and mode in canonical units (seconds, bytes, per second, bytes per
        second; a bare number as it is)."""
        mode = None if self.mode is None else units.parse_quantity(self.mode)[0]
        return units.parse_quantity(self.low)[0], units.parse_quantity(self.high)[0], mode

    @property
    def integer(self) -> bool:
        """Both bounds written as whole numbers without a unit: the input is a count."""
        return all(isinstance(v, int) for v in (self.low, self.high))

    @classmethod
    def __get_pydantic_json_schema__(cls, core: Any, handler: GetJsonSchemaHandler
                                     ) -> dict[str, Any]:
        """The mapping's schema, or the ``[low, high]`` pair that reads as a uniform range."""
        mapping = handler(core)
        quantity = {"anyOf": [{"type": "string"}, {"type": "number"}]}
        pair = {"type": "array", "items": quantity, "minItems": 2, "maxItems": 2,
                "description": "[low, high]: uniform between them"}
        described = {k: v for k, v in mapping.items() if k in ("title", "description")}
        return {**described, "anyOf": [pair, mapping]}


def _range_form(value: Any) -> str:
    """Which form an uncertainty entry takes: the word ``fixed``, or a range."""
    return "fixed" if isinstance(value, str) else "range"


# An uncertainty entry: a range, or 'fixed'; the form is chosen by the value's shape, so a bad
# range gets only its own form's error
Uncertainty = dict[str, Annotated[Annotated[UncertainRange, Tag("range")]
                                  | Annotated[Literal["fixed"], Tag("fixed")],
                                  Discriminator(_range_form)]]


MAX_SEED = 2**63 - 1  # seeds are stored as 64-bit integers in the result tables
MIN_DURATION_S = 1e-3  # shorter, and a sample interval (a 240th of it) is no number at all


def _may_be_empty(schema: dict[str, Any]) -> None:
    """A list's JSON Schema without its minimum: the file may leave it empty where the loader
    fills it in (the catalog's images)."""
    schema.pop("minItems", None)


class Scenario(Spec):
    """A whole scenario file. Six keys are required: ``name``, ``duration``, ``hosts``,
    ``registry``, ``images`` and ``workloads`` (what to call the results, how long to simulate,
    and the hosts, registry, images and request streams a run needs; ``workloads`` may be left
    out when a ``commands`` script is given); every other key has a default. Quantities are
    written with their unit: sizes such as 512MiB, durations such as 2s, rates such as 0.5/s,
    bandwidths such as 10Gbit/s."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=100)] = \
        Field(description="required: names the results folder, results/<name>/: letters, "
                          "digits, '.', '_' and '-', at most 100 characters")
    description: str = Field("", description="free text, shown at the top of report.html")
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] = Field(
        0, description="every random stream derives from it: the same seed gives the same "
                       "numbers")
    duration: Annotated[Duration, Field(ge=MIN_DURATION_S)] = Field(
        description="required: simulated time, e.g. 4h: arrivals may go on forever, so a run "
                    "ends here; at least 1ms")
    warmup: Duration = Field(0.0, description="statistics ignore requests that arrive before "
                                              "this, while the hosts fill from empty")
    timeseries_interval: Annotated[Duration, Field(gt=0)] | None = Field(
        None, description="sampling interval of timeseries.csv; default duration/240")
    hosts: Annotated[list[HostGroup], Field(min_length=1)] = Field(
        description="required: groups of identical hosts, at least one: where instances run")
    registry: Registry = Field(
        description="required: the registry every host pulls images from; its bandwidth sets "
                    "how long pulls take")
    images: Annotated[list[Image], Field(min_length=1)] = Field(
        description="required: images and their layers, what workloads run and hosts pull; "
                    "the catalog's base images (servercore:ltsc2022, nanoserver:ltsc2022, ...) "
                    "are added when named and not defined (so [], or no images key at all, is "
                    "enough when the scenario uses only those)",
        json_schema_extra=_may_be_empty)
    workloads: list[Workload] = Field(
        [], description="required: streams of instance requests, at least one unless a "
                        "commands: script is given (then it may be left out)")
    placement: PlacementName = Field(
        "best-fit", description="how a host is chosen for a request (docs/model.md)")
    queue: Literal["fifo", "any-fit"] = Field(
        "fifo", description="requests waiting for a host (on_full: queue): fifo, first come "
                            "first served (the first that cannot be placed holds back those "
                            "behind it), or any-fit, each placed as soon as it fits (the "
                            "Kubernetes scheduler: a pod that cannot be scheduled does not "
                            "block others; for mixed sizes, host groups or OS builds)")
    compare: Compare | None = Field(
        None, description="variants compared in one run, on the same arrivals and lifetimes, "
                          "e.g. isolation: [process, hyperv, vm]")
    sweep: dict[str, Annotated[list[Any], Field(min_length=1)]] | None = Field(
        None, description="dotted path -> values, e.g. 'hosts[0].count': [10, 20, 40]; "
                          "every combination is run")
    replications: Annotated[int, Field(ge=1)] = Field(
        1, description="independent runs per variant and sweep point, seeds derived from seed")
    profiles: dict[str, Profile] = Field(
        {}, description="fields of the built-in profiles (process, hyperv, vm) changed, or new "
                        "profiles (extends: one of them)")
    plan: PlanSpec | None = Field(
        None, description="what python -m sim plan sizes and against which SLOs")
    faults: Faults = Field(default_factory=lambda: Faults(),
                           description="failures injected into the run")
    kernel_sharing: KernelSharing = Field(
        "any", description="same-tenant: instances of different tenants never share a host "
                           "kernel (process isolation); other profiles have their own kernel")
    pipelines: list[Pipeline] = Field(
        [], description="image pipelines: commit, build, test, push, roll out")
    commands: Commands | None = Field(
        None, description="a script of docker / PowerShell lifecycle steps on one host or a "
                          "group: pull, run, exec, stop, commit, rm, rmi, push (python -m sim "
                          "ps and images show what it leaves)")
    runtimes: dict[str, Runtime] = Field(
        {}, description="container runtimes: a built-in's values changed, or new ones "
                        "(extends: a built-in)")
    antivirus: dict[AntivirusName, Antivirus] = Field(
        {}, description="what real-time scanning costs extraction: a built-in's factor "
                        "changed (defender 1.5 by default)")
    uncertainty: Uncertainty | None = Field(
        None, description="dotted path (as in sweep) -> the range of an uncertain input, "
                          "[low, high] or {dist, low, high, mode}, or 'fixed' to hold a "
                          "built-in range's value at its default")
    energy: Energy | None = Field(
        None, description="the hosts' energy: PUE, the grid's carbon intensity and the price "
                          "of a kWh (with the hosts' power, price and licensing)")
    maintenance: list[Maintenance] = Field(
        [], description="maintenance campaigns: a host group patched, or upgraded to a newer "
                        "Windows build, in batches of drained hosts: {name, group, at, every, "
                        "batch, downtime, live_migration, os_build}")

    @model_validator(mode="before")
    @classmethod
    def _catalog_images(cls, data: Any) -> Any:
        """The catalog's base images the scenario names and does not define, as images."""
        return catalog.with_catalog(data) if isinstance(data, dict) else data

    @model_validator(mode="after")
    def _something_happens(self) -> Scenario:
        """An empty list of workloads needs a commands script (``workloads`` left out without
        one is a missing key: ``sim.edge.checks``, as the schema lists it as optional)."""
        if not self.workloads and self.commands is None and "workloads" in self.model_fields_set:
            raise ValueError("workloads: give at least one stream of requests (or a commands: "
                             "script): without them nothing happens")
        return self

    def isolations(self) -> set[str]:
        """The isolation modes (profile names) its workloads and its commands script's
        containers use (``compare`` may set others per variant)."""
        used = {wl.isolation for wl in self.workloads}
        if self.commands is not None:
            used.update(self.commands.isolation_of(step) for step in self.commands.steps
                        if step.action in ("run", "create"))
        return used

    @property
    def sample_interval(self) -> float:
        """Seconds between two samples of the host groups: ``timeseries_interval``, else a
        240th of the duration."""
        return self.timeseries_interval or self.duration / 240
