"""The built-in profiles' ranges (issue #22): every value not measured has one, it holds the
default, and any combination of its bounds is a valid profile."""

from __future__ import annotations

import copy
import io
from typing import Any

import pytest
from pydantic import BaseModel
from rich.console import Console

from sim.cli.fidelity import profiles_table
from sim.spec.config import ResolvedProfile
from sim.spec.profiles import builtin_data, builtin_profiles, ranges, raw_ranges, sources
from sim.spec.units import GiB, MiB

NAMES = list(builtin_profiles())


def numeric_paths(profile: ResolvedProfile, field: str) -> set[str]:
    """The dotted paths of the numbers in ``field`` of ``profile``: the field itself, or each
    number of a distribution, rule or table (``create.median``, ``interference.cpu``)."""
    value = getattr(profile, field)
    if isinstance(value, BaseModel):
        value = value.model_dump(exclude_none=True)
    if isinstance(value, dict):
        return {f"{field}.{key}" for key, v in value.items() if _is_number(v)}
    return {field} if _is_number(value) else set()


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def expected_paths(name: str) -> set[str]:
    """The paths of ``name`` that need a range: the numbers of every field not measured."""
    profile = builtin_profiles()[name]
    return {path for field, (trust, _source) in sources()[name].items() if trust != "measured"
            for path in numeric_paths(profile, field)}


def value_at(profile: ResolvedProfile, path: str) -> float:
    """The number at dotted ``path`` of ``profile``."""
    field, _, key = path.partition(".")
    value = getattr(profile, field)
    if key:
        value = value[key] if isinstance(value, dict) else getattr(value, key)
    assert _is_number(value), path
    return float(value)


def with_bounds(name: str, bounds: dict[str, Any]) -> ResolvedProfile:
    """Built-in ``name`` as written, with each path of ``bounds`` set to its (as written)
    value, validated as a profile."""
    body = {k: copy.deepcopy(v) for k, v in builtin_data()[name].items()
            if k not in ("sources", "ranges")}
    for path, bound in bounds.items():
        field, _, key = path.partition(".")
        if key:
            body[field] = {**body.get(field, {}), key: bound}
        else:
            body[field] = bound
    return ResolvedProfile.model_validate({"name": name, **body})


def test_the_missing_range_check_can_fail():
    profile = builtin_profiles()["hyperv"]
    assert numeric_paths(profile, "create") == {"create.median", "create.p95"}
    assert numeric_paths(profile, "interference") == {
        "interference.cpu", "interference.memory", "interference.disk",
        "interference.cpu-adversarial"}
    assert numeric_paths(profile, "nested") == {"nested.boot_factor", "nested.cpu_factor"}
    assert numeric_paths(profile, "partition") == set()  # a boolean has no range
    assert numeric_paths(profile, "disk_image") == set()
    assert "interference.disk" in expected_paths("hyperv")
    assert "memory_overhead" not in expected_paths("hyperv")  # measured


@pytest.mark.parametrize("name", NAMES)
def test_every_value_not_measured_has_a_range_and_no_other(name):
    have = set(raw_ranges()[name])
    need = expected_paths(name)
    assert not need - have, f"{name}: no range for {sorted(need - have)}"
    assert not have - need, f"{name}: a range for a measured or unknown value: " \
                            f"{sorted(have - need)}"


@pytest.mark.parametrize("name", NAMES)
def test_each_range_holds_its_default(name):
    profile = builtin_profiles()[name]
    for path, (low, high) in ranges()[name].items():
        assert low <= value_at(profile, path) <= high, (name, path)
        assert low <= high, (name, path)


@pytest.mark.parametrize("name", NAMES)
def test_a_median_range_lies_below_its_p95_range(name):
    spans = ranges()[name]
    for path, (_low, high) in spans.items():
        if path.endswith(".median"):
            p95 = path.removesuffix(".median") + ".p95"
            assert high < spans[p95][0], (name, path)


@pytest.mark.parametrize("name", NAMES)
def test_each_bound_alone_is_a_valid_profile_read_as_ranges_reads_it(name):
    for path, bounds in raw_ranges()[name].items():
        for written, canonical in zip(bounds, ranges()[name][path]):
            profile = with_bounds(name, {path: written})
            assert value_at(profile, path) == canonical, (name, path, written)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("end", [0, 1])
def test_all_lows_or_all_highs_together_are_a_valid_profile(name, end):
    spans = raw_ranges()[name]
    profile = with_bounds(name, {path: bounds[end] for path, bounds in spans.items()})
    for path, bounds in ranges()[name].items():
        assert value_at(profile, path) == bounds[end]


@pytest.mark.parametrize("name", NAMES)
def test_the_widest_spread_and_the_narrowest_are_valid_profiles(name):
    """Any combination is valid: the lowest medians with the highest p95s, and the reverse."""
    spans = raw_ranges()[name]
    for median_end, other_end in ((0, 1), (1, 0)):
        with_bounds(name, {path: bounds[median_end if path.endswith(".median") else other_end]
                           for path, bounds in spans.items()})


def test_ranges_are_canonical():
    spans = ranges()
    assert spans["process"]["create.median"] == (0.25, 0.65)
    assert spans["process"]["disk_per_instance"] == (100e3, 100e6)
    assert spans["vm"]["memory_overhead"] == (512 * MiB, 2 * GiB)
    assert spans["hyperv"]["interference.cpu"] == (1.0, 1.3)
    assert spans["hyperv"]["create_per_running"] == (0.0, pytest.approx(0.9e-3))
    assert raw_ranges()["process"]["create.median"] == ["250ms", "650ms"]


def test_builtin_profiles_ignore_ranges():
    for name, profile in builtin_profiles().items():
        assert "ranges" in builtin_data()[name]
        assert profile.name == name


def test_raw_ranges_are_copies():
    raw_ranges()["process"]["create.median"].append("9s")
    assert raw_ranges()["process"]["create.median"] == ["250ms", "650ms"]


def test_profiles_table_shows_the_ranges():
    console = Console(file=io.StringIO(), width=400, record=True)
    console.print(profiles_table())
    text = console.export_text()
    assert "range" in text
    assert "median 250ms - 650ms, p95 750ms - 3.75s" in text
    assert "cpu 1 - 1.3, memory 1.06 - 1.24, disk 1.5 - 3, cpu-adversarial 1.15 - 1.6" in text
    assert "512MiB - 2GiB" in text
