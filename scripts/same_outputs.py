"""Prove that a change leaves every scenario's results byte for byte as they were.

Runs each scenario with ``python -m sim run SCENARIO --out TMP --no-charts --quiet --jobs 1``
in two trees, a reference commit (checked out as a temporary detached ``git worktree``) and
the current working tree (uncommitted changes included), each tree importing its own ``sim``
(``PYTHONPATH`` set to the tree, run from the tree's root), and compares the files the run
writes into ``TMP/<scenario name>/`` that the model decides: ``summary.json``,
``instances.csv``, ``timeseries.csv`` and ``aggregate.csv`` (a sweep's points are all in those
same files; ``runs.csv`` holds each run's key, a digest of the code, and its wall time).

    python scripts/same_outputs.py --ref main                  # compare with a commit
    python scripts/same_outputs.py --ref HEAD~3 --jobs 2 --scenarios scenarios/sweep.yaml
    python scripts/same_outputs.py --write-manifest ref.json    # keep this tree's hashes
    python scripts/same_outputs.py --manifest ref.json          # ... and compare with them later
    python scripts/same_outputs.py --ref main --write-manifest ref.json  # keep main's hashes

Each tree runs its own copy of a scenario (``scenarios/x.yaml`` of the reference tree for the
reference), so that a scenario's relative paths (traces) resolve inside that tree; a scenario
file outside the repository is run as it is in both. A scenario that only one side has is
reported MISSING. ``--manifest`` compares with the sha256 sums a ``--write-manifest`` stored
(with ``--ref``, the manifest holds the reference's sums; without, this tree's), so a
reference can be kept without checking out and running the old commit again; a manifest
written with other versions of Python or the numerical libraries is reported as a warning.

Exit status: 0 when every file is identical, 1 when any differs, is missing or a run failed,
2 on bad usage (an unknown ref, a scenario that does not exist, a bad manifest).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import glob
import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FILES = ("summary.json", "instances.csv", "timeseries.csv", "aggregate.csv")
ROOT = Path(__file__).resolve().parents[1]
MANIFEST_FORMAT = 1
# What the outputs depend on besides the code: recorded in a manifest, checked against it.
LIBRARIES = ("numpy", "pandas", "scipy", "simpy", "pyarrow", "pydantic", "sortedcontainers")


class Usage(Exception):
    """Bad usage: exit status 2."""


@dataclass
class Run:
    """One scenario run in one tree."""

    side: str  # "ref" or "work"
    scenario: str  # the key: the path relative to the repository root (or absolute)
    tree: Path
    file: Path | None  # None: the tree has no such scenario
    out: Path
    seconds: float = 0.0  # wall-clock
    cpu_seconds: float = 0.0  # user + system, of the run's process and its children
    status: str = "pending"  # ok, failed, missing
    error: str = ""
    hashes: dict[str, tuple[str, int] | None] = field(default_factory=dict)  # sha256, size
    paths: dict[str, Path] = field(default_factory=dict)


def git(*args: str, cwd: Path = ROOT) -> str:
    done = subprocess.run(["git", *args], check=False, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise Usage(f"git {' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.strip()


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def scenario_keys(patterns: list[str] | None) -> list[str]:
    """Each scenario as a key: its path relative to the repository root when inside it."""
    if not patterns:
        return sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "scenarios").glob("*.yaml"))
    keys: list[str] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) or [pattern]  # the shell may have expanded it
        for match in matches:
            path = Path(match).resolve()
            if not path.is_file():
                raise Usage(f"no such scenario: {match}")
            try:
                key = path.relative_to(ROOT).as_posix()
            except ValueError:
                key = str(path)
            if key not in keys:
                keys.append(key)
    return keys


def tree_env(tree: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree)  # this tree's sim, not the installed (editable) one
    env.pop("PYTHONSTARTUP", None)
    return env


def check_import(tree: Path) -> None:
    """Make sure ``python -m sim`` run from ``tree`` imports that tree's package."""
    done = subprocess.run([sys.executable, "-c", "import sim; print(sim.__file__)"],
                          cwd=tree, env=tree_env(tree), capture_output=True, text=True,
                          check=False)
    found = Path(done.stdout.strip()).resolve().parent if done.returncode == 0 else None
    if found != (tree / "sim").resolve():
        raise Usage(f"{tree}: python imports sim from {found or done.stderr.strip()}, "
                    f"not {tree / 'sim'}")


def execute(run: Run, timeout: float | None) -> Run:
    """Run the scenario and hash its result files."""
    if run.file is None:
        run.status = "missing"
        return run
    if run.out.exists():
        shutil.rmtree(run.out)
    run.out.mkdir(parents=True)
    command = [sys.executable, "-m", "sim", "run", str(run.file), "--out", str(run.out),
               "--no-charts", "--quiet", "--jobs", "1"]
    log = run.out / "run.log"
    with log.open("w") as f:
        f.write(f"$ {' '.join(command)}\n(cwd {run.tree})\n")
        f.flush()
        started = time.perf_counter()
        proc = subprocess.Popen(command, cwd=run.tree, env=tree_env(run.tree),
                                stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT)
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            proc.kill()

        timer = threading.Timer(timeout, kill) if timeout else None
        if timer is not None:
            timer.start()
        _pid, status, usage = os.wait4(proc.pid, 0)  # the child's own CPU time
        proc.returncode = os.waitstatus_to_exitcode(status)
        run.seconds = time.perf_counter() - started
        run.cpu_seconds = usage.ru_utime + usage.ru_stime
        if timer is not None:
            timer.cancel()
        f.write(f"exit status {proc.returncode}\n")
    if killed.is_set():
        run.status, run.error = "failed", f"killed after {timeout:.0f} s (--timeout)"
        return run
    folders = [p for p in run.out.iterdir() if p.is_dir() and not p.name.startswith(".")]
    if proc.returncode != 0 or len(folders) != 1:
        run.status = "failed"
        tail = log.read_text().strip().splitlines()[2:-1][-5:]
        run.error = (f"exit status {proc.returncode}" if proc.returncode != 0
                     else f"{len(folders)} result folders") + ("".join(
                         f"\n      {line}" for line in tail) if tail else "")
        return run
    run.status = "ok"
    for name in FILES:
        path = folders[0] / name
        run.paths[name] = path
        run.hashes[name] = (sha256(path), path.stat().st_size) if path.is_file() else None
    return run


def first_difference(a: Path, b: Path) -> str:
    """Where two text files first differ, to start looking."""

    def shown(line: bytes) -> str:
        return repr(line.rstrip(b"\r\n")[:160].decode(errors="replace"))

    with a.open("rb") as fa, b.open("rb") as fb:
        for number, (la, lb) in enumerate(zip(fa, fb), 1):
            if la != lb:
                return f"line {number}:\n      ref:  {shown(la)}\n      work: {shown(lb)}"
    return "one file is a prefix of the other"


def load_manifest(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise Usage(f"{path}: cannot read the manifest: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT \
            or not isinstance(data.get("scenarios"), dict):
        raise Usage(f"{path}: not a manifest of format {MANIFEST_FORMAT}")
    return data


def environment() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "-"
    return found


def manifest_entry(run: Run) -> dict[str, Any]:
    return {"status": run.status, "seconds": round(run.seconds, 1),
            "cpu_seconds": round(run.cpu_seconds, 1),
            "files": {name: None if value is None else {"sha256": value[0], "size": value[1]}
                      for name, value in run.hashes.items()}}


def from_manifest(data: dict[str, Any], key: str) -> Run:
    """The reference side of a comparison, as a manifest recorded it."""
    run = Run("ref", key, Path(), None, Path())
    entry = data["scenarios"].get(key)
    if entry is None or entry.get("status") == "missing":
        run.status = "missing"
        return run
    if entry.get("status") != "ok":
        run.status, run.error = "failed", "failed when the manifest was written"
        return run
    run.status, run.seconds = "ok", float(entry.get("seconds", 0.0))
    run.cpu_seconds = float(entry.get("cpu_seconds", 0.0))
    for name in FILES:
        value = entry["files"].get(name)
        run.hashes[name] = None if value is None else (value["sha256"], int(value["size"]))
    return run


def describe(value: tuple[str, int] | None) -> tuple[str, str]:
    return ("-", "absent") if value is None else (f"{value[1]:,}", value[0][:12])


def report(pairs: list[tuple[Run, Run]], ref_label: str) -> bool:
    """Print the comparison table and the timings; whether everything is identical."""
    rows = [("scenario", "file", "result", "ref bytes", "work bytes", "ref sha256",
             "work sha256")]
    notes: list[str] = []
    same = True
    for ref, work in pairs:
        if ref.status != "ok" or work.status != "ok":
            same = False
            for run in (ref, work):
                if run.status != "ok":
                    where = "reference" if run.side == "ref" else "working tree"
                    result = "MISSING" if run.status == "missing" else "FAILED"
                    rows.append((ref.scenario, "*", f"{result} ({run.side})", "", "", "", ""))
                    notes.append(f"  {ref.scenario}: {result.lower()} in the {where}"
                                 + (f": {run.error}" if run.error else ""))
            continue
        for name in FILES:
            a, b = ref.hashes.get(name), work.hashes.get(name)
            identical = a is not None and a == b
            same &= identical
            (ref_size, ref_sum), (work_size, work_sum) = describe(a), describe(b)
            rows.append((ref.scenario, name, "same" if identical else "DIFFERENT",
                         ref_size, work_size, ref_sum, work_sum))
            if not identical and a is not None and b is not None and name in ref.paths:
                notes.append(f"  {ref.scenario} {name}: first difference at "
                             + first_difference(ref.paths[name], work.paths[name]))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    right = {3, 4}
    print(f"reference: {ref_label}")
    for i, row in enumerate(rows):
        print("  ".join(cell.rjust(w) if c in right else cell.ljust(w)
                        for c, (cell, w) in enumerate(zip(row, widths))).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    if notes:
        print()
        print("\n".join(notes))
    print()
    print("time per scenario run, seconds (wall-clock / CPU, user + system):")
    for ref, work in pairs:
        cells = [f"{r.seconds:7.1f} / {r.cpu_seconds:6.1f}" if r.status == "ok"
                 else f"{r.status:>16}" for r in (ref, work)]
        print(f"  {ref.scenario:<{widths[0]}}  ref {cells[0]}   work {cells[1]}")
    n_identical = sum(row[2] == "same" for row in rows[1:])
    print()
    print(f"{'ALL IDENTICAL' if same else 'DIFFERENCES FOUND'}: {n_identical} of "
          f"{len(FILES) * len(pairs)} "
          f"files identical across {len(pairs)} scenarios")
    return same


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Check that every scenario's summary.json, instances.csv and "
                    "timeseries.csv are byte-identical between a reference commit (or a "
                    "manifest) and the working tree.")
    parser.add_argument("--ref", help="the reference commit-ish (branch, tag, sha, HEAD~2)")
    parser.add_argument("--manifest", type=Path, help="compare with sums stored by "
                                                      "--write-manifest instead of a commit")
    parser.add_argument("--write-manifest", type=Path, metavar="FILE",
                        help="store the reference's sums (this tree's without --ref)")
    parser.add_argument("--scenarios", nargs="+", metavar="FILE",
                        help="scenario files (default: scenarios/*.yaml)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="scenario runs at once (default 1); each run uses one core")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="keep the results (DIR/ref/..., DIR/work/...) and run logs")
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="give up on a run after this long (default: no limit)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if args.ref and args.manifest:
        parser.error("--ref and --manifest are two references: give one")
    if args.manifest and args.write_manifest:
        parser.error("--manifest and --write-manifest: the manifest already holds the sums")
    if not (args.ref or args.manifest or args.write_manifest):
        parser.error("give --ref COMMIT, --manifest FILE or --write-manifest FILE")
    try:
        return compare(args)
    except Usage as exc:
        print(f"same_outputs: {exc}", file=sys.stderr)
        return 2


def compare(args: argparse.Namespace) -> int:
    keys = scenario_keys(args.scenarios)
    manifest = load_manifest(args.manifest) if args.manifest else None
    if manifest is not None and not args.scenarios:  # also what the manifest has beyond ours
        keys += sorted(k for k in manifest["scenarios"] if k not in keys)
    commit = None
    if args.ref:
        try:
            commit = git("rev-parse", "--verify", "--quiet", f"{args.ref}^{{commit}}")
        except Usage:
            raise Usage(f"unknown ref {args.ref!r}") from None
    check_import(ROOT)
    temp = Path(tempfile.mkdtemp(prefix="same-outputs."))
    results = args.keep.resolve() if args.keep else temp / "results"
    ref_tree = temp / "ref"
    try:
        if commit:
            git("worktree", "add", "--detach", "--quiet", str(ref_tree), commit)
            check_import(ref_tree)
        ref_keys: list[str] = []
        if commit and not args.scenarios:  # the reference's scenarios that this tree lacks
            ref_keys = sorted(p.relative_to(ref_tree).as_posix()
                              for p in (ref_tree / "scenarios").glob("*.yaml"))
            keys += [k for k in ref_keys if k not in keys]

        def scenario_in(tree: Path, key: str) -> Path | None:
            path = Path(key) if Path(key).is_absolute() else tree / key
            return path if path.is_file() else None

        def out_dir(side: str, key: str) -> Path:
            return results / side / Path(key).with_suffix("").as_posix().replace("/", "_")

        runs: list[Run] = []
        for key in keys:
            if commit:
                runs.append(Run("ref", key, ref_tree, scenario_in(ref_tree, key),
                                out_dir("ref", key)))
            runs.append(Run("work", key, ROOT, scenario_in(ROOT, key), out_dir("work", key)))
        started = time.perf_counter()
        print(f"running {sum(r.file is not None for r in runs)} scenario runs, "
              f"{args.jobs} at a time ...", file=sys.stderr, flush=True)
        with cf.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = {pool.submit(execute, run, args.timeout): run for run in runs}
            for future in cf.as_completed(futures):
                run = future.result()
                if run.file is not None:
                    print(f"  {run.side:4} {run.scenario}: {run.status} in {run.seconds:.1f} s "
                          f"({run.cpu_seconds:.1f} s CPU)", file=sys.stderr, flush=True)
        print(f"all runs done in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        by = {(r.side, r.scenario): r for r in runs}
        if args.write_manifest:
            side = "ref" if commit else "work"
            data = {"format": MANIFEST_FORMAT,
                    "ref": args.ref or "working tree",
                    "commit": commit or git("rev-parse", "HEAD"),
                    "changes": [] if commit else git("status", "--porcelain").splitlines(),
                    "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "command": "python -m sim run SCENARIO --out OUT --no-charts --quiet "
                               "--jobs 1",
                    "environment": environment(),
                    "scenarios": {k: manifest_entry(by[side, k]) for k in keys}}
            args.write_manifest.write_text(json.dumps(data, indent=1) + "\n")
            print(f"wrote {args.write_manifest} ({side} sums of {len(keys)} scenarios)",
                  file=sys.stderr)
            if not commit:
                failed = [k for k in keys if by["work", k].status != "ok"]
                for k in failed:
                    print(f"  {k}: {by['work', k].status} {by['work', k].error}",
                          file=sys.stderr)
                return 1 if failed else 0
        if manifest is not None:
            here, there = environment(), manifest.get("environment", {})
            changed = [f"{k} {there.get(k)} -> {v}" for k, v in here.items()
                       if there.get(k) != v]
            if changed:
                print("warning: the manifest was written with other versions: "
                      + ", ".join(changed), file=sys.stderr)
            pairs = [(from_manifest(manifest, k), by["work", k]) for k in keys]
            label = (f"manifest {args.manifest} (of {manifest.get('ref')}, commit "
                     f"{str(manifest.get('commit'))[:12]}"
                     + (", with uncommitted changes" if manifest.get("changes") else "") + ")")
        else:
            pairs = [(by["ref", k], by["work", k]) for k in keys]
            label = f"{args.ref} (commit {commit and commit[:12]}) vs the working tree {ROOT}"
        return 0 if report(pairs, label) else 1
    finally:
        if commit and ref_tree.exists():
            removed = subprocess.run(["git", "worktree", "remove", "--force", str(ref_tree)],
                                     cwd=ROOT, capture_output=True, text=True, check=False)
            if removed.returncode != 0:
                print(f"warning: could not remove the worktree {ref_tree}: "
                      f"{removed.stderr.strip()}", file=sys.stderr)
        shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
