"""Windows builds and the version-compatibility rule: which image builds a host of a given
build runs under each profile's rule (``os_builds`` of a profile).

Owns: the packaged table (``builds.yaml``: the LTSC builds in order, and the older builds a
host runs under Hyper-V isolation, with its source) and the rule's three forms:

* ``same``: the host's own build (and ltsc2022 on an ltsc2025 host, as the table has it):
  process isolation shares the host kernel;
* ``older``: the host's own build or an older one (Hyper-V isolation: each container has its
  own kernel); a newer image never runs;
* ``any``: a full guest OS, whatever the host's build (a VM).

A build the table does not know (a scenario's own name, ``linux``) runs only images of the
same build under ``same`` and ``older``. Must not: know about hosts or time.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from sim.spec import packaged

Rule = Literal["same", "older", "any"]


@cache
def _table() -> dict[str, Any]:
    data: dict[str, Any] = packaged.read("builds.yaml")
    return data


def known() -> list[str]:
    """The builds of the table, oldest first."""
    return list(_table()["builds"])


def source() -> tuple[str, str]:
    """The table's trust and source."""
    trust, text = _table()["source"]
    return trust, text


def runs(rule: str, image: str | None, host: str) -> bool:
    """Whether a host of build ``host`` runs an image of build ``image`` under ``rule``
    (an image without a build runs anywhere)."""
    if rule == "any" or image is None or image == host:
        return True
    entry = _table()["builds"].get(host)
    return entry is not None and image in entry["process" if rule == "same" else "hyperv"]


def newer(build: str, than: str) -> bool | None:
    """Whether ``build`` is newer than ``than`` (None: one of them is not in the table)."""
    order = known()
    if build not in order or than not in order:
        return None
    return order.index(build) > order.index(than)


def why(rule: str, image: str, host: str) -> str:
    """Why a host of build ``host`` does not run an image of build ``image`` under ``rule``."""
    if rule == "same":
        return (f"image OS build {image} does not match the host's {host} (process isolation "
                "shares the host kernel)")
    if newer(image, host):
        return (f"image OS build {image} is newer than the host's {host} (Hyper-V isolation "
                "runs the host's build and older ones, never a newer one)")
    return (f"image OS build {image} does not match the host's {host} (a build outside "
            "Microsoft's version-compatibility table runs only on its own)")
