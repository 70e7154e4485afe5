"""Pre-pulling: images pulled onto the hosts of a group at a set time, before any instance
needs them (a pre-puller DaemonSet on a node pool, or a warm-up script on new hosts).

Owns: when each group's pre-pull starts and what it claims. Must not: pull any other way than
the registry does for a start-up (same network, runtime, extraction and joining).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import simpy

from sim.spec.demand import layer_chain

if TYPE_CHECKING:
    from sim.model.host import Host
    from sim.model.imagegc import ImageCollector
    from sim.model.placement import CapacityIndex
    from sim.model.registry import Registry
    from sim.spec.config import Image

Process = Generator[simpy.Event, Any, None]


def start_pre_pulls(env: simpy.Environment, hosts: list[Host], images: dict[str, Image],
                    registry: Registry, collector: ImageCollector, index: CapacityIndex
                    ) -> None:
    """Start the pre-pull of every host whose group asks for one."""
    for host in hosts:
        spec = host.spec.pre_pull
        if spec is not None:
            env.process(_pre_pull(env, host, [(name, layer_chain(images, name))
                                              for name in spec.images],
                                  spec.at, registry, collector, index))


def _pre_pull(env: simpy.Environment, host: Host, chains: list[tuple[str, list[Any]]],
              at: float, registry: Registry, collector: ImageCollector,
              index: CapacityIndex) -> Process:
    """At ``at``, pull each image's missing layers onto ``host`` (skipped while it is down)."""
    if at > 0:
        yield env.timeout(at)
    if not host.available:
        return
    for name, chain in chains:
        host.claim(chain)
        collector.present(host, name, chain)
        index.update(host)
        registry.pull(host, [layer for layer in chain if layer.key not in host.layers])
