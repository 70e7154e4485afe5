"""Metrics for people: how each metric of ``summary.json`` is shown, with its confidence
half-width. Shared by the terminal tables, the planner's output and the report.

Owns: the kind of each metric (time, percent, size, count, number) and its formatting.
Must not: compute statistics.
"""

from __future__ import annotations

import math
from typing import Any

from sim.analysis.dotted import metric_value
from sim.spec.units import format_value

COUNTS = {"requests", "started", "rejected", "pending_at_end", "queued_at_end", "running_peak",
          "density_max", "hosts_used_max", "faults", "restarts", "density_physical_max",
          "steps", "failed", "waves", "waves_done", "hosts_done", "migrations", "not_back"}
FRACTIONS = {"blocking", "memory_utilization_mean", "waited_fraction", "availability",
             "offered_utilization", "finished"}


def metric_kind(metric: str) -> str:
    """How a (dotted) metric of ``summary.json`` is shown: time, percent, size, count, number."""
    parts = metric.split(".")
    head = parts[-1] if parts[0] in ("pipelines", "maintenance") and len(parts) > 2 \
        else parts[0]
    if parts[0] == "commands" and len(parts) > 1:  # a script's: step_s.3, finished
        head = parts[1]
    if head in ("bytes_pulled", "bytes_moved"):
        return "size"
    if head.endswith("_bps"):
        return "number"
    if head in ("capacity_dip",):
        return "percent"
    if head in ("runs", "completed"):
        return "count"
    if head.endswith("_s"):
        return "time"
    if head in FRACTIONS:
        return "percent"
    if head.endswith("_bytes"):
        return "size"
    return "count" if head in COUNTS else "number"


Unit = tuple[str, float]  # a row's unit: its name and what one of it is in canonical units

TIME_UNITS: list[Unit] = [("h", 3600.0), ("min", 60.0), ("s", 1.0), ("ms", 1e-3)]
SIZE_UNITS: list[Unit] = [("TiB", 1024.0**4), ("GiB", 1024.0**3), ("MiB", 1024.0**2),
                          ("KiB", 1024.0), ("B", 1.0)]


def row_unit(values: list[Any], metric: str) -> Unit | None:
    """One unit for a row of ``metric``'s values (times and sizes; None for the rest): the
    largest in which the smallest value above 0 is at least 1 (2 for hours), unless the
    largest would then need five digits or more, so a row reads ``51.26 | 137.4 | 218.2`` in
    s, not ``51.26s | 2.29min | 3.636min``."""
    kind = metric_kind(metric)
    units = TIME_UNITS if kind == "time" else SIZE_UNITS if kind == "size" else None
    numbers = [abs(v) for v in values
               if isinstance(v, (int, float)) and math.isfinite(v) and v != 0]
    if units is None or not numbers:
        return None
    least, top = min(numbers), max(numbers)
    at = next((i for i, (name, factor) in enumerate(units)
               if least >= factor * (2.0 if name == "h" else 1.0)), len(units) - 1)
    while at > 0 and top / units[at][1] >= 1e4:
        at -= 1
    return units[at]


def unit_label(label: str, unit: Unit | None) -> str:
    """A row's or column's label with its ``row_unit`` named after it: ``start-up p99 (s)``."""
    return label + (f" ({unit[0]})" if unit else "")


def _in(value: float, unit: Unit | None, kind: str) -> str:
    if unit is None:
        return format_value(value, kind)
    number = value / unit[1]
    return f"{number:.4g}" if abs(number) < 1e4 else f"{number:,.0f}"


def show(metrics: dict[str, Any], metric: str, unit: Unit | None = None) -> str:
    """A variant's metric for people, ± its 95 % confidence half-width when known; in
    ``unit`` (``row_unit``) without a unit after each number when one is given."""
    kind = metric_kind(metric)
    value = metric_value(metrics, metric)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    text = _in(value, unit, kind)
    ci = (metrics.get("ci95") or {}).get(metric)
    # a half-width below a billionth of the value is rounding between equal runs, not spread
    if ci is not None and isinstance(ci, float) and math.isfinite(ci) \
            and ci > 1e-9 * abs(value):
        low, high = interval(value, ci, kind)
        if low is None or high is None:
            text += " ± " + (_in(ci, unit, kind) if unit else
                             format_value(ci, "number" if kind == "count" else kind))
        else:  # the symmetric interval would leave the quantity's domain: say where it ends
            text += f" (95 % CI {_in(low, unit, kind)} to {_in(high, unit, kind)})"
    return text


def show_in(metrics: dict[str, Any], metric: str, unit: Unit | None) -> str:
    """``show`` with the unit named after the number (``3.9 min``), for a row whose label
    has no room for it; ``-`` alone where there is no number."""
    text = show(metrics, metric, unit)
    return text + (f" {unit[0]}" if unit and text != "-" else "")


def band_text(metrics: dict[str, Any], metric: str) -> str:
    """`` [p5 to p95]`` of ``metric`` over the sampled assumptions (``run --uncertainty``),
    or nothing when there are none."""
    found = (metrics.get("uncertainty") or {}).get(metric)
    if not found:
        return ""
    kind = metric_kind(metric)
    return f" [{format_value(found['p5'], kind)} to {format_value(found['p95'], kind)}]"


def interval(value: Any, ci: float, kind: str) -> tuple[float | None, float | None]:
    """(None, None) when ``value ± ci`` stays within what the quantity can be; else the
    interval cut to it: a time, size or count is at least 0, a fraction between 0 and 1."""
    if not isinstance(value, (int, float)) or kind == "number":
        return None, None
    low, high = value - ci, value + ci
    top = 1.0 if kind == "percent" else math.inf
    if low >= 0 and high <= top:
        return None, None
    return max(low, 0.0), min(high, top)


def workload_rows(variants: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    """(label, metric) of each workload's start-up p50 and p99, for the tables that show
    ``summary.json``'s ``variants``; none unless the scenario has several workloads (only then
    does ``startup_by_workload_s`` exist)."""
    names = dict.fromkeys(w for m in variants.values()
                          for w in (m.get("startup_by_workload_s") or {}))
    return [(f"start-up {stat}, {name}", f"startup_by_workload_s.{name}.{stat}")
            for name in names for stat in ("p50", "p99")]
