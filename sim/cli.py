"""The command line: ``run``, ``validate`` and ``schema``.

Owns: arguments, exit statuses and what is printed. Bad input exits with status 2 after
printing every problem as FILE:LINE:COL: path: message, and writes nothing.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from sim import __version__
from sim.config import Scenario
from sim.loader import Loaded, ScenarioError, load_file
from sim.units import format_duration, format_size

EXIT_BAD_INPUT = 2


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
    p_run.add_argument("--seed", type=int, default=None, help="override the scenario's seed")
    p_run.add_argument("--no-charts", action="store_true", help="skip the PNG charts")
    p_run.add_argument("--quiet", action="store_true", help="print only errors")
    p_val = sub.add_parser("validate", help="check a scenario without running it")
    p_val.add_argument("file", nargs="+", help="scenario YAML file(s)")
    sub.add_parser("schema", help="print the JSON Schema of the scenario format")
    args = parser.parse_args(argv)

    if args.command == "schema":
        print(json.dumps(schema(), indent=2))
        return 0
    if args.command == "validate":
        status = 0
        for file in args.file:
            loaded = _load(file)
            if loaded is None:
                status = EXIT_BAD_INPUT
            else:
                print(f"{file}: ok ({_describe(loaded)})")
        return status
    loaded = _load(args.file)
    if loaded is None:
        return EXIT_BAD_INPUT
    return _run(loaded, Path(args.out), args.seed, not args.no_charts, args.quiet)


def schema() -> dict[str, Any]:
    """The scenario format's JSON Schema."""
    data = Scenario.model_json_schema()
    data["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    data["title"] = "Container-host simulator scenario"
    return data


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


def _run(loaded: Loaded, out: Path, seed: int | None, charts: bool, quiet: bool) -> int:
    # imported here so that validate and schema start fast
    from sim import output, plots
    from sim.experiment import expand, run

    console = Console(stderr=True, quiet=quiet)
    scenario = loaded.scenario
    specs = expand(loaded, seed)
    started = time.perf_counter()
    variants = []
    for spec in specs:
        with console.status(f"simulating {scenario.name} / {spec.variant} ..."):
            result = run(spec)
        console.print(f"  {spec.variant}: {len(result.recorder.instances)} instances, "
                      f"{result.wall_s:.2f} s")
        variants.append(output.collect(result))
    run_seed = specs[0].seed
    data = output.summary(scenario.name, run_seed, scenario.duration, scenario.warmup, variants)
    resolved = resolved_scenario(loaded, run_seed, {s.scenario.workloads[i].isolation
                                                     for s in specs
                                                     for i in range(len(s.scenario.workloads))})

    def draw(folder: Path) -> None:
        plots.draw_all(folder, scenario.name, variants, scenario.warmup)

    folder = output.write(out, scenario.name, data, variants, resolved, draw if charts else None)
    if not quiet:
        Console().print(summary_table(data))
    console.print(f"wrote {folder}/ in {time.perf_counter() - started:.1f} s "
                  f"(summary.json, instances.csv, timeseries.csv, scenario.resolved.yaml"
                  f"{', charts' if charts else ''})")
    return 0


def resolved_scenario(loaded: Loaded, seed: int, used_profiles: set[str]) -> dict[str, Any]:
    """The scenario with every default filled in (canonical units: s, bytes, 1/s, bytes/s)
    and the full profiles it used; it loads and runs as a scenario of its own."""
    data = loaded.scenario.model_dump(mode="json", exclude_none=True)
    data["seed"] = seed
    data["profiles"] = {
        name: {k: v for k, v in loaded.profiles[name].model_dump(mode="json",
                                                                  exclude_none=True).items()
               if k != "name"}
        for name in sorted(used_profiles | set(loaded.scenario.profiles))
        if name in loaded.profiles}
    return data


def summary_table(data: dict[str, Any]) -> Table:
    """The terminal table: one column per variant."""
    variants = data["variants"]
    table = Table(title=f"{data['name']} (seed {data['seed']}; statistics after "
                        f"{format_duration(data['warmup_s'])} warm-up)")
    table.add_column("metric")
    for name in variants:
        table.add_column(name, justify="right")

    def sec(x: float | None) -> str:
        return "-" if x is None else format_duration(x)

    def phase_mean(phase: str, m: dict[str, Any]) -> str:
        return sec(m["phases_s"][phase]["mean"])

    rows: list[tuple[str, Any]] = [
        ("requests", lambda m: f"{m['requests']:,}"),
        ("started", lambda m: f"{m['started']:,}"),
        ("rejected (blocking)", lambda m: f"{m['rejected']:,} ({100 * m['blocking']:.2f} %)"),
        ("start-up p50", lambda m: sec(m["startup_s"]["p50"])),
        ("start-up p95", lambda m: sec(m["startup_s"]["p95"])),
        ("start-up p99", lambda m: sec(m["startup_s"]["p99"])),
        ("start-up max", lambda m: sec(m["startup_s"]["max"])),
        ("first request to last running", lambda m: sec(m["all_running_s"])),
        ("wait for placement + slot, mean", lambda m: sec(m["wait_s"]["mean"])),
        *[(f"  {p} mean", functools.partial(phase_mean, p))
          for p in ("pull", "extract", "copy", "create", "boot", "app_start")],
        ("running, time-average", lambda m: f"{m['running_mean']:,.1f}"),
        ("running, peak", lambda m: f"{m['running_peak']:,.0f}"),
        ("density: most on one host", lambda m: f"{m['density_max']:,.0f}"),
        ("hosts used, peak", lambda m: f"{m['hosts_used_max']:,.0f}"),
        ("memory committed, mean", lambda m: f"{100 * m['memory_utilization_mean']:.1f} %"),
        ("bytes pulled", lambda m: format_size(m["pulled_bytes"])),
    ]
    for label, fmt in rows:
        table.add_row(label, *[fmt(m) for m in variants.values()])
    return table
