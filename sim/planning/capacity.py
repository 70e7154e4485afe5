"""How many instances fit on a host, which resource binds first, and how mixed workloads pack.

Owns: the analytic per-host density (from the same ``sim.spec.demand`` arithmetic placement uses),
its check by simulation (fill one host until the first rejection), and multi-resource bin
packing of a workload mix with its lower bound. Must not: print or write files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.edge import traces
from sim.errors import UserError
from sim.experiment.expand import RunSpec, apply
from sim.experiment.rng import generator
from sim.experiment.rng import mean as dist_mean
from sim.spec import builds
from sim.spec.config import (
    BurstArrivals,
    Faults,
    HostGroup,
    Image,
    ReplicaArrivals,
    ResolvedProfile,
    Scenario,
    TraceArrivals,
    Workload,
)
from sim.spec.demand import Demand, demand, eligible_groups, layer_chain
from sim.spec.units import format_size

RESOURCES = ("memory", "cpu", "disk", "partitions")


def resources(host: HostGroup) -> tuple[str, ...]:
    """What may bind on a host of ``host``: the four above, and ``instances`` where the group
    has ``max_instances``."""
    return (*RESOURCES, "instances") if host.max_instances is not None else RESOURCES


@dataclass(frozen=True)
class Fit:
    """Instances of one workload that fit on an empty host, and what stops the next one."""

    per_host: int
    binding: str
    limits: dict[str, float]  # per resource: how many it alone would allow (inf: no limit)


def _layer_bytes(images: dict[str, Image], names: list[str]) -> float:
    seen: dict[str, float] = {}
    for name in names:
        for layer in layer_chain(images, name):
            seen[layer.key] = layer.size
    return sum(seen.values())


def capacities(host: HostGroup, images: dict[str, Image], image_names: list[str]
               ) -> dict[str, float]:
    """What a host offers per resource once the layers of ``image_names`` (and its preloaded
    images) are on its disk."""
    layers = _layer_bytes(images, [*host.preloaded_images, *image_names])
    offered = {"memory": host.memory - host.reserved_memory,
               "cpu": host.cpu_cores * host.cpu_overcommit,
               "disk": host.disk - layers,
               "partitions": float(host.max_partitions)}
    if host.max_instances is not None:
        offered["instances"] = float(host.max_instances)
    return offered


def sizes(need: Demand) -> dict[str, float]:
    """What one instance takes per resource."""
    return {"memory": need.memory, "cpu": need.vcpu, "disk": need.disk_private,
            "partitions": float(need.partition), "instances": 1.0}


def fit(host: HostGroup, workload: Workload, profile: ResolvedProfile,
        images: dict[str, Image]) -> Fit:
    """Instances of ``workload`` under ``profile`` that fit on one empty host of ``host``."""
    need = demand(workload, profile, images)
    cap = capacities(host, images, [workload.image])
    size = sizes(need)
    kinds = resources(host)
    limits = {r: (math.floor(max(cap[r], 0.0) / size[r] + 1e-9) if size[r] > 0 else math.inf)
              for r in kinds}
    if need.requires_hyperv and (not host.hyperv or (
            host.virtual is not None and not host.nested_virtualization)) or (
            not builds.runs(need.build_rule, need.os_build, host.os_build)):
        limits = dict.fromkeys(kinds, 0)
        return Fit(0, "not allowed", limits)
    binding = min(kinds, key=lambda r: limits[r])
    per_host = limits[binding]
    return Fit(int(per_host) if math.isfinite(per_host) else -1, binding, limits)


def simulated_fit(scenario: Scenario, group: HostGroup, workload: Workload, mode: str,
                  profiles: dict[str, ResolvedProfile], ask: int) -> int:
    """Fill one host of ``group`` with a burst of ``ask`` instances of ``workload`` under
    ``mode`` (``on_full: reject``); how many were placed. (The model loads only here: the
    arithmetic above serves the presentation too, which must not load SimPy.)"""
    from sim.run.execute import run

    one = group.model_copy(update={"count": 1, "virtual": None,
                                   "nested_virtualization": False})
    wl = workload.model_copy(update={
        "arrival": BurstArrivals(kind="burst", count=ask, at=0.0), "lifetime": None,
        "on_full": "reject", "host_groups": None, "work": None, "kernel_fault_rate": 0.0})
    trial = scenario.model_copy(update={
        "hosts": [one], "workloads": [wl], "duration": 1.0, "warmup": 0.0,
        "timeseries_interval": 1.0, "placement": "first-fit", "compare": None, "sweep": None,
        "replications": 1, "faults": Faults(), "pipelines": [], "kernel_sharing": "any"})
    trial = apply(trial, {"isolation": mode})
    result = run(RunSpec(mode, (), (), trial, profiles, scenario.seed))
    return int((~result.recorder.table()["rejected"]).sum())


def _replay(workload: Workload, scenario: Scenario) -> tuple[Any, np.ndarray, np.ndarray]:
    """A trace workload's replay (seed of the scenario, first replication) and each instance's
    start and end within ``[0, duration]``: an instance without a trace lifetime lives the
    workload's mean lifetime, or to the end."""
    arrival = workload.arrival
    assert isinstance(arrival, TraceArrivals)
    table = traces.read(arrival)
    replay = traces.replay(table, arrival, workload,
                           generator(scenario.seed, traces.stream_name(table), 0))
    end = scenario.duration
    default = dist_mean(workload.lifetime) if workload.lifetime is not None else math.inf
    life = np.where(np.isnan(replay.lifetime_s), default if not replay.has_lifetime
                    else math.inf, replay.lifetime_s)
    start = np.minimum(replay.arrival_s, end)
    return replay, start, np.minimum(start + life, end)


def _by_size(cpu: list[float], memory: list[float], weight: list[float]
             ) -> list[tuple[float, float, float]]:
    """(vCPU, memory bytes, summed weight) per instance size, the heaviest first."""
    frame: dict[tuple[float, float], float] = {}
    for c, m, w in zip(cpu, memory, weight):
        frame[(c, m)] = frame.get((c, m), 0.0) + w
    return sorted(((c, m, n) for (c, m), n in frame.items()), key=lambda x: -x[2])


def trace_sizes(workload: Workload, scenario: Scenario) -> list[tuple[float, float, float]]:
    """A trace workload's instance sizes with how many of each run at once on average over
    the scenario's duration: (vCPU, memory bytes, mean running), most running first. The
    time average of the replay itself: each instance counts the share of ``[0, duration]``
    it spans."""
    replay, start, end = _replay(workload, scenario)
    share = (end - start) / scenario.duration
    return _by_size(replay.cpu.tolist(), replay.memory_bytes.tolist(), share.tolist())


def trace_peak(workload: Workload, scenario: Scenario, cpu_per_host: float,
               memory_per_host: float) -> list[tuple[float, float, float]]:
    """The instances of a trace workload's replay running at the moment they fill the most
    hosts' worth (each counted by its larger share of a host, vCPU or memory), by size:
    (vCPU, memory bytes, count), most first. A plan's first guess for a trace: its peak, not
    its mean, is what the hosts must hold."""
    replay, start, end = _replay(workload, scenario)
    weight = np.maximum(replay.cpu / max(cpu_per_host, 1e-12),
                        replay.memory_bytes / max(memory_per_host, 1e-12))
    times = np.concatenate([start, end])
    change = np.concatenate([weight, -weight])
    order = np.lexsort((change, times))  # at one moment, ends before starts
    level = np.cumsum(change[order])
    if len(level) == 0:
        return []
    moment = times[order][int(np.argmax(level))]
    alive = (start <= moment) & (end > moment)
    return _by_size(replay.cpu[alive].tolist(), replay.memory_bytes[alive].tolist(),
                    [1.0] * int(alive.sum()))


def representative(workload: Workload, scenario: Scenario) -> tuple[Workload, str]:
    """For a trace workload, the workload with the size most instances run at (for per-host
    density) and that size in words; other workloads unchanged, with no words."""
    if not isinstance(workload.arrival, TraceArrivals):
        return workload, ""
    sizes = trace_sizes(workload, scenario)
    if not sizes:
        raise UserError(f"workload {workload.name!r}: its trace replays no instance here (the "
                        f"sample, {workload.arrival.sample:g}, the window or the classes leave "
                        "none), so there is no size to fill a host with")
    total = sum(n for _, _, n in sizes) or 1.0
    cpu, memory, n = sizes[0]
    words = f"{cpu:g} vCPU, {format_size(memory)} ({n / total:.0%} of the running mean)"
    return workload.model_copy(update={"cpu": cpu, "memory": memory}), words


def expected_concurrent(workload: Workload, duration: float) -> float:
    """How many instances of ``workload`` run at once in steady state: rate x mean lifetime
    (Little's law) for streams, the count for bursts; capped by the arrivals' count. Trace
    workloads differ in size: ``trace_sizes`` gives their mix."""
    arrival = workload.arrival
    if isinstance(arrival, TraceArrivals):
        raise TypeError(f"{workload.name} replays a trace: use trace_sizes")
    if isinstance(arrival, BurstArrivals):
        return float(arrival.count)
    if isinstance(arrival, ReplicaArrivals):  # the replicas the demand asks for, on average
        assert workload.replicas is not None
        return workload.replicas.mean_wanted(duration)
    rate = arrival_rate(workload)
    assert rate is not None
    window = min(duration, arrival.until or math.inf)
    if workload.work is not None:  # a batch job: its stand-alone run time
        life = workload.work / workload.cpu
    else:
        life = dist_mean(workload.lifetime) if workload.lifetime is not None else window
    n = rate * min(life, window)
    return float(min(n, arrival.count)) if arrival.count is not None else n


def arrival_rate(workload: Workload) -> float | None:
    """A stream's requests per second (Poisson's ``rate``; one per ``interval``); None for a
    burst, replicas or a trace, which have no steady rate of their own."""
    arrival = workload.arrival
    if isinstance(arrival, (TraceArrivals, BurstArrivals, ReplicaArrivals)):
        return None
    return arrival.rate if hasattr(arrival, "rate") else 1.0 / arrival.interval  # type: ignore


def start_seconds(workload: Workload, profile: ResolvedProfile) -> float:
    """The least a start-up of ``workload`` under ``profile`` holds its host's start slot:
    create, boot and app start on an idle host (their means), without a pull, a wait for the
    CPU or nesting."""
    return dist_mean(profile.create) + dist_mean(profile.boot) + dist_mean(workload.app_start)


def steady_mix(scenario: Scenario, group: HostGroup, profile: ResolvedProfile,
               images: dict[str, Image], peak: bool = False
               ) -> tuple[list[tuple[str, int, Demand]], list[str]]:
    """The workloads that may run on ``group`` as a steady-state mix under ``profile``:
    (name, instances running at once, demand) each, and the images they need. ``peak``: a
    trace workload's instances running at its peak (``trace_peak``), not on average."""
    workloads = [wl for wl in scenario.workloads
                 if group in eligible_groups(list(scenario.hosts), wl, profile)]
    mix: list[tuple[str, int, Demand]] = []
    cap = capacities(group, images, [wl.image for wl in workloads])
    for wl in workloads:
        if isinstance(wl.arrival, TraceArrivals):  # one entry per instance size
            sizes_of = (trace_peak(wl, scenario, cap["cpu"], cap["memory"]) if peak
                        else trace_sizes(wl, scenario))
            mix.extend((f"{wl.name} {cpu:g}vCPU/{format_size(memory)}", math.ceil(n - 1e-9),
                        demand(wl, profile, images, cpu=cpu, memory=memory))
                       for cpu, memory, n in sizes_of if n > 0)
        else:
            mix.append((wl.name, math.ceil(expected_concurrent(wl, scenario.duration) - 1e-9),
                        demand(wl, profile, images)))
    return mix, [wl.image for wl in workloads]


@dataclass
class Packing:
    """A mix packed onto hosts of one group: hosts found (first-fit decreasing) and the lower
    bound max over resources of ceil(total size / host capacity)."""

    hosts: int
    lower_bound: int
    bound_by: str
    counts: dict[str, int]
    per_host: list[dict[str, int]]


def lower_bound(host: HostGroup, mix: list[tuple[str, int, Demand]], images: dict[str, Image],
                image_names: list[str]) -> tuple[int, str]:
    """The fewest hosts of ``host`` that ``mix`` (name, count, demand) could fit on: the
    max over resources of ceil(total size / a host's capacity), and that resource.

    Raises:
        ValueError: an instance of the mix does not fit on an empty host (as ``pack``).
    """
    usable = _usable(host, images, image_names)
    totals = dict.fromkeys(usable, 0.0)
    for name, count, need in mix:
        size = sizes(need)
        if count > 0 and any(size[r] > usable[r] + 1e-9 for r in usable):
            raise ValueError(f"{name} does not fit on an empty {host.group} host")
        for r in usable:
            totals[r] += size[r] * count
    bounds = {r: (math.ceil(totals[r] / usable[r] - 1e-9) if usable[r] > 0 else
                  (0 if totals[r] == 0 else math.inf)) for r in usable}
    bound_by = max(usable, key=lambda r: bounds[r])
    return int(bounds[bound_by]), bound_by


def _usable(host: HostGroup, images: dict[str, Image], image_names: list[str]
            ) -> dict[str, float]:
    """What one host of ``host`` offers instances, per resource (none below 0)."""
    cap = capacities(host, images, image_names)
    return {r: max(cap[r], 0.0) for r in resources(host)}


def pack(host: HostGroup, mix: list[tuple[str, int, Demand]], images: dict[str, Image],
         image_names: list[str]) -> Packing:
    """Pack ``mix`` (name, count, demand) onto as few hosts of ``host`` as first-fit
    decreasing (by largest normalised size) finds (one item per instance: for the
    ``lower_bound`` alone, call it)."""
    usable = _usable(host, images, image_names)
    kinds = list(usable)
    items: list[tuple[float, str, dict[str, float]]] = []
    for name, count, need in mix:
        size = sizes(need)
        weight = max((size[r] / usable[r]) if usable[r] > 0 else math.inf for r in kinds)
        items.extend((weight, name, size) for _ in range(count))
    items.sort(key=lambda item: -item[0])
    free: list[dict[str, float]] = []
    placed: list[dict[str, int]] = []
    for _, name, size in items:
        for i, room in enumerate(free):  # noqa: B007 - the host found is used after the loop
            if all(size[r] <= room[r] + 1e-9 for r in kinds):
                break
        else:
            if any(size[r] > usable[r] + 1e-9 for r in kinds):
                raise ValueError(f"{name} does not fit on an empty {host.group} host")
            free.append(dict(usable))
            placed.append({})
            i = len(free) - 1
        for r in kinds:
            free[i][r] -= size[r]
        placed[i][name] = placed[i].get(name, 0) + 1
    bound, bound_by = lower_bound(host, mix, images, image_names)
    return Packing(len(free), bound, bound_by,
                   {name: count for name, count, _ in mix}, placed)


# the most instances per host the density check fills a host with (a fill of 100,000 takes
# about ten seconds; an instance asking next to nothing would fit billions, which no
# simulation counts one by one): past it the analytic count stands alone, without "simulated"
CHECKED_AT_MOST = 100_000


def density_table(scenario: Scenario, profiles: dict[str, ResolvedProfile], modes: list[str],
                  check: bool = True) -> dict[str, Any]:
    """``{group: {workload: {mode: {"per_host", "binding", "limits", "simulated"}}}}``
    (``simulated``: the check's count, where a host holds at most ``CHECKED_AT_MOST``)."""
    images = {img.name: img for img in scenario.images}
    table: dict[str, Any] = {}
    for group in scenario.hosts:
        rows: dict[str, Any] = {}
        for original in scenario.workloads:
            wl, size = representative(original, scenario)
            per_mode: dict[str, Any] = {}
            for mode in modes:
                eligible = eligible_groups(list(scenario.hosts), wl, profiles[mode])
                if group not in eligible:  # host_groups of the workload or profile exclude it
                    per_mode[mode] = {"per_host": 0, "binding": "not used", "limits": {},
                                      "simulated": 0}
                    continue
                f = fit(group, wl, profiles[mode], images)
                entry: dict[str, Any] = {
                    "per_host": f.per_host, "binding": f.binding,
                    "limits": {r: (v if math.isfinite(v) else None) for r, v in f.limits.items()}}
                if size:
                    entry["trace_size"] = size
                if check and f.binding == "not allowed":
                    entry["simulated"] = 0
                elif check and 0 <= f.per_host <= CHECKED_AT_MOST:
                    entry["simulated"] = simulated_fit(scenario, group, wl, mode, profiles,
                                                       f.per_host + 5)
                per_mode[mode] = entry
            if any(e["binding"] != "not used" for e in per_mode.values()):
                rows[wl.name] = per_mode
        if rows:
            table[group.group] = rows
    return table
