"""Image garbage collection under disk pressure, as the kubelet does it: when a host's disk use
passes its group's ``image_gc.high``, the images no instance there uses are removed, least
recently used first, until use is at most ``image_gc.low``; a layer goes with the last image on
the host that holds it, and a start-up that needs it again pulls it again.

The kubelet checks every five minutes; here a host is checked whenever its disk use grows (an
instance placed, a pipeline writing or pre-pulling an image), which removes the same images a
little sooner. Owns: which images each host holds, how many instances use each, when each was
last used, and the bytes removed. Must not: place instances or pull layers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import simpy

if TYPE_CHECKING:
    from sim.model.host import Host
    from sim.model.placement import CapacityIndex
    from sim.recorder import Recorder
    from sim.spec.demand import Layer


@dataclass(slots=True)
class HostImage:
    """An image on one host: its layers, the instances there that use it, its last use."""

    chain: list[Layer]
    users: int = 0
    last_used: float = 0.0


class ImageCollector:
    """Every host's images and their collection."""

    def __init__(self, env: simpy.Environment, hosts: list[Host], index: CapacityIndex,
                 recorder: Recorder) -> None:
        self.env = env
        self.index = index
        self.recorder = recorder
        self.images: list[dict[str, HostImage]] = [{} for _ in hosts]
        # disk free below which a host collects, and the free disk a collection aims for
        self.start_below = [h.spec.disk * (1 - h.spec.image_gc.high) for h in hosts]
        self.stop_at = [h.spec.disk * (1 - h.spec.image_gc.low) for h in hosts]
        self.removed_bytes = 0.0

    def _image(self, host: Host, key: str, chain: list[Layer]) -> HostImage:
        """Image ``key`` on ``host`` (known from now on if it was not)."""
        image = self.images[host.index].get(key)
        if image is None:
            image = self.images[host.index][key] = HostImage(chain)
        return image

    def present(self, host: Host, key: str, chain: list[Layer]) -> None:
        """Image ``key`` (layers ``chain``) is on ``host`` or on its way, used now."""
        self._image(host, key, chain).last_used = self.env.now
        self.collect(host)

    def placed(self, host: Host, key: str, chain: list[Layer]) -> None:
        """An instance of image ``key`` was placed on ``host`` (its layers claimed)."""
        image = self._image(host, key, chain)
        image.users += 1
        image.last_used = self.env.now
        if host.disk_free < self.start_below[host.index]:
            self.collect(host)

    def released(self, host: Host, key: str) -> None:
        """An instance of image ``key`` left ``host``."""
        image = self.images[host.index][key]
        image.users -= 1
        image.last_used = self.env.now

    def collect(self, host: Host) -> None:
        """If ``host``'s disk use has passed the high mark, remove unused images, least
        recently used first (ties: by name), until it is at most the low mark."""
        i = host.index
        if host.disk_free >= self.start_below[i]:
            return
        images = self.images[i]
        unused = sorted((image.last_used, key) for key, image in images.items()
                        if image.users == 0
                        and not any(layer.key in host.fetching for layer in image.chain))
        removed = 0.0
        for _, key in unused:
            if host.disk_free >= self.stop_at[i]:
                break
            removed += self._forget(host, key)
        if removed:
            self.removed_bytes += removed
            self.index.update(host)
            self.recorder.level("image_gc_removed_bytes", self.env.now, self.removed_bytes)

    def refusal(self, host: Host, key: str) -> str:
        """Why ``docker rmi`` of image ``key`` on ``host`` would be refused now ('' if it would
        not): instances use it, or another image there is built on it."""
        images = self.images[host.index]
        image = images.get(key)
        if image is None:
            return ""
        if image.users:
            return f"instances there use it ({image.users})"
        keys = {layer.key for layer in image.chain}
        child = next((name for name, other in sorted(images.items()) if name != key
                      and keys < {layer.key for layer in other.chain}), None)
        return f"image {child!r} there is built on it" if child else ""

    def remove(self, host: Host, key: str) -> float:
        """Remove image ``key`` from ``host`` (``docker rmi``; no instance uses it): its
        layers that no other image there holds go; the bytes freed (none if garbage
        collection removed it already)."""
        if key not in self.images[host.index]:
            return 0.0
        removed = self._forget(host, key)
        self.index.update(host)
        return removed

    def reimage(self, host: Host, kept: list[str]) -> None:
        """``host`` (holding no instance) leaves and may come back as new: every image on it
        but ``kept`` (its node image's) goes."""
        for key in sorted(set(self.images[host.index]) - set(kept)):
            self._forget(host, key)
        self.index.update(host)

    def _forget(self, host: Host, key: str) -> float:
        """Image ``key`` leaves ``host``'s store, with its layers no other image there holds;
        the bytes freed."""
        images = self.images[host.index]
        image = images.pop(key)
        kept = {layer.key for other in images.values() for layer in other.chain}
        removed = 0.0
        for layer in image.chain:
            held = layer.key in host.layers
            if layer.key not in kept and host.forget(layer):
                removed += layer.size
                if held:
                    self.recorder.layer(self.env.now, host.index, layer.key, False)
        return removed
