"""What the commands share: exit statuses, argument types, loading a scenario and checking
that it fits this machine before anything runs.

Owns: how bad input is reported (FILE:LINE:COL: path: message, then a count) and the exit
status it gives. Must not import SimPy, the model or matplotlib, nor the loader at import time:
every command loads this, ``--help`` included.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.spec.units import format_duration

if TYPE_CHECKING:  # the loader (pydantic, NumPy) is imported when a command loads a file
    from sim.edge.loader import Loaded

EXIT_BAD_INPUT = 2
EXIT_BUG = 70  # EX_SOFTWARE: an unexpected exception, reported as a bug


def seed(text: str) -> int:
    """An argparse type: a seed, 0 to 2**63 - 1."""
    from sim.spec.config import MAX_SEED

    value = integer(text)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"a seed is an integer from 0 to {MAX_SEED} "
                                         f"(got {text!r})")
    return value


def positive(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    value = integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {text!r})")
    return value


def count(text: str) -> int:
    """An argparse type: an integer of at least 0."""
    value = integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more (got {text!r})")
    return value


def integer(text: str) -> int:
    """``text`` as an integer of at most 10**18 either side of 0 (else
    ``argparse.ArgumentTypeError``): what ``seed``, ``positive`` and ``count`` check."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer (got {text!r})") from None
    if abs(value) > 10**18:
        raise argparse.ArgumentTypeError(f"too large (got {text!r})")
    return value


def finite_positive(text: str) -> float:
    """An argparse type: a finite number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number (got {text!r})") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number above 0 (got {text!r})")
    return value


def wide_console(width: int = 160) -> Any:
    """A rich console for a table on stdout: the terminal's width, or ``width`` columns when
    the output goes to a file or a pipe (where rich would assume 80 and fold the cells)."""
    from rich.console import Console

    screen = Console()
    return screen if screen.is_terminal else Console(width=width)


def moment(text: str) -> float:
    """An argparse type: a moment of a run, a duration of 0 or more such as 90s or 10min."""
    from sim.spec.units import UnitError, parse_duration

    try:
        value = parse_duration(text)
    except UnitError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"a moment is 0 or later (got {text!r})")
    return value


def fits(loaded: Loaded, force: bool, replications: int | None) -> bool:
    """Whether the scenario's estimated memory and time are within this machine's limits
    (always, with ``force``); if not, say so with the figures at the key that drives it."""
    from sim.edge import budget
    from sim.experiment.expand import compared

    if force:
        return True
    s = loaded.scenario
    variants = 1
    for _, values in compared(s):
        variants *= len(values)
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


def load(file: str) -> Loaded | None:
    """The scenario in ``file``, loaded and checked; None after printing why not: its
    problems and that nothing was run, or why the file cannot be read."""
    from sim.edge.loader import ScenarioError, load_file

    try:
        return load_file(file)
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        n = len(exc.problems)
        print(f"{file}: {n} problem{'s' if n != 1 else ''}; nothing was run", file=sys.stderr)
    except OSError as exc:
        print(f"{file}: cannot read: {exc.strerror or exc}", file=sys.stderr)
    return None


def describe(loaded: Loaded) -> str:
    """What ``validate`` says of a good scenario: its hosts, images and workloads counted, and
    the simulated duration."""
    s = loaded.scenario
    hosts = sum(g.count for g in s.hosts)
    script = (f"a commands script of {len(s.commands.steps)} steps, "
              if s.commands is not None else "")
    return (f"{hosts} hosts, {len(s.images)} images, {len(s.workloads)} workloads, {script}"
            f"{format_duration(s.duration)} simulated")


def prepare(args: argparse.Namespace,
            replications: Callable[[Loaded], int | None] = lambda loaded: None
            ) -> Loaded | None:
    """For a command that runs a scenario (``args.file``) and writes under ``args.out``: the
    loaded scenario, once it fits this machine (``replications`` of it) and the results root
    is writable, stale partial results removed; None after saying what is wrong."""
    loaded = load(args.file)
    if loaded is None or not fits(loaded, args.force, replications(loaded)):
        return None
    from sim.present import folders
    from sim.run.store import Store

    folders.check_writable(Path(args.out), (loaded.scenario.name, ".runs"))
    folders.remove_stale(Path(args.out))
    Store(Path(args.out) / ".runs").remove_stale()
    return loaded
