"""What a run's numbers can be trusted for: the warnings a result carries.

Each rule is stated where it is checked, and each warning says what it found and what to do:

- ``no_arrivals``: no request arrived after the warm-up; nothing was measured.
- ``saturated``: more than 1 % of the requests were still waiting for a host or a start
  slot at the end (``queued_at_end``), or the load offered is more than the hosts can hold:
  the pool cannot serve the load, and the start-up and wait statistics cover only the
  requests it served.
- ``load``: the load offered is above 90 % of what the hosts can hold (queues and tails grow
  without bound as it nears 100 %). Offered load: each workload's instances running at once in
  steady state (rate × mean lifetime, Little's law; a burst's count) times what one instance
  holds, per resource, over what the hosts it may use offer (after reserves and images), and a
  stream's requests per second times the least a start-up holds a start slot, over the start
  slots; the largest share over memory, vCPU, disk, partitions and start slots, and over each
  set of host groups some workloads are held to (each set of workloads must fit in the groups
  it may use).
- ``warmup``: the warm-up is shorter than MSER-5 finds in the running level
  (``sim.analysis.steady``) and the level after the stated warm-up averages more than 5 %
  away from its average after MSER-5's cut: the statistics include part of the fill. (MSER-5
  alone truncates much of a strongly autocorrelated series; the 5 % says when it matters.)
  Not said beside ``short_window``: a level that is no steady state yet has no warm-up to
  advise.
- ``short_window``: the running level has not settled within the run (MSER-5's minimum falls
  in its second half), or the measured window is shorter than three mean lifetimes: each
  instance's life is a large part of the window and the steady state is not measured.

Owns: the rules. Must not: print, or change a metric.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

from sim.planning.capacity import (
    RESOURCES,
    arrival_rate,
    capacities,
    expected_concurrent,
    sizes,
    start_seconds,
    trace_sizes,
)
from sim.spec.config import ResolvedProfile, Scenario, TraceArrivals
from sim.spec.demand import carriers, demand, eligible_groups
from sim.spec.units import format_duration

QUEUED_LIMIT = 0.01  # of the requests, still waiting for a host or a start slot at the end
LOAD_LIMIT = 0.9  # offered load over capacity
LIFETIMES = 3.0  # mean lifetimes a measured window should hold
WARMUP_BIAS = 0.05  # how far the level may sit from its settled average before it matters


@dataclass(frozen=True)
class Load:
    """The load offered against what the hosts hold: ``share`` of ``resource`` (memory, cpu,
    disk, partitions, instances or starts) in the host ``groups`` some workloads are
    confined to (``everywhere``: they are every group the workloads may use)."""

    share: float
    resource: str
    groups: tuple[str, ...]
    workloads: tuple[str, ...]
    everywhere: bool

    def said(self) -> str:
        """What the load asks, in words: 'N% of what the hosts can hold', and where when
        that is not everywhere."""
        hosts = "the hosts" if self.everywhere else (
            f"host group{'s' if len(self.groups) > 1 else ''} {', '.join(self.groups)}")
        what = (f"{hosts}' start slots (max_concurrent_starts)" if self.resource == "starts"
                else f"what {hosts} can hold")
        held = "" if self.everywhere else (f" ({', '.join(self.workloads)} may use no other)")
        share = "more than" if math.isinf(self.share) else f"{self.share:.0%} of"
        return f"the steady-state load asks {share} {what}{held}"


def offered_load(scenario: Scenario, profiles: dict[str, ResolvedProfile]) -> Load | None:
    """The largest share, over resources and over each set of host groups that some
    workloads are held to (by ``host_groups``, or a profile's), of what those groups offer
    that those workloads' steady-state instances ask (None: no workload may use any host).
    Each set of workloads must fit in the groups it may use: pooled over every group, a
    workload held to a small group looked light beside the room of the others. Start slots
    count too: a stream's requests per second times the least a start-up holds one
    (``capacity.start_seconds``)."""
    images = {img.name: img for img in scenario.images}
    pool: dict[str, Any] = {}
    confined: list[tuple[frozenset[str], str, dict[str, float]]] = []
    for wl in scenario.workloads:
        profile = profiles[wl.isolation]
        groups = eligible_groups(list(scenario.hosts), wl, profile)
        pool.update((g.group, g) for g in groups)
        if isinstance(wl.arrival, TraceArrivals):
            parts = [(demand(wl, profile, images, cpu=c, memory=m), n)
                     for c, m, n in trace_sizes(wl, scenario)]
        else:
            parts = [(demand(wl, profile, images), expected_concurrent(wl, scenario.duration))]
        asked = dict.fromkeys((*RESOURCES, "instances", "starts"), 0.0)
        for need, n in parts:
            for r, size in sizes(need).items():
                asked[r] += size * n
        asked["starts"] = (arrival_rate(wl) or 0.0) * start_seconds(wl, profile)
        if groups:  # a workload no host may take is told by the checks, not here
            confined.append((frozenset(g.group for g in groups), wl.name, asked))
    if not pool:
        return None
    names = [wl.image for wl in scenario.workloads]
    # every group an instance could be placed on: a load held to fewer names its groups
    placeable = frozenset(g.group for g in scenario.hosts) - carriers(list(scenario.hosts))
    loads = [_load(union, [(name, a) for held, name, a in confined if held <= union], pool,
                   images, names, placeable)
             for union in _unions([held for held, _, _ in confined])]
    return max(loads, key=lambda load: load.share)


def offered_utilization(scenario: Scenario, profiles: dict[str, ResolvedProfile]
                        ) -> float | None:
    """``offered_load``'s share (None: no workload may use any host)."""
    load = offered_load(scenario, profiles)
    return None if load is None else load.share


def _unions(sets: list[frozenset[str]]) -> list[frozenset[str]]:
    """Every union of some of ``sets`` (the host groups each workload may use): where a set of
    workloads is held, in sorted order; beyond ``_MAX_SETS`` distinct sets, each alone and
    all of them together."""
    distinct = sorted(set(sets), key=sorted)
    if len(distinct) > _MAX_SETS:
        return [*distinct, frozenset().union(*distinct)]
    unions = {frozenset().union(*chosen) for k in range(1, len(distinct) + 1)
              for chosen in itertools.combinations(distinct, k)}
    return sorted(unions, key=lambda u: (len(u), sorted(u)))


_MAX_SETS = 10  # distinct sets of host groups whose every union is weighed (1,023 unions)


def _load(union: frozenset[str], asked: list[tuple[str, dict[str, float]]],
          pool: dict[str, Any], images: dict[str, Any], names: list[str],
          placeable: frozenset[str]) -> Load:
    """The load the workloads held to the host groups ``union`` (``asked``: each one's name
    and steady-state demand per resource) offer there; ``placeable``: every group an
    instance could be placed on (where ``union`` is all of them, the load is everywhere)."""
    groups = [pool[name] for name in sorted(union)]
    offered = dict.fromkeys(RESOURCES, 0.0)
    offered["starts"] = 0.0
    for g in groups:
        for r, cap in capacities(g, images, names).items():
            offered[r] = offered.get(r, 0.0) + max(cap, 0.0) * g.built
        offered["starts"] += g.max_concurrent_starts * g.built
    if "instances" in offered and any(g.max_instances is None for g in groups):
        del offered["instances"]  # a group without a limit: instances never bind
    total = {r: sum(a[r] for _, a in asked) for r in offered}
    kinds = [r for r in offered if total[r] > 0]  # instances: where a group limits
    shares = {r: (math.inf if offered[r] <= 0 else total[r] / offered[r]) for r in kinds}
    resource = max(shares, key=lambda r: shares[r], default="memory")
    return Load(shares.get(resource, 0.0), resource, tuple(sorted(union)),
                tuple(name for name, _ in asked), union >= placeable)


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
    load = offered_load(scenario, profiles)
    queued = (metrics.get("queued_at_end") or 0) / requests
    if queued > QUEUED_LIMIT or (load is not None and load.share >= 1.0):
        why = (f"{queued:.1%} of the requests were still waiting for a host or a start slot "
               "at the end" if queued > QUEUED_LIMIT else "")
        if load is not None and load.share >= 1.0:
            why += ("; " if why else "") + load.said()
        warn("saturated", f"saturated: {why}; start-up and wait statistics cover only the "
                          "requests it served (add hosts: python -m sim plan)")
    elif load is not None and load.share > LOAD_LIMIT:
        warn("load", f"{load.said()}: queues and start-up tails grow sharply towards 100 %")
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
    short = any(w["kind"] == "short_window" for w in out)  # the level MSER reads is no steady
    # state yet: a warm-up it would advise is not one (a window too short comes first)
    if mser is not None and settled == 1.0 and mser > scenario.warmup + 1e-9 and \
            abs(bias) > WARMUP_BIAS and not short:
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
