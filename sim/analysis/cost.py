"""What a run's hosts cost: their power over time and energy, carbon, Windows Server licences
and money, worked out after the run from the instance records.

Owns: the arithmetic of power models, licensing and prices. Must not: run the model, read
files or decide what is written.

Each physical host's CPU use is a step function built from the records: a running instance
uses ``cpu_use`` of its vCPU (times its profile's ``1 + cpu_overhead``) from ``running`` until
it stops or is taken down; a start-up uses its profile's ``cpu_bound_fraction`` of a core from
``slot`` (create begins) until it runs, the average of a phase that does that share of its time
on one core (under contention the model stretches the phase; the host's use is capped at its
cores). Instances on container-host VMs count on the physical host under them. A host down for
repair (a hardware fault) draws its standby power. Power is the host's model at u = use /
cores; energy is its integral over the measurement window (after warm-up), times the PUE.

Licences follow Microsoft's per-core rules: every physical core of a host is licensed, at
least 8 per processor and 16 per host; Standard covers two operating system environments
(OSEs: Hyper-V isolated containers, VMs and container-host VMs, anything with its own kernel)
per full licensing of the cores, and is stacked for every two more, Datacenter covers any
number; process-isolated containers need no OSE. A host is licensed for the most OSEs it held
at once during the run (its peak). A perpetual licence is spread evenly over ``licence_years``;
the window's share is charged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.analysis.metrics import firsts, level_of
from sim.recorder import FaultRecord
from sim.spec.config import HostGroup, ResolvedProfile, Scenario
from sim.spec.cost import DEFAULT_LICENCE_YEARS, LIST_PRICES, SPECPOWER_POINTS, shape

DEFAULT_CPU_USE = 0.25  # an estimate (range 0.05-0.6): see docs/cost.md
YEAR_S = 365 * 86400.0
GONE = 1e6  # the off level of a host that is not there (any repair adds only 1)
LICENCE_CORES = 16  # a licence price is for 16 cores, the least a host is licensed for
CORES_PER_PROCESSOR = 8  # the least each processor is licensed for


def priced(scenario: Scenario) -> bool:
    """Whether ``scenario`` puts a price on anything: a host's price or licences, or energy
    at a price with a power model to draw it."""
    energy = scenario.energy
    return any(g.price is not None or g.licensing not in (None, "none") for g in scenario.hosts) \
        or (energy is not None and energy.price is not None
            and any(g.power is not None for g in scenario.hosts))


def costed(scenario: Scenario) -> bool:
    """Whether a run of ``scenario`` reports power, energy or cost."""
    return scenario.energy is not None or any(
        g.power is not None or g.price is not None or g.licensing not in (None, "none")
        for g in scenario.hosts)


# --- power ----------------------------------------------------------------------------------

def watts(group: HostGroup, u: np.ndarray) -> np.ndarray:
    """A host of ``group``'s power at utilisations ``u`` (0-1)."""
    model = group.power
    if model is None:
        return np.zeros_like(u, dtype=float)
    if model.form == "specpower":
        return np.interp(u, np.linspace(0.0, 1.0, SPECPOWER_POINTS), model.points)
    assert model.idle is not None and model.max is not None
    return model.idle + (model.max - model.idle) * shape(model.form, u)


@dataclass
class Hosts:
    """The physical hosts: each one's group (an index into ``scenario.hosts``), and the
    container-host VMs each holds."""

    group: np.ndarray  # by physical host number (0..n-1)
    vms: np.ndarray  # container-host VMs on it (OSEs for licensing)
    of_host: np.ndarray  # any host index -> its physical host number
    groups: list[HostGroup]
    absent: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # at 0


def physical_hosts(hosts: Sequence[Mapping[str, Any]], scenario: Scenario) -> Hosts:
    """From the recorder's host rows (``host``, ``group``, ``physical``)."""
    names = [g.group for g in scenario.hosts]
    physical = sorted({int(h["physical"]) for h in hosts})
    number = {p: k for k, p in enumerate(physical)}
    by_index = {int(h["host"]): h for h in hosts}
    group = np.array([names.index(by_index[p]["group"]) for p in physical], dtype=np.int64)
    rank = np.zeros(len(physical), dtype=np.int64)  # its place in its group
    seen: dict[int, int] = {}
    for k, g in enumerate(group.tolist()):
        rank[k] = seen.get(g, 0)
        seen[g] = rank[k] + 1
    absent = np.array([rank[k] >= scenario.hosts[g].count for k, g in enumerate(group.tolist())],
                      dtype=bool)  # an elastic group's hosts beyond count
    of_host = np.zeros(max(by_index) + 1 if by_index else 0, dtype=np.int64)
    vms = np.zeros(len(physical), dtype=np.int64)
    for index, h in by_index.items():
        of_host[index] = number[int(h["physical"])]
        if int(h["physical"]) != index:
            vms[number[int(h["physical"])]] += 1
    return Hosts(group, vms, of_host, list(scenario.hosts), absent)


def _steps(host: np.ndarray, starts: np.ndarray, ends: np.ndarray, amount: np.ndarray,
           end: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(host, time, level) after each change of a per-host quantity that rises by
    ``amount`` over [start, end) (a NaN end: to ``end``), sorted by host then time."""
    ends = np.where(np.isnan(ends), end, ends)
    keep = ~np.isnan(starts) & (ends > starts)
    h = np.concatenate([host[keep], host[keep]])
    t = np.concatenate([starts[keep], ends[keep]])
    d = np.concatenate([amount[keep], -amount[keep]])
    order = np.lexsort((d, t, h))  # at one time on one host, what ends before what starts
    h, t, d = h[order], t[order], d[order]
    level = np.cumsum(d)
    if not len(h):
        return h, t, level
    base = np.maximum.accumulate(np.where(firsts(h), np.arange(len(h)), 0))  # its host's first
    return h, t, level - (level - d)[base]  # less the running sum before its host


def absences(hosts: Hosts, presence: Sequence[tuple[float, int, bool]], end: float
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(physical host, start, end) of each time an elastic group's host was not there: from 0
    for those built absent, from each removal, until it arrived (a NaN end: never)."""
    since = {k: 0.0 for k in np.flatnonzero(hosts.absent).tolist()}
    spans: list[tuple[int, float, float]] = []
    for time, host, present in presence:
        k = int(hosts.of_host[host])
        if present and k in since:
            spans.append((k, since.pop(k), time))
        elif not present:
            since[k] = time
    spans += [(k, t, math.nan) for k, t in since.items()]
    return (np.array([s[0] for s in spans], dtype=np.int64),
            np.array([s[1] for s in spans], dtype=float),
            np.array([s[2] for s in spans], dtype=float))


def present_s(hosts: Hosts, gone: tuple[np.ndarray, np.ndarray, np.ndarray], start: float,
              end: float) -> np.ndarray:
    """Seconds each physical host was there in [start, end)."""
    there = np.full(len(hosts.group), max(end - start, 0.0))
    if len(gone[0]):
        a = np.clip(gone[1], start, end)
        b = np.clip(np.where(np.isnan(gone[2]), end, gone[2]), start, end)
        np.subtract.at(there, gone[0], np.maximum(b - a, 0.0))
    return there


@dataclass
class Power:
    """The fleet's power and each host group's, as step functions."""

    times: np.ndarray  # the fleet's power from ``times[i]`` on is ``fleet[i]`` (W)
    fleet: np.ndarray
    group_times: list[np.ndarray]  # the same per host group
    group_watts: list[np.ndarray]

    def at(self, t: np.ndarray, group: int | None = None) -> np.ndarray:
        """Watts at times ``t`` (the fleet's, or one group's)."""
        times, values = ((self.times, self.fleet) if group is None
                         else (self.group_times[group], self.group_watts[group]))
        return values[np.searchsorted(times, t, side="right") - 1]

    def energy_j(self, start: float, end: float) -> float:
        """Joules drawn over [start, end)."""
        return _integral(self.times, self.fleet, start, end)


def row_power(scenario: Scenario, power_: Power, group: str, times: np.ndarray
              ) -> np.ndarray:
    """The watts the time series shows on ``group``'s rows at ``times``: its hosts' power,
    and for a group of container-host VMs its share of the physical hosts under it (their
    group has no rows of its own; split evenly among the VM groups they carry)."""
    names = [g.group for g in scenario.hosts]
    spec = scenario.hosts[names.index(group)]
    watts = power_.at(times, names.index(group))
    if spec.virtual is not None:
        carried = sum(1 for g in scenario.hosts
                      if g.virtual is not None
                      and g.virtual.physical_group == spec.virtual.physical_group)
        watts = watts + power_.at(times, names.index(spec.virtual.physical_group)) / carried
    return watts


def _integral(times: np.ndarray, values: np.ndarray, start: float, end: float) -> float:
    """The integral over [start, end) of the step function ``values`` from ``times``."""
    if end <= start:
        return 0.0
    edges = np.clip(np.r_[times, end], start, end)
    return float(np.sum(values * np.diff(edges)))


def power(hosts: Hosts, use: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
          off: tuple[np.ndarray, np.ndarray, np.ndarray], end: float,
          gone: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> Power:
    """The fleet's power over [0, ``end``): ``use`` (physical host, start, end, cores) the
    CPU each record uses over an interval; ``off`` (physical host, start, end) the intervals
    hosts are off (standby power); ``gone`` those an elastic group's hosts are not there (no
    power)."""
    if gone is not None and len(gone[0]):  # not there: off, at no power (below)
        off = tuple(np.concatenate([a, b]) for a, b in zip(off, gone))  # type: ignore[assignment]
        absent_from = len(off[0]) - len(gone[0])
    else:
        absent_from = len(off[0])
    n = len(hosts.group)
    cores = np.array([hosts.groups[g].cpu_cores for g in hosts.group], dtype=float)
    h1, t1, used = _steps(*use, end)
    # off for repair counts 1, not there counts far more: the level says which
    weight = np.where(np.arange(len(off[0])) < absent_from, 1.0, GONE)
    h2, t2, down = _steps(off[0], off[1], off[2], weight, end)
    # every change of either, per host, with both levels after it
    h = np.concatenate([h1, h2, np.arange(n)])
    t = np.concatenate([t1, t2, np.zeros(n)])
    kind = np.concatenate([np.zeros(len(h1)), np.ones(len(h2)), np.full(n, 2)])
    order = np.lexsort((kind, t, h))
    h, t, kind = h[order], t[order], kind[order]
    u_at = _carry(h, kind == 0, np.concatenate([used, np.zeros(len(h2) + n)])[order])
    off_at = _carry(h, kind == 1, np.concatenate([np.zeros(len(h1)), down, np.zeros(n)])[order])
    u = np.minimum(1.0, np.maximum(u_at, 0.0) / cores[h])
    w = np.zeros(len(h))
    for g, group in enumerate(hosts.groups):
        on = hosts.group[h] == g
        if group.power is not None:
            w[on] = np.where(off_at[on] >= GONE - 0.5, 0.0,
                             np.where(off_at[on] > 0.5, group.power.standby,
                                      watts(group, u[on])))
    # each host's watts after each of its changes -> the change of the fleet's total
    delta = w - np.where(firsts(h), 0.0, np.r_[0.0, w[:-1]])
    fleet_t, fleet_w = level_of(t, delta).arrays()
    per_t, per_w = [], []
    for g in range(len(hosts.groups)):
        mine = hosts.group[h] == g
        gt, gw = level_of(t[mine], delta[mine]).arrays()
        per_t.append(gt)
        per_w.append(gw)
    return Power(fleet_t, fleet_w, per_t, per_w)


def _carry(host: np.ndarray, mask: np.ndarray, values: np.ndarray) -> np.ndarray:
    """For each row (sorted by host, then time), the last ``values`` where ``mask`` held at
    or before it on the same host (0 before any)."""
    idx = np.where(mask, np.arange(len(host)), -1)
    start = np.maximum.accumulate(np.where(firsts(host), np.arange(len(host)), 0)) \
        if len(host) else np.zeros(0, dtype=np.int64)
    last = np.maximum.accumulate(idx) if len(host) else idx
    valid = last >= start
    return np.where(valid, values[np.where(last >= 0, last, 0)], 0.0)


# --- licences -------------------------------------------------------------------------------

def licensed_cores(group: HostGroup) -> int:
    """Core licences one host of ``group`` needs for one full licensing: all its cores, at
    least 8 per processor and 16 in all."""
    return max(LICENCE_CORES, group.cpu_cores, CORES_PER_PROCESSOR * group.sockets)


def standard_sets(oses: int) -> int:
    """Full licensings of a host's cores under Standard for ``oses`` OSEs at once (each
    covers two; a host is licensed at least once)."""
    return max(1, math.ceil(oses / 2))


def licence_prices(group: HostGroup) -> dict[str, float]:
    """The price of 16 core licences per edition for ``group``."""
    return {edition: group.licence_price.get(edition, price)  # type: ignore[call-overload]
            for edition, price in LIST_PRICES.items()}


def host_licences(group: HostGroup, peak_oses: int) -> dict[str, tuple[int, float]]:
    """(sets, price of those sets) of one host per edition, at its peak of OSEs."""
    prices = licence_prices(group)
    per_set = licensed_cores(group) / LICENCE_CORES
    return {"windows-standard": (standard_sets(peak_oses),
                                 standard_sets(peak_oses) * per_set * prices["windows-standard"]),
            "windows-datacenter": (1, per_set * prices["windows-datacenter"])}


def peak_oses(hosts: Hosts, ose: tuple[np.ndarray, np.ndarray, np.ndarray], end: float
              ) -> np.ndarray:
    """The most OSEs each physical host held at once during the run: its container-host VMs
    and the records ``ose`` (physical host, start, end) with their own kernel."""
    h, _t, level = _steps(ose[0], ose[1], ose[2], np.ones(len(ose[0])), end)
    peak = np.zeros(len(hosts.group))
    if len(h):
        np.maximum.at(peak, h, level)
    return peak.astype(np.int64) + hosts.vms


def licences(hosts: Hosts, peaks: np.ndarray, window_s: float | np.ndarray
             ) -> dict[str, Any]:
    """The licences of every physical host, by its group's ``licensing``, and their share of
    the window (``window_s``: or each host's seconds there in it): ``edition`` (the editions
    bought: one, ``mixed`` or ``none``), ``sets`` (full
    licensings of cores at the peak), ``cost`` (the window's share) and what either edition
    alone would cost (``by_edition``)."""
    editions: set[str] = set()
    sets = 0
    cost = 0.0
    alone = {"windows-standard": 0.0, "windows-datacenter": 0.0}
    for k, g in enumerate(hosts.group.tolist()):
        group = hosts.groups[g]
        if group.licensing in (None, "none"):
            continue
        there = float(window_s[k]) if isinstance(window_s, np.ndarray) else window_s
        share = there / ((group.licence_years or DEFAULT_LICENCE_YEARS) * YEAR_S)
        options = host_licences(group, int(peaks[k]))
        for edition, (_n, price) in options.items():
            alone[edition] += price * share
        edition = (min(options, key=lambda e: (options[e][1], e))
                   if group.licensing == "cheapest" else group.licensing)
        editions.add(edition)
        sets += options[edition][0]
        cost += options[edition][1] * share
    edition = ("none" if not editions else editions.pop() if len(editions) == 1 else "mixed")
    return {"edition": edition, "sets": sets, "cost": cost,
            "by_edition": alone if edition != "none" else {}}


# --- the whole --------------------------------------------------------------------------------

def intensity_over(hourly: Sequence[float] | None, power_: Power, start: float, end: float,
                   ) -> float | None:
    """The grid's mean carbon intensity (g/kWh) over [start, end), weighted by the energy
    drawn in each hour (``hourly[k]`` holds in hour k, the last value to the end); None
    without one."""
    if hourly is None:
        return None
    n = len(hourly)
    parts = [power_.energy_j(max(start, k * 3600.0) if k else start,
                             min(end, (k + 1) * 3600.0) if k < n - 1 else end)
             for k in range(n)]
    total = sum(parts)
    if total <= 0:  # nothing drawn: any intensity gives no carbon
        return float(np.mean(hourly))
    return float(sum(value * part for value, part in zip(hourly, parts)) / total)


def cost_metrics(scenario: Scenario, profiles: Mapping[str, ResolvedProfile],
                 table: Mapping[str, np.ndarray], cpu: np.ndarray,
                 hosts_rows: Sequence[Mapping[str, Any]], faults: Sequence[FaultRecord],
                 presence: Sequence[tuple[float, int, bool]] = ()
                 ) -> tuple[dict[str, Any], Power]:
    """The run's cost metrics (``summary.json``'s ``energy_kwh``, ``power_w``, ``carbon_kg``,
    ``cost`` and ``licences``) and its power. ``cpu``: each record's vCPU (a trace's own)."""
    end = scenario.duration
    start = min(scenario.warmup, end)
    window = end - start
    hosts = physical_hosts(hosts_rows, scenario)
    workloads = {wl.name: wl for wl in scenario.workloads}
    names = table["workload"]
    iso = table["isolation"]
    running_share = np.zeros(len(names))
    startup_share = np.zeros(len(names))
    own_kernel = np.zeros(len(names), dtype=bool)
    for (name, mode) in {(str(n), str(i)) for n, i in zip(names.tolist(), iso.tolist())}:
        rows = (names == name) & (iso == mode)
        wl, profile = workloads.get(name), profiles[mode]
        share = (wl.cpu_use if wl is not None and wl.cpu_use is not None
                 else DEFAULT_CPU_USE)
        running_share[rows] = share * (1.0 + profile.cpu_overhead)
        startup_share[rows] = profile.cpu_bound_fraction
        own_kernel[rows] = not profile.shares_host_kernel
    host = table["host"]
    on = host >= 0
    phys = hosts.of_host[np.where(on, host, 0)]
    run_end = np.where(np.isnan(table["stopping"]), table["removed"], table["stopping"])
    start_end = np.where(np.isnan(table["running"]), table["removed"], table["running"])
    use = (np.concatenate([phys[on], phys[on]]),
           np.concatenate([table["running"][on], table["slot"][on]]),
           np.concatenate([run_end[on], start_end[on]]),
           np.concatenate([(cpu * running_share)[on], startup_share[on]]))
    repairs = [f for f in faults if f.kind == "host_hardware"]
    off = (hosts.of_host[np.array([f.host for f in repairs], dtype=np.int64)],
           np.array([f.time for f in repairs], dtype=float),
           np.array([f.time + f.down for f in repairs], dtype=float))
    gone = absences(hosts, presence, end)
    there = present_s(hosts, gone, start, end)
    power_ = power(hosts, use, off, end, gone)
    it_j = power_.energy_j(start, end)
    energy = scenario.energy
    pue = energy.pue if energy is not None else 1.0
    kwh = it_j / 3.6e6 * pue
    ose = (phys[on & own_kernel], table["slot"][on & own_kernel],
           table["removed"][on & own_kernel])
    lic = licences(hosts, peak_oses(hosts, ose, end), there)
    served = _instance_hours(table["running"], run_end, start, end)
    # each group's host-seconds in the window (container-host VMs: all there, all the time)
    host_s = [g.count * window if g.virtual is not None else float(there[hosts.group == k].sum())
              for k, g in enumerate(scenario.hosts)]
    hosts_cost = sum(host_s[k] * g.price for k, g in enumerate(scenario.hosts)
                     if g.price is not None)
    priced = any(g.price is not None for g in scenario.hosts)
    energy_cost = (kwh * energy.price if energy is not None and energy.price is not None
                   else None)
    licensed = lic["edition"] != "none"
    parts = {"hosts": hosts_cost if priced else None,
             "licences": lic["cost"] if licensed else None,
             "energy": energy_cost}
    given = [v for v in parts.values() if v is not None]
    total = sum(given) if given else None  # nothing priced: no cost, not a cost of 0
    intensity = intensity_over(energy.carbon_intensity if energy else None, power_, start, end)
    embodied = sum(host_s[k] * g.embodied.carbon / g.embodied.lifetime
                   for k, g in enumerate(scenario.hosts) if g.embodied is not None)
    carbon = (None if intensity is None and not any(g.embodied for g in scenario.hosts)
              else (intensity or 0.0) * kwh / 1e3 + embodied)
    powered = any(g.power is not None for g in scenario.hosts)
    peak = _peak(power_, start, end)
    metrics: dict[str, Any] = {
        "energy_kwh": kwh if powered else None,
        "power_w": {"mean": it_j / window if powered and window > 0 else None,
                    "peak": peak if powered else None},
        "carbon_kg": carbon,
        "cost": {**parts, "total": total, "instance_hours": served,
                 "per_instance_hour": (total / served if served > 0 and total is not None
                                       else None),
                 **({f"per_instance_hour_{e.removeprefix('windows-')}":
                     ((total or 0.0) - lic["cost"] + alone) / served if served > 0 else None
                     for e, alone in lic["by_edition"].items()} if licensed else {})},
        "licences": {"edition": lic["edition"], "sets": lic["sets"],
                     **{f"{e.removeprefix('windows-')}_cost": c
                        for e, c in lic["by_edition"].items()}},
    }
    return metrics, power_


def _peak(power_: Power, start: float, end: float) -> float:
    """The fleet's highest power in [start, end)."""
    inside = (power_.times >= start) & (power_.times < end)
    values = power_.fleet[inside]
    at_start = power_.at(np.array([start]))
    return float(max(values.max(initial=0.0), at_start[0]))


def _instance_hours(running: np.ndarray, ends: np.ndarray, start: float, end: float) -> float:
    """Hours of running instances within [start, end)."""
    ran = ~np.isnan(running)
    a = np.clip(running[ran], start, end)
    b = np.clip(np.where(np.isnan(ends[ran]), end, ends[ran]), start, end)
    return float(np.sum(np.maximum(b - a, 0.0))) / 3600.0


def floor(scenario: Scenario, group: int, hosts: int) -> float:
    """The least the window after warm-up can cost with ``hosts`` hosts in group ``group``,
    whatever runs on them: every host's price, one licensing of its cores in the cheaper
    edition (or per its group's edition), and its idle power at the energy's price. A plan
    minimising cost stops adding hosts where this passes the best cost found."""
    window = scenario.duration - min(scenario.warmup, scenario.duration)
    energy = scenario.energy
    per_kwh = (energy.price * energy.pue) if energy is not None and energy.price else 0.0
    total = 0.0
    for k, g in enumerate(scenario.hosts):
        count = hosts if k == group else g.count
        each = (g.price or 0.0) * window
        if g.power is not None:
            each += g.power.points[0] * window / 3.6e6 * per_kwh
        if g.licensing not in (None, "none"):
            options = host_licences(g, 0)
            price = (min(p for _n, p in options.values()) if g.licensing == "cheapest"
                     else options[g.licensing][1])
            each += price * window / ((g.licence_years or DEFAULT_LICENCE_YEARS) * YEAR_S)
        total += count * each
    return total
