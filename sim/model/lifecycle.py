"""One requested instance's way through its lifecycle, as callbacks on the events it waits for.

Owns: the order of a request's steps (placed or queued or rejected -> start slot -> pulls ->
extraction -> disk copy -> create -> boot -> app start -> running -> stopping -> removed; a
lazy pull goes from its pulls' start-up share to create, ``sim.model.lazypull``) and
of its attempts (a fault ends one; a restart policy may begin another), what an interrupt
(a fault on its host, or a rollout retiring it) does at each step, and what an attempt gives
back when it ends early. Must not: keep the model's state: it asks the roles
(``ModelForRequests``: admission, the registry, start-up, interference, faults, the counts
and the roster) to act, each through its public methods.

Why callbacks and not a SimPy process per request: at a million instances the process
machinery (an ``Initialize`` event, a generator resumed per event, a completion event per
process) was most of what a bare SimPy lifecycle costs (``benchmarks/floor.py`` written as
callbacks ran 2.5-3.1x faster). A ``Request`` behaves as that process did, event for event,
with one exception: an arrival's lifecycle begins at once, not on an urgent event (what could
come between is only an urgent event already due then, such as a process starting at time 0:
of the shipped scenarios' outputs, only two time-0 samples differ); a pipeline's
request begins on an urgent event, as a process is initialized, so that the retirements asked
for just before it go first. It waits on one event at a time (``_wait``: the step to run next
is that event's callback); ``interrupt`` schedules an urgent event, as ``Process.interrupt``
does, which takes the step off the event it waits for and runs the interrupt's handling; the
start slot is given back when its start-up ends or it is interrupted, as a ``with`` block
would give it back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

import simpy

from sim.model import lazypull
from sim.model.host import Resident
from sim.model.kernel import Step, Wake, alarm, urgent, wake
from sim.model.roster import Live
from sim.model.sharing import BatchShare
from sim.recorder import InstanceRecord

if TYPE_CHECKING:
    from sim.model.admission import Admission
    from sim.model.counts import Counts
    from sim.model.faults import Faults
    from sim.model.host import Host, LayerFetch, SlotRequest, Slots
    from sim.model.interference import Interference
    from sim.model.registry import Registry
    from sim.model.roster import Roster
    from sim.model.startup import Startup
    from sim.model.workload import WorkloadRuntime
    from sim.recorder import Recorder
    from sim.spec.config import Scenario

RETIRE = "retire"  # the cause of an interrupt that stops an instance for a rollout


@dataclass(frozen=True, slots=True)
class Eviction:
    """The cause of an interrupt that moves an instance off a host being drained (a
    scale-down, a maintenance campaign): the attempt it is aimed at, so that one aimed at an
    attempt already gone (two drains of one host) does nothing."""

    rec: InstanceRecord


class ModelForRequests(Protocol):
    """What a request is given (``sim.model.build.Model`` is one): the roles it asks to act,
    so this module need not import the wiring (which makes requests)."""

    env: simpy.Environment
    scenario: Scenario
    recorder: Recorder
    hosts: list[Host]
    counts: Counts
    admission: Admission
    registry: Registry
    startup: Startup
    interference: Interference
    faults: Faults
    roster: Roster
    interruptible: bool


@dataclass(slots=True)
class Draws:
    """What one request drew when it arrived (its restarts reuse the start-up draws), as
    ``Arrivals.submit`` takes them (a ``Request`` keeps them as its own fields)."""

    app_s: float
    lifetime_s: float | None
    create_s: float
    boot_s: float
    stop_s: float
    fault_s: float


class Request:
    """A requested instance, from its arrival until it stops of its own accord (or a fault or
    a rollout ends it for good): its first start and any restarts. ``live`` is set when a
    rollout follows it."""

    __slots__ = (
        "_batch",
        "_fetches",
        "_finished",
        "_host",
        "_interruptible",
        "_retiring_stop",
        "_slot",
        "_step",
        "_target",
        "app_s",
        "boot_s",
        "create_s",
        "env",
        "fault_s",
        "is_alive",
        "live",
        "model",
        "rec",
        "remaining",
        "stop_s",
        "wl",
    )

    def __init__(self, model: ModelForRequests, wl: WorkloadRuntime, rec: InstanceRecord,
                 app_s: float, lifetime_s: float | None, create_s: float, boot_s: float,
                 stop_s: float, fault_s: float, live: bool = False,
                 on_running: simpy.Event | None = None, at_once: bool = False) -> None:
        """``app_s`` to ``fault_s``: its draws (``Draws``' fields, as its own: one object
        fewer per request)."""
        env = model.env
        self.model = model
        self.env = env
        self.wl = wl
        self.rec = rec
        self.app_s = app_s
        self.create_s = create_s
        self.boot_s = boot_s
        self.stop_s = stop_s
        self.remaining = lifetime_s  # running time it still wants (None: to the end)
        self.fault_s = fault_s  # running time until it triggers a kernel fault
        self.is_alive = True
        self._slot: Slots | SlotRequest | None = None  # the start slot it holds or waits for
        self._host: Host | None = None
        self._fetches: list[LayerFetch] | tuple[()] = ()  # the pulls it waits for
        self._batch: tuple[BatchShare, int, simpy.Event] | None = None
        self._retiring_stop = False  # stopping for a rollout (an interrupt only ends it)
        self._finished: simpy.Event | None = None
        self.live: Live | None = None
        if live:  # registered with the roster once it begins
            self.live = Live(self, rec, wl, lifetime_s, on_running=on_running)
        # the event it waits for and the step it will run, kept only where an interrupt may
        # take the step off: else a request waiting on a timer would hold it and be held by
        # it, a reference cycle for the collector at the end of a run
        self._interruptible = model.interruptible
        self._target: simpy.Event | Wake | None = None
        self._step: Step | None = None
        if at_once:
            self._begin(None)
            return
        self._target = urgent(env, self._begin)  # as a process is initialized
        self._step = self._begin

    # --- waiting ------------------------------------------------------------------------

    def _wait(self, event: simpy.Event | Wake, step: Step) -> None:
        """Run ``step`` when ``event`` fires (it has not been processed yet)."""
        if self._interruptible:  # what an interrupt takes the step off
            self._target = event
            self._step = step
        # a list: only ``_sleep``'s own timers hold their step in a tuple
        event.callbacks.append(step)  # type: ignore[union-attr]

    def _sleep(self, delay: float, step: Step) -> None:
        """Run ``step`` ``delay`` seconds from now (``delay >= 0``): on a timer an interrupt
        can take it off where one may come, else on one nothing can change (``alarm``)."""
        if self._interruptible:
            self._target = wake(self.env, delay, step)
            self._step = step
        else:
            alarm(self.env, delay, step)

    def _then(self, event: simpy.Event | Wake | None, step: Step) -> None:
        """Run ``step`` when ``event`` fires, or now if there is nothing to wait for."""
        if event is None:
            step(None)
        else:
            self._wait(event, step)

    def interrupt(self, cause: Any) -> None:
        """Stop what it waits for, as ``simpy.Process.interrupt`` would: handled on an urgent
        event now (ignored if it has ended by then)."""
        urgent(self.env, self._interrupted, cause)

    def evict(self, rec: InstanceRecord) -> None:
        """Move attempt ``rec`` off its host (drained): it is requested again at once,
        whatever its restart policy; nothing happens if ``rec`` is no longer its attempt."""
        self.interrupt(Eviction(rec))

    def finished(self) -> simpy.Event:
        """An event that fires when the request has ended."""
        if self._finished is None:
            self._finished = simpy.Event(self.env)
            if not self.is_alive:
                self._finished.succeed()
        return self._finished

    def _interrupted(self, event: simpy.Event) -> None:
        cause = event.value
        if not self.is_alive or (isinstance(cause, Eviction) and cause.rec is not self.rec):
            return
        assert self._target is not None and self._step is not None
        self._target.callbacks.remove(self._step)  # type: ignore[union-attr]
        if self._step == self._granted:  # it waited in the placement queue: it leaves it
            ticket = cast("simpy.Event", self._target)
            if ticket.triggered:  # given a host this instant: it goes back
                self.model.admission.release(cast("Host", ticket.value), self.wl, self.rec)
            else:
                self.model.admission.withdraw(ticket)
        self._target = self._step = None
        if self._retiring_stop:  # its host crashed while it stopped: it is gone anyway
            self._stopped_retiring(None)
            return
        self._give_back_slot()
        if cause == RETIRE:
            self._retire()
        elif isinstance(cause, Eviction):  # drained: requested again at once, whatever the policy
            self._cancel_batch()
            self.rec.disrupted = self.env.now
            self._outcome("evicted" if self._abort() == "disrupted" else "done")
        else:
            self._outcome(self._abort())

    def _cancel_batch(self) -> None:
        """A batch job stopped before its work is done gives up its CPU share."""
        if self._batch is not None:
            pool, job, _done = self._batch
            pool.cancel(job)
            self._batch = None

    def _give_back_slot(self) -> None:
        slot = self._slot
        if slot is not None:
            self._slot = None
            slot.give_back()

    # --- an attempt ---------------------------------------------------------------------

    def _begin(self, _event: Any) -> None:
        self._target = self._step = None
        if self.live is not None:
            self.model.roster.live[self.wl.spec.name][self.rec.request] = self.live
        self._attempt()

    def _attempt(self) -> None:
        """One start and run; a fault elsewhere interrupts it."""
        admission, wl = self.model.admission, self.wl
        host = (None if (admission.queued_first() and wl.spec.on_full == "queue")
                else admission.place(wl))
        if host is None:
            if wl.spec.on_full == "reject":
                self.rec.rejected = True
                self._outcome("rejected")
                return
            self._wait(admission.enqueue(wl), self._granted)
            return
        self._placed(host)

    def _granted(self, ticket: simpy.Event) -> None:
        self._target = self._step = None
        self._placed(cast("Host", ticket.value))  # the queue grants a host

    def _placed(self, host: Host) -> None:
        model, wl, rec, live = self.model, self.wl, self.rec, self.live
        now = self.env.now
        rec.placed = now
        rec.host = host.index
        self._host = host
        if live is not None and live.retiring:  # replaced while it queued
            rec.wanted_until = now
            model.admission.release(host, wl, rec)
            self._outcome("done")
            return
        if host.outages:  # down: it crashed in the instant between the grant and now
            rec.disrupted = now
            model.admission.release(host, wl, rec)
            self._outcome("disrupted")
            return
        if model.interruptible:  # what a fault or a rollout would have to interrupt
            host.residents[rec.id] = Resident(self, rec)
        slot = self._slot = host.slots.request()
        if slot.granted:
            self._slotted(None)
        else:
            assert slot.event is not None
            self._wait(slot.event, self._slotted)

    def _slotted(self, _event: Any) -> None:
        self._target = self._step = None
        host, rec, wl = self._host, self.rec, self.wl
        assert host is not None
        now = self.env.now
        rec.slot = now
        self.model.counts.starting_on(host, +1)
        self._fetches = ()  # none yet in this attempt
        layers = host.layers
        if wl.chain_keys <= layers:  # nothing to pull
            rec.pulled = now
            if wl.profile.disk_image == "copy":
                self._extracted(None)
            else:  # nor to copy: on to create at once
                rec.extracted = now
                self._copied(None)
            return
        unpack = wl.profile.disk_image != "copy"  # a VM's template is copied, not unpacked
        fetches = self.model.registry.pull(
            host, [layer for layer in wl.chain if layer.key not in layers], rec, unpack=unpack)
        if fetches:
            self._fetches = fetches
            if unpack and host.lazy_pull is not None:  # it may begin before they arrive
                self._wait(self.env.all_of([lazypull.startable(f) for f in fetches]),
                           self._may_start)
                return
            self._wait(self.env.all_of([f.downloaded for f in fetches]), self._downloaded)
            return
        rec.pulled = now
        self._extracted(None)

    def _downloaded(self, _event: Any) -> None:
        self._target = self._step = None
        self.rec.pulled = self.env.now
        fetches, self._fetches = self._fetches, ()
        self._wait(self.env.all_of([f.ready for f in fetches]), self._extracted)

    def _may_start(self, _event: Any) -> None:
        """Pulled lazily: enough of each layer has arrived to begin, without waiting for the
        rest or for extraction (its ``_fetches`` stay, to stretch the phases meanwhile)."""
        self._target = self._step = None
        rec = self.rec
        rec.pulled = rec.extracted = self.env.now
        self._copied(None)

    def _extracted(self, _event: Any) -> None:
        self._target = self._step = None
        wl, rec = self.wl, self.rec
        rec.extracted = self.env.now
        if wl.profile.disk_image == "copy":
            assert self._host is not None
            self._wait(self.model.startup.job(rec, self._host.disk_io, wl.need.image_bytes),
                       self._copied)
            return
        self._copied(None)

    def _copied(self, _event: Any) -> None:
        self._target = self._step = None
        host = self._host
        assert host is not None
        self.rec.copied = self.env.now
        wait = host.create_delay(self.env.now)  # its host's creation rate, if it has one
        if wait > 0:
            self._sleep(wait, self._create)
            return
        self._create(None)

    def _create(self, _event: Any) -> None:
        """Create, boot and app start, from now."""
        self._target = self._step = None
        model, wl, host, rec = self.model, self.wl, self._host, self.rec
        assert host is not None
        create_s = self.create_s
        if wl.profile.create_per_running:
            create_s += wl.profile.create_per_running * model.counts.host_running[host.index]
        startup = model.startup
        stretch = lazypull.stretch(host, self._fetches)  # 1 unless its image still streams
        if stretch == 1.0 and startup.can_book(host):  # the three phases' ends are known now
            delay = startup.book(host, wl, rec, (create_s, self.boot_s, self.app_s))
            if delay is None:
                self._running(None)
            else:
                self._sleep(delay, self._running)
            return
        self._then(startup.phase(host, wl, create_s * stretch, rec), self._created)

    def _created(self, _event: Any) -> None:
        self._target = self._step = None
        host = self._host
        assert host is not None
        self.rec.created = self.env.now
        boot_s = self.boot_s * lazypull.stretch(host, self._fetches)
        self._then(self.model.startup.phase(host, self.wl, boot_s, self.rec), self._booted)

    def _booted(self, _event: Any) -> None:
        self._target = self._step = None
        host = self._host
        assert host is not None
        self.rec.booted = self.env.now
        app_s = self.app_s * lazypull.stretch(host, self._fetches)
        self._then(self.model.startup.phase(host, self.wl, app_s, self.rec), self._running)

    def _running(self, _event: Any) -> None:
        self._target = self._step = None
        model, wl, host, rec, live = self.model, self.wl, self._host, self.rec, self.live
        assert host is not None
        env = self.env
        now = env.now
        rec.running = now
        model.counts.started(host)
        if wl.spec.noise != "none":
            model.interference.changed(host, wl, +1)
        remaining, fault_s = self.remaining, self.fault_s
        if live is not None:
            model.counts.version(wl, +1)
            live.counted = True
            if remaining is not None:
                live.stop_at = now + remaining
            if live.on_running is not None and not live.on_running.triggered:
                live.on_running.succeed(True)
        self._give_back_slot()  # the start-up is over
        if wl.spec.work is not None:
            pool = host.batch
            if pool is None:
                pool = host.batch = BatchShare(env, host.spec.cpu_cores)
            interference = model.interference
            job, done = pool.run(wl.spec.work, wl.spec.cpu,
                                 interference.slowdown(host, wl)
                                 * interference.cpu_factor(host, wl))
            host.residents[rec.id] = Resident(self, rec, job)
            self._batch = (pool, job, done)
            self._wait(done | env.timeout(fault_s), self._worked)
        elif remaining is None:
            duration = model.scenario.duration
            if fault_s < duration - now:
                self._sleep(fault_s, self.own_fault)
            elif model.interruptible:  # stay alive to be taken down by a fault or a rollout
                self._sleep(duration - now + 1.0, self._to_the_end)  # beyond it
            else:
                self._outcome("done")
        elif fault_s < remaining:
            self._sleep(fault_s, self.own_fault)
        else:
            self._sleep(remaining, self._stop)

    def _worked(self, outcome: Any) -> None:
        self._target = self._step = None
        assert self._batch is not None
        pool, job, done = self._batch
        self._batch = None
        if done not in outcome.value:
            pool.cancel(job)
            self.own_fault(None)
            return
        rec, spec = self.rec, self.wl.spec
        assert spec.work is not None
        rec.slowdown = (self.env.now - rec.running) / (spec.work / spec.cpu)
        self._stop(None)

    def own_fault(self, _event: Any) -> None:
        """It triggers a kernel fault now."""
        self._target = self._step = None
        assert self._host is not None
        self.model.faults.own_fault(self.wl, self.rec, self._host)
        self._abort()
        self._outcome("faulted")

    def _to_the_end(self, _event: Any) -> None:
        self._target = self._step = None
        self._outcome("done")

    def _stop(self, _event: Any) -> None:
        self._target = self._step = None
        host, rec = self._host, self.rec
        assert host is not None
        now = self.env.now
        rec.stopping = now
        rec.wanted_until = now
        self._leave_running(host)
        stop_s = self.stop_s
        if stop_s > 0:
            self._sleep(stop_s, self._stopped)
        else:
            self._stopped(None)

    def _stopped(self, _event: Any) -> None:
        self._target = self._step = None
        assert self._host is not None
        self.model.admission.release(self._host, self.wl, self.rec)
        self._end()  # ``_outcome("done")``

    def _leave_running(self, host: Host) -> None:
        """It no longer runs on ``host`` (it stops, or a fault or a rollout ends it)."""
        model, wl = self.model, self.wl
        model.counts.stopped(host)
        if wl.spec.noise != "none":
            model.interference.changed(host, wl, -1)
        roster = model.roster
        if roster.tracking:
            live = roster.live[wl.spec.name].get(self.rec.request)
            if live is not None and live.counted:
                live.counted = False
                model.counts.version(wl, -1)

    def _abort(self) -> str:
        """Give back what an interrupted attempt held on its host; 'done' if it was stopping
        anyway, else 'disrupted'."""
        model, wl, rec = self.model, self.wl, self.rec
        host = model.hosts[rec.host]
        if not math.isnan(rec.stopping):
            model.admission.release(host, wl, rec)
            return "done"
        if not math.isnan(rec.running):
            self._leave_running(host)
        elif not math.isnan(rec.slot):
            model.counts.starting_on(host, -1)
        model.startup.cancel(rec)  # its start-up's CPU or disk work in progress, if any
        model.admission.release(host, wl, rec)
        return "disrupted"

    # --- a live migration moves it ------------------------------------------------------

    def moved(self, host: Host, began: float, cut: float) -> None:
        """It runs on ``host`` from now: a live migration began at ``began`` (its capacity
        there held since) and paused it at ``cut``. The attempt on the old host ends there,
        cut at the pause; a new attempt's record (origin ``migration``) runs on ``host`` from
        now. Its timers (lifetime, kernel fault) go on as they were."""
        model, wl, old = self.model, self.wl, self.rec
        source = self._host
        assert source is not None
        now = self.env.now
        old.disrupted = cut
        model.counts.moved(source, host)
        if wl.spec.noise != "none":
            model.interference.changed(source, wl, -1)
            model.interference.changed(host, wl, +1)
        model.admission.release(source, wl, old)
        model.recorder.close(old)
        rec = self.rec = model.roster.record(wl, request=old.request, attempt=old.attempt + 1,
                                             origin="migration")
        rec.arrival = rec.placed = began
        rec.host = host.index
        rec.running = now
        self._host = host
        host.residents[rec.id] = Resident(self, rec)
        if self.live is not None:
            self.live.rec = rec

    # --- a rollout retires it -----------------------------------------------------------

    def _retire(self) -> None:
        """It stops as it would at the end of its lifetime; one still starting is dropped."""
        rec = self.rec
        if rec.host < 0:  # it waited for a host: it leaves the queue
            rec.wanted_until = self.env.now
            self._outcome("done")
            return
        if not math.isnan(rec.removed):
            self._outcome("done")
            return
        host = self.model.hosts[rec.host]
        rec.wanted_until = self.env.now
        if math.isnan(rec.running) or not math.isnan(rec.stopping):
            self._abort()
            self._outcome("done")
            return
        self._cancel_batch()
        rec.stopping = self.env.now
        self._leave_running(host)
        stop_s = self.stop_s
        self._retiring_stop = stop_s > 0
        if stop_s > 0:
            self._sleep(stop_s, self._stopped_retiring)
        else:
            self._stopped_retiring(None)

    def _stopped_retiring(self, _event: Any) -> None:
        self._target = self._step = None
        self._retiring_stop = False
        rec = self.rec
        if math.isnan(rec.removed):
            self.model.admission.release(self.model.hosts[rec.host], self.wl, rec)
        self._outcome("done")

    # --- between attempts ---------------------------------------------------------------

    def _outcome(self, outcome: str) -> None:
        """An attempt ended: 'done' (stopped of its own accord, or retired), 'rejected',
        'faulted' (it triggered a kernel fault), 'disrupted' (a fault took it down) or
        'evicted' (a scale-down drained its host)."""
        wl, rec, live = self.wl, self.rec, self.live
        now = self.env.now
        if outcome in ("done", "rejected"):
            if outcome == "rejected":
                rec.wanted_until = now + _wanted(wl, self.remaining)
            self._end()
            return
        ran = now - rec.running if not math.isnan(rec.running) else 0.0
        if outcome == "faulted":
            self.fault_s = wl.redraw_fault() if wl.redraw_fault else math.inf
        else:
            self.fault_s -= ran  # memoryless: the residual of an exponential clock
        remaining = self.remaining
        if remaining is not None and wl.spec.work is None:
            remaining = self.remaining = max(0.0, remaining - ran)
        if live is not None:
            live.remaining = remaining
            live.stop_at = math.nan
        if outcome == "evicted" and not (live is not None and live.retiring):
            self._restart(None)  # its controller asks for it elsewhere at once
            return
        if wl.spec.restart.policy == "never" or (live is not None and live.retiring):
            rec.wanted_until = now + (0.0 if live is not None and live.retiring
                                      else _wanted(wl, remaining))
            self._end()
            return
        delay = wl.spec.restart.delay  # not on a host meanwhile: nothing interrupts it
        if delay > 0:
            self._sleep(delay, self._restart)
        else:
            self._restart(None)

    def _restart(self, _event: Any) -> None:
        self._target = self._step = None
        live, rec = self.live, self.rec
        if live is not None and live.retiring:  # replaced while it waited
            rec.wanted_until = self.env.now
            self._end()
            return
        self.model.recorder.close(rec)
        self.rec = self.model.roster.record(self.wl, request=rec.request,
                                            attempt=rec.attempt + 1, origin=rec.origin)
        self._host = None
        if live is not None:
            live.rec = self.rec
        self._attempt()

    def _end(self) -> None:
        self.is_alive = False
        self.model.recorder.close(self.rec)  # its last attempt's record is final
        live = self.live
        if live is not None:
            del self.model.roster.live[self.wl.spec.name][live.rec.request]
            if live.on_running is not None and not live.on_running.triggered:
                live.on_running.succeed(False)  # ended without running
        if self._finished is not None:
            self._finished.succeed()


def _wanted(wl: WorkloadRuntime, remaining: float | None) -> float:
    """How much longer a request that ended now meant to run (NaN: to the end)."""
    if wl.spec.work is not None:
        return wl.spec.work / wl.spec.cpu
    return remaining if remaining is not None else math.nan
