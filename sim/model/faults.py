"""Faults: a host's hardware fails, a host kernel crashes, or an instance triggers a kernel
fault, which takes down the whole host when its profile shares the host kernel.

Owns: when faults strike (drawn up front per host, so every variant of a scenario sees the same
faults at the same times), what a crash does to a host (every instance on it and on the
container-host VMs inside it interrupted, its pools and pulls cleared) and its recovery, and
the same for a planned outage (a maintenance campaign's reboot of a drained host). Must
not: undo a request's own holdings (the request does, when interrupted: ``lifecycle``).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import simpy

from sim.experiment.rng import sampler
from sim.recorder import FaultRecord, InstanceRecord

if TYPE_CHECKING:
    from sim.model.admission import Admission
    from sim.model.host import Host
    from sim.model.placement import CapacityIndex
    from sim.model.registry import Registry
    from sim.model.workload import WorkloadRuntime
    from sim.recorder import Recorder
    from sim.spec.config import Faults as FaultsSpec

Process = Generator[simpy.Event, Any, None]


class Faults:
    """The faults of one run."""

    def __init__(self, env: simpy.Environment, spec: FaultsSpec, duration: float,
                 rng: Callable[[str], Any], hosts: list[Host], index: CapacityIndex,
                 registry: Registry, admission: Admission, recorder: Recorder) -> None:
        self.env = env
        self.spec = spec
        self.duration = duration
        self.rng = rng
        self.hosts = hosts
        self.index = index
        self.registry = registry
        self.admission = admission
        self.recorder = recorder
        self._draw_reboot: Callable[[], float] | None = None

    def start(self) -> None:
        """Start the processes of the faults the scenario injects."""
        spec = self.spec
        if spec.host_hardware is not None:
            self.env.process(self._host_faults(
                "host_hardware", [h for h in self.hosts if h.parent is None],
                spec.host_hardware.mtbf, spec.host_hardware.repair))
        if spec.host_kernel.mtbf is not None:
            self.env.process(self._host_faults("host_kernel", self.hosts,
                                               spec.host_kernel.mtbf, spec.host_kernel.reboot))

    def own_fault(self, wl: WorkloadRuntime, rec: InstanceRecord, host: Host) -> None:
        """``rec``'s instance triggered a kernel fault: in a shared host kernel the host
        crashes with everything on it; in its own kernel only the instance goes down."""
        if wl.shares_kernel:
            self._crash(host, "instance_kernel", self.spec.host_kernel.reboot, trigger=rec)
            return
        self.recorder.faults.append(FaultRecord(
            id=len(self.recorder.faults), time=self.env.now, kind="instance_kernel",
            host=host.index, disrupted=1, tenants=1, workload=wl.spec.name))
        rec.disrupted = self.env.now
        rec.fault = len(self.recorder.faults) - 1

    def _host_faults(self, kind: str, hosts: list[Host], mtbf: float, downtime: Any
                     ) -> Process:
        """Faults of one kind on ``hosts``: per host, exponential up times of mean ``mtbf``
        between faults, each followed by a down time. Drawn up front, host by host, so every
        variant of a scenario sees the same faults at the same times."""
        gen = self.rng(f"faults/{kind}")
        draw_down = sampler(downtime, self.rng(f"faults/{kind}/down"))
        events: list[tuple[float, int, float]] = []
        for host in hosts:
            t = 0.0
            while True:
                t += float(gen.exponential(mtbf))
                if t >= self.duration:
                    break
                down = draw_down()
                events.append((t, host.index, down))
                t += down
        events.sort()
        for t, index, down in events:
            if t > self.env.now:
                yield self.env.timeout(t - self.env.now)
            self._crash(self.hosts[index], kind, down)

    def _crash(self, host: Host, kind: str, downtime: Any,
               trigger: InstanceRecord | None = None) -> None:
        """``host`` goes down now with every instance on it (and on the container-host VMs
        inside it); it comes back after ``downtime`` (seconds, or a distribution to draw)."""
        if not host.available:  # already down: a kernel that is off cannot crash
            return
        down = downtime if isinstance(downtime, float) else self._reboot_draw()
        fault_id = len(self.recorder.faults)
        struck = [host, *host.children]
        victims = [resident for h in struck for resident in h.residents.values()]
        for h in struck:  # each victim is interrupted once, whatever strikes next
            h.residents.clear()
        self.recorder.faults.append(FaultRecord(
            id=fault_id, time=self.env.now, kind=kind, host=host.index,
            disrupted=len(victims), tenants=len({victim.rec.tenant for victim in victims}),
            workload=trigger.workload if trigger is not None else "", down=down))
        for h in struck:
            self._down(h)
        for victim in victims:
            request, rec = victim.request, victim.rec
            rec.disrupted = self.env.now
            rec.fault = fault_id
            if rec is not trigger and request.is_alive:
                request.interrupt(fault_id)
        self.env.process(self._recover(struck, down))

    def _reboot_draw(self) -> float:
        """A reboot after a crash an instance triggered (its own stream, made on first use)."""
        if self._draw_reboot is None:
            self._draw_reboot = sampler(self.spec.host_kernel.reboot, self.rng("faults/reboot"))
        return self._draw_reboot()

    def _recover(self, hosts: list[Host], down: float) -> Process:
        yield self.env.timeout(down)
        for h in hosts:
            self._up(h)
        self.admission.drain()

    def take_down(self, host: Host) -> None:
        """A planned outage of ``host`` (a maintenance campaign's patch and reboot; drained,
        so no instance runs there): down as after a crash, the work in progress on it (a
        build, a pull) void, until ``bring_up``."""
        self._down(host)

    def bring_up(self, host: Host) -> None:
        """``host`` is back from a planned outage."""
        self._up(host)
        self.admission.drain()

    def _down(self, h: Host) -> None:
        h.outages += 1
        self.index.update(h)
        h.cpu.clear()
        h.disk_io.clear()
        if h.batch is not None:
            h.batch.clear()
        self.registry.clear(h)
        h.epoch += 1
        crashed, h.crashed = h.crashed, self.env.event()
        crashed.succeed()

    def _up(self, h: Host) -> None:
        h.outages -= 1
        self.index.update(h)
        if h.available:
            back, h.back = h.back, self.env.event()
            back.succeed()
