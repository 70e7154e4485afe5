"""Facts recorded during a run: one row per instance, level changes, periodic host samples.

Owns: holding those facts in memory. Must not: compute statistics (``sim.analysis``) or write
files (``sim.output``). The model is handed a recorder, so tests can inspect one directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

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


@dataclass
class Level:
    """A piecewise-constant quantity: ``values[i]`` holds from ``times[i]`` on."""

    times: list[float] = field(default_factory=lambda: [0.0])
    values: list[float] = field(default_factory=lambda: [0.0])

    def set(self, time: float, value: float) -> None:
        """Record that the level is ``value`` from ``time`` on."""
        if self.times[-1] == time:
            self.values[-1] = value
        else:
            self.times.append(time)
            self.values.append(value)


class Recorder:
    """In-memory store of one run's facts."""

    def __init__(self) -> None:
        self.instances: list[InstanceRecord] = []
        self.levels: dict[str, Level] = {}
        self.host_levels: dict[int, Level] = {}
        self.samples: list[dict[str, Any]] = []
        self.hosts: list[dict[str, Any]] = []
        self.faults: list[FaultRecord] = []
        self.physical_levels: dict[int, Level] = {}
        self.pipeline_runs: list[dict[str, Any]] = []
        self.end_state: dict[str, Any] = {}  # images and the layers each host holds at the end

    def instance(self, record: InstanceRecord) -> None:
        """Keep an instance's record (called when it arrives; filled in as it goes)."""
        self.instances.append(record)

    def level(self, name: str, time: float, value: float) -> None:
        """A cluster-wide level changed."""
        level = self.levels.get(name)
        if level is None:
            level = self.levels[name] = Level()
        level.set(time, value)

    def host_level(self, host: int, time: float, value: float) -> None:
        """The number of instances allocated on ``host`` changed."""
        level = self.host_levels.get(host)
        if level is None:
            level = self.host_levels[host] = Level()
        level.set(time, value)

    def physical_level(self, host: int, time: float, value: float) -> None:
        """The instances on all the container-host VMs inside physical ``host`` changed."""
        level = self.physical_levels.get(host)
        if level is None:
            level = self.physical_levels[host] = Level()
        level.set(time, value)

    def sample(self, row: dict[str, Any]) -> None:
        """A periodic sample of one host group."""
        self.samples.append(row)
