"""OS builds at run time: each host's Windows build now, and the hosts an instance's image
runs on once a maintenance campaign has upgraded some of them.

Owns: changing a host's build (``upgrade``) and the per-image masks of hosts that run it
(``allowed``; Microsoft's compatibility rule, ``sim.spec.builds``). Until a host is upgraded
every host a workload may use runs its image (``sim.model.build`` left out those that never
could), so there is no mask and placement keeps its fast path. Must not: choose hosts
(``placement`` reads the mask beside the tenancy's).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.spec import builds

if TYPE_CHECKING:
    from sim.model.host import Host
    from sim.spec.demand import Demand


class Builds:
    """Every host's build and the masks of hosts that run each image build."""

    def __init__(self, hosts: list[Host]) -> None:
        self.hosts = hosts
        self.upgraded = False  # a host's build has changed since the start
        self._masks: dict[tuple[str, str], np.ndarray] = {}

    def allowed(self, need: Demand) -> np.ndarray | None:
        """The hosts an instance with ``need`` may run on by its image's build (None: any
        it may use at all)."""
        if not self.upgraded or need.os_build is None:
            return None
        key = (need.build_rule, need.os_build)
        mask = self._masks.get(key)
        if mask is None:
            mask = self._masks[key] = np.array(
                [builds.runs(need.build_rule, need.os_build, h.os_build) for h in self.hosts],
                dtype=bool)
        return mask

    def runs(self, need: Demand, host: Host) -> bool:
        """Whether ``host`` runs an instance with ``need`` by its image's build now."""
        return builds.runs(need.build_rule, need.os_build, host.os_build)

    def upgrade(self, host: Host, build: str) -> None:
        """``host`` is on ``build`` from now."""
        host.os_build = build
        self.upgraded = True
        self._masks.clear()
