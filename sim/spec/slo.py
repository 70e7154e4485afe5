"""Service-level objectives as a scenario's ``plan:`` section writes them:
``startup_p99<=30s``, ``blocking<=1%``, ``memory_utilization_mean<=80%``.

Owns: reading an SLO (metric, comparison, limit in canonical units) and whether it holds at
the pessimistic end of a confidence interval. The metric names it accepts are given by the
caller (``sim.analysis.metrics.metric_names``). Must not: run or plan anything.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from sim.spec.units import UnitError, parse_duration

_SLO = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(<=|>=|<|>)\s*(.+?)\s*$")
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt}


class SLOError(ValueError):
    """An SLO that cannot be read or names no metric."""


@dataclass(frozen=True)
class SLO:
    """``metric op limit``, e.g. ``startup_s.p99 <= 30`` (seconds)."""

    metric: str
    op: str
    limit: float
    text: str

    def holds(self, mean: float | None, ci95: float | None) -> bool:
        """Whether the SLO holds at the pessimistic end of the confidence interval."""
        if mean is None or (isinstance(mean, float) and math.isnan(mean)):
            return False
        margin = ci95 if ci95 is not None and math.isfinite(ci95) else 0.0
        value = mean + margin if self.op in ("<=", "<") else mean - margin
        return _OPS[self.op](value, self.limit)


def metric_alias(metric: str) -> str:
    """``startup_p99`` → ``startup_s.p99``: the short names of summary metrics (any other name
    as it is)."""
    match = re.fullmatch(r"(startup|wait)_(mean|p50|p95|p99|max)", metric)
    return f"{match.group(1)}_s.{match.group(2)}" if match else metric


def parse_slo(text: str, known: set[str]) -> SLO:
    """Read ``"startup_p99<=30s"``, ``"blocking<=1%"``, ``"memory_utilization_mean<=80%"``."""
    match = _SLO.match(text)
    if not match:
        raise SLOError(f"cannot read SLO {text!r}; write METRIC<=VALUE, e.g. startup_p99<=30s "
                       "or blocking<=1%")
    metric, op, raw = match.groups()
    metric = metric_alias(metric)
    if metric not in known:
        near = [k for k in sorted(known) if metric.split(".")[0] in k][:6]
        raise SLOError(f"unknown metric {metric!r} in SLO {text!r}"
                       + (f"; did you mean one of {', '.join(near)}?" if near else
                          "; any numeric metric of summary.json (dotted) will do"))
    if raw.endswith("%"):
        try:
            limit = float(raw[:-1]) / 100.0
        except ValueError:
            raise SLOError(f"cannot read the limit {raw!r} in SLO {text!r}: write a number "
                           "before the %, e.g. blocking<=1%") from None
        if _is_time(metric):
            raise SLOError(f"{metric} is a time: give its limit as a duration (e.g. 30s), "
                           f"not the percentage {raw!r}, in SLO {text!r}")
        if math.isfinite(limit) and not 0.0 <= limit <= 1.0:
            raise SLOError(f"the limit {raw!r} in SLO {text!r} is not a share between 0% and "
                           "100%")
    else:
        try:
            limit = float(raw)
        except ValueError:
            limit = _duration(raw, text)
            if not _is_time(metric):
                raise SLOError(f"{metric} is not a time: give its limit as a number or a "
                               f"percentage, not the duration {raw!r}, in SLO {text!r}"
                               ) from None
    if not math.isfinite(limit):
        raise SLOError(f"the limit {raw!r} in SLO {text!r} is not a finite number")
    return SLO(metric, op, limit, text)


def _duration(raw: str, text: str) -> float:
    """An SLO's limit written as a duration, in seconds."""
    try:
        return parse_duration(raw)
    except UnitError as exc:
        raise SLOError(f"cannot read the limit {raw!r} in SLO {text!r}: {exc}") from None


def _is_time(metric: str) -> bool:
    """Whether a (dotted) metric is a time in seconds: a part of its name ends in ``_s``
    (``startup_s.p99``, ``phases_s.pull.mean``, ``pipelines.web.build_s``)."""
    return any(part.endswith("_s") for part in metric.split("."))
