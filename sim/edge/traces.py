"""Workload traces: reading trace files into columnar NumPy arrays, and turning them into the
instances one run replays.

Owns: the three trace formats (``azure-v1``, ``google-2011``, ``csv``), their content digests,
errors that name the trace file, line and field, and ``replay``: the pure step from a read
trace and its options (window, speed-up, sampling, scaling, classes) to per-instance arrival
times, lifetimes, vCPU and memory in simulation time. Files are read streaming (line by line,
or in pandas chunks with the C engine); each row is never a Python object.
Must not: know about SimPy, draw from anything but the generator it is handed, or write files.
The model never calls the readers: ``sim.run.execute`` reads, ``sim.model`` replays arrays.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import itertools
import json
import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.spec.config import TraceArrivals, Workload
from sim.spec.units import GiB

AZURE_BIN_S = 300.0  # the Azure V1 traces are binned into 5-minute intervals
GOOGLE_START_S = 600.0  # Google 2011: events before the trace's start carry timestamp 0
GOOGLE_EVENTS = {"SUBMIT": 0, "SCHEDULE": 1, "EVICT": 2, "FAIL": 3, "FINISH": 4, "KILL": 5,
                 "LOST": 6}
GOOGLE_TERMINAL = (2, 3, 4, 5, 6)
GOOGLE_COLUMNS = ["timestamp", "missing_info", "job_id", "task_index", "machine_id",
                  "event_type", "user", "scheduling_class", "priority", "cpu_request",
                  "memory_request", "disk_request", "different_machine_restriction"]
CSV_FIELDS = ("arrival", "lifetime", "cpu", "memory", "tenant", "class", "deployment")
CHUNK_ROWS = 200_000
MAX_AZURE_BINS = 100_000  # duration bins of an interval map (the published one has 46)
_TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6}


class TraceError(Exception):
    """A malformed trace: ``str()`` is ``FILE:LINE: field: what is wrong, what would be right``."""

    def __init__(self, file: str, line: int, field: str, message: str) -> None:
        self.file = file
        self.line = line
        self.field = field
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}"


@dataclass(frozen=True, eq=False)
class TraceTable:
    """The instances of a trace as read, one array entry each, in trace time (seconds).

    ``arrival_s`` is the arrival, or for a binned trace the start of its bin (arrivals are
    spread over ``arrival_spread_s`` per deployment on replay). A lifetime lies in
    ``[lifetime_low_s, lifetime_high_s]`` (equal when exact; NaN: unknown or censored, the
    instance runs past the trace's end). ``cpu`` (vCPU) and ``memory_bytes`` are NaN where the
    trace gives none. ``tenant`` and ``klass`` are codes into ``tenants`` and ``classes``;
    ``deployment`` numbers the batches (instances requested together) from 0.
    """

    files: tuple[str, ...]
    digest: str
    arrival_s: np.ndarray
    arrival_spread_s: float
    lifetime_low_s: np.ndarray
    lifetime_high_s: np.ndarray
    has_lifetime: bool
    cpu: np.ndarray
    memory_bytes: np.ndarray
    tenant: np.ndarray
    tenants: tuple[str, ...]
    klass: np.ndarray
    classes: tuple[str, ...]
    deployment: np.ndarray

    def __len__(self) -> int:
        return len(self.arrival_s)

    @property
    def censored(self) -> np.ndarray:
        """Instances whose lifetime the trace does not know (they outlive it)."""
        return np.isnan(self.lifetime_low_s)


@dataclass(frozen=True, eq=False)
class Replay:
    """What one run replays of a trace workload, in simulation time, sorted by arrival.

    ``lifetime_s`` is NaN where the instance's lifetime comes from the workload's ``lifetime``
    distribution (a trace without lifetimes) or where it runs to the end (censored).
    """

    arrival_s: np.ndarray
    lifetime_s: np.ndarray
    has_lifetime: bool
    cpu: np.ndarray
    memory_bytes: np.ndarray
    tenant: np.ndarray
    tenants: tuple[str, ...]
    deployment: np.ndarray

    def __len__(self) -> int:
        return len(self.arrival_s)


# --- files and digests ----------------------------------------------------------------------

def files_of(spec: TraceArrivals) -> list[Path]:
    """Every file a trace spec reads, in a fixed order (its digest covers them all).

    ``spec.path`` may be a glob (``part-*.csv.gz``); the azure-v1 partner files default to the
    durations file ``v1.<split>.c*.txt`` beside the flavors file and ``flav_map.txt``,
    ``v1.interval_map.txt`` beside it or in ``../maps/``. Raises TraceError naming what is
    missing.
    """
    main = _paths(spec.path)
    if spec.format != "azure-v1":
        return main
    (flavors_file,) = main[:1]
    folder = flavors_file.parent
    stem = flavors_file.name.removesuffix(".txt")
    durations = _partner(spec.durations, [folder / f"{stem}.c*.txt"], "durations",
                         flavors_file)
    flav_map = _partner(spec.flavors, [folder / "flav_map.txt",
                                       folder.parent / "maps" / "flav_map.txt"], "flavors",
                        flavors_file)
    intervals = _partner(spec.intervals, [folder / "v1.interval_map.txt",
                                          folder.parent / "maps" / "v1.interval_map.txt"],
                         "intervals", flavors_file)
    return [flavors_file, durations, flav_map, intervals]


def _paths(pattern: str) -> list[Path]:
    if any(ch in pattern for ch in "*?["):
        found = sorted(Path(p) for p in glob.glob(pattern))
        if not found:
            raise TraceError(pattern, 0, "path", "no file matches this pattern")
        return found
    path = Path(pattern)
    if not path.is_file():
        raise TraceError(pattern, 0, "path", "no such file")
    return [path]


def _partner(given: str | None, candidates: list[Path], field: str, beside: Path) -> Path:
    if given is not None:
        path = Path(given)
        if not path.is_file():
            raise TraceError(given, 0, field, "no such file")
        return path
    for pattern in candidates:
        found = sorted(Path(p) for p in glob.glob(str(pattern)))
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise TraceError(str(beside), 0, field, f"{len(found)} candidates "
                             f"({', '.join(p.name for p in found)}); name one with {field}:")
    raise TraceError(str(beside), 0, field, "not found beside the trace (looked for "
                     + ", ".join(str(c) for c in candidates) + f"); name it with {field}:")


def digest(paths: list[Path]) -> str:
    """SHA-256 over the files' names (not folders) and contents, read in 1 MiB blocks."""
    sha = hashlib.sha256()
    for path in paths:
        sha.update(path.name.encode() + b"\0")
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                sha.update(block)
    return sha.hexdigest()[:20]


def read(spec: TraceArrivals) -> TraceTable:
    """Read the trace ``spec`` names (paths already resolved). Memoized per process by the
    files' content digest, so workers and repeated runs read each trace once; raises
    TraceError for a malformed or missing file, or one whose digest is not ``spec.digest``."""
    paths = files_of(spec)
    found = digest(paths)
    if spec.digest is not None and spec.digest != found:
        raise TraceError(str(paths[0]), 0, "digest", f"the trace's files have digest {found}, "
                         f"the scenario pins {spec.digest}: the trace changed; remove digest: "
                         "to accept the new content")
    options = spec.model_dump(mode="json", include={"format", "machine", "resubmissions",
                                                    "columns", "time_unit", "memory_unit"})
    if spec.format == "csv" and spec.length is not None:  # rows past the window are not read
        options["until"] = spec.offset + spec.length
    key = json.dumps([found, [str(p) for p in paths], options], sort_keys=True)
    try:
        return _read_cached(key)
    except TraceError:
        raise
    except (EOFError, zlib.error, UnicodeDecodeError, ValueError, OSError,
            pd.errors.EmptyDataError) as exc:  # gzip.BadGzipFile is an OSError
        raise TraceError(str(paths[0]), 0, "path", f"cannot read the trace: "
                         f"{_unreadable(exc)}") from None


def _unreadable(exc: Exception) -> str:
    """What a reader's exception says about the file, for people."""
    if isinstance(exc, (EOFError, zlib.error)) or "gzip" in str(exc).lower() or \
            "compressed" in str(exc).lower():
        return f"a compressed file is truncated or corrupt ({exc})"
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text at byte {exc.start} of a file"
    return f"{type(exc).__name__}: {exc}"


@functools.lru_cache(maxsize=8)
def _read_cached(key: str) -> TraceTable:
    found, names, options = json.loads(key)
    paths = [Path(p) for p in names]
    fmt = options["format"]
    if fmt == "azure-v1":
        flavors_file, durations_file, flav_map, intervals = paths
        return read_azure_v1(flavors_file, durations_file, flav_map, intervals, digest=found)
    if fmt == "google-2011":
        machine = options["machine"]
        return read_google_2011(paths, machine["cpu"], machine["memory"],
                                options["resubmissions"], digest=found)
    return read_csv(paths[0], options["columns"], options["time_unit"], options["memory_unit"],
                    digest=found, until=options.get("until"))


# --- azure-v1 -------------------------------------------------------------------------------

def _azure_flavors(path: Path) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise TraceError(str(path), 0, "flavor", f"not UTF-8 text at byte {exc.start}") from None
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            sizes, letter = line.split()
            cpu, mem = (float(x) for x in sizes.split(","))
            if not (math.isfinite(cpu) and math.isfinite(mem)) or cpu <= 0 or mem <= 0:
                raise ValueError(line)
            if not letter.isprintable():  # NumPy's strings would drop a trailing NUL
                raise ValueError(line)
        except ValueError:
            raise TraceError(str(path), lineno, "flavor", f"expected 'VCPU,MEMORY_GB "
                             f"LETTER' such as '2,3.5 g' (got {line.strip()!r})") from None
        out[letter] = (cpu, mem * GiB)
    return out


def _azure_intervals(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Per duration bin: its lowest and one past its highest listed lifetime (seconds)."""
    try:
        table = pd.read_csv(path, sep=" ", header=None, names=["seconds", "bin"],
                            dtype={"seconds": "float64", "bin": "int64"}, engine="c")
    except (ValueError, pd.errors.ParserError) as exc:
        raise TraceError(str(path), 0, "interval", f"expected lines 'SECONDS BIN' such as "
                         f"'3600 12' ({exc})") from None
    if table.empty:
        raise TraceError(str(path), 1, "interval", "no intervals; expected lines 'SECONDS BIN' "
                         "such as '3600 12'")
    values = table["seconds"].to_numpy(np.float64)
    if not np.isfinite(values).all() or (values < 0).any() or (table["bin"] < 0).any():
        row = int(np.argmax(~np.isfinite(values) | (values < 0) | (table["bin"] < 0)))
        raise TraceError(str(path), row + 1, "interval", "expected SECONDS (0 or more) and a "
                         "BIN (0 or more)")
    if table["bin"].max() > MAX_AZURE_BINS:
        row = int(np.argmax((table["bin"] > MAX_AZURE_BINS).to_numpy()))
        raise TraceError(str(path), row + 1, "interval", f"bin {table['bin'].iloc[row]} is "
                         f"past the last a trace can have ({MAX_AZURE_BINS:,})")
    grouped = table.groupby("bin")["seconds"]
    bins = int(table["bin"].max()) + 1
    low = np.full(bins, np.nan)
    high = np.full(bins, np.nan)
    low[grouped.min().index] = grouped.min().to_numpy()
    high[grouped.max().index] = grouped.max().to_numpy() + AZURE_BIN_S
    return low, high


def read_azure_v1(flavors_file: Path, durations_file: Path, flav_map: Path, intervals: Path,
                  digest: str = "") -> TraceTable:
    """The binned Azure V1 format (Huawei Cloud's ``trace_generation_rnn``): one line per
    5-minute bin, ``TIME f,f,|,f,|`` (flavor letters; ``|`` closes one tenant's batch) in
    ``flavors_file``, token for token ``U<bin>`` / ``C<bin>`` durations in ``durations_file``.

    An instance's arrival is its bin's start (the line's time minus 300 s: the line lists the
    VMs that arrived since the previous line), its batch one deployment and one tenant.
    Uncensored lifetimes lie in their duration bin; censored ones (``C``) are unknown.
    """
    flavors = _azure_flavors(flav_map)
    low_of, high_of = _azure_intervals(intervals)
    letters = sorted(flavors)
    code_of = {letter: i for i, letter in enumerate(letters)}
    cpu_of = np.array([flavors[x][0] for x in letters])
    mem_of = np.array([flavors[x][1] for x in letters])
    times: list[np.ndarray] = []
    codes: list[np.ndarray] = []
    kinds: list[np.ndarray] = []
    bins: list[np.ndarray] = []
    batches: list[np.ndarray] = []
    next_batch = 0
    previous = -math.inf
    fname, dname = str(flavors_file), str(durations_file)
    with flavors_file.open(encoding="utf-8") as fh, durations_file.open(encoding="utf-8") as dh:
        lineno = 0
        for lineno, (fline, dline) in enumerate(zip(fh, dh), 1):
            time_text, _, rest = fline.strip().partition(" ")
            dtime_text, _, drest = dline.strip().partition(" ")
            try:
                t = float(time_text)
            except ValueError:
                raise TraceError(fname, lineno, "time", f"expected a time in seconds at the "
                                 f"start of the line (got {time_text!r})") from None
            if t <= previous:
                raise TraceError(fname, lineno, "time", f"{t:g} is not after the previous "
                                 f"line's {previous:g}; lines must be in time order")
            previous = t
            if dtime_text != time_text:
                raise TraceError(dname, lineno, "time", f"{dtime_text!r} differs from "
                                 f"{time_text!r} on line {lineno} of {flavors_file.name}; the "
                                 "two files must list the same bins")
            ftok = np.array(rest.split(",")) if rest else np.array([], dtype=str)
            dtok = np.array(drest.split(",")) if drest else np.array([], dtype=str)
            fsep = ftok == "|"
            if len(ftok) != len(dtok) or not np.array_equal(fsep, dtok == "|"):
                raise TraceError(dname, lineno, "durations", f"{int((~(dtok == '|')).sum())} "
                                 f"durations in {int((dtok == '|').sum())} batches for "
                                 f"{int((~fsep).sum())} VMs in {int(fsep.sum())} batches on "
                                 f"line {lineno} of {flavors_file.name}; expected one "
                                 "duration per VM, batch for batch")
            vm = ftok[~fsep]
            if len(vm) == 0:
                continue
            unknown = ~np.isin(vm, letters)
            if unknown.any():
                bad = str(vm[np.argmax(unknown)])
                raise TraceError(fname, lineno, "flavor", f"unknown flavor {bad!r}; known: "
                                 f"{', '.join(letters)} (from {flav_map.name})")
            dur = dtok[~fsep]
            try:
                kind = np.array([d[0] for d in dur])
                index = np.array([int(d[1:]) for d in dur])
            except (ValueError, IndexError):
                bad = next(str(d) for d in dur if not (d[:1] in "UC" and d[1:].isdigit()))
                raise TraceError(dname, lineno, "duration", f"{bad!r} is not U<bin> or C<bin> "
                                 "such as U12 or C40") from None
            wrong = ~np.isin(kind, ["U", "C"]) | (index < 0) | (index >= len(low_of))
            if wrong.any():
                bad = str(dur[np.argmax(wrong)])
                raise TraceError(dname, lineno, "duration", f"{bad!r}: expected U<bin> or "
                                 f"C<bin> with a bin from 0 to {len(low_of) - 1} "
                                 f"({intervals.name})")
            batch = np.cumsum(fsep)[~fsep] + next_batch
            next_batch += int(fsep.sum()) + (0 if fsep[-1] else 1)
            times.append(np.full(len(vm), t - AZURE_BIN_S))
            codes.append(np.array([code_of[x] for x in vm], dtype=np.int32))
            kinds.append(kind == "C")
            bins.append(index)
            batches.append(batch)
        extra_f, extra_d = fh.readline(), dh.readline()
        if extra_f.strip() or extra_d.strip():
            longer = fname if extra_f.strip() else dname
            raise TraceError(longer, lineno + 1, "line", "this file has more lines than its "
                             "partner; the two files must list the same bins")
    if not times:
        raise TraceError(fname, 0, "line", "no VM in the trace")
    klass = np.concatenate(codes)
    censored = np.concatenate(kinds)
    index = np.concatenate(bins)
    low = np.where(censored, np.nan, low_of[index])
    high = np.where(censored, np.nan, high_of[index])
    deployment = np.concatenate(batches)
    _, deployment = np.unique(deployment, return_inverse=True)
    return TraceTable(
        files=(fname, dname, str(flav_map), str(intervals)), digest=digest,
        arrival_s=np.concatenate(times), arrival_spread_s=AZURE_BIN_S,
        lifetime_low_s=low, lifetime_high_s=high, has_lifetime=True,
        cpu=cpu_of[klass], memory_bytes=mem_of[klass],
        tenant=deployment.astype(np.int64), tenants=(),
        klass=klass, classes=tuple(letters), deployment=deployment.astype(np.int64))


# --- google-2011 ----------------------------------------------------------------------------

def _numeric_problem(chunk: pd.DataFrame, columns: list[str], first_line: int, file: str,
                     hint: dict[str, str]) -> TraceError | None:
    """The first cell of ``columns`` that is not a number, as a TraceError."""
    for column in columns:
        values = chunk[column]
        parsed = pd.to_numeric(values, errors="coerce").to_numpy(np.float64)
        bad = values.notna().to_numpy() & ~np.isfinite(parsed)
        if bad.any():
            row = int(np.argmax(bad))
            what = "a number" if np.isnan(parsed[row]) and values.iloc[row].strip().lower() \
                not in ("nan", "+nan", "-nan") else "a finite number"
            return TraceError(file, first_line + row, column, f"{values.iloc[row]!r} is not "
                              f"{what}; expected {hint.get(column, 'a number')}")
    return None


def _google_chunks(path: Path, order: int, usecols: list[int], numeric: list[str],
                   hint: dict[str, str]) -> Iterator[pd.DataFrame]:
    """The events of one task_events part, chunk by chunk as pandas' C engine parses them,
    each checked and reduced to the columns a replay needs."""
    file = str(path)
    line = 1
    fast = {name: "float64" for name in numeric} | {"user": "object"}
    for chunk in pd.read_csv(path, header=None, usecols=usecols, names=GOOGLE_COLUMNS,
                             dtype=fast, engine="c", chunksize=CHUNK_ROWS):
        for field in ("job_id", "task_index", "event_type", "timestamp"):
            missing = chunk[field].isna().to_numpy()
            if missing.any():
                raise TraceError(file, line + int(np.argmax(missing)), field,
                                 f"empty; expected {hint[field]}")
            endless = np.isinf(chunk[field].to_numpy(np.float64))  # before the integer casts
            if endless.any():
                raise TraceError(file, line + int(np.argmax(endless)), field,
                                 f"{chunk[field].iloc[int(np.argmax(endless))]:g} is not finite; "
                                 f"expected {hint[field]}")
        if chunk["user"].isna().any():
            row = int(np.argmax(chunk["user"].isna().to_numpy()))
            raise TraceError(file, line + row, "user", "empty; expected the user's hashed name")
        out = pd.DataFrame({
            "t": chunk["timestamp"].to_numpy(np.float64) * 1e-6,
            "job": chunk["job_id"].to_numpy(np.int64),
            "task": chunk["task_index"].to_numpy(np.int64),
            "event": chunk["event_type"].to_numpy(np.int64),
            "user": chunk["user"].to_numpy(),
            "klass": chunk["scheduling_class"].to_numpy(np.float64),
            "cpu": chunk["cpu_request"].to_numpy(np.float64),
            "mem": chunk["memory_request"].to_numpy(np.float64),
            "line": np.arange(line, line + len(chunk)),
            "file": order,
        })
        for column, field, low, high in (("event", "event_type", 0, 8),
                                         ("cpu", "cpu_request", 0.0, 1.0),
                                         ("mem", "memory_request", 0.0, 1.0),
                                         ("t", "timestamp", 0.0, math.inf)):
            values = out[column].to_numpy(np.float64)
            bad = np.isinf(values) | (values < low) | (values > high)  # NaN: not given
            if bad.any():
                row = int(np.argmax(bad))
                raise TraceError(file, line + row, field, f"{chunk[field].iloc[row]:g} is out "
                                 f"of range; expected {hint[field]}")
        yield out
        line += len(chunk)


def _google_not_a_number(path: Path, usecols: list[int], numeric: list[str],
                         hint: dict[str, str]) -> TraceError:
    """The first cell of a part that is not a number, found by reading it as text."""
    line = 1
    for raw in pd.read_csv(path, header=None, usecols=usecols, names=GOOGLE_COLUMNS,
                           dtype=str, engine="c", chunksize=CHUNK_ROWS, keep_default_na=False,
                           na_values=[""]):
        problem = _numeric_problem(raw, numeric, line, str(path), hint)
        if problem is not None:
            return problem
        line += len(raw)
    return TraceError(str(path), 0, "line", "a value is not a number")


def read_google_2011(paths: list[Path], machine_cpu: float, machine_memory: float,
                     resubmissions: str = "first", digest: str = "") -> TraceTable:
    """Google cluster data 2011 ``task_events`` parts (CSV, no header, gzip or plain).

    An instance is one task (job_id, task_index), or with ``resubmissions: separate`` one
    submission of it: arrival = its first SUBMIT, lifetime = first terminal event (EVICT,
    FAIL, FINISH, KILL, LOST) - first SCHEDULE; no terminal event: censored; ended before
    being scheduled: dropped. CPU and memory requests are fractions of the largest machine,
    scaled by ``machine_cpu`` (vCPU) and ``machine_memory`` (bytes). Tenant is the user,
    class the scheduling class, deployment the job.
    """
    usecols = [0, 2, 3, 5, 6, 7, 9, 10]
    numeric = ["timestamp", "job_id", "task_index", "event_type", "scheduling_class",
               "cpu_request", "memory_request"]
    hint = {"timestamp": "microseconds since the trace's start", "job_id": "an integer id",
            "task_index": "an integer", "event_type": "0-8",
            "scheduling_class": "0-3", "cpu_request": "a fraction of a machine (0-1)",
            "memory_request": "a fraction of a machine (0-1)"}
    frames: list[pd.DataFrame] = []
    for order, path in enumerate(paths):
        first = len(frames)
        try:
            frames.extend(_google_chunks(path, order, usecols, numeric, hint))
        except pd.errors.ParserError as exc:  # a ValueError too: caught first
            raise TraceError(str(path), _parser_line(exc), "line", f"{exc}; expected 13 "
                             "comma-separated fields") from None
        except ValueError:  # a cell is not a number: a slow pass over the text names it
            del frames[first:]
            raise _google_not_a_number(path, usecols, numeric, hint) from None
    if not frames:
        raise TraceError(str(paths[0]), 0, "line", "no task event in the trace")
    events = pd.concat(frames, ignore_index=True)
    events = events.sort_values(["t", "file", "line"], kind="stable")
    task = events.groupby(["job", "task"], sort=False).ngroup().to_numpy()
    submit = (events["event"] == 0).to_numpy()
    events["attempt"] = pd.Series(submit.astype(np.int64)).groupby(task).cumsum().to_numpy()
    if resubmissions == "first":
        events = events[events["attempt"] == 1]
    else:
        events = events[events["attempt"] >= 1]
    key = ["job", "task", "attempt"]
    firsts = events[events["event"] == 0].drop_duplicates(key)
    for column in ("cpu", "mem"):  # a SUBMIT without a request: the attempt's first one given
        given = events[events[column].notna()].drop_duplicates(key)[[*key, column]]
        firsts = firsts.merge(given.rename(columns={column: "given"}), on=key, how="left")
        firsts[column] = firsts[column].fillna(firsts["given"])
        firsts = firsts.drop(columns="given")
    starts = events[events["event"] == 1].drop_duplicates(key)[[*key, "t"]]
    ends = events[events["event"].isin(GOOGLE_TERMINAL)].drop_duplicates(key)[[*key, "t"]]
    table = firsts.merge(starts.rename(columns={"t": "start"}), on=key, how="left")
    table = table.merge(ends.rename(columns={"t": "end"}), on=key, how="left")
    never_ran = table["end"].notna() & (table["start"].isna() | (table["end"] < table["start"]))
    table = table[~never_ran].reset_index(drop=True)
    if table.empty:
        raise TraceError(str(paths[0]), 0, "line", "no task that was submitted and ran")
    lifetime = (table["end"] - table["start"]).to_numpy(np.float64)
    users, tenant = np.unique(table["user"].to_numpy(str), return_inverse=True)
    labels = table["klass"].map(lambda v: "" if math.isnan(v) else f"{v:g}")
    classes, klass = np.unique(labels.to_numpy(str), return_inverse=True)
    _, deployment = np.unique(table["job"].to_numpy(), return_inverse=True)
    return TraceTable(
        files=tuple(str(p) for p in paths), digest=digest,
        arrival_s=table["t"].to_numpy(np.float64), arrival_spread_s=0.0,
        lifetime_low_s=lifetime, lifetime_high_s=lifetime.copy(), has_lifetime=True,
        cpu=table["cpu"].to_numpy(np.float64) * machine_cpu,
        memory_bytes=table["mem"].to_numpy(np.float64) * machine_memory,
        tenant=tenant.astype(np.int64), tenants=tuple(users.tolist()),
        klass=klass.astype(np.int32), classes=tuple(classes.tolist()),
        deployment=deployment.astype(np.int64))


def _parser_line(exc: Exception) -> int:
    words = str(exc).replace(",", " ").split()
    for before, word in itertools.pairwise(words):
        if before == "line" and word.isdigit():
            return int(word)
    return 0


# --- csv ------------------------------------------------------------------------------------

def _csv_chunk(chunk: pd.DataFrame, present: dict[str, str], line: int, file: str,
               time_unit: str, scale: float, memory_unit: float) -> pd.DataFrame:
    """One chunk of a generic CSV (its first row on ``line``) as the table's columns, in
    seconds, vCPU and bytes; a bad value raises a ``TraceError`` at its line."""
    out = pd.DataFrame(index=chunk.index)
    raw = chunk[present["arrival"]]
    if raw.isna().any():
        row = int(np.argmax(raw.isna().to_numpy()))
        raise TraceError(file, line + row, "arrival", "empty; every row needs an "
                         "arrival time")
    if time_unit == "datetime":
        stamps = pd.to_datetime(raw, errors="coerce", format="ISO8601")
        if stamps.isna().any():
            row = int(np.argmax(stamps.isna().to_numpy()))
            raise TraceError(file, line + row, "arrival", f"{raw.iloc[row]!r} is not "
                             "a date-time such as 2023-11-16 18:17:03.98")
        out["arrival"] = stamps.astype("int64").to_numpy() * 1e-9
    else:
        problem = _numeric_problem(chunk, [present["arrival"]], line, file,
                                   {present["arrival"]: f"a time in {time_unit}"})
        if problem is not None:
            raise problem
        out["arrival"] = pd.to_numeric(raw).to_numpy(np.float64) * scale
    life_unit = "s" if time_unit == "datetime" else time_unit
    hint = {"lifetime": f"a duration in {life_unit} (empty: still running at the end)",
            "cpu": "vCPU", "memory": f"memory in units of {memory_unit:g} bytes"}
    for field, unit in (("lifetime", scale), ("cpu", 1.0), ("memory", memory_unit)):
        if field in present:
            problem = _numeric_problem(chunk, [present[field]], line, file,
                                       {present[field]: hint[field]})
            if problem is not None:
                raise problem
            values = pd.to_numeric(chunk[present[field]]).to_numpy(np.float64) * unit
            # an instance of no vCPU or no memory would fit a host without end
            below = values < 0 if field == "lifetime" else values <= 0
            expected = ("0 or more" if field == "lifetime"
                        else "more than 0 (empty: the workload's own)")
            if below.any():
                row = int(np.argmax(below))
                raise TraceError(file, line + row, field, f"{values[row] / unit:g} "
                                 f"is {'negative' if values[row] < 0 else 'zero'}; expected "
                                 f"{expected}")
            out[field] = values
    for field in ("tenant", "class", "deployment"):
        if field in present:
            out[field] = chunk[present[field]].fillna("").to_numpy(str)
    return out


def read_csv(path: Path, columns: dict[str, str], time_unit: str, memory_unit: float,
             digest: str = "", until: float | None = None) -> TraceTable:
    """A generic CSV with a header row: one row per instance. Fields (``columns`` maps a
    field to the file's column name; by default the field's own name): ``arrival``
    (required; seconds, ms, us by ``time_unit``, or date-times with ``time_unit: datetime``),
    ``lifetime`` (same unit, seconds for date-times; empty: censored), ``cpu`` (vCPU),
    ``memory`` (in units of ``memory_unit`` bytes), ``tenant``, ``class``, ``deployment``.

    With ``until`` (seconds after the first arrival), a file whose arrivals are in time order
    is read only up to the first chunk that passes it: a replay's window never reaches the
    rows after it (a file out of order is read whole)."""
    file = str(path)
    names = {field: columns.get(field, field) for field in CSV_FIELDS}
    try:
        header = pd.read_csv(path, nrows=0, engine="c").columns.tolist()
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise TraceError(file, 1, "header", f"cannot read a CSV header ({exc})") from None
    for field, column in columns.items():
        if column not in header:
            raise TraceError(file, 1, field, f"columns maps {field} to {column!r}, which is "
                             f"not a column; the header has {', '.join(header)}")
    if names["arrival"] not in header:
        raise TraceError(file, 1, "arrival", f"no column {names['arrival']!r}; the header has "
                         f"{', '.join(header)}; map one with columns: {{arrival: NAME}}")
    try:  # a first row longer than the header would make pandas read its fields as an index
        pd.read_csv(path, header=None, nrows=2, dtype=str, engine="c")
    except pd.errors.ParserError:
        raise TraceError(file, 2, "line", f"more fields than the header's {len(header)} "
                         f"({', '.join(header)})") from None
    present = {f: c for f, c in names.items() if c in header}
    scale = 1.0 if time_unit == "datetime" else _TIME_UNITS[time_unit]
    parts: list[pd.DataFrame] = []
    line = 2
    in_order = True
    try:
        reader = pd.read_csv(path, dtype=str, engine="c", chunksize=CHUNK_ROWS,
                             keep_default_na=False, na_values=[""])  # all columns: a row
        # with more fields than the header is an error, which usecols would hide
        for chunk in reader:
            out = _csv_chunk(chunk, present, line, file, time_unit, scale, memory_unit)
            parts.append(out)
            line += len(chunk)
            arrival = out["arrival"].to_numpy()
            in_order = in_order and bool((np.diff(arrival) >= 0).all()) and (
                len(parts) == 1 or arrival[0] >= parts[-2]["arrival"].iloc[-1])
            if until is not None and in_order and arrival[-1] >= parts[0]["arrival"].iloc[0] \
                    + until:
                reader.close()
                break
    except pd.errors.ParserError as exc:
        raise TraceError(file, _parser_line(exc), "line", f"{exc}") from None
    if not parts or sum(len(p) for p in parts) == 0:
        raise TraceError(file, 2, "line", "no instance rows after the header")
    table = pd.concat(parts, ignore_index=True)
    n = len(table)
    nan = np.full(n, np.nan)
    lifetime = table["lifetime"].to_numpy(np.float64) if "lifetime" in table else nan
    tenants, tenant = (np.unique(table["tenant"].to_numpy(str), return_inverse=True)
                       if "tenant" in table else (np.array([], dtype=str), np.zeros(n, int)))
    classes, klass = (np.unique(table["class"].to_numpy(str), return_inverse=True)
                      if "class" in table else (np.array([""]), np.zeros(n, int)))
    if "deployment" in table:
        _, deployment = np.unique(table["deployment"].to_numpy(str), return_inverse=True)
    else:
        deployment = np.arange(n)
    return TraceTable(
        files=(file,), digest=digest,
        arrival_s=table["arrival"].to_numpy(np.float64), arrival_spread_s=0.0,
        lifetime_low_s=lifetime, lifetime_high_s=lifetime.copy(),
        has_lifetime="lifetime" in table,
        cpu=table["cpu"].to_numpy(np.float64) if "cpu" in table else nan.copy(),
        memory_bytes=table["memory"].to_numpy(np.float64) if "memory" in table else nan.copy(),
        tenant=tenant.astype(np.int64), tenants=tuple(tenants.tolist()),
        klass=klass.astype(np.int32), classes=tuple(classes.tolist()),
        deployment=deployment.astype(np.int64))


# --- replay ---------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Selection:
    """The instances of a table a trace workload replays, before sampling: their indexes and
    their vCPU and memory (scaled, the workload's own values where the trace gives none)."""

    index: np.ndarray
    cpu: np.ndarray
    memory_bytes: np.ndarray
    origin_s: float


def select(table: TraceTable, spec: TraceArrivals, workload: Workload) -> Selection:
    """Deterministic part of a replay: the window (``offset`` and ``length`` after the
    trace's first arrival), the ``classes`` kept, and resources scaled."""
    origin = float(table.arrival_s.min()) + spec.offset
    keep = table.arrival_s >= origin
    if spec.length is not None:
        keep &= table.arrival_s < origin + spec.length
    if spec.classes is not None:
        wanted = [i for i, name in enumerate(table.classes) if name in set(spec.classes)]
        keep &= np.isin(table.klass, wanted)
    index = np.flatnonzero(keep)
    cpu = table.cpu[index] * spec.cpu_scale
    memory = table.memory_bytes[index] * spec.memory_scale
    cpu = np.where(np.isnan(cpu), workload.cpu, cpu)
    memory = np.where(np.isnan(memory), workload.memory, memory)
    return Selection(index, cpu, memory, origin)


def replay(table: TraceTable, spec: TraceArrivals, workload: Workload,
           gen: np.random.Generator) -> Replay:
    """The instances one run replays, in simulation time (trace time minus the window's start,
    divided by ``speedup``; lifetimes divided too), sorted by arrival.

    Random draws, all from ``gen`` (the run's ``stream_name(table)`` stream) and always made for
    the whole table in this order, so that an option never shifts another's draws: one
    uniform per deployment (its arrival within its bin, when ``spread``), one per instance
    (its lifetime within its duration bin), one per instance (kept when below ``sample``).
    """
    n_deploy = int(table.deployment.max()) + 1 if len(table) else 0
    u_spread = gen.random(n_deploy)
    u_life = gen.random(len(table))
    u_sample = gen.random(len(table))
    chosen = select(table, spec, workload)
    kept = u_sample[chosen.index] < spec.sample
    index = chosen.index[kept]
    arrival = table.arrival_s[index]
    if spec.spread and table.arrival_spread_s > 0:
        arrival = arrival + table.arrival_spread_s * u_spread[table.deployment[index]]
    low, high = table.lifetime_low_s[index], table.lifetime_high_s[index]
    lifetime = low + (high - low) * u_life[index]
    arrival = (arrival - chosen.origin_s) / spec.speedup
    lifetime = lifetime / spec.speedup
    order = np.argsort(arrival, kind="stable")
    tenants = table.tenants
    return Replay(arrival_s=arrival[order], lifetime_s=lifetime[order],
                  has_lifetime=table.has_lifetime, cpu=chosen.cpu[kept][order],
                  memory_bytes=chosen.memory_bytes[kept][order],
                  tenant=table.tenant[index][order], tenants=tenants,
                  deployment=table.deployment[index][order])


def stream_name(table: TraceTable) -> str:
    """The random stream a replay of ``table`` draws from: named by the trace's content, so
    that every workload replaying it (split by ``classes``, say) shares one draw."""
    return f"trace/{table.digest}"


def tenant_name(replay_: Replay, i: int, default: str) -> str:
    """Instance ``i``'s tenant: its name in the trace, ``<default>-<n>`` for a numbered one
    (Azure's batches), ``default`` where the trace has none."""
    if replay_.tenants:
        return replay_.tenants[int(replay_.tenant[i])]
    return f"{default}-{int(replay_.tenant[i])}"


def summary(table: TraceTable) -> dict[str, Any]:
    """Counts and totals of a table, for messages and the README's figures."""
    return {"instances": len(table), "deployments": int(table.deployment.max()) + 1,
            "censored": int(table.censored.sum()),
            "first_arrival_s": float(table.arrival_s.min()),
            "last_arrival_s": float(table.arrival_s.max()),
            "cpu_total": float(np.nansum(table.cpu)),
            "memory_total_bytes": float(np.nansum(table.memory_bytes))}


__all__ = ["Replay", "Selection", "TraceError", "TraceTable", "digest", "files_of", "read",
           "read_azure_v1", "read_csv", "read_google_2011", "replay", "select",
           "stream_name", "summary", "tenant_name"]
