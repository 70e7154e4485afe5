"""Capacity planning: the smallest number of hosts in a group that meets every SLO, per
isolation mode, searched by bracketing then bisection with replications per candidate.

Owns: judging a candidate (it passes only when each SLO, ``sim.spec.slo``, holds at the
pessimistic end of its 95 % confidence interval), the search, and N+K headroom (the answer
still meets the SLOs with K hosts lost: the SLOs are judged on n - K hosts). Assumes the
metrics improve, or stay, as hosts are added. Must not: print or write files.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from sim.analysis.aggregate import mean_metrics
from sim.analysis.dotted import flatten, metric_value
from sim.edge.loader import Loaded
from sim.experiment.expand import RunSpec, apply
from sim.run.results import RunOutput
from sim.spec.config import Scenario
from sim.spec.slo import SLO

T = TypeVar("T")  # what comes after a search (``following``)


@dataclass
class Probe:
    """One candidate host count, with its replications' metrics and the verdict."""

    hosts: int
    metrics: dict[str, Any]
    passed: bool
    failed: list[str] = field(default_factory=list)
    replications: int = 0  # judged on (fewer than asked for: its failure was certain)


def probe_specs(loaded: Loaded, mode: str, group: int, hosts: int, replications: int,
                seed: int) -> list[RunSpec]:
    """The runs judging ``hosts`` hosts in group ``group`` under ``mode`` (an elastic
    group's baseline: its ``count`` and ``autoscale.min``)."""
    base = loaded.scenario
    groups = list(base.hosts)
    sized = groups[group]
    update: dict[str, Any] = {"count": hosts}
    if sized.autoscale is not None:  # an elastic group: the baseline it keeps, and starts at
        scale = sized.autoscale
        update["autoscale"] = scale.model_copy(update={"min": hosts,
                                                       "max": max(scale.max, hosts)})
    groups[group] = sized.model_copy(update=update)
    scenario: Scenario = base.model_copy(update={"hosts": groups, "compare": None,
                                                 "sweep": None, "replications": 1})
    scenario = apply(scenario, {"isolation": mode})
    path = f"hosts[{base.hosts[group].group}].count"
    return [RunSpec(mode, (("isolation", mode),), ((path, hosts),), scenario, loaded.profiles,
                    seed, r) for r in range(replications)]


def _censored_beyond(slo: SLO, flat: dict[str, Any]) -> bool:
    """Start-up and wait statistics cover requests that started. A request still waiting at
    the end that has already waited longer than the SLO's limit is a violation the statistic
    does not see; when more of them than the statistic may ignore (1 % for a p99, none for a
    mean or max), the SLO fails. One that arrived less than the limit before the end has not
    violated it (yet): a start-up longer than 1 % of the window is no failure of the hosts.
    The share older than the limit is read from the pending requests' age quantiles,
    rounded up (``pending_age_s``: at most 5 % older when p95 is within the limit)."""
    family, _, stat = slo.metric.partition(".")
    if family not in ("startup_s", "wait_s") or not flat.get("requests"):
        return False
    pending = (flat.get("pending_at_end") or 0) / flat["requests"]
    allowed = 1.0 - int(stat[1:]) / 100.0 if stat.startswith("p") else 0.0
    if pending <= allowed:
        return False
    older = 1.0  # without ages (results from before they were kept): all of them
    for level, share in (("max", 0.0), ("p99", 0.01), ("p95", 0.05), ("p50", 0.5)):
        age = flat.get(f"pending_age_s.{level}")
        if age is not None and age <= slo.limit:
            older = share
            break
    return pending * older > allowed


def judge(outputs: list[RunOutput], slos: list[SLO], hosts: int) -> Probe:
    """Average the replications and judge every SLO."""
    metrics = mean_metrics(outputs)
    flat = flatten({k: v for k, v in metrics.items() if k != "ci95"})
    ci = metrics.get("ci95", {})
    failed = [s.text for s in slos if _censored_beyond(s, flat)
              or not s.holds(flat.get(s.metric), ci.get(s.metric))]
    return Probe(hosts, metrics, not failed, failed, len(outputs))


def doomed(outputs: list[RunOutput], slos: list[SLO], missing: int = 1) -> bool:
    """Whether a probe judged on these replications and ``missing`` more fails whatever
    those give: for some SLO, the pessimistic end of its 95 % interval over all of them, at
    its best over the values the missing ones could take, is still past the limit (then
    ``judge`` on these alone fails too: their interval is wider, or, on one replication,
    that value itself is past the limit). The end (the mean plus or minus Student's t times
    the standard error) is convex in the missing values and the same under any order of
    them, so it is at its best where they are all equal: one value to minimise over. Exact,
    not a guess: the answer of a search that skips the missing replications of such a probe
    is the same."""
    from scipy.optimize import minimize_scalar

    from sim.analysis.aggregate import ci95_half_width

    for slo in slos:
        values = [metric_value(out.metrics, slo.metric) for out in outputs]
        if not values or any(v is None or not math.isfinite(v) for v in values):
            continue
        known = np.asarray(values, dtype=float)
        upper = slo.op in ("<=", "<")  # the pessimistic end is mean + h (else mean - h)

        def best(x: float, known: np.ndarray = known, upper: bool = upper) -> float:
            every = np.append(known, np.full(missing, x))
            h = ci95_half_width(every)
            return float(every.mean() + h) if upper else -float(every.mean() - h)

        spread = float(np.ptp(known)) + abs(float(known.mean())) + 1.0
        found = minimize_scalar(best, bracket=(known.mean() - spread, known.mean() + spread),
                                options={"xtol": 1e-12})
        end = found.fun if upper else -found.fun
        slack = 1e-9 * max(abs(slo.limit), 1.0)  # past the rounding of the arithmetic
        if (end > slo.limit + slack) if upper else (end < slo.limit - slack):
            return True
    return False


def decided(outputs: list[RunOutput], slos: list[SLO], hosts: int, replications: int
            ) -> Probe | None:
    """The verdict on ``hosts`` from the fewest of a probe's first replications (``outputs``,
    in the order of their replications, of ``replications`` in all) that decide it, else None
    (more are needed): a failure no values of the others can undo (``doomed``), exact, the
    verdict on all. It depends on the replications alone, not on how many ran, or ran at
    once: a probe whose replications all ran is judged the same way.

    A pass is never decided so: on two replications, even one at the pessimistic end of
    their own interval (Student's t of 12.7, against 4.3 for three) can be undone by the
    third, since a start-up p99 over replications is heavy-tailed (the web farm's plan: 27
    hosts at 12.2 s on two, 43.1 s on three)."""
    for k in range(1, min(len(outputs), replications - 1) + 1):
        if doomed(outputs[:k], slos, replications - k):
            return judge(outputs[:k], slos, hosts)
    return None


def levelled_off(before: Probe, after: Probe, slos: list[SLO], tolerance: float = 0.01
                 ) -> bool:
    """Whether doubling the hosts from ``before`` to ``after`` left every failing SLO's
    metric where it was (within 1 %), and started no more of the requests: more hosts will
    not meet it."""
    failing = [s for s in slos if s.text in after.failed]
    if not failing:
        return False
    if (after.metrics.get("pending_at_end") or 0) < (before.metrics.get("pending_at_end") or 0):
        return False  # more requests started: a statistic of those started hides the gain
    for slo in failing:
        a = metric_value(before.metrics, slo.metric)
        b = metric_value(after.metrics, slo.metric)
        if a is None or b is None:
            return False
        if abs(b - a) > tolerance * max(abs(a), abs(b), 1e-12):
            return False
    return True


def _twice(step: int, hosts: int) -> int | None:
    """A near search's next step: twice ``step`` while that is within a tenth of ``hosts``
    (or 2 hosts), else None: from there on, double or halve (a mode far from the last answer,
    or unable to meet the SLO, is bracketed as from afar)."""
    return 2 * step if 2 * step <= max(2, hosts // 10) else None


def _down(hi: int, step: int | None) -> tuple[int, int | None]:
    """The next count below passing ``hi`` to probe, and the step after: half of it, or
    ``step`` hosts fewer (at most half)."""
    if step is None:
        return max(hi // 2, 1), None
    return max(hi - min(step, hi // 2), 1), _twice(step, hi)


def _up(lo: int, step: int | None, max_hosts: int) -> tuple[int, int | None]:
    """The next count above failing ``lo`` to probe, and the step after: twice it, or
    ``step`` hosts more (at most twice); never past ``max_hosts``."""
    if step is None:
        return min(lo * 2, max_hosts), None
    return min(lo + min(step, lo), max_hosts), _twice(step, lo)


def search(evaluate: Callable[[int], Probe], start: int, max_hosts: int,
           stalled: Callable[[Probe, Probe], bool] | None = None, floor: int = 0,
           near: bool = False) -> tuple[int | None, dict[int, Probe]]:
    """The smallest n in [1, max_hosts] whose probe passes, assuming passing is monotone in n:
    from ``start``, bracket the answer, then bisect. A ``start`` far from the answer (an
    analytic lower bound) is bracketed by doubling or halving; one ``near`` it (the answer of
    a similar mode) by steps of 1, 2, 4, ... hosts away from it, each twice the last while
    within a tenth of the count, then by doubling or halving, so that an answer d hosts away
    costs about 2 log2(d) probes, not log2(n). The upward search gives up (None) at
    ``max_hosts`` or when ``stalled(previous, current)`` says that doubling the hosts no
    longer moves the failing metrics (judged from each failing count to the first at least
    twice it). Counts up to ``floor`` are known to fail and are not probed."""
    probes: dict[int, Probe] = {}

    def passes(n: int) -> bool:
        if n <= floor:
            return False
        if n not in probes:
            probes[n] = evaluate(n)
        return probes[n].passed

    n = min(max(start, 1), max_hosts)
    step = 1 if near else None  # None: double or halve
    if passes(n):
        hi, lo = n, 0
        while lo == 0 and hi > 1:
            candidate, step = _down(hi, step)
            if passes(candidate):
                hi = candidate
            else:
                lo = candidate
    else:
        lo, hi = n, 0
        since = n  # the failing count the next doubling is measured from
        while hi == 0:
            if lo >= max_hosts:
                return None, probes
            candidate, step = _up(lo, step, max_hosts)
            if passes(candidate):
                hi = candidate
            else:
                if stalled is not None and candidate >= 2 * since:  # twice the hosts
                    if stalled(probes[since], probes[candidate]):
                        return None, probes
                    since = candidate
                lo = candidate
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if passes(mid):
            hi = mid
        else:
            lo = mid
    return hi, probes


class _Next(Exception):
    """A replayed search reached a count it has no verdict for (``following``)."""

    def __init__(self, hosts: int) -> None:
        super().__init__(hosts)
        self.hosts = hosts


def following(again: Callable[[Callable[[int], Probe]], tuple[int | None, Any]],
              made: dict[int, Probe], n: int, passed: bool,
              then: Callable[[int | None], T] | None = None) -> int | T | None:
    """The count a search would probe next were ``n``'s verdict ``passed``, given the probes
    it made before (``made``): the search is a function of its verdicts, so it is replayed
    (``again(evaluate)``) on those and stopped at the first count it has none for. Where it
    would end there instead, ``then(its answer)`` (what comes after the search), or None. A
    verdict-only probe stands for ``n``, so ``stalled`` sees no failing SLO in it."""
    def evaluate(m: int) -> Probe:
        if m == n:
            return Probe(m, {}, passed)
        if m in made:
            return made[m]
        raise _Next(m)

    try:
        answer, _ = again(evaluate)
    except _Next as nxt:
        return nxt.hosts
    return None if then is None else then(answer)


def search_ahead(evaluate: Callable[[int, Callable[[bool], Any]], Probe], start: int,
                 max_hosts: int, stalled: Callable[[Probe, Probe], bool] | None = None,
                 floor: int = 0, near: bool = False,
                 then: Callable[[int | None], Any] | None = None
                 ) -> tuple[int | None, dict[int, Probe]]:
    """``search``, with ``evaluate(n, after)`` told what the search would probe after its
    verdict on n (``after(passed)``: a count; where the search would end on that verdict,
    ``then(its answer)``, what its caller does next, or None), so that a probe can start the
    next one's first run on a process its own runs leave free. The same probes and answer."""
    made: dict[int, Probe] = {}

    def again(each: Callable[[int], Probe]) -> tuple[int | None, dict[int, Probe]]:
        return search(each, start, max_hosts, stalled, floor, near)

    def probe(n: int) -> Probe:
        made[n] = evaluate(n, lambda passed: following(again, made, n, passed, then))
        return made[n]

    return again(probe)


def likely(outputs: list[RunOutput], slos: list[SLO]) -> bool:
    """Whether a probe judged on these replications looks likely to pass: every SLO holds at
    their mean (a guess, for running ahead; the verdict is ``judge``'s)."""
    for slo in slos:
        values = [metric_value(out.metrics, slo.metric) for out in outputs]
        if any(v is None for v in values) or not slo.holds(float(np.mean(values)), None):
            return False
    return True


def cheapest(found: int, probe: Callable[[int], Probe], floor: Callable[[int], float],
             max_hosts: int) -> tuple[int, dict[int, Probe]]:
    """The count from ``found`` (the smallest that passes) up whose passing probe costs least
    (its ``cost.total``), trying each next count while ``floor(n)``, the least n hosts can
    cost, is below the best found: (that count, the probes made)."""
    probes = {found: probe(found)}
    best, best_cost = found, _total(probes[found])
    n = found + 1
    while n <= max_hosts and best_cost is not None and floor(n) < best_cost:
        probes[n] = probe(n)
        cost = _total(probes[n])
        if probes[n].passed and cost is not None and cost < best_cost:
            best, best_cost = n, cost
        n += 1
    return best, probes


def _total(probe: Probe) -> float | None:
    value = (probe.metrics.get("cost") or {}).get("total")
    return None if value is None else float(value)
