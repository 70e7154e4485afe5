"""Replica autoscaling: a workload whose instance count follows a demand signal, as the
Kubernetes horizontal pod autoscaler keeps a Deployment's replicas for an external metric.

Owns: the desired count (worked out at time 0 and every ``sync_period``), its scale-down
stabilization, and asking for more instances or stopping some. Must not: place or start them
(each is a request, as an arrival's is: ``lifecycle``) or decide which host takes them.

At each sync the rule is the autoscaler's for an average-value target: the ratio of the demand
to what the replicas asked for serve (``replicas x target_per_replica``); within ``tolerance``
of 1 nothing changes, else the desired count is ceil(demand / target_per_replica), held within
``min`` and ``max``. A lower count takes effect only as the highest of the counts worked out in
the last ``scale_down_stabilization``. More replicas are requested at once (they queue for a
host like any request, so an elastic host group sees them waiting); fewer stop: those not
running yet first, then the newest, each as a rollout retires one.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import simpy

from sim.model.lifecycle import Draws
from sim.model.pipelines import retire

if TYPE_CHECKING:
    from sim.model.arrivals import Arrivals
    from sim.model.host import Host
    from sim.model.roster import Live, Roster
    from sim.model.workload import WorkloadRuntime
    from sim.recorder import Recorder
    from sim.spec.config import Replicas

Process = Generator[simpy.Event, Any, None]


class ReplicaController:
    """One workload's replicas."""

    def __init__(self, env: simpy.Environment, wl: WorkloadRuntime, arrivals: Arrivals,
                 roster: Roster, hosts: list[Host], recorder: Recorder) -> None:
        assert wl.spec.replicas is not None
        self.env = env
        self.wl = wl
        self.spec: Replicas = wl.spec.replicas
        self.arrivals = arrivals
        self.roster = roster
        self.hosts = hosts
        self.recorder = recorder
        self.asked = 0  # replicas requested and not stopped
        self.recent: deque[tuple[float, int]] = deque()  # (time, desired) within the window

    def start(self) -> None:
        """Size the replicas for the demand at time 0, then sync every period."""
        self.env.process(self._run())

    def _run(self) -> Process:
        spec = self.spec
        self._apply(spec.wanted(spec.demand.at(0.0)))
        while True:
            yield self.env.timeout(spec.sync_period)
            self._apply(self.desired(spec.demand.at(self.env.now)))

    def desired(self, demand: float) -> int:
        """The count the rule asks for now, at ``demand`` (before stabilization)."""
        spec, current = self.spec, self.asked
        if current > 0:
            ratio = demand / (current * spec.target_per_replica)
            if abs(ratio - 1.0) <= spec.tolerance:
                return current
        return spec.wanted(demand)

    def _apply(self, desired: int) -> None:
        now = self.env.now
        window = self.spec.scale_down_stabilization
        self.recent.append((now, desired))
        while self.recent and self.recent[0][0] < now - window:
            self.recent.popleft()
        if desired < self.asked:  # scale-down follows the highest recommendation of the window
            desired = min(self.asked, max(d for _, d in self.recent))
        self.recorder.level(f"replicas:{self.wl.spec.name}", now, desired)
        if desired > self.asked:
            for _ in range(desired - self.asked):
                self.arrivals.submit(self.wl, self._draws())
        elif desired < self.asked:
            for live in self._to_stop(self.asked - desired):
                retire(self.hosts, live)
        self.asked = desired

    def _draws(self) -> Draws:
        """A new replica's draws, from the workload's own streams (it has no arrivals)."""
        wl = self.wl
        fault = wl.draw_fault() if wl.draw_fault else math.inf
        return Draws(wl.draw_app(), None, wl.draw_create(), wl.draw_boot(), wl.draw_stop(),
                     fault)

    def _to_stop(self, n: int) -> list[Live]:
        """The ``n`` replicas to stop: not running yet first, then the newest."""
        live = [e for e in self.roster.live[self.wl.spec.name].values() if not e.retiring]
        return sorted(live, key=_stop_order)[:n]


def _stop_order(entry: Live) -> tuple[bool, int]:
    """Replicas not running yet first, then the newest (the highest request id)."""
    return not math.isnan(entry.rec.running), -entry.rec.request
