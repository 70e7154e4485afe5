"""Maintenance campaigns: a host group patched, or upgraded to a newer Windows build, in
batches of drained hosts, within each workload's disruption budget.

Owns: a campaign's waves (from ``at``, again every ``every``; a wave still running delays the
next), its batches (the group's hosts in index order, ``batch`` at a time; the next batch
begins when the last host of the one before is back), each host's steps (cordoned: nothing new
is placed there; drained; down for a draw of ``downtime``; on the new build if the campaign
upgrades; back), the drain (a VM moves live when the campaign allows it and its profile can,
``sim.model.migration``; every other instance is evicted and requested again at once, through
placement and start-up elsewhere), the disruption budgets (``Budgets``: a running instance is
evicted only while fewer of its workload's than its budget are down, evicted and not running
again; else the drain waits, as ``kubectl drain`` retries an eviction a PodDisruptionBudget
refuses), and what it records: its events, the hosts out of service, and, for a campaign that
has not finished at the end, what it waits for. Must not: choose hosts (``admission``) or
drive a request's steps (``lifecycle``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, Protocol

import simpy

from sim.experiment.rng import sampler
from sim.spec.maintenance import DEFAULT_DIRTY_RATE
from sim.spec.values import count_of

if TYPE_CHECKING:
    from sim.model.admission import Admission
    from sim.model.builds import Builds
    from sim.model.faults import Faults
    from sim.model.host import Host, Resident
    from sim.model.migration import Migrations
    from sim.model.placement import CapacityIndex
    from sim.model.roster import Live, Roster
    from sim.recorder import Recorder
    from sim.spec.config import Scenario
    from sim.spec.maintenance import Maintenance

Process = Generator[simpy.Event, Any, Any]


class ModelForMaintenance(Protocol):
    """What a campaign asks of the model (``sim.model.build.Model`` is one)."""

    env: simpy.Environment
    scenario: Scenario
    recorder: Recorder
    hosts: list[Host]
    index: CapacityIndex
    admission: Admission
    roster: Roster
    faults: Faults

    def rng(self, name: str) -> Any:
        """The generator of the stream ``name`` in this run."""


class Budgets:
    """Each workload's disruption budget and its instances a drain has down now."""

    def __init__(self, env: simpy.Environment, scenario: Scenario, roster: Roster,
                 recorder: Recorder) -> None:
        self.env = env
        self.roster = roster
        self.recorder = recorder
        self.spec = {wl.name: wl.disruption_budget for wl in scenario.workloads}
        self.down: Counter[str] = Counter()
        self.evicted: set[int] = set()  # attempts a drain has evicted (by record id)
        self._back: dict[str, simpy.Event] = {}  # fires when one of a workload's runs again

    def limit(self, name: str) -> float:
        """How many of ``name``'s instances may be down now: its budget, a percentage of its
        requests in progress rounded up (inf: no budget)."""
        spec = self.spec.get(name)
        return math.inf if spec is None else count_of(spec, len(self.roster.live[name]))

    def take(self, live: Live) -> None:
        """``live``'s instance is evicted: down until it runs again (or ends)."""
        name = live.wl.spec.name
        self.down[name] += 1
        self.recorder.level(f"disrupted:{name}", self.env.now, self.down[name])
        back = live.on_running = self.env.event()
        back.callbacks.append(lambda _event: self._returned(name))

    def returned(self, name: str) -> simpy.Event:
        """An event that fires when one of ``name``'s evicted instances runs again."""
        if name not in self._back:
            self._back[name] = self.env.event()
        return self._back[name]

    def _returned(self, name: str) -> None:
        self.down[name] -= 1
        self.recorder.level(f"disrupted:{name}", self.env.now, self.down[name])
        back = self._back.pop(name, None)
        if back is not None:
            back.succeed()


class Campaign:
    """One maintenance campaign of a run."""

    def __init__(self, model: ModelForMaintenance, spec: Maintenance, builds: Builds,
                 migrations: Migrations, budgets: Budgets) -> None:
        self.model = model
        self.env = model.env
        self.spec = spec
        self.builds = builds
        self.migrations = migrations
        self.budgets = budgets
        self.hosts = [h for h in model.hosts if h.spec.group == spec.group]
        self.draw: Callable[[], float] = sampler(spec.downtime,
                                                 model.rng(f"maintenance/{spec.name}"))
        self.out = 0  # hosts out of service now (cordoned or down)
        self.waiting: str = ""  # what the campaign waits for now, if it stalls
        self.blocked: str = ""  # the workload whose budget it waits for
        self.busy = False

    def start(self) -> None:
        """Start the campaign's waves."""
        self.env.process(self._waves())

    def _row(self, event: str, **facts: Any) -> None:
        self.model.recorder.maintenance.append(
            {"campaign": self.spec.name, "event": event, "time": self.env.now, **facts})

    def _waves(self) -> Process:
        spec, duration = self.spec, self.model.scenario.duration
        t, wave = spec.at, 0
        while t < duration:
            if t > self.env.now:
                yield self.env.timeout(t - self.env.now)
            wave += 1
            self.busy = True
            self._row("wave", wave=wave)
            yield from self._wave()
            self._row("wave_end", wave=wave)
            self.busy = False
            if spec.every is None:
                return
            # the next start after this one; a wave that ran past it delays it to the next
            t = spec.at + spec.every * max(wave, math.ceil((self.env.now - spec.at)
                                                           / spec.every))

    def _wave(self) -> Process:
        size = max(1, count_of(self.spec.batch, len(self.hosts)))
        for k in range(0, len(self.hosts), size):
            batch = self.hosts[k:k + size]
            for host in batch:
                self._cordon(host)
            yield from self._drain(batch)
            yield self.env.all_of([self.env.process(self._patch(h)) for h in batch])

    def _cordon(self, host: Host) -> None:
        host.cordons += 1  # up, but nothing new is placed here
        self.model.index.update(host)
        self.out += 1
        self.model.recorder.level(f"maintenance:{self.spec.name}", self.env.now, self.out)
        self._row("cordoned", host=host.index)

    def _drain(self, batch: list[Host]) -> Process:
        """Move every instance off ``batch``: VMs live where allowed, the rest evicted
        within their workloads' budgets; until the hosts hold none."""
        before: set[int] = set()
        while any(h.instances for h in batch):
            residents = [(r, h) for h in batch for r in list(h.residents.values())]
            now = {r.rec.id for r, _h in residents}
            if now == before:  # what is left is not ours to move yet (a migration's hold
                yield self.env.timeout(1.0)  # placed before the cordon): look again soon
            before = now
            moves = []
            by_workload: dict[str, list[tuple[Resident, Host]]] = {}
            for resident, host in residents:
                if self._migrates(resident):
                    moves.append(self.env.process(self._move(resident, host)))
                else:
                    name = resident.request.wl.spec.name
                    by_workload.setdefault(name, []).append((resident, host))
            evictions = [self.env.process(self._evict(name, group))
                         for name, group in by_workload.items()]
            if moves:
                self.waiting = (f"draining {batch[0].name}: {len(moves)} live migrations in "
                                "progress")
            if moves or evictions:
                yield self.env.all_of(moves + evictions)
            yield self.env.timeout(0.0)  # after the evictions (urgent events) are handled
        self.waiting = ""
        self.blocked = ""

    def _migrates(self, resident: Resident) -> bool:
        wl = resident.request.wl
        return (self.spec.live_migration is not None and wl.profile.live_migration
                and wl.spec.work is None and not math.isnan(resident.rec.running)
                and math.isnan(resident.rec.stopping))

    def _move(self, resident: Resident, host: Host) -> Process:
        assert self.spec.live_migration is not None
        wl = resident.request.wl.spec
        dirty = wl.dirty_rate if wl.dirty_rate is not None else DEFAULT_DIRTY_RATE
        name = wl.name
        moved = yield from self.migrations.move(resident, host, self.spec.live_migration,
                                                dirty, self.spec.name)
        if not moved:  # no host takes it, or its destination went down: it restarts
            yield from self._evict(name, [(resident, host)])

    def _evict(self, name: str, residents: list[tuple[Resident, Host]]) -> Process:
        """Evict ``name``'s instances on the batch: one running counts against its budget
        until it runs again, so the drain waits while the budget is used up. An attempt
        another drain has just evicted (two campaigns on one group) is left to it."""
        budgets = self.budgets
        for resident, host in residents:
            request, rec = resident.request, resident.rec
            while (request.is_alive and request.rec is rec and rec.id in host.residents
                   and rec.id not in budgets.evicted):
                live = self.model.roster.live[name].get(rec.request)
                running = not math.isnan(rec.running) and math.isnan(rec.stopping)
                if running and live is not None and not live.retiring:
                    limit = budgets.limit(name)
                    if budgets.down[name] >= limit:
                        self.blocked = name
                        self.waiting = (
                            f"draining {host.name}: {name}'s disruption budget is 0, so none "
                            "of its instances may be evicted" if limit == 0 else
                            f"draining {host.name}: {name}'s disruption budget ({limit:g}) "
                            "is used by instances that do not run again yet")
                        yield budgets.returned(name)
                        continue
                    budgets.take(live)
                budgets.evicted.add(rec.id)
                request.evict(rec)
                self._row("evicted", host=host.index, request=rec.request, workload=name,
                          running=running)
                break

    def _patch(self, host: Host) -> Process:
        """``host``, drained: down for its patch and reboot (on the new build, for an
        upgrade), then back; one under repair after a fault is patched once it is up."""
        while not host.available:
            self.waiting = f"{host.name} is down for a repair: it is patched once it is back"
            yield host.back
        self.waiting = ""
        down = self.draw()
        self._row("down", host=host.index, downtime=down)
        self.model.faults.take_down(host)  # a build or a pull in progress there starts over
        if self.spec.os_build is not None:
            self.builds.upgrade(host, self.spec.os_build)
        yield self.env.timeout(down)
        host.cordons -= 1
        self.out -= 1
        self.model.recorder.level(f"maintenance:{self.spec.name}", self.env.now, self.out)
        self._row("up", host=host.index, build=host.os_build)
        self.model.faults.bring_up(host)

    def finish(self) -> None:
        """At the end of the run: a wave still in progress records what it waits for."""
        if not self.busy:
            return
        if self.blocked and self.budgets.limit(self.blocked) == 0:
            reason = self.waiting
        elif self.blocked:
            reason = f"{self.waiting}: {self._why_down(self.blocked)}"
        elif self.waiting:
            reason = self.waiting
        else:
            out = sum(1 for h in self.hosts if h.outages or h.cordons)
            reason = (f"{out} of the group's hosts out of service (drained, or down for "
                      "their patch)")
        self._row("unfinished", reason=reason)

    def _why_down(self, name: str) -> str:
        """Why ``name``'s evicted instances do not run again: no host up runs their image's
        build (an upgrade left none: their image must be rebuilt on the new base), or the
        hosts that do have no room."""
        waiting = [e for e in self.model.roster.live[name].values()
                   if e.rec.host < 0 and e.request.is_alive]
        if not waiting:
            return "they are starting"
        wl = waiting[0].wl
        need = wl.need
        hosts = self.model.hosts
        ids = range(len(hosts))[wl.host_ids] if isinstance(wl.host_ids, slice) \
            else wl.host_ids.tolist()
        if not any(hosts[i].placeable for i in ids):
            return (f"{len(waiting)} wait for a host, and no host it may use is up (the "
                    "batch takes every one: give a smaller batch)")
        if not any(hosts[i].placeable and self.builds.runs(need, hosts[i]) for i in ids):
            return (f"{len(waiting)} wait for a host, and no host up runs their image "
                    f"{wl.chain_key} (build {need.os_build}, {wl.profile.name} isolation): "
                    "it must be rebuilt on the new build's base image")
        return (f"{len(waiting)} wait for a host: none of those that run their image "
                f"{wl.chain_key} has room")
