"""Running fuzz cases against the command line and judging each outcome.

Owns: executing a ``tests.fuzz_cases.Case`` in a forked child of a process that imported
``sim`` once (fast: no interpreter start per case; safe: the child has its own memory limit,
time limit, working folder and output files, and a crash or hang cannot take the caller with
it), and the verdict: exit 0, a clean error (exit 2, a message naming the file, nothing
written), or a failure (a traceback, a hang, another exit status, an unnamed message, files
written on error). Must not: generate cases or know which defects exist.

The child runs ``sim.cli.main(argv)`` as ``python -m sim`` would: stdout and stderr are files
(so rich sees no terminal), stdout encodes strictly and stderr with backslashreplace, like a
piped interpreter's. POSIX only (fork, setrlimit, SIGALRM).
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import os
import re
import resource
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from tests.fuzz_cases import Case, apply_hunks, hunks, yaml_diff

GRACE_S = 5.0  # after the child's own alarm: killed from outside (stuck in C code)


def grace_s() -> float:
    """Seconds past a case's time limit before the parent kills it (``SIM_FUZZ_GRACE_S``)."""
    return float(os.environ.get("SIM_FUZZ_GRACE_S", GRACE_S))

EXTRA_MEMORY = 3 * 1024**3  # address space a child may add to what the parent holds
TAIL_CHARS = 20_000
_TRACEBACK = "Traceback (most recent call last)"
_FRAME = re.compile(r'File "([^"]+)", line (\d+), in (\S+)')


class CaseTimeout(BaseException):
    """Raised in a child by its alarm: the case ran past its time limit (a hang)."""


@dataclass(frozen=True)
class Outcome:
    """How one case ended.

    Attributes:
        case: the case.
        status: the exit status (None when the child raised, hung or was killed).
        verdict: ``ok`` (exit 0), ``clean`` (exit 2 as promised) or ``failure``.
        problem: for a failure, what was wrong: ``traceback``, ``hang``, ``exit 1``,
            ``unnamed error``, ``wrote files``, ``killed``.
        signature: what identifies the defect across cases, e.g.
            ``ZeroDivisionError at sim/model/dists.py:42``.
        last_line: the last line of the traceback, or of stderr.
        seconds: wall time of the case.
        stderr: the tail of the child's stderr.
        warnings: Python warnings the child printed (not failures; counted).
        raised_in: for an exception, the library frame that raised it, if not in ``sim``.
    """

    case: Case
    status: int | None
    verdict: str
    problem: str
    signature: str
    last_line: str
    seconds: float
    stderr: str
    warnings: tuple[str, ...] = field(default=())
    raised_in: str = ""


def project_root() -> Path:
    """The folder holding the ``sim`` package that is imported (frames are shown relative
    to it)."""
    import sim

    return Path(sim.__file__).resolve().parent.parent


def prepare() -> None:
    """Import what the commands import and warm the loader's caches once, here, so that no
    child pays for it."""
    os.environ.setdefault("MPLBACKEND", "Agg")

    from sim.edge.loader import load_file

    load_file(project_root() / "scenarios" / "windows-isolation.yaml")
    gc.collect()
    gc.freeze()  # children's collections then skip (and do not copy) the parent's objects


def memory_limit() -> int:
    """Address-space limit for a child: this process's size plus ``EXTRA_MEMORY``."""
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024 + EXTRA_MEMORY
    return 8 * 1024**3


# --- the child ------------------------------------------------------------------------------

def _alarm(_signum: int, _frame: FrameType | None) -> None:
    raise CaseTimeout()


def _frames(tb: Any) -> list[tuple[str, int, str]]:
    """The traceback's frames, without the harness's own (the alarm handler's, the child's)."""
    return [(f.filename, f.lineno or 0, f.name) for f in traceback.extract_tb(tb)
            if Path(f.filename).name != "fuzz_harness.py"]


Entry = Callable[[list[str]], "int | None"]
"""What a child calls with the case's argv: ``sim.cli.main``, or a stand-in in the harness's
own tests."""


def _child(case: Case, folder: Path, report: Path, memory: int, entry: Entry | None) -> NoReturn:
    """Run ``case.argv`` in ``folder`` and write what happened to ``report`` (JSON), with
    stdout and stderr beside it. Never returns."""
    try:
        os.setpgid(0, 0)
        for fd, suffix in ((1, ".out"), (2, ".err")):
            target = os.open(f"{report}{suffix}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(target, fd)
            os.close(target)
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8")
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8",
                                      errors="backslashreplace", line_buffering=True)
        sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, case.timeout_s)
        os.chdir(folder)
        if entry is None:
            from sim.cli import main

            entry = main
        result: dict[str, Any] = {"kind": "exit"}
        try:
            status = entry(list(case.argv))
            result["status"] = 0 if status is None else status
        except SystemExit as exc:
            if exc.code is None or isinstance(exc.code, int):
                result["status"] = exc.code or 0
            else:
                print(exc.code, file=sys.stderr)
                result["status"] = 1
        except CaseTimeout as exc:
            result = {"kind": "hang", "frames": _frames(exc.__traceback__)}
        except BaseException as exc:  # noqa: BLE001 - every escape is the finding
            signal.setitimer(signal.ITIMER_REAL, 0)
            with contextlib.suppress(BaseException):  # a MemoryError may recur here
                traceback.print_exc()
            result = {"kind": "exception", "type": type(exc).__name__,
                      "message": str(exc)[:500], "frames": _frames(exc.__traceback__)}
        signal.setitimer(signal.ITIMER_REAL, 0)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001 - stdout may fail to encode
                result.setdefault("flush_error", True)
        report.write_text(json.dumps(result), encoding="utf-8")
    except BaseException:  # noqa: BLE001
        os._exit(99)
    os._exit(0)


# --- the parent -----------------------------------------------------------------------------

@dataclass
class _Running:
    case: Case
    pid: int
    folder: Path
    report: Path
    written: set[str]
    started: float


def _write(case: Case, folder: Path) -> set[str]:
    folder.mkdir(parents=True)
    for rel, data in case.files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return _listing(folder)


def _listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def _start(case: Case, folder: Path, report: Path, memory: int, entry: Entry | None
           ) -> _Running:
    written = _write(case, folder)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        _child(case, folder, report, memory, entry)
    with contextlib.suppress(OSError):  # the child already did, or is gone
        os.setpgid(pid, pid)
    return _Running(case, pid, folder, report, written, time.perf_counter())


def _kill(pid: int) -> None:
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
            return
        except OSError:
            continue


def _tail(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="backslashreplace")
    except OSError:
        return ""
    return text[-TAIL_CHARS:]


def _where(filename: str, lineno: int, root: Path, name: str | None = None) -> str:
    path = Path(filename)
    try:
        shown = str(path.resolve().relative_to(root))
    except ValueError:
        parts = path.parts
        cut = max((i for i, p in enumerate(parts) if p == "site-packages"), default=-1)
        shown = "/".join(parts[cut + 1:]) if cut >= 0 else path.name
    return f"{shown}:{name}" if name is not None else f"{shown}:{lineno}"


def _in_sim(filename: str, root: Path) -> bool:
    try:
        rel = Path(filename).resolve().relative_to(root)
    except ValueError:
        return False
    return rel.parts[:1] == ("sim",)


_PLUMBING = {"main", "_load", "load_file"}  # the CLI's way in, shared by every case


def _signature(kind: str, frames: list[tuple[str, int, str]], root: Path) -> tuple[str, str]:
    """``TYPE at sim/module.py:LINE`` (the deepest frame in ``sim``), and where it was raised
    when that is elsewhere (a library).

    A hang is named by the two outermost ``sim`` functions below the CLI's entry
    (``hang in loader.load_text > loader._plain``): where the alarm lands inside them
    varies from run to run, the loop that does not end does not.
    """
    ours = [f for f in frames if _in_sim(f[0], root)]
    deepest = frames[-1] if frames else ("?", 0, "?")
    own = ours[-1] if ours else deepest
    raised = "" if deepest == own else f"raised in {_where(deepest[0], deepest[1], root)}"
    if kind == "hang":
        chain: list[str] = []
        for filename, _line, name in ours:
            step = f"{Path(filename).stem}.{name}"
            if name in _PLUMBING or name.startswith("<") or (chain and chain[-1] == step):
                continue
            chain.append(step)
        return f"hang in {' > '.join(chain[:2]) or _where(own[0], own[1], root, own[2])}", \
            raised
    return f"{kind} at {_where(own[0], own[1], root)}", raised


def _normal(text: str, folder: Path) -> str:
    text = text.replace(str(folder.resolve()), "<case>").replace(str(folder), "<case>")
    return re.sub(r"\d+", "N", text)[:100]


def _judge(run: _Running, wait_status: int | None, root: Path) -> Outcome:
    case = run.case
    seconds = time.perf_counter() - run.started
    stderr = _tail(Path(f"{run.report}.err"))
    lines = [line for line in stderr.splitlines() if line.strip()]
    last = lines[-1][:300] if lines else ""
    warnings = tuple(sorted({m.group(0) for m in re.finditer(r"\w+Warning: [^\n]{0,80}",
                                                             stderr)}))

    def out(status: int | None, verdict: str, problem: str = "",
            signature: str | tuple[str, str] = "", at: str | None = None) -> Outcome:
        text, raised = (signature, "") if isinstance(signature, str) else signature
        return Outcome(case, status, verdict, problem, text, last if at is None else at,
                       seconds, stderr, warnings, raised)

    if wait_status is None:
        return out(None, "failure", "hang", f"hang (killed after {case.timeout_s + grace_s():g} "
                                            f"s, no Python frame) in {case.command}")
    if os.WIFSIGNALED(wait_status):
        sig = os.WTERMSIG(wait_status)
        return out(None, "failure", "killed", f"killed by signal {sig} in {case.command}")
    try:
        result = json.loads(run.report.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return out(None, "failure", "killed", f"child died without a report "
                                              f"(exit {os.WEXITSTATUS(wait_status)})")
    frames = [(str(f[0]), int(f[1]), str(f[2])) for f in result.get("frames", [])]
    if result["kind"] == "hang":
        where = _where(frames[-1][0], frames[-1][1], root) if frames else "?"
        return out(None, "failure", "hang", _signature("hang", frames, root),
                   f"still running after {case.timeout_s:g} s, at {where}")
    if result["kind"] == "exception":
        return out(None, "failure", "traceback", _signature(result["type"], frames, root))
    status = result["status"]
    if _TRACEBACK in stderr:
        printed = [(f, int(n), name) for f, n, name in _FRAME.findall(stderr)]
        kind = re.match(r"(\w[\w.]*)", last)
        return out(status, "failure", "traceback",
                   _signature(kind.group(1) if kind else "printed traceback", printed, root))
    if result.get("flush_error"):
        return out(status, "failure", "traceback", "UnicodeEncodeError writing stdout")
    if status not in (0, 2):
        first = lines[0] if lines else "(no message)"
        return out(status, "failure", f"exit {status}",
                   f"exit {status} from {case.command}: {_normal(first, run.folder)}")
    new = sorted(_listing(run.folder) - run.written)
    new = [n for n in new if not any(w.startswith(n + os.sep) for w in run.written)]
    if status == 2:
        if not any(m and m in stderr for m in case.mentions):
            first = lines[0] if lines else "(no message)"
            return out(status, "failure", "unnamed error",
                       f"exit 2 without the file's name: {_normal(first, run.folder)}")
        if new:
            return out(status, "failure", "wrote files",
                       f"exit 2 but wrote {', '.join(new[:3])}")
        return out(status, "clean")
    if case.command == "validate" and new:
        return out(status, "failure", "wrote files", f"validate wrote {', '.join(new[:3])}")
    return out(status, "ok")


def run_cases(cases: Iterable[Case], workers: int = 1,
              on_outcome: Callable[[Outcome], None] | None = None,
              keep: Path | None = None, entry: Entry | None = None) -> list[Outcome]:
    """Run every case, ``workers`` children at a time; outcomes in case order.

    Args:
        cases: the cases.
        workers: children running at once.
        on_outcome: called as each case finishes (progress).
        keep: copy each failing case's folder here (``case-<index>``), with its argv.
        entry: what the children call (default ``sim.cli.main``).

    Returns:
        One Outcome per case.
    """
    prepare()
    root = project_root()
    memory = memory_limit()
    pending = list(enumerate(cases))[::-1]
    results: dict[int, Outcome] = {}
    running: dict[int, _Running] = {}
    with tempfile.TemporaryDirectory(prefix="sim-fuzz-") as tmp:
        scratch = Path(tmp)
        while pending or running:
            while pending and len(running) < max(1, workers):
                index, case = pending.pop()
                running[index] = _start(case, scratch / f"case-{index}",
                                        scratch / f"report-{index}.json", memory, entry)
            finished: list[tuple[int, int | None]] = []
            for index, run in running.items():
                pid, wait_status = os.waitpid(run.pid, os.WNOHANG)
                if pid:
                    finished.append((index, wait_status))
                elif time.perf_counter() - run.started > run.case.timeout_s + grace_s():
                    _kill(run.pid)
                    os.waitpid(run.pid, 0)
                    finished.append((index, None))
            for index, status in finished:
                run = running.pop(index)
                outcome = _judge(run, status, root)
                results[index] = outcome
                if keep is not None and outcome.verdict == "failure":
                    target = keep / f"case-{index}"
                    shutil.rmtree(target, ignore_errors=True)
                    shutil.copytree(run.folder, target, symlinks=True)
                    (target / "ARGV.txt").write_text(" ".join(run.case.argv) + "\n",
                                                     encoding="utf-8")
                shutil.rmtree(run.folder, ignore_errors=True)
                if on_outcome is not None:
                    on_outcome(outcome)
            if not finished:
                time.sleep(0.005)
    return [results[i] for i in sorted(results)]


def minimize(outcome: Outcome, workers: int = 1) -> Outcome:
    """The failure with as few of its changed YAML lines as still give the same signature
    (one pass dropping each changed range in turn). Cases that are not a change to scenario
    data come back as they are."""
    case = outcome.case
    if not case.base or outcome.verdict != "failure":
        return outcome
    file = case.argv[1]
    changed = case.files[file].decode("utf-8", "surrogateescape")
    keep = hunks(case.base, changed)
    best = outcome
    for hunk in list(keep):
        if len(keep) == 1:
            break
        trial = [h for h in keep if h != hunk]
        text = apply_hunks(case.base, changed, trial)
        candidate = replace(case, files={**case.files, file: text.encode("utf-8",
                                                                         "surrogateescape")},
                            reproducer=yaml_diff(case.base, text, file))
        (result,) = run_cases([candidate], workers)
        if result.signature == outcome.signature:
            keep, best = trial, result
    return best


# --- summaries ------------------------------------------------------------------------------

def counts(outcomes: list[Outcome]) -> dict[str, int]:
    """Cases, exit 0, clean errors, failures, and failures by problem."""
    verdicts = Counter(o.verdict for o in outcomes)
    table = {"cases": len(outcomes), "exit 0": verdicts["ok"],
             "clean errors (exit 2)": verdicts["clean"], "failures": verdicts["failure"]}
    for problem, n in sorted(Counter(o.problem for o in outcomes if o.problem).items()):
        table[f"  {problem}"] = n
    table["cases printing a warning"] = sum(1 for o in outcomes if o.warnings)
    return table


def by_signature(outcomes: list[Outcome]) -> dict[str, list[Outcome]]:
    """Failures grouped by signature, the most frequent first; within a group, the case with
    the shortest reproducer first (the minimal one to show)."""
    groups: dict[str, list[Outcome]] = {}
    for o in outcomes:
        if o.verdict == "failure":
            groups.setdefault(o.signature, []).append(o)
    for group in groups.values():
        group.sort(key=lambda o: (len(o.case.reproducer), sum(map(len, o.case.files.values()))))
    return dict(sorted(groups.items(), key=lambda kv: -len(kv[1])))


def compact(outcome: Outcome) -> str:
    """One failure in two lines: the case and its signature with the traceback's last line."""
    raised = f" ({outcome.raised_in})" if outcome.raised_in else ""
    return (f"{outcome.case.description[:200]}\n    -> {outcome.problem}: {outcome.signature}"
            f"{raised} | {outcome.last_line[:160]}")


__all__ = ["CaseTimeout", "Entry", "Outcome", "by_signature", "compact", "counts", "memory_limit",
           "minimize", "prepare", "project_root", "run_cases"]
