"""The ``density`` and ``plan`` commands: capacity answers, printed and written as
``density.json``, ``packing.json``, ``plan.json`` and charts into ``results/<name>/``.

Owns: wiring ``sim.planning.capacity`` and ``sim.planning.planner`` to the runner, the store
and the screen. Files are replaced one by one atomically; the rest of the results folder is
left alone.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from sim.analysis.cost import costed, priced
from sim.analysis.cost import floor as cost_floor
from sim.analysis.dotted import metric_value
from sim.analysis.metrics import COST_METRICS, campaign_metric_names, clean, metric_names
from sim.edge.loader import Loaded
from sim.errors import UserError
from sim.planning import capacity
from sim.planning.planner import (
    Probe,
    cheapest,
    decided,
    judge,
    levelled_off,
    likely,
    probe_specs,
    search,
    search_ahead,
)
from sim.present import plots
from sim.present.folders import staged
from sim.present.formats import metric_kind
from sim.present.report import write_report
from sim.run.runner import Workers, default_jobs
from sim.run.runner import plan as plan_runs
from sim.run.store import Store
from sim.spec.config import TraceArrivals
from sim.spec.slo import SLO, SLOError, parse_slo
from sim.spec.units import format_duration, format_value

# A probe the plan may make next: hosts of a scenario (the plan's, or the longer one an answer
# is confirmed over) under an isolation mode; a free core runs its first replication ahead
Ahead = tuple[Loaded, str, int]


def modes_of(loaded: Loaded) -> list[str]:
    """The isolation modes compared (``compare.isolation``), else those the workloads use."""
    s = loaded.scenario
    if s.compare is not None and s.compare.isolation:
        return list(s.compare.isolation)
    return sorted({wl.isolation for wl in s.workloads})


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` to ``path`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps(clean(data), indent=2) + "\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _screen() -> Console:
    screen = Console()
    return screen if screen.is_terminal else Console(width=160)


# --- density ------------------------------------------------------------------------------

def density(loaded: Loaded, out: Path, charts: bool, quiet: bool) -> int:
    """``python -m sim density FILE``."""
    started = time.perf_counter()
    scenario = loaded.scenario
    modes = modes_of(loaded)
    try:
        table = capacity.density_table(scenario, loaded.profiles, modes, check=True)
    except UserError as exc:  # a trace sampled to nothing, say: the file's problem
        Console(stderr=True, soft_wrap=True).print(f"{loaded.source}: {exc}", style="red",
                                                   markup=False, highlight=False)
        return 2
    images = {img.name: img for img in scenario.images}
    packing: dict[str, Any] = {}
    for group in scenario.hosts:
        if all(len(capacity.steady_mix(scenario, group, loaded.profiles[m], images)[0]) < 2
               for m in modes):
            continue
        packing[group.group] = {}
        for mode in modes:
            mix, needed = capacity.steady_mix(scenario, group, loaded.profiles[mode], images)
            found = capacity.pack(group, mix, images, needed)
            packing[group.group][mode] = {
                "hosts": found.hosts, "lower_bound": found.lower_bound,
                "lower_bound_resource": found.bound_by, "instances": found.counts}
    folder = out / scenario.name
    written = ("density.json", "packing.json", "density_per_host.png", "report.html")
    with staged(out, scenario.name, lambda name: name not in written) as staging:
        write_json(staging / "density.json", table)
        if packing:
            write_json(staging / "packing.json", packing)
        if charts:
            plots.density_bars(staging / "density_per_host.png", scenario.name, table, modes)
        write_report(staging, loaded)
    if not quiet:
        screen = _screen()
        screen.print(density_rich(scenario.name, table, modes))
        if packing:
            screen.print(packing_rich(packing, modes))
    mismatches = [(g, w, m) for g, rows in table.items() for w, per in rows.items()
                  for m, e in per.items() if "simulated" in e and e["simulated"] != e["per_host"]]
    Console(stderr=True, quiet=quiet, soft_wrap=True).print(
        f"wrote {folder}/density.json{', packing.json' if packing else ''} in "
        f"{time.perf_counter() - started:.1f} s; analytic and simulated densities "
        + ("agree" if not mismatches else f"DISAGREE for {mismatches}"))
    return 1 if mismatches else 0


def density_rich(name: str, table: dict[str, Any], modes: list[str]) -> Table:
    """Instances per host, the binding resource, and the simulated check."""
    out = Table(title=f"{name}: instances per host (binding resource; simulated fill)")
    out.add_column("host group")
    out.add_column("workload")
    for mode in modes:
        out.add_column(mode, justify="right")
    for group, rows in table.items():
        for workload, per in rows.items():
            cells = []
            for mode in modes:
                e = per[mode]
                sim = e.get("simulated")
                check = "" if sim is None else (" ✓" if sim == e["per_host"] else f" ✗ {sim}")
                cells.append(f"{e['per_host']:,} ({e['binding']}){check}")
            size = per[modes[0]].get("trace_size") if modes else None
            out.add_row(group, workload + (f"\n(trace, most common size: {size})" if size
                                           else ""), *cells)
    return out


def packing_rich(packing: dict[str, Any], modes: list[str]) -> Table:
    """Hosts for the steady-state mix: first-fit decreasing beside the lower bound."""
    out = Table(title="mixed workloads: hosts for the steady-state mix (FFD / lower bound)")
    out.add_column("host group")
    for mode in modes:
        out.add_column(mode, justify="right")
    for group, per in packing.items():
        out.add_row(group, *[f"{per[m]['hosts']} / {per[m]['lower_bound']} "
                             f"({per[m]['lower_bound_resource']})" for m in modes])
    return out


# --- plan ---------------------------------------------------------------------------------

def plan(loaded: Loaded, args: argparse.Namespace) -> int:
    """``python -m sim plan FILE --slo ...``."""
    started = time.perf_counter()
    scenario = loaded.scenario
    spec = scenario.plan
    texts = args.slo or (spec.slo if spec else [])
    console = Console(stderr=True, quiet=args.quiet, soft_wrap=True)
    errors = Console(stderr=True, soft_wrap=True)
    if not texts:
        errors.print("plan: no SLO given; use --slo (e.g. --slo 'startup_p99<=30s') or a "
                      "plan: {slo: [...]} section in the scenario", style="red")
        return 2
    try:
        known = metric_names() | campaign_metric_names([c.name for c in scenario.maintenance])
        slos = [parse_slo(t, known) for t in texts]
    except SLOError as exc:
        errors.print(f"plan: {exc}", style="red")
        return 2
    group_name = args.group or (spec.group if spec and spec.group else scenario.hosts[0].group)
    names = [g.group for g in scenario.hosts]
    if group_name not in names:
        errors.print(f"plan: unknown host group {group_name!r}; one of {', '.join(names)}",
                      style="red")
        return 2
    g = names.index(group_name)
    headroom = args.headroom if args.headroom is not None else (spec.headroom if spec else 0)
    reps = args.replications or (spec.replications if spec else 3)
    max_hosts = args.max_hosts or (spec.max_hosts if spec else 10_000)
    objective = args.objective or (spec.objective if spec else None) or "hosts"
    refused = _refusal(scenario, slos, objective)
    if refused:
        errors.print(f"plan: {refused}", style="red")
        return 2
    seed = scenario.seed if args.seed is None else args.seed
    store = Store(Path(args.out) / ".runs")
    jobs = args.jobs or default_jobs()
    images = {img.name: img for img in scenario.images}
    results: dict[str, Any] = {}
    console.print(f"plan {scenario.name}: size group {group_name!r} for "
                  f"{', '.join(s.text for s in slos)}; {reps} replications per candidate; "
                  f"headroom {headroom}")
    workers = Workers(min(jobs, reps), args.cluster, loaded.trace_rows, batches="many",
                      stored_aside=True)  # it reads back only the runs' metrics
    previous: tuple[int, int] | None = None  # the last mode's answer and first guess
    prober = Prober(store, workers, args.rerun, slos, g, reps, seed,
                    last_alone=args.cluster is None and reps - 1 <= jobs < reps)

    modes = modes_of(loaded)
    guesses = {mode: _first_guess(loaded, mode, g, images) for mode in modes}
    longer = _longer(loaded)  # where an answer is confirmed
    with workers:  # kept open across the modes: its workers, forked, read nothing again
        workers.fork()
        for k, mode in enumerate(modes):
            guess, near = guesses[mode]
            start = _start(guess, previous, near)

            def judged(sample: Loaded, n: int, mode: str = mode,
                       after: Callable[[bool], Ahead | None] | None = None) -> Probe:
                return prober.probe(sample, mode, n, after)

            def evaluate(n: int, after: Callable[[bool], Any] | None = None,
                         mode: str = mode, sample: Loaded = loaded, note: str = "") -> Probe:
                """Judge ``n``; ``after(passed)``: what comes next, a count of this search
                (in ``sample`` under ``mode``), or an ``Ahead`` beyond it, or None."""
                def ahead(passed: bool) -> Ahead | None:
                    told = after(passed) if after is not None else None
                    return (sample, mode, told) if isinstance(told, int) else told

                probe = judged(sample, n, mode, ahead)
                answer = f" (answer {n + headroom} with N+{headroom})" if headroom else ""
                console.print(f"  {mode}: {n:>5} hosts{answer}{note}  {_verdicts(probe, slos)}  "
                              f"{'pass' if probe.passed else 'fail'}")
                return probe

            last = k + 1 == len(modes) or objective == "cost" or bool(args.uncertainty)
            then = None if last else (modes[k + 1], *guesses[modes[k + 1]])
            found, probes = search_ahead(
                evaluate, start, max_hosts, lambda a, b: levelled_off(a, b, slos),
                near=near or previous is not None,
                then=functools.partial(next_after_search, longer, mode))
            confirmation = None
            if found is not None:
                found, probes, confirmation = _confirmed(
                    found, probes, longer, mode, evaluate, max_hosts, slos, functools.partial(
                        next_after_confirmation, loaded, longer, mode, guess, then, found))
            if found is not None and objective == "cost":
                found, more = cheapest(found, functools.partial(evaluate, mode=mode),
                                       functools.partial(cost_floor, scenario, g), max_hosts)
                probes = {**probes, **more}
            if found is not None:
                previous = (found, guess)
            results[mode] = _result(found, probes, confirmation, headroom, scenario, g, slos,
                                    max_hosts)
            if results[mode]["reason"]:
                console.print(f"  {mode}: {results[mode]['reason']}")
            if args.uncertainty:  # over the window the answer held on
                window = (2 * scenario.duration if confirmation and not confirmation["passed"]
                          else scenario.duration)
                results[mode]["uncertainty"] = _over_assumptions(
                    loaded, mode, g, args.uncertainty, seed, found or start, max_hosts, headroom,
                    judged, slos, console, window)
    data = {"group": group_name, "slo": [s.text for s in slos], "replications": reps,
            "headroom": headroom, "seed": seed,
            **({"objective": objective} if objective != "hosts" else {}), **results}
    _write_plan(loaded, args, data, results, slos, group_name, headroom)
    console.print(f"wrote {Path(args.out) / scenario.name}/plan.json in "
                  f"{time.perf_counter() - started:.1f} s")
    return 0


def _write_plan(loaded: Loaded, args: argparse.Namespace, data: dict[str, Any],
                results: dict[str, Any], slos: list[SLO], group_name: str, headroom: int
                ) -> None:
    """``plan.json``, the plan's charts and report (staged, moved into place whole), and the
    table on the screen."""
    name = loaded.scenario.name
    with staged(Path(args.out), name, lambda file: file not in ("plan.json", "report.html")
                and not file.startswith("plan_")) as staging:
        write_json(staging / "plan.json", data)
        if not args.no_charts:
            plots.plan_charts(staging, name, results, slos, group_name)
            plots.plan_uncertainty(staging / "plan_uncertainty.png", name, results, group_name)
        write_report(staging, loaded)
    if not args.quiet:
        _screen().print(plan_rich(name, group_name, results, slos, headroom))


@dataclass
class Prober:
    """Judges a host count: its replications run (or read from the store) and averaged.
    A probe is judged on the fewest of its first replications that make its failure certain
    (``planner.decided``), else on all, however many ran, or ran at once. One process runs
    them one at a time and stops at the first that decides it. ``last_alone``: the last
    replication would run alone on a core (3 on 2 processes), so it runs only if the others
    leave the verdict open; beside it runs the first replication of the count the search
    would probe next on the verdict the others point to (``planner.likely``), and a probe
    whose first replication ran so is judged on it first (it may decide it), else runs its
    other two together. A guess that proves wrong costs a run stored for nothing; the
    probes, their replications and verdicts are the same."""

    store: Store
    workers: Workers
    rerun: bool
    slos: list[SLO]
    group: int
    replications: int
    seed: int
    last_alone: bool
    ran: set[str] = dataclasses.field(default_factory=set)  # by this plan (for --rerun)

    def probe(self, sample: Loaded, mode: str, hosts: int,
              after: Callable[[bool], Ahead | None] | None = None) -> Probe:
        """The verdict on ``hosts`` hosts of ``sample`` under ``mode``; ``after(passed)``:
        the probe the plan makes next on that verdict (None: unknown, or none)."""
        specs = probe_specs(sample, mode, self.group, hosts, self.replications, self.seed)
        first, last = specs[:-1], specs[-1]
        verdict = self._decided(specs, hosts)  # on those stored already (run ahead, say)
        if verdict is not None:
            return verdict
        if self.workers.jobs == 1:  # in turn, each run may decide the probe
            for spec in first:
                self._run([spec])
                verdict = self._decided(specs, hosts)
                if verdict is not None:
                    return verdict
        elif not self.last_alone:
            self._run(specs)  # all at once: the cores allow it (judged as below all the same)
        else:
            todo = [spec for spec in first if not self._has(spec)]
            if todo and len(todo) < self.workers.jobs and not self._has(last):
                todo.append(last)  # on the process left free: needed unless the first doom it
            self._run(todo)
        verdict = self._decided(specs, hosts)
        if verdict is not None:
            return verdict
        outs = self._outputs(first)
        if not self._has(last):
            ahead = (after(likely(outs, self.slos))
                     if after is not None and self.workers.jobs > 1 else None)  # a free core
            extra = [] if ahead is None else probe_specs(
                ahead[0], ahead[1], self.group, ahead[2], self.replications, self.seed)[:1]
            self._run([last, *extra])
        return judge(outs + self._outputs([last]), self.slos, hosts)

    def _decided(self, specs: list[Any], hosts: int) -> Probe | None:
        """The verdict on the probe of ``specs`` from its first replications stored (in
        order, up to the first not stored), where they decide it (``planner.decided``)."""
        stored = []
        for spec in specs:
            if not self._has(spec):
                break
            stored.append(spec)
        return decided(self._outputs(stored), self.slos, hosts, len(specs))

    def _has(self, spec: Any) -> bool:
        """Whether ``spec``'s run is stored (with ``--rerun``, run by this plan)."""
        key = spec.key()
        return key in self.ran if self.rerun else self.store.has(key)

    def _run(self, specs: list[Any]) -> None:
        """Run those of ``specs`` not stored yet (``_has``), together."""
        todo = plan_runs([spec for spec in specs if not self._has(spec)], self.store, True)
        self.workers.run(todo, self.store)
        self.ran.update(todo.keys)

    def _outputs(self, specs: list[Any]) -> list[Any]:
        """The stored runs' outputs, without their tables."""
        return [self.store.load(spec.key(), tables=False) for spec in specs]


def _refusal(scenario: Any, slos: list[SLO], objective: str) -> str:
    """Why a plan of ``scenario`` for ``slos`` and ``objective`` cannot be made ('' if it
    can): a cost objective with nothing priced, or a cost metric as an SLO."""
    if objective == "cost" and not priced(scenario):
        return ("--objective cost needs what the hosts cost: a host group's price, power "
                "(with energy.price) or licensing")
    spent = [slo.text for slo in slos if slo.metric in COST_METRICS]
    if spent:
        return (f"{', '.join(spent)}: a cost, energy or carbon metric is not an SLO the "
                "search can meet (it grows with the hosts, not the other way); find the hosts "
                "with SLOs on service and use --objective cost to choose the cheapest count")
    return ""


def _confirmed(found: int, probes: dict[int, Probe], longer: Loaded, mode: str,
               evaluate: Callable[..., Probe], max_hosts: int, slos: list[SLO],
               then: Callable[[bool], Ahead | None] | None = None,
               ) -> tuple[int | None, dict[int, Probe], dict[str, Any]]:
    """The answer ``found`` checked over twice the window (``longer``, from ``_longer``), or
    searched again over it from the count that failed: (the answer, the probes, what the
    confirmation found). ``then(passed)``: what comes after the check on that verdict."""
    note = f" over {format_duration(longer.scenario.duration)}"

    def confirm(n: int, after: Callable[[bool], Any] | None = None) -> Probe:
        return evaluate(n, after, mode=mode, sample=longer, note=note)

    check = confirm(found, then)
    confirmation: dict[str, Any] = {"duration_s": longer.scenario.duration, "hosts": found,
                                    "passed": check.passed, "failed": check.failed}
    if check.passed:
        return found, probes, confirmation
    again, more = search_ahead(confirm, found + 1, max_hosts,
                               lambda a, b: levelled_off(a, b, slos), floor=found, near=True)
    confirmation["searched_again"] = again
    return again, {**{n: p for n, p in probes.items() if n < (again or 0)}, **more}, \
        confirmation


def next_after_search(longer: Loaded, mode: str, found: int | None) -> Ahead | None:
    """What the plan probes after the search of ``mode`` found ``found``: its confirmation
    over ``longer``."""
    return None if found is None else (longer, mode, found)


def next_after_confirmation(loaded: Loaded, longer: Loaded, mode: str, guess: int,
                            then: tuple[str, int, bool] | None, found: int, passed: bool
                            ) -> Ahead | None:
    """What the plan probes after confirming ``found`` under ``mode`` (first guess
    ``guess``): where it failed, the search again over ``longer`` from the next count; where
    it passed, the first probe of the mode ``then`` names (with its first guess, and whether
    that is only near the answer: ``_start``), if any."""
    if not passed:
        return (longer, mode, found + 1)
    if then is None:
        return None
    return (loaded, then[0], _start(then[1], (found, guess), then[2]))


def _result(found: int | None, probes: dict[int, Probe], confirmation: dict[str, Any] | None,
            headroom: int, scenario: Any, g: int, slos: list[SLO], max_hosts: int
            ) -> dict[str, Any]:
    """A mode's entry in ``plan.json``: the answer (or why there is none) and its probes."""
    reason = None
    if found is None:
        largest = max(probes)
        reason = (f"not met with {largest:,} hosts (the search limit)"
                  if largest >= max_hosts
                  else f"not met: {', '.join(probes[largest].failed)} levels off from "
                       f"{largest // 2:,} to {largest:,} hosts; more hosts will not help")
    chosen = probes.get(found) if found is not None else None
    cost = scenario.hosts[g].cost_per_host
    total = found + headroom if found is not None else None
    return {
        "hosts": total, "hosts_judged": found, "headroom": headroom,
        "met": found is not None, "reason": reason,
        "metrics": chosen.metrics if chosen else None,
        "cost": (total * cost if (total is not None and cost is not None) else None),
        **({"costs": _costs(chosen.metrics)} if chosen and costed(scenario) else {}),
        "probes": [{"hosts": p.hosts, "passed": p.passed, "failed": p.failed,
                    "replications": p.replications,
                    "metrics": _slo_values(p, slos)} for p in
                   sorted(probes.values(), key=lambda p: p.hosts)],
        "confirmation": confirmation,
    }


def _costs(metrics: dict[str, Any]) -> dict[str, Any]:
    """What the answer costs over the window after warm-up (the probe's means): the parts,
    the total, per instance-hour, and the licences (edition, sets, either edition alone)."""
    return {**(metrics.get("cost") or {}), "licensing": metrics.get("licences"),
            "energy_kwh": metrics.get("energy_kwh"), "carbon_kg": metrics.get("carbon_kg")}


def _longer(loaded: Loaded) -> Loaded:
    """The scenario over twice its duration (the same warm-up): where a plan's answer is
    confirmed, so an answer that holds only while the pool is still filling is not kept."""
    scenario = loaded.scenario.model_copy(update={"duration": 2 * loaded.scenario.duration})
    return dataclasses.replace(loaded, scenario=scenario)


def _over_assumptions(loaded: Loaded, mode: str, g: int, samples: int, seed: int,
                      start: int, max_hosts: int, headroom: int,
                      probe: Callable[[Loaded, int], Probe], slos: list[SLO],
                      console: Console, duration: float) -> dict[str, Any]:
    """The plan of ``mode`` at each of ``samples`` Latin hypercube samples of the uncertain
    inputs (every run on ``seed``; ``probe(scenario, n)`` judges n hosts of group ``g``),
    each search starting from the nominal answer ``start``: the hosts per sample and their
    5 %, 50 %, 90 % and 95 % quantiles (the 90 % one covers 90 % of the assumptions). A
    sample whose SLOs cannot be met needs more hosts than any: a quantile that falls on one
    is None (not met). The planned group's own count is not an input: the plan sets it.
    ``duration``: the window the nominal answer held on (twice the scenario's when its
    confirmation searched again)."""
    from sim.experiment.uncertainty import study

    group = loaded.scenario.hosts[g].group
    band = study(loaded, (("isolation", mode),), "band", samples, seed,
                 skip={f"hosts[{group}].count", f"hosts[{g}].count"})
    console.print(f"  {mode}: {samples} samples of its {len(band.inputs)} uncertain inputs")
    per_sample: list[int | None] = []
    for spec in band.specs:
        sample = dataclasses.replace(
            loaded, scenario=spec.scenario.model_copy(update={"duration": duration}),
            profiles=spec.profiles)

        def evaluate(n: int, sample: Loaded = sample) -> Probe:
            return probe(sample, n)

        found, _probes = search(evaluate, start, max_hosts,
                                lambda a, b: levelled_off(a, b, slos))
        per_sample.append(None if found is None else found + headroom)
    needed = [math.inf if h is None else float(h) for h in per_sample]
    quantiles = np.quantile(needed, [0.05, 0.5, 0.9, 0.95], method="inverted_cdf")
    out: dict[str, Any] = {"samples": len(per_sample), "inputs": [i.path for i in band.inputs],
                           "values": [[v for _, v in spec.parameters] for spec in band.specs],
                           "hosts": per_sample, "not_met": per_sample.count(None)}
    out.update({name: int(q) if math.isfinite(q) else None
                for name, q in zip(("p5", "median", "p90", "p95"), quantiles)})
    return out


def _first_guess(loaded: Loaded, mode: str, g: int, images: dict[str, Any]) -> tuple[int, bool]:
    """Hosts the load needs by density alone, and whether that is near the answer. The
    steady-state mean's lower bound is far below the answer when the load grows; for a
    scenario replaying a trace, the larger of that and the lower bound of the trace's peak
    (the instances running when they fill the most hosts) is near it."""
    group = loaded.scenario.hosts[g]
    traced = any(isinstance(wl.arrival, TraceArrivals) for wl in loaded.scenario.workloads)
    bounds = []
    for peak in (False, True) if traced else (False,):
        mix, needed = capacity.steady_mix(loaded.scenario, group, loaded.profiles[mode], images,
                                          peak=peak)
        try:
            bounds.append(capacity.lower_bound(group, mix, images, needed)[0])
        except ValueError:
            bounds.append(1)
    return max(1, *bounds), traced


def _start(guess: int, previous: tuple[int, int] | None, near: bool = False) -> int:
    """Where a mode's search starts: its first guess, or, after a mode was answered, that
    answer scaled by the two modes' first guesses (Hyper-V's answer is near process
    isolation's; the search then steps from it by 1, 2, 4, ... hosts), never below the guess
    where the guess is a lower bound (density's). A guess that is only ``near`` the answer
    (a trace's peak: requests that queue let fewer hosts do) is no floor: the answer already
    found says more."""
    if previous is None:
        return guess
    answer, its_guess = previous
    scaled = max(1, round(answer * guess / its_guess))
    return scaled if near else max(guess, scaled)


def _slo_values(probe: Probe, slos: list[SLO]) -> dict[str, Any]:
    return {s.metric: {"mean": metric_value(probe.metrics, s.metric),
                       "ci95": probe.metrics.get("ci95", {}).get(s.metric)} for s in slos}


def _show(metric: str, value: float | None) -> str:
    return format_value(value, metric_kind(metric))


def _verdicts(probe: Probe, slos: list[SLO]) -> str:
    values = _slo_values(probe, slos)
    parts = []
    for s in slos:
        v = values[s.metric]
        ci = v["ci95"]
        text = _show(s.metric, v["mean"]) + (f" ± {_show(s.metric, ci)}" if ci else "")
        parts.append(f"{s.metric} {text}{'' if s.text not in probe.failed else ' ✗'}")
    return ", ".join(parts)


def plan_rich(name: str, group: str, results: dict[str, Any], slos: list[SLO],
              headroom: int) -> Table:
    """Mode, hosts, the SLO metrics with CIs, density, cost."""
    out = Table(title=f"{name}: hosts needed in group {group!r}"
                      + (f" (N+{headroom})" if headroom else ""))
    out.add_column("mode")
    out.add_column("hosts", justify="right")
    for s in slos:
        out.add_column(s.text, justify="right")
    banded = any("uncertainty" in r for r in results.values())
    if banded:
        out.add_column("over the assumptions", justify="right")
    out.add_column("density max", justify="right")
    costed = any(r.get("cost") is not None for r in results.values())
    if costed:  # only when the group has cost_per_host: an empty column says nothing
        out.add_column("cost", justify="right")

    priced = any(r.get("costs") for r in results.values())
    if priced:  # the scenario's price, power and licensing, over the window after warm-up
        out.add_column("cost per instance-hour", justify="right")
        out.add_column("licences", justify="right")

    def cost_cells(r: dict[str, Any]) -> list[str]:
        cells = []
        if costed:
            cells.append("-" if r["cost"] is None else f"{r['cost']:,.2f}")
        if priced:
            found = r.get("costs") or {}
            each = found.get("per_instance_hour")
            lic = found.get("licensing") or {}
            cells += ["-" if each is None else f"{each:,.4g}",
                      "-" if lic.get("edition") in (None, "none")
                      else f"{lic['edition'].removeprefix('windows-')}, {lic.get('sets', 0):,.0f}"
                      " sets"]
        return cells

    notes: list[str] = []
    for mode, r in results.items():
        band = [over_assumptions(r["uncertainty"])] if banded else []
        if r["hosts"] is None:
            out.add_row(mode, "not met", *["-"] * len(slos), *band, "-",
                        *["-"] * len(cost_cells(r)))
            notes.append(f"{mode}: {r['reason']}")
            continue
        probe = next(p for p in r["probes"] if p["hosts"] == r["hosts_judged"])
        cells = []
        for s in slos:
            v = probe["metrics"][s.metric]
            cells.append(_show(s.metric, v["mean"])
                         + (f" ± {_show(s.metric, v['ci95'])}" if v["ci95"] else ""))
        density_max = r["metrics"].get("density_max")
        hosts = f"{r['hosts']:,}" + (f" (judged on {r['hosts_judged']:,})" if headroom else "")
        out.add_row(mode, hosts, *cells, *band,
                    "-" if density_max is None else f"{density_max:,.0f}", *cost_cells(r))
    confirmed = [r["confirmation"] for r in results.values() if r.get("confirmation")]
    if confirmed:
        again = [f"{mode} {r['confirmation']['hosts'] + headroom:,} → {r['hosts']:,}"
                 for mode, r in results.items() if r.get("confirmation")
                 and not r["confirmation"]["passed"] and r["hosts_judged"] is not None]
        notes.append(f"each answer confirmed over {format_duration(confirmed[0]['duration_s'])}"
                     " (twice the window)" + (f"; searched again there: {', '.join(again)}"
                                              if again else ""))
    if banded:
        notes.append("over the assumptions: the hosts needed at each sample of the uncertain "
                     "inputs (the scenario's ranges and the built-in estimates), seed fixed: "
                     "5-95 % range, and the count that covers 90 % of the samples")
    out.caption = "\n".join(notes) or None
    return out


def over_assumptions(band: dict[str, Any] | None) -> str:
    """``27-36; 34 covers 90 %`` (and how many samples cannot meet the SLOs)."""
    if not band:
        return "-"

    def count(key: str) -> str:
        return "not met" if band[key] is None else f"{band[key]:,}"

    if band["not_met"] == band["samples"]:
        return f"not met in any of {band['samples']} samples"
    text = (f"{count('p5')}-{count('p95')}; " + (
        f"{band['p90']:,} covers 90 %" if band["p90"] is not None else
        "no count covers 90 %"))
    if band["not_met"]:
        text += f" ({band['not_met']} of {band['samples']} not met)"
    return text
