"""The ``run`` command: run a scenario's experiments and write ``results/<name>/``.

Owns: the progress shown while running, the summary table printed after, and an interrupted
run's message. Must not import the model (the runner does, in its own processes).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sim.analysis.dotted import metric_value
from sim.cli.common import EXIT_BAD_INPUT, prepare
from sim.edge.loader import Loaded, ScenarioError
from sim.experiment.expand import as_cell
from sim.present.formats import (
    band_text,
    row_unit,
    show,
    show_in,
    unit_label,
    workload_rows,
)
from sim.spec.units import format_duration


def command(args: argparse.Namespace) -> int:
    """Run ``args.file``; an interrupt keeps the completed runs for the next attempt."""
    loaded = prepare(args, lambda loaded: (args.replications or loaded.scenario.replications)
                     + (args.uncertainty or 0))
    if loaded is None:
        return EXIT_BAD_INPUT
    if args.uncertainty and loaded.scenario.sweep:
        line, col = loaded.place("sweep")
        print(f"{loaded.source}:{line}:{col}: sweep: --uncertainty samples the assumptions at "
              "one point; set the swept value, or sweep without --uncertainty",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        return _run(loaded, args)
    except ScenarioError as exc:  # a sampled combination of ranges that is not valid
        print(exc, file=sys.stderr)
        print(f"{loaded.source}: nothing was written", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"interrupted: completed runs are kept in {Path(args.out) / '.runs'}; "
              "the same command resumes", file=sys.stderr)
        return 130


def execute_specs(specs: list[Any], args: argparse.Namespace, console: Console,
                  name: str, trace_rows: dict[str, int], workers: Any = None) -> list[Any]:
    """Every spec's output, in spec order: from the run store (``args.out/.runs``) where it
    holds the run (unless ``args.rerun``), else run on up to ``args.jobs`` local processes
    (one when the work is too little for more) or the Dask cluster ``args.cluster``, with a
    progress bar (a line per run when not on a terminal). ``trace_rows``: the loader's, for
    the estimate of the work. ``workers``: the caller's ``Workers`` (kept open), else its
    own for these runs."""
    # imported here so that validate and schema start fast
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from sim.run.runner import Workers, local_jobs, plan
    from sim.run.store import Store

    store = Store(Path(args.out) / ".runs")
    the_plan = plan(specs, store, args.rerun)
    jobs = local_jobs(args.jobs, len(the_plan.todo))
    own = workers is None
    if own:
        workers = Workers(jobs, args.cluster, trace_rows, rows=True)  # instances.csv's rows
    processes = workers.processes([specs[i] for i in the_plan.todo])
    few = " (too little work to start more)" if processes == 1 < min(
        jobs, len(the_plan.todo)) else ""
    where = (f"cluster {args.cluster}" if args.cluster
             else f"{processes} local process{'es' if processes > 1 else ''}{few}")
    console.print(f"{name}: {len(set(the_plan.keys))} runs, {the_plan.stored} already "
                  f"in {store.root}, {len(the_plan.todo)} to run"
                  + (f" on {where}" if the_plan.todo else ""))
    live = not args.quiet and console.is_terminal
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                        console=console, disable=not live)
    with progress:
        task = progress.add_task("simulating", total=len(the_plan.todo))

        made: dict[str, Any] = {}  # the runs made now, kept rather than read back

        def done(result: Any) -> None:
            made[result.key] = result
            progress.advance(task)
            if not live:
                point = escape(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                        for k, v in result.parameters.items()))
                console.print(f"  {result.variant}{' ' + point if point else ''} "
                              f"rep {result.replication}: {len(result.instances):,} instances "
                              f"in {result.wall_s:.2f} s")

        with workers if own else contextlib.nullcontext():
            workers.run(the_plan, store, done)
    return [made[key] if key in made else store.load(key) for key in the_plan.keys]


def _run(loaded: Loaded, args: argparse.Namespace) -> int:
    # imported here so that validate and schema start fast
    from sim.experiment.expand import expand
    from sim.present import folders

    out = Path(args.out)
    console = Console(stderr=True, quiet=args.quiet, soft_wrap=True)
    scenario = loaded.scenario
    specs = expand(loaded, args.seed, args.replications)
    started = time.perf_counter()
    written_from = folders.fingerprint(
        runs=[spec.key() for spec in specs], scenario=scenario.model_dump(mode="json"),
        written=loaded.data, source=str(loaded.source), uncertainty=args.uncertainty,
        charts=not args.no_charts)
    if not args.rerun and folders.unchanged(out / scenario.name, written_from):
        data = json.loads((out / scenario.name / "summary.json").read_text())
        console.print(f"{scenario.name}: {len(specs)} runs, already written: "
                      f"{out / scenario.name}/ holds their results, from this scenario, seed "
                      "and code, unchanged since (--rerun runs and writes them again)")
        return _said(data, args, console, "")
    from sim.run.runner import Workers, local_jobs

    # with more than one job, the workers are forked now, before any thread starts: they
    # share every batch from its first run, and one of them loads matplotlib while the runs
    # run and draws the charts while this process writes the tables
    runs = len(specs) + (args.uncertainty or 0) * len({spec.variant for spec in specs})
    with Workers(local_jobs(args.jobs, runs), args.cluster, loaded.trace_rows,
                 rows=True) as workers:
        workers.fork()
        return _write(loaded, args, console, specs, written_from, started, workers)


def _write(loaded: Loaded, args: argparse.Namespace, console: Console, specs: list[Any],
           written_from: str, started: float, workers: Any) -> int:
    """The runs of ``specs`` (on ``workers``), then the results folder written."""
    from sim.present import folders, output
    from sim.present.aside import Charts
    from sim.present.report import write_report
    from sim.spec import paths

    out = Path(args.out)
    scenario = loaded.scenario
    drawn_aside = workers.forked and not args.no_charts
    aside = Charts(workers.submit, workers.jobs) if drawn_aside else None
    outputs = execute_specs(specs, args, console, scenario.name, loaded.trace_rows, workers)
    seed = specs[0].seed
    samples = None
    if args.uncertainty:
        from sim.experiment.uncertainty import studies

        band = studies(loaded, "band", args.uncertainty, seed)
        console.print(f"uncertainty: {args.uncertainty} samples of "
                      + ", ".join(f"{s.variant}'s {len(s.inputs)} inputs" for s in band)
                      + " (Latin hypercube; every run on seed "
                      f"{seed})")
        samples = execute_specs([spec for s in band for spec in s.specs], args, console,
                                f"{scenario.name} uncertainty", loaded.trace_rows, workers)
    swept = list(scenario.sweep or {})
    # each swept value as the runs table holds it (as_cell), and its number (NaN: not one)
    numeric = {path: {str(as_cell(point.parameters[i][1])): _number(paths.get(
        point.scenario.model_dump(mode="json"), path)) for point in loaded.points}
        for i, path in enumerate(swept)}

    def draw(folder: Path, agg: Any) -> None:
        if swept:  # with the autoscaling chart's runs, where there are any
            elastic = [o for o in outputs if o.replication == 0
                       and ("hosts_present" in (o.extra.get("series") or {})
                            or o.extra.get("demand"))]
            work: tuple[Any, ...] = ("sweep_calls", folder, scenario.name, agg, swept, numeric,
                                     elastic, scenario.warmup)
        else:
            work = ("chart_calls", folder, scenario.name,
                    [o for o in outputs if o.replication == 0], scenario.warmup)
        if aside is not None:
            aside.draw(*work)
            return
        from sim.present import plots  # matplotlib loads here

        for call in getattr(plots, work[0])(*work[1:]):
            call()

    def finish(staging: Path) -> None:
        if aside is not None:
            aside.wait()
        if samples and not args.no_charts:  # drawn from the summary: it holds the bands
            from sim.present import plots

            summary = json.loads((staging / "summary.json").read_text())
            plots.uncertainty_bands(staging / "uncertainty_bands.png", scenario.name, summary)
        write_report(staging, loaded)

    folder, data = output.write(out, loaded, seed, outputs, None if args.no_charts else draw,
                                finish, samples)
    folders.stamp(folder, written_from)
    return _said(data, args, console, f"wrote {folder}/ in {time.perf_counter() - started:.1f} s")


def _said(data: dict[str, Any], args: argparse.Namespace, console: Console, last: str) -> int:
    """Print the summary table (unless ``--quiet``), the warnings of a run's results
    (``summary.json``'s data) and ``last`` (if any); the exit status (``--strict``: 3 when
    there are warnings)."""
    swept = "points" in data
    if not args.quiet:
        screen = Console()
        if not screen.is_terminal:  # a file or a pipe: wide enough for every variant's name
            names = list(data.get("variants") or {})
            screen = Console(width=max(160, 40 + sum(max(len(n), 12) + 3 for n in names)))
        if swept:
            screen.print(sweep_table(data))
        elif data.get("commands") and not any(m.get("requests") for m in data["variants"]
                                               .values()):  # a commands script alone
            screen.print(commands_table(data))
        else:
            screen.print(summary_table(data))
            if data.get("commands"):
                screen.print(commands_table(data))
    found = warning_lines(data)
    for line in found:  # on stderr with the progress: said even with --quiet
        Console(stderr=True, soft_wrap=True).print(escape(line), style="bold yellow")
    if last:
        console.print(last)
    if found and args.strict:
        print(f"--strict: {len(found)} warning{'s' if len(found) > 1 else ''}; the results are "
              f"written, exit status {EXIT_WARNINGS}", file=sys.stderr)
        return EXIT_WARNINGS
    return 0


EXIT_WARNINGS = 3  # run --strict: the results carry warnings


def warning_lines(data: dict[str, Any]) -> list[str]:
    """``WARNING variant[ point]: message`` for every warning in ``summary.json``'s data."""
    points = data.get("points") or [{"parameters": {}, "variants": data.get("variants", {})}]
    lines = []
    for point in points:
        where = " ".join(f"{k}={as_cell(v)}" for k, v in point["parameters"].items())
        said: dict[str, list[str]] = {}  # a message, and the variants it is about
        for name, metrics in point["variants"].items():
            for w in metrics.get("warnings") or []:
                said.setdefault(w["message"], []).append(name)
        lines += [f"WARNING {', '.join(names)}{' ' + where if where else ''}: {message}"
                  for message, names in said.items()]
    return lines


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def commands_table(data: dict[str, Any]) -> Table:
    """A commands script's steps, one row each, with the seconds each took in every variant
    (the slowest host's; ± 95 % CI), then the seconds of each kind of phase and the whole
    script."""
    variants = data["variants"]
    reps = data.get("replications", 1)
    table = Table(title=f"{data['name']}: commands (seed {data['seed']}"
                        + (f", mean of {reps} replications ± 95 % CI" if reps > 1 else "")
                        + ")")
    table.add_column("#", justify="right")
    table.add_column("step", overflow="fold")
    for name in variants:
        table.add_column(escape(name), justify="right", overflow="fold")

    def cells(metric: str) -> list[str]:
        unit = row_unit([metric_value(m, metric) for m in variants.values()], metric)
        return [show_in(m, metric, unit) for m in variants.values()]

    for step in data["commands"]:
        label = step["label"] + ("" if step["command"] in step["label"]
                                 else f"   ({step['command']})")
        table.add_row(str(step["step"]), escape(label), *cells(f"commands.step_s.{step['step']}"))
    phases = dict.fromkeys(p for m in variants.values()
                           for p in ((m.get("commands") or {}).get("phase_s") or {}))
    for phase in phases:
        table.add_row("", f"all {phase}", *cells(f"commands.phase_s.{phase}"), style="dim")
    table.add_row("", "whole script", *cells("commands.total_s"), style="bold")
    return table


SWEEP_HEADS = [("startup_s.p50", "start-up p50"), ("startup_s.p99", "start-up p99"),
               ("wait_s.mean", "wait mean"), ("density_max", "density max"),
               ("memory_utilization_mean", "memory"), ("blocking", "blocking")]


SWEEP_EXTRA = [  # metric, label: columns a sweep's table adds where its runs have them
    ("time_to_capacity_s.max", "time to capacity max"), ("unserved.share", "unserved"),
    ("hosts_peak", "hosts peak"), ("cost.per_instance_hour", "cost per instance-hour"),
]


def sweep_table(data: dict[str, Any]) -> Table:
    """A row per sweep point and variant with the headline metrics (± 95 % CI half-width)."""
    reps = data["replications"]
    table = Table(title=f"{data['name']} (seed {data['seed']}, {reps} "
                        f"replication{'s' if reps > 1 else ''} per point)")
    params = list(data["points"][0]["parameters"]) if data["points"] else []
    for p in params:  # escaped: a path's [group] is not rich markup
        table.add_column(escape(p))
    table.add_column("variant")
    # each workload's start-up p99 too, where there are several
    heads = SWEEP_HEADS + [(metric, label.replace("start-up ", ""))
                           for point in data["points"][:1]
                           for label, metric in workload_rows(point["variants"])
                           if metric.endswith(".p99")]
    cells = [m for point in data["points"] for m in point["variants"].values()]
    heads += [(metric, label) for metric, label in SWEEP_EXTRA
              if any(metric_value(m, metric) is not None for m in cells)]
    units = {metric: row_unit([metric_value(m, metric) for m in cells], metric)
             for metric, _ in heads}  # one unit per column, named in its head
    for metric, label in heads:
        unit = units[metric]
        table.add_column(escape(unit_label(label, unit)), justify="right")
    for point in data["points"]:
        for name, m in point["variants"].items():
            table.add_row(*[escape(str(v)) for v in point["parameters"].values()], name,
                          *[show(m, metric, units[metric]) for metric, _ in heads])
    return table


SUMMARY_ROWS = [  # label, metric
    ("requests", "requests"), ("started", "started"), ("rejected", "rejected"),
    ("still waiting or starting at the end", "pending_at_end"),
    ("blocking", "blocking"), ("offered load / capacity", "offered_utilization"),
    ("start-up p50", "startup_s.p50"),
    ("start-up p95", "startup_s.p95"), ("start-up p99", "startup_s.p99"),
    ("start-up max", "startup_s.max"), ("first request to last running", "all_running_s"),
    ("wait for placement + slot, mean", "wait_s.mean"),
    *[(f"  {p} mean", f"phases_s.{p}.mean")
      for p in ("pull", "extract", "copy", "create", "boot", "app_start")],
    ("running, time-average", "running_mean"), ("running, peak", "running_peak"),
    ("density: most on one host", "density_max"), ("hosts used, peak", "hosts_used_max"),
    ("memory committed, mean", "memory_utilization_mean"), ("bytes pulled", "pulled_bytes"),
]


def summary_table(data: dict[str, Any]) -> Table:
    """The terminal table: one column per variant; ± the 95 % confidence half-width when
    there are several replications."""
    variants = data["variants"]
    reps = data.get("replications", 1)
    table = Table(title=f"{data['name']} (seed {data['seed']}"
                        + (f", mean of {reps} replications ± 95 % CI" if reps > 1 else "")
                        + f"; statistics after {format_duration(data['warmup_s'])} warm-up)")
    samples = data.get("uncertainty_samples")
    if samples:
        table.caption = escape(f"[a to b]: 5-95 % over {samples} samples of the uncertain "
                               "inputs (the scenario's ranges and the built-in estimates), "
                               "seed fixed; ± is over the seeds at the nominal inputs")
    table.add_column("metric", overflow="fold")
    for name in variants:  # a long variant name wraps: cut short, several would read alike
        table.add_column(escape(name), justify="right", overflow="fold")
    for label, cells in summary_rows(variants):
        table.add_row(label, *cells)
    return table


def summary_rows(variants: dict[str, dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """The terminal table's rows: a label and one cell per variant (``summary.json``'s
    ``variants``). With several workloads, each one's start-up p50 and p99 follow the
    overall start-up rows."""
    def row(label: str, metric: str) -> tuple[str, list[str]]:
        unit = row_unit([metric_value(m, metric) for m in variants.values()], metric)
        return (unit_label(label, unit),
                [show(m, metric, unit) + escape(band_text(m, metric)) for m in variants.values()])

    rows = []
    for label, metric in SUMMARY_ROWS:
        rows.append(row(label, metric))
        if metric == "startup_s.max":
            rows += [row(label, metric) for label, metric in workload_rows(variants)]
        if metric == "pulled_bytes" and any(m.get("image_gc_removed_bytes")
                                            for m in variants.values()):
            rows.append(row("bytes removed by image GC", "image_gc_removed_bytes"))
    rows += [row(label, metric) for label, metric, when in ISOLATION_ROWS
             if any(when(m) for m in variants.values())]
    if any(m.get("cost") for m in variants.values()):
        rows += [row(label, metric) for label, metric in COST_ROWS
                 if any(metric_value(m, metric) is not None for m in variants.values())]
        rows.append(("licences: edition (sets at the peak)",
                     [_edition(m) for m in variants.values()]))
    campaigns = dict.fromkeys(c for m in variants.values() for c in (m.get("maintenance") or {}))
    for name in campaigns:
        rows += [row(f"{name}: {label}", f"maintenance.{name}.{key}")
                 for label, key in MAINTENANCE_ROWS
                 if any(key in ((m.get("maintenance") or {}).get(name) or {})
                        for m in variants.values())]
    names = dict.fromkeys(p for m in variants.values() for p in (m.get("pipelines") or {}))
    for name in names:
        for label, key in PIPELINE_ROWS:
            metric = f"pipelines.{name}.{key}"
            cells = [show(m, metric) for m in variants.values()]
            if key == "registry_egress_peak_bps":
                cells = [_gbits(m, metric) for m in variants.values()]
            rows.append((f"{name}: {label}", cells))
    return rows


COST_ROWS = [  # label, metric (what the window after warm-up costs)
    ("cost per instance-hour", "cost.per_instance_hour"),
    ("  with every host on Standard", "cost.per_instance_hour_standard"),
    ("  with every host on Datacenter", "cost.per_instance_hour_datacenter"),
    ("cost of the window: hosts", "cost.hosts"), ("  licences", "cost.licences"),
    ("  energy", "cost.energy"), ("  total", "cost.total"),
    ("power, mean (W)", "power_w.mean"), ("power, peak (W)", "power_w.peak"),
    ("energy incl. PUE (kWh)", "energy_kwh"), ("carbon (kg CO2e)", "carbon_kg"),
]


def _edition(metrics: dict[str, Any]) -> str:
    lic = metrics.get("licences") or {}
    if not lic or lic.get("edition") == "none":
        return "-"
    sets = lic.get("sets")
    return f"{lic['edition'].removeprefix('windows-')} ({sets:,.0f})" if sets is not None \
        else str(lic["edition"])


def _gbits(metrics: dict[str, Any], metric: str) -> str:
    value = metric_value(metrics, metric)
    return "-" if value is None else f"{value / 1e9:.3g} Gbit/s"


MAINTENANCE_ROWS = [  # label, key under maintenance.<name>
    ("duration", "duration_s"), ("waves finished", "waves_done"),
    ("hosts patched", "hosts_done"), ("restarts caused", "restarts"),
    ("live migrations", "migrations"), ("bytes moved (migrations, re-pulls)", "bytes_moved"),
    ("hosts out of service, most", "capacity_dip"), ("availability meanwhile", "availability"),
    ("instance-hours lost", "lost_instance_hours"),
    ("start-up p99 meanwhile", "startup_p99_s"), ("evicted, never back", "not_back"),
    ("every instance on the new build after", "all_on_new_build_s"),
]


PIPELINE_ROWS = [  # label, key under pipelines.<name>
    ("runs (completed)", "completed"), ("build", "build_s"), ("test", "test_s"),
    ("push", "push_s"), ("pre-pull", "pre_pull_s"), ("rollout", "rollout_s"),
    ("commit to production", "commit_to_production_s"),
    ("bytes pulled by the rollout", "bytes_pulled"),
    ("registry egress peak", "registry_egress_peak_bps"),
    ("running capacity dip", "capacity_dip"),
    ("start-up p99 during rollout", "rollout_startup_p99_s"),
]


def _faulted(m: dict[str, Any]) -> bool:
    return sum((m.get("faults") or {}).values()) > 0


def _elastic(m: dict[str, Any]) -> bool:
    return "hosts_mean" in m


ISOLATION_ROWS = [  # label, metric, shown when any variant ...
    ("faults: host hardware", "faults.host_hardware", _faulted),
    ("faults: host kernel", "faults.host_kernel", _faulted),
    ("faults: instance-triggered kernel", "faults.instance_kernel", _faulted),
    ("blast radius mean (instances)", "blast_radius.mean", _faulted),
    ("blast radius p99", "blast_radius.p99", _faulted),
    ("blast radius max", "blast_radius.max", _faulted),
    ("tenants per fault, mean", "tenants_per_fault_mean", _faulted),
    ("restarts", "restarts", _faulted),
    ("restart start-up p99", "restart_startup_s.p99", _faulted),
    ("availability", "availability", _faulted),
    ("lost instance-hours", "lost_instance_hours", _faulted),
    ("tenant pairs sharing a kernel", "cross_tenant_kernel_pairs_mean",
     lambda m: (m.get("cross_tenant_kernel_pairs_mean") or 0) > 0
     or m.get("kernel_sharing") is not None),
    ("batch slowdown p50", "slowdown.p50",
     lambda m: (m.get("slowdown") or {}).get("p50") is not None),
    ("batch slowdown p99", "slowdown.p99",
     lambda m: (m.get("slowdown") or {}).get("p99") is not None),
    ("density: most on one physical host", "density_physical_max",
     lambda m: m.get("density_physical_max") != m.get("density_max")),
    *[(label, metric, _elastic) for label, metric in (
        ("hosts present, mean", "hosts_mean"), ("hosts present, peak", "hosts_peak"),
        ("host-hours", "host_hours"), ("hosts added (scale-ups)", "scale_ups"),
        ("hosts removed (scale-downs)", "scale_downs"),
        ("provisions given up", "provision_failures"),
        ("restarts by scale-down drains", "scale_down_restarts"))],
    *[(label, metric, lambda m: "unserved" in m) for label, metric in (
        ("time to capacity, mean", "time_to_capacity_s.mean"),
        ("time to capacity, p95", "time_to_capacity_s.p95"),
        ("time to capacity, max", "time_to_capacity_s.max"),
        ("rises never served", "time_to_capacity_s.not_reached"),
        ("unserved (replica-hours)", "unserved.instance_hours"),
        ("unserved, share of demand", "unserved.share"))],
]
