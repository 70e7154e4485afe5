"""The scenario format: validated, frozen data with canonical units (seconds, bytes, 1/s, B/s).

Owns: every key a scenario file may hold, its type, default and meaning, and the JSON Schema
that editors use. Must not: read files (``sim.edge.loader`` does), hold behaviour, or know about
SimPy. Cross-references (images, profiles) and "can any host ever take this workload" are checked in
``sim.edge.checks``, because they need the whole scenario and the resolved profiles.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
    model_validator,
)

from sim.spec import catalog, units

QUANTITY_PATTERN = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*[A-Za-z/]*\s*$"


def _quantity(parse: Any, hint: str) -> Any:
    return (
        BeforeValidator(parse),
        WithJsonSchema(
            {"anyOf": [{"type": "string", "pattern": QUANTITY_PATTERN}, {"type": "number",
                                                                         "minimum": 0}],
             "description": hint}
        ),
    )


Size = Annotated[float, *_quantity(units.parse_size, units.SIZE_HINT)]
Duration = Annotated[float, *_quantity(units.parse_duration, units.DURATION_HINT)]
Rate = Annotated[float, *_quantity(units.parse_rate, units.RATE_HINT)]
Bandwidth = Annotated[float, *_quantity(units.parse_bandwidth, units.BANDWIDTH_HINT)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
# Spreads whose draws and moments stay finite floats: a coefficient of variation of 100 is
# already wilder than any start-up or lifetime measured; below 0.001 a gamma's shape
# parameter (1/cv^2) leaves what NumPy draws reliably (use a constant instead).
MAX_CV = 100.0
MIN_GAMMA_CV = 1e-3
MAX_P95_RATIO = 1e6


class Spec(BaseModel):
    """Base of every scenario section: frozen, unknown keys rejected, and strict about types:
    a boolean is not a count, and every number is finite (``.inf`` and ``.nan`` are refused
    wherever a number is read)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


# --- distributions --------------------------------------------------------------------------

class Constant(Spec):
    """Always ``value``."""

    dist: Literal["constant"] = "constant"
    value: Duration


class Exponential(Spec):
    """Exponential with the given ``mean``."""

    dist: Literal["exponential"]
    mean: Duration


class Lognormal(Spec):
    """Lognormal given by ``median`` and ``p95``, or by ``mean`` and coefficient of variation ``cv``."""  # noqa: E501 - the schema's description

    dist: Literal["lognormal"]
    median: Duration | None = None
    p95: Duration | None = None
    mean: Duration | None = None
    cv: Annotated[float, Field(gt=0, le=MAX_CV)] | None = None

    @model_validator(mode="after")
    def _one_parametrisation(self) -> Lognormal:
        by_quantiles = self.median is not None or self.p95 is not None
        by_moments = self.mean is not None or self.cv is not None
        if by_quantiles == by_moments:
            raise ValueError("give either median and p95, or mean and cv")
        if by_quantiles:
            if self.median is None or self.p95 is None:
                raise ValueError("give both median and p95")
            if self.median <= 0 or self.p95 <= self.median:
                raise ValueError("needs 0 < median < p95")
            if self.p95 > MAX_P95_RATIO * self.median:
                raise ValueError(f"p95 is more than {MAX_P95_RATIO:,} times the median: a "
                                 "spread whose mean no float can hold")
        elif self.mean is None or self.cv is None:
            raise ValueError("give both mean and cv")
        elif self.mean <= 0:
            raise ValueError("needs a mean above 0 (a lognormal is positive)")
        return self


class Uniform(Spec):
    """Uniform on [``low``, ``high``]."""

    dist: Literal["uniform"]
    low: Duration
    high: Duration

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high < self.low:
            raise ValueError("needs low <= high")
        return self


class Gamma(Spec):
    """Gamma with the given ``mean`` and coefficient of variation ``cv``."""

    dist: Literal["gamma"]
    mean: Duration
    cv: Annotated[float, Field(ge=MIN_GAMMA_CV, le=MAX_CV)] = Field(
        description=f"between {MIN_GAMMA_CV} and {MAX_CV:g}; a constant for no spread")


class Empirical(Spec):
    """Draws uniformly from the listed ``values`` (a measured sample)."""

    dist: Literal["empirical"]
    values: Annotated[list[Duration], Field(min_length=1)]


def _bare_constant(value: Any) -> Any:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return {"dist": "constant", "value": value}
    return value


Distribution = Annotated[
    Constant | Exponential | Lognormal | Uniform | Gamma | Empirical,
    Field(discriminator="dist"),
    BeforeValidator(_bare_constant),
]
ZERO = Constant(value=0.0)


# --- arrivals -------------------------------------------------------------------------------

class _Bounded(Spec):
    count: Annotated[int, Field(ge=0)] | None = None
    until: Duration | None = None


class RateStep(Spec):
    """From ``at`` on, arrivals come at ``rate``."""

    at: Duration
    rate: Rate


class PoissonArrivals(_Bounded):
    """Poisson arrivals at ``rate``, from ``start``; with ``schedule``, a time-varying
    (piecewise-constant) rate instead: each step's rate holds from its ``at`` to the next."""

    kind: Literal["poisson"]
    rate: Rate = 0.0
    start: Duration = 0.0
    schedule: list[RateStep] | None = None

    @model_validator(mode="after")
    def _one_rate(self) -> PoissonArrivals:
        if self.schedule is not None:
            if "rate" in self.model_fields_set:
                raise ValueError("give either rate or schedule")
            times = [step.at for step in self.schedule]
            if not times or times != sorted(times):
                raise ValueError("schedule steps must be in time order")
        elif "rate" not in self.model_fields_set:
            raise ValueError("give rate (or a schedule)")
        return self


class ConstantArrivals(_Bounded):
    """One arrival every ``interval``, the first at ``start``."""

    kind: Literal["constant"]
    interval: Annotated[Duration, Field(gt=0)]
    start: Duration = 0.0


class BurstArrivals(_Bounded):
    """``count`` arrivals all at time ``at``."""

    kind: Literal["burst"]
    count: Annotated[int, Field(ge=0)]
    at: Duration = 0.0


class TraceMachine(Spec):
    """The machine a normalised trace's 1.0 stands for (Google 2011: the largest machine)."""

    cpu: Annotated[float, Field(gt=0)] = Field(description="vCPU of a 1.0 machine")
    memory: Annotated[Size, Field(gt=0)] = Field(description="memory of a 1.0 machine")


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
    where it has them (``sim.edge.traces`` reads the formats; README: "Replaying traces")."""

    kind: Literal["trace"]
    format: Literal["azure-v1", "google-2011", "csv"]
    path: str = Field(description="the trace file, relative to the scenario file; "
                                  "google-2011: a file or a glob of task_events parts")
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
    cpu_scale: Annotated[float, Field(gt=0, le=1e6)] = 1.0
    memory_scale: Annotated[float, Field(gt=0, le=1e6)] = 1.0
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


Arrival = Annotated[
    PoissonArrivals | ConstantArrivals | BurstArrivals | TraceArrivals,
    Field(discriminator="kind"),
]


# --- infrastructure -------------------------------------------------------------------------

class VirtualHost(Spec):
    """Container hosts that are VMs: ``per_physical`` of them inside each host of
    ``physical_group`` (which then runs no instances of its own)."""

    physical_group: str
    per_physical: Annotated[int, Field(ge=1)] = 1


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

    images: Annotated[list[str], Field(min_length=1)]
    at: Duration = 0.0


class HostGroup(Spec):
    """``count`` identical hosts."""

    group: str
    count: Annotated[int, Field(ge=1)] = 1
    cpu_cores: Annotated[int, Field(ge=1)]
    cpu_overcommit: Annotated[float, Field(gt=0)] = 1.0
    memory: Size
    reserved_memory: Size = 0.0
    disk: Size
    disk_rate: Bandwidth
    nic: Bandwidth
    hyperv: bool = True
    os_build: str = "ltsc2022"
    max_concurrent_starts: Annotated[int, Field(ge=1)] = 8
    max_partitions: Annotated[int, Field(ge=1)] = Field(
        1024, description="running Hyper-V partitions (utility VMs and VMs); Microsoft: 1024")
    preloaded_images: list[str] = []
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


class Registry(Spec):
    """The shared remote registry all hosts pull from."""

    bandwidth: Bandwidth
    latency: Duration = 0.0


class LayerSize(Spec):
    """A layer's size in the registry (compressed: what the network moves) and on disk
    (extracted: what extraction writes and the disk holds)."""

    download: Size
    size: Size

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

    name: str
    base: str | None = None
    os_build: str | None = Field(None, description="inherited from the base when not given")
    layers: list[LayerEntry] = Field(
        [], description="each a size (downloaded and extracted alike) or {download, size}: "
                        "compressed in the registry, extracted on disk")


class LazyPull(Spec):
    """Lazy pulling (a what-if for Windows: no Windows runtime does it today): a start-up
    begins before its image has arrived, and runs slower until it has."""

    start_at: Annotated[float, Field(gt=0, le=1)] = Field(
        description="the share of each missing layer's compressed bytes that must have arrived "
                    "before the start-up begins (its start-up files, fetched first); 1: all")
    slowdown: Annotated[float, Field(ge=1)] = Field(
        description="how many times longer a create, boot or app-start phase takes when it "
                    "begins while the image is still streaming")


class Runtime(Spec):
    """A scenario's container runtime: a built-in's values changed (named as the built-in),
    or a new one that ``extends`` one. Only the keys given change."""

    extends: str | None = None
    description: str | None = None
    extract_rate: Annotated[Bandwidth, Field(gt=0)] | None = Field(
        None, description="extracted bytes per core-second, one layer on one core, no "
                          "antivirus; null: extraction is bound by the disk alone")
    extraction: Literal["sequential", "parallel"] | None = Field(
        None, description="the layers of one image extract one after another or at once")
    concurrent_pulls: Literal["shared", "duplicated"] | None = Field(
        None, description="two requests for one layer on a host share the download and the "
                          "extraction, or share the download and each extracts a copy")
    antivirus_excluded: bool | None = None
    lazy_pull: LazyPull | None = Field(
        None, description="{start_at, slowdown}, both given: start-ups begin before the image "
                          "has arrived (a what-if on Windows); null: none")


class Antivirus(Spec):
    """A host antivirus setting's cost to the extraction it scans (a built-in's value
    changed: ``antivirus: {defender: {factor: 2.0}}``)."""

    factor: Annotated[float, Field(ge=1.0)] = Field(
        description="extraction time under real-time scanning over extraction time without")


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

    policy: Literal["never", "always"] = "never"
    delay: Duration = 0.0


class Workload(Spec):
    """A stream of identical instance requests."""

    name: str
    image: str
    isolation: str = "process"
    tenant: str = "default"
    cpu: Annotated[float, Field(gt=0)] = Field(
        1.0, description="vCPU; a trace's own values replace it where it has them")
    memory: Size = Field(description="the memory limit; a trace's own values replace it where "
                                     "it has them")
    app_start: Distribution = ZERO
    arrival: Arrival
    lifetime: Distribution | None = Field(
        None, description="running time before the instance stops; none: runs to the end")
    on_full: Literal["queue", "reject"] = "queue"
    host_groups: list[str] | None = Field(None, description="groups it may run on; all if unset")
    kernel_fault_rate: Rate = Field(
        0.0, description="kernel faults one instance triggers per running second (write "
                         "0.0005/h); under a profile that shares the host kernel the host "
                         "crashes, otherwise only the instance's own kernel")
    restart: Restart = Field(default_factory=lambda: Restart())
    work: Duration | None = Field(
        None, description="a batch job: CPU-seconds of work per vCPU-second at full speed; "
                          "it stops when done (instead of a lifetime)")
    noise: str = Field("none", description="noise class it inflicts on its neighbours while "
                                           "running (a key of the profiles' interference)")

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
    """Committed memory = round_up(memory + add, round_to): Hyper-V's utility-VM rule."""

    add: Size = 0.0
    round_to: Size = 0.0


class Nested(Spec):
    """What running inside a container-host VM costs an instance of a profile: start-up
    phases take ``boot_factor`` times as long, and batch work ``cpu_factor`` times as long.
    (Whether Hyper-V is available inside the VM is the host group's
    ``nested_virtualization``.)"""

    boot_factor: Annotated[float, Field(ge=1.0)] = 1.0
    cpu_factor: Annotated[float, Field(ge=1.0)] = 1.0


class Profile(Spec):
    """An isolation mode as data. Every field is optional here so that a scenario can override
    a few fields of a built-in profile, or ``extends`` one to make a new profile."""

    extends: str | None = None
    description: str | None = None
    create: Distribution | None = None
    boot: Distribution | None = None
    stop: Distribution | None = None
    memory_overhead: Size | None = Field(None, description="resident memory per instance")
    commit: Commit | None = None
    cpu_overhead: Annotated[float, Field(ge=0)] | None = Field(
        None, description="extra vCPU per vCPU of the workload")
    disk_per_instance: Size | None = None
    disk_image: Literal["none", "copy", "differencing"] | None = Field(
        None, description="copy: the image is copied to a private disk at disk_rate")
    cpu_bound_fraction: Fraction | None = None
    shares_host_kernel: bool | None = None
    requires_hyperv: bool | None = None
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
    new_version: Literal["layer", "template"] | None = Field(
        None, description="what a pipeline's new image version is for this profile: a layer "
                          "on the old base (containers) or a whole new template (VMs)")


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
    new_version: Literal["layer", "template"] = "layer"


# --- pipelines ------------------------------------------------------------------------------

class Trigger(Spec):
    """When a pipeline runs: once ``at``, ``every`` interval from ``at``, or on each commit of
    a Poisson stream of ``commits`` per second. Runs of one pipeline queue, one at a time."""

    at: Duration = 0.0
    every: Annotated[Duration, Field(gt=0)] | None = None
    commits: Annotated[Rate, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Trigger:
        if self.every is not None and self.commits is not None:
            raise ValueError("give every or commits, not both")
        return self


class BuildStep(Spec):
    """Start a container from ``base``, run an install step for ``install``, stop it and
    commit its changes as a new layer of ``layer`` bytes (writing it takes layer / disk_rate
    plus ``commit``); the new image (``base`` + the layer) exists on the build host."""

    base: str
    install: Distribution
    layer: Size
    commit: Duration = 1.0


class TestStep(Spec):
    """A fixed ``duration``, or ``instances`` of the new image started on the build group and
    run for ``run`` each."""

    duration: Duration | None = None
    instances: Annotated[int, Field(ge=1)] | None = None
    run: Duration = 60.0

    @model_validator(mode="after")
    def _one_kind(self) -> TestStep:
        if (self.duration is None) == (self.instances is None):
            raise ValueError("give duration, or instances (and run)")
        return self


Count = Annotated[
    Annotated[int, Field(ge=0)] | Annotated[str, Field(pattern=r"^\s*\d+(\.\d+)?\s*%\s*$")],
    Field(description="a number of instances, or a percentage such as 25% of the old ones")]


class RolloutStep(Spec):
    """Replace ``workload``'s instances with the new image: in batches that start up to
    ``max_surge`` new instances beyond the old count and take up to ``max_unavailable`` old
    ones down before their replacements run (blue-green: all new first, then all old down);
    with ``pre_pull``, the new layers are first pulled to every host the workload may use."""

    workload: str
    strategy: Literal["rolling", "blue-green"] = "rolling"
    max_surge: Count = "25%"
    max_unavailable: Count = 0
    pre_pull: bool = False


class Step(Spec):
    """One pipeline step: exactly one of build, push, test, rollout."""

    build: BuildStep | None = None
    push: dict[str, Any] | None = Field(None, description="{}: upload the new layers the "
                                                          "registry lacks")
    test: TestStep | None = None
    rollout: RolloutStep | None = None

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
    """Commit -> build -> test -> push -> roll out, on ``host_group``'s hosts."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    trigger: Trigger = Field(default_factory=lambda: Trigger())
    host_group: str | None = Field(None, description="where builds and tests run; default "
                                                     "the first group")
    image: str | None = Field(None, description="name of the images built: <image>-v<run>; "
                                                "default the pipeline's name")
    steps: Annotated[list[Step], Field(min_length=1)]


# --- the scenario ---------------------------------------------------------------------------

class PlanSpec(Spec):
    """What ``python -m sim plan`` sizes and against which SLOs (the CLI may override)."""

    group: str | None = Field(None, description="host group to size; default the first")
    slo: list[str] = Field([], description="e.g. 'startup_p99<=30s', 'blocking<=1%'")
    headroom: Annotated[int, Field(ge=0)] = Field(0, description="hosts that may fail (N+K)")
    replications: Annotated[int, Field(ge=1)] = 3
    max_hosts: Annotated[int, Field(ge=1)] = 10_000


PlacementName = Literal["first-fit", "best-fit", "spread", "random", "image-locality"]


KernelSharing = Literal["any", "same-tenant"]


class Compare(Spec):
    """One variant per value (several keys: one per combination); same arrivals in each."""

    isolation: list[str] | None = Field(None, description="sets every workload's isolation")
    placement: list[PlacementName] | None = None
    kernel_sharing: list[KernelSharing] | None = None


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

    mtbf: Annotated[Duration, Field(gt=0)]
    repair: Distribution = Field(default_factory=lambda: Constant(value=4 * 3600.0))


class KernelFaults(Spec):
    """Host kernel crashes (bugchecks): exponential time between them (none without
    ``mtbf``), then the host is down for ``reboot``; ``reboot`` also applies after a crash an
    instance triggers in a shared kernel."""

    mtbf: Annotated[Duration, Field(gt=0)] | None = None
    reboot: Distribution = Field(default_factory=lambda: Constant(value=300.0))


class Faults(Spec):
    """Failures injected into the run."""

    host_hardware: HardwareFaults | None = None
    host_kernel: KernelFaults = Field(default_factory=lambda: KernelFaults())


# --- uncertainty ----------------------------------------------------------------------------

Quantity = Annotated[str | int | float, Field(union_mode="left_to_right")]


class UncertainRange(Spec):
    """What is known of one uncertain input: its low and high values (written as the key at
    its path is, units included) and how it is spread between them: ``uniform`` (also the
    meaning of a bare ``[low, high]``), ``triangular`` (most likely at ``mode``) or
    ``loguniform`` (uniform in the logarithm: for a value known to a factor)."""

    dist: Literal["uniform", "triangular", "loguniform"] = "uniform"
    low: Quantity
    high: Quantity
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


def _range_form(value: Any) -> str:
    """Which form an uncertainty entry takes: the word ``fixed``, or a range."""
    return "fixed" if isinstance(value, str) else "range"


# An uncertainty entry: a range, or 'fixed'; the form is chosen by the value's shape, so a bad
# range gets only its own form's error
Uncertainty = dict[str, Annotated[Annotated[UncertainRange, Tag("range")]
                                  | Annotated[Literal["fixed"], Tag("fixed")],
                                  Discriminator(_range_form)]]


MAX_SEED = 2**63 - 1  # seeds are stored as 64-bit integers in the result tables


class Scenario(Spec):
    """A whole scenario file."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=100)] = \
        Field(description="names the results folder: letters, digits, '.', '_' and '-', at "
                          "most 100 characters")
    description: str = ""
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] = 0
    duration: Annotated[Duration, Field(gt=0)]
    warmup: Duration = 0.0
    timeseries_interval: Annotated[Duration, Field(gt=0)] | None = Field(
        None, description="sampling interval of timeseries.csv; default duration/240")
    hosts: Annotated[list[HostGroup], Field(min_length=1)]
    registry: Registry
    images: Annotated[list[Image], Field(min_length=1)]
    workloads: Annotated[list[Workload], Field(min_length=1)]
    placement: PlacementName = "best-fit"
    compare: Compare | None = None
    sweep: dict[str, Annotated[list[Any], Field(min_length=1)]] | None = Field(
        None, description="dotted path -> values, e.g. 'hosts[0].count': [10, 20, 40]; "
                          "every combination is run")
    replications: Annotated[int, Field(ge=1)] = Field(
        1, description="independent runs per variant and sweep point, seeds derived from seed")
    profiles: dict[str, Profile] = {}
    plan: PlanSpec | None = None
    faults: Faults = Field(default_factory=lambda: Faults())
    kernel_sharing: KernelSharing = Field(
        "any", description="same-tenant: instances of different tenants never share a host "
                           "kernel (process isolation); other profiles have their own kernel")
    pipelines: list[Pipeline] = []
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

    @model_validator(mode="before")
    @classmethod
    def _catalog_images(cls, data: Any) -> Any:
        """The catalog's base images the scenario names and does not define, as images."""
        return catalog.with_catalog(data) if isinstance(data, dict) else data

    @property
    def sample_interval(self) -> float:
        """Seconds between two samples of the host groups: ``timeseries_interval``, else a
        240th of the duration."""
        return self.timeseries_interval or self.duration / 240
