"""Uncertain inputs: what a study of a scenario's assumptions varies, and over which ranges.

An input is a dotted path (as ``sweep:`` uses) with a range: the scenario's own
``uncertainty:`` entries, and the built-in ranges of every estimate in the profiles and
runtimes a variant uses (``profiles.yaml``, ``runtimes.yaml``: each value not measured carries
one). A scenario entry on a built-in's path replaces its range; ``fixed`` holds it at its
default.

Owns: which inputs a variant has (``inputs``), a point of the unit interval turned into an
input's value (``Input.value``), and writing a built-in default into scenario data so that a
path can change it (``materialize``). Must not: draw samples (``sim.experiment``) or validate
scenarios (``sim.edge``).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

from sim.spec import paths, profiles, runtimes
from sim.spec.config import ResolvedProfile, Scenario, UncertainRange


@dataclass(frozen=True)
class Input:
    """One uncertain input: its path, its range in canonical units and where it comes from.

    ``nominal`` is the value the scenario runs with (its own, or the built-in default);
    ``trust`` is ``scenario`` for a scenario's entry, else the built-in value's trust level.
    """

    path: str
    range: UncertainRange
    nominal: float
    trust: str
    source: str

    @property
    def low(self) -> float:
        """The low end, canonical units."""
        return self.range.bounds()[0]

    @property
    def high(self) -> float:
        """The high end, canonical units."""
        return self.range.bounds()[1]

    def value(self, u: float) -> float | int:
        """The input's value at quantile ``u`` of its range (0 <= u <= 1): an integer for a
        count (each whole number from low to high equally likely)."""
        low, high, mode = self.range.bounds()
        u = min(max(u, 0.0), 1.0)
        if self.range.integer:
            return min(int(low + math.floor(u * (high - low + 1))), int(high))
        if high == low:
            return low
        if self.range.dist == "triangular":
            from scipy import stats  # loaded only when a study samples (500 ms to import)

            assert mode is not None
            c = (mode - low) / (high - low)
            return float(stats.triang.ppf(u, c, loc=low, scale=high - low))
        if self.range.dist == "loguniform":
            return math.exp(math.log(low) + u * (math.log(high) - math.log(low)))
        return low + u * (high - low)


def resolved_view(scenario: Scenario, resolved: dict[str, ResolvedProfile]) -> dict[str, Any]:
    """The scenario as plain data in canonical units with every profile and runtime filled
    in: where an input's nominal value is read."""
    data = scenario.model_dump(mode="json", exclude_none=True)
    data["profiles"] = {name: p.model_dump(mode="json", exclude_none=True)
                        for name, p in resolved.items()}
    data["runtimes"] = {name: r.model_dump(mode="json", exclude_none=True)
                        for name, r in runtimes.resolve_runtimes(scenario.runtimes)[0].items()}
    data["antivirus"] = {name: {"factor": factor} for name, factor in
                         runtimes.antivirus_factors(scenario.antivirus).items()}
    return data


_FILLED = ("profiles", "runtimes", "antivirus")  # sections whose entries default to built-ins


def materialize(data: dict[str, Any], path: str, view: dict[str, Any]) -> dict[str, Any]:
    """``data`` (a scenario as written) with the field that ``path`` changes written out
    when it is a profile's or a runtime's that the scenario leaves at its default (so
    ``profiles.hyperv.boot.median`` can change the built-in boot's median); ``view`` is
    ``resolved_view`` of the scenario. Other paths: ``data`` as it is."""
    steps = paths.parse(path)
    if len(steps) < 3 or steps[0] not in _FILLED or not all(
            isinstance(s, str) for s in steps[:3]):
        return data
    section, name, field = steps[0], steps[1], steps[2]
    written = data.get(section)
    entry = written.get(name) if isinstance(written, dict) else None
    if isinstance(entry, dict) and field in entry:
        return data
    default = view.get(section, {}).get(name, {}).get(field)
    if default is None:
        return data  # nothing to fill: the path names nothing, and says so where it is read
    out = copy.deepcopy(data)
    target = out.setdefault(section, {})
    if not isinstance(target, dict):
        return data
    if not isinstance(target.get(name), dict):
        target[name] = {}
    target[name][field] = copy.deepcopy(default)
    return out


def inputs(scenario: Scenario, resolved: dict[str, ResolvedProfile]) -> list[Input]:
    """The uncertain inputs of ``scenario`` (a variant: its workloads' isolation set): its
    own ``uncertainty:`` entries in file order, then the built-in ranges of the profiles its
    workloads use, the runtimes its host groups run and the antivirus that scans them, unless
    the scenario sets that value itself or holds it ``fixed``. What cannot move the variant's
    results is left out: an entry under a profile or runtime it does not use, a built-in
    interference factor of a noise class no workload makes, a nesting penalty where no host
    is a VM."""
    view = resolved_view(scenario, resolved)
    known = runtimes.resolve_runtimes(scenario.runtimes)[0]
    used: dict[str, set[str | None]] = {
        "profiles": {wl.isolation for wl in scenario.workloads},
        "runtimes": {runtimes.runtime_of(g, known).name for g in scenario.hosts},
        "antivirus": {runtimes.scanned_by(g, known) for g in scenario.hosts} - {None}}
    given = scenario.uncertainty or {}
    out: list[Input] = []
    for path, spec in given.items():
        steps = paths.parse(path)
        if steps[0] in _FILLED and len(steps) > 1 and steps[1] not in used[str(steps[0])]:
            continue
        if isinstance(spec, UncertainRange):
            out.append(Input(path, spec, nominal(view, path), "scenario",
                             "the scenario's uncertainty: entry"))
    written: dict[str, dict[str, set[str]]] = {
               "profiles": {n: p.model_fields_set for n, p in scenario.profiles.items()},
               "runtimes": {n: r.model_fields_set for n, r in scenario.runtimes.items()},
               "antivirus": {n: a.model_fields_set for n, a in scenario.antivirus.items()}}
    builtin = {"profiles": (profiles.raw_ranges(), profiles.sources()),
               "runtimes": (runtimes.raw_ranges(), runtimes.sources()),
               "antivirus": (runtimes.raw_ranges("antivirus"), runtimes.sources())}
    noise = {wl.noise for wl in scenario.workloads}
    nested = any(g.virtual is not None for g in scenario.hosts)
    for section, (ranges, sources) in builtin.items():
        for name, fields in ranges.items():
            if name not in used[section]:
                continue
            for sub, bounds in fields.items():
                path = f"{section}.{name}.{sub}"
                field, _, key = sub.partition(".")
                if path in given or field in written[section].get(name, ()):
                    continue
                if (field == "interference" and key not in noise) or (
                        field == "nested" and not nested):
                    continue  # no neighbour makes that noise; no host is a VM
                trust, source = sources.get(name, {}).get(field, ("estimate", ""))
                out.append(Input(path, UncertainRange.model_validate(bounds),
                                 nominal(view, path), trust, source))
    return out


def nominal(view: dict[str, Any], path: str) -> float:
    """The number at ``path`` in ``view`` (``resolved_view``; a constant distribution is its
    value); NaN where there is none."""
    try:
        value = paths.get(view, path)
    except paths.PathError:
        return math.nan
    if isinstance(value, dict) and value.get("dist") == "constant":
        value = value.get("value")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    return float(value)
