"""Container runtimes and antivirus: the calibrated built-ins (``runtimes.yaml``), a scenario's
``runtimes:`` resolved over them, and what a host group's choice costs per extracted byte.

Owns: reading the packaged data file, merging overrides, and the defaults a host group gets
when it names no runtime or antivirus. Must not: decide behaviour; the model reads the resolved
values and never branches on a runtime's name.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from sim.spec import packaged, units
from sim.spec.config import Antivirus, HostGroup, LazyPull, ResolvedRuntime, Runtime


@cache
def builtin_data() -> dict[str, Any]:
    """The packaged runtime file as plain data, sources and ranges included; a built-in that
    ``extends`` one above it holds that one's fields too (``_extended``)."""
    data: dict[str, Any] = packaged.read("runtimes.yaml")
    built = data["runtimes"]
    for name, fields in built.items():
        if "extends" in fields:
            built[name] = _extended(built[fields["extends"]], fields)
    return data


def _extended(base: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    """A built-in runtime's fields (``own``) over those of the one it extends (``base``): its
    own values, sources and ranges, and the base's for every value it does not give (a source
    or range named ``field.part`` goes with ``field``)."""
    given = set(own) - {"extends", "description", "sources", "ranges"}
    merged = {**base, **{key: value for key, value in own.items() if key != "extends"}}
    for section in ("sources", "ranges"):
        kept = {field: value for field, value in base.get(section, {}).items()
                if field.split(".")[0] not in given}
        merged[section] = {**kept, **own.get(section, {})}
    return merged


@cache
def builtin_runtimes() -> dict[str, ResolvedRuntime]:
    """The calibrated built-in runtimes, keyed by name."""
    out = {}
    for name, fields in builtin_data()["runtimes"].items():
        rate, lazy = fields["extract_rate"], fields.get("lazy_pull")
        out[name] = ResolvedRuntime(
            name=name, description=fields["description"],
            extract_rate=None if rate is None else units.parse_bandwidth(rate),
            extraction=fields["extraction"], concurrent_pulls=fields["concurrent_pulls"],
            antivirus_excluded=fields["antivirus_excluded"],
            lazy_pull=None if lazy is None else LazyPull(**lazy))
    return out


def antivirus_factors(overrides: Mapping[Any, Antivirus] | None = None) -> dict[str, float]:
    """How much each antivirus setting multiplies the extraction it scans: the built-ins,
    with a scenario's ``antivirus:`` factors (``overrides``) applied."""
    factors = {name: float(fields["factor"])
               for name, fields in builtin_data()["antivirus"].items()}
    factors.update({name: spec.factor for name, spec in (overrides or {}).items()})
    return factors


def defaults() -> tuple[str, str]:
    """The runtime and the antivirus setting of a host group that names neither."""
    data = builtin_data()
    return data["default_runtime"], data["default_antivirus"]


def sources() -> dict[str, dict[str, tuple[str, str]]]:
    """``{runtime or antivirus setting: {field: (trust, source)}}`` for every built-in value,
    and the defaults' under ``defaults``."""
    data = builtin_data()
    out = {name: {f: (v[0], v[1]) for f, v in fields.get("sources", {}).items()}
           for section in ("runtimes", "antivirus") for name, fields in data[section].items()}
    out["defaults"] = {f: (v[0], v[1]) for f, v in data["defaults_sources"].items()}
    return out


def ranges() -> dict[str, dict[str, tuple[float, float]]]:
    """``{runtime or antivirus setting: {field: (low, high)}}`` for the values not measured,
    in canonical units (bytes per core-second, factors, shares); a part of a field is named
    ``field.part`` (``lazy_pull.start_at``)."""
    data = builtin_data()
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for section in ("runtimes", "antivirus"):
        for name, fields in data[section].items():
            for field, (low, high) in fields.get("ranges", {}).items():
                parse = units.parse_bandwidth if field == "extract_rate" else float
                out.setdefault(name, {})[field] = (parse(low), parse(high))
    return out


def raw_ranges(section: str = "runtimes") -> dict[str, dict[str, list[Any]]]:
    """``{runtime: {field: [low, high]}}``: each built-in runtime's ranges (``section``
    ``antivirus``: each antivirus setting's), as written."""
    return {name: dict(fields.get("ranges", {}))
            for name, fields in builtin_data()[section].items()}


class RuntimeProblem(ValueError):
    """A scenario runtime that cannot be resolved; ``name`` is its key in ``runtimes:``."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


def resolve_runtimes(overrides: dict[str, Runtime]) -> tuple[dict[str, ResolvedRuntime],
                                                              list[RuntimeProblem]]:
    """Built-ins with the scenario's ``runtimes:`` applied: a built-in's name changes its
    values, a new name needs ``extends`` (a built-in). Returns the runtimes that resolved and a
    problem for each that did not."""
    builtins = builtin_runtimes()
    resolved = dict(builtins)
    problems = []
    for name, override in overrides.items():
        base_name = override.extends or (name if name in builtins else None)
        if base_name is None:
            problems.append(RuntimeProblem(name, f"runtime {name!r} is new: give 'extends' (one "
                                                f"of {', '.join(builtins)})"))
            continue
        if base_name not in builtins:
            problems.append(RuntimeProblem(name, f"extends {base_name!r}, which is not a built-in "
                                                f"runtime (one of {', '.join(builtins)})"))
            continue
        given = {field: getattr(override, field) for field in override.model_fields_set
                 if field != "extends"}
        resolved[name] = builtins[base_name].model_copy(update={"name": name, **given})
    return resolved, problems


def runtime_of(group: HostGroup, runtimes: dict[str, ResolvedRuntime]) -> ResolvedRuntime:
    """The runtime a host group runs (the default when it names none)."""
    return runtimes[group.runtime or defaults()[0]]


def scanned_by(group: HostGroup, runtimes: dict[str, ResolvedRuntime]) -> str | None:
    """The antivirus setting that scans ``group``'s extraction, or None (the runtime is
    excluded or its extraction costs no CPU)."""
    runtime = runtime_of(group, runtimes)
    if runtime.extract_rate is None or runtime.antivirus_excluded:
        return None
    return group.antivirus or defaults()[1]


def extraction_cost(group: HostGroup, runtimes: dict[str, ResolvedRuntime],
                    factors: dict[str, float] | None = None) -> float | None:
    """Core-seconds a host of ``group`` spends extracting one byte (its runtime's rate, slowed
    by its antivirus unless the runtime is excluded: ``factors``, by default the built-in
    ones); None: extraction costs no CPU."""
    runtime = runtime_of(group, runtimes)
    if runtime.extract_rate is None:
        return None
    factor = 1.0
    scanner = scanned_by(group, runtimes)
    if scanner is not None:
        factor = (antivirus_factors() if factors is None else factors)[scanner]
    return factor / runtime.extract_rate
