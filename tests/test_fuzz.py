"""Hostile input never gets a traceback, a hang or an exit status other than 0 or 2.

A seeded fuzz campaign (``tests/fuzz_cases.py``) over every shipped scenario and every trace
format: first one case per defect the bad-input issue names, then random mutations. Each case
runs ``python -m sim`` (``validate`` mostly; ``run``, ``density`` and ``images`` on shrunk
scenarios) in a forked child with a memory and a time limit (``tests/fuzz_harness.py``). A
failure is a traceback, a hang, another exit status, an exit 2 whose message does not name
the file, or files written on an error. ``scripts/fuzz.py`` runs larger campaigns.

Environment: ``SIM_FUZZ_CASES`` (default 300), ``SIM_FUZZ_SEED`` (default 20240),
``SIM_FUZZ_WORKERS`` (children at once, default 1).
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.fuzz_cases import Case, generate, sources
from tests.fuzz_harness import compact, counts, run_cases

STAND_INS = {  # what a stand-in for sim.cli.main does -> the verdict and problem expected
    "ok": ("ok", ""), "clean": ("clean", ""), "raise": ("failure", "traceback"),
    "memory": ("failure", "traceback"), "loop": ("failure", "hang"),
    "stuck": ("failure", "hang"), "exit1": ("failure", "exit 1"),
    "unnamed": ("failure", "unnamed error"), "writes": ("failure", "wrote files"),
    "printed": ("failure", "traceback"), "bad-stdout": ("failure", "traceback"),
}


def stand_in(argv: list[str]) -> int:
    """Misbehaves as ``argv[1]`` says, to show that the harness notices each way."""
    kind = argv[1]
    if kind == "raise":
        raise ZeroDivisionError("float division by zero")
    if kind == "memory":
        return len(bytearray(64 * 1024**3))
    if kind == "loop":
        while True:
            pass
    if kind == "stuck":  # the alarm cannot reach it: killed from outside
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        time.sleep(60)
    if kind == "exit1":
        return 1
    if kind in ("clean", "unnamed", "writes"):
        if kind == "writes":
            Path("out").mkdir()
            Path("out", "summary.json").write_text("{}")
        print("something is wrong" if kind == "unnamed" else "s.yaml:1:1: name: bad",
              file=sys.stderr)
        return 2
    if kind == "printed":
        print("Traceback (most recent call last):\n  File \"x.py\", line 1, in f\n"
              "KeyError: 'PROCESS'", file=sys.stderr)
        return 2
    if kind == "bad-stdout":
        print("\ud800")
    return 0

CASES = int(os.environ.get("SIM_FUZZ_CASES", "300"))
SEED = int(os.environ.get("SIM_FUZZ_SEED", "20240"))
WORKERS = int(os.environ.get("SIM_FUZZ_WORKERS", "1"))

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the harness forks (POSIX)")


@functools.cache
def campaign() -> list[Case]:
    """The suite's cases (generated once per session)."""
    return generate(SEED, CASES)


def test_the_cases_are_reproducible_and_cover_every_source_and_command():
    again = generate(SEED, CASES)
    assert [(c.description, c.files, c.argv) for c in campaign()] == \
        [(c.description, c.files, c.argv) for c in again]
    assert [c.files for c in generate(SEED + 1, 80)] != [c.files for c in again[:80]]
    assert {s.file for s in sources()} <= {c.argv[1] for c in campaign()}
    assert {s.fmt for s in sources()} >= {"csv", "google-2011", "azure-v1"}
    commands = Counter(c.command for c in campaign())
    assert set(commands) == {"validate", "run", "density", "images", "plan", "fit"}, commands


def test_the_harness_notices_tracebacks_hangs_statuses_unnamed_errors_and_files(monkeypatch):
    monkeypatch.setenv("SIM_FUZZ_GRACE_S", "0.5")
    cases = [Case(kind, "self-test", {"s.yaml": b"name: x\n"}, ("validate", kind), ("s.yaml",),
                  1.0, "") for kind in STAND_INS]
    outcomes = run_cases(cases, entry=stand_in)
    assert {o.case.description: (o.verdict, o.problem) for o in outcomes} == STAND_INS
    by = {o.case.description: o for o in outcomes}
    assert by["raise"].signature == "ZeroDivisionError at tests/test_fuzz.py:" + str(
        stand_in.__code__.co_firstlineno + 4)
    assert by["loop"].signature.startswith("hang in ")
    assert "killed" in by["stuck"].signature


def test_hostile_input_gets_a_clean_error_or_a_result(record_property):
    started = time.perf_counter()
    outcomes = run_cases(campaign(), workers=WORKERS)
    table = counts(outcomes)
    table["seconds"] = round(time.perf_counter() - started)
    for key, value in table.items():
        record_property(key.strip(), value)
    summary = ", ".join(f"{k.strip()}: {v}" for k, v in table.items())
    print(f"fuzz (seed {SEED}): {summary}")
    failures = [compact(o) for o in outcomes if o.verdict == "failure"]
    assert not failures, (f"{len(failures)} of {len(outcomes)} fuzz cases failed ({summary}); "
                          "reproduce with scripts/fuzz.py --seed "
                          f"{SEED} --cases {CASES}:\n" + "\n".join(failures))
