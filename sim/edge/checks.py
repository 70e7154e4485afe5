"""Whole-scenario checks that a schema cannot express: names that must exist, cycles, and
workloads that no host could ever run.

Owns: cross-reference and feasibility rules. Runs on whatever parts of a scenario validated on
their own, so that one pass reports every problem even when other sections are broken.
Must not: read files or format positions (``sim.edge.loader`` does).
"""

from __future__ import annotations

import contextlib
import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ValidationError

from sim.edge.budget import arrivals
from sim.edge.campaigns import check_maintenance
from sim.edge.commands import check_commands
from sim.spec import catalog
from sim.spec.config import (
    BuildStep,
    Compare,
    HostGroup,
    Image,
    Pipeline,
    Profile,
    ResolvedProfile,
    RolloutStep,
    Runtime,
    Scenario,
    TraceArrivals,
    Workload,
)
from sim.spec.demand import (
    carriers,
    demand,
    eligible_groups,
    ever_runs,
    later_builds,
    layer_chain,
    why_not,
)
from sim.spec.profiles import resolve_profiles
from sim.spec.runtimes import resolve_runtimes
from sim.spec.units import UnitError, format_size, parse_duration

if TYPE_CHECKING:  # the trace readers (and pandas) load only for a trace workload
    from sim.edge.traces import TraceTable

Path = tuple[Any, ...]


def _items(data: dict[str, Any], key: str, model: type[BaseModel]) -> list[tuple[int, Any]]:
    """The entries of list ``key`` that validate on their own, with their indexes."""
    out = []
    for i, item in enumerate(_list(data, key)):
        with contextlib.suppress(ValidationError):
            out.append((i, model.model_validate(item)))
    return out


def _list(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    return value if isinstance(value, list) else []


def _hint(name: str, known: list[str]) -> str:
    near = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f"; did you mean {near[0]!r}?" if near else f"; known: {', '.join(sorted(known))}"


def _image_hint(name: str, defined: list[str]) -> str:
    """``_hint`` among the scenario's images and the catalog's, and the catalog's names for a
    name written as a catalog one (``family:build``)."""
    known = defined + [n for n in catalog.names() if n not in defined]
    scores = {n: difflib.SequenceMatcher(None, name, n).ratio() for n in known}
    best = max(scores.values(), default=0.0)
    if best < 0.6:
        return f"; known: {', '.join(sorted(known))}"
    near = [n for n in known if scores[n] == best]  # ties: every one of them
    hint = "; did you mean " + " or ".join(repr(n) for n in near) + "?"
    if ":" in name:
        hint += f" (the catalog: {', '.join(catalog.names())})"
    return hint


def _trace_fit(wl: Workload, table: TraceTable, modes: list[str],
               profiles: dict[str, ResolvedProfile], images: dict[str, Image],
               allowed: list[HostGroup]) -> list[str]:
    """For a trace workload: per mode, how many of the instances it replays no allowed host
    could ever take (each distinct vCPU and memory size checked once), with the largest."""
    assert isinstance(wl.arrival, TraceArrivals)
    from sim.edge.traces import select  # here: only a scenario that replays a trace

    chosen = select(table, wl.arrival, wl)
    if not len(chosen.index):
        return [f"the trace {table.files[0]} has no instance in the chosen window and classes"]
    sizes, counts = np.unique(np.stack([chosen.cpu, chosen.memory_bytes], axis=1), axis=0,
                              return_counts=True)
    out = []
    for mode in modes:
        if mode not in profiles:
            continue
        misfits, reasons = 0, {}
        for (cpu, memory), count in zip(sizes, counts):
            need = demand(wl, profiles[mode], images, cpu=float(cpu), memory=float(memory))
            why = {h.group: why_not(h, need) for h in allowed}
            if allowed and all(why.values()):
                misfits += int(count)
                reasons = why  # sizes ascend: the last misfit has the most vCPU
                largest = (float(cpu), float(memory))
        if misfits:
            detail = "; ".join(f"{g}: {', '.join(r)}" for g, r in reasons.items())
            out.append(f"{misfits:,} of {len(chosen.index):,} trace instances can never run "
                       f"under {mode} isolation; the largest, {largest[0]:g} vCPU and "
                       f"{format_size(largest[1])}: {detail} (use larger hosts, cpu_scale or "
                       "memory_scale, or classes: to leave them out)")
    return out


@dataclass(frozen=True)
class _Parts:
    """What the checks read: the raw data and the entries that validated on their own."""

    data: dict[str, Any]
    scenario: Scenario | None
    tables: dict[str, TraceTable]
    hosts: list[tuple[int, HostGroup]]
    images: list[tuple[int, Image]]
    workloads: list[tuple[int, Workload]]
    by_name: dict[str, Image]
    broken_images: set[str]
    good_images: set[str]
    profiles: dict[str, ResolvedProfile]
    raw_profiles: Any
    known_profiles: list[str]
    compared: list[str] | None

    @property
    def image_names(self) -> list[str]:
        return list(self.by_name)

    @property
    def groups(self) -> dict[str, HostGroup]:
        return {h.group: h for _, h in self.hosts}


def check_scenario(data: dict[str, Any], scenario: Scenario | None,
                   tables: dict[str, TraceTable] | None = None
                   ) -> tuple[list[tuple[Path, str]], dict[str, ResolvedProfile]]:
    """Problems as ``(path, message)``, and the resolved profiles. ``tables`` are the traces
    the loader read, by digest: trace workloads are checked instance size by size. The catalog
    images the scenario names are added to its images first, as ``Scenario`` adds them."""
    data = catalog.with_catalog(data)
    hosts = _items(data, "hosts", HostGroup)
    images = _items(data, "images", Image)
    workloads = _items(data, "workloads", Workload)
    by_name = {img.name: img for _, img in images}
    broken_images: set[str] = {img["name"] for img in _list(data, "images")
                     if isinstance(img, dict) and isinstance(img.get("name"), str)} - set(by_name)
    image_problems, good_images = _check_images(images, by_name)
    profile_problems, profiles, known_profiles = _resolve(data)
    compare_problems, compared = _check_compare(data, known_profiles)
    parts = _Parts(data, scenario, tables or {}, hosts, images, workloads, by_name,
                   broken_images, good_images, profiles, data.get("profiles"), known_profiles,
                   compared)
    problems = [
        *_check_duplicates(parts),
        *image_problems,
        *_check_timing(data),
        *_check_hosts(parts),
        *_check_runtimes(parts),
        *profile_problems,
        *compare_problems,
        *_check_profile_groups(parts),
        *_check_noise(parts),
        *_check_workload_refs(parts),
        *_check_feasibility(parts),
        *_check_arrivals(parts),
        *_check_energy(parts),
        *_check_expander(parts),
        *_check_pipelines(parts),
        *check_maintenance(data, hosts, workloads, _duration(data)),
        *_check_plan(parts),
        *_check_something_runs(parts),
        *_check_commands(parts),
    ]
    return problems, profiles


def _check_something_runs(parts: _Parts) -> list[tuple[Path, str]]:
    """Workloads, or a commands script (the schema cannot say "one of the two")."""
    if "workloads" not in parts.data and "commands" not in parts.data:
        return [(("workloads",), "missing required key 'workloads' (the streams of requests; "
                                 "only a commands: script may stand without them)")]
    return []


def _check_commands(parts: _Parts) -> list[tuple[Path, str]]:
    """The commands script, step by step (``sim.edge.commands``)."""
    scenario = parts.scenario
    faults = scenario is not None and (
        scenario.faults.host_hardware is not None or scenario.faults.host_kernel.mtbf is not None
        or any(wl.kernel_fault_rate > 0 for wl in scenario.workloads))
    built = [f"{pipe.get('image') or pipe.get('name')}-v"
             for pipe in _list(parts.data, "pipelines") if isinstance(pipe, dict)]
    return check_commands(parts.data, [h for _, h in parts.hosts], parts.by_name,
                          parts.profiles, parts.compared, faults, built,
                          {wl.image for _, wl in parts.workloads})


def _check_duplicates(parts: _Parts) -> list[tuple[Path, str]]:
    """Host groups, images and workloads whose name an earlier entry has."""
    problems: list[tuple[Path, str]] = []
    sections: tuple[tuple[str, list[tuple[int, Any]], str], ...] = (
        ("hosts", list(parts.hosts), "group"), ("images", list(parts.images), "name"),
        ("workloads", list(parts.workloads), "name"))
    for key, entries, attr in sections:
        seen: dict[str, int] = {}
        for i, item in entries:
            name = getattr(item, attr)
            if name in seen:
                problems.append(((key, i, attr), (f"duplicate {attr} {name!r} "
                                 f"(first at {key}[{seen[name]}])")))
            seen.setdefault(name, i)
    return problems


def _check_images(images: list[tuple[int, Image]], by_name: dict[str, Image]
                  ) -> tuple[list[tuple[Path, str]], set[str]]:
    """Unknown base images, then cycles in the bases; and the images whose chain of bases
    is whole (known and without a cycle)."""
    problems: list[tuple[Path, str]] = []
    good_images = set(by_name)
    image_names = list(by_name)
    for i, img in images:
        if img.base is not None and img.base not in by_name:
            problems.append((("images", i, "base"), f"unknown base image {img.base!r}"
                             + _image_hint(img.base, image_names)))
            good_images.discard(img.name)
    for i, img in images:
        cycle, whole = _base_chain(img, by_name)
        if cycle is not None:
            problems.append((("images", i, "base"), "cycle in base: " + " -> ".join(cycle)))
        if not whole:
            good_images.discard(img.name)
    return problems, good_images


def _base_chain(img: Image, by_name: dict[str, Image]) -> tuple[list[str] | None, bool]:
    """Follow ``img``'s bases: the cycle met (or None), and whether the chain is whole."""
    seen_chain = [img.name]
    cur = img
    while cur.base is not None and cur.base in by_name:
        if cur.base in seen_chain:
            return seen_chain + [cur.base], False
        seen_chain.append(cur.base)
        cur = by_name[cur.base]
    return None, cur.base is None


def _check_timing(data: dict[str, Any]) -> list[tuple[Path, str]]:
    """The warm-up must end before the run does."""
    try:
        if parse_duration(data.get("warmup", 0)) >= parse_duration(data.get("duration")):
            return [(("warmup",), "must be shorter than duration")]
    except UnitError:
        pass
    return []


def _duration(data: dict[str, Any]) -> float | None:
    """The run's duration, if it reads as one."""
    try:
        return parse_duration(data.get("duration"))
    except UnitError:
        return None


def _check_hosts(parts: _Parts) -> list[tuple[Path, str]]:
    """Reserved memory, container-host VMs inside their physical group, preloaded images."""
    problems: list[tuple[Path, str]] = []
    host_groups = parts.groups
    for i, host in parts.hosts:
        if host.reserved_memory >= host.memory:
            problems.append((("hosts", i, "reserved_memory"), "must be less than memory"))
        scale = host.autoscale
        if scale is None and host.count < 1:
            problems.append((("hosts", i, "count"), "Input should be greater than or equal to "
                             "1 (0 only for a group that scales: give autoscale)"))
        elif scale is not None and not scale.min <= host.count <= scale.max:
            problems.append((("hosts", i, "count"), f"{host.count}, the hosts at the start, "
                             f"must be within autoscale's min ({scale.min}) and max "
                             f"({scale.max})"))
        if host.virtual is not None:
            problems.extend(_check_virtual(i, host, host_groups))
        elif host.nested_virtualization:
            problems.append((("hosts", i, "nested_virtualization"),
                             "applies only to container-host VMs (give virtual:)"))
        for j, name in enumerate(host.preloaded_images):
            if name not in parts.by_name and name not in parts.broken_images:
                problems.append((("hosts", i, "preloaded_images", j), f"unknown image {name!r}"
                                 + _image_hint(name, parts.image_names)))
        for j, name in enumerate(host.pre_pull.images if host.pre_pull else []):
            if name not in parts.by_name and name not in parts.broken_images:
                problems.append((("hosts", i, "pre_pull", "images", j),
                                 f"unknown image {name!r}" + _image_hint(name, parts.image_names)))
    return problems


def _check_expander(parts: _Parts) -> list[tuple[Path, str]]:
    """The cluster autoscaler has one expander: every elastic group names the same."""
    elastic = [(i, h) for i, h in parts.hosts if h.autoscale is not None]
    if not elastic:
        return []
    first = elastic[0][1].autoscale
    assert first is not None
    return [(("hosts", i, "autoscale", "expander"), f"{h.autoscale.expander!r}: the cluster "
             f"autoscaler has one expander, and group {elastic[0][1].group!r} says "
             f"{first.expander!r}")
            for i, h in elastic[1:]
            if h.autoscale is not None and h.autoscale.expander != first.expander]


def _check_energy(parts: _Parts) -> list[tuple[Path, str]]:
    """An energy price or carbon intensity needs a host group's power model to apply to."""
    scenario = parts.scenario
    if scenario is None or scenario.energy is None \
            or any(g.power is not None for g in scenario.hosts):
        return []
    return [(("energy", key), f"{key} applies to the hosts' energy: give a host group a "
             "power model (power: {model: linear, idle: 55W, max: 469W})")
            for key in ("price", "carbon_intensity")
            if getattr(scenario.energy, key) is not None]


def _check_runtimes(parts: _Parts) -> list[tuple[Path, str]]:
    """The scenario's runtimes resolve over the built-ins, and every host group's runtime is
    one of them."""
    overrides: dict[str, Runtime] = {}
    raw = parts.data.get("runtimes")
    if isinstance(raw, dict):
        for name, body in raw.items():
            with contextlib.suppress(ValidationError):
                overrides[name] = Runtime.model_validate(body)
    runtimes, runtime_problems = resolve_runtimes(overrides)
    problems: list[tuple[Path, str]] = [
        (("runtimes", p.name, "extends") if overrides[p.name].extends else ("runtimes", p.name),
         str(p)) for p in runtime_problems]
    known = set(runtimes) | (set(raw) if isinstance(raw, dict) else set())
    for i, host in parts.hosts:
        if host.runtime is not None and host.runtime not in known:
            problems.append((("hosts", i, "runtime"), f"unknown runtime {host.runtime!r}"
                             + _hint(host.runtime, sorted(known))))
    return problems


def _check_virtual(i: int, host: HostGroup, host_groups: dict[str, HostGroup]
                   ) -> list[tuple[Path, str]]:
    """A group of container-host VMs: its physical group exists and holds them."""
    assert host.virtual is not None
    where = ("hosts", i, "virtual", "physical_group")
    physical = host_groups.get(host.virtual.physical_group)
    if physical is None:
        return [(where, f"unknown host group {host.virtual.physical_group!r}"
                 + _hint(host.virtual.physical_group, list(host_groups)))]
    if physical.virtual is not None or physical.group == host.group:
        return [(where, "must be a group of physical hosts")]
    problems: list[tuple[Path, str]] = []
    if physical.autoscale is not None:
        problems.append((where, f"{physical.group!r} scales (autoscale): a group that carries "
                         "container-host VMs has a fixed count"))
    for key in ("power", "licensing", "embodied"):  # the physical hosts' (price may be VMs')
        if getattr(host, key) not in (None, "none"):
            problems.append((("hosts", i, key), f"{key} belongs to the physical hosts the "
                             f"container-host VMs run in: set it on group {physical.group!r}"))
    room = physical.count * host.virtual.per_physical
    if host.count > room:
        problems.append((("hosts", i, "count"), f"{host.count} container-host VMs "
                         f"do not fit in {physical.count} x "
                         f"{host.virtual.per_physical} (physical count x "
                         "per_physical)"))
    inside = host.virtual.per_physical * host.memory
    usable = physical.memory - physical.reserved_memory
    if inside > usable + 1e-6:
        problems.append((("hosts", i, "memory"), f"{host.virtual.per_physical} VMs "
                         f"x {format_size(host.memory)} > "
                         f"{format_size(usable)} of {physical.group!r}"))
    if host.virtual.per_physical * host.cpu_cores > physical.cpu_cores * \
            physical.cpu_overcommit:
        problems.append((("hosts", i, "cpu_cores"), f"{host.virtual.per_physical} "
                         f"VMs x {host.cpu_cores} vCPU > {physical.cpu_cores} "
                         f"cores x {physical.cpu_overcommit:g} of "
                         f"{physical.group!r}"))
    return problems


def _resolve(data: dict[str, Any]
             ) -> tuple[list[tuple[Path, str]], dict[str, ResolvedProfile], list[str]]:
    """The profiles' problems, the resolved profiles, and every profile name a reference may
    use (the resolved ones and those given but broken)."""
    overrides: dict[str, Profile] = {}
    raw_profiles = data.get("profiles")
    if isinstance(raw_profiles, dict):
        for name, body in raw_profiles.items():
            with contextlib.suppress(ValidationError):
                overrides[name] = Profile.model_validate(body)
    profiles, profile_problems = resolve_profiles(overrides)
    problems: list[tuple[Path, str]] = [(p.path, str(p)) for p in profile_problems]
    broken_profiles = set(raw_profiles or {}) - set(profiles) if isinstance(raw_profiles, dict) \
        else set()
    return problems, profiles, sorted(set(profiles) | broken_profiles)


def _check_compare(data: dict[str, Any], known_profiles: list[str]
                   ) -> tuple[list[tuple[Path, str]], list[str] | None]:
    """Unknown compared profiles and values repeated on an axis; and the compared profiles
    (None when the scenario compares none or ``compare`` does not validate)."""
    problems: list[tuple[Path, str]] = []
    compared: list[str] | None = None
    try:
        cmp = Compare.model_validate(data["compare"]) if isinstance(data.get("compare"), dict) \
            else None
        compared = cmp.isolation if cmp else None
    except ValidationError:
        pass
    for j, name in enumerate(compared or []):
        if name not in known_profiles:
            problems.append((("compare", "isolation", j), f"unknown isolation profile {name!r}"
                             + _hint(name, known_profiles)))
    raw_compare = data.get("compare")
    for axis, values in (raw_compare.items() if isinstance(raw_compare, dict) else ()):
        first: dict[str, int] = {}
        for j, value in enumerate(values if isinstance(values, list) else []):
            if not isinstance(value, str):
                continue
            if value in first:
                problems.append((("compare", axis, j), f"duplicate {value!r} (first at "
                                 f"compare.{axis}[{first[value]}]): each variant is run once"))
            first.setdefault(value, j)
    return problems, compared


def _check_profile_groups(parts: _Parts) -> list[tuple[Path, str]]:
    """Host groups named by the scenario's own profiles."""
    problems: list[tuple[Path, str]] = []
    groups = parts.groups
    for name, profile in parts.profiles.items():
        for j, g in enumerate(profile.host_groups or []):
            if parts.hosts and g not in groups and name in (parts.raw_profiles or {}):
                problems.append((("profiles", name, "host_groups", j), f"unknown host group "
                                 f"{g!r}" + _hint(g, list(groups))))
    return problems


def _check_noise(parts: _Parts) -> list[tuple[Path, str]]:
    """Workloads' noise classes, which the profiles' interference must know."""
    problems: list[tuple[Path, str]] = []
    noises = sorted({"none"} | {c for p in parts.profiles.values() for c in p.interference})
    for i, raw in enumerate(_list(parts.data, "workloads")):
        noise = raw.get("noise") if isinstance(raw, dict) else None
        if isinstance(noise, str) and noise not in noises:
            problems.append((("workloads", i, "noise"), f"unknown noise class {noise!r}"
                             + _hint(noise, noises) + " (classes are the keys of the "
                             "profiles' interference)"))
    return problems


def _check_workload_refs(parts: _Parts) -> list[tuple[Path, str]]:
    """Each workload's image, isolation profile and host groups exist (read from the raw
    entries, so that a workload broken elsewhere is still checked)."""
    problems: list[tuple[Path, str]] = []
    groups = parts.groups
    for i, raw in enumerate(_list(parts.data, "workloads")):
        if not isinstance(raw, dict):
            continue
        image, isolation = raw.get("image"), raw.get("isolation", "process")
        if isinstance(image, str) and image not in parts.by_name \
                and image not in parts.broken_images:
            problems.append((("workloads", i, "image"), f"unknown image {image!r}"
                             + _image_hint(image, parts.image_names)))
        if isinstance(isolation, str) and isolation not in parts.known_profiles:
            problems.append((("workloads", i, "isolation"), f"unknown isolation profile "
                             f"{isolation!r}" + _hint(isolation, parts.known_profiles)))
        host_groups = raw.get("host_groups")
        for j, g in enumerate(host_groups if isinstance(host_groups, list) else []):
            if isinstance(g, str) and g not in groups and parts.hosts:
                problems.append((("workloads", i, "host_groups", j), f"unknown host group {g!r}"
                                 + _hint(g, list(groups))))
    return problems


def _check_feasibility(parts: _Parts) -> list[tuple[Path, str]]:
    """Workloads that no allowed host could ever run, under each isolation mode they run in."""
    problems: list[tuple[Path, str]] = []
    for i, wl in dict(parts.workloads).items():
        if parts.scenario is None or wl.image not in parts.good_images:
            continue
        modes = parts.compared if parts.compared is not None else [wl.isolation]
        if isinstance(wl.arrival, TraceArrivals):
            problems.extend(_trace_feasibility(parts, i, wl, modes))
            continue
        for mode in modes:
            if mode in parts.profiles:
                problems.extend(_mode_feasibility(parts, i, wl, mode))
    return problems


def _trace_feasibility(parts: _Parts, i: int, wl: Workload, modes: list[str]
                       ) -> list[tuple[Path, str]]:
    """A trace workload: the instances it replays that no allowed host could take."""
    assert isinstance(wl.arrival, TraceArrivals)
    groups = parts.groups
    skip = carriers([h for _, h in parts.hosts])
    allowed = [groups[g] for g in (wl.host_groups or list(groups))
               if g in groups and g not in skip]
    table = parts.tables.get(wl.arrival.digest or "")
    if table is None:
        return []
    return [(("workloads", i), message) for message in
            _trace_fit(wl, table, modes, parts.profiles, parts.by_name, allowed)]


def _mode_feasibility(parts: _Parts, i: int, wl: Workload, mode: str
                      ) -> list[tuple[Path, str]]:
    """A modelled workload under one mode: some allowed host can take one instance."""
    allowed = eligible_groups([h for _, h in parts.hosts], wl, parts.profiles[mode])
    if not allowed and parts.hosts:
        return [(("workloads", i), f"no host group may run it under {mode} "
                 "isolation (the workload's and the profile's host_groups "
                 "leave none, or they only carry container-host VMs)")]
    need = demand(wl, parts.profiles[mode], parts.by_name)
    campaigns = parts.scenario.maintenance if parts.scenario is not None else []
    reasons = {h.group: why_not(h, need) for h in allowed
               if not ever_runs(h, need, later_builds(campaigns, h.group))}
    if allowed and len(reasons) == len(allowed):
        detail = "; ".join(f"{g}: {', '.join(r)}" for g, r in reasons.items())
        return [(("workloads", i), (f"no host can ever run it under {mode} "
                 f"isolation ({detail})"))]
    return []


def _check_arrivals(parts: _Parts) -> list[tuple[Path, str]]:
    """A scenario without pipelines or commands in which no request would ever arrive."""
    scenario = parts.scenario
    if scenario is None or scenario.pipelines or scenario.commands is not None \
            or not scenario.workloads:  # none at all: a missing key, said elsewhere
        return []
    rows = {digest: len(table) for digest, table in parts.tables.items()}
    expected = arrivals(scenario, rows)
    traced = any(isinstance(wl.arrival, TraceArrivals) for wl in scenario.workloads)
    if not traced and all(n <= 0 for _, n in expected):
        return [(("workloads", 0, "arrival"), "no request arrives in the "
                 "simulated window: every workload's rate or count is 0, or it "
                 "starts after the end; there is nothing to measure (give a rate "
                 "or count above 0, or a start before the duration)")]
    return []


def _check_pipelines(parts: _Parts) -> list[tuple[Path, str]]:
    """Each pipeline's host group and steps; a workload rolled out by two pipelines."""
    problems: list[tuple[Path, str]] = []
    groups = parts.groups
    rolled: dict[str, int] = {}
    named: dict[str, int] = {}
    for i, raw in enumerate(_list(parts.data, "pipelines")):
        try:
            pipe = Pipeline.model_validate(raw)
        except ValidationError:
            continue
        where = ("pipelines", i)
        if pipe.name in named:  # their results would be summed under one name
            problems.append((where + ("name",), f"duplicate name {pipe.name!r} (first at "
                             f"pipelines[{named[pipe.name]}])"))
        named.setdefault(pipe.name, i)
        if pipe.host_group is not None and parts.hosts and pipe.host_group not in groups:
            problems.append((where + ("host_group",), f"unknown host group {pipe.host_group!r}"
                             + _hint(pipe.host_group, list(groups))))
        problems.extend(_check_steps(parts, i, pipe, rolled))
    return problems


def _check_steps(parts: _Parts, i: int, pipe: Pipeline, rolled: dict[str, int]
                 ) -> list[tuple[Path, str]]:
    """The steps of pipeline ``i``, in order: a push or test after a build, a rollout after a
    push. ``rolled`` (updated) holds the pipeline that first rolls out each workload."""
    problems: list[tuple[Path, str]] = []
    built = pushed = False
    for j, step in enumerate(pipe.steps):
        at = ("pipelines", i, "steps", j)
        if step.build is not None:
            base = step.build.base
            if base not in parts.by_name and base not in parts.broken_images:
                problems.append((at + ("build", "base"), f"unknown image {base!r}"
                                 + _image_hint(base, parts.image_names)))
            elif base in parts.good_images:
                problems.extend(_check_build_disk(parts, at, pipe, step.build))
            built = True
        elif step.push is not None and not built:
            problems.append((at + ("push",), "nothing to push: put a build step first"))
        elif step.push is not None:
            pushed = True
        elif step.test is not None and step.test.instances and not built:
            problems.append((at + ("test",), "test instances need a build step first"))
        elif step.test is not None and step.test.instances and parts.scenario is not None:
            problems.extend(_check_test(parts, at, pipe))
        elif step.rollout is not None:
            problems.extend(_check_rollout(parts, at, i, step.rollout, pushed, rolled))
    return problems


def _build_group(parts: _Parts, pipe: Pipeline) -> HostGroup | None:
    """The host group a pipeline builds and tests on: its own, else the first (None: an
    unknown one, told apart)."""
    hosts = parts.hosts
    return parts.groups.get(pipe.host_group or (hosts[0][1].group if hosts else ""))


def _check_build_disk(parts: _Parts, at: Path, pipe: Pipeline, build: BuildStep
                      ) -> list[tuple[Path, str]]:
    """A build's new image (its base's layers and the new layer) fits the build group's disk."""
    group = _build_group(parts, pipe)
    if group is None:
        return []
    size = sum(layer.size for layer in layer_chain(parts.by_name, build.base)) + build.layer
    if size <= group.disk:
        return []
    return [(at + ("build", "layer"), f"the built image ({format_size(size)} with its base) "
             f"cannot fit a host of build group {group.group!r} (disk "
             f"{format_size(group.disk)})")]


def _check_test(parts: _Parts, at: Path, pipe: Pipeline) -> list[tuple[Path, str]]:
    """Test instances of the rolled-out (or first) workload fit the build group."""
    workloads = parts.workloads
    group = _build_group(parts, pipe)
    target = next((wl for _, wl in workloads for s2 in pipe.steps
                   if s2.rollout is not None and wl.name == s2.rollout.workload),
                  workloads[0][1] if workloads else None)
    if group is None or target is None or target.isolation not in parts.profiles \
            or target.image not in parts.good_images:
        return []
    reasons = why_not(group, demand(target, parts.profiles[target.isolation], parts.by_name))
    if reasons:
        return [(at + ("test",), f"test instances of "
                 f"{target.name!r} cannot run on build group "
                 f"{group.group!r}: {', '.join(reasons)}")]
    return []


def _check_rollout(parts: _Parts, at: Path, i: int, ro: RolloutStep, pushed: bool,
                   rolled: dict[str, int]) -> list[tuple[Path, str]]:
    """A rollout step: a known modelled workload, after a push, rolled out by one pipeline
    only, and able to replace something."""
    problems: list[tuple[Path, str]] = []
    workload_names = [wl.name for _, wl in parts.workloads]
    if ro.workload not in workload_names:
        problems.append((at + ("rollout", "workload"), f"unknown workload "
                         f"{ro.workload!r}" + _hint(ro.workload, workload_names)))
    elif any(isinstance(wl.arrival, TraceArrivals) for _, wl in parts.workloads
             if wl.name == ro.workload):
        problems.append((at + ("rollout", "workload"), "rolling out a workload "
                         "that replays a trace is not supported (its instances "
                         "have the trace's sizes); roll out a modelled workload"))
    if not pushed:
        problems.append((at + ("rollout",), "hosts pull from the registry: put a "
                         "push step (after the build) before the rollout"))
    if ro.workload in rolled and rolled[ro.workload] != i:
        first = rolled[ro.workload]
        problems.append((at + ("rollout", "workload"), f"pipelines[{first}] already "
                         f"rolls out {ro.workload!r}; two pipelines would keep "
                         "replacing each other's version"))
    rolled.setdefault(ro.workload, i)
    if ro.strategy == "rolling" and ro.max_surge in (0, "0%") and \
            ro.max_unavailable in (0, "0%"):
        problems.append((at + ("rollout",), "max_surge and max_unavailable are both "
                         "0: the rollout could never replace anything"))
    return problems


def _check_plan(parts: _Parts) -> list[tuple[Path, str]]:
    """The plan's SLOs parse and its host group exists."""
    raw_plan = parts.data.get("plan")
    if not isinstance(raw_plan, dict):
        return []
    from sim.analysis.metrics import campaign_metric_names, metric_names
    from sim.spec.slo import SLOError, parse_slo

    problems: list[tuple[Path, str]] = []
    known = metric_names()
    if parts.scenario is not None:
        known |= campaign_metric_names([c.name for c in parts.scenario.maintenance])
    slos = raw_plan.get("slo")
    for j, text in enumerate(slos if isinstance(slos, list) else []):
        try:
            parse_slo(str(text), known)
        except SLOError as exc:
            problems.append((("plan", "slo", j), str(exc)))
    group = raw_plan.get("group")
    if isinstance(group, str) and parts.hosts and group not in parts.groups:
        problems.append((("plan", "group"), f"unknown host group {group!r}"
                         + _hint(group, list(parts.groups))))
    return problems
