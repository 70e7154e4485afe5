"""Live migration: a running VM moves to another host with its memory, instead of restarting
there, when a maintenance campaign drains its host.

Owns: the pre-copy arithmetic (``precopy``: the first round sends the VM's memory, each later
one what it dirtied during the one before, until what is left could be sent within the pause,
the rounds run out or a round would send no less than the one before; then the VM pauses while
the rest is sent), the one-at-a-time link of
each source host, and a move's steps: the destination chosen and its capacity held from the
start (as Hyper-V reserves the VM's memory there), the copy, the pause, and the switch
(``Request.moved``). A move that cannot go on (no host takes the VM, the destination went
down) says so, and the drain restarts the VM instead. Must not: decide which instances move
(``maintenance``) or change a request's own state (``lifecycle``).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import simpy

from sim.recorder import InstanceRecord

if TYPE_CHECKING:
    from sim.model.admission import Admission
    from sim.model.host import Host, Resident
    from sim.model.lifecycle import Request
    from sim.recorder import Recorder
    from sim.spec.maintenance import LiveMigration

Process = Generator[simpy.Event, Any, Any]


@dataclass(frozen=True)
class Precopy:
    """How one live migration goes: its pre-copy rounds' time, the pause (the switch-over
    and the last dirty pages), the bytes sent in all and the rounds."""

    copy_s: float
    pause_s: float
    bytes: float
    rounds: int


def precopy(memory: float, bandwidth: float, dirty_rate: float, pause: float,
            max_rounds: int) -> Precopy:
    """Pre-copy of ``memory`` bytes at ``bandwidth`` bytes/s from a VM that writes
    ``dirty_rate`` bytes/s (of distinct pages: never more than its memory per round): rounds
    until what is left could be sent within ``pause``, or ``max_rounds``, or a round that
    would send no less than the one before; then the pause, ``pause`` plus sending what is
    left. Without dirtying: memory / bandwidth, then the pause."""
    send, copy_s, sent, rounds = memory, 0.0, 0.0, 0
    while True:
        took = send / bandwidth
        copy_s += took
        sent += send
        rounds += 1
        last, send = send, min(memory, dirty_rate * took)  # written again meanwhile
        # done once the rest fits in the pause; given up after max_rounds, or once a round
        # would send no less than the one before (dirtied as fast as sent: Xen's rule)
        if send <= bandwidth * pause or rounds >= max_rounds or send >= last:
            break
    return Precopy(copy_s, pause + send / bandwidth, sent + send, rounds)


class Migrations:
    """The live migrations of a run: one at a time off each host, at its group's
    ``migration_bandwidth`` (or the slower destination's)."""

    def __init__(self, env: simpy.Environment, admission: Admission, recorder: Recorder
                 ) -> None:
        self.env = env
        self.admission = admission
        self.recorder = recorder
        self._links: dict[int, simpy.Resource] = {}

    def move(self, resident: Resident, source: Host, settings: LiveMigration,
             dirty_rate: float, campaign: str) -> Process:
        """Move ``resident``'s VM off ``source``: True once it runs elsewhere or has left on
        its own; False if it could not move (no host takes it now, or its destination went
        down meanwhile: the caller restarts it)."""
        request, rec = cast("Request", resident.request), resident.rec
        link = self._links.setdefault(source.index, simpy.Resource(self.env, 1))
        with link.request() as turn:
            yield turn
            if not _still_running(resident, source):
                return True
            wl = request.wl
            dest = self.admission.place(wl)
            if dest is None:
                return False
            began = self.env.now
            held = InstanceRecord(id=-1, workload=wl.spec.name, tenant=wl.tenant,
                                  isolation=wl.profile.name, arrival=began)  # dest's hold
            plan = precopy(wl.need.memory - wl.profile.memory_overhead,
                           min(_bandwidth(source), _bandwidth(dest)), dirty_rate,
                           settings.pause, settings.max_rounds)
            yield self.env.timeout(plan.copy_s)
            if _still_running(resident, source) and dest.outages == 0:
                cut = self.env.now
                yield self.env.timeout(plan.pause_s)
                if _still_running(resident, source) and dest.outages == 0:
                    request.moved(dest, began, cut)  # its capacity there is the hold's
                    self.recorder.maintenance.append({
                        "campaign": campaign, "event": "migrated", "time": self.env.now,
                        "host": source.index, "to": dest.index, "request": rec.request,
                        "workload": wl.spec.name, "began": began, "copy_s": plan.copy_s,
                        "pause_s": plan.pause_s, "bytes": plan.bytes,
                        "rounds": plan.rounds})
                    return True
            self.admission.release(dest, wl, held)  # the hold goes back
            return not _still_running(resident, source)


def _bandwidth(host: Host) -> float:
    spec = host.spec
    return spec.migration_bandwidth if spec.migration_bandwidth is not None else spec.nic


def _still_running(resident: Resident, host: Host) -> bool:
    """Whether ``resident``'s attempt still runs on ``host`` (not stopping, not taken down)."""
    request, rec = resident.request, resident.rec
    return (request.is_alive and request.rec is rec and rec.id in host.residents
            and not math.isnan(rec.running) and math.isnan(rec.stopping)
            and math.isnan(rec.disrupted))
