"""Isolation profiles: the calibrated built-ins (``profiles.yaml``), their sources and ranges,
and how a scenario's overrides and ``extends`` resolve into complete profiles.

Owns: reading the packaged data file (values, ``sources`` and ``ranges``) and merging. Must not:
decide behaviour; the model reads the resolved fields and never branches on a profile's name,
and never sees the ranges.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from pydantic import ValidationError

from sim.spec import packaged, units
from sim.spec.config import Profile, ResolvedProfile

# The keys of a built-in profile that are about its values, not values themselves.
_ANNOTATIONS = ("sources", "ranges")
# Fields whose values (a distribution's parameters but its cv, or a rule's) are sizes or
# durations; any other ranged value is a plain number (a fraction or a factor).
_SIZES = ("memory_overhead", "disk_per_instance", "commit")
_DURATIONS = ("create", "boot", "stop", "create_per_running", "image_commit")


@cache
def builtin_data() -> dict[str, dict[str, Any]]:
    """The packaged profile file as plain data, ``sources`` and ``ranges`` included."""
    data: dict[str, dict[str, Any]] = packaged.read("profiles.yaml")
    return data


@cache
def builtin_profiles() -> dict[str, ResolvedProfile]:
    """The calibrated built-in profiles, keyed by name."""
    out = {}
    for name, fields in builtin_data().items():
        body = {k: v for k, v in fields.items() if k not in _ANNOTATIONS}
        out[name] = ResolvedProfile.model_validate({"name": name, **body})
    return out


def sources() -> dict[str, dict[str, tuple[str, str]]]:
    """``{profile: {field: (trust, source)}}`` for every built-in value."""
    return {name: {f: (v[0], v[1]) for f, v in fields.get("sources", {}).items()}
            for name, fields in builtin_data().items()}


def raw_ranges() -> dict[str, dict[str, list[Any]]]:
    """``{profile: {sub-path: [low, high]}}`` as written in ``profiles.yaml`` (``"250ms"``,
    ``1.3``), for every built-in value whose trust is not ``measured``. A sub-path is dotted
    inside the profile: ``create.median``, ``interference.cpu``, ``disk_per_instance``."""
    return {name: {path: list(bounds) for path, bounds in fields.get("ranges", {}).items()}
            for name, fields in builtin_data().items()}


def ranges() -> dict[str, dict[str, tuple[float, float]]]:
    """``{profile: {sub-path: (low, high)}}`` in canonical units: seconds for durations (a
    distribution's parameters, ``create_per_running``), bytes for sizes, plain numbers for
    fractions and factors.

    Raises:
        units.UnitError: a bound that is not a quantity of its field's kind, named by its place
            (``hyperv.ranges.create.median``).
    """
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for name, spans in raw_ranges().items():
        out[name] = {}
        for path, (low, high) in spans.items():
            parse = range_parser(path)
            try:
                out[name][path] = (parse(low), parse(high))
            except units.UnitError as exc:
                raise units.UnitError(f"profiles.yaml: {name}.ranges.{path}: {exc}") from None
    return out


def range_parser(path: str) -> Callable[[object], float]:
    """The unit parser of the value at dotted ``path`` inside a profile: ``parse_size`` for
    sizes, ``parse_duration`` for durations, else a plain number."""
    field, _, key = path.partition(".")
    if field in _SIZES:
        return units.parse_size
    if field in _DURATIONS and key != "cv":
        return units.parse_duration
    return _number


def _number(text: object) -> float:
    if isinstance(text, bool) or not isinstance(text, (int, float)):
        raise units.UnitError(f"expected a number (got {text!r})")
    return float(text)


class ProfileError(ValueError):
    """A profile that cannot be resolved; ``path`` names where."""

    def __init__(self, path: tuple[Any, ...], message: str) -> None:
        super().__init__(message)
        self.path = path


def resolve_profiles(overrides: dict[str, Profile]) -> tuple[dict[str, ResolvedProfile],
                                                              list[ProfileError]]:
    """Built-ins with the scenario's ``profiles:`` applied. Returns the profiles that resolved
    and a problem for each one that did not (unknown ``extends``, a cycle, missing fields)."""
    builtins = builtin_profiles()
    resolved: dict[str, ResolvedProfile] = {}
    problems: list[ProfileError] = []

    def resolve(name: str, chain: tuple[str, ...]) -> ResolvedProfile | None:
        if name in resolved:
            return resolved[name]
        spec = overrides.get(name)
        if spec is None:
            return builtins.get(name)
        path = ("profiles", name)
        base: dict[str, Any] = {}
        if spec.extends is not None:
            if spec.extends in chain:
                problems.append(ProfileError(path + ("extends",), "cycle in extends: "
                                             + " -> ".join(chain + (spec.extends,))))
                return None
            if spec.extends not in overrides and spec.extends not in builtins:
                problems.append(ProfileError(path + ("extends",), f"unknown profile "
                                             f"{spec.extends!r}; known: {_known(overrides)}"))
                return None
            parent = resolve(spec.extends, chain + (spec.extends,))
            if parent is None:
                return None
            base = dict(parent)
        elif name in builtins:
            base = dict(builtins[name])
        fields = {k: getattr(spec, k) for k in spec.model_fields_set if k != "extends"}
        if "interference" in fields and base.get("interference"):
            fields["interference"] = {**base["interference"], **fields["interference"]}
        merged = {**base, **fields, "name": name}
        missing = [f for f in ResolvedProfile.model_fields if f not in merged
                   and ResolvedProfile.model_fields[f].is_required()]
        if missing:
            problems.append(ProfileError(path, "a new profile must extend one "
                                         f"(extends: {', '.join(builtins)}) or give "
                                         + ", ".join(missing)))
            return None
        try:
            profile = ResolvedProfile.model_validate(
                {k: (v.model_dump() if hasattr(v, "model_dump") else v)
                 for k, v in merged.items()})
        except ValidationError as exc:  # e.g. a required field overridden with null
            problems.extend(_invalid(exc, fields, path))
            return None
        resolved[name] = profile
        return profile

    for name in builtins:
        if name not in overrides:
            resolved[name] = builtins[name]
    for name in overrides:
        resolve(name, (name,))
    return resolved, problems


def _invalid(exc: ValidationError, fields: dict[str, Any], path: tuple[Any, ...]
             ) -> list[ProfileError]:
    """A problem for each error of a merged profile that does not validate (a field given
    as null says how to keep the inherited value)."""
    problems = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else ""
        message = err["msg"].removeprefix("Value error, ")
        if field in fields and fields[field] is None:
            message = "cannot be null: leave the key out to keep the profile's value"
        problems.append(ProfileError(path + ((field,) if field else ()), message))
    return problems


def _known(overrides: dict[str, Profile]) -> str:
    return ", ".join(sorted(set(builtin_profiles()) | set(overrides)))
