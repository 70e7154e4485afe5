"""Placement policies: a filter (can this host take the instance now?) and a weigher (which of
those is best?), named presets.

Owns: the choice of a host. Must not: change hosts; the cluster allocates on the host chosen.
Scans the candidate hosts; an index over free capacity is the planned change for very large
pools (see issue "Performance and scale").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from sim.demand import Demand, Layer
from sim.model.host import Host

Weigher = Callable[[Host, Demand, list[Layer]], float]

POLICIES = ("first-fit", "best-fit", "spread", "random", "image-locality")


def _tightness_after(host: Host, need: Demand) -> float:
    return max(1.0 - (host.memory_free - need.memory) / host.memory_capacity,
               1.0 - (host.vcpu_free - need.vcpu) / host.vcpu_capacity)


class Placement:
    """Chooses a host for an instance under the named policy; lower weight wins, ties go to
    the lower host index."""

    def __init__(self, policy: str, rng: np.random.Generator) -> None:
        if policy not in POLICIES:
            raise ValueError(f"unknown placement {policy!r}; one of {', '.join(POLICIES)}")
        self.policy = policy
        self.rng = rng

    def choose(self, hosts: Sequence[Host], need: Demand, chain: list[Layer]) -> Host | None:
        """The chosen host among ``hosts`` that fit, or None when none fits."""
        if self.policy == "first-fit":
            return next((h for h in hosts if h.fits(need, chain)), None)
        feasible = [h for h in hosts if h.fits(need, chain)]
        if not feasible:
            return None
        if self.policy == "random":
            return feasible[int(self.rng.integers(len(feasible)))]
        if self.policy == "best-fit":
            return min(feasible, key=lambda h: (-_tightness_after(h, need), h.index))
        if self.policy == "spread":
            return min(feasible, key=lambda h: (_tightness_after(h, need), h.index))
        # image-locality: most of the image already here, then best fit
        return min(feasible, key=lambda h: (-h.local_bytes(chain), -_tightness_after(h, need),
                                            h.index))
