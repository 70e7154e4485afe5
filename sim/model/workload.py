"""A workload at run time: what every instance of it needs, resolved once from its spec and
profile, and the samplers of its draws.

Owns: ``WorkloadRuntime`` (the cluster makes them; a request, a pipeline and placement read
them) and how a workload's host indexes are held. Must not: hold any state of a run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.edge.traces import Replay
from sim.spec.config import ResolvedProfile, Scenario, Workload
from sim.spec.demand import Demand, Layer, eligible_groups, ever_runs, later_builds


@dataclass(eq=False, slots=True)
class WorkloadRuntime:
    """A workload with what every instance of it needs, resolved once."""

    spec: Workload
    profile: ResolvedProfile
    need: Demand
    chain: list[Layer]
    host_ids: Any  # the hosts' indexes, ascending (NumPy array)
    chain_key: str
    draw_app: Callable[[], float]
    draw_lifetime: Callable[[], float] | None
    draw_create: Callable[[], float]
    draw_boot: Callable[[], float]
    draw_stop: Callable[[], float]
    draw_fault: Callable[[], float] | None  # running seconds until it triggers a kernel fault
    redraw_fault: Callable[[], float] | None  # the same, after it has triggered one
    tenant_code: int
    shares_kernel: bool
    tenant: str = ""  # whose instances these are (a trace gives each instance its own)
    replay: Replay | None = None  # a trace workload's instances (arrays, simulation time)
    chain_keys: frozenset[str] = field(init=False)  # the chain's layer keys

    def __post_init__(self) -> None:
        self.chain_keys = frozenset(layer.key for layer in self.chain)


def eligible_ids(scenario: Scenario, workload: Workload, profile: ResolvedProfile,
                 need: Demand, groups: list[str]) -> Any:
    """The hosts (``groups``: each host's group, by index) that may ever take an instance of
    ``workload`` with ``need`` under ``profile`` (its and the profile's host groups, none that
    only carries container-host VMs, none that could never fit it, on its build or one a
    campaign upgrades it to), as ``as_slice`` holds them."""
    allowed = {g.group for g in eligible_groups(list(scenario.hosts), workload, profile)}
    fits = {g.group for g in scenario.hosts if g.group in allowed
            and ever_runs(g, need, later_builds(scenario.maintenance, g.group))}
    return as_slice([i for i, group in enumerate(groups) if group in fits])


def as_slice(indexes: list[int]) -> Any:
    """Consecutive host indexes as a slice (NumPy arrays serve it without copying), else an
    index array."""
    if indexes and indexes == list(range(indexes[0], indexes[-1] + 1)):
        return slice(indexes[0], indexes[-1] + 1)
    return np.array(indexes, dtype=np.int64)
