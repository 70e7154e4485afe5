"""Placement policies: a filter (can this host take the instance now?) and a weigher (which of
those is best?), named presets, over an index of every host's free capacity.

Owns: the choice of a host. The free capacity of all hosts is kept in NumPy arrays
(``CapacityIndex``), so one decision filters and weighs every candidate in a single vectorized
pass instead of a Python loop over hosts; the choice is exactly the one a scan would make
(same arithmetic, ties to the lower host index). Must not: change hosts; the cluster allocates
on the host chosen and tells the index.
"""

from __future__ import annotations

import numpy as np

from sim.demand import Demand, Layer
from sim.model.host import Host

POLICIES = ("first-fit", "best-fit", "spread", "random", "image-locality")


class CapacityIndex:
    """Every host's free memory, vCPU, disk and partitions as arrays, and per image chain the
    bytes each host still lacks and already holds."""

    def __init__(self, hosts: list[Host]) -> None:
        self.hosts = hosts
        self.memory = np.array([h.memory_free for h in hosts], dtype=float)
        self.vcpu = np.array([h.vcpu_free for h in hosts], dtype=float)
        self.disk = np.array([h.disk_free for h in hosts], dtype=float)
        self.partitions = np.array([h.partitions_free for h in hosts], dtype=float)
        self.memory_capacity = np.array([h.memory_capacity for h in hosts], dtype=float)
        self.vcpu_capacity = np.array([h.vcpu_capacity for h in hosts], dtype=float)
        self._chains: dict[str, tuple[list[Layer], np.ndarray, np.ndarray]] = {}

    def chain(self, key: str, layers: list[Layer]) -> tuple[np.ndarray, np.ndarray]:
        """(missing bytes, local bytes) of an image chain on every host."""
        if key not in self._chains:
            missing = np.array([h.missing_bytes(layers) for h in self.hosts], dtype=float)
            local = np.array([h.local_bytes(layers) for h in self.hosts], dtype=float)
            self._chains[key] = (layers, missing, local)
        _, missing, local = self._chains[key]
        return missing, local

    def update(self, host: Host) -> None:
        """Copy ``host``'s free capacity (and the layers it claims) into the arrays."""
        i = host.index
        self.memory[i] = host.memory_free if host.available else -np.inf
        self.vcpu[i] = host.vcpu_free
        self.disk[i] = host.disk_free
        self.partitions[i] = host.partitions_free
        for layers, missing, local in self._chains.values():
            missing[i] = host.missing_bytes(layers)
            local[i] = host.local_bytes(layers)


class Placement:
    """Chooses a host for an instance under the named policy; ties go to the lower index."""

    def __init__(self, policy: str, rng: np.random.Generator, index: CapacityIndex) -> None:
        if policy not in POLICIES:
            raise ValueError(f"unknown placement {policy!r}; one of {', '.join(POLICIES)}")
        self.policy = policy
        self.rng = rng
        self.index = index

    def choose(self, candidates: np.ndarray | slice, need: Demand, chain_key: str,
               chain: list[Layer], allowed: np.ndarray | None = None) -> Host | None:
        """The chosen host among ``candidates`` (host indexes, ascending, or a slice of
        consecutive hosts, which the arrays serve without copying) that fit now and, when
        ``allowed`` (a mask over all hosts) is given, are allowed by it."""
        ix = self.index
        missing, local = ix.chain(chain_key, chain)
        memory = ix.memory[candidates]
        vcpu = ix.vcpu[candidates]
        fits = ((need.memory <= memory + 1e-6) & (need.vcpu <= vcpu + 1e-9)
                & (need.partition <= ix.partitions[candidates])
                & (need.disk_private + missing[candidates] <= ix.disk[candidates] + 1e-6))
        if allowed is not None:
            fits &= allowed[candidates]
        where = np.flatnonzero(fits)
        if len(where) == 0:
            return None
        if isinstance(candidates, slice):
            ids = where + (candidates.start or 0)
        else:
            ids = candidates[where]
        if self.policy == "first-fit":
            return ix.hosts[int(ids[0])]
        if self.policy == "random":
            return ix.hosts[int(ids[int(self.rng.integers(len(where)))])]
        chosen = ids
        tight = np.maximum(
            1.0 - (memory[where] - need.memory) / ix.memory_capacity[chosen],
            1.0 - (vcpu[where] - need.vcpu) / ix.vcpu_capacity[chosen])
        if self.policy == "best-fit":
            pick = int(np.argmax(tight))
        elif self.policy == "spread":
            pick = int(np.argmin(tight))
        else:  # image-locality: most of the image already here, then best fit
            held = local[chosen]
            best = held == held.max()
            pick = int(np.flatnonzero(best)[np.argmax(tight[best])])
        return ix.hosts[int(chosen[pick])]
