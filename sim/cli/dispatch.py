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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sim import __version__
from sim.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_BUG,
    count,
    finite_positive,
    positive,
    prepare,
    seed,
)
from sim.edge.loader import Loaded
from sim.errors import UserError

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
        prog="csim", description="Simulate Windows container hosts: process isolation, "
                                 "Hyper-V isolation and VMs compared.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (add_run, add_validate, add_schema, add_density, add_images, add_fidelity,
                add_profiles, add_fit, add_plan, add_sensitivity):
        add(sub)
    return parser


def _force(p: argparse.ArgumentParser) -> None:
    p.add_argument("--force", action="store_true",
                   help="run even when the estimate of memory or time is past the limits")


def add_run(sub: Commands) -> None:
    """``run FILE``: run a scenario and write results/<name>/."""
    p = sub.add_parser("run", help="run a scenario and write results/<name>/")
    p.add_argument("file", help="scenario YAML file")
    p.add_argument("--out", default="results", help="results root (default: results)")
    p.add_argument("--seed", type=seed, default=None, help="override the scenario's seed")
    p.add_argument("--replications", type=positive, default=None,
                   help="override the scenario's replications")
    p.add_argument("--jobs", type=positive, default=None,
                   help="local worker processes (default: all cores)")
    p.add_argument("--cluster", default=None, metavar="ADDRESS",
                   help="send the runs to a Dask scheduler, e.g. tcp://host:8786")
    p.add_argument("--rerun", action="store_true",
                   help="rerun runs already in the run store")
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
    p = sub.add_parser("validate", help="check a scenario without running it")
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
    sub.add_parser("schema", help="print the JSON Schema of the scenario format") \
        .set_defaults(handler=schema)


def schema(args: argparse.Namespace) -> int:
    """``schema``: the exit status of ``sim.cli.schema.command``, imported only when it runs."""
    from sim.cli.schema import command

    return command(args)


def add_density(sub: Commands) -> None:
    """``density FILE``: instances per host, per mode, and the binding resource."""
    p = sub.add_parser("density", help="how many instances fit per host, per mode, and "
                                       "which resource binds first")
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
    p = sub.add_parser("images", help="each image with its layers and the hosts holding "
                                      "them at the end of the run (like docker images)")
    p.add_argument("file", help="scenario YAML file")
    p.add_argument("--variant", help="only this variant (default: all)")
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

    return command(loaded, Path(args.out), args.variant, args.quiet)


def add_fidelity(sub: Commands) -> None:
    """``fidelity``: the published measurements and queueing theory, reproduced."""
    p = sub.add_parser("fidelity", help="reproduce published measurements and queueing "
                                        "theory; write a report with every error")
    p.add_argument("--out", default="results", help="results root (default: results)")
    p.add_argument("--quick", action="store_true",
                   help="shorter runs, no refitting: the subset CI runs")
    p.add_argument("--jobs", type=positive, default=None, help="local worker processes")
    p.set_defaults(handler=fidelity)


def fidelity(args: argparse.Namespace) -> int:
    """``fidelity``: the exit status of ``sim.cli.fidelity.fidelity``, imported only when it
    runs."""
    from sim.cli.fidelity import fidelity as command

    return command(Path(args.out), args.quick, args.jobs)


def add_profiles(sub: Commands) -> None:
    """``profiles``: the calibrated isolation profiles and container runtimes."""
    sub.add_parser("profiles", help="the calibrated isolation profiles and container "
                                    "runtimes, each value with its source and trust level"
                   ).set_defaults(handler=profiles)


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
    p = sub.add_parser("fit", help="fit a lognormal start-up distribution to measurements")
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
    p = sub.add_parser("plan", help="the fewest hosts per mode that meet the SLOs")
    p.add_argument("file", help="scenario YAML file")
    p.add_argument("--slo", action="append", default=[], metavar="METRIC<=VALUE",
                   help="e.g. 'startup_p99<=30s', 'blocking<=1%%', "
                        "'memory_utilization_mean<=80%%'; repeat for several")
    p.add_argument("--headroom", type=count, default=None, metavar="K",
                   help="still meet the SLOs after K hosts fail (N+K)")
    p.add_argument("--replications", type=positive, default=None,
                   help="runs per candidate host count (default 3)")
    p.add_argument("--group", default=None, help="host group to size (default: first)")
    p.add_argument("--max-hosts", type=positive, default=None, help="search limit")
    p.add_argument("--seed", type=seed, default=None, help="override the scenario's seed")
    p.add_argument("--out", default="results", help="results root (default: results)")
    p.add_argument("--jobs", type=positive, default=None, help="local worker processes")
    p.add_argument("--cluster", default=None, metavar="ADDRESS",
                   help="send the runs to a Dask scheduler")
    p.add_argument("--rerun", action="store_true", help="rerun stored runs")
    p.add_argument("--uncertainty", type=positive, default=None, metavar="N",
                   help="also plan at N samples of the uncertain inputs (Latin hypercube) "
                        "and report the spread of the host count over them")
    p.add_argument("--force", action="store_true",
                   help="run even when the estimate of memory or time is past the limits")
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
    p = sub.add_parser("sensitivity", help="which uncertain inputs (the scenario's "
                                           "uncertainty: ranges and the built-in estimates) "
                                           "move each metric, ranked")
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
    p.add_argument("--seed", type=seed, default=None, help="override the scenario's seed")
    p.add_argument("--out", default="results", help="results root (default: results)")
    p.add_argument("--jobs", type=positive, default=None,
                   help="local worker processes (default: all cores)")
    p.add_argument("--cluster", default=None, metavar="ADDRESS",
                   help="send the runs to a Dask scheduler, e.g. tcp://host:8786")
    p.add_argument("--rerun", action="store_true", help="rerun runs already in the run store")
    _force(p)
    p.add_argument("--no-charts", action="store_true", help="skip the tornado charts")
    p.add_argument("--quiet", action="store_true", help="print only errors")
    p.set_defaults(handler=sensitivity)


def sensitivity(args: argparse.Namespace) -> int:
    """``sensitivity``: the exit status of ``sim.cli.sensitivity.command``, imported only when
    it runs."""
    from sim.cli.sensitivity import command

    return command(args)
