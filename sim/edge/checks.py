"""Whole-scenario checks that a schema cannot express: names that must exist, cycles, and
workloads that no host could ever run.

Owns: cross-reference and feasibility rules. Runs on whatever parts of a scenario validated on
their own, so that one pass reports every problem even when other sections are broken.
Must not: read files or format positions (``sim.edge.loader`` does).
"""

from __future__ import annotations

import difflib
from typing import Any

import numpy as np
from pydantic import BaseModel, ValidationError

from sim.edge.budget import arrivals
from sim.edge.traces import TraceTable, select
from sim.spec.config import (
    Compare,
    HostGroup,
    Image,
    Pipeline,
    Profile,
    ResolvedProfile,
    Scenario,
    TraceArrivals,
    Workload,
)
from sim.spec.demand import carriers, demand, eligible_groups, why_not
from sim.spec.profiles import resolve_profiles
from sim.spec.units import UnitError, format_size, parse_duration

Path = tuple[Any, ...]


def _items(data: dict[str, Any], key: str, model: type[BaseModel]) -> list[tuple[int, Any]]:
    """The entries of list ``key`` that validate on their own, with their indexes."""
    out = []
    for i, item in enumerate(_list(data, key)):
        try:
            out.append((i, model.model_validate(item)))
        except ValidationError:
            pass
    return out


def _list(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    return value if isinstance(value, list) else []


def _hint(name: str, known: list[str]) -> str:
    near = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f"; did you mean {near[0]!r}?" if near else f"; known: {', '.join(sorted(known))}"


def _trace_fit(wl: Workload, table: TraceTable, modes: list[str],
               profiles: dict[str, ResolvedProfile], images: dict[str, Image],
               allowed: list[HostGroup]) -> list[str]:
    """For a trace workload: per mode, how many of the instances it replays no allowed host
    could ever take (each distinct vCPU and memory size checked once), with the largest."""
    assert isinstance(wl.arrival, TraceArrivals)
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


def check_scenario(data: dict[str, Any], scenario: Scenario | None,
                   tables: dict[str, TraceTable] | None = None
                   ) -> tuple[list[tuple[Path, str]], dict[str, ResolvedProfile]]:
    """Problems as ``(path, message)``, and the resolved profiles. ``tables`` are the traces
    the loader read, by digest: trace workloads are checked instance size by size."""
    tables = tables or {}
    problems: list[tuple[Path, str]] = []
    hosts = _items(data, "hosts", HostGroup)
    images = _items(data, "images", Image)
    workloads = _items(data, "workloads", Workload)

    for key, entries, attr in (("hosts", hosts, "group"), ("images", images, "name"),
                               ("workloads", workloads, "name")):
        seen: dict[str, int] = {}
        for i, item in entries:
            name = getattr(item, attr)
            if name in seen:
                problems.append(((key, i, attr), (f"duplicate {attr} {name!r} "
                                 f"(first at {key}[{seen[name]}])")))
            seen.setdefault(name, i)

    by_name = {img.name: img for _, img in images}
    image_names = list(by_name)
    broken_images = {img.get("name") for img in _list(data, "images")
                     if isinstance(img, dict) and isinstance(img.get("name"), str)} - set(by_name)
    good_images = set(by_name)
    for i, img in images:
        if img.base is not None and img.base not in by_name:
            problems.append((("images", i, "base"), f"unknown base image {img.base!r}"
                             + _hint(img.base, image_names)))
            good_images.discard(img.name)
    for i, img in images:
        seen_chain = [img.name]
        cur = img
        while cur.base is not None and cur.base in by_name:
            if cur.base in seen_chain:
                problems.append((("images", i, "base"), "cycle in base: "
                                 + " -> ".join(seen_chain + [cur.base])))
                good_images.discard(img.name)
                break
            seen_chain.append(cur.base)
            cur = by_name[cur.base]
        else:
            if cur.base is not None:
                good_images.discard(img.name)
    try:
        if parse_duration(data.get("warmup", 0)) >= parse_duration(data.get("duration")):
            problems.append((("warmup",), "must be shorter than duration"))
    except UnitError:
        pass
    host_groups = {h.group: h for _, h in hosts}
    for i, host in hosts:
        if host.reserved_memory >= host.memory:
            problems.append((("hosts", i, "reserved_memory"), "must be less than memory"))
        if host.virtual is not None:
            where = ("hosts", i, "virtual", "physical_group")
            physical = host_groups.get(host.virtual.physical_group)
            if physical is None:
                problems.append((where, f"unknown host group {host.virtual.physical_group!r}"
                                 + _hint(host.virtual.physical_group, list(host_groups))))
            elif physical.virtual is not None or physical.group == host.group:
                problems.append((where, "must be a group of physical hosts"))
            else:
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
        elif host.nested_virtualization:
            problems.append((("hosts", i, "nested_virtualization"),
                             "applies only to container-host VMs (give virtual:)"))
        for j, name in enumerate(host.preloaded_images):
            if name not in by_name and name not in broken_images:
                problems.append((("hosts", i, "preloaded_images", j), f"unknown image {name!r}"
                                 + _hint(name, image_names)))

    overrides: dict[str, Profile] = {}
    raw_profiles = data.get("profiles")
    if isinstance(raw_profiles, dict):
        for name, body in raw_profiles.items():
            try:
                overrides[name] = Profile.model_validate(body)
            except ValidationError:
                pass
    profiles, profile_problems = resolve_profiles(overrides)
    problems.extend((p.path, str(p)) for p in profile_problems)
    broken_profiles = set(raw_profiles or {}) - set(profiles) if isinstance(raw_profiles, dict) \
        else set()
    known_profiles = sorted(set(profiles) | broken_profiles)

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

    groups = {h.group: h for _, h in hosts}
    for name, profile in profiles.items():
        for j, g in enumerate(profile.host_groups or []):
            if hosts and g not in groups and name in (raw_profiles or {}):
                problems.append((("profiles", name, "host_groups", j), f"unknown host group "
                                 f"{g!r}" + _hint(g, list(groups))))
    noises = sorted({"none"} | {c for p in profiles.values() for c in p.interference})
    for i, raw in enumerate(_list(data, "workloads")):
        noise = raw.get("noise") if isinstance(raw, dict) else None
        if isinstance(noise, str) and noise not in noises:
            problems.append((("workloads", i, "noise"), f"unknown noise class {noise!r}"
                             + _hint(noise, noises) + " (classes are the keys of the "
                             "profiles' interference)"))
    typed = dict(workloads)
    for i, raw in enumerate(_list(data, "workloads")):
        if not isinstance(raw, dict):
            continue
        image, isolation = raw.get("image"), raw.get("isolation", "process")
        if isinstance(image, str) and image not in by_name and image not in broken_images:
            problems.append((("workloads", i, "image"), f"unknown image {image!r}"
                             + _hint(image, image_names)))
        if isinstance(isolation, str) and isolation not in known_profiles:
            problems.append((("workloads", i, "isolation"), f"unknown isolation profile "
                             f"{isolation!r}" + _hint(isolation, known_profiles)))
        host_groups = raw.get("host_groups")
        for j, g in enumerate(host_groups if isinstance(host_groups, list) else []):
            if isinstance(g, str) and g not in groups and hosts:
                problems.append((("workloads", i, "host_groups", j), f"unknown host group {g!r}"
                                 + _hint(g, list(groups))))
    for i, wl in typed.items():
        if scenario is None or wl.image not in good_images:
            continue
        modes = compared if compared is not None else [wl.isolation]
        if isinstance(wl.arrival, TraceArrivals):
            skip = carriers([h for _, h in hosts])
            allowed = [groups[g] for g in (wl.host_groups or list(groups))
                       if g in groups and g not in skip]
            table = tables.get(wl.arrival.digest or "")
            if table is not None:
                problems.extend((("workloads", i), message) for message in
                                _trace_fit(wl, table, modes, profiles, by_name, allowed))
            continue
        for mode in modes:
            if mode not in profiles:
                continue
            allowed = eligible_groups([h for _, h in hosts], wl, profiles[mode])
            if not allowed and hosts:
                problems.append((("workloads", i), f"no host group may run it under {mode} "
                                 "isolation (the workload's and the profile's host_groups "
                                 "leave none, or they only carry container-host VMs)"))
                continue
            need = demand(wl, profiles[mode], by_name)
            reasons = {h.group: why_not(h, need) for h in allowed}
            if allowed and all(reasons.values()):
                detail = "; ".join(f"{g}: {', '.join(r)}" for g, r in reasons.items())
                problems.append((("workloads", i), (f"no host can ever run it under {mode} "
                                 f"isolation ({detail})")))
    if scenario is not None and not scenario.pipelines:
        rows = {digest: len(table) for digest, table in tables.items()}
        expected = arrivals(scenario, rows)
        traced = any(isinstance(wl.arrival, TraceArrivals) for wl in scenario.workloads)
        if not traced and all(n <= 0 for _, n in expected):
            problems.append((("workloads", 0, "arrival"), "no request arrives in the "
                             "simulated window: every workload's rate or count is 0, or it "
                             "starts after the end; there is nothing to measure (give a rate "
                             "or count above 0, or a start before the duration)"))
    workload_names = [wl.name for _, wl in workloads]
    rolled: dict[str, int] = {}
    for i, raw in enumerate(_list(data, "pipelines")):
        try:
            pipe = Pipeline.model_validate(raw)
        except ValidationError:
            continue
        where = ("pipelines", i)
        if pipe.host_group is not None and hosts and pipe.host_group not in groups:
            problems.append((where + ("host_group",), f"unknown host group {pipe.host_group!r}"
                             + _hint(pipe.host_group, list(groups))))
        built = pushed = False
        for j, step in enumerate(pipe.steps):
            at = where + ("steps", j)
            if step.build is not None:
                base = step.build.base
                if base not in by_name and base not in broken_images:
                    problems.append((at + ("build", "base"), f"unknown image {base!r}"
                                     + _hint(base, image_names)))
                built = True
            elif step.push is not None and not built:
                problems.append((at + ("push",), "nothing to push: put a build step first"))
            elif step.push is not None:
                pushed = True
            elif step.test is not None and step.test.instances and not built:
                problems.append((at + ("test",), "test instances need a build step first"))
            elif step.test is not None and step.test.instances and scenario is not None:
                group = groups.get(pipe.host_group or (hosts[0][1].group if hosts else ""))
                target = next((wl for _, wl in workloads for s2 in pipe.steps
                               if s2.rollout is not None and wl.name == s2.rollout.workload),
                              workloads[0][1] if workloads else None)
                if group is not None and target is not None and target.isolation in profiles \
                        and target.image in good_images:
                    reasons = why_not(group, demand(target, profiles[target.isolation], by_name))
                    if reasons:
                        problems.append((at + ("test",), f"test instances of "
                                         f"{target.name!r} cannot run on build group "
                                         f"{group.group!r}: {', '.join(reasons)}"))
            elif step.rollout is not None:
                ro = step.rollout
                if ro.workload not in workload_names:
                    problems.append((at + ("rollout", "workload"), f"unknown workload "
                                     f"{ro.workload!r}" + _hint(ro.workload, workload_names)))
                elif any(isinstance(wl.arrival, TraceArrivals) for _, wl in workloads
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
    raw_plan = data.get("plan")
    if isinstance(raw_plan, dict):
        from sim.analysis.metrics import metric_names
        from sim.spec.slo import SLOError, parse_slo

        known = metric_names()
        slos = raw_plan.get("slo")
        for j, text in enumerate(slos if isinstance(slos, list) else []):
            try:
                parse_slo(str(text), known)
            except SLOError as exc:
                problems.append((("plan", "slo", j), str(exc)))
        group = raw_plan.get("group")
        if isinstance(group, str) and hosts and group not in groups:
            problems.append((("plan", "group"), f"unknown host group {group!r}"
                             + _hint(group, list(groups))))
    return problems, profiles
