"""The image registry and the network to it: pulls of layers onto hosts, pushes of new ones.

Owns: the layers the registry holds, the bytes pulled, the network that shares the registry's
egress among the pulls (max-min fair with each host's NIC: ``sim.model.sharing.Network``), its
ingress for pushes, and a pull's steps as the host's container runtime takes them (latency,
download of the compressed bytes, extraction of the extracted bytes on the disk and, at the
runtime's rate, on one of the host's cores; one layer after another or at once; a concurrent
pull of the same layer joined or done again; a lazy pull's share for a start-up marked on the
way, ``sim.model.lazypull``). Must not: decide when a layer is needed (``lifecycle``,
``pipelines``).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import simpy

from sim.model import lazypull
from sim.model.host import LayerFetch
from sim.model.sharing import Network, SharedCapacity

if TYPE_CHECKING:
    from sim.model.host import Host
    from sim.recorder import InstanceRecord, Recorder
    from sim.spec.config import Registry as RegistrySpec
    from sim.spec.demand import Layer

Process = Generator[simpy.Event, Any, None]


class Registry:
    """The registry, its network and the pulls in progress."""

    def __init__(self, env: simpy.Environment, spec: RegistrySpec, layers: set[str],
                 recorder: Recorder | None = None) -> None:
        """``layers``: the keys of the layers it holds at the start; ``recorder``: where the
        layers each pull brings to a host are logged (``Recorder.layer``)."""
        self.env = env
        self.recorder = recorder
        self.spec = spec
        self.network = Network(env, spec.bandwidth)
        self.layers = layers
        self.bytes_downloaded = 0.0
        self._ingress: SharedCapacity | None = None

    def ingress(self) -> SharedCapacity:
        """The registry's upload side, shared by every push (links are full duplex: pushes
        do not take egress from pulls)."""
        if self._ingress is None:
            self._ingress = SharedCapacity(self.env, self.spec.bandwidth)
        return self._ingress

    def pull(self, host: Host, layers: list[Layer], rec: InstanceRecord | None = None,
             unpack: bool = True) -> list[LayerFetch]:
        """``pull_now``, or where the host pulls one image at a time (``serialize_pulls``)
        after the pulls queued before it, then only the layers still missing."""
        if not (host.spec.serialize_pulls and layers):
            return self.pull_now(host, layers, rec, unpack)
        lazy = unpack and host.lazy_pull is not None
        fetches = [LayerFetch(self.env.event(), self.env.event(),
                              self.env.event() if lazy else None) for _ in layers]
        before, done = host.pull_tail, self.env.event()
        host.pull_tail = done
        self.env.process(self._queued(host, layers, fetches, rec, unpack, before, done))
        return fetches

    def _queued(self, host: Host, layers: list[Layer], fetches: list[LayerFetch],
                rec: InstanceRecord | None, unpack: bool, before: simpy.Event | None,
                done: simpy.Event) -> Process:
        """A serialized pull: after the one before it, the layers still missing, each
        ``fetches`` entry firing with what brings its layer."""
        epoch = host.epoch  # a crash meanwhile ends it (and empties the queue: ``clear``)
        if before is not None and not before.processed:
            yield before
            if host.epoch != epoch:
                return
        waits: list[simpy.Event] = []
        for layer, fetch in zip(layers, fetches):
            if layer.key in host.layers:  # the pulls before it brought it
                fetch.downloaded.succeed()
                fetch.ready.succeed()
                if fetch.startable is not None:
                    fetch.startable.succeed()
                continue
            one_by_one = waits and host.sequential and unpack
            (inner,) = self.pull_now(host, [layer], rec, unpack,
                                     after=waits[-1] if one_by_one else None)
            _relay(inner.downloaded, fetch.downloaded)
            _relay(inner.ready, fetch.ready)
            if fetch.startable is not None:
                _relay(lazypull.startable(inner), fetch.startable)
            waits.append(inner.ready)
        if waits:
            yield self.env.all_of(waits)
        done.succeed()

    def pull_now(self, host: Host, layers: list[Layer], rec: InstanceRecord | None = None,
                 unpack: bool = True, after: simpy.Event | None = None) -> list[LayerFetch]:
        """Bring ``layers`` (an image's layers that ``host`` lacks, base first) to ``host``:
        each is downloaded, then extracted (``extract``). A layer already on its way is
        joined: all of it where the host's runtime shares concurrent pulls, only its download
        where the runtime duplicates them (each request extracts its own copy). Where the
        runtime extracts one layer after another, a layer's extraction waits for the one
        before it in ``layers``. ``unpack`` False: a VM template, which no container runtime
        unpacks: written to the disk only, joined whole, all at once. ``rec``: the instance
        whose pull this is, which counts the bytes it moves. Where the runtime pulls lazily
        (and ``unpack``), each new fetch has a ``startable`` event (``sim.model.lazypull``)."""
        fetches = []
        previous: LayerFetch | None = None
        lazy = unpack and host.lazy_pull is not None
        for layer in layers:  # ``after``: the first layer's extraction waits for it too
            current = host.fetching.get(layer.key)
            if current is not None and (host.shared_pulls or not unpack):
                fetch = current
            else:
                fetch = LayerFetch(self.env.event(), self.env.event(),
                                   lazypull.start_share(self.env, current) if lazy else None)
                if current is None:  # the first on its way: its download moves the bytes
                    host.fetching[layer.key] = fetch
                    if rec is not None:
                        rec.pulled_bytes += layer.download
                    self.bytes_downloaded += layer.download
                if previous is None:
                    wait = after
                elif host.sequential and unpack:  # after the layer before it
                    wait = previous.ready
                else:
                    wait = None
                self.env.process(self._download(host, layer, fetch, wait, current, unpack))
            fetches.append(fetch)
            previous = fetch
        return fetches

    def _download(self, host: Host, layer: Layer, fetch: LayerFetch,
                  after: simpy.Event | None, joined: LayerFetch | None,
                  unpack: bool) -> Process:
        epoch = host.epoch  # a crash meanwhile ends this pull where it is
        if joined is not None:  # another request's download brings the bytes
            if not joined.downloaded.processed:
                yield joined.downloaded
        else:
            latency = self.spec.latency
            if latency > 0:
                yield self.env.timeout(latency)
                if host.epoch != epoch:
                    return
            link = self.network.link(host.index, host.spec.nic)
            if fetch.startable is not None:  # pulled lazily: its start-up share first
                assert host.lazy_pull is not None
                yield from lazypull.download(link, layer, fetch, host.lazy_pull.start_at)
            else:
                yield link.run(layer.download)
        fetch.downloaded.succeed()
        if after is not None and not after.processed:  # the layer before it, extracted
            yield after
        yield self.extract(host, layer, unpack)
        if host.epoch != epoch:
            return
        if layer.key in host.claimed:  # else collected meanwhile: nothing to keep
            host.layers.add(layer.key)
            if self.recorder is not None:
                self.recorder.layer(self.env.now, host.index, layer.key, True)
        if host.fetching.get(layer.key) is fetch:
            del host.fetching[layer.key]
        fetch.ready.succeed()

    def push(self, host: Host, layers: list[Layer]) -> simpy.Event | None:
        """Upload the ``layers`` the registry lacks from ``host``, each at most the host's NIC,
        sharing the registry's ingress with other pushes: the event that fires when they are
        all there (None: nothing to upload)."""
        missing = [layer for layer in layers if layer.key not in self.layers]
        if not missing:
            return None
        ingress = self.ingress()
        ingress.per_job_cap = host.spec.nic
        done = self.env.all_of([ingress.run(layer.download) for layer in missing])

        def arrived(_event: simpy.Event) -> None:
            self.layers.update(layer.key for layer in missing)

        done.callbacks.append(arrived)
        return done

    def extract(self, host: Host, layer: Layer, unpack: bool = True) -> simpy.Event:
        """The event that fires when ``layer``, downloaded, is extracted on ``host``: its
        extracted bytes written to the disk (shared with the host's other disk work) and, where
        the runtime's extraction costs CPU (and ``unpack``), the work of one core at its rate,
        processor-shared with the start-ups; the slower of the two bounds it."""
        written = host.disk_io.run(layer.size)
        if host.extract_cost is None or not unpack:
            return written
        return self.env.all_of([written, host.cpu.run(layer.size * host.extract_cost)])

    def clear(self, host: Host) -> None:
        """``host`` went down: its downloads stop where they are."""
        if host.index in self.network.links():
            self.network.link(host.index, host.spec.nic).clear()
        host.fetching.clear()
        host.pull_tail = None


def _relay(source: simpy.Event, target: simpy.Event) -> None:
    """Fire ``target`` when ``source`` fires (now if it has)."""
    if source.processed:
        target.succeed()
        return

    def fire(_event: simpy.Event) -> None:
        target.succeed()

    source.callbacks.append(fire)
