"""The node autoscaler: host groups that grow when requests wait for a host and shrink when
hosts stand idle, as the Kubernetes cluster autoscaler runs a node pool.

Owns: which hosts of an elastic group are present (the model builds ``autoscale.max`` hosts;
those beyond ``count`` start absent, down as a repaired host is), the scans, provisioning (a
draw of ``provision`` per attempt, given up at ``provision_timeout`` and asked for again) and
removal, and the levels and events it records. Must not: place instances (``admission``
does, once a host is present) or decide how a host pulls its images.

One scan loop serves the cluster, every shortest ``scan_interval`` of its elastic groups. It
takes the requests waiting in the placement queue that some elastic group could take, lets the
hosts already on their way take what they can (packed first-fit onto empty hosts as they
arrive: the node image's layers on disk, every limit of the group), and then, expansion by
expansion, works out each group's option (the hosts it would add, up to ``max``, and the CPU
and memory they would leave idle) and lets the expander choose one (``least-waste``,
``random`` or ``priority``), until no request is left or no group can take one.
A present host is unneeded when it is empty, or below ``scale_down_utilization`` of its
memory and vCPU allocated with every instance on it able to move, first-fit, to another host
up now. One unneeded for ``unneeded_time``, not within ``scale_down_delay_after_add`` of the
group's last addition, is removed (down to ``min``): a busy one is cordoned and drained first
(each instance is evicted and requested again at once, through placement and start-up
elsewhere: a scale-down has a cost). It leaves with the images it pulled, and comes back, if
asked for again, with its node image only.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from sim.experiment.rng import sampler
from sim.model.placement import fits_each
from sim.spec.demand import layer_chain

if TYPE_CHECKING:
    from sim.model.admission import Admission
    from sim.model.host import Host
    from sim.model.imagegc import ImageCollector
    from sim.model.placement import CapacityIndex
    from sim.recorder import Recorder
    from sim.spec.config import Autoscale, Image
    from sim.spec.demand import Demand, Layer

Process = Generator[simpy.Event, Any, None]


@dataclass
class Waiting:
    """A request waiting for a host: its demand, image chain and the elastic groups that
    could take it."""

    need: Demand
    chain: list[Layer]
    pools: list[Pool]


@dataclass
class Option:
    """What adding hosts to one group would do for the waiting requests."""

    pool: Pool
    hosts: int  # hosts to add
    waste: float  # CPU and memory shares left idle on them, per host
    left: list[Waiting]  # the requests they would not take


@dataclass(eq=False)
class Pool:
    """One elastic group: its hosts and which are present, on their way or unneeded."""

    group: int
    name: str
    spec: Autoscale
    hosts: list[Host]
    draw: Callable[[], float]  # provisioning times
    present: set[int] = field(default_factory=set)  # host indexes
    coming: set[int] = field(default_factory=set)  # being provisioned
    idle_since: dict[int, float] = field(default_factory=dict)  # present and unneeded since
    last_added: float = float("-inf")


class Autoscaler:
    """Every elastic group of a run."""

    def __init__(self, env: simpy.Environment, hosts: list[Host], index: CapacityIndex,
                 admission: Admission, collector: ImageCollector, images: dict[str, Image],
                 recorder: Recorder, rng: Callable[[str], Any]) -> None:
        self.env = env
        self.index = index
        self.admission = admission
        self.collector = collector
        self.images = images
        self.recorder = recorder
        self.pools: list[Pool] = []
        members: dict[int, list[Host]] = {}
        for host in hosts:
            members.setdefault(host.group_index, []).append(host)
        for g, group_hosts in sorted(members.items()):
            spec = group_hosts[0].spec
            if spec.autoscale is None:
                continue
            pool = Pool(g, spec.group, spec.autoscale, group_hosts,
                        sampler(spec.autoscale.provision, rng(f"autoscale/{spec.group}")))
            for k, host in enumerate(group_hosts):
                if k < spec.count:
                    pool.present.add(host.index)
                else:  # built absent: down until provisioned
                    host.outages += 1
                    index.update(host)
            self.pools.append(pool)
        self.pick = rng("autoscale/expander")  # the random expander's choices
        self.ups = self.downs = self.failed = self.evicted = 0
        self.fixed = len(hosts) - sum(len(p.hosts) for p in self.pools)  # never absent

    def start(self) -> None:
        """Record the hosts present at the start and begin the scans (one loop for the
        cluster, every shortest ``scan_interval`` of its elastic groups)."""
        for pool in self.pools:
            self._level(pool, None)
            for host in pool.hosts:
                if host.index in pool.present:
                    pool.idle_since[host.index] = 0.0
        if self.pools:
            self.env.process(self._scan(min(p.spec.scan_interval for p in self.pools)))

    def present_in(self, group: int) -> int | None:
        """Hosts of group ``group`` present now (None: the group is not elastic)."""
        pool = next((p for p in self.pools if p.group == group), None)
        return None if pool is None else len(pool.present)

    def _scan(self, interval: float) -> Process:
        while True:
            yield self.env.timeout(interval)
            self._scale_up()
            for pool in self.pools:
                self._scale_down(pool)

    # --- scale-up ---------------------------------------------------------------------------

    def _scale_up(self) -> None:
        """Hosts for the requests waiting that the hosts on their way will not take: per
        expansion, each group's option (how many hosts, how much of them left idle), one
        chosen by the expander, until none is left or no group can help."""
        waiting = [Waiting(wl.need, wl.chain, [p for p in self.pools if self._may_use(wl, p)])
                   for wl, _ticket in self.admission.queue]
        waiting = [w for w in waiting if w.pools]
        if not waiting:
            return
        for pool in self.pools:  # the hosts on their way take what they can first
            if pool.coming:
                waiting = self._pack(waiting, pool, len(pool.coming)).left
        while waiting:
            options = [self._pack(waiting, pool, len(self._absent(pool)))
                       for pool in self.pools if self._absent(pool)]
            options = [o for o in options if o.hosts]
            if not options:
                return
            chosen = self._expand(options)
            for host in self._absent(chosen.pool)[:chosen.hosts]:
                self._add(chosen.pool, host)
            waiting = chosen.left

    def _absent(self, pool: Pool) -> list[Host]:
        return [h for h in pool.hosts if h.index not in pool.present | pool.coming]

    def _add(self, pool: Pool, host: Host) -> None:
        pool.coming.add(host.index)
        pool.last_added = self.env.now
        self.ups += 1
        self.recorder.level("scale_ups", self.env.now, self.ups)
        self.env.process(self._provision(pool, host))

    def _expand(self, options: list[Option]) -> Option:
        """The expander's choice: ``least-waste`` (the least idle CPU and memory share left
        on the new hosts), ``random``, or ``priority`` (the highest group priority, then the
        least waste); ties to the first group."""
        rule = self.pools[0].spec.expander
        if rule == "random":
            return options[int(self.pick.integers(len(options)))]
        if rule == "priority":
            top = max(o.pool.spec.priority for o in options)
            options = [o for o in options if o.pool.spec.priority == top]
        return min(options, key=lambda o: o.waste)

    @staticmethod
    def _may_use(wl: Any, pool: Pool) -> bool:
        """Whether requests of ``wl`` may run on the group's hosts."""
        ids = wl.host_ids  # a slice of the host indexes, or an array of them
        first = pool.hosts[0].index  # the group's hosts are alike: one stands for them all
        return first in (range(first + 1)[ids] if isinstance(ids, slice) else ids.tolist())

    def _pack(self, waiting: list[Waiting], pool: Pool, limit: int) -> Option:
        """``waiting`` packed first-fit, in queue order, onto at most ``limit`` empty hosts of
        the group as they arrive (its node image on disk, its limits): the autoscaler's
        simulation of the pending requests on a template. The hosts it takes, how much of
        their CPU and memory stays idle, and the requests left over."""
        spec = pool.hosts[0].spec
        chains = [layer_chain(self.images, name) for name in spec.preloaded_images]
        preloaded = {layer.key for chain in chains for layer in chain}
        template = (spec.memory - spec.reserved_memory, spec.cpu_cores * spec.cpu_overcommit,
                    float(spec.max_partitions),
                    spec.disk - sum(layer.size for chain in chains for layer in chain),
                    float(spec.max_instances) if spec.max_instances else float("inf"))
        hosts: list[list[float]] = []
        layers: list[set[str]] = []
        left: list[Waiting] = []
        for w in waiting:
            if pool not in w.pools:
                left.append(w)
                continue
            for room, held in zip(hosts, layers):
                if _fits(w.need, w.chain, room, held):
                    _take(w.need, w.chain, room, held)
                    break
            else:
                room, held = list(template), set(preloaded)
                if len(hosts) >= limit or not _fits(w.need, w.chain, room, held):
                    left.append(w)  # no room on the hosts it may add: another group's
                    continue
                _take(w.need, w.chain, room, held)
                hosts.append(room)
                layers.append(held)
        idle = sum(room[0] / template[0] + room[1] / template[1] for room in hosts)
        return Option(pool, len(hosts), idle / max(len(hosts), 1), left)

    def _provision(self, pool: Pool, host: Host) -> Process:
        spec = pool.spec
        while True:
            took = pool.draw()
            if took <= spec.provision_timeout:
                yield self.env.timeout(took)
                break
            yield self.env.timeout(spec.provision_timeout)  # given up; asked for again
            self.failed += 1
            self.recorder.level("provision_failures", self.env.now, self.failed)
        pool.coming.discard(host.index)
        pool.present.add(host.index)
        pool.idle_since[host.index] = self.env.now
        host.outages -= 1
        self.index.update(host)
        if host.back is not None:
            back, host.back = host.back, self.env.event()
            back.succeed()
        self._level(pool, (host.index, True))
        self.admission.drain()

    # --- scale-down -------------------------------------------------------------------------

    def _scale_down(self, pool: Pool) -> None:
        """Remove the group's unneeded hosts (down to ``min``): below the utilisation
        threshold, their instances able to move elsewhere, for ``unneeded_time``, and not
        within ``scale_down_delay_after_add`` of an addition. A busy one is drained first."""
        spec, now = pool.spec, self.env.now
        by_index = {h.index: h for h in pool.hosts}
        drained = False  # one busy host per scan: its instances' new places are not known yet
        for index in sorted(pool.present):
            host = by_index[index]
            threshold = spec.scale_down_utilization
            if host.fetching or host.outages or not self._unneeded(host, threshold):
                pool.idle_since.pop(index, None)
                continue
            since = pool.idle_since.setdefault(index, now)
            if (len(pool.present) > spec.min and now - since >= spec.unneeded_time
                    and now - pool.last_added >= spec.scale_down_delay_after_add):
                if not host.instances:
                    self._remove(pool, host)
                elif not drained:
                    self._drain(pool, host)
                    drained = True

    def _unneeded(self, host: Host, threshold: float) -> bool:
        """Empty, or below ``threshold`` of its memory and vCPU allocated with every instance
        able to move to another host now (the autoscaler's own check before a drain)."""
        if not host.instances:
            return True
        used = max(1.0 - host.memory_free / host.memory_capacity,
                   1.0 - host.vcpu_free / host.vcpu_capacity)
        return used < threshold and self._fits_elsewhere(host)

    def _fits_elsewhere(self, host: Host) -> bool:
        """Whether every instance on ``host`` fits, first-fit, on the other hosts up now."""
        ix = self.index
        ix.refresh()
        memory, vcpu = ix.memory.copy(), ix.vcpu.copy()
        partitions, disk = ix.partitions.copy(), ix.disk.copy()
        room = np.array([h.max_instances - h.instances for h in ix.hosts])
        up = ix.up.copy()
        up[host.index] = False
        everyone = np.arange(len(ix.hosts))
        for resident in host.residents.values():
            wl = resident.request.wl
            missing, _local = ix.chain(wl.chain_key, wl.chain)
            eligible = np.zeros(len(ix.hosts), dtype=bool)
            eligible[everyone[wl.host_ids]] = True
            fit = np.flatnonzero(eligible & up & (room >= 1)
                                 & fits_each(wl.need, memory, vcpu, partitions, disk, missing))
            if not len(fit):
                return False
            k = fit[0]
            memory[k] -= wl.need.memory
            vcpu[k] -= wl.need.vcpu
            partitions[k] -= wl.need.partition
            disk[k] -= wl.need.disk_private + missing[k]
            room[k] -= 1
        return True

    def _drain(self, pool: Pool, host: Host) -> None:
        """Cordon ``host`` and evict its instances (each is requested again at once, through
        placement and start-up elsewhere); it is removed once they have left."""
        host.outages += 1  # cordoned: nothing new is placed here
        self.index.update(host)
        pool.present.discard(host.index)
        pool.idle_since.pop(host.index, None)
        for resident in list(host.residents.values()):
            resident.request.evict(resident.rec)
            self.evicted += 1
        self.recorder.level("scale_down_restarts", self.env.now, self.evicted)
        self.env.process(self._removed_when_empty(pool, host))

    def _removed_when_empty(self, pool: Pool, host: Host) -> Process:
        yield self.env.timeout(0.0)  # after the evictions (urgent) are handled
        self._remove(pool, host, cordoned=True)

    def _remove(self, pool: Pool, host: Host, cordoned: bool = False) -> None:
        pool.present.discard(host.index)
        pool.idle_since.pop(host.index, None)
        self.collector.reimage(host, host.spec.preloaded_images)
        if not cordoned:
            host.outages += 1
        self.index.update(host)
        self.downs += 1
        self.recorder.level("scale_downs", self.env.now, self.downs)
        self._level(pool, (host.index, False))

    def _level(self, pool: Pool, change: tuple[int, bool] | None) -> None:
        """Record the group's hosts present now, the fleet's, and which host came or went."""
        now = self.env.now
        self.recorder.level(f"hosts:{pool.name}", now, len(pool.present))
        self.recorder.level("hosts_present", now,
                            self.fixed + sum(len(p.present) for p in self.pools))
        if change is not None:
            self.recorder.presence.append((now, *change))


def _fits(need: Demand, chain: list[Layer], room: list[float], held: set[str]) -> bool:
    """Whether an empty-at-first host with ``room`` left (memory, vCPU, partitions, disk,
    instances) and layers ``held`` takes ``need``."""
    missing = sum(layer.size for layer in chain if layer.key not in held)
    return (need.memory <= room[0] + 1e-6 and need.vcpu <= room[1] + 1e-9
            and need.partition <= room[2] and need.disk_private + missing <= room[3] + 1e-6
            and room[4] >= 1)


def _take(need: Demand, chain: list[Layer], room: list[float], held: set[str]) -> None:
    room[0] -= need.memory
    room[1] -= need.vcpu
    room[2] -= need.partition
    room[3] -= need.disk_private + sum(layer.size for layer in chain if layer.key not in held)
    room[4] -= 1
    held.update(layer.key for layer in chain)
