"""The ``fidelity``, ``profiles`` and ``fit`` commands.

Owns: printing and writing ``OUT/fidelity/report.md``, ``report.json`` and the case charts;
the table of calibrated profile values with their sources; the fitting helper's output.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from sim.analysis.fit import empirical, fit_lognormal, read_column
from sim.fidelity import suite
from sim.present.report import profile_value
from sim.run.runner import default_jobs
from sim.spec import runtimes
from sim.spec.config import LazyPull
from sim.spec.profiles import builtin_profiles, range_parser, ranges, sources
from sim.spec.units import (
    format_bandwidth,
    format_duration,
    format_size,
    parse_duration,
    parse_size,
)


def fidelity(out: Path, quick: bool, jobs: int | None) -> int:
    """Run the suite; exit status 1 when a check fails for no stated reason."""
    console = Console(stderr=True, soft_wrap=True)
    started = time.perf_counter()
    console.print(f"fidelity suite{' (quick)' if quick else ''}: {len(suite.CASES)} cases")
    cases = suite.run_suite(out, quick, min(jobs or default_jobs(), default_jobs()),
                            lambda m: console.print("  " + m))
    wall = time.perf_counter() - started
    folder = out / "fidelity"
    folder.mkdir(parents=True, exist_ok=True)
    suite.draw_charts(folder, cases)
    (folder / "report.md").write_text(suite.report_markdown(cases, quick, wall))
    (folder / "report.json").write_text(json.dumps(suite.as_json(cases, quick, wall), indent=2)
                                        + "\n")
    screen = Console(width=None if Console().is_terminal else 160)
    table = Table(title=f"fidelity{' (quick)' if quick else ''}: published vs simulated")
    for column in ("case", "quantity", "published", "simulated", "error", "tolerance",
                   "role", "verdict"):
        table.add_column(column, justify="left" if column in ("case", "quantity", "role",
                                                               "verdict") else "right")
    for case in cases:
        for k in case.checks:
            rel = f" ({100 * k.relative_error:+.1f} %)" if k.relative_error is not None else ""
            style = {"pass": "green", "FAIL": "bold red"}.get(k.verdict, "yellow")
            table.add_row(case.name, k.quantity, suite.number(k.published),
                          suite.number(k.simulated), suite.number(k.error) + rel,
                          "± " + suite.number(k.tolerance), k.role,
                          f"[{style}]{k.verdict}[/{style}]")
    screen.print(table)
    unexplained = [k for c in cases for k in c.checks if not k.passed and not k.known_gap]
    console.print(f"wrote {folder}/report.md, report.json and {len(cases)} charts in "
                  f"{wall:.0f} s; {len(unexplained)} unexplained failure(s)")
    return 1 if unexplained else 0


def profiles_table() -> Table:
    """Every built-in profile value with its range (where it is not measured), trust level and
    source."""
    table = Table(title="calibrated isolation profiles (sim/spec/profiles.yaml)")
    for column in ("profile", "field", "value", "range", "trust", "source"):
        table.add_column(column, overflow="fold")
    known, spans = sources(), ranges()
    for name, profile in builtin_profiles().items():
        for field, (trust, source) in known[name].items():
            style = "bold red" if trust == "estimate" else ""
            table.add_row(name, field, profile_value(field, getattr(profile, field)),
                          _profile_range(field, spans[name]),
                          f"[{style}]{trust}[/{style}]" if style else trust, source)
    return table


def _profile_range(field: str, spans: dict[str, tuple[float, float]]) -> str:
    """The ranges of ``field``'s values, shown as its value is: ``0.2 - 0.6``, ``512MiB -
    2GiB``, or one per part (``median 250ms - 650ms, p95 750ms - 3.75s``)."""
    parts = []
    for path, (low, high) in spans.items():
        head, _, key = path.partition(".")
        if head != field:
            continue
        parser = range_parser(path)
        shown = (format_size if parser is parse_size
                 else format_duration if parser is parse_duration else "{:g}".format)
        parts.append((f"{key} " if key else "") + f"{shown(low)} - {shown(high)}")
    return ", ".join(parts)


def runtimes_table() -> Table:
    """Every built-in container runtime and antivirus value with its range (where it is not
    measured), trust level and source, and the defaults a host group gets."""
    table = Table(title="container runtimes and antivirus (sim/spec/runtimes.yaml)")
    for column in ("runtime", "field", "value", "range", "trust", "source"):
        table.add_column(column, overflow="fold")
    known, spans = runtimes.sources(), runtimes.ranges()
    factors = runtimes.antivirus_factors()

    def shown(field: str, value: object) -> str:
        if field == "extract_rate":
            return ("disk only" if not isinstance(value, float)
                    else format_bandwidth(value) + " per core")
        if field == "lazy_pull.start_at" and isinstance(value, float):
            return f"{value:.0%}"
        if field == "lazy_pull.slowdown" and isinstance(value, float):
            return f"x{value:g}"
        if isinstance(value, LazyPull):
            return (f"start at {shown('lazy_pull.start_at', value.start_at)} of each layer, "
                    f"{shown('lazy_pull.slowdown', value.slowdown)} while streaming")
        return "none" if value is None else str(value)

    def span(name: str, field: str) -> str:
        """The ranges of ``field``'s value, or one per part (``start_at 3% - 30%``)."""
        parts = []
        for path, (low, high) in spans.get(name, {}).items():
            head, _, part = path.partition(".")
            if head == field:
                parts.append((f"{part} " if part else "")
                             + f"{shown(path, low)} - {shown(path, high)}")
        return ", ".join(parts)

    rows = [(name, field, getattr(runtime, field))
            for name, runtime in runtimes.builtin_runtimes().items() for field in known[name]]
    rows += [(name, "factor", factors[name]) for name in factors]
    rows += list(zip(("defaults", "defaults"), ("default_runtime", "default_antivirus"),
                     runtimes.defaults()))
    for name, field, value in rows:
        trust, source = known[name][field]
        style = "bold red" if trust == "estimate" else ""
        table.add_row(name, field, shown(field, value), span(name, field),
                      f"[{style}]{trust}[/{style}]" if style else trust, source)
    return table


def fit_command(path: str, column: int, scale: float, as_empirical: bool = False) -> int:
    """Print a lognormal fit of the measurements (or the sample itself as an empirical
    distribution) as a scenario distribution."""
    try:
        samples = read_column(path, column, scale)
        fitted = fit_lognormal(samples)
    except (OSError, ValueError) as exc:
        print(f"fit: {exc}", file=sys.stderr)
        return 2
    print(f"# {fitted.n} samples from {path} (column {column} x {scale:g} = seconds)")
    print(f"# sample p50 {fitted.sample_p50 * 1e3:.4g} ms, p95 {fitted.sample_p95 * 1e3:.4g} ms;"
          f" Kolmogorov-Smirnov distance of the fit {fitted.ks_statistic:.3f}")
    print(f"boot: {empirical(samples) if as_empirical else fitted.yaml()}")
    return 0
