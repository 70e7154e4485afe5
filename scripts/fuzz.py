"""A fuzz campaign against the command line: the test suite's mutator (``tests/fuzz_cases.py``)
and harness (``tests/fuzz_harness.py``) with more cases, printing the counts and each distinct
failure signature (exception type + module:line) with its smallest reproducer.

    python scripts/fuzz.py --cases 600 --seed 1
    python scripts/fuzz.py --cases 600 --seed 1 --workers 2 --markdown FINDINGS.md
    python scripts/fuzz.py --cases 600 --seed 1 --case 417     # one case, full stderr
    python scripts/fuzz.py --cases 600 --seed 1 --keep /tmp/failing   # failing cases' files

Exit status 0 when no case failed, 1 otherwise. POSIX only (the harness forks).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fuzz_cases import Case, generate
from tests.fuzz_harness import Outcome, by_signature, counts, minimize, run_cases


def breakdown(outcomes: list[Outcome], key: str) -> list[tuple[str, int, int, int, int]]:
    """Per command or family: cases, exit 0, clean errors, failures."""
    rows: dict[str, Counter[str]] = {}
    for o in outcomes:
        name = o.case.command if key == "command" else o.case.family
        rows.setdefault(name, Counter())[o.verdict] += 1
    return [(name, sum(c.values()), c["ok"], c["clean"], c["failure"])
            for name, c in sorted(rows.items(), key=lambda kv: -sum(kv[1].values()))]


def reproducer(case: Case) -> str:
    """The command and the change that make a case, as shown under its signature."""
    argv = " ".join(a if len(a) <= 60 else f"{a[:30]}...({len(a)} chars)" for a in case.argv)
    return f"python -m sim {argv}\n{case.reproducer}"


def smallest(outcomes: list[Outcome], workers: int) -> dict[str, Outcome]:
    """Per failure signature, its case with the shortest reproducer, reduced to as few
    changed YAML lines as still fail the same way."""
    return {signature: minimize(group[0], workers)
            for signature, group in by_signature(outcomes).items()}


def report_text(outcomes: list[Outcome], seed: int, seconds: float,
                shown: dict[str, Outcome]) -> str:
    """Counts, breakdowns and every distinct failure signature with a reproducer (``shown``:
    the case to show per signature)."""
    out = [f"fuzz campaign: seed {seed}, {len(outcomes)} cases, {seconds:.0f} s", ""]
    out += [f"{k:<28} {v:>6}" for k, v in counts(outcomes).items()]
    for key in ("command", "family"):
        out += ["", f"{key:<16} {'cases':>6} {'exit 0':>7} {'exit 2':>7} {'failed':>7}"]
        out += [f"{n:<16} {c:>6} {a:>7} {b:>7} {f:>7}" for n, c, a, b, f in breakdown(
            outcomes, key)]
    groups = by_signature(outcomes)
    out += ["", f"{len(groups)} distinct failure signatures"]
    for i, (signature, group) in enumerate(groups.items(), 1):
        first = shown.get(signature, group[0])
        raised = f" ({first.raised_in})" if first.raised_in else ""
        plural = "s" if len(group) > 1 else ""
        out += ["", f"[{i}] {signature}{raised}  ({len(group)} case{plural}, {first.problem})",
                f"    last line: {first.last_line[:200]}",
                f"    generated as: {first.case.description[:200]}"]
        out += ["    " + line for line in reproducer(first.case).splitlines()]
    out += _warnings(outcomes)
    return "\n".join(out)


def _warnings(outcomes: list[Outcome]) -> list[str]:
    """Each distinct Python warning printed (not a failure) with one case."""
    seen: dict[str, Outcome] = {}
    for o in outcomes:
        for w in o.warnings:
            seen.setdefault(re.sub(r"\d+", "N", w), o)
    lines = ["", f"{len(seen)} distinct warnings printed (not failures)"] if seen else []
    for w, o in seen.items():
        lines.append(f"  {w}\n      in {o.case.description[:150]}")
    return lines


def report_markdown(outcomes: list[Outcome], seed: int, seconds: float,
                    shown: dict[str, Outcome]) -> str:
    """The same as Markdown: a counts table, then a section per signature."""
    table = counts(outcomes)
    out = [f"# Fuzz findings (seed {seed}, {len(outcomes)} cases, {seconds:.0f} s)", "",
           "| count | n |", "|---|---:|"]
    out += [f"| {k.strip()} | {v} |" for k, v in table.items()]
    out += ["", "| command | cases | exit 0 | exit 2 | failed |", "|---|---:|---:|---:|---:|"]
    out += [f"| {n} | {c} | {a} | {b} | {f} |" for n, c, a, b, f in breakdown(outcomes,
                                                                             "command")]
    groups = by_signature(outcomes)
    out += ["", f"## {len(groups)} distinct failure signatures", ""]
    for i, (signature, group) in enumerate(groups.items(), 1):
        first = shown.get(signature, group[0])
        raised = f", {first.raised_in}" if first.raised_in else ""
        plural = "s" if len(group) > 1 else ""
        out += [f"### {i}. `{signature}`", "",
                f"{len(group)} case{plural} ({first.problem}{raised}); last line: "
                + f"`{first.last_line[:200]}`", "",
                f"Generated as: {first.case.description[:200]}", "", "```",
                reproducer(first.case), "```", ""]
    warnings = _warnings(outcomes)
    if warnings:
        out += ["## Warnings printed (not failures)", "", "```", *warnings[1:], "```"]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=600, help="cases to run (default 600)")
    parser.add_argument("--seed", type=int, default=1, help="campaign seed (default 1)")
    parser.add_argument("--workers", type=int, default=1, help="children at once (default 1)")
    parser.add_argument("--case", type=int, action="append", default=[],
                        help="run only this case index (repeatable); prints its stderr")
    parser.add_argument("--keep", type=Path, help="copy failing cases' folders here")
    parser.add_argument("--markdown", type=Path, help="also write the report as Markdown")
    parser.add_argument("--progress", action="store_true", help="a line per finished case")
    parser.add_argument("--no-minimize", action="store_true",
                        help="show each signature's case as generated, not reduced")
    args = parser.parse_args(argv)

    cases = generate(args.seed, args.cases)
    if args.case:
        cases = [cases[i] for i in args.case]
    started = time.perf_counter()
    done = [0]

    def progress(o: Outcome) -> None:
        done[0] += 1
        if args.progress or args.case:
            print(f"{done[0]:4} {o.seconds:6.2f}s {o.verdict:7} {o.case.description[:120]}"
                  + (f"\n       -> {o.signature}" if o.verdict == "failure" else ""),
                  flush=True)
        elif done[0] % 50 == 0:
            print(f"  {done[0]}/{len(cases)} cases", file=sys.stderr, flush=True)

    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    outcomes = run_cases(cases, args.workers, progress, args.keep)
    seconds = time.perf_counter() - started
    if args.case:
        for o in outcomes:
            print(f"\n--- {o.case.description}\nargv: {' '.join(o.case.argv)}\n"
                  f"{o.case.reproducer}\nstatus {o.status}, {o.verdict} {o.signature}\n"
                  f"stderr:\n{o.stderr}")
    shown = {} if args.no_minimize else smallest(outcomes, args.workers)
    print(report_text(outcomes, args.seed, seconds, shown))
    if args.markdown:
        args.markdown.write_text(report_markdown(outcomes, args.seed, seconds, shown) + "\n",
                                 encoding="utf-8")
    return 1 if any(o.verdict == "failure" for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
