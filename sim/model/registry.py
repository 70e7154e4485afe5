"""The image registry and the network to it: pulls of layers onto hosts, pushes of new ones.

Owns: the layers the registry holds, the bytes pulled, the network that shares the registry's
egress among the pulls (max-min fair with each host's NIC: ``sim.model.sharing.Network``), its
ingress for pushes, and a pull's steps (latency, download, write to disk) with its joining by
other requests for the same layer on the same host. Must not: decide when a layer is needed
(``lifecycle``, ``pipelines``).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import simpy

from sim.model.host import LayerFetch
from sim.model.sharing import Network, SharedCapacity

if TYPE_CHECKING:
    from sim.model.host import Host
    from sim.recorder import InstanceRecord
    from sim.spec.config import Registry as RegistrySpec
    from sim.spec.demand import Layer

Process = Generator[simpy.Event, Any, None]


class Registry:
    """The registry, its network and the pulls in progress."""

    def __init__(self, env: simpy.Environment, spec: RegistrySpec, layers: set[str]) -> None:
        """``layers``: the keys of the layers it holds at the start."""
        self.env = env
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

    def fetch(self, host: Host, layer: Layer, rec: InstanceRecord | None = None) -> LayerFetch:
        """Bring ``layer`` to ``host`` from the registry, or join the download on its way
        (``rec``: the instance whose pull this is, which counts the bytes)."""
        fetch = host.fetching.get(layer.key)
        if fetch is None:
            fetch = LayerFetch(self.env.event(), self.env.event())
            host.fetching[layer.key] = fetch
            if rec is not None:
                rec.pulled_bytes += layer.size
            self.bytes_downloaded += layer.size
            self.env.process(self._download(host, layer, fetch))
        return fetch

    def _download(self, host: Host, layer: Layer, fetch: LayerFetch) -> Process:
        epoch = host.epoch  # a crash meanwhile ends this download where it is
        latency = self.spec.latency
        if latency > 0:
            yield self.env.timeout(latency)
            if host.epoch != epoch:
                return
        yield self.network.link(host.index, host.spec.nic).run(layer.size)
        fetch.downloaded.succeed()
        yield host.disk_io.run(layer.size)
        host.layers.add(layer.key)
        if host.fetching.get(layer.key) is fetch:
            del host.fetching[layer.key]
        fetch.ready.succeed()

    def clear(self, host: Host) -> None:
        """``host`` went down: its downloads stop where they are."""
        if host.index in self.network.links():
            self.network.link(host.index, host.spec.nic).clear()
        host.fetching.clear()
