"""What a run's numbers can be trusted for: the warnings a result carries.

Each rule is stated where it is checked, and each warning says what it found and what to do:

- ``no_arrivals``: no request arrived after the warm-up; nothing was measured.
- ``saturated``: more than 1 % of the requests were still waiting for a host at the end
  (``queued_at_end``), or the load offered is more than the hosts can hold: the pool cannot
  serve the load, and the start-up and wait statistics cover only the requests it served.
- ``load``: the load offered is above 90 % of what the hosts can hold (queues and tails grow
  without bound as it nears 100 %). Offered load: each workload's instances running at once in
  steady state (rate × mean lifetime, Little's law; a burst's count) times what one instance
  holds, per resource, over what the hosts it may use offer (after reserves and images); the
  largest share over memory, vCPU, disk and partitions.
- ``warmup``: the warm-up is shorter than MSER-5 finds in the running level
  (``sim.analysis.steady``) and the level after the stated warm-up averages more than 5 %
  away from its average after MSER-5's cut: the statistics include part of the fill. (MSER-5
  alone truncates much of a strongly autocorrelated series; the 5 % says when it matters.)
- ``short_window``: the running level has not settled within the run (MSER-5's minimum falls
  in its second half), or the measured window is shorter than three mean lifetimes: each
  instance's life is a large part of the window and the steady state is not measured.

Owns: the rules. Must not: print, or change a metric.
"""

from __future__ import annotations

import math
from typing import Any

from sim.planning.capacity import RESOURCES, capacities, expected_concurrent, sizes, trace_sizes
from sim.spec.config import ResolvedProfile, Scenario, TraceArrivals
from sim.spec.demand import demand, eligible_groups
from sim.spec.units import format_duration

QUEUED_LIMIT = 0.01  # of the requests, still waiting for a host at the end
LOAD_LIMIT = 0.9  # offered load over capacity
LIFETIMES = 3.0  # mean lifetimes a measured window should hold
WARMUP_BIAS = 0.05  # how far the level may sit from its settled average before it matters


def offered_utilization(scenario: Scenario, profiles: dict[str, ResolvedProfile]
                        ) -> float | None:
    """The largest share, over resources, of what the hosts the workloads may use offer that
    their steady-state instances ask (None: no workload may use any host)."""
    images = {img.name: img for img in scenario.images}
    asked = dict.fromkeys((*RESOURCES, "instances"), 0.0)
    pool: dict[str, Any] = {}
    for wl in scenario.workloads:
        profile = profiles[wl.isolation]
        groups = eligible_groups(list(scenario.hosts), wl, profile)
        for g in groups:
            pool[g.group] = g
        if isinstance(wl.arrival, TraceArrivals):
            parts = [(demand(wl, profile, images, cpu=c, memory=m), n)
                     for c, m, n in trace_sizes(wl, scenario)]
        else:
            parts = [(demand(wl, profile, images), expected_concurrent(wl, scenario.duration))]
        for need, n in parts:
            for r, size in sizes(need).items():
                asked[r] += size * n
    if not pool:
        return None
    names = [wl.image for wl in scenario.workloads]
    offered = dict.fromkeys(RESOURCES, 0.0)
    for g in pool.values():
        for r, cap in capacities(g, images, names).items():
            offered[r] = offered.get(r, 0.0) + max(cap, 0.0) * g.built
    if "instances" in offered and any(g.max_instances is None for g in pool.values()):
        del offered["instances"]  # a group without a limit: instances never bind
    kinds = [r for r in offered if asked.get(r, 0.0) > 0]  # instances: where a group limits
    shares = [asked[r] / offered[r] for r in kinds]
    if any(offered[r] <= 0 for r in kinds):
        return math.inf
    return max(shares, default=0.0)


def _mean_lifetime(scenario: Scenario) -> float | None:
    """The longest mean lifetime of the scenario's streaming workloads (None: none has one)."""
    from sim.experiment.rng import mean

    lives = [mean(wl.lifetime) for wl in scenario.workloads
             if wl.lifetime is not None and not isinstance(wl.arrival, TraceArrivals)]
    return max(lives) if lives else None


def warnings(scenario: Scenario, profiles: dict[str, ResolvedProfile],
             metrics: dict[str, Any]) -> list[dict[str, str]]:
    """The warnings of one variant's ``metrics`` (means over its replications) run on
    ``scenario`` (the variant's) with ``profiles``: each ``{"kind", "message"}``."""
    out = []

    def warn(kind: str, message: str) -> None:
        out.append({"kind": kind, "message": message})

    script = metrics.get("commands") or {}
    if script.get("failed"):
        warn("commands_failed", "a step of the commands script failed (no room on its host) "
                                "and the script stopped there: commands.csv says which and why")
    elif script and (script.get("finished") or 0.0) < 1.0:
        warn("commands_unfinished", "the commands script had not finished at the end of the "
                                    f"run (steps completed: {script.get('completed') or 0:g} "
                                    f"of {script.get('steps') or 0:g}): lengthen duration")
    requests = metrics.get("requests") or 0
    if requests == 0 and not scenario.workloads:  # a commands script alone
        return out
    if requests == 0:
        warn("no_arrivals", f"no request arrived after the {format_duration(scenario.warmup)} "
                            "warm-up: nothing was measured (is an arrival rate 0, or does the "
                            "warm-up cover every arrival?)")
        return out
    load = offered_utilization(scenario, profiles)
    queued = (metrics.get("queued_at_end") or 0) / requests
    if queued > QUEUED_LIMIT or (load is not None and load >= 1.0):
        why = (f"{queued:.1%} of the requests were still waiting for a host at the end"
               if queued > QUEUED_LIMIT else "")
        if load is not None and load >= 1.0:
            why += ("; " if why else "") + (
                "the steady-state load asks more than the hosts can hold" if math.isinf(load)
                else f"the steady-state load asks {load:.0%} of what the hosts can hold")
        warn("saturated", f"saturated: {why}; start-up and wait statistics cover only the "
                          "requests it served (add hosts: python -m sim plan)")
    elif load is not None and load > LOAD_LIMIT:
        warn("load", f"the steady-state load asks {load:.0%} of what the hosts can hold: "
                     "queues and start-up tails grow sharply towards 100 %")
    _maintenance_warnings(metrics, warn)
    mser = metrics.get("warmup_mser_s")
    settled = metrics.get("level_settled", 1.0)
    life = _mean_lifetime(scenario)
    window = scenario.duration - scenario.warmup
    if settled is not None and settled < 1.0:
        warn("short_window", "the number of running instances has not settled by the end of "
                             "the run (MSER-5 finds no steady state in its first half): "
                             "lengthen duration and warmup"
             + (f" (mean lifetime {format_duration(life)}, measured window "
                f"{format_duration(window)})" if life else "") + _campaign_note(scenario))
    elif life is not None and window < LIFETIMES * life:
        warn("short_window", f"the measured window, {format_duration(window)}, holds fewer "
                             f"than {LIFETIMES:g} mean lifetimes ({format_duration(life)}): "
                             "lengthen duration")
    bias = metrics.get("warmup_bias") or 0.0
    if mser is not None and settled == 1.0 and mser > scenario.warmup + 1e-9 and \
            abs(bias) > WARMUP_BIAS:
        warn("warmup", f"the warm-up, {format_duration(scenario.warmup)}, is shorter than the "
                       f"{format_duration(mser)} the running level takes to settle (MSER-5), "
                       f"and the level after it averages {abs(bias):.0%} "
                       f"{'lower' if bias < 0 else 'higher'} than after MSER's cut: the "
                       "statistics include part of the fill; set warmup to at least "
                       f"{format_duration(mser)}" + _campaign_note(scenario))
    return out


def _campaign_note(scenario: Scenario) -> str:
    """A maintenance campaign moves the running level on purpose: said beside a warm-up
    judged on it."""
    if not scenario.maintenance:
        return ""
    first = min(spec.at for spec in scenario.maintenance)
    return (f" (a maintenance campaign from {format_duration(first)} moves the level by "
            "design: judge the warm-up on the level before it)")


def _maintenance_warnings(metrics: dict[str, Any], warn: Any) -> None:
    """A campaign that did not finish, and instances it evicted that never ran again."""
    for name, found in (metrics.get("maintenance") or {}).items():
        if found.get("unfinished"):
            warn("maintenance_unfinished", f"maintenance {name} had not finished at the end "
                                           f"of the run: {found['unfinished']}")
        if found.get("not_back"):
            warn("maintenance_stranded", f"maintenance {name}: {found['not_back']:g} "
                                         "instances it evicted never ran again (no host "
                                         "took them: their image's build, or room)")
