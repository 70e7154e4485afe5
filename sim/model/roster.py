"""The roster of requests: every attempt's record as it is made, the version of each workload
now deployed, and the requests in progress a rollout follows.

Owns: record ids (one per attempt, in the order attempts are made), ``current`` (the version a
new instance of a workload runs) and ``live`` (the requests a rollout may retire). Must not:
make requests (``arrivals``, ``pipelines``) or drive them (``lifecycle``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import simpy

from sim.recorder import InstanceRecord

if TYPE_CHECKING:
    from sim.model.workload import WorkloadRuntime
    from sim.recorder import Recorder


class Stoppable(Protocol):
    """A request as a rollout or a drain sees it (``sim.model.lifecycle.Request`` is one)."""

    is_alive: bool
    wl: WorkloadRuntime  # what it runs: a drain checks that it fits elsewhere
    rec: InstanceRecord  # its attempt now

    def evict(self, rec: InstanceRecord) -> None:
        """Move attempt ``rec`` off its host being drained (nothing if it is gone)."""

    def interrupt(self, cause: Any) -> None:
        """Stop what it waits for (a rollout retiring it gives ``RETIRE`` as ``cause``)."""

    def finished(self) -> simpy.Event:
        """An event that fires when the request has ended."""


@dataclass(eq=False)
class Live:
    """A request in progress, as a rollout sees it."""

    request: Stoppable
    rec: InstanceRecord  # its current attempt
    wl: WorkloadRuntime  # the version it runs
    lifetime_s: float | None
    stop_at: float = math.nan  # when it means to stop (known once running)
    on_running: simpy.Event | None = None  # fires once it runs (or ends without running)
    retiring: bool = False
    counted: bool = False  # in the per-version running levels now
    remaining: float | None = None  # running time it still wants, between attempts


class Roster:
    """Records, deployed versions and live requests (see the module's docstring)."""

    def __init__(self, env: simpy.Environment, recorder: Recorder,
                 workloads: list[WorkloadRuntime], tracking: bool) -> None:
        """``tracking``: rollouts follow requests (a pipeline may retire them)."""
        self.env = env
        self.recorder = recorder
        self.tracking = tracking
        self.current = {wl.spec.name: wl for wl in workloads}  # the version now deployed
        self.live: dict[str, dict[int, Live]] = {wl.spec.name: {} for wl in workloads}
        self.next_id = 0

    def record(self, wl: WorkloadRuntime, request: int, attempt: int,
               origin: str = "arrival") -> InstanceRecord:
        """The record of a new attempt of an instance of ``wl``, arriving now (``request``:
        the id of its request's first attempt)."""
        record = InstanceRecord(id=self.next_id, workload=wl.spec.name, tenant=wl.tenant,
                                isolation=wl.profile.name, arrival=self.env.now,
                                request=request, attempt=attempt, origin=origin,
                                image=wl.chain_key)
        self.next_id += 1
        self.recorder.instance(record)
        return record
