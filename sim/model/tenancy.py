"""Whose instances share each host kernel: the tenants on every host whose kernel instances
share (process isolation), for the same-tenant placement rule and the cross-tenant pairs
level.

Owns: the tenant codes, each host's kernel tenants and its kernel owner (one tenant's code,
``FREE`` or ``SHARED``). Must not: choose hosts (``placement`` reads ``allowed``) or change
hosts' capacity.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import numpy as np

from sim.model.counts import Counts

if TYPE_CHECKING:
    from sim.model.host import Host
    from sim.model.workload import WorkloadRuntime

FREE = -1  # a host kernel no instance shares
SHARED = -2  # a host kernel that instances of several tenants share


class Tenancy:
    """The tenants sharing each host's kernel (see the module's docstring)."""

    def __init__(self, tenants: list[str], hosts: int, same_tenant: bool, traced: bool,
                 counts: Counts) -> None:
        """``tenants``: the scenario's; ``traced``: a trace replays instances (each may bring
        a tenant of its own); ``same_tenant``: a shared host kernel takes one tenant's
        instances only."""
        self.codes = {t: i for i, t in enumerate(sorted(set(tenants)))}
        self.owner = np.full(hosts, FREE, dtype=np.int64)
        self.same_tenant = same_tenant
        self.counts = counts
        # with one tenant no kernel is ever shared across tenants: nothing to keep track of
        self.tracked = len(self.codes) > 1 or traced

    def code(self, tenant: str) -> int:
        """``tenant``'s code (a new one for a tenant first seen now)."""
        code = self.codes.get(tenant)
        if code is None:
            code = self.codes[tenant] = len(self.codes)
        return code

    def allowed(self, wl: WorkloadRuntime) -> np.ndarray | None:
        """The hosts an instance of ``wl`` may share a kernel on (None: any)."""
        if self.same_tenant and wl.shares_kernel:
            owner = self.owner
            return (owner == FREE) | (owner == wl.tenant_code)
        return None

    def changed(self, host: Host, wl: WorkloadRuntime, delta: int) -> None:
        """An instance of ``wl`` was placed on (+1) or released from (-1) ``host``."""
        if not (wl.shares_kernel and self.tracked):
            return
        tenants = host.kernel_tenants
        if tenants is None:
            tenants = host.kernel_tenants = Counter()
        pairs_before = _pairs(len(tenants))
        tenants[wl.tenant] += delta
        if tenants[wl.tenant] == 0:
            del tenants[wl.tenant]
        if len(tenants) == 1:
            self.owner[host.index] = self.codes[next(iter(tenants))]
        else:
            self.owner[host.index] = SHARED if tenants else FREE
        change = _pairs(len(tenants)) - pairs_before
        if change:
            self.counts.kernel_pairs(change)


def _pairs(n: int) -> int:
    return n * (n - 1) // 2
