"""Maintenance campaigns: a host group patched (or upgraded to a newer Windows build) in
batches, each host drained, down for its patch and reboot, and back.

Owns: how a ``maintenance:`` entry is read and checked on its own, its defaults and their
sources (``DEFAULTS``); a count or a percentage becomes a number of hosts or instances by
``sim.spec.values.count_of``. Must not: drive hosts or instances (``sim.model.maintenance``).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator

from sim.spec.values import Distribution, Duration, Lognormal, Spec

# Where each default comes from (trust, source); the report lists those a run relies on among
# its assumptions. The evidence behind them: docs/maintenance.md.
DEFAULTS: dict[str, tuple[str, str]] = {
    "downtime": ("estimate", "a host's monthly cumulative update and reboot: lognormal, median "
                             "15 min, p95 40 min. No published distribution; a WS2019 update "
                             "installed in about 5 min (heise 2019, anecdotal), Cluster-Aware "
                             "Updating allows 15 min for a node's restart (Microsoft, "
                             "measured), a physical server's firmware start adds minutes. Range "
                             "of the median 5-30 min"),
    "live_migration.pause": ("estimate", "the pause besides sending the last dirty pages: "
                                         "200 ms; Clark et al., NSDI 2005 measured 60-210 ms "
                                         "downtimes, QEMU targets 300 ms. Range 50 ms-1 s"),
    "live_migration.max_rounds": ("anecdotal", "Hyper-V pre-copies at most 10 passes, then "
                                               "pauses the VM (Directions on Microsoft, "
                                               "2009); Xen 30"),
    "dirty_rate": ("estimate", "memory a running VM writes per second: 50 MB/s; none "
                               "published for Windows guests. Range 1-1000 MB/s"),
    "migration_bandwidth": ("estimate", "the host's NIC: Hyper-V's default compression or "
                                        "SMB Direct fill a 10 Gbit/s link (Aidan Finn's "
                                        "measurements, anecdotal)"),
}
DEFAULT_DIRTY_RATE = 50e6  # bytes per second (DEFAULTS["dirty_rate"])

_PERCENT = r"^\s*\d+(\.\d+)?\s*%\s*$"


def _counted(least: int, what: str) -> BeforeValidator:
    """A count of at least ``least`` or a percentage, with one clear message otherwise."""
    def check(value: Any) -> Any:
        if isinstance(value, bool) or not (
                (isinstance(value, int) and value >= least)
                or (isinstance(value, str) and re.fullmatch(_PERCENT, value)
                    and least <= float(value.strip().rstrip("%")) <= 100)):
            raise ValueError(f"give a number of {what} (at least {least}) or a percentage "
                             f"up to 100% such as 10% (got {value!r})")
        return value
    return BeforeValidator(check)


# A count of hosts (at least 1) or a percentage of the group
Batch = Annotated[int | Annotated[str, Field(pattern=_PERCENT)], _counted(1, "hosts"),
                  Field(description="a number of hosts, or a percentage of the group such "
                                    "as 10%")]
# A count of instances (0 blocks every drain) or a percentage of the workload's instances
Budget = Annotated[int | Annotated[str, Field(pattern=_PERCENT)], _counted(0, "instances"),
                   Field(description="a number of instances, or a percentage of the "
                                     "workload's")]


class LiveMigration(Spec):
    """How a VM moves off a host being drained: pre-copy rounds of its memory at the
    source group's ``migration_bandwidth`` (the first sends all of it, each later one what the
    VM dirtied, at its workload's ``dirty_rate``, during the one before), then a pause: the
    switch-over and the rest sent."""

    pause: Duration = Field(0.2, description="the pause besides sending the last dirty pages "
                                             "(a VM's switch-over): default 200ms, an estimate "
                                             "(50ms-1s)")
    max_rounds: Annotated[int, Field(ge=1, le=1000)] = Field(
        10, description="pre-copy rounds at most: once what is left would take no longer than "
                        "pause to send, or after this many rounds, the VM pauses and the rest "
                        "is sent (Hyper-V: 10 passes)")


def _or_boolean(schema: dict[str, Any]) -> None:
    """In the JSON schema: ``live_migration`` may also be true or false."""
    schema["anyOf"] = [*schema.get("anyOf", []), {"type": "boolean"}]


def _live_migration(value: Any) -> Any:
    """``live_migration: true`` is the default settings; ``false`` is none."""
    if value is True:
        return {}
    if value is False:
        return None
    return value


class Maintenance(Spec):
    """A campaign on one host group: from ``at`` (and every ``every`` after), the group's
    hosts in batches of ``batch``: each host is cordoned, drained (a workload's
    ``disruption_budget`` limits how many of its instances are down at once; VMs move live when
    ``live_migration`` is on), down for ``downtime`` (patch and reboot; with ``os_build`` it
    comes back on that build) and back; the next batch begins when the last host of the one
    before is back."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")] = Field(
        description="required: names the campaign in results (maintenance.<name>)")
    group: str = Field(description="required: the host group it patches")
    at: Duration = Field(0.0, description="when the first wave begins")
    every: Annotated[Duration, Field(gt=0)] | None = Field(
        None, description="then a wave again every this long (a wave still running delays "
                          "the next), e.g. 30d")
    batch: Batch = Field(1, description="hosts patched at once: a count, or a percentage of "
                                        "the group rounded up")
    downtime: Distribution = Field(
        default_factory=lambda: Lognormal(dist="lognormal", median=900.0, p95=2400.0),
        description="each host's patch and reboot: default lognormal, median 15min, p95 40min "
                    "(an estimate)")
    live_migration: LiveMigration | None = Field(
        None, description="true (or {pause, max_rounds}): VMs move live to another host "
                          "instead of restarting; containers always restart",
        json_schema_extra=_or_boolean)
    os_build: str | None = Field(
        None, description="an OS upgrade: each host comes back on this newer build (process "
                          "isolated images of the old build no longer run there)")

    @model_validator(mode="after")
    def _hourly_at_most(self) -> Maintenance:
        if self.every is not None and self.every < 3600.0:
            raise ValueError(f"every: a campaign repeats at most hourly (got "
                             f"{self.every:g} s): give every of at least 1h, such as 30d")
        return self

    @model_validator(mode="before")
    @classmethod
    def _migration_flag(cls, data: Any) -> Any:
        if isinstance(data, dict) and "live_migration" in data:
            return {**data, "live_migration": _live_migration(data["live_migration"])}
        return data
