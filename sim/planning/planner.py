"""Capacity planning: the smallest number of hosts in a group that meets every SLO, per
isolation mode, searched by bracketing then bisection with replications per candidate.

Owns: SLO parsing and judging (a candidate passes only when each SLO holds at the pessimistic
end of its 95 % confidence interval), the search, and N+K headroom (the answer still meets the
SLOs with K hosts lost: the SLOs are judged on n - K hosts). Assumes the metrics improve, or
stay, as hosts are added. Must not: print or write files.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sim.config import Scenario
from sim.experiment import RunSpec, apply
from sim.loader import Loaded
from sim.present import metric_value
from sim.results import RunOutput, flatten, mean_metrics
from sim.units import UnitError, parse_duration

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


def _alias(metric: str) -> str:
    """``startup_p99`` → ``startup_s.p99``: the issue's short names for summary metrics."""
    match = re.fullmatch(r"(startup|wait)_(mean|p50|p95|p99|max)", metric)
    return f"{match.group(1)}_s.{match.group(2)}" if match else metric


def parse_slo(text: str, known: set[str]) -> SLO:
    """Read ``"startup_p99<=30s"``, ``"blocking<=1%"``, ``"memory_utilization_mean<=80%"``."""
    match = _SLO.match(text)
    if not match:
        raise SLOError(f"cannot read SLO {text!r}; write METRIC<=VALUE, e.g. startup_p99<=30s "
                       "or blocking<=1%")
    metric, op, raw = match.groups()
    metric = _alias(metric)
    if metric not in known:
        near = [k for k in sorted(known) if metric.split(".")[0] in k][:6]
        raise SLOError(f"unknown metric {metric!r} in SLO {text!r}"
                       + (f"; did you mean one of {', '.join(near)}?" if near else
                          "; any numeric metric of summary.json (dotted) will do"))
    if raw.endswith("%"):
        limit = float(raw[:-1]) / 100.0
    else:
        try:
            limit = float(raw)
        except ValueError:
            try:
                limit = parse_duration(raw)
            except UnitError as exc:
                raise SLOError(f"cannot read the limit {raw!r} in SLO {text!r}: {exc}") from None
    return SLO(metric, op, limit, text)


@dataclass
class Probe:
    """One candidate host count, with its replications' metrics and the verdict."""

    hosts: int
    metrics: dict[str, Any]
    passed: bool
    failed: list[str] = field(default_factory=list)


def probe_specs(loaded: Loaded, mode: str, group: int, hosts: int, replications: int,
                seed: int) -> list[RunSpec]:
    """The runs judging ``hosts`` hosts in group ``group`` under ``mode``."""
    base = loaded.scenario
    groups = list(base.hosts)
    groups[group] = groups[group].model_copy(update={"count": hosts})
    scenario: Scenario = base.model_copy(update={"hosts": groups, "compare": None,
                                                 "sweep": None, "replications": 1})
    scenario = apply(scenario, {"isolation": mode})
    path = f"hosts[{base.hosts[group].group}].count"
    return [RunSpec(mode, (("isolation", mode),), ((path, hosts),), scenario, loaded.profiles,
                    seed, r) for r in range(replications)]


def _censored_beyond(slo: SLO, flat: dict[str, Any]) -> bool:
    """Start-up and wait statistics cover requests that started; when more requests were
    still waiting at the end than the statistic may ignore (1 % for a p99, any for a mean or
    max), the statistic over all requests cannot be certified, so the SLO fails."""
    family, _, stat = slo.metric.partition(".")
    if family not in ("startup_s", "wait_s") or not flat.get("requests"):
        return False
    pending = (flat.get("pending_at_end") or 0) / flat["requests"]
    allowed = 1.0 - int(stat[1:]) / 100.0 if stat.startswith("p") else 0.0
    return pending > allowed


def judge(outputs: list[RunOutput], slos: list[SLO], hosts: int) -> Probe:
    """Average the replications and judge every SLO."""
    metrics = mean_metrics(outputs)
    flat = flatten({k: v for k, v in metrics.items() if k != "ci95"})
    ci = metrics.get("ci95", {})
    failed = [s.text for s in slos if _censored_beyond(s, flat)
              or not s.holds(flat.get(s.metric), ci.get(s.metric))]
    return Probe(hosts, metrics, not failed, failed)


def levelled_off(before: Probe, after: Probe, slos: list[SLO], tolerance: float = 0.01
                 ) -> bool:
    """Whether doubling the hosts from ``before`` to ``after`` left every failing SLO's
    metric where it was (within 1 %): more hosts will not meet it."""
    failing = [s for s in slos if s.text in after.failed]
    if not failing:
        return False
    for slo in failing:
        a = metric_value(before.metrics, slo.metric)
        b = metric_value(after.metrics, slo.metric)
        if a is None or b is None:
            return False
        if abs(b - a) > tolerance * max(abs(a), abs(b), 1e-12):
            return False
    return True


def search(evaluate: Callable[[int], Probe], start: int, max_hosts: int,
           stalled: Callable[[Probe, Probe], bool] | None = None) -> tuple[
        int | None, dict[int, Probe]]:
    """The smallest n in [1, max_hosts] whose probe passes, assuming passing is monotone in n:
    from ``start``, double (or halve) to bracket the answer, then bisect. The upward search
    gives up (None) at ``max_hosts`` or when ``stalled(previous, current)`` says that
    doubling no longer moves the failing metrics."""
    probes: dict[int, Probe] = {}

    def passes(n: int) -> bool:
        if n not in probes:
            probes[n] = evaluate(n)
        return probes[n].passed

    n = min(max(start, 1), max_hosts)
    if passes(n):
        hi, lo = n, 0
        while lo == 0 and hi > 1:
            candidate = max(hi // 2, 1)
            if passes(candidate):
                hi = candidate
            else:
                lo = candidate
    else:
        lo, hi = n, 0
        while hi == 0:
            if lo >= max_hosts:
                return None, probes
            candidate = min(lo * 2, max_hosts)
            if passes(candidate):
                hi = candidate
            else:
                if stalled is not None and stalled(probes[lo], probes[candidate]):
                    return None, probes
                lo = candidate
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if passes(mid):
            hi = mid
        else:
            lo = mid
    return hi, probes
