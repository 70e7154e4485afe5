"""Reading a scenario file: YAML with positions in, a validated ``Scenario`` and its resolved
profiles out, or every problem at once with its file, line and column.

Owns: the YAML parser, mapping validation errors back to the text, near-miss suggestions.
Must not: run anything; it only reads and checks.
"""

from __future__ import annotations

import copy
import csv
import difflib
import itertools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)

from sim.edge.checks import check_scenario
from sim.errors import UserError
from sim.spec import paths
from sim.spec.config import ResolvedProfile, Scenario, TraceArrivals, UncertainRange
from sim.spec.uncertain import materialize, nominal, resolved_view

if TYPE_CHECKING:  # the trace readers (and pandas) load only when a scenario replays a trace
    from sim.edge.traces import TraceTable


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario, where it is and what would be right."""

    path: str
    message: str
    line: int = 0
    column: int = 0
    file: str = ""  # set when the problem is in another file (a trace): FILE:LINE: field: msg


class ScenarioError(UserError):
    """A scenario that cannot be run; ``str()`` lists every problem as FILE:LINE:COL: path: msg
    (a command that meets one after loading, such as an uncertainty sample that is not a
    valid scenario, prints it and exits with status 2)."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.file = file
        self.problems = sorted(problems, key=lambda p: (p.line, p.column, p.path))
        super().__init__(str(self))

    def __str__(self) -> str:
        lines = []
        for p in self.problems:
            if p.file:
                where = f"{p.file}:{p.line}" if p.line else p.file
            else:
                where = f"{self.file}:{p.line}:{p.column}" if p.line else self.file
            lines.append(f"{where}: {p.path + ': ' if p.path else ''}{p.message}")
        return "\n".join(lines)


@dataclass(frozen=True)
class Point:
    """One point of a sweep: the parameters set there and the scenario they give."""

    parameters: tuple[tuple[str, Any], ...]
    scenario: Scenario
    profiles: dict[str, ResolvedProfile]


@dataclass(frozen=True)
class Loaded:
    """A validated scenario, its resolved profiles, its sweep points and where it came from.

    ``points`` holds one entry per combination of ``sweep`` values (a single entry with no
    parameters when there is no sweep); each point's scenario has no ``sweep`` and
    ``replications`` of its own, so a run is identified by what it simulates.
    """

    scenario: Scenario
    profiles: dict[str, ResolvedProfile]
    source: str
    points: tuple[Point, ...] = ()
    trace_rows: dict[str, int] = field(default_factory=dict)  # rows of each trace, by digest
    places: dict[str, tuple[int, int]] = field(default_factory=dict)  # key -> (line, column)
    data: dict[str, Any] = field(default_factory=dict)  # as written, without the study keys

    def place(self, key: str) -> tuple[int, int]:
        """Line and column of dotted ``key`` in the file (of the scenario when not kept)."""
        return self.places.get(key, self.places.get("", (1, 1)))


MAX_SWEEP_POINTS = 100_000
_STUDY_KEYS = ("sweep", "replications", "uncertainty")  # what to run, not what is simulated
_NOT_SWEEPABLE = ("name", "compare", "seed", *_STUDY_KEYS)


MAX_FILE_BYTES = 16 * 1024**2  # a scenario file; traces are read separately
MAX_YAML_DEPTH = 64  # nested mappings and lists
MAX_YAML_NODES = 1_000_000  # values once every alias is expanded


def load_file(path: str | Path, overrides: dict[str, Any] | None = None) -> Loaded:
    """Read and validate a scenario file. Raises ScenarioError (with every problem) or OSError."""
    file = str(path)
    with open(path, "rb") as stream:
        raw = stream.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise ScenarioError(file, [Problem("", f"the file is larger than "
                                           f"{MAX_FILE_BYTES // 1024**2} MiB; a scenario is a "
                                           "short YAML file (traces go in files of their own)",
                                           1, 1)])
    return load_text(_decode(raw, file), file, overrides)


def _decode(raw: bytes, file: str) -> str:
    """``raw`` as UTF-8 text, or a problem at the first byte that is not."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ScenarioError(file, [Problem("", f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); "
                                           "a scenario is a YAML file in UTF-8", line,
                                           column)]) from None


def load_text(text: str, file: str = "<scenario>", overrides: dict[str, Any] | None = None
              ) -> Loaded:
    """Validate scenario ``text``; ``overrides`` replace top-level keys (e.g. ``seed``)."""
    tree = _parse_yaml(text, file)
    data = _plain(tree)
    if not isinstance(data, dict):
        raise ScenarioError(file, [Problem("", "a scenario is a mapping of keys such as name, "
                                           "duration, hosts, images, workloads", 1, 1)])
    data.update(overrides or {})
    as_written = copy.deepcopy(data)  # sweep points start from it: their traces are their own
    seen: TraceCache = {}
    tables, problems = _read_traces(data, tree, file, seen)
    problems += _read_intensity(data, tree, file) + _read_demands(data, tree, file)
    scenario, profiles, found = _validate(data, tables)
    problems += [_place(tree, path, message, kind) for path, message, kind in found]
    points: list[Point] = []
    if scenario is not None and not problems:
        view = resolved_view(scenario, profiles)
        points, sweep_problems = _sweep_points(as_written, tree, scenario, file, seen, view)
        problems.extend(sweep_problems)
        problems.extend(_uncertainty_problems(as_written, tree, scenario, file, seen, view))
    if problems or scenario is None:
        raise ScenarioError(file, problems)
    return Loaded(scenario, profiles, file, tuple(points),
                  {digest: len(table) for digest, table in tables.items()},
                  _places(tree, scenario), _study_free(as_written))


def _study_free(data: dict[str, Any]) -> dict[str, Any]:
    """The scenario as written without the keys that say what to run (a point's scenario
    holds only what it simulates)."""
    return {k: v for k, v in data.items() if k not in _STUDY_KEYS}


def derive(loaded: Loaded, parameters: tuple[tuple[str, Any], ...],
           seen: TraceCache | None = None) -> Point:
    """The point of ``loaded`` (a scenario without a sweep) with each (path, value) of
    ``parameters`` set, validated: an uncertainty study's sample. A combination that does not
    validate (each value alone did, at load) raises ScenarioError at ``uncertainty``.
    ``seen``: traces already read, kept by the caller across the samples of one study."""
    view = resolved_view(loaded.scenario, loaded.profiles)
    data = loaded.data
    for path, value in parameters:
        data = paths.replace(materialize(data, path, view), path, value)
    checked, found = _point_problems(data, None, loaded.source, {} if seen is None else seen)
    if found or checked is None:
        setting = ", ".join(f"{p} = {v!r}" for p, v in parameters)
        line, col = loaded.place("uncertainty")
        raise ScenarioError(loaded.source, [Problem(
            "uncertainty", f"the sample {setting} is not a valid scenario: "
            + "; ".join(inner + msg for inner, msg in found)
            + " (narrow the ranges so that every combination is valid)", line, col)])
    return Point(parameters, *checked)


def _study_path(base: dict[str, Any], path: str, view: dict[str, Any], verb: str
                ) -> dict[str, Any]:
    """``base`` with the value ``path`` names written out where it is a profile's, runtime's
    or antivirus setting's default (``materialize``); PathError when the path cannot be read,
    starts at a key a study cannot change (it cannot be ``verb``) or names nothing."""
    steps = paths.parse(path)
    if steps[0] in _NOT_SWEEPABLE:
        raise paths.PathError(f"{steps[0]!r} cannot be {verb}")
    written = materialize(base, path, view)
    paths.get(written, path)
    return written


def _uncertainty_problems(data: dict[str, Any], tree: Any, scenario: Scenario, file: str,
                          seen: TraceCache, view: dict[str, Any]) -> list[Problem]:
    """Each ``uncertainty:`` entry checked: its path names a number of the scenario (or of
    a profile or runtime it may change), and the scenario is valid at each end of the range
    (and at its mode), so a range outside the value's domain is refused here."""
    entries = scenario.uncertainty or {}
    if entries and scenario.sweep:
        line, col = _position(tree, ("uncertainty",), at_key=True)
        return [Problem("uncertainty", "a scenario with a sweep cannot have uncertainty "
                        "ranges as well: study the uncertainty at one point (set the swept "
                        "value) or sweep without ranges", line, col)]
    base = _study_free(data)
    problems: list[Problem] = []
    for path, spec in entries.items():
        where = _position(tree, ("uncertainty", path), at_key=True)
        try:
            written = _study_path(base, path, view, "uncertain")
        except paths.PathError as exc:
            problems.append(Problem(f"uncertainty.{path}", str(exc), *where))
            continue
        if not math.isfinite(nominal(view, path)):
            unset = paths.get(view, path) is None  # a key left out whose default is none
            problems.append(Problem(f"uncertainty.{path}", (
                "is not set in the scenario (its default applies): write its value there to "
                "give it a range" if unset else
                "names no number of the scenario (a range varies a number: a count, a "
                "duration, a size, a rate, a fraction or a factor)"), *where))
            continue
        if not isinstance(spec, UncertainRange):
            continue
        ends = {"low": spec.low, "high": spec.high}
        if spec.mode is not None:
            ends["mode"] = spec.mode
        for end, value in ends.items():
            for inner, message in _point_problems(paths.replace(written, path, value), tree,
                                                  file, seen)[1]:
                problems.append(Problem(f"uncertainty.{path}", f"at its {end} {value!r}: "
                                        f"{inner}{message}", *where))
    return problems


Found = list[tuple[tuple[Any, ...], str, str]]  # (data path, message, kind)


TraceCache = dict[str, tuple[dict[str, Any], "TraceTable"]]  # arrival as written -> read


def _read_intensity(data: dict[str, Any], tree: Any, file: str) -> list[Problem]:
    """``energy.carbon_intensity: {file: grid.csv}`` read into its hourly values (the file's
    last column, a row per hour from the run's start; a first row that is not a number is its
    header), so that a run's key holds the values; a file that cannot be read is a problem at
    the key."""
    energy = data.get("energy")
    if not isinstance(energy, dict):
        return []  # the schema pass reports it
    spec = energy.get("carbon_intensity")
    if not isinstance(spec, dict) or set(spec) != {"file"} or not isinstance(spec["file"], str):
        return []  # the schema pass reports anything else
    folder = Path(file).resolve().parent if not file.startswith("<") else Path.cwd()
    path = folder / Path(spec["file"]).expanduser()
    line, col = _position(tree, ("energy", "carbon_intensity", "file"))
    where = "energy.carbon_intensity.file"
    try:
        rows = _csv_numbers(path, lambda row: row[-1:], least=0.0)
    except _BadRow as bad:
        why = (f"{path}, line {bad.line}: {bad.row[-1]!r} is not a number of gCO2e/kWh, 0 or "
               "more (the last column holds one value per hour)")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        why = f"cannot read {path}: {exc}"
    else:
        if rows:
            energy["carbon_intensity"] = [value for (value,) in rows]
            return []
        why = f"{path} holds no values: give one gCO2e/kWh per hour, a row each"
    del energy["carbon_intensity"]  # said once, here, not again by the schema
    return [Problem(where, why, line, col)]


def _read_demands(data: dict[str, Any], tree: Any, file: str) -> list[Problem]:
    """``replicas.demand: {kind: file, file: demand.csv}`` read into a schedule (two columns:
    seconds from the start, value; a first row that is not numbers is its header)."""
    workloads = data.get("workloads")
    problems: list[Problem] = []
    folder = Path(file).resolve().parent if not file.startswith("<") else Path.cwd()
    for i, raw in enumerate(workloads if isinstance(workloads, list) else []):
        replicas = raw.get("replicas") if isinstance(raw, dict) else None
        if not isinstance(replicas, dict):
            continue
        demand = replicas.get("demand")
        if not isinstance(demand, dict) or demand.get("kind") != "file" \
                or not isinstance(demand.get("file"), str):
            continue
        path = folder / Path(demand["file"]).expanduser()
        where = f"workloads[{i}].replicas.demand.file"
        line, col = _position(tree, ("workloads", i, "replicas", "demand", "file"))
        steps, why = _schedule_rows(path)
        if why:
            problems.append(Problem(where, why, line, col))
            replicas["demand"] = {"kind": "constant", "value": 0}  # said once, here
            continue
        replicas["demand"] = {"kind": "schedule", "steps": steps}
    return problems


def _schedule_rows(path: Path) -> tuple[list[dict[str, float]], str]:
    """The rows of a demand file as schedule steps, or why they cannot be read."""
    try:
        rows = _csv_numbers(path, lambda row: row[:2] if len(row) >= 2 else [])
    except _BadRow as bad:
        return [], (f"{path}, line {bad.line}: {','.join(bad.row)!r}: expected seconds from "
                    "the start and the demand, two finite numbers")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return [], f"cannot read {path}: {exc}"
    if not rows:
        return [], f"{path} holds no rows: give seconds from the start and the demand"
    return [{"at": at, "value": value} for at, value in rows], ""


class _BadRow(ValueError):
    """A row of a CSV file of numbers that does not hold the numbers asked for."""

    def __init__(self, line: int, row: list[str]) -> None:
        super().__init__(f"line {line}")
        self.line = line
        self.row = row


def _csv_numbers(path: Path, pick: Callable[[list[str]], list[str]],
                 least: float = -math.inf) -> list[tuple[float, ...]]:
    """The numbers ``pick`` takes from each non-blank row of the CSV file ``path``, each
    finite and at least ``least``; a first row whose cells are not numbers is its header.

    Raises:
        _BadRow: a later row that does not hold them (with its line in the file).
        OSError, UnicodeDecodeError, ValueError: the file cannot be read as text.
    """
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [(k + 1, row) for k, row in enumerate(csv.reader(handle)) if row]
    out = []
    for line, row in rows:
        cells = pick(row)
        try:
            if not cells:
                raise ValueError("no cells")
            numbers = tuple(float(cell) for cell in cells)
        except ValueError:
            if line == rows[0][0]:
                continue  # a header
            raise _BadRow(line, row) from None
        if not all(math.isfinite(x) and x >= least for x in numbers):
            raise _BadRow(line, row)
        out.append(numbers)
    return out


def _read_traces(data: dict[str, Any], tree: Any, file: str, seen: TraceCache | None = None
                 ) -> tuple[dict[str, TraceTable], list[Problem]]:
    """Read every trace a workload replays (``kind: trace``), by content digest.

    Sets each such arrival's paths to absolute ones (relative paths are relative to the
    scenario file) and its ``digest`` to the files' content digest, so that a run's key, and
    the resolved scenario, name exactly the trace it replays. A trace that cannot be read
    is a problem at its own file and line. ``seen`` keeps what one load has read, so the
    points of a sweep that replay the same trace read it once.
    """
    seen = {} if seen is None else seen
    tables: dict[str, TraceTable] = {}
    problems: list[Problem] = []
    folder = Path(file).resolve().parent if not file.startswith("<") else Path.cwd()
    workloads = data.get("workloads")
    for i, raw in enumerate(workloads if isinstance(workloads, list) else []):
        arrival = raw.get("arrival") if isinstance(raw, dict) else None
        if not isinstance(arrival, dict) or arrival.get("kind") != "trace":
            continue
        try:
            spec = TraceArrivals.model_validate(arrival)
        except ValidationError:
            continue  # the schema pass reports it
        written = json.dumps([str(folder), arrival], sort_keys=True, default=str)
        if written in seen:
            known, table = seen[written]
            arrival.update(known)
            tables[table.digest] = table
            continue
        bad = next((key for key in ("path", "durations", "flavors", "intervals")
                    if "\0" in (getattr(spec, key) or "")), None)
        if bad is not None:
            line, col = _position(tree, ("workloads", i, "arrival", bad))
            problems.append(Problem(f"workloads[{i}].arrival.{bad}", "a file name cannot "
                                    "hold a NUL character", line, col))
            continue
        try:
            resolved = {key: str((folder / Path(getattr(spec, key)).expanduser()).resolve())
                        if not any(ch in getattr(spec, key) for ch in "*?[") else
                        str(folder / Path(getattr(spec, key)).expanduser())
                        for key in ("path", "durations", "flavors", "intervals")
                        if getattr(spec, key) is not None}
        except RuntimeError as exc:  # ~user of a user this machine does not have
            line, col = _position(tree, ("workloads", i, "arrival", "path"))
            problems.append(Problem(f"workloads[{i}].arrival.path", f"{exc}", line, col))
            continue
        spec = spec.model_copy(update=resolved)
        try:
            from sim.edge import traces  # here: most scenarios replay no trace

            table = traces.read(spec)
        except traces.TraceError as exc:
            if exc.line == 0 and exc.field in ("path", "durations", "flavors", "intervals",
                                                 "digest"):
                line, col = _position(tree, ("workloads", i, "arrival", exc.field))
                problems.append(Problem(f"workloads[{i}].arrival.{exc.field}",
                                        f"{exc.message}: {exc.file}", line, col))
            else:
                problems.append(Problem(exc.field, exc.message, exc.line, 0, exc.file))
            continue
        except OSError as exc:
            line, col = _position(tree, ("workloads", i, "arrival", "path"))
            problems.append(Problem(f"workloads[{i}].arrival.path",
                                    f"cannot read the trace: {exc}", line, col))
            continue
        pinned: dict[str, Any] = dict(resolved)
        if spec.format == "azure-v1":  # pin the partner files found beside the trace
            pinned.update(zip(("durations", "flavors", "intervals"), table.files[1:]))
        pinned["digest"] = table.digest
        seen[written] = (pinned, table)
        arrival.update(pinned)
        tables[table.digest] = table
    return tables, problems


def _validate(data: dict[str, Any], tables: dict[str, TraceTable] | None = None
              ) -> tuple[Scenario | None, dict[str, ResolvedProfile], Found]:
    """Schema and whole-scenario checks of plain ``data``; problems with their data paths.
    ``tables`` are the traces read, by digest (for the feasibility of trace instances)."""
    found: Found = []
    scenario = None
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        found.extend(_from_pydantic(exc, data))
    semantic, profiles = check_scenario(data, scenario, tables or {})
    found.extend((path, message, "value") for path, message in semantic)
    return scenario, profiles, found


def _place(tree: Any, path: tuple[Any, ...], message: str, kind: str) -> Problem:
    if kind == "missing":
        line, col = _position(tree, path[:-1])
    else:
        line, col = _position(tree, path, at_key=(kind == "key"))
    return Problem(_format_path(path), message, line, col)


def _sweep_points(data: dict[str, Any], tree: Any, scenario: Scenario, file: str,
                  seen: TraceCache, view: dict[str, Any]
                  ) -> tuple[list[Point], list[Problem]]:
    """Every combination of the sweep's values as a validated point. ``data`` is the
    scenario as written (traces not yet read): each point reads the traces its own values
    name, relative to the scenario file, so a swept trace path or arrival is checked as
    the base scenario's is. A path into a profile or runtime the scenario leaves at its
    default changes the default (``view``: the resolved scenario)."""
    base = _study_free(data)
    sweep = scenario.sweep or {}
    if not sweep:
        tables, _ = _read_traces(base, tree, file, seen)
        _read_intensity(base, tree, file)
        _read_demands(base, tree, file)
        return [Point((), Scenario.model_validate(base), _validate(base, tables)[1])], []
    problems: list[Problem] = []
    for path, values in sweep.items():
        where = _position(tree, ("sweep", path), at_key=True)
        try:
            base = _study_path(base, path, view, "swept")
        except paths.PathError as exc:
            problems.append(Problem(f"sweep.{path}", str(exc), *where))
            continue
        first: dict[str, int] = {}
        for j, value in enumerate(values):
            line, col = _position(tree, ("sweep", path, j))
            same = first.setdefault(_same_key(value), j)
            if same != j:
                problems.append(Problem(f"sweep.{path}[{j}]", f"duplicate value {value!r} "
                                        f"(first at sweep.{path}[{same}]): each point is run "
                                        "once", line, col))
                continue
            for inner, message in _point_problems(paths.replace(base, path, value), tree,
                                                  file, seen)[1]:
                problems.append(Problem(f"sweep.{path}[{j}]", f"with {path} = {value!r}: "
                                        f"{inner}{message}", line, col))
    if problems:
        return [], problems
    total = 1
    for values in sweep.values():
        total *= len(values)
    if total > MAX_SWEEP_POINTS:
        line, col = _position(tree, ("sweep",))
        return [], [Problem("sweep", f"{total:,} combinations; at most "
                                     f"{MAX_SWEEP_POINTS:,}", line, col)]
    points = []
    for combo in itertools.product(*sweep.values()):
        params = tuple(zip(sweep, combo))
        point = base
        for path, value in params:
            point = paths.replace(point, path, value)
        checked, found = _point_problems(point, tree, file, seen)
        if found or checked is None:
            line, col = _position(tree, ("sweep",))
            setting = ", ".join(f"{p} = {v!r}" for p, v in params)
            problems.extend(Problem("sweep", f"with {setting}: {inner}{msg}", line, col)
                            for inner, msg in found)
            continue
        points.append(Point(params, *checked))
    return points, problems


def _point_problems(point: dict[str, Any], tree: Any, file: str, seen: TraceCache
                    ) -> tuple[tuple[Scenario, dict[str, ResolvedProfile]] | None,
                               list[tuple[str, str]]]:
    """One sweep point's scenario and profiles, or its problems as (``path: ``, message)."""
    point = copy.deepcopy(point)
    tables, trace_problems = _read_traces(point, tree, file, seen)
    trace_problems += _read_intensity(point, tree, file) + _read_demands(point, tree, file)
    found: list[tuple[str, str]] = [(f"{p.path}: " if p.path else "", p.message)
                                    for p in trace_problems]
    if found:
        return None, found
    scenario, profiles, problems = _validate(point, tables)
    found = [(f"{_format_path(inner)}: ", message) for inner, message, _kind in problems]
    if found or scenario is None:
        return None, found
    return (scenario, profiles), []


def _same_key(value: Any) -> str:
    """Sweep values that run the same point share this key (``4`` and ``4.0`` too)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(float(value))
    return json.dumps(value, sort_keys=True, default=str)


MAX_DIGITS = 100  # in a number written in a scenario


def _check_scalar(event: ScalarEvent, refuse: Any) -> None:
    """Refuse a scalar that no key of a scenario can hold and that would fail deep inside the
    YAML library: an explicit tag, a number of hundreds of digits, text that is not Unicode."""
    implicit = event.implicit[0] if isinstance(event.implicit, tuple) else event.implicit
    if event.tag is not None and not implicit:
        refuse(event, f"YAML tag {event.tag!r}: write the value plainly (a scenario's values "
                      "are numbers, text, true/false and sizes such as 4GiB)")
    value = event.value
    if event.style is None and len(value) > MAX_DIGITS and \
            sum(ch.isdigit() for ch in value) > MAX_DIGITS:
        refuse(event, f"a number of more than {MAX_DIGITS} digits")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        refuse(event, "text with an unpaired surrogate (\\ud800-\\udfff) is not Unicode")


def _places(tree: Any, scenario: Scenario) -> dict[str, tuple[int, int]]:
    """Where the keys that size a run are written, for messages about the run's size."""
    keys: list[tuple[Any, ...]] = [(), ("duration",), ("timeseries_interval",),
                                   ("replications",), ("hosts",), ("sweep",), ("compare",),
                                   ("uncertainty",)]
    keys += [("workloads", i, "arrival") for i in range(len(scenario.workloads))]
    keys += [("hosts", i, "count") for i in range(len(scenario.hosts))]
    keys += [("faults", kind, "mtbf") for kind in ("host_hardware", "host_kernel")]
    return {_format_path(key): _position(tree, key, at_key=True) for key in keys}


def _parse_yaml(text: str, file: str) -> Any:
    yaml = YAML(typ="rt")
    try:
        _check_shape(yaml, text, file)
        return yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        message = f"YAML syntax: {exc.problem or exc.context}"
        raise ScenarioError(file, [Problem("", message, line, col)]) from None
    except YAMLError as exc:  # ruamel raises a few unmarked errors
        position = getattr(exc, "position", None)  # a character the reader refuses, say NUL
        line, col = (1, 1) if not isinstance(position, int) else (
            text.count("\n", 0, position) + 1, position - text.rfind("\n", 0, position))
        reason, character = getattr(exc, "reason", None), getattr(exc, "character", None)
        message = (f"YAML syntax: unacceptable character #x{character:04x}: {reason}"
                   if isinstance(position, int) and reason and isinstance(character, int)
                   else f"YAML syntax: {exc}")
        raise ScenarioError(file, [Problem("", message, line, col)]) from None


def _check_shape(yaml: YAML, text: str, file: str) -> None:
    """Refuse a document nested deeper than ``MAX_YAML_DEPTH`` or holding more than
    ``MAX_YAML_NODES`` values once its aliases are expanded (an "alias bomb"), from the
    parser's events alone, before anything is built from them."""
    expanded: dict[str, int] = {}  # anchor -> values under it, aliases expanded
    open_nodes: list[list[Any]] = []  # [anchor, values so far] of each open mapping or list

    def refuse(event: Any, message: str) -> None:
        mark = event.start_mark
        raise ScenarioError(file, [Problem("", message, mark.line + 1, mark.column + 1)])

    def done(event: Any, anchor: str | None, count: int) -> None:
        if count > MAX_YAML_NODES:
            refuse(event, f"the document expands to more than {MAX_YAML_NODES:,} values "
                          "(anchors and aliases repeated inside each other); write the "
                          "values out, or use fewer aliases")
        if anchor:
            expanded[anchor] = count
        if open_nodes:
            open_nodes[-1][1] += count

    for event in yaml.parse(text):
        if isinstance(event, (MappingStartEvent, SequenceStartEvent)):
            if event.tag is not None and not event.implicit:
                refuse(event, f"YAML tag {event.tag!r}: a scenario uses plain mappings and "
                              "lists, without tags")
            if len(open_nodes) >= MAX_YAML_DEPTH:
                refuse(event, f"nested more than {MAX_YAML_DEPTH} levels deep; a scenario "
                              "needs a few")
            open_nodes.append([event.anchor, 1])
        elif isinstance(event, (MappingEndEvent, SequenceEndEvent)):
            anchor, count = open_nodes.pop()
            done(event, anchor, count)
        elif isinstance(event, ScalarEvent):
            _check_scalar(event, refuse)
            done(event, event.anchor, 1)
        elif isinstance(event, AliasEvent):
            done(event, None, expanded.get(event.anchor, 1))


def _plain(node: Any) -> Any:
    """ruamel's round-trip nodes as plain dicts, lists, str, int, float, bool."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    for kind in (int, float, str):
        if isinstance(node, kind):
            return kind(node)
    return node


def _position(tree: Any, path: tuple[Any, ...], at_key: bool = False) -> tuple[int, int]:
    """1-based line and column of the deepest node of ``path`` found in the YAML tree."""
    node, pos = tree, (0, 0)
    if isinstance(tree, (CommentedMap, CommentedSeq)):
        pos = (tree.lc.line, tree.lc.col)
    for i, elem in enumerate(path):
        last = i == len(path) - 1
        if isinstance(node, CommentedMap) and elem in node:
            owner = _owner(node, elem)
            if owner is not None:  # else a key whose place ruamel does not keep: the map's
                pos = (tuple(owner.lc.key(elem)) if (last and at_key)
                       else tuple(owner.lc.value(elem)))
            node = node[elem]
        elif isinstance(node, CommentedSeq) and isinstance(elem, int) and 0 <= elem < len(node):
            pos = tuple(node.lc.item(elem))
            node = node[elem]
    return pos[0] + 1, pos[1] + 1


def _owner(node: CommentedMap, key: Any) -> CommentedMap | None:
    """The mapping that holds ``key`` as written: ``node`` itself, or, for a key that came in
    through a YAML merge (``<<: *anchor``), the anchored mapping it was written in."""
    if key in node.lc.data:
        return node
    for item in getattr(node, "merge", []):
        source = item[1] if isinstance(item, tuple) else item  # (index, map) in older ruamel
        if isinstance(source, CommentedMap) and key in source:
            return _owner(source, key)
    return None


def _data_path(data: Any, loc: tuple[Any, ...], keep_last: bool) -> tuple[Any, ...]:
    """The part of a pydantic ``loc`` that names data (drops union tags and validator names)."""
    out: list[Any] = []
    node = data
    for i, elem in enumerate(loc):
        if isinstance(node, dict) and elem in node or isinstance(node, list) \
                and isinstance(elem, int) and 0 <= elem < len(node):
            node = node[elem]
            out.append(elem)
        elif keep_last and i == len(loc) - 1:
            out.append(elem)
    return tuple(out)


def _format_path(path: tuple[Any, ...]) -> str:
    text = ""
    for elem in path:
        text += f"[{elem}]" if isinstance(elem, int) else (f".{elem}" if text else str(elem))
    return text


@cache
def _schema() -> dict[str, Any]:
    return Scenario.model_json_schema()


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """Keys allowed in the mapping at pydantic ``loc``, found by walking the JSON Schema."""
    schema = _schema()

    def deref(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
        return node

    def branches(node: dict[str, Any]) -> list[dict[str, Any]]:
        node = deref(node)
        alts = node.get("anyOf") or node.get("oneOf")
        if alts:
            return [b for alt in alts for b in branches(alt)]
        return [node]

    nodes = [schema]
    for elem in loc:
        nxt: list[dict[str, Any]] = []
        for node in (b for n in nodes for b in branches(n)):
            if isinstance(elem, str) and elem in node.get("properties", {}):
                nxt.append(node["properties"][elem])
            elif isinstance(elem, int) and "items" in node:
                nxt.append(node["items"])
            elif isinstance(elem, str) and isinstance(node.get("additionalProperties"), dict):
                nxt.append(node["additionalProperties"])
            elif isinstance(elem, str):
                mapping = node.get("discriminator", {}).get("mapping", {})
                if elem in mapping:
                    nxt.append({"$ref": mapping[elem]})
                elif "const" in node.get("properties", {}).get("dist", {}) or "const" in \
                        node.get("properties", {}).get("kind", {}):
                    tag = node["properties"].get("dist", node["properties"].get("kind"))
                    if tag.get("const") == elem:
                        nxt.append(node)
        nodes = nxt or nodes
    keys: set[str] = set()
    for node in (b for n in nodes for b in branches(n)):
        keys.update(node.get("properties", {}))
    return sorted(keys)


def _from_pydantic(exc: ValidationError, data: Any) -> Found:
    found: Found = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        kind = err["type"]
        if kind == "extra_forbidden":
            path = _data_path(data, loc, keep_last=True)
            key = str(loc[-1])
            allowed = _allowed_keys(loc[:-1])
            near = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            message = f"unknown key {key!r}" + (f"; did you mean {near[0]!r}?" if near else
                                               f"; expected one of {', '.join(allowed)}")
            found.append((path, message, "key"))
        elif kind == "missing":
            path = _data_path(data, loc, keep_last=True)
            found.append((path, f"missing required key {str(loc[-1])!r}", "missing"))
        else:
            path = _data_path(data, loc, keep_last=False)
            message = err["msg"].removeprefix("Value error, ")
            if kind != "value_error" and "input" in err and not isinstance(
                    err["input"], (dict, list)):
                message += f" (got {err['input']!r})"
            found.append((path, message, "value"))
    return found
