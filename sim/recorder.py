"""Facts recorded during a run: one row per instance, level changes, periodic host samples.

Owns: holding those facts in memory, and the instance table's row format. Must not: compute
statistics (``sim.analysis``) or write files (``sim.present.output``). The model is handed a
recorder, so tests can inspect one directly.

An instance's record is an object while its attempt is in progress (the model fills in its
transition times); once the model closes it, it is packed into a chunk of rows (a NumPy
structured array of ``CHUNK_ROWS`` rows, 201 bytes a row), so a run of a million instances
holds only the records in progress as objects, and the table at the end is a concatenation,
column by column.
The chunks stay in memory rather than going to disk: the results are one table in memory at
the end anyway (``sim.run.collect``), so a spill would not lower the peak.
"""

from __future__ import annotations

import dataclasses
import math
import operator
from array import array
from collections.abc import MutableSequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

NAN = math.nan

TRANSITIONS = ("arrival", "placed", "slot", "pulled", "extracted", "copied", "created",
               "booted", "running", "stopping", "removed")


@dataclass(slots=True)
class InstanceRecord:
    """One instance's transition times (seconds; NaN where it never got there)."""

    id: int
    workload: str
    tenant: str
    isolation: str
    arrival: float
    host: int = -1
    placed: float = NAN
    slot: float = NAN
    pulled: float = NAN
    extracted: float = NAN
    copied: float = NAN
    created: float = NAN
    booted: float = NAN
    running: float = NAN
    stopping: float = NAN
    removed: float = NAN
    rejected: bool = False
    pulled_bytes: float = 0.0
    request: int = -1  # the request this attempt serves (its first attempt's id)
    attempt: int = 0  # 0: the first start; k: the k-th restart after a fault
    disrupted: float = NAN  # when a fault took it down
    fault: int = -1  # which fault (index into the run's faults)
    wanted_until: float = NAN  # set on a request's last attempt: when it meant to stop
    slowdown: float = NAN  # a batch job: time to do its work over the stand-alone time
    origin: str = "arrival"  # arrival | rollout (a replacement) | test (a pipeline's test)
    image: str = ""  # the image (version) it runs


# The instance table's columns, in order; each as ``InstanceRecord`` types it.
COLUMNS = ["id", "workload", "tenant", "isolation", "host", *TRANSITIONS, "rejected",
           "pulled_bytes", "request", "attempt", "disrupted", "fault", "wanted_until",
           "slowdown", "origin", "image"]
_KINDS = {"int": "i8", "float": "f8", "bool": "?", "str": "O"}
ROW = np.dtype([(f.name, _KINDS[str(f.type)]) for f in dataclasses.fields(InstanceRecord)])
_FIELDS = [f.name for f in dataclasses.fields(InstanceRecord)]
assert sorted(_FIELDS) == sorted(COLUMNS), "every record field is a column"
_as_row = operator.attrgetter(*_FIELDS)
CHUNK_ROWS = 16_384  # closed records packed at a time


@dataclass(slots=True)
class FaultRecord:
    """One fault: when, what kind, where, and whom it took down."""

    id: int
    time: float
    kind: str  # host_hardware | host_kernel | instance_kernel
    host: int  # the host (or container-host VM) that went down; the instance's host
    disrupted: int  # instances taken down (the blast radius)
    tenants: int  # distinct tenants among them
    workload: str = ""  # instance_kernel: the workload whose instance triggered it
    down: float = 0.0  # seconds the host stayed down (a repair or a reboot)


@dataclass
class Level:
    """A piecewise-constant quantity: ``values[i]`` holds from ``times[i]`` on."""

    times: MutableSequence[float] = field(default_factory=lambda: [0.0])
    values: MutableSequence[float] = field(default_factory=lambda: [0.0])
    # (length, last time, last value) when ``arrays`` last made them, and the arrays
    _arrays: tuple[tuple[int, float, float], np.ndarray, np.ndarray] | None = field(
        default=None, init=False, repr=False, compare=False)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """``times`` and ``values`` as arrays (made again only after the level has changed:
        it changes only by appending, or by replacing its last value)."""
        stamp = (len(self.times), self.times[-1], self.values[-1])
        if self._arrays is None or self._arrays[0] != stamp:
            self._arrays = (stamp, np.array(self.times), np.array(self.values))  # copies
        return self._arrays[1], self._arrays[2]

    def set(self, time: float, value: float) -> None:
        """Record that the level is ``value`` from ``time`` on."""
        if self.times[-1] == time:
            self.values[-1] = value
        else:
            self.times.append(time)
            self.values.append(value)


class Steps:
    """A piecewise-constant quantity worked out after the run (``sim.analysis``), held as the
    arrays ``Level.arrays`` gives: ``values[i]`` holds from ``times[i]`` on, the first time is
    0. Read-only; ``times`` and ``values`` are made as lists only when asked for."""

    __slots__ = ("_times", "_values")

    def __init__(self, times: np.ndarray, values: np.ndarray) -> None:
        self._times = times
        self._values = values

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """``times`` and ``values`` as arrays."""
        return self._times, self._values

    @property
    def times(self) -> list[float]:
        """When each value starts (the first at 0), as a new list."""
        return self._times.tolist()  # type: ignore[no-any-return]

    @property
    def values(self) -> list[float]:
        """The quantity from each of ``times`` on, as a new list."""
        return self._values.tolist()  # type: ignore[no-any-return]


class Recorder:
    """In-memory store of one run's facts."""

    def __init__(self) -> None:
        self._open: dict[int, InstanceRecord] = {}  # by id: attempts in progress
        self._closed: list[tuple[Any, ...]] = []  # closed records not packed yet, as rows
        self._chunks: list[np.ndarray] = []  # packed rows (ROW), in the order closed
        self.levels: dict[str, Level] = {}
        self.samples: list[dict[str, Any]] = []
        self.hosts: list[dict[str, Any]] = []
        self.faults: list[FaultRecord] = []
        self.physical_levels: dict[int, Level] = {}
        self.pipeline_runs: list[dict[str, Any]] = []
        self.maintenance: list[dict[str, Any]] = []  # maintenance campaigns' events
        self.end_state: dict[str, Any] = {}  # images and the layers each host holds at the end
        # (time, host, layer key, held): a layer arrived on (True) or left (False) a host
        self.layers: list[tuple[float, int, str, bool]] = []
        self.scripts: list[dict[str, Any]] = []  # each commands script: host, start, end
        self.commands: list[dict[str, Any]] = []  # its steps, phase by phase
        self.containers: list[dict[str, Any]] = []  # its containers' states, as they change
        # (time, host, present): an elastic group's host arrived (True) or was removed (False)
        self.presence: list[tuple[float, int, bool]] = []

    def instance(self, record: InstanceRecord) -> None:
        """Keep an instance's record (called when it arrives; filled in as it goes)."""
        self._open[record.id] = record

    def open_records(self) -> list[InstanceRecord]:
        """The records not closed yet (attempts still in progress)."""
        return list(self._open.values())

    def close(self, record: InstanceRecord) -> None:
        """``record`` is final (its attempt is over): keep it as a row from now on."""
        del self._open[record.id]
        self._closed.append(_as_row(record))
        if len(self._closed) >= CHUNK_ROWS:
            self._chunks.append(np.array(self._closed, dtype=ROW))
            self._closed = []

    def table(self) -> dict[str, np.ndarray]:
        """Every instance's record, one array per field (``COLUMNS``, typed as ``ROW`` types
        them), in the order of their ids; records still open as they are now. Column by
        column: copying rows of a structured type with object fields is NumPy's slow path."""
        rows = self._closed + [_as_row(r) for r in self._open.values()]
        chunks = [*self._chunks, np.array(rows, dtype=ROW)]
        order = np.argsort(np.concatenate([chunk["id"] for chunk in chunks]), kind="stable")
        return {name: np.concatenate([chunk[name] for chunk in chunks])[order]
                for name in COLUMNS}

    def level(self, name: str, time: float, value: float) -> None:
        """A cluster-wide level changed."""
        self.level_of(name).set(time, value)

    def level_of(self, name: str, dense: bool = False) -> Level:
        """The cluster-wide level ``name`` (made, at 0 from time 0, when first asked for:
        ask when it first changes). ``dense``: its times and values are kept as arrays of
        doubles (``array.array``), not lists of float objects, for a level of floats that
        changes at every placement: at a million instances the lists' objects, scattered over
        the heap, took a quarter of a second to read into arrays."""
        level = self.levels.get(name)
        if level is None:
            level = self.levels[name] = (Level(array("d", [0.0]), array("d", [0.0])) if dense
                                         else Level())
        return level

    def physical_level(self, host: int, time: float, value: float) -> None:
        """The instances on all the container-host VMs inside physical ``host`` changed."""
        level = self.physical_levels.get(host)
        if level is None:
            level = self.physical_levels[host] = Level()
        level.set(time, value)

    def layer(self, time: float, host: int, key: str, held: bool) -> None:
        """Layer ``key`` arrived on (``held``) or left ``host``."""
        self.layers.append((time, host, key, held))

    def sample(self, row: dict[str, Any]) -> None:
        """A periodic sample of one host group."""
        self.samples.append(row)
