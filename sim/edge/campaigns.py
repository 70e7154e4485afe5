"""Checks of the maintenance campaigns a schema cannot express: the group each patches, the
build an upgrade goes to, when it begins, and the disruption budgets the drains read.

Owns: those rules. Must not: read files or format positions (``sim.edge.loader`` does).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from sim.spec import builds
from sim.spec.config import BurstArrivals, HostGroup, Workload
from sim.spec.demand import carriers
from sim.spec.maintenance import Maintenance

Path = tuple[Any, ...]


def check_maintenance(data: dict[str, Any], hosts: list[tuple[int, HostGroup]],
                      workloads: list[tuple[int, Workload]], duration: float | None
                      ) -> list[tuple[Path, str]]:
    """Every campaign's group, build and start, and every workload's budget."""
    problems: list[tuple[Path, str]] = []
    groups = {h.group: h for _, h in hosts}
    skip = carriers([h for _, h in hosts])
    raw = data.get("maintenance")
    seen: dict[str, int] = {}
    valid: list[tuple[int, Maintenance]] = []
    for i, entry in enumerate(raw if isinstance(raw, list) else []):
        try:
            valid.append((i, Maintenance.model_validate(entry)))
        except ValidationError:
            continue  # the schema said what is wrong
    if valid and data.get("commands") is not None:
        problems.append((("maintenance", valid[0][0]), "a commands script's containers cannot "
                         "be drained: give maintenance campaigns in a scenario without a "
                         "commands: script"))
    builds_of: dict[str, str] = {g: h.os_build for g, h in groups.items()}
    for i, spec in sorted(valid, key=lambda item: item[1].at):  # upgrades in time order
        at: Path = ("maintenance", i)
        if spec.name in seen:
            problems.append((at + ("name",), f"duplicate name {spec.name!r} (first at "
                             f"maintenance[{seen[spec.name]}])"))
        seen.setdefault(spec.name, i)
        if duration is not None and spec.at >= duration:
            problems.append((at + ("at",), "the campaign would begin at or after the end of "
                             "the run: give an at before duration"))
        group = groups.get(spec.group)
        if group is None:
            if groups:
                known = ", ".join(repr(g) for g in groups)
                problems.append((at + ("group",), f"unknown host group {spec.group!r} "
                                 f"(the groups: {known})"))
            continue
        problems.extend(_check_group(at, group, skip))
        if spec.os_build is not None:
            problems.extend(_check_upgrade(at, spec.os_build, builds_of[spec.group]))
            builds_of[spec.group] = spec.os_build
    for i, wl in workloads:
        problems.extend(_check_budget(i, wl))
    return problems


def _check_group(at: Path, group: HostGroup, skip: set[str]) -> list[tuple[Path, str]]:
    if group.group in skip:
        return [(at + ("group",), f"group {group.group!r} carries container-host VMs and "
                 "runs no instances itself: patch the group of container-host VMs (its "
                 "patch would first move the VMs, which is not modelled)")]
    if group.autoscale is not None:
        return [(at + ("group",), f"group {group.group!r} scales (autoscale): patching an "
                 "elastic node pool (a surge node, node-image upgrades) is not modelled; "
                 "give the campaign a group of a fixed count")]
    return []


def _check_upgrade(at: Path, target: str, current: str) -> list[tuple[Path, str]]:
    known = builds.known()
    if target not in known:
        return [(at + ("os_build",), f"unknown build {target!r}: an upgrade goes to one of "
                 f"{', '.join(known)} (Microsoft's version-compatibility table)")]
    newer = builds.newer(target, current)
    if newer is None:
        return [(at + ("os_build",), f"the group's build {current!r} is not a Windows build "
                 f"of the compatibility table ({', '.join(known)}): an upgrade from it "
                 "cannot be checked")]
    if not newer:
        return [(at + ("os_build",), f"{target} is not newer than the group's build "
                 f"{current} by then (after the campaigns before it): an OS upgrade goes to "
                 "a newer build")]
    return []


def _check_budget(i: int, wl: Workload) -> list[tuple[Path, str]]:
    """A count budget above the instances the workload can have (its replicas' max, or its
    burst's count) never limits a drain: a mistake, said out loud."""
    budget = wl.disruption_budget
    if budget is None or not isinstance(budget, int):
        return []
    most = (wl.replicas.max if wl.replicas is not None
            else wl.arrival.count if isinstance(wl.arrival, BurstArrivals) else None)
    if most is not None and budget > most:
        return [(("workloads", i, "disruption_budget"), f"{budget} is above the "
                 f"{most} instances the workload can have: it would never limit a drain "
                 f"(give at most {most}, or a percentage)")]
    return []
