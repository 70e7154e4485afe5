"""What one instance asks of a host: pure arithmetic from a workload, its profile and images.

Owns: the layer chain of an image, the committed-memory rule, vCPU, disk and partition demand,
and whether a host group could ever take an instance. Shared by validation, the model and
capacity reports, so the three can never disagree. Must not: know about SimPy or time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sim.spec import builds
from sim.spec.config import HostGroup, Image, LayerSize, ResolvedProfile, Workload
from sim.spec.units import format_size


@dataclass(frozen=True)
class Layer:
    """A layer, identified by the image that introduced it and its position there: ``size``
    bytes on disk (extracted), ``download`` bytes in the registry (compressed)."""

    key: str
    size: float
    download: float = -1.0  # not given: the size (nothing to compress)

    def __post_init__(self) -> None:
        if self.download < 0:
            object.__setattr__(self, "download", self.size)


def layer_chain(images: dict[str, Image], name: str) -> list[Layer]:
    """The layers of image ``name``, base first. Assumes bases exist and have no cycle."""
    chain: list[Layer] = []
    image: Image | None = images[name]
    stack = []
    while image is not None:
        stack.append(image)
        image = images[image.base] if image.base else None
    for img in reversed(stack):
        for i, layer in enumerate(img.layers):
            key = f"{img.name}#{i}"
            if isinstance(layer, LayerSize):
                chain.append(Layer(key, layer.size, layer.download))
            else:
                chain.append(Layer(key, layer, layer))
    return chain


def os_build(images: dict[str, Image], name: str) -> str | None:
    """The image's OS build, inherited from the nearest base that states one."""
    image: Image | None = images[name]
    while image is not None:
        if image.os_build:
            return image.os_build
        image = images[image.base] if image.base else None
    return None


def committed_memory(memory: float, profile: ResolvedProfile) -> float:
    """Memory admission control charges for one instance (bytes).

    ``round_up(memory + commit.add, commit.round_to) + memory_overhead``; for Hyper-V isolation
    1 GiB becomes round_up(1.25 GiB, 512 MiB) = 1.5 GiB, plus the worker process.
    """
    need = memory + profile.commit.add
    if profile.commit.round_to > 0:
        need = math.ceil(need / profile.commit.round_to - 1e-9) * profile.commit.round_to
    return need + profile.memory_overhead


@dataclass(frozen=True)
class Demand:
    """Resources one instance holds on its host from placement to removal."""

    memory: float
    vcpu: float
    disk_private: float
    partition: int
    image_bytes: float
    requires_hyperv: bool
    os_build: str | None  # the image's build, where the profile's rule reads it
    build_rule: str = "any"  # which image builds a host runs (``sim.spec.builds``)


def demand(workload: Workload, profile: ResolvedProfile, images: dict[str, Image],
           cpu: float | None = None, memory: float | None = None) -> Demand:
    """The demand of one instance of ``workload`` run under ``profile``; ``cpu`` and
    ``memory`` replace the workload's own (a trace instance's size)."""
    return instance_demand(workload.image, workload.cpu if cpu is None else cpu,
                           workload.memory if memory is None else memory, profile, images)


def instance_demand(image: str, cpu: float, memory: float, profile: ResolvedProfile,
                    images: dict[str, Image]) -> Demand:
    """The demand of one instance of ``image`` with ``cpu`` vCPU and a ``memory`` limit under
    ``profile`` (a workload's, or a commands script's container)."""
    image_bytes = sum(layer.size for layer in layer_chain(images, image))
    private = profile.disk_per_instance + (image_bytes if profile.disk_image == "copy" else 0.0)
    return Demand(
        memory=committed_memory(memory, profile),
        vcpu=cpu * (1.0 + profile.cpu_overhead),
        disk_private=private,
        partition=1 if profile.partition else 0,
        image_bytes=image_bytes,
        requires_hyperv=profile.requires_hyperv,
        os_build=os_build(images, image) if profile.build_rule != "any" else None,
        build_rule=profile.build_rule,
    )


def new_version(images: dict[str, Image], name: str, base: str, layer: float,
                template: bool) -> Image:
    """Image ``name`` made by committing ``layer`` bytes of changes on top of ``base``: one
    new layer on the base's, or, where versions are templates (VMs), a whole new template of
    the base's bytes and the changes, with the base's OS build."""
    if template:
        size = sum(part.size for part in layer_chain(images, base)) + layer
        return Image(name=name, layers=[size], os_build=os_build(images, base))
    return Image(name=name, base=base, layers=[layer])


def carriers(groups: list[HostGroup]) -> set[str]:
    """Groups whose hosts carry container-host VMs (so run no instances themselves)."""
    return {g.virtual.physical_group for g in groups if g.virtual is not None}


def eligible_groups(groups: list[HostGroup], workload: Workload,
                    profile: ResolvedProfile) -> list[HostGroup]:
    """The host groups an instance of ``workload`` under ``profile`` may be placed on: the
    workload's and the profile's ``host_groups`` (all when unset), minus groups that carry
    container-host VMs."""
    skip = carriers(groups)
    names = [g.group for g in groups]
    for limit in (workload.host_groups, profile.host_groups):
        if limit is not None:
            names = [n for n in names if n in limit]
    return [g for g in groups if g.group in names and g.group not in skip]


def later_builds(scenario_maintenance: list[Any], group: str) -> list[str]:
    """The builds maintenance campaigns upgrade ``group`` to, in the order given."""
    return [m.os_build for m in scenario_maintenance
            if m.group == group and m.os_build is not None]


def ever_runs(host: HostGroup, need: Demand, later: list[str]) -> bool:
    """Whether an empty host of ``host``'s group could take the instance, on its build or on
    one of the ``later`` builds a campaign upgrades it to."""
    return any(not why_not(host if build == host.os_build
                           else host.model_copy(update={"os_build": build}), need)
               for build in (host.os_build, *later))


def why_not(host: HostGroup, need: Demand) -> list[str]:
    """Reasons an empty host of ``host``'s group could never take the instance (empty: it can)."""
    reasons = []
    if need.requires_hyperv and not host.hyperv:
        reasons.append("needs Hyper-V (hyperv: false)")
    elif need.requires_hyperv and host.virtual is not None and not host.nested_virtualization:
        reasons.append("needs Hyper-V inside a VM (nested_virtualization: false)")
    if not builds.runs(need.build_rule, need.os_build, host.os_build):
        assert need.os_build is not None
        reasons.append(builds.why(need.build_rule, need.os_build, host.os_build))
    usable = host.memory - host.reserved_memory
    if need.memory > usable:
        reasons.append(f"committed memory {format_size(need.memory)} > "
                       f"{format_size(usable)} after the reserve")
    if need.vcpu > host.cpu_cores * host.cpu_overcommit + 1e-9:
        reasons.append(f"{need.vcpu:g} vCPU > {host.cpu_cores} cores x "
                       f"{host.cpu_overcommit:g} overcommit")
    if need.image_bytes + need.disk_private > host.disk:
        reasons.append(f"disk {format_size(need.image_bytes + need.disk_private)} > "
                       f"{format_size(host.disk)}")
    if need.partition > host.max_partitions:
        reasons.append("no Hyper-V partition allowed")
    return reasons
