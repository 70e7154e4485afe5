"""The command line: ``run``, ``validate`` and ``schema``.

Owns: arguments, exit statuses and what is printed. Bad input exits with status 2 after
printing every problem as FILE:LINE:COL: path: message, and writes nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from sim import __version__
from sim.edge.loader import Loaded, ScenarioError, load_file
from sim.errors import UserError
from sim.present.formats import show
from sim.spec.config import MAX_SEED, QUANTITY_PATTERN, Scenario
from sim.spec.units import DURATION_HINT, format_duration

EXIT_BAD_INPUT = 2
EXIT_BUG = 70  # EX_SOFTWARE: an unexpected exception, reported as a bug


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m sim`` and the ``csim`` console script."""
    parser = argparse.ArgumentParser(
        prog="csim", description="Simulate Windows container hosts: process isolation, "
                                 "Hyper-V isolation and VMs compared.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="run a scenario and write results/<name>/")
    p_run.add_argument("file", help="scenario YAML file")
    p_run.add_argument("--out", default="results", help="results root (default: results)")
    p_run.add_argument("--seed", type=_seed, default=None, help="override the scenario's seed")
    p_run.add_argument("--replications", type=_positive, default=None,
                       help="override the scenario's replications")
    p_run.add_argument("--jobs", type=_positive, default=None,
                       help="local worker processes (default: all cores)")
    p_run.add_argument("--cluster", default=None, metavar="ADDRESS",
                       help="send the runs to a Dask scheduler, e.g. tcp://host:8786")
    p_run.add_argument("--rerun", action="store_true",
                       help="rerun runs already in the run store")
    p_run.add_argument("--force", action="store_true",
                       help="run even when the estimate of memory or time is past the limits")
    p_run.add_argument("--no-charts", action="store_true", help="skip the PNG charts")
    p_run.add_argument("--quiet", action="store_true", help="print only errors")
    p_val = sub.add_parser("validate", help="check a scenario without running it")
    p_val.add_argument("file", nargs="+", help="scenario YAML file(s)")
    p_val.add_argument("--force", action="store_true",
                       help="do not count an estimate past the memory or time limits as a "
                            "problem")
    sub.add_parser("schema", help="print the JSON Schema of the scenario format")
    p_den = sub.add_parser("density", help="how many instances fit per host, per mode, and "
                                           "which resource binds first")
    p_den.add_argument("file", help="scenario YAML file")
    p_den.add_argument("--out", default="results", help="results root (default: results)")
    p_den.add_argument("--no-charts", action="store_true", help="skip the PNG chart")
    p_den.add_argument("--quiet", action="store_true", help="print only errors")
    p_den.add_argument("--force", action="store_true",
                       help="run even when the estimate of memory or time is past the limits")
    p_img = sub.add_parser("images", help="each image with its layers and the hosts holding "
                                          "them at the end of the run (like docker images)")
    p_img.add_argument("file", help="scenario YAML file")
    p_img.add_argument("--variant", help="only this variant (default: all)")
    p_img.add_argument("--out", default="results", help="results root (default: results)")
    p_img.add_argument("--quiet", action="store_true", help="print only errors")
    p_img.add_argument("--force", action="store_true",
                       help="run even when the estimate of memory or time is past the limits")
    p_fid = sub.add_parser("fidelity", help="reproduce published measurements and queueing "
                                            "theory; write a report with every error")
    p_fid.add_argument("--out", default="results", help="results root (default: results)")
    p_fid.add_argument("--quick", action="store_true",
                       help="shorter runs, no refitting: the subset CI runs")
    p_fid.add_argument("--jobs", type=_positive, default=None, help="local worker processes")
    sub.add_parser("profiles", help="the calibrated isolation profiles, each value with its "
                                    "source and trust level")
    p_fit = sub.add_parser("fit", help="fit a lognormal start-up distribution to measurements")
    p_fit.add_argument("file", help="a text or CSV file of measurements, one a line")
    p_fit.add_argument("--column", type=_positive, default=1, help="1-based column (default 1)")
    p_fit.add_argument("--scale", type=_finite_positive, default=1.0,
                       help="multiply to get seconds (1e-3 for ms, 1e-6 for us)")
    p_fit.add_argument("--empirical", action="store_true",
                       help="print the sample's percentiles as an empirical distribution")
    p_plan = sub.add_parser("plan", help="the fewest hosts per mode that meet the SLOs")
    p_plan.add_argument("file", help="scenario YAML file")
    p_plan.add_argument("--slo", action="append", default=[], metavar="METRIC<=VALUE",
                        help="e.g. 'startup_p99<=30s', 'blocking<=1%%', "
                             "'memory_utilization_mean<=80%%'; repeat for several")
    p_plan.add_argument("--headroom", type=_count, default=None, metavar="K",
                        help="still meet the SLOs after K hosts fail (N+K)")
    p_plan.add_argument("--replications", type=_positive, default=None,
                        help="runs per candidate host count (default 3)")
    p_plan.add_argument("--group", default=None, help="host group to size (default: first)")
    p_plan.add_argument("--max-hosts", type=_positive, default=None, help="search limit")
    p_plan.add_argument("--seed", type=_seed, default=None, help="override the scenario's seed")
    p_plan.add_argument("--out", default="results", help="results root (default: results)")
    p_plan.add_argument("--jobs", type=_positive, default=None, help="local worker processes")
    p_plan.add_argument("--cluster", default=None, metavar="ADDRESS",
                        help="send the runs to a Dask scheduler")
    p_plan.add_argument("--rerun", action="store_true", help="rerun stored runs")
    p_plan.add_argument("--force", action="store_true",
                        help="run even when the estimate of memory or time is past the limits")
    p_plan.add_argument("--no-charts", action="store_true", help="skip the PNG charts")
    p_plan.add_argument("--quiet", action="store_true", help="print only errors")
    args = parser.parse_args(argv)
    try:
        return _dispatch(parser, args)
    except UserError as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as exc:  # a bug, not bad input: say so briefly, keep the traceback
        if os.environ.get("SIM_TRACEBACK"):
            raise
        print(f"internal error: {type(exc).__name__}: {exc}\n"
              "This is a bug in the simulator, not in your input. Please report it with the "
              "command and the scenario file; SIM_TRACEBACK=1 shows the traceback.",
              file=sys.stderr)
        return EXIT_BUG


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run the parsed command; bad input returns EXIT_BAD_INPUT after saying what is wrong."""
    if args.command == "schema":
        print(json.dumps(schema(), indent=2))
        return 0
    if args.command == "fidelity":
        from sim.cli.fidelity import fidelity

        return fidelity(Path(args.out), args.quick, args.jobs)
    if args.command == "profiles":
        from sim.cli.fidelity import profiles_table

        Console(width=None if Console().is_terminal else 200).print(profiles_table())
        return 0
    if args.command == "fit":
        from sim.cli.fidelity import fit_command

        return fit_command(args.file, args.column, args.scale, args.empirical)
    if args.command == "validate":
        status = 0
        for file in args.file:
            loaded = _load(file)
            if loaded is None or not _fits(loaded, args.force, None):
                status = EXIT_BAD_INPUT
            else:
                print(f"{file}: ok ({_describe(loaded)})")
        return status
    loaded = _load(args.file)
    if loaded is None:
        return EXIT_BAD_INPUT
    replications = getattr(args, "replications", None)
    if args.command == "plan":
        spec = loaded.scenario.plan
        replications = replications or (spec.replications if spec else 3)
    if not _fits(loaded, args.force, replications):
        return EXIT_BAD_INPUT
    if args.command in ("density", "plan", "run", "images"):
        from sim.present import output

        output.check_writable(Path(args.out))
        output.remove_stale(Path(args.out))
    if args.command == "density":
        from sim.cli.planning import density

        return density(loaded, Path(args.out), not args.no_charts, args.quiet)
    if args.command == "images":
        from sim.cli.images import images

        return images(loaded, Path(args.out), args.variant, args.quiet)
    if args.command == "plan":
        from sim.cli.planning import plan

        try:
            return plan(loaded, args)
        except KeyboardInterrupt:
            print("interrupted: completed runs are kept; the same command resumes",
                  file=sys.stderr)
            return 130
    try:
        return _run(loaded, args)
    except KeyboardInterrupt:
        print(f"interrupted: completed runs are kept in {Path(args.out) / '.runs'}; "
              "the same command resumes", file=sys.stderr)
        return 130


def _seed(text: str) -> int:
    """An argparse type: a seed, 0 to 2**63 - 1."""
    value = _integer(text)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"a seed is an integer from 0 to {MAX_SEED} "
                                         f"(got {text!r})")
    return value


def _positive(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {text!r})")
    return value


def _count(text: str) -> int:
    """An argparse type: an integer of at least 0."""
    value = _integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more (got {text!r})")
    return value


def _integer(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer (got {text!r})") from None
    if abs(value) > 10**18:
        raise argparse.ArgumentTypeError(f"too large (got {text!r})")
    return value


def _finite_positive(text: str) -> float:
    """An argparse type: a finite number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number (got {text!r})") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number above 0 (got {text!r})")
    return value


def _fits(loaded: Loaded, force: bool, replications: int | None) -> bool:
    """Whether the scenario's estimated memory and time are within this machine's limits
    (always, with ``force``); if not, say so with the figures at the key that drives it."""
    from sim.edge import budget

    if force:
        return True
    s = loaded.scenario
    variants = 1
    for values in (s.compare.model_dump().values() if s.compare else ()):
        variants *= len(values or [None])
    found = budget.estimate([p.scenario for p in loaded.points] or [s], variants,
                            replications or s.replications, loaded.trace_rows)
    why = budget.refusal(found, budget.machine_limits())
    if why is None:
        return True
    key = budget.driver(found, budget.machine_limits())
    line, col = loaded.place(key)
    print(f"{loaded.source}:{line}:{col}: {key}: {why}", file=sys.stderr)
    print(f"{loaded.source}: 1 problem; nothing was run", file=sys.stderr)
    return False


def schema() -> dict[str, Any]:
    """The scenario format's JSON Schema."""
    data = _bare_durations(Scenario.model_json_schema())
    data["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    data["title"] = "Container-host simulator scenario"
    return data


def _bare_durations(node: Any) -> Any:
    """Let every distribution in the schema also be a bare duration (``4h`` = constant), as
    the loader accepts."""
    if isinstance(node, list):
        return [_bare_durations(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: _bare_durations(v) for k, v in node.items()}
    if (node.get("discriminator") or {}).get("propertyName") == "dist":
        bare = {"anyOf": [{"type": "string", "pattern": QUANTITY_PATTERN},
                          {"type": "number", "minimum": 0}], "description": DURATION_HINT}
        title = node.pop("title", None)
        node = {"anyOf": [bare, node], **({"title": title} if title else {})}
    return node


def _load(file: str) -> Loaded | None:
    try:
        return load_file(file)
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        n = len(exc.problems)
        print(f"{file}: {n} problem{'s' if n != 1 else ''}; nothing was run", file=sys.stderr)
    except OSError as exc:
        print(f"{file}: cannot read: {exc.strerror or exc}", file=sys.stderr)
    return None


def _describe(loaded: Loaded) -> str:
    s = loaded.scenario
    hosts = sum(g.count for g in s.hosts)
    return (f"{hosts} hosts, {len(s.images)} images, {len(s.workloads)} workloads, "
            f"{format_duration(s.duration)} simulated")


def _run(loaded: Loaded, args: argparse.Namespace) -> int:
    # imported here so that validate and schema start fast
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from sim.experiment.expand import expand
    from sim.present import output, plots
    from sim.present.report import write_report
    from sim.run.runner import default_jobs, plan, run_all
    from sim.run.store import Store
    from sim.spec import paths

    out = Path(args.out)
    console = Console(stderr=True, quiet=args.quiet, soft_wrap=True)
    scenario = loaded.scenario
    specs = expand(loaded, args.seed, args.replications)
    store = Store(out / ".runs")
    the_plan = plan(specs, store, args.rerun)
    jobs = args.jobs or default_jobs()
    workers = min(jobs, len(the_plan.todo))
    where = (f"cluster {args.cluster}" if args.cluster
             else f"{workers} local process{'es' if workers > 1 else ''}")
    console.print(f"{scenario.name}: {len(set(the_plan.keys))} runs, {the_plan.stored} already "
                  f"in {store.root}, {len(the_plan.todo)} to run"
                  + (f" on {where}" if the_plan.todo else ""))
    started = time.perf_counter()
    live = not args.quiet and console.is_terminal
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                        console=console, disable=not live)
    with progress:
        task = progress.add_task("simulating", total=len(the_plan.todo))

        def done(result: Any) -> None:
            progress.advance(task)
            if not live:
                point = " ".join(f"{k}={v}" for k, v in result.parameters.items())
                console.print(f"  {result.variant}{' ' + point if point else ''} "
                              f"rep {result.replication}: {len(result.instances):,} instances "
                              f"in {result.wall_s:.2f} s")

        run_all(the_plan, store, jobs, args.cluster, done)
    outputs = [store.load(key) for key in the_plan.keys]
    seed = specs[0].seed
    swept = list(scenario.sweep or {})
    numeric = {path: {str(point.parameters[i][1]): _number(paths.get(
        point.scenario.model_dump(mode="json"), path)) for point in loaded.points}
        for i, path in enumerate(swept)}

    def draw(folder: Path, agg: Any) -> None:
        if swept:
            plots.sweep_charts(folder, scenario.name, agg, swept, numeric)
        else:
            plots.draw_all(folder, scenario.name, [o for o in outputs if o.replication == 0],
                           scenario.warmup)

    folder, data = output.write(out, loaded, seed, outputs, None if args.no_charts else draw,
                                lambda staging: write_report(staging, loaded))
    if not args.quiet:
        screen = Console()
        if not screen.is_terminal:  # a file or a pipe: wide enough for every variant's name
            names = list(data.get("variants") or {})
            screen = Console(width=max(160, 40 + sum(max(len(n), 12) + 3 for n in names)))
        screen.print(sweep_table(data) if swept else summary_table(data))
    console.print(f"wrote {folder}/ in {time.perf_counter() - started:.1f} s")
    return 0


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


SWEEP_HEADS = [("startup_s.p50", "start-up p50"), ("startup_s.p99", "start-up p99"),
               ("wait_s.mean", "wait mean"), ("density_max", "density max"),
               ("memory_utilization_mean", "memory"), ("blocking", "blocking")]


def sweep_table(data: dict[str, Any]) -> Table:
    """A row per sweep point and variant with the headline metrics (± 95 % CI half-width)."""
    reps = data["replications"]
    table = Table(title=f"{data['name']} (seed {data['seed']}, {reps} "
                        f"replication{'s' if reps > 1 else ''} per point)")
    params = list(data["points"][0]["parameters"]) if data["points"] else []
    for p in params:
        table.add_column(p)
    table.add_column("variant")
    for _, label in SWEEP_HEADS:
        table.add_column(label, justify="right")
    for point in data["points"]:
        for name, m in point["variants"].items():
            table.add_row(*[str(v) for v in point["parameters"].values()], name,
                          *[show(m, metric) for metric, _ in SWEEP_HEADS])
    return table


SUMMARY_ROWS = [  # label, metric
    ("requests", "requests"), ("started", "started"), ("rejected", "rejected"),
    ("blocking", "blocking"), ("start-up p50", "startup_s.p50"),
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
    table.add_column("metric")
    for name in variants:
        table.add_column(name, justify="right")
    for label, metric in SUMMARY_ROWS:
        table.add_row(label, *[show(m, metric) for m in variants.values()])
    for label, metric, when in ISOLATION_ROWS:
        if any(when(m) for m in variants.values()):
            table.add_row(label, *[show(m, metric) for m in variants.values()])
    names = dict.fromkeys(p for m in variants.values() for p in (m.get("pipelines") or {}))
    for name in names:
        for label, key in PIPELINE_ROWS:
            metric = f"pipelines.{name}.{key}"
            cells = [show(m, metric) for m in variants.values()]
            if key == "registry_egress_peak_bps":
                cells = [_gbits(m, metric) for m in variants.values()]
            table.add_row(f"{name}: {label}", *cells)
    return table


def _gbits(metrics: dict[str, Any], metric: str) -> str:
    from sim.analysis.aggregate import metric_value

    value = metric_value(metrics, metric)
    return "-" if value is None else f"{value / 1e9:.3g} Gbit/s"


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
]
