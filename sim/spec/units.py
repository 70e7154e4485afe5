"""Quantities with units as written in scenario files, converted to canonical numbers.

Owns: parsing sizes (bytes), durations (seconds), rates (per second) and bandwidths (bytes per
second) from strings such as ``512MiB``, ``250ms``, ``0.5/s`` and ``10Gbit/s``, and formatting
them back for people. Must not: know anything about scenarios or the model.

Written by hand rather than with pint: pint treats bits and bytes as dimensionless, so it cannot
tell ``0.5/s`` (a rate) from ``10Gbit/s`` (a bandwidth) or ``512`` from ``512MiB``, and its
errors do not say which units would be right. The tables below are the whole of the grammar.
"""

from __future__ import annotations

import math
import re

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_QUANTITY = re.compile(rf"^\s*({_NUMBER})\s*([A-Za-z/]*)\s*$")

KiB = 1024
MiB = 1024**2
GiB = 1024**3
TiB = 1024**4

SIZE_UNITS: dict[str, float] = {
    "B": 1,
    "KB": 1e3, "kB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "PB": 1e15,
    "KiB": KiB, "MiB": MiB, "GiB": GiB, "TiB": TiB, "PiB": 1024**5,
    "bit": 1 / 8, "Kbit": 1e3 / 8, "kbit": 1e3 / 8, "Mbit": 1e6 / 8, "Gbit": 1e9 / 8,
    "Tbit": 1e12 / 8,
}
TIME_UNITS: dict[str, float] = {
    "us": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0,
    "y": 365 * 86400.0,  # a 365-day year, for MTBFs
    "month": 365 * 86400.0 / 12,  # a twelfth of that year (730 h), for monthly prices
}
POWER_UNITS: dict[str, float] = {"W": 1.0, "kW": 1e3, "MW": 1e6}
MASS_UNITS: dict[str, float] = {"g": 1.0, "kg": 1e3, "t": 1e6}  # grams
ENERGY_UNITS: dict[str, float] = {"Wh": 1e-3, "kWh": 1.0, "MWh": 1e3}  # kilowatt-hours

DURATION_HINT = ("a duration such as 250ms, 2s, 10min, 4h, 2d or 3y (a bare number is "
                 "seconds)")
SIZE_HINT = "a size such as 512MiB, 4GiB or 2TB (a bare number is bytes)"
RATE_HINT = "a rate such as 0.5/s, 30/min or 100/h (a bare number is per second)"
BANDWIDTH_HINT = "a bandwidth such as 10Gbit/s or 200MB/s (a bare number is bytes per second)"
POWER_HINT = "a power such as 55W or 1.2kW (a bare number is watts)"
PRICE_HINT = ("a price per time such as 1.20/h or 876/month (a bare number is per second; "
              "any currency)")
ENERGY_PRICE_HINT = "a price per energy such as 0.12/kWh (a bare number is per kWh)"
INTENSITY_HINT = ("a carbon intensity such as 350g/kWh or 0.35kg/kWh (a bare number is grams "
                  "of CO2e per kWh)")
MASS_HINT = "a mass such as 1500kg or 1.5t (a bare number is kilograms)"


class UnitError(ValueError):
    """A quantity that could not be read; the message says what would be right."""


def _split(text: object, hint: str) -> tuple[float, str]:
    if isinstance(text, bool):
        raise UnitError(f"expected {hint} (got {text!r})")
    if isinstance(text, (int, float)):
        try:
            return float(text), ""
        except OverflowError:
            raise UnitError(f"expected {hint} (got a number of {len(str(text))} digits)") \
                from None
    if not isinstance(text, str):
        raise UnitError(f"expected {hint} (got {text!r})")
    match = _QUANTITY.match(text)
    if not match:
        raise UnitError(f"expected {hint} (got {text!r})")
    return float(match.group(1)), match.group(2)


# The largest quantities the model represents: far beyond any real host, registry or
# simulated window, and small enough that sums and products of them stay finite floats.
MAX_SECONDS = 1e12  # about 31,700 years
MAX_BYTES = float(2**60)  # 1 EiB
MAX_RATE = 1e9  # per second
MAX_BANDWIDTH = 1e15  # bytes per second (8 Pbit/s)
MAX_WATTS = 1e7  # 10 MW: a whole data hall, far beyond one host


def _check(value: float, text: object, hint: str, allow_zero: bool = True,
           limit: float = math.inf, shown: str = "") -> float:
    if not math.isfinite(value):
        raise UnitError(f"expected {hint} (got {text!r})")
    if value < 0 or (value == 0 and not allow_zero):
        what = "non-negative" if allow_zero else "positive"
        raise UnitError(f"must be {what} (got {text!r})")
    if value > limit:
        raise UnitError(f"must be at most {shown} (got {text!r})")
    return value


def parse_size(text: object) -> float:
    """Bytes in ``text`` (``512MiB`` → 536870912.0)."""
    number, unit = _split(text, SIZE_HINT)
    if unit and unit not in SIZE_UNITS:
        raise UnitError(f"unknown size unit {unit!r} in {text!r}; use one of "
                        f"B, KB, MB, GB, TB, KiB, MiB, GiB, TiB")
    return _check(number * SIZE_UNITS.get(unit, 1.0), text, SIZE_HINT, limit=MAX_BYTES,
                  shown="1EiB")


def parse_duration(text: object) -> float:
    """Seconds in ``text`` (``10min`` → 600.0)."""
    number, unit = _split(text, DURATION_HINT)
    if unit and unit not in TIME_UNITS:
        raise UnitError(f"unknown duration unit {unit!r} in {text!r}; use one of "
                        f"ms, s, min, h, d")
    return _check(number * TIME_UNITS.get(unit, 1.0), text, DURATION_HINT,
                  limit=MAX_SECONDS, shown="1e12s (about 31,700 years)")


def _per_second(text: object, hint: str) -> float:
    """A number per time unit in ``text`` (``30/min``), per second, at most ``MAX_RATE``."""
    number, unit = _split(text, hint)
    if unit:
        if not unit.startswith("/") or unit[1:] not in TIME_UNITS:
            raise UnitError(f"expected {hint} (got {text!r})")
        number /= TIME_UNITS[unit[1:]]
    return _check(number, text, hint, limit=MAX_RATE, shown="1e9/s")


def parse_rate(text: object) -> float:
    """Events per second in ``text`` (``30/min`` → 0.5)."""
    return _per_second(text, RATE_HINT)


def parse_bandwidth(text: object, allow_zero: bool = False) -> float:
    """Bytes per second in ``text`` (``10Gbit/s`` → 1.25e9)."""
    number, unit = _split(text, BANDWIDTH_HINT)
    if unit:
        size_unit, slash, time_unit = unit.partition("/")
        if not slash or size_unit not in SIZE_UNITS or time_unit not in TIME_UNITS:
            raise UnitError(f"expected {BANDWIDTH_HINT} (got {text!r})")
        number = number * SIZE_UNITS[size_unit] / TIME_UNITS[time_unit]
    return _check(number, text, BANDWIDTH_HINT, allow_zero=allow_zero, limit=MAX_BANDWIDTH,
                  shown="1e15B/s (8Pbit/s)")


def parse_data_rate(text: object) -> float:
    """Bytes per second in ``text``, 0 allowed (what a VM writes to its memory: ``50MB/s``)."""
    return parse_bandwidth(text, allow_zero=True)


def parse_power(text: object) -> float:
    """Watts in ``text`` (``1.2kW`` → 1200.0)."""
    number, unit = _split(text, POWER_HINT)
    if unit and unit not in POWER_UNITS:
        raise UnitError(f"unknown power unit {unit!r} in {text!r}; use W or kW")
    return _check(number * POWER_UNITS.get(unit, 1.0), text, POWER_HINT, limit=MAX_WATTS,
                  shown="10MW")


def parse_price(text: object) -> float:
    """Money per second in ``text`` (``36/h`` → 0.01): a rate whose unit is a time."""
    return _per_second(text, PRICE_HINT)


def _per_energy(text: object, hint: str, over: dict[str, float]) -> float:
    """``number[over-unit]/<energy unit>`` in ``text``, per kWh (``over``: the numerator's
    units, empty for money)."""
    number, unit = _split(text, hint)
    if unit:
        head, slash, tail = unit.partition("/")
        if not slash or tail not in ENERGY_UNITS or (head not in over if over else head):
            raise UnitError(f"expected {hint} (got {text!r})")
        number = number * (over[head] if over else 1.0) / ENERGY_UNITS[tail]
    return _check(number, text, hint, limit=MAX_RATE, shown="1e9 per kWh")


def parse_energy_price(text: object) -> float:
    """Money per kWh in ``text`` (``0.12/kWh`` → 0.12; ``120/MWh`` → 0.12)."""
    return _per_energy(text, ENERGY_PRICE_HINT, {})


def parse_intensity(text: object) -> float:
    """Grams of CO2e per kWh in ``text`` (``0.35kg/kWh`` → 350.0)."""
    return _per_energy(text, INTENSITY_HINT, MASS_UNITS)


def parse_mass(text: object) -> float:
    """Kilograms in ``text`` (``1.5t`` → 1500.0)."""
    number, unit = _split(text, MASS_HINT)
    if unit and unit not in MASS_UNITS:
        raise UnitError(f"unknown mass unit {unit!r} in {text!r}; use g, kg or t")
    return _check(number * MASS_UNITS[unit] / 1e3 if unit else number, text, MASS_HINT,
                  limit=1e12, shown="1e12kg")


def format_size(n_bytes: float) -> str:
    """``format_size(1.5 * GiB)`` → ``'1.5GiB'``; a size that is a round number of decimal
    units, as a scenario writes ``50MB``, in those units (``'50MB'``, not ``'47.68MiB'``)."""
    for unit, factor in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        count = n_bytes / factor
        if 1 <= abs(count) < 1e4 and count == round(count, 2) and not _binary_round(n_bytes):
            return f"{count:.4g}{unit}"  # (not 2.152e+07kB: past 9999 of a unit, .4g would)
    for unit, factor in (("TiB", TiB), ("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if abs(n_bytes) >= factor:
            return f"{n_bytes / factor:.4g}{unit}"
    return f"{n_bytes:.4g}B"


def _binary_round(n_bytes: float) -> bool:
    """Whether ``n_bytes`` is a round number of its binary unit (``512MiB``, ``2.5GiB``)."""
    factor = next((f for f in (TiB, GiB, MiB, KiB) if abs(n_bytes) >= f), None)
    return factor is not None and n_bytes / factor == round(n_bytes / factor, 2)


def format_bandwidth(bytes_per_second: float) -> str:
    """``format_bandwidth(21e6)`` → ``'21MB/s'`` (decimal units, as runtimes are quoted)."""
    for unit, factor in (("GB/s", 1e9), ("MB/s", 1e6), ("kB/s", 1e3)):
        if abs(bytes_per_second) >= factor:
            return f"{bytes_per_second / factor:.4g}{unit}"
    return f"{bytes_per_second:.4g}B/s"


def format_duration(seconds: float) -> str:
    """``format_duration(90)`` → ``'1.5min'``; short values in ms, days only from two days
    (28 h reads as ``28h``, not ``1.167d``)."""
    if seconds == 0:
        return "0s"
    for unit, factor, above in (("d", 86400.0, 172800.0), ("h", 3600.0, 3600.0),
                                ("min", 60.0, 60.0), ("s", 1.0, 1.0)):
        if abs(seconds) >= above:
            return f"{seconds / factor:.4g}{unit}"
    return f"{seconds * 1e3:.4g}ms"


def format_value(value: float | None, kind: str) -> str:
    """A metric for people: ``kind`` is ``time`` (seconds), ``percent`` (a fraction),
    ``size`` (bytes), ``count`` or ``number``; None shows as ``-``."""
    if value is None or math.isnan(value):
        return "-"
    if kind == "time":
        return format_duration(value)
    if kind == "percent":
        return f"{100 * value:.2f} %"
    if kind == "size":
        return format_size(value)
    if kind == "count" and float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.1f}"


QUANTITY_HINT = ("a number, or a quantity with its unit: a duration (2s), a size (512MiB), a "
                 "rate (0.5/s), a bandwidth (200MB/s), a power (55W), a mass (1500kg), a "
                 "price per energy (0.12/kWh) or a carbon intensity (350g/kWh)")


def parse_quantity(text: object) -> tuple[float, str]:
    """A value of any kind written in a scenario, in canonical units, with its kind read from
    the unit: ``('duration', 'size', 'rate', 'bandwidth')``, or ``'number'`` for a bare number
    (which every kind reads in canonical units). ``'2s'`` → ``(2.0, 'duration')``."""
    number, unit = _split(text, QUANTITY_HINT)
    if not math.isfinite(number):
        raise UnitError(f"expected {QUANTITY_HINT} (got {text!r})")
    if not unit:
        return number, "number"
    if unit in TIME_UNITS:
        return parse_duration(text), "duration"
    if unit in SIZE_UNITS:
        return parse_size(text), "size"
    if unit in POWER_UNITS:
        return parse_power(text), "power"
    if unit in MASS_UNITS:
        return parse_mass(text), "mass"
    head, slash, tail = unit.partition("/")
    if slash and tail in ENERGY_UNITS:
        if not head:
            return parse_energy_price(text), "energy price"
        return parse_intensity(text), "carbon intensity"
    if slash and not head and tail in TIME_UNITS:
        return parse_rate(text), "rate"
    if slash and head in SIZE_UNITS and tail in TIME_UNITS:
        return parse_bandwidth(text), "bandwidth"
    raise UnitError(f"unknown unit {unit!r} in {text!r}: expected {QUANTITY_HINT}")
