"""Interference: how much noisy neighbours and nesting (a container host that is itself a VM)
slow an instance on a host.

Owns: each host's running noise classes and the factors an instance suffers there (its
profile's ``interference`` table for the others' noise classes; ``nested.cpu_factor`` inside
a container-host VM), and re-rating a host's batch jobs when its neighbours change. Must not:
run start-up work (``startup`` asks it for the factor) or count instances (``counts``).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.model.host import Host
    from sim.model.workload import WorkloadRuntime


class Interference:
    """The noise on every host and what it does to the instances there."""

    def __init__(self, workloads: dict[str, WorkloadRuntime]) -> None:
        """``workloads``: by name (a batch job's owner is found by its record's workload)."""
        self.workloads = workloads

    def changed(self, host: Host, wl: WorkloadRuntime, delta: int) -> None:
        """A running instance of ``wl`` arrived on (+1) or left (-1) ``host``: re-rate the
        host's batch jobs if ``wl`` makes noise."""
        noise = wl.spec.noise
        if noise == "none":
            return
        if host.noise is None:
            host.noise = Counter()
        host.noise[noise] += delta
        if host.noise[noise] <= 0:
            del host.noise[noise]
        if host.batch is not None and host.batch.jobs:
            jobs = {resident.job: self.workloads[resident.rec.workload]
                    for resident in host.residents.values() if resident.job is not None}

            def factor(job: int) -> float:
                owner = jobs.get(job)
                if owner is None:
                    return 1.0
                return self.slowdown(host, owner) * self.cpu_factor(host, owner)

            host.batch.set_factors(factor)

    def slowdown(self, host: Host, wl: WorkloadRuntime) -> float:
        """The interference factor an instance of ``wl`` suffers on ``host`` now: the largest
        its profile gives for the noise classes of the other running instances there."""
        if not host.noise:
            return 1.0
        table = wl.profile.interference
        own = wl.spec.noise
        factor = 1.0
        for noise, count in host.noise.items():
            if count - (1 if noise == own else 0) > 0:
                factor = max(factor, table.get(noise, 1.0))
        return factor

    def cpu_factor(self, host: Host, wl: WorkloadRuntime) -> float:
        """How much slower ``wl``'s CPU work runs on ``host`` for nesting (1: not nested)."""
        return wl.profile.nested.cpu_factor if host.parent is not None else 1.0
