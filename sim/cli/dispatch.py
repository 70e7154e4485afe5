"""The command line's entry: the argument parser, built one command at a time, and the
dispatch to the command's module.

Owns: every command's flags and help text, and the exit status of an unexpected exception.
Each command's work is in its own module (``run``, ``validate``, ``schema``, ``planning`` for
``density`` and ``plan``, ``images``, ``fidelity`` for ``fidelity``, ``profiles`` and
``fit``), imported only when that command runs. Must not import SimPy, the model or
matplotlib: ``import sim.cli`` loads this module.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim import __version__
from sim.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_BUG,
    count,
    finite_positive,
    fits,
    load,
    moment,
    positive,
    prepare,
    seed,
)
from sim.errors import UserError

if TYPE_CHECKING:
    from sim.edge.loader import Loaded

Commands = Any  # argparse's _SubParsersAction, whose name is private


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m sim`` and the ``csim`` console script."""
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
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


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command, in the order ``--help`` lists them."""
    parser = argparse.ArgumentParser(
        prog="csim", description=_about("Simulate Windows container hosts: process "
                                        "isolation, Hyper-V isolation and VMs compared."),
        epilog=_examples(
            "# new here? write the README's first scenario (\"Five minutes: a first "
            "scenario\")",
            "# or run the main shipped example: three modes, IIS front-ends on 20 hosts",
            "python -m sim run scenarios/windows-isolation.yaml",
            "# every command explains itself, with examples",
            "python -m sim run --help"),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (add_run, add_validate, add_schema, add_density, add_images, add_ps,
                add_fidelity, add_profiles, add_fit, add_plan, add_sensitivity):
        add(sub)
    return parser


def _about(text: str) -> str:
    """A command's description, one paragraph wrapped to 79 columns (the raw formatter, kept
    for the examples, does not wrap it)."""
    return textwrap.fill(" ".join(text.split()), 79)


def _examples(*lines: str) -> str:
    """A command's epilog: real command lines (and ``#`` comments), kept as written."""
    return "examples:\n" + "\n".join("  " + line for line in lines)


def _command(sub: Commands, name: str, summary: str, description: str,
             *examples: str) -> argparse.ArgumentParser:
    """Command ``name``'s parser: ``summary`` in ``--help``'s list of commands,
    ``description`` (what it answers and what it writes) above its options, ``examples``
    below them."""
    return sub.add_parser(name, help=summary, description=_about(description),
                          epilog=_examples(*examples),
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def _runs(p: argparse.ArgumentParser) -> None:
    """The options of a command that runs simulations: the seed, where results go, where the
    runs run, and whether stored runs are run again."""
    p.add_argument("--seed", type=seed, default=None, help="override the scenario's seed")
    p.add_argument("--out", default="results", help="results root (default: results)")
    p.add_argument("--jobs", type=positive, default=None,
                   help="local worker processes (default: all cores)")
    p.add_argument("--cluster", default=None, metavar="ADDRESS",
                   help="send the runs to a Dask scheduler, e.g. tcp://host:8786")
    p.add_argument("--rerun", action="store_true", help="rerun runs already in the run store")


def _force(p: argparse.ArgumentParser) -> None:
    p.add_argument("--force", action="store_true",
                   help="run even when the estimate of memory or time is past the limits")


def add_run(sub: Commands) -> None:
    """``run FILE``: run a scenario and write results/<name>/."""
    p = _command(
        sub, "run", "run a scenario and write results/<name>/",
        "Simulate a scenario: every variant it compares (compare:), every sweep point and "
        "every replication, the variants on the same arrivals and lifetimes. Prints a table "
        "of start-up times, density and memory per variant and writes OUT/<name>/: "
        "summary.json, runs.csv, timeseries.csv, report.html and charts. Runs already in the "
        "run store (OUT/.runs/) are reused, so an interrupted run resumes; --rerun runs them "
        "again.",
        "# the main example: process, Hyper-V and VM isolation on 20 hosts, 2 processes",
        "python -m sim run scenarios/windows-isolation.yaml --jobs 2",
        "# start-up against host count and arrival rate, 5 replications per point",
        "python -m sim run scenarios/sweep.yaml --replications 5 --no-charts",
        "# also a 5-95 % band per metric over 10 samples of the uncertain inputs",
        "python -m sim run scenarios/sensitivity.yaml --uncertainty 10 --jobs 2")
    p.add_argument("file", help="scenario YAML file")
    _runs(p)
    p.add_argument("--replications", type=positive, default=None,
                   help="override the scenario's replications")
    p.add_argument("--uncertainty", type=positive, default=None, metavar="N",
                   help="also run N samples of the uncertain inputs (Latin hypercube over "
                        "the scenario's uncertainty: ranges and the built-in estimates) and "
                        "report each metric's 5-95 %% band over them")
    p.add_argument("--strict", action="store_true",
                   help="exit with status 3 when the results carry a warning (a saturated "
                        "mode, a warm-up or window too short); they are still written")
    _force(p)
    p.add_argument("--no-charts", action="store_true", help="skip the PNG charts")
    p.add_argument("--quiet", action="store_true", help="print only errors")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """``run``: the exit status of ``sim.cli.run.command``, imported only when it runs."""
    from sim.cli.run import command

    return command(args)


def add_validate(sub: Commands) -> None:
    """``validate FILE...``: check scenarios without running them."""
    p = _command(
        sub, "validate", "check a scenario without running it",
        "Load and check scenario files without running them: types, units, unknown keys "
        "(with the key meant), references between images, profiles and host groups, and the "
        "estimate of memory and time. Every problem is printed as FILE:LINE:COL: key: "
        "message, all of them in one pass; a good file gets one line saying what it holds. "
        "Writes nothing; exit status 2 when any file has a problem.",
        "python -m sim validate scenarios/windows-isolation.yaml",
        "# every shipped scenario at once",
        "python -m sim validate scenarios/*.yaml")
    p.add_argument("file", nargs="+", help="scenario YAML file(s)")
    p.add_argument("--force", action="store_true",
                   help="do not count an estimate past the memory or time limits as a "
                        "problem")
    p.set_defaults(handler=validate)


def validate(args: argparse.Namespace) -> int:
    """``validate``: the exit status of ``sim.cli.validate.command``, imported only when it runs."""
    from sim.cli.validate import command

    return command(args)


def add_schema(sub: Commands) -> None:
    """``schema``: print the scenario format's JSON Schema."""
    _command(
        sub, "schema", "print the JSON Schema of the scenario format",
        "Print the JSON Schema of the scenario format to standard output: every key with its "
        "type, allowed values, default and a description, and which keys are required and "
        "why. Editors use it to complete and check scenario files as they are written; "
        "docs/scenario-format.md is the same content as tables. Writes no files.",
        "python -m sim schema > scenario.schema.json",
        "# then, as the first line of a scenario, for editors with the YAML language server:",
        "# yaml-language-server: $schema=scenario.schema.json").set_defaults(handler=schema)


def schema(args: argparse.Namespace) -> int:
    """``schema``: the exit status of ``sim.cli.schema.command``, imported only when it runs."""
    from sim.cli.schema import command

    return command(args)


def add_density(sub: Commands) -> None:
    """``density FILE``: instances per host, per mode, and the binding resource."""
    p = _command(
        sub, "density", "how many instances fit per host, per mode, and which resource "
                        "binds first",
        "How many instances of each workload one host of each group holds under each "
        "isolation mode, and which resource binds first (memory, vCPU, disk or Hyper-V "
        "partitions), each number checked by a simulation that fills one host. With several "
        "workloads, also how many hosts their steady-state mix packs into. Prints the tables "
        "and writes OUT/<name>/density.json, packing.json, density_per_host.png and "
        "report.html.",
        "python -m sim density scenarios/density.yaml",
        "# two workloads on one host group: density per workload and the packed mix",
        "python -m sim density scenarios/density-mixed.yaml --no-charts")
    p.add_argument("file", help="scenario YAML file")
    p.add_argument("--out", default="results", help="results root (default: results)")
    p.add_argument("--no-charts", action="store_true", help="skip the PNG chart")
    p.add_argument("--quiet", action="store_true", help="print only errors")
    _force(p)
    p.set_defaults(handler=density)


def density(args: argparse.Namespace) -> int:
    """``density``: the scenario prepared (``prepare``), then ``sim.cli.planning.density``;
    status 2 when it cannot run."""
    loaded = prepare(args)
    if loaded is None:
        return EXIT_BAD_INPUT
    from sim.cli.planning import density as command

    return command(loaded, Path(args.out), not args.no_charts, args.quiet)


def add_images(sub: Commands) -> None:
    """``images FILE``: each image's layers and the hosts holding them."""
    p = _command(
        sub, "images", "each image with its layers and the hosts holding them at a moment "
                       "of the run (like docker images)",
        "Run each variant's first replication and show every image, the ones a pipeline "
        "built or a commands script committed included, like docker images: its layers, "
        "their sizes and parents, when it was made, whether the registry has it, and which "
        "hosts hold each layer at the end of the run (--at: at that moment). Prints the "
        "view and writes OUT/<name>/images.json.",
        "# where the rolled-out layer ended up under Hyper-V isolation",
        "python -m sim images scenarios/rollout.yaml --variant hyperv",
        "# what the walk-through's host holds just after its first commit",
        "python -m sim images scenarios/walkthrough.yaml --variant process --at 5min",
        "python -m sim images scenarios/cold-nodes.yaml --quiet")
    p.add_argument("file", help="scenario YAML file")
    p.add_argument("--variant", help="only this variant, e.g. hyperv (default: all)")
    p.add_argument("--at", type=moment, default=None, metavar="T",
                   help="the moment, e.g. 90s or 10min (default: the end of the run)")
    p.add_argument("--out", default="results", help="results root (default: results)")
    p.add_argument("--quiet", action="store_true", help="print only errors")
    _force(p)
    p.set_defaults(handler=images)


def images(args: argparse.Namespace) -> int:
    """``images``: the scenario prepared (``prepare``), then ``sim.cli.images.images``;
    status 2 when it cannot run."""
    loaded = prepare(args)
    if loaded is None:
        return EXIT_BAD_INPUT
    from sim.cli.images import images as command

    return command(loaded, Path(args.out), args.variant, args.quiet, args.at)


def add_ps(sub: Commands) -> None:
    """``ps FILE``: the containers at a moment of the run."""
    p = _command(
        sub, "ps", "the containers at a moment of the run (like docker ps)",
        "Run each variant's first replication and list the containers at a moment, as "
        "docker ps does: a commands script's containers and the workloads' instances, each "
        "with its image, isolation, host, when it was created and its status (Up, Exited, "
        "Created). Without -a, only the running ones.",
        "# inside the walk-through's exec: the demo container is running",
        "python -m sim ps scenarios/walkthrough.yaml --at 2min",
        "# every container, stopped ones too, at the end of the run",
        "python -m sim ps scenarios/walkthrough.yaml -a --variant hyperv")
    p.add_argument("file", help="scenario YAML file")
    p.add_argument("--at", type=moment, default=None, metavar="T",
                   help="the moment, e.g. 90s or 10min (default: the end of the run)")
    p.add_argument("-a", "--all", action="store_true", dest="every",
                   help="every container, the created and stopped ones too")
    p.add_argument("--variant", help="only this variant, e.g. hyperv (default: all)")
    p.add_argument("--limit", type=positive, default=50,
                   help="the most rows listed per variant (default: 50)")
    _force(p)
    p.set_defaults(handler=ps)


def ps(args: argparse.Namespace) -> int:
    """``ps``: the scenario loaded and checked to fit this machine, then ``sim.cli.ps.ps``
    (it writes nothing); status 2 when it cannot run."""
    loaded = load(args.file)
    if loaded is None or not fits(loaded, args.force, 1):
        return EXIT_BAD_INPUT
    from sim.cli.ps import ps as command

    return command(loaded, args.variant, args.at, args.every, args.limit)


def add_fidelity(sub: Commands) -> None:
    """``fidelity``: the published measurements and queueing theory, reproduced."""
    p = _command(
        sub, "fidelity", "reproduce published measurements and queueing theory; write a "
                         "report with every error",
        "How far the simulator is from what it should reproduce: published measurements "
        "(start-ups under concurrency, memory per instance, Windows image pulls) and "
        "queueing theory (Erlang B and C, M/G/infinity), each case with its error and "
        "tolerance. Writes "
        "OUT/fidelity/report.md, report.json and a chart per case; exit status 1 when a "
        "check fails for no stated reason. Several minutes; --quick about one.",
        "python -m sim fidelity --quick",
        "python -m sim fidelity --jobs 2 --out /tmp/results")
    p.add_argument("--out", default="results", help="results root (default: results)")
    p.add_argument("--quick", action="store_true",
                   help="shorter runs, no refitting: the subset CI runs")
    p.add_argument("--jobs", type=positive, default=None,
                   help="local worker processes (default: all cores)")
    p.set_defaults(handler=fidelity)


def fidelity(args: argparse.Namespace) -> int:
    """``fidelity``: the exit status of ``sim.cli.fidelity.fidelity``, imported only when it
    runs."""
    from sim.cli.fidelity import fidelity as command

    return command(Path(args.out), args.quick, args.jobs)


def add_profiles(sub: Commands) -> None:
    """``profiles``: the calibrated isolation profiles and container runtimes."""
    _command(
        sub, "profiles", "the calibrated isolation profiles and container runtimes, each "
                         "value with its source and trust level",
        "Print the built-in isolation profiles (process, hyperv, vm) and container runtimes: "
        "every value with its source, its trust level (measured, derived, secondary, "
        "anecdotal or estimate) and, unless measured, its range. These are the defaults a "
        "scenario's profiles: and runtimes: sections override, and the ranges sensitivity "
        "and --uncertainty sample. "
        "Writes nothing.",
        "python -m sim profiles",
        "# 200 columns wide when not to a terminal",
        "python -m sim profiles > profiles.txt").set_defaults(handler=profiles)


def profiles(args: argparse.Namespace) -> int:
    """``profiles``: print the profiles table (200 columns wide when not to a terminal);
    status 0."""
    from rich.console import Console

    from sim.cli.fidelity import profiles_table, runtimes_table

    console = Console(width=None if Console().is_terminal else 200)
    console.print(profiles_table())
    console.print(runtimes_table())
    return 0


def add_fit(sub: Commands) -> None:
    """``fit FILE``: a lognormal start-up distribution fitted to measurements."""
    p = _command(
        sub, "fit", "fit a lognormal start-up distribution to measurements",
        "Fit a lognormal distribution (maximum likelihood) to measured start-up times, one a "
        "line, and print it as a scenario distribution to paste under a profile's create or "
        "boot, or a workload's app_start; --empirical keeps the sample's percentiles "
        "instead. Writes nothing.",
        "# boot times measured in milliseconds, one a line (your own file)",
        "python -m sim fit boot-ms.txt --scale 1e-3",
        "# the second column of a CSV file, in microseconds, as an empirical distribution",
        "python -m sim fit starts.csv --column 2 --scale 1e-6 --empirical")
    p.add_argument("file", help="a text or CSV file of measurements, one a line")
    p.add_argument("--column", type=positive, default=1, help="1-based column (default 1)")
    p.add_argument("--scale", type=finite_positive, default=1.0,
                   help="multiply to get seconds (1e-3 for ms, 1e-6 for us)")
    p.add_argument("--empirical", action="store_true",
                   help="print the sample's percentiles as an empirical distribution")
    p.set_defaults(handler=fit)


def fit(args: argparse.Namespace) -> int:
    """``fit``: the exit status of ``sim.cli.fidelity.fit_command``, imported only when it runs."""
    from sim.cli.fidelity import fit_command

    return fit_command(args.file, args.column, args.scale, args.empirical)


def add_plan(sub: Commands) -> None:
    """``plan FILE``: the fewest hosts per mode that meet the SLOs."""
    p = _command(
        sub, "plan", "the fewest hosts per mode that meet the SLOs",
        "Find, for each isolation mode, the fewest hosts in a group that meet every SLO, "
        "with N+K headroom. Each candidate host count is run several times and passes only "
        "if every SLO holds at the pessimistic end of its 95 % confidence interval; the SLOs "
        "and headroom come from --slo and --headroom, else from the scenario's plan: "
        "section. Prints the table and writes OUT/<name>/plan.json and report.html.",
        "# the SLOs from the scenario's plan: section, N+1",
        "python -m sim plan scenarios/plan-web-farm.yaml --headroom 1",
        "python -m sim plan scenarios/plan-web-farm.yaml --slo 'startup_p99<=30s' \\",
        "    --slo 'blocking<=1%' --jobs 2",
        "# the host count's spread over 8 samples of the uncertain inputs",
        "python -m sim plan scenarios/sensitivity.yaml --uncertainty 8 --jobs 2")
    p.add_argument("file", help="scenario YAML file")
    p.add_argument("--slo", action="append", default=[], metavar="METRIC<=VALUE",
                   help="e.g. 'startup_p99<=30s', 'blocking<=1%%', "
                        "'memory_utilization_mean<=80%%'; repeat for several (default: the "
                        "scenario's plan.slo)")
    p.add_argument("--headroom", type=count, default=None, metavar="K",
                   help="still meet the SLOs after K hosts fail (N+K; default: the "
                        "scenario's plan.headroom, else 0)")
    p.add_argument("--replications", type=positive, default=None,
                   help="runs per candidate host count (default: the scenario's "
                        "plan.replications, else 3)")
    p.add_argument("--group", default=None,
                   help="host group to size (default: the scenario's plan.group, else the "
                        "first group)")
    p.add_argument("--max-hosts", type=positive, default=None,
                   help="the most hosts the search tries (default: the scenario's "
                        "plan.max_hosts, else 10000)")
    p.add_argument("--objective", choices=["hosts", "cost"], default=None,
                   help="minimise hosts (the fewest that meet the SLOs; default, or the "
                        "scenario's plan.objective) or cost (the cheapest count that meets "
                        "them: the hosts' price, licences and energy)")
    _runs(p)
    p.add_argument("--uncertainty", type=positive, default=None, metavar="N",
                   help="also plan at N samples of the uncertain inputs (Latin hypercube) "
                        "and report the spread of the host count over them")
    _force(p)
    p.add_argument("--no-charts", action="store_true", help="skip the PNG charts")
    p.add_argument("--quiet", action="store_true", help="print only errors")
    p.set_defaults(handler=plan)


def plan(args: argparse.Namespace) -> int:
    """``plan``: the scenario prepared for its runs per candidate (``--replications``, else
    the scenario's ``plan.replications``, else 3), then ``sim.cli.planning.plan``; status 2
    when it cannot run, 130 on an interrupt (the completed runs are kept)."""
    def replications(loaded: Loaded) -> int | None:
        spec = loaded.scenario.plan
        return args.replications or (spec.replications if spec else 3)

    loaded = prepare(args, replications)
    if loaded is None:
        return EXIT_BAD_INPUT
    from sim.cli.planning import plan as command

    try:
        return command(loaded, args)
    except KeyboardInterrupt:
        print("interrupted: completed runs are kept; the same command resumes",
              file=sys.stderr)
        return 130


def add_sensitivity(sub: Commands) -> None:
    """``sensitivity FILE --metric M``: which uncertain inputs move each metric, ranked."""
    p = _command(
        sub, "sensitivity", "which uncertain inputs (the scenario's uncertainty: ranges and "
                            "the built-in estimates) move each metric, ranked",
        "Which uncertain inputs move each metric, ranked: the scenario's uncertainty: ranges "
        "and the built-in estimates (python -m sim profiles shows their ranges). Each input "
        "is run alone at its low and its high, then all together in a global design (Sobol "
        "indices, or Morris screening when the inputs are many), every run with the same "
        "seed, so what moves is the assumption, not chance. Prints the ranking and writes "
        "OUT/<name>/sensitivity.json, a tornado chart per metric and variant, and "
        "report.html.",
        "python -m sim sensitivity scenarios/sensitivity.yaml --variant hyperv \\",
        "    --metric startup_s.p99",
        "# two metrics, screened with Morris trajectories on two processes",
        "python -m sim sensitivity scenarios/sensitivity.yaml --variant hyperv \\",
        "    --metric startup_s.p99 --metric hosts_used_max --method morris --jobs 2")
    p.add_argument("file", help="scenario YAML file")
    p.add_argument("--metric", action="append", required=True, metavar="M",
                   help="a dotted metric of summary.json, e.g. startup_s.p99 or "
                        "hosts_used_max; repeat for several")
    p.add_argument("--method", choices=("auto", "sobol", "morris"), default="auto",
                   help="global design: Sobol indices, Morris screening, or auto (Sobol up "
                        "to 12 inputs)")
    p.add_argument("--samples", type=positive, default=None, metavar="N",
                   help="Sobol base samples (a power of two; default 32: N x (inputs + 2) "
                        "runs) or Morris trajectories (default 10: N x (inputs + 1) runs)")
    p.add_argument("--variant", action="append", default=None, metavar="NAME",
                   help="study only this variant (e.g. hyperv); repeat for several "
                        "(default: every variant)")
    _runs(p)
    _force(p)
    p.add_argument("--no-charts", action="store_true", help="skip the tornado charts")
    p.add_argument("--quiet", action="store_true", help="print only errors")
    p.set_defaults(handler=sensitivity)


def sensitivity(args: argparse.Namespace) -> int:
    """``sensitivity``: the exit status of ``sim.cli.sensitivity.command``, imported only when
    it runs."""
    from sim.cli.sensitivity import command

    return command(args)
