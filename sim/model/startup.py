"""Start-up work: the create, boot and app-start phases of an instance on its host's CPU, and
the disk copy of a VM's image.

A phase that takes ``duration`` on an idle host is CPU work (``cpu_bound_fraction`` of it) and
a wait (the rest); noisy neighbours and nesting stretch both (``parts``). The CPU work is
processor-shared over the host's cores with the other start-ups (``phase``). One model, two
ways to run it: when nothing can change a start-up's pace once it begins (no fault or rollout
interrupts it, no noise class) and the host's CPU pool is never contended, each phase's CPU work
is served at the per-job rate whatever else starts, so the three phases' ends are known when
the first begins and are worked out at once (``book``), with the same ``parts`` and the pool's
own ``served_in``, in the order the pool would add them: one timer instead of three events.

Owns: the start-up jobs in progress (so a fault or a retire can cancel them) and the booked
phases' transition times. Must not: count instances (``counts``) or decide the order of a
request's steps (``lifecycle``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import simpy

from sim.model.kernel import Wake, wake

if TYPE_CHECKING:
    from sim.model.host import Host
    from sim.model.interference import Interference
    from sim.model.sharing import SharedCapacity
    from sim.model.totals import GroupTotals
    from sim.model.workload import WorkloadRuntime
    from sim.recorder import InstanceRecord, Recorder
    from sim.spec.config import ResolvedProfile


class Startup:
    """Runs start-up phases on hosts' CPU and disk pools."""

    def __init__(self, env: simpy.Environment, totals: GroupTotals, interference: Interference,
                 interruptible: bool, foreseeable: bool) -> None:
        """``interruptible``: a fault or a rollout may cancel a start-up (its jobs are kept);
        ``foreseeable``: nothing changes a start-up's pace once it begins (it may be booked
        ahead)."""
        self.env = env
        self.totals = totals
        self.interference = interference
        self.interruptible = interruptible
        self.foreseeable = foreseeable
        self._jobs: dict[int, tuple[SharedCapacity, simpy.Event]] = {}  # by record id

    def job(self, rec: InstanceRecord, pool: SharedCapacity, work: float,
            then: float = 0.0) -> simpy.Event:
        """``pool.run(work, then)`` for ``rec``'s start-up, remembered so a fault or a retire
        can cancel it (when anything can)."""
        done = pool.run(work, then)
        if self.interruptible:
            self._jobs[rec.id] = (pool, done)

            def forget(_event: simpy.Event) -> None:
                self._jobs.pop(rec.id, None)

            done.callbacks.append(forget)
        return done

    def cancel(self, rec: InstanceRecord) -> None:
        """Cancel the start-up work ``rec`` has in progress, if any."""
        job = self._jobs.pop(rec.id, None)
        if job is not None:
            job[0].cancel(job[1])

    def parts(self, host: Host, wl: WorkloadRuntime, duration: float) -> tuple[float, float]:
        """(CPU work, wait) of a phase that takes ``duration`` on an idle host, starting now
        on ``host``: noisy neighbours and nesting (inside a container-host VM) stretch it."""
        if host.noise:
            duration *= self.interference.slowdown(host, wl)
        return split(host, wl.profile, duration)

    def work(self, host: Host, profile: ResolvedProfile, duration: float) -> simpy.Event:
        """The event that ends a phase outside any instance's start-up (a commands script's
        create or boot), begun now: as ``phase`` runs one, without neighbours' noise."""
        work, wait = split(host, profile, max(duration, 0.0))
        if work > 0:
            return host.cpu.run(work, wait if wait > 0 else 0.0)
        return self.env.timeout(wait)

    def phase(self, host: Host, wl: WorkloadRuntime, duration: float,
              rec: InstanceRecord) -> simpy.Event | Wake | None:
        """The event that ends a phase that takes ``duration`` on an idle host, begun now (None
        if it takes no time): its CPU work processor-shared on the host's cores, then its
        wait."""
        if duration <= 0:
            return None
        work, wait = self.parts(host, wl, duration)
        if work > 0:  # the wait follows the work without an event of its own
            return self.job(rec, host.cpu, work, wait if wait > 0 else 0.0)
        if wait > 0:
            return wake(self.env, wait)
        return None

    def can_book(self, host: Host) -> bool:
        """Whether a start-up beginning now on ``host`` may be booked ahead (``book``)."""
        return self.foreseeable and host.cpu.uncontended

    def book(self, host: Host, wl: WorkloadRuntime, rec: InstanceRecord,
             durations: tuple[float, float, float]) -> float | None:
        """Create, boot and app start (``durations``) as ``phase`` would run them one after the
        other from now, on a host where ``can_book``: each phase's CPU work is booked with the
        group's sample totals (``GroupTotals.book``, which counts it as the pool would),
        ``created`` and ``booted`` are filled in, and the delay until the app has started is
        returned (None if it already has)."""
        pool = host.cpu
        now = t = self.env.now
        ends = []
        jobs = []
        for duration in durations:
            if duration > 0:
                work, wait = self.parts(host, wl, duration)
                if work > 0:  # as ``pool.run(work, wait)`` schedules its end
                    served_in = pool.served_in(work)
                    jobs.append((t, t + served_in))
                    t = t + (served_in + (wait if wait > 0 else 0.0))
                elif wait > 0:
                    t = t + wait
            ends.append(t)
        if jobs:
            self.totals.book(host.group_index, jobs)
        rec.created, rec.booted = ends[0], ends[1]
        if t == now:
            return None
        delay = t - now
        return delay if now + delay == t else _delay_to(now, t)

    def finish(self, recorder: Recorder) -> None:
        """The run ended: transitions booked ahead that it did not reach are taken back (an
        event due at the end itself is not processed either)."""
        if not self.foreseeable:
            return
        end = self.env.now
        for rec in recorder.open_records():
            if rec.created >= end:
                rec.created = math.nan
            if rec.booted >= end:
                rec.booted = math.nan


def split(host: Host, profile: ResolvedProfile, duration: float) -> tuple[float, float]:
    """(CPU work, wait) of a phase of ``profile`` that takes ``duration`` on an idle host, on
    ``host``: nesting (inside a container-host VM) stretches it."""
    if host.parent is not None:
        duration *= profile.nested.boot_factor
    work = duration * profile.cpu_bound_fraction
    return work, duration - work


def _delay_to(now: float, then: float) -> float:
    """The delay ``d`` for which ``now + d == then`` exactly, as SimPy adds it (``then - now``
    may round so that the sum misses ``then`` by an ulp)."""
    delay = then - now
    while now + delay < then:
        delay = math.nextafter(delay, math.inf)
    while now + delay > then:
        delay = math.nextafter(delay, -math.inf)
    return delay
