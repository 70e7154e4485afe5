"""Quantities with units."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.spec import units
from sim.spec.units import GiB, MiB, UnitError


@pytest.mark.parametrize("text,expected", [
    ("512MiB", 512 * MiB), ("4GiB", 4 * GiB), ("2TB", 2e12), ("2TiB", 2 * 1024 * GiB),
    ("296MB", 296e6), ("1.5 GiB", 1.5 * GiB), (1024, 1024.0), ("0B", 0.0),
])
def test_sizes(text, expected):
    assert units.parse_size(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("250ms", 0.25), ("2s", 2.0), ("10min", 600.0), ("4h", 14400.0), ("2d", 172800.0),
    (3, 3.0), ("1.5", 1.5),
])
def test_durations(text, expected):
    assert units.parse_duration(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("0.5/s", 0.5), ("30/min", 0.5), ("100/h", 100 / 3600), (2, 2.0),
])
def test_rates(text, expected):
    assert units.parse_rate(text) == pytest.approx(expected)


@pytest.mark.parametrize("text,expected", [
    ("10Gbit/s", 1.25e9), ("200MB/s", 2e8), ("1Gbit/s", 1.25e8), ("1GiB/s", GiB),
])
def test_bandwidths(text, expected):
    assert units.parse_bandwidth(text) == pytest.approx(expected)


@pytest.mark.parametrize("parse,text", [
    (units.parse_size, "-1GiB"), (units.parse_size, "4 gigs"), (units.parse_size, True),
    (units.parse_duration, "2 hours"), (units.parse_duration, "nan"),
    (units.parse_rate, "10MB/s"), (units.parse_bandwidth, "0.5/s"),
    (units.parse_bandwidth, "0Gbit/s"), (units.parse_size, [1]),
])
def test_bad_quantities(parse, text):
    with pytest.raises(UnitError):
        parse(text)


@given(st.floats(0, units.MAX_SECONDS, allow_nan=False))
def test_bare_numbers_are_canonical(x):
    assert units.parse_size(x) == x and units.parse_duration(repr(x)) == x


@given(st.floats(1e-3, 1e6))
def test_formatting_reads_back_within_its_precision(seconds):
    text = units.format_duration(seconds)
    assert units.parse_duration(text) == pytest.approx(seconds, rel=1e-3)


@pytest.mark.parametrize(("n_bytes", "shown"), [
    (50e6, "50MB"),            # as a scenario writes it, not 47.68MiB
    (1124e6, "1124MB"),
    (2.6e9, "2.6GB"),
    (2**30, "1GiB"),           # a round binary size keeps its unit
    (512 * 2**20, "512MiB"),
    (123456789, "117.7MiB"),   # neither: binary, as before
    (1000, "1kB"),
    (0, "0B"),
    (20 * 2**30 + 50e6, "20.05GiB"),  # round only in kB, past 9,999 of them: not 2.152e+07kB
])
def test_sizes_read_in_the_units_they_are_round_in(n_bytes: float, shown: str) -> None:
    from sim.spec.units import format_size

    assert format_size(n_bytes) == shown
