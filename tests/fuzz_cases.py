"""Fuzz cases for the command line: a deterministic, seeded mutator of every shipped scenario
and of small generated traces of every trace format.

Owns: the valid starting inputs (``sources``: each ``scenarios/*.yaml``, and one small scenario
per trace format with its generated trace files), the mutations applied to them (type swaps,
extreme numbers, unit garbage, deleted, duplicated and unknown keys, deep nesting, long and
odd strings, truncated and byte-flipped text, alias bombs, YAML tags, mutated trace files,
hostile command-line options), the targeted cases the bad-input issue lists, and ``Case``: the
files to write, the command line and a compact reproducer. Must not: run anything (see
``tests.fuzz_harness``) or hold test functions.

A seeded mutator rather than hypothesis: every case must run in a forked child (memory and
hang bounds) and be reproducible from ``(seed, index)`` alone by ``scripts/fuzz.py``, and
the reproducer wanted is a YAML diff, not a shrunk Python value.
"""

from __future__ import annotations

import copy
import difflib
import gzip
import io
import math
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SCENARIO_DIR = ROOT / "scenarios"
AZURE_DIR = ROOT / "sim" / "data" / "traces" / "azure-v1"
AZURE_SHIPPED_PATH = "../sim/data/traces/azure-v1/v1.test.day1.txt"

TIMEOUT_S = {"validate": 10.0, "run": 40.0, "density": 30.0, "images": 40.0, "plan": 60.0,
             "fit": 10.0}
"""Per command: a case running longer is a hang (a shrunk scenario runs in about a second)."""


@dataclass(frozen=True)
class Case:
    """One fuzz input: files to write into a fresh folder and the command to run there.

    Attributes:
        description: what was mutated, e.g. ``boot-storm: hosts[0].count = True (type)``.
        family: the mutation family, for counts (``type``, ``truncate``, ``trace-value``...).
        files: relative path -> content, written into an empty folder before the run.
        argv: the ``python -m sim`` arguments, relative to that folder.
        mentions: an exit-2 message must contain one of these (the scenario file's name,
            the trace file's, the bad option's).
        timeout_s: the case is a hang if it runs longer.
        reproducer: the change in a few lines (a unified diff of the YAML, the trace line,
            the option), to show with a failure.
        base: for a change to scenario data, the unchanged scenario text the diff is
            against (``argv[1]`` holds the changed one), so that a failure can be reduced
            to fewer changed lines; empty otherwise.
    """

    description: str
    family: str
    files: dict[str, bytes]
    argv: tuple[str, ...]
    mentions: tuple[str, ...]
    timeout_s: float
    reproducer: str
    base: str = ""

    @property
    def command(self) -> str:
        """The CLI command (``validate``, ``run``, ``density``)."""
        return self.argv[0]


@dataclass(frozen=True)
class Source:
    """A valid starting input: a scenario (as plain data and as shipped text) and the trace
    files beside it.

    Attributes:
        name: ``boot-storm`` for a shipped scenario, ``trace-csv`` for a generated one.
        file: the scenario's file name in a case folder.
        text: the scenario's YAML text (shipped, or dumped for generated ones).
        data: the scenario as plain data.
        traces: relative path -> bytes of each trace file the scenario reads.
        fmt: the trace format, or None for a scenario without a trace.
    """

    name: str
    file: str
    text: str
    data: dict[str, Any]
    traces: dict[str, bytes] = field(default_factory=dict)
    fmt: str | None = None


class Raw:
    """YAML text inserted verbatim where a value goes (deep nesting, tags, aliases, numbers
    PyYAML cannot write), so that a mutation can produce what no Python value dumps to."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Raw({_short(self.text)})"

    def __deepcopy__(self, memo: dict[int, Any]) -> Raw:
        return self


# --- value pools ----------------------------------------------------------------------------

TYPE_POOL: list[Any] = ["text", 0, 1, -1, 2.5, True, False, None, [], {}, [1, "a"], {"a": 1},
                        ""]
EXTREME_POOL: list[Any] = [
    0, -1, -0.0, 1e-300, 5e-324, 1e300, 1.7976931348623157e308, math.inf, -math.inf, math.nan,
    2**63, 2**64, -(2**63) - 1, 10**39, Raw("9" * 400), Raw("9" * 5000), Raw(".inf"),
    Raw("-.inf"), Raw(".nan"), Raw("1e999"), Raw("-1e999"), Raw("0x7fffffffffffffff"),
    Raw("0o777"), Raw("1_000_000"), Raw("1e-999"),
]
UNIT_POOL: list[str] = [
    "5 parsecs", "1e999s", "1e-999s", "-5s", "-0s", "0s", "0/s", "1e300/s", "1e-300/s", "nan s",
    "infs", "inf", "nan", "1e308GiB", "1e300PiB", "0B", "0Gbit/s", "1e-320MB/s", "5", "5/",
    "/s", "s", "1//s", "5 min", "  7h  ", "1e5y", "9" * 40 + "w", "1.5.5s", "+5s", "5S",
    "5MIB", "5 GiB/s", "100%", "25%", "1000%", "-5%", "1e999%", "5h30min", "P1D", "2001-12-14",
    "12:30:00", "0x10", "\u0661\u0662\u0663s", "5\u00a0s", "5\uff53", "1e308w", "1e-300us",
    "5e-324s", "1e308/us", "1e308TiB/s", "1e-308bit/s",
]
STRING_POOL: list[Any] = [
    "", " ", "x" * 300, "x" * 5000, "a\x00b", "\x00", "\u540d\u524d", "\u202eevil",
    "\U0001f600", "a/b", "../../x", "CON", ".", "..", "-rf", "a\nb", "\t", "\x1b[31mred",
    "%s%s%n", "{0}", "${HOME}", "'", '"', "\\", Raw('"\\ud800"'), Raw('"x\\udfffy"'), "null",
    "true", "~", "0", "1e3", "PROCESS", "Process", "process ", "hyperv", "vm", "nonexistent",
]
UNKNOWN_KEYS: list[str] = ["frobnicate", "", "0", "<<", "\u540d\u524d", "x" * 300, "a\x00b",
                           "Name", "__class__", "model_config"]
DIST_POOL: list[Any] = [
    {"dist": "gamma", "mean": "1s", "cv": 1e-300}, {"dist": "gamma", "mean": "1s", "cv": 1e300},
    {"dist": "gamma", "mean": "1e300s", "cv": 1}, {"dist": "gamma", "mean": "0s", "cv": 1},
    {"dist": "gamma", "mean": "5e-324s", "cv": 1e-300},
    {"dist": "lognormal", "mean": "1s", "cv": 1e200},
    {"dist": "lognormal", "mean": "1s", "cv": 1e-300},
    {"dist": "lognormal", "mean": "0s", "cv": 1},
    {"dist": "lognormal", "median": "1e-300s", "p95": "1e300s"},
    {"dist": "lognormal", "median": "1s", "p95": "1.0000000000000002s"},
    {"dist": "lognormal", "median": "5e-324s", "p95": "1s"},
    {"dist": "lognormal", "median": "1s", "p95": "1e308s"},
    {"dist": "exponential", "mean": 0}, {"dist": "exponential", "mean": "1e300s"},
    {"dist": "exponential", "mean": "5e-324s"},
    {"dist": "uniform", "low": 5, "high": 1}, {"dist": "uniform", "low": 0, "high": "1e308s"},
    {"dist": "uniform", "low": "1e308s", "high": "1e308w"},
    {"dist": "empirical", "values": []}, {"dist": "empirical", "values": [0, "1e300s"]},
    {"dist": "empirical", "values": ["1s"] * 3}, {"dist": "empirical", "values": "1s"},
    {"dist": "constant", "value": "1e308s"}, {"dist": "constant"}, {"dist": "weibull", "k": 1},
    {"dist": None}, {"dist": ["gamma"]}, {"dist": "gamma"}, {"dist": "GAMMA", "mean": 1, "cv": 1},
    "1e300s", "0s", 0, -1, "1e308w", Raw("!!float .inf"),
]
ARRIVAL_POOL: list[Any] = [
    {"kind": "poisson", "rate": "0/s"}, {"kind": "poisson", "rate": 0},
    {"kind": "poisson", "rate": "1e300/s"}, {"kind": "poisson", "rate": "1e-300/s"},
    {"kind": "poisson", "rate": "1/s", "count": True},
    {"kind": "poisson", "rate": "1/s", "count": 0},
    {"kind": "poisson", "rate": "1/s", "until": "0s"},
    {"kind": "poisson", "rate": "1/s", "start": "1e300s"},
    {"kind": "poisson", "schedule": []},
    {"kind": "poisson", "schedule": [{"at": "0s", "rate": "0/s"}]},
    {"kind": "poisson", "schedule": [{"at": "1h", "rate": "1/s"}, {"at": "0s", "rate": "1/s"}]},
    {"kind": "poisson", "schedule": [{"at": "0s", "rate": "1/s"}, {"at": "0s", "rate": "2/s"}]},
    {"kind": "poisson", "schedule": [{"at": "1e308s", "rate": "1e300/s"}]},
    {"kind": "constant", "interval": "1e-300s"},
    {"kind": "constant", "interval": "5e-324s", "count": 10},
    {"kind": "constant", "interval": "1s", "count": 10**12},
    {"kind": "constant", "interval": "1s", "count": 2**64},
    {"kind": "burst", "count": 10**9}, {"kind": "burst", "count": True},
    {"kind": "burst", "count": 2**64}, {"kind": "burst", "count": -1},
    {"kind": "burst", "count": 1, "at": "1e300s"}, {"kind": "burst", "count": 1.5},
    {"kind": "burst", "count": "10"}, {"kind": "trace", "format": "csv", "path": ""},
    {"kind": "trace", "format": "csv", "path": "a\x00b"},
    {"kind": "trace", "format": "csv", "path": "."},
    {"kind": "trace", "format": "csv", "path": "*"},
    {"kind": "trace", "format": "csv", "path": "x" * 300},
    {"kind": "trace", "format": "csv", "path": "~nonexistent-user-xyz/t.csv"},
    {"kind": "trace", "format": "azure-v1", "path": "["},
    {"kind": "trace", "format": "google-2011", "path": "*.gz"},
    {"kind": "nope"}, {"kind": None}, {}, [], "poisson",
]
COMPARE_POOL: list[Any] = [
    {"isolation": ["PROCESS"]}, {"isolation": ["process", "process"]}, {"isolation": []},
    {"isolation": "process"}, {"isolation": [None]}, {"isolation": ["nonexistent"]},
    {"isolation": ["x" * 300]}, {"isolation": [1]}, {"isolation": [True]},
    {"isolation": ["process", "hyperv"], "placement": ["best-fit", "best-fit"]},
    {"kernel_sharing": ["any", "any"]}, {"placement": []}, {}, None, [], "process",
    {"isolation": ["process"], "bogus": ["a"]}, {"isolation": ["a\x00b"]},
    {"isolation": ["hyperv", "vm", "process"], "kernel_sharing": ["same-tenant", "any"],
     "placement": ["spread", "random", "image-locality", "first-fit"]},
]
PROFILE_KEYS = ["extends", "description", "create", "boot", "stop", "memory_overhead",
                "commit", "cpu_overhead", "disk_per_instance", "disk_image",
                "cpu_bound_fraction", "shares_host_kernel", "requires_hyperv", "partition",
                "create_per_running", "interference", "nested", "host_groups", "new_version"]
PROFILE_POOL: list[Any] = [
    {"hyperv": {"boot": None}}, {"hyperv": {"boot": {"dist": "gamma", "mean": "1s", "cv": 1e-300}}},
    {"process": {"extends": "process"}}, {"a": {"extends": "b"}, "b": {"extends": "a"}},
    {"new": {}}, {"new": {"extends": "nonexistent"}}, {"hyperv": {"memory_overhead": "1e300GiB"}},
    {"hyperv": {"commit": {"add": "0B", "round_to": "1e-300B"}}},
    {"hyperv": {"commit": {"add": "1e308B", "round_to": "1B"}}},
    {"hyperv": {"cpu_overhead": 1e300}}, {"hyperv": {"interference": {"cpu": math.inf}}},
    {"hyperv": {"interference": {"cpu": 1e308}}}, {"hyperv": {"nested": {"boot_factor": 1e308}}},
    {"hyperv": {"host_groups": []}}, {"hyperv": {"create_per_running": "1e300s"}},
    {"": {}}, {"x" * 300: {"extends": "process"}}, {"hyperv": None}, {"hyperv": []},
    {"vm": {"disk_image": "copy", "disk_per_instance": "1e300TiB"}},
    {"process": {"cpu_bound_fraction": math.nan}}, {"process": {"shares_host_kernel": "yes"}},
    {"process": {"extends": "hyperv"}, "hyperv": {"extends": "process"}},
]
TRACE_OPTION_POOL: dict[str, list[Any]] = {
    "offset": ["1e300s", "1e-300s", "-1s", "1d", "5e-324s"],
    "length": ["1e-300s", "0s", "1e308s", "5e-324s"],
    "speedup": [1e-300, 1e300, math.inf, 0, 5e-324],
    "sample": [1e-300, 5e-324, 0, 1.0000001, math.nan],
    "cpu_scale": [1e300, 1e-300, math.inf, 5e-324],
    "memory_scale": [1e300, 1e-300, 5e-324],
    "classes": [[], ["nonexistent"], [1], [None], [True], "a", [1.5]],
    "machine": [{"cpu": 1e-300, "memory": "1B"}, {"cpu": 1e300, "memory": "1e300PiB"},
                {"cpu": 0, "memory": 0}, {"cpu": 1}, None, {"cpu": 32, "memory": "5e-324B"}],
    "columns": [{"arrival": "nonexistent"}, {"bogus": "x"}, {"arrival": ""},
                {"arrival": "lifetime"}, {"lifetime": "arrival"}, {"arrival": None}, []],
    "time_unit": ["ns", "datetime", "ms", "us", "", None],
    "memory_unit": ["1e300GiB", "5e-324B", "0B", "1e308PiB"],
    "digest": ["0" * 20, "", None, "x" * 300],
    "durations": ["nonexistent.txt", ".", "", "a\x00b"],
    "flavors": ["nonexistent.txt", ".", "", "a\x00b"],
    "intervals": ["nonexistent.txt", ".", "", "a\x00b"],
    "resubmissions": ["separate", "all", None],
    "spread": [False, "no", None],
    "path": ["", ".", "/", "a\x00b", "*", "[", "x" * 300, "~nonexistent-user-xyz/t",
             "nonexistent.csv", "*/*/*"],
    "format": ["azure-v1", "google-2011", "csv", "CSV", "parquet", None],
}
SWEEP_PATH_GARBAGE = ["", "hosts[", "hosts[0]..count", "hosts[999].count",
                      "hosts[nonexistent].count", "seed", "name", "sweep.x",
                      "hosts[0].count.x", "x" * 300, "hosts[-1].count", "hosts[0][0]",
                      "profiles.new.boot", ".", "[0]", "hosts[0].count ", "hosts.count",
                      "replications", "compare.isolation", "workloads[0].arrival"]
TAG_POOL = ["!!binary aGVsbG8=", "!!timestamp 2001-12-14", "2001-12-14 21:59:43.10 -5",
            "!!set {a: null}", "!!omap [{a: 1}]", "!!python/object/apply:os.system [echo]",
            "!!python/name:os.system", "!custom 5", "!!int 0x1F", "!!float 1e999", "!!str 5",
            "!!null ''", "!!bool yes", "!!pairs [{a: 1}]", "!<tag:yaml.org,2002:str> 5",
            "!!float nan", "!!int '9999999999999999999999999999999999999999'", "!!map {}",
            "!!seq []", "!!str", "!!float ''"]


# --- sources --------------------------------------------------------------------------------

def _azure_trace(lines: int = 8) -> dict[str, bytes]:
    """A small Azure V1 trace: the shipped test split's first ``lines`` bins, its flavor map,
    and the interval map cut to each bin's lowest and highest line (same bins, same range)."""
    flavors = (AZURE_DIR / "v1.test.day1.txt").read_bytes().splitlines(keepends=True)[:lines]
    durations = (AZURE_DIR / "v1.test.day1.c2591400.txt").read_bytes().splitlines(
        keepends=True)[:lines]
    first: dict[str, bytes] = {}
    last: dict[str, bytes] = {}
    for line in (AZURE_DIR / "v1.interval_map.txt").read_bytes().splitlines(keepends=True):
        parts = line.split()
        if len(parts) == 2:
            first.setdefault(parts[1].decode(), line)
            last[parts[1].decode()] = line
    intervals = b"".join(first[b] + (last[b] if last[b] != first[b] else b"")
                         for b in sorted(first, key=int))
    return {"azure/v1.test.day1.txt": b"".join(flavors),
            "azure/v1.test.day1.c2591400.txt": b"".join(durations),
            "azure/flav_map.txt": (AZURE_DIR / "flav_map.txt").read_bytes(),
            "azure/v1.interval_map.txt": intervals}


def _csv_trace(rng: random.Random, datetimes: bool = False, rows: int = 24) -> bytes:
    """A generic CSV trace with every field: arrivals over ten minutes."""
    out = ["arrival,lifetime,cpu,memory,tenant,class,deployment"]
    t = 0.0
    for i in range(rows):
        t += rng.uniform(1, 25)
        arrival = (f"2023-11-16 18:{int(t // 60):02d}:{t % 60:06.3f}" if datetimes
                   else f"{t:.3f}")
        out.append(f"{arrival},{rng.uniform(30, 900):.1f},{rng.choice([0.5, 1, 2])},"
                   f"{rng.choice([0.5, 1, 2])},t{i % 3},{'ab'[i % 2]},d{i // 4}")
    return ("\n".join(out) + "\n").encode()


def _google_trace(rng: random.Random, tasks: int = 12) -> bytes:
    """Google 2011 task_events rows (13 fields): each task submitted, scheduled, finished."""
    rows = []
    for i in range(tasks):
        t = 600_000_000 + i * 20_000_000 + rng.randrange(1_000_000)
        job, task = 6_000_000_000 + i // 4, i % 4
        user = f"user{i % 3}="
        cpu, mem = rng.choice(["0.0125", "0.03125", "0.0625"]), rng.choice(["0.0159", "0.031"])
        klass = rng.randrange(4)
        for dt, event in ((0, 0), (1_000_000, 1), (rng.randrange(30, 600) * 1_000_000, 4)):
            rows.append(f"{t + dt},,{job},{task},{'' if event == 0 else 4_000_000 + i},"
                        f"{event},{user},{klass},{i % 10},{cpu},{mem},0.0001,0")
    rows.sort(key=lambda r: int(r.split(",")[0]))
    return ("\n".join(rows) + "\n").encode()


def _gzip(data: bytes) -> bytes:
    """Gzip ``data`` deterministically (no file name, no time stamp)."""
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as handle:
        handle.write(data)
    return buf.getvalue()


_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's is ~10x faster


def dump(data: Any) -> str:
    """``data`` as block YAML, with each Raw value's text in its place."""
    raws: list[str] = []

    def swap(node: Any) -> Any:
        if isinstance(node, Raw):
            raws.append(node.text)
            return f"RAWVALUE{len(raws) - 1}X"
        if isinstance(node, dict):
            return {swap(k) if isinstance(k, Raw) else k: swap(v) for k, v in node.items()}
        if isinstance(node, list):
            return [swap(v) for v in node]
        return node

    text = yaml.dump(swap(data), Dumper=_DUMPER, sort_keys=False, allow_unicode=False,
                     width=4096)
    for i in reversed(range(len(raws))):  # RAWVALUE1X before RAWVALUE10X would be wrong
        text = text.replace(f"RAWVALUE{i}X", raws[i])
    return text


def sources() -> list[Source]:
    """Every shipped scenario, then one scenario per trace format with its generated trace.

    ``azure-replay`` reads a small copy of the shipped Azure trace (``azure/``); the trace
    scenarios are ``azure-replay`` with its arrival replaced.
    """
    rng = random.Random(1)
    out: list[Source] = []
    azure = _azure_trace()
    for path in sorted(SCENARIO_DIR.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        traces: dict[str, bytes] = {}
        fmt = None
        if AZURE_SHIPPED_PATH in text:
            text = text.replace(AZURE_SHIPPED_PATH, "azure/v1.test.day1.txt")
            text = text.replace("sample: 0.1 ", "sample: 1.0 ")
            traces, fmt = azure, "azure-v1"
        out.append(Source(path.stem, path.name, text, yaml.safe_load(text), traces, fmt))
    base = next(s for s in out if s.fmt == "azure-v1")
    generated: list[tuple[str, str, dict[str, Any], dict[str, bytes]]] = [
        ("trace-csv", "csv", {"path": "trace.csv", "memory_unit": "1GiB"},
         {"trace.csv": _csv_trace(rng)}),
        ("trace-csv-datetime", "csv", {"path": "stamps.csv", "time_unit": "datetime",
                                       "memory_unit": "1GiB"},
         {"stamps.csv": _csv_trace(rng, datetimes=True)}),
        ("trace-google-gz", "google-2011", {"path": "task_events/part-*.csv.gz",
                                            "machine": {"cpu": 32, "memory": "128GiB"}},
         {"task_events/part-00000-of-00001.csv.gz": _gzip(_google_trace(rng))}),
        ("trace-google-plain", "google-2011", {"path": "events.csv", "resubmissions": "separate",
                                               "machine": {"cpu": 32, "memory": "128GiB"}},
         {"events.csv": _google_trace(rng)}),
    ]
    for name, fmt, options, files in generated:
        data = copy.deepcopy(base.data)
        data["name"] = name
        data.pop("plan", None)
        data["workloads"][0]["arrival"] = {"kind": "trace", "format": fmt, **options}
        out.append(Source(name, f"{name}.yaml", dump(data), data, files, fmt))
    return out


def shrink(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of scenario ``data`` that runs in about a second: five simulated minutes, at most
    two hosts per group (virtual groups what their physical hosts hold), at most 50 instances
    per burst or count, one replication, sweeps cut to two points."""
    out = copy.deepcopy(data)
    out["duration"] = "5min"
    out["warmup"] = "0s"
    out["timeseries_interval"] = "30s"
    out.pop("replications", None)
    counts: dict[str, int] = {}
    hosts = out.get("hosts") or []
    for host in hosts:
        if not host.get("virtual"):
            host["count"] = min(int(host.get("count", 1)), 2)
            counts[host["group"]] = host["count"]
    for host in hosts:
        virtual = host.get("virtual")
        if virtual:
            room = counts.get(virtual["physical_group"], 1) * int(virtual.get("per_physical", 1))
            host["count"] = min(int(host.get("count", 1)), room)
    for wl in out.get("workloads") or []:
        arrival = wl.get("arrival") or {}
        if "count" in arrival:
            arrival["count"] = min(int(arrival["count"]), 50)
    for pipeline in out.get("pipelines") or []:
        pipeline["trigger"] = {"at": "30s"}
    if out.get("sweep"):
        first = next(iter(out["sweep"]))
        out["sweep"] = {first: out["sweep"][first][:2]}
    return out


# --- tree addressing ------------------------------------------------------------------------

Address = tuple[Any, ...]


def nodes(data: Any, prefix: Address = ()) -> Iterator[tuple[Address, Any]]:
    """Every node below ``data`` with its address (keys and list indexes), parents first."""
    items = (data.items() if isinstance(data, dict)
             else enumerate(data) if isinstance(data, list) else ())
    for key, value in items:
        address = (*prefix, key)
        yield address, value
        yield from nodes(value, address)


def get_at(data: Any, address: Address) -> Any:
    """The node at ``address``."""
    for key in address:
        data = data[key]
    return data


def set_at(data: Any, address: Address, value: Any) -> None:
    """Replace the node at ``address`` (in place)."""
    get_at(data, address[:-1])[address[-1]] = value


def delete_at(data: Any, address: Address) -> None:
    """Remove the node at ``address`` (in place)."""
    del get_at(data, address[:-1])[address[-1]]


def show_address(address: Address) -> str:
    """``('hosts', 0, 'count')`` -> ``hosts[0].count`` (the loader's and sweep's notation)."""
    text = ""
    for key in address:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else str(key))
    return text


def _short(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else repr(value)
    if len(text) > limit:
        return f"{text[:limit // 2]}...({len(text)} chars)...{text[-10:]}"
    return text


def _value_text(value: Any) -> str:
    if isinstance(value, Raw):
        return _short(value.text)
    return _short(repr(value))


def yaml_diff(before: str, after: str, name: str, limit: int = 12) -> str:
    """The changed lines of ``after`` against ``before`` (no context), long lines cut."""
    lines = list(difflib.unified_diff(before.splitlines(), after.splitlines(), name, name,
                                      n=0, lineterm=""))[2:]
    shown = [line if len(line) <= 160 else f"{line[:100]} ...({len(line)} chars)... "
             f"{line[-40:]}" for line in lines[:limit]]
    if len(lines) > limit:
        shown.append(f"... ({len(lines) - limit} more diff lines)")
    return "\n".join(shown)


def hunks(before: str, after: str) -> list[tuple[int, int, int, int]]:
    """The changed line ranges of ``after`` against ``before`` (difflib opcodes)."""
    matcher = difflib.SequenceMatcher(None, before.splitlines(True), after.splitlines(True),
                                      autojunk=False)
    return [(i1, i2, j1, j2) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"]


def apply_hunks(before: str, after: str, keep: list[tuple[int, int, int, int]]) -> str:
    """``before`` with only the ``keep`` changes (from ``hunks``) made."""
    old, new = before.splitlines(True), after.splitlines(True)
    out: list[str] = []
    position = 0
    for i1, i2, j1, j2 in sorted(keep):
        out += old[position:i1] + new[j1:j2]
        position = i2
    return "".join(out + old[position:])


# --- scenario mutations ---------------------------------------------------------------------

Mutation = Callable[[random.Random, dict[str, Any]], str]
"""Changes scenario data in place and says what it did."""


def _pick(rng: random.Random, data: dict[str, Any],
          want: Callable[[Address, Any], bool] = lambda a, v: True) -> Address | None:
    found = [a for a, v in nodes(data) if want(a, v)]
    return rng.choice(found) if found else None


def _is_leaf(_address: Address, value: Any) -> bool:
    return not isinstance(value, (dict, list))


def _is_number_like(address: Address, value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)) or (
        isinstance(value, str) and bool(re.match(r"^\s*[-+]?[\d.]+", value)))


def _mutate_value(pool: list[Any], family: str,
                  want: Callable[[Address, Any], bool] = _is_leaf) -> Mutation:
    def mutation(rng: random.Random, data: dict[str, Any]) -> str:
        address = _pick(rng, data, want) or _pick(rng, data)
        assert address is not None
        value = copy.deepcopy(rng.choice(pool))
        set_at(data, address, value)
        return f"{show_address(address)} = {_value_text(value)} ({family})"
    return mutation


def m_delete(rng: random.Random, data: dict[str, Any]) -> str:
    """Delete a key or a list entry."""
    address = _pick(rng, data)
    assert address is not None
    delete_at(data, address)
    return f"delete {show_address(address)}"


def m_duplicate_item(rng: random.Random, data: dict[str, Any]) -> str:
    """Duplicate a list entry (same image, host group, variant or sweep value twice)."""
    address = _pick(rng, data, lambda a, v: isinstance(v, list) and bool(v))
    if address is None:
        return m_delete(rng, data)
    items = get_at(data, address)
    i = rng.randrange(len(items))
    items.insert(i, copy.deepcopy(items[i]))
    return f"duplicate {show_address((*address, i))}"


def m_unknown_key(rng: random.Random, data: dict[str, Any]) -> str:
    """Add a key no model knows, or a near miss of a sibling's key."""
    address = _pick(rng, data, lambda a, v: isinstance(v, dict))
    target = data if address is None or rng.random() < 0.2 else get_at(data, address)
    keys = [k for k in target if isinstance(k, str) and len(k) > 2]
    if not keys or rng.random() < 0.5:
        key = rng.choice(UNKNOWN_KEYS)
    else:
        near = rng.choice(keys)
        key = near[:1] + near[2:]  # a typo: one letter dropped
    target[key] = rng.choice([1, "x", None, {"a": 1}])
    return f"unknown key {show_address(address or ()) or '<top>'}.{_short(key)}"


def m_nest(rng: random.Random, data: dict[str, Any]) -> str:
    """Replace a node with deeply nested flow lists or mappings."""
    address = _pick(rng, data)
    assert address is not None
    depth = rng.choice([50, 250, 1000, 5000])
    text = ("[" * depth + "1" + "]" * depth if rng.random() < 0.5
            else "{a: " * depth + "1" + "}" * depth)
    set_at(data, address, Raw(text))
    return f"{show_address(address)} = {depth} levels of nesting"


def m_list_map(rng: random.Random, data: dict[str, Any]) -> str:
    """Turn a list into a mapping, a mapping into a list, a scalar into a list."""
    address = _pick(rng, data)
    assert address is not None
    value = get_at(data, address)
    if isinstance(value, list):
        new: Any = {str(i): v for i, v in enumerate(value)}
    elif isinstance(value, dict):
        new = list(value.values()) if rng.random() < 0.5 else [value]
    else:
        new = [value]
    set_at(data, address, new)
    return f"{show_address(address)} = {_short(repr(new))} (list/map swap)"


def m_name(rng: random.Random, data: dict[str, Any]) -> str:
    """Give a name (scenario, image, workload, group) an odd value."""
    address = _pick(rng, data, lambda a, v: a[-1] in ("name", "group", "image", "base",
                                                       "tenant", "isolation", "os_build"))
    if address is None:
        address = ("name",)
    value = copy.deepcopy(rng.choice(STRING_POOL + [{"a": 1}, ["a"], 5, None, True]))
    set_at(data, address, value)
    return f"{show_address(address)} = {_value_text(value)} (name)"


def m_dist(rng: random.Random, data: dict[str, Any]) -> str:
    """Replace a distribution (app_start, lifetime, a profile's boot...) with an extreme one."""
    address = _pick(rng, data, lambda a, v: isinstance(v, dict) and "dist" in v or a[-1] in (
        "app_start", "lifetime", "install", "repair", "reboot", "boot", "create", "stop"))
    if address is None:
        address = ("workloads", 0, "app_start")
    value = copy.deepcopy(rng.choice(DIST_POOL))
    set_at(data, address, value)
    return f"{show_address(address)} = {_value_text(value)} (dist)"


def m_arrival(rng: random.Random, data: dict[str, Any]) -> str:
    """Replace a workload's arrival process."""
    i = rng.randrange(len(data.get("workloads") or [None]))
    value = copy.deepcopy(rng.choice(ARRIVAL_POOL))
    try:
        data["workloads"][i]["arrival"] = value
    except (KeyError, IndexError, TypeError):
        data["workloads"] = [{"name": "w", "image": "x", "memory": "1GiB", "arrival": value}]
    return f"workloads[{i}].arrival = {_value_text(value)} (arrival)"


def m_compare(rng: random.Random, data: dict[str, Any]) -> str:
    """Replace ``compare`` (duplicate variants, unknown modes, wrong types), sometimes with an
    odd workload isolation beside it."""
    value = copy.deepcopy(rng.choice(COMPARE_POOL))
    data["compare"] = value
    what = f"compare = {_value_text(value)}"
    if rng.random() < 0.4 and data.get("workloads"):
        iso = rng.choice(["PROCESS", "Process", "nonexistent", "", None, 1, ["process"]])
        data["workloads"][0]["isolation"] = iso
        what += f", workloads[0].isolation = {iso!r}"
    return what + " (compare)"


def m_profiles(rng: random.Random, data: dict[str, Any]) -> str:
    """Add or override isolation profiles with odd fields."""
    if rng.random() < 0.5:
        value = copy.deepcopy(rng.choice(PROFILE_POOL))
    else:
        key = rng.choice(PROFILE_KEYS)
        pool = (DIST_POOL if key in ("create", "boot", "stop") else
                UNIT_POOL + EXTREME_POOL if key in ("memory_overhead", "disk_per_instance",
                                                    "create_per_running") else
                EXTREME_POOL + TYPE_POOL + STRING_POOL)
        value = {rng.choice(["process", "hyperv", "vm", "custom"]):
                 {"extends": "process", key: copy.deepcopy(rng.choice(pool))}}
    profiles = data.get("profiles")
    if isinstance(profiles, dict) and rng.random() < 0.5:
        profiles.update(value)
    else:
        data["profiles"] = value
    return f"profiles += {_short(repr(value), 120)} (profiles)"


def _sweep_path(address: Address, data: dict[str, Any]) -> str:
    text = ""
    node: Any = data
    for key in address:
        if isinstance(key, int):
            item = node[key]
            name = item.get("name", item.get("group")) if isinstance(item, dict) else None
            text += f"[{name}]" if isinstance(name, str) and name.isidentifier() else f"[{key}]"
        else:
            text += f".{key}" if text else str(key)
        node = node[key]
    return text


def m_sweep(rng: random.Random, data: dict[str, Any]) -> str:
    """Add a sweep over a node (a leaf, a mapping, a garbage path) with odd or duplicate
    values."""
    roll = rng.random()
    if roll < 0.2:
        path = rng.choice(SWEEP_PATH_GARBAGE)
        values: Any = [1, 2]
    else:
        want = _is_leaf if roll < 0.7 else (lambda a, v: isinstance(v, dict))
        address = _pick(rng, data, lambda a, v: a[0] not in ("sweep",) and want(a, v))
        if address is None:
            address = ("seed",)
        path = _sweep_path(address, data)
        current = copy.deepcopy(get_at(data, address))
        values = rng.choice([
            [current, current], [current, copy.deepcopy(rng.choice(EXTREME_POOL))],
            [copy.deepcopy(rng.choice(TYPE_POOL))], [{"a": 1}], [current],
            [copy.deepcopy(rng.choice(UNIT_POOL)), current], [], current, None,
        ])
    if rng.random() < 0.5 or not isinstance(data.get("sweep"), dict):
        data["sweep"] = {path: values}
    else:
        data["sweep"][path] = values
    if rng.random() < 0.3:
        data["replications"] = rng.choice([0, 2, -1, True, 10**39, "3"])
    return f"sweep {_short(path)} over {_short(repr(values), 100)} (sweep)"


def m_trace_option(rng: random.Random, data: dict[str, Any]) -> str:
    """Give an option of a trace arrival an odd value (trace scenarios only)."""
    arrival = data["workloads"][0]["arrival"]
    key = rng.choice(list(TRACE_OPTION_POOL))
    value = copy.deepcopy(rng.choice(TRACE_OPTION_POOL[key]))
    arrival[key] = value
    return f"workloads[0].arrival.{key} = {_value_text(value)} (trace-option)"


def m_top(rng: random.Random, data: dict[str, Any]) -> str:
    """Replace the whole document by a scalar, list, or an empty mapping."""
    value = rng.choice([None, [], 42, "just text", [copy.deepcopy(data)], {}, {"name": "x"},
                        Raw("!!set {}")])
    data.clear()
    data["__top__"] = value
    return f"document = {_value_text(value)} (top)"


DATA_MUTATIONS: dict[str, tuple[Mutation, float]] = {
    "type": (_mutate_value(TYPE_POOL, "type"), 12),
    "extreme": (_mutate_value(EXTREME_POOL, "extreme"), 12),
    "unit": (_mutate_value(UNIT_POOL, "unit"), 10),
    "number-unit": (_mutate_value(UNIT_POOL + EXTREME_POOL, "number-unit", _is_number_like), 8),
    "string": (_mutate_value(STRING_POOL, "string"), 5),
    "delete": (m_delete, 5),
    "duplicate": (m_duplicate_item, 5),
    "unknown-key": (m_unknown_key, 4),
    "nest": (m_nest, 3),
    "list-map": (m_list_map, 3),
    "name": (m_name, 5),
    "dist": (m_dist, 7),
    "arrival": (m_arrival, 6),
    "compare": (m_compare, 4),
    "profiles": (m_profiles, 6),
    "sweep": (m_sweep, 6),
    "top": (m_top, 1),
}
RUN_MUTATIONS = ["extreme", "number-unit", "dist", "arrival", "compare", "profiles", "name",
                 "duplicate", "sweep", "type"]


def _render(data: dict[str, Any]) -> str:
    if list(data) == ["__top__"]:
        return dump(data["__top__"]) if data["__top__"] is not None else "null\n"
    return dump(data)


# --- text mutations -------------------------------------------------------------------------

TextMutation = Callable[[random.Random, str], tuple[bytes, str]]
"""Mutates a scenario's text; returns the file's bytes and what was done."""


def t_truncate(rng: random.Random, text: str) -> tuple[bytes, str]:
    """Cut the text at a random point."""
    raw = text.encode()
    cut = rng.randrange(len(raw))
    return raw[:cut], f"truncated at byte {cut} of {len(raw)} (ends {raw[max(0, cut - 30):cut]!r})"


def t_byte_flip(rng: random.Random, text: str) -> tuple[bytes, str]:
    """Replace one to five bytes by random ones (often invalid UTF-8)."""
    raw = bytearray(text.encode())
    where = []
    for _ in range(rng.randint(1, 5)):
        i = rng.randrange(len(raw))
        raw[i] = rng.randrange(256)
        where.append(f"{i}={raw[i]:#04x}")
    return bytes(raw), f"bytes flipped: {', '.join(where)}"


def t_binary(rng: random.Random, text: str) -> tuple[bytes, str]:
    """Not YAML text at all: random bytes, gzip, UTF-16, a PNG header, a BOM."""
    choice = rng.choice(["random", "gzip", "utf16", "png", "bom", "latin1", "nul", "empty"])
    data = {"random": bytes(rng.randrange(256) for _ in range(512)),
            "gzip": _gzip(text.encode()), "utf16": text.encode("utf-16"),
            "png": b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(32),
            "bom": b"\xef\xbb\xbf" + text.encode(),
            "latin1": text.replace("name:", "n\xe4me:", 1).encode("latin-1", "replace"),
            "nul": text.encode().replace(b"\n", b"\n\0", 3), "empty": b""}[choice]
    return data, f"binary file ({choice}, {len(data)} bytes)"


def t_duplicate_key(rng: random.Random, text: str) -> tuple[bytes, str]:
    """Repeat a ``key: value`` line (a duplicate key in its mapping)."""
    lines = text.splitlines(keepends=True)
    keyed = [i for i, line in enumerate(lines) if re.match(r"^\s*[A-Za-z_]+:", line)]
    i = rng.choice(keyed)
    lines.insert(i + 1, lines[i])
    return "".join(lines).encode(), f"duplicate key line {i + 1}: {lines[i].strip()!r}"


def t_alias(rng: random.Random, text: str) -> tuple[bytes, str]:
    """An alias bomb (billion laughs), a recursive alias, or odd merge keys."""
    kind = rng.choice(["bomb", "bomb", "recursive", "merge-scalar", "merge-list", "undefined"])
    if kind == "bomb":
        levels = rng.choice([6, 8, 9])
        parts = ["&a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"] + [
            f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels + 1)]
        value = "[" + ", ".join(parts) + "]"
    else:
        value = {"recursive": "&r [*r]", "merge-scalar": "{<<: 5, a: 1}",
                 "merge-list": "{<<: [&m {x: 1}, *m, *m], a: 1}", "undefined": "*nowhere"}[kind]
    key = rng.choice(["description", "name", "seed", "registry", "images", "xalias"])
    lines = [line for line in text.splitlines() if not line.startswith(f"{key}:")]
    lines.append(f"{key}: {value}")
    return ("\n".join(lines) + "\n").encode(), f"{key}: {_short(value, 80)} ({kind})"


def t_tag(rng: random.Random, text: str) -> tuple[bytes, str]:
    """Put a YAML tag (binary, timestamp, set, python object...) on a value."""
    lines = text.splitlines()
    keyed = [i for i, line in enumerate(lines) if re.match(r"^\s*[A-Za-z_]+: \S", line)]
    i = rng.choice(keyed)
    tag = rng.choice(TAG_POOL)
    key = lines[i].split(":", 1)[0]
    lines[i] = f"{key}: {tag}"
    return ("\n".join(lines) + "\n").encode(), f"line {i + 1}: {lines[i].strip()}"


def t_documents(rng: random.Random, text: str) -> tuple[bytes, str]:
    """Several YAML documents, a document end marker, directives."""
    kind = rng.choice(["two", "empty-first", "end", "directive", "only-comment", "null",
                       "scalar", "list"])
    data = {"two": text + "---\n" + text, "empty-first": "---\n---\n" + text,
            "end": text + "...\n" + "garbage: [\n", "directive": "%YAML 1.1\n---\n" + text,
            "only-comment": "# nothing here\n", "null": "~\n", "scalar": "42\n",
            "list": "- " + text.replace("\n", "\n  ")}[kind]
    return data.encode(), f"documents: {kind}"


def t_whitespace(rng: random.Random, text: str) -> tuple[bytes, str]:
    """Tabs for indentation, CRLF or CR line ends, trailing spaces, a very long line."""
    kind = rng.choice(["tabs", "crlf", "cr", "long-line", "zero-width"])
    data = {"tabs": text.replace("\n  ", "\n\t", 3), "crlf": text.replace("\n", "\r\n"),
            "cr": text.replace("\n", "\r"),
            "long-line": text + "description: " + "x " * 200_000 + "\n",
            "zero-width": text.replace("name:", "na\u200bme:", 1)}[kind]
    return data.encode(), f"whitespace: {kind}"


TEXT_MUTATIONS: dict[str, tuple[TextMutation, float]] = {
    "truncate": (t_truncate, 5),
    "byte-flip": (t_byte_flip, 4),
    "binary": (t_binary, 2),
    "duplicate-key": (t_duplicate_key, 3),
    "alias": (t_alias, 3),
    "tag": (t_tag, 4),
    "documents": (t_documents, 1),
    "whitespace": (t_whitespace, 2),
}


# --- trace file mutations -------------------------------------------------------------------

TRACE_FIELD_POOL = ["inf", "-inf", "nan", "NaN", "1e309", "-1", "-0", "", " ", str(2**64),
                    str(10**39), "9" * 400, "0x10", '"', '"1,5"', "\x00", "1e-320", "TRUE",
                    "None", "null", "N/A", "#", "1.5", "1e18", "-1e18", "\xff"]
DATETIME_POOL = ["2023-11-16T18:17:03+05:00", "2023-11-16 18:17:03Z", "2023-11-16 18:17:03 PST",
                 "1000-01-01 00:00:00", "9999-12-31 23:59:59", "2023-02-30 00:00:00",
                 "not a date", "2023-11-16", "18:17:03", "0", "2023-11-16T18:17:03.123456789123",
                 "+275760-09-13"]


def _lines(raw: bytes) -> list[bytes]:
    return raw.splitlines(keepends=True)


def _edit_field(rng: random.Random, raw: bytes, sep: bytes, value: bytes,
                skip_header: bool) -> tuple[bytes, str]:
    lines = _lines(raw)
    first = 1 if skip_header and len(lines) > 1 else 0
    i = rng.randrange(first, len(lines))
    fields = lines[i].rstrip(b"\r\n").split(sep)
    j = rng.randrange(len(fields))
    fields[j] = value
    lines[i] = sep.join(fields) + b"\n"
    return b"".join(lines), f"line {i + 1} field {j + 1} = {value[:40]!r}"


def mutate_trace(rng: random.Random, path: str, raw: bytes, fmt: str) -> tuple[bytes, str, str]:
    """A mutated copy of trace file ``raw`` (at ``path``, of format ``fmt``).

    Returns:
        The new bytes, the mutation family and what was done.
    """
    gz = path.endswith(".gz")
    plain = gzip.decompress(raw) if gz else raw
    if gz and rng.random() < 0.4:
        kind = rng.choice(["truncated", "corrupt", "trailing", "empty-gzip", "not-gzip",
                           "double"])
        if kind == "truncated":
            cut = rng.randrange(1, len(raw))
            return raw[:cut], "trace-gzip", f"{path}: gzip truncated at byte {cut} of {len(raw)}"
        if kind == "corrupt":
            flipped = bytearray(raw)
            i = rng.randrange(10, len(flipped) - 8)
            flipped[i] ^= 0xFF
            return bytes(flipped), "trace-gzip", f"{path}: gzip byte {i} inverted"
        data = {"trailing": raw + b"garbage\n", "empty-gzip": _gzip(b""),
                "not-gzip": plain, "double": _gzip(raw)}[kind]
        return data, "trace-gzip", f"{path}: {kind}"
    sep = b"," if fmt in ("csv", "google-2011") or path.endswith("flav_map.txt") else b" "
    header = fmt == "csv"
    kind = rng.choice(["truncate", "field", "field", "field", "extra", "missing", "bad-utf8",
                       "empty", "header-only", "nul", "crlf", "bom", "duplicate", "reverse",
                       "datetime", "azure"])
    if kind == "truncate":
        cut = rng.randrange(len(plain))
        data, what = plain[:cut], f"truncated at byte {cut} of {len(plain)}"
    elif kind == "field":
        if fmt == "azure-v1" and not path.endswith(("flav_map.txt", "interval_map.txt")):
            value = rng.choice(TRACE_FIELD_POOL + ["|", "U99999999999999999999", "U-1", "X1",
                                                   "U", "C", "U1.5", "zz"])
            data, what = _edit_field(rng, plain, b",", value.encode(), False)
        else:
            data, what = _edit_field(rng, plain, sep, rng.choice(TRACE_FIELD_POOL).encode(),
                                     header)
    elif kind == "extra":
        lines = _lines(plain)
        i = rng.randrange(len(lines))
        lines[i] = lines[i].rstrip(b"\r\n") + sep + rng.choice([b"x", b"1,2", b""]) + b"\n"
        data, what = b"".join(lines), f"line {i + 1}: an extra field"
    elif kind == "missing":
        lines = _lines(plain)
        i = rng.randrange(len(lines))
        lines[i] = sep.join(lines[i].rstrip(b"\r\n").split(sep)[:-1]) + b"\n"
        data, what = b"".join(lines), f"line {i + 1}: last field dropped"
    elif kind == "bad-utf8":
        lines = _lines(plain)
        i = rng.randrange(len(lines))
        bad = rng.choice([b"\xff\xfe", b"\xc3\x28", b"\xe2\x82", b"\x80", b"\xed\xa0\x80"])
        cut = rng.randrange(max(1, len(lines[i]) - 1))
        lines[i] = lines[i][:cut] + bad + lines[i][cut:]
        data, what = b"".join(lines), f"line {i + 1}: invalid UTF-8 {bad!r}"
    elif kind == "empty":
        data, what = rng.choice([b"", b"\n", b"\n\n\n", b" "]), "empty file"
    elif kind == "header-only":
        data, what = _lines(plain)[0], "first line only"
    elif kind == "nul":
        i = rng.randrange(len(plain))
        data, what = plain[:i] + b"\0" * rng.choice([1, 8]) + plain[i:], f"NUL at byte {i}"
    elif kind == "crlf":
        data, what = plain.replace(b"\n", b"\r\n"), "CRLF line ends"
    elif kind == "bom":
        data, what = b"\xef\xbb\xbf" + plain, "UTF-8 BOM"
    elif kind == "duplicate":
        lines = _lines(plain)
        i = rng.randrange(len(lines))
        lines.insert(i, lines[i])
        data, what = b"".join(lines), f"line {i + 1} twice"
    elif kind == "reverse":
        lines = _lines(plain)
        data, what = b"".join(lines[:1] + lines[1:][::-1]) if header else b"".join(
            lines[::-1]), "lines reversed"
    elif kind == "datetime" and fmt == "csv":
        stamp = rng.choice(DATETIME_POOL).encode()
        data, what = _edit_field(rng, plain, b",", stamp, True)
        if rng.random() < 0.5:  # the whole column, not a single cell
            lines = _lines(plain)
            zones = [b"+00:00", b"+05:00", b"-08:00", b""]
            lines = lines[:1] + [line.split(b",", 1)[0] + rng.choice(zones) + b"," +
                                 line.split(b",", 1)[1] for line in lines[1:]]
            data, what = b"".join(lines), "arrivals with mixed time zones"
    else:  # format-specific structure
        data, what = _azure_or_other(rng, path, plain, fmt)
    return (_gzip(data) if gz else data), "trace-" + kind, f"{path}: {what}"


def _azure_or_other(rng: random.Random, path: str, plain: bytes, fmt: str) -> tuple[bytes, str]:
    if path.endswith("flav_map.txt"):
        line = rng.choice([b"1,inf a\n", b"nan,1 a\n", b"1,1 a\n1,2 a\n", b"1,1 ab\n",
                           b"1,1\n", b"1,1 a b\n", b"-1,-1 a\n", b"1e309,1 a\n", b"\xff a\n",
                           b"0,0 a\n"])
        return (plain + line if rng.random() < 0.5 else line), f"flavor map line {line!r}"
    if path.endswith("interval_map.txt"):
        line = rng.choice([b"", b"0 1000000000000\n", b"0 -5\n", b"inf 1\n", b"nan 2\n",
                           b"0 0 0\n", b"0 1.5\n", b"x y\n", b"0 " + str(2**64).encode() + b"\n",
                           b"-1e308 3\n"])
        return (plain + line if line and rng.random() < 0.5 else line), f"interval map {line!r}"
    if fmt == "azure-v1":
        lines = _lines(plain)
        i = rng.randrange(len(lines))
        time = rng.choice([b"nan", b"inf", b"-inf", b"1e309", b"0", b"-1", b"", b"2100000"])
        rest = lines[i].split(b" ", 1)[1] if b" " in lines[i] else b"\n"
        lines[i] = time + b" " + rest
        return b"".join(lines), f"line {i + 1}: time {time!r}"
    if fmt == "google-2011":
        value = rng.choice([b"9", b"-1", b"nan", b"8", b"1.5"])
        return _edit_field(rng, plain, b",", value, False)[0], f"an event type {value!r}"
    lines = _lines(plain)
    header = rng.choice([b"arrival,arrival,cpu\n", b"\n", b"arrival\n", b",,,\n",
                         b"arrival,lifetime,cpu,memory,tenant,class,deployment,extra\n",
                         b'"arrival\n', b"ARRIVAL,lifetime\n", b"arrival;lifetime\n"])
    return header + b"".join(lines[1:]), f"header {header!r}"


# --- command lines --------------------------------------------------------------------------

def _argv(command: str, file: str) -> tuple[str, ...]:
    if command == "validate":
        return ("validate", file)
    if command == "density":
        return ("density", file, "--out", "out", "--no-charts", "--quiet")
    if command == "images":
        return ("images", file, "--out", "out", "--quiet")
    if command == "plan":
        return ("plan", file, "--out", "out", "--no-charts", "--quiet", "--jobs", "1",
                "--replications", "1", "--max-hosts", "2", "--slo", "startup_p99<=10min")
    if command == "fit":
        return ("fit", file, "--column", "2", "--scale", "1e-3")
    return ("run", file, "--out", "out", "--no-charts", "--jobs", "1", "--replications", "1",
            "--quiet")


ARGV_MUTATIONS: list[tuple[str, tuple[str, ...], str]] = [  # (option, values, mention)
    ("--seed", ("-1", str(10**38), str(2**64), "-0", "99" * 200), "--seed"),
    ("--replications", ("0", "-1", str(10**20)), "--replications"),
    ("--jobs", ("0", "-1", "-5"), "--jobs"),
    ("--out", ("out/../out", "scenario-is-a-file", "x" * 300, "a/" * 2000, " "), "--out"),
    ("--variant", ("", "nonexistent", "process", "x" * 300, "-"), "variant"),
]
PLAN_ARGV_MUTATIONS: list[tuple[str, tuple[str, ...]]] = [
    ("--slo", ("", "startup_p99<=", "<=5", "nonexistent<=5", "startup_p99<=1e999s",
               "blocking<=nan%", "blocking<=-1%", "startup_p99>=5s", "startup_p99<=5 parsecs",
               "x" * 300, "wait_s.p99<=inf", "blocking<=1e999%", "startup_p99<=-0s",
               "startup_p99<=nan", "density_max>=1e308")),
    ("--headroom", ("-1", "0", "3", str(10**20))),
    ("--group", ("", "nonexistent", "x" * 300)),
    ("--max-hosts", ("0", "-1", "1")),
    ("--replications", ("0", "-1")),
    ("--seed", ("-1", str(10**38))),
]
FIT_ARGV_MUTATIONS: list[tuple[str, tuple[str, ...]]] = [
    ("--column", ("0", "-1", "3", "99", str(2**64), str(10**39))),
    ("--scale", ("nan", "inf", "-1", "0", "1e-320", "1e308", "-0", "-inf")),
    ("--empirical", ()),
]


def argv_case(rng: random.Random, source: Source, command: str
              ) -> tuple[tuple[str, ...], str, str]:
    """A command line with one odd option; returns it, the option's mention and what was
    done."""
    if command == "validate":
        kind = rng.choice(["missing", "directory", "two", "long", "spaces"])
        line = {"missing": ("validate", "nonexistent.yaml"), "directory": ("validate", "."),
                "two": ("validate", source.file, "nonexistent.yaml"),
                "long": ("validate", "y" * 300 + ".yaml"),
                "spaces": ("validate", f" {source.file}")}[kind]
        return line, line[-1].strip()[:40], f"validate {kind}"
    if command == "plan":
        option, values = rng.choice(PLAN_ARGV_MUTATIONS)
        value = rng.choice(values)
        argv = list(_argv(command, source.file))
        if option in argv:
            argv[argv.index(option) + 1] = value
        else:
            argv.extend([option, value])
        return tuple(argv), option, f"{option} {_short(value)}"
    option, values, mention = rng.choice(ARGV_MUTATIONS)
    value = rng.choice(values)
    if option == "--out" and value == "scenario-is-a-file":
        value = source.file
    if option == "--variant":
        command = "images"  # only images takes --variant
    elif command in ("density", "images") and option != "--out":
        command = "run"  # only run takes --seed, --replications and --jobs
    argv = list(_argv(command, source.file))
    if option in argv:
        argv[argv.index(option) + 1] = value
    else:
        argv.extend([option, value])
    return tuple(argv), mention, f"{option} {_short(value)}"


# --- generating cases -----------------------------------------------------------------------

def _weighted(rng: random.Random, table: dict[str, tuple[Any, float]]) -> str:
    names = list(table)
    return rng.choices(names, weights=[table[n][1] for n in names])[0]


def make_case(rng: random.Random, source: Source, command: str) -> Case:
    """One random case from ``source`` for ``command`` (``validate``, ``run``, ``density``)."""
    base = shrink(source.data) if command != "validate" else copy.deepcopy(source.data)
    base_text = source.text if command == "validate" else dump(base)
    files = dict(source.traces)
    mentions: tuple[str, ...] = (source.file,)
    argv = _argv(command, source.file)
    roll = rng.random()
    trace_share = 0.3 if source.fmt else 0.0
    text_share = 0.25 if command == "validate" else 0.0
    if roll < trace_share:
        target = rng.choice(sorted(source.traces))
        raw, family, what = mutate_trace(rng, target, source.traces[target], source.fmt or "")
        files[target] = raw
        files[source.file] = base_text.encode()
        mentions += (Path(target).name, source.file)
        reproducer = what
        description = f"{source.name}: {what}"
    elif roll < trace_share + text_share:
        family = _weighted(rng, TEXT_MUTATIONS)
        raw, what = TEXT_MUTATIONS[family][0](rng, base_text)
        files[source.file] = raw
        reproducer = f"{source.file}: {what}"
        description = f"{source.name}: {what}"
    elif roll < trace_share + text_share + 0.04:
        argv, mention, what = argv_case(rng, source, command)
        files[source.file] = base_text.encode()
        family = "argv"
        mentions += (mention, "plan:") if command == "plan" else (mention,)
        reproducer = f"python -m sim {' '.join(_short(a, 40) for a in argv)}"
        description = f"{source.name}: {what}"
    else:
        data = copy.deepcopy(base)
        changes = []
        families = []
        for _ in range(1 if rng.random() < 0.8 else 2):
            if source.fmt and rng.random() < 0.2:
                families.append("trace-option")
                changes.append(m_trace_option(rng, data))
                continue
            if command == "validate":
                name = _weighted(rng, DATA_MUTATIONS)
            else:
                name = rng.choice(RUN_MUTATIONS)
            families.append(name)
            changes.append(DATA_MUTATIONS[name][0](rng, data))
        family = families[0]
        text = _render(data)
        files[source.file] = text.encode()
        base_text = dump(base)
        reproducer = yaml_diff(base_text, text, source.file)
        description = f"{source.name}: {'; '.join(changes)}"
    return Case(f"[{argv[0]}] {description}", family, files, tuple(argv), mentions,
                TIMEOUT_S[argv[0]], reproducer,
                base_text if reproducer.startswith("@@") else "")


def generate(seed: int, count: int, shares: dict[str, float] | None = None) -> list[Case]:
    """``count`` cases: first the targeted ones (``targeted``), then random ones from each
    source in turn, a share of them ``run``, ``density`` or ``images`` on a shrunk scenario.

    Args:
        seed: the campaign's seed; case ``i`` draws from ``Random(f"{seed}/{i}")``.
        count: how many cases (the targeted ones count, and come first).
        shares: command -> share of the random cases (default ``COMMAND_SHARES``); the rest
            are ``validate``.

    Returns:
        The same cases for the same ``seed`` and ``count``.
    """
    shares = COMMAND_SHARES if shares is None else shares
    all_sources = sources()
    cases = targeted(all_sources)[:count]
    rng = random.Random(seed)
    i = 0
    while len(cases) < count:
        source = all_sources[i % len(all_sources)]
        i += 1
        roll, command = rng.random(), "validate"
        for name, share in shares.items():
            if roll < share:
                command = name
                break
            roll -= share
        case_rng = random.Random(f"{seed}/{len(cases)}")
        cases.append(fit_case(case_rng) if command == "fit"
                     else make_case(case_rng, source, command))
    return cases


COMMAND_SHARES = {"run": 0.05, "density": 0.04, "images": 0.015, "plan": 0.012, "fit": 0.02}


def fit_case(rng: random.Random) -> Case:
    """``fit`` on a small CSV of start-up measurements (milliseconds in column 2), the file
    or the options mutated."""
    rows = ["# run,boot_ms"] + [f"{i},{rng.lognormvariate(5, 0.5):.3f}" for i in range(40)]
    raw = ("\n".join(rows) + "\n").encode()
    argv = list(_argv("fit", "boot.csv"))
    if rng.random() < 0.6:
        raw, family, what = mutate_trace(rng, "boot.csv", raw, "csv")
        reproducer = what
    else:
        option, values = rng.choice(FIT_ARGV_MUTATIONS)
        if not values:
            argv.append(option)
            what = option
        else:
            value = rng.choice(values)
            argv[argv.index(option) + 1] = value
            what = f"{option} {value}"
        family, reproducer = "argv", f"python -m sim {' '.join(argv)}"
    return Case(f"[fit] boot.csv: {what}", family, {"boot.csv": raw}, tuple(argv),
                ("boot.csv", "fit:"), TIMEOUT_S["fit"], reproducer)


# --- targeted cases: each defect the bad-input issue names ----------------------------------

def _data_case(source: Source, command: str, description: str,
               change: Callable[[dict[str, Any]], Any], family: str = "targeted") -> Case:
    base = shrink(source.data) if command != "validate" else copy.deepcopy(source.data)
    data = copy.deepcopy(base)
    change(data)
    text = _render(data)
    return Case(f"[{command}] {source.name}: {description}", family,
                {**source.traces, source.file: text.encode()}, _argv(command, source.file),
                (source.file,), TIMEOUT_S[command], yaml_diff(dump(base), text, source.file),
                dump(base))


def _text_case(source: Source, description: str, data: bytes) -> Case:
    return Case(f"[validate] {source.name}: {description}", "targeted",
                {**source.traces, source.file: data}, _argv("validate", source.file),
                (source.file,), TIMEOUT_S["validate"], f"{source.file}: {description}")


def _trace_case(source: Source, command: str, description: str, target: str,
                data: bytes) -> Case:
    base = shrink(source.data) if command != "validate" else copy.deepcopy(source.data)
    return Case(f"[{command}] {source.name}: {target}: {description}", "targeted",
                {**source.traces, target: data, source.file: dump(base).encode()},
                _argv(command, source.file), (source.file, Path(target).name),
                TIMEOUT_S[command], f"{target}: {description}")


def _csv_cell(rows: list[bytes], row: int, column: int, value: bytes) -> bytes:
    """``rows`` joined, with field ``column`` of line ``row`` (0-based) replaced."""
    fields = rows[row].rstrip(b"\n").split(b",")
    fields[column] = value
    return b"".join(rows[:row]) + b",".join(fields) + b"\n" + b"".join(rows[row + 1:])


def _set(address: Address, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda data: set_at(data, address, value)


def targeted(all_sources: list[Source]) -> list[Case]:
    """One case per defect listed in the bad-input issue (and a few more of the same kind), so
    that every named defect is covered whatever the seed."""
    by = {s.name: s for s in all_sources}
    win = by["windows-isolation"]
    storm = by["boot-storm"]
    sweep = by["sweep"]
    csv_src, stamps, ggz = by["trace-csv"], by["trace-csv-datetime"], by["trace-google-gz"]
    azure = by["azure-replay"]
    bomb = "[" + ", ".join(["&a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"] + [
        f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]) + "]"
    gz = ggz.traces["task_events/part-00000-of-00001.csv.gz"]
    corrupt = bytearray(gz)
    corrupt[len(gz) // 2] ^= 0xFF
    csv_rows = csv_src.traces["trace.csv"].splitlines(keepends=True)
    stamp_rows = stamps.traces["stamps.csv"].splitlines(keepends=True)
    mixed = stamp_rows[:1] + [row.replace(b",", b"+05:00," if i % 2 else b"+00:00,", 1)
                              for i, row in enumerate(stamp_rows[1:])]
    mixed_naive = stamp_rows[:2] + [row.replace(b",", b"+05:00,", 1) for row in stamp_rows[2:]]
    flav = azure.traces["azure/flav_map.txt"]
    gamma = {"dist": "gamma", "mean": "1s", "cv": 1e-300}
    lognormal = {"dist": "lognormal", "mean": "1s", "cv": 1e200}

    def workload_dist(dist: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
        return _set(("workloads", 0, "app_start"), dist)

    def csv_arrival(**options: Any) -> Callable[[dict[str, Any]], None]:
        return lambda data: data["workloads"][0]["arrival"].update(options)

    cases = [
        _text_case(win, "alias bomb (9 levels of 9 aliases)",
                   (win.text + f"xbomb: {bomb}\n").encode()),
        _text_case(win, "recursive alias &r [*r]", (win.text + "xloop: &r [*r]\n").encode()),
        _text_case(win, "binary file (random bytes)",
                   bytes(random.Random(3).randrange(256) for _ in range(2048))),
        _text_case(win, "invalid UTF-8 in a comment",
                   win.text.replace("# simulated time", "# simulated \xe9".encode(
                       "latin-1").decode("latin-1"), 1).encode("latin-1", "replace")),
        _text_case(win, "250 levels of nesting",
                   (win.text + "xdeep: " + "[" * 250 + "]" * 250 + "\n").encode()),
        _text_case(win, "5000 levels of nesting",
                   (win.text + "xdeep: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n").encode()),
        _text_case(win, "a 5000-digit integer", win.text.replace(
            "seed: 42", "seed: " + "9" * 5000, 1).encode()),
        _text_case(win, "duplicate key", win.text.replace(
            "seed: 42", "seed: 42\nseed: 43", 1).encode()),
        _data_case(win, "validate", "images[0].name = {a: 1}", _set(("images", 0, "name"),
                                                                    {"a": 1})),
        _data_case(win, "validate", "profiles: {hyperv: {boot: null}}",
                   _set(("profiles",), {"hyperv": {"boot": None}})),
        _data_case(win, "validate", "app_start gamma cv 1e-300", workload_dist(gamma)),
        _data_case(win, "run", "app_start gamma cv 1e-300", workload_dist(gamma)),
        _data_case(win, "validate", "app_start lognormal cv 1e200", workload_dist(lognormal)),
        _data_case(win, "run", "app_start lognormal cv 1e200", workload_dist(lognormal)),
        _data_case(win, "validate", "hosts[0].cpu_overcommit = .inf",
                   _set(("hosts", 0, "cpu_overcommit"), math.inf)),
        _data_case(win, "run", "hosts[0].cpu_overcommit = .inf",
                   _set(("hosts", 0, "cpu_overcommit"), math.inf)),
        _data_case(win, "run", "a 300-character name", _set(("name",), "n" * 300)),
        _data_case(win, "run", "a 39-digit seed", _set(("seed",), 10**38 + 1)),
        _data_case(win, "validate", "a 39-digit seed", _set(("seed",), 10**38 + 1)),
        _data_case(sweep, "validate", "sweeping a mapping value",
                   _set(("sweep",), {"registry": [{"bandwidth": "1Gbit/s"},
                                                  {"bandwidth": "2Gbit/s"}]})),
        _data_case(sweep, "validate", "sweeping a value to a mapping",
                   _set(("sweep",), {"hosts[standard].count": [{"a": 1}]})),
        _data_case(sweep, "validate", "duplicate sweep values",
                   _set(("sweep",), {"hosts[standard].count": [4, 4]})),
        _data_case(sweep, "run", "duplicate sweep values",
                   _set(("sweep",), {"hosts[standard].count": [2, 2]})),
        _data_case(win, "validate", "isolation: PROCESS with compare",
                   _set(("workloads", 0, "isolation"), "PROCESS")),
        _data_case(win, "run", "isolation: PROCESS with compare",
                   _set(("workloads", 0, "isolation"), "PROCESS")),
        _data_case(win, "validate", "duplicate variants",
                   _set(("compare",), {"isolation": ["process", "process"]})),
        _data_case(win, "run", "duplicate variants",
                   _set(("compare",), {"isolation": ["process", "process"]})),
        _data_case(storm, "validate", "burst count: true",
                   _set(("workloads", 0, "arrival", "count"), True)),
        _data_case(storm, "run", "burst count: true",
                   _set(("workloads", 0, "arrival", "count"), True)),
        _data_case(win, "validate", "rate 0/s", _set(("workloads", 0, "arrival", "rate"),
                                                     "0/s")),
        _data_case(win, "run", "rate 0/s", _set(("workloads", 0, "arrival", "rate"), "0/s")),
        _data_case(win, "run", "a name with a lone surrogate",
                   _set(("workloads", 0, "tenant"), Raw('"a\\ud800b"'))),
        _data_case(csv_src, "validate", "NUL byte in the trace path",
                   csv_arrival(path="trace\x00.csv")),
        _data_case(csv_src, "validate", "a 300-character trace path",
                   csv_arrival(path="t" * 300 + ".csv")),
        _trace_case(ggz, "validate", "truncated gzip", "task_events/part-00000-of-00001.csv.gz",
                    gz[: len(gz) // 2]),
        _trace_case(ggz, "validate", "corrupt gzip", "task_events/part-00000-of-00001.csv.gz",
                    bytes(corrupt)),
        _trace_case(csv_src, "validate", "invalid UTF-8 in a row", "trace.csv",
                    _csv_cell(csv_rows, 3, 4, b"t\xff\xfe")),
        _trace_case(csv_src, "validate", "invalid UTF-8 in the header", "trace.csv",
                    b"arriv\xe9l,lifetime\n1,2\n"),
        _trace_case(azure, "validate", "invalid UTF-8", "azure/flav_map.txt",
                    flav + b"1,1 \xff\n"),
        _trace_case(stamps, "validate", "mixed time zones", "stamps.csv", b"".join(mixed)),
        _trace_case(stamps, "validate", "naive and aware time stamps", "stamps.csv",
                    b"".join(mixed_naive)),
        _trace_case(azure, "validate", "empty interval map", "azure/v1.interval_map.txt", b""),
        _trace_case(azure, "validate", "a bin of 10**12 in the interval map",
                    "azure/v1.interval_map.txt",
                    azure.traces["azure/v1.interval_map.txt"] + b"0 1000000000000\n"),
        _trace_case(csv_src, "validate", "a row with extra fields", "trace.csv",
                    b"".join(csv_rows[:2]) + csv_rows[2].rstrip(b"\n") + b",x,y\n" +
                    b"".join(csv_rows[3:])),
        _trace_case(csv_src, "validate", "inf arrival", "trace.csv",
                    _csv_cell(csv_rows, 1, 0, b"inf")),
        _trace_case(csv_src, "validate", "nan arrival", "trace.csv",
                    _csv_cell(csv_rows, 1, 0, b"nan")),
        _trace_case(csv_src, "run", "inf lifetime", "trace.csv",
                    _csv_cell(csv_rows, 2, 1, b"inf")),
        _trace_case(csv_src, "run", "inf cpu", "trace.csv", _csv_cell(csv_rows, 2, 2, b"inf")),
        _trace_case(ggz, "validate", "inf timestamp", "task_events/part-00000-of-00001.csv.gz",
                    _gzip(_csv_cell(gzip.decompress(gz).splitlines(keepends=True), 0, 0,
                                    b"inf"))),
        _trace_case(ggz, "run", "inf timestamp", "task_events/part-00000-of-00001.csv.gz",
                    _gzip(_csv_cell(gzip.decompress(gz).splitlines(keepends=True), 0, 0,
                                    b"inf"))),
        _trace_case(csv_src, "run", "inf arrival", "trace.csv",
                    _csv_cell(csv_rows, 1, 0, b"inf")),
        _trace_case(csv_src, "run", "invalid UTF-8 in a tenant", "trace.csv",
                    _csv_cell(csv_rows, 3, 4, b"t\xff\xfe")),
        _data_case(win, "density", "app_start gamma cv 1e-300", workload_dist(gamma)),
        _data_case(win, "density", "hosts[0].cpu_overcommit = .inf",
                   _set(("hosts", 0, "cpu_overcommit"), math.inf)),
        _data_case(storm, "density", "burst count: true",
                   _set(("workloads", 0, "arrival", "count"), True)),
        _data_case(win, "density", "rate 0/s", _set(("workloads", 0, "arrival", "rate"),
                                                    "0/s")),
        _data_case(win, "images", "duplicate variants",
                   _set(("compare",), {"isolation": ["process", "process"]})),
    ]
    run_seed = list(_argv("run", win.file)) + ["--seed", "-1"]
    cases.append(Case(f"[run] {win.name}: --seed -1", "targeted",
                      {win.file: dump(shrink(win.data)).encode()}, tuple(run_seed),
                      (win.file, "--seed"), TIMEOUT_S["run"], "python -m sim run ... --seed -1"))
    run_seed = list(_argv("run", win.file)) + ["--seed", str(10**38 + 1)]
    cases.append(Case(f"[run] {win.name}: --seed with 39 digits", "targeted",
                      {win.file: dump(shrink(win.data)).encode()}, tuple(run_seed),
                      (win.file, "--seed"), TIMEOUT_S["run"],
                      f"python -m sim run ... --seed {10**38 + 1}"))
    return [replace(c, family="targeted") for c in cases]


__all__ = ["Case", "Raw", "Source", "apply_hunks", "dump", "generate", "hunks", "make_case",
           "mutate_trace", "shrink", "sources", "targeted"]
