"""Building tiny scenarios through the public format, and running them in memory."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from sim.edge.loader import Loaded, load_text
from sim.experiment.expand import expand
from sim.run.results import RunOutput
from sim.run.runner import execute

# A profile that costs nothing: an instance takes exactly its workload's cpu and memory and,
# with its image preloaded, starts at once.
FREE = {
    "extends": "process",
    "create": "0s", "boot": "0s", "stop": "0s",
    "memory_overhead": "0MiB", "commit": {"add": 0, "round_to": 0},
    "cpu_overhead": 0.0, "disk_per_instance": 0, "disk_image": "none",
    "cpu_bound_fraction": 0.0,
}

# The hosts' runtime extracts at the disk's rate with no CPU (``disk-bound``), so the network
# and disk arithmetic of most tests stays simple; tests/test_extraction.py covers the runtimes.
BASE: dict[str, Any] = {
    "name": "tiny",
    "seed": 1,
    "duration": "1h",
    "hosts": [{"group": "h", "count": 1, "cpu_cores": 1000, "memory": "1000GiB",
               "disk": "100TiB", "disk_rate": "1GB/s", "nic": "10Gbit/s",
               "max_concurrent_starts": 1000, "preloaded_images": ["base"],
               "runtime": "disk-bound"}],
    "registry": {"bandwidth": "10Gbit/s"},
    "images": [{"name": "base", "os_build": "ltsc2022", "layers": ["1GiB"]}],
    "workloads": [{"name": "w", "image": "base", "isolation": "free", "cpu": 1,
                   "memory": "1GiB", "arrival": {"kind": "burst", "count": 1, "at": 0}}],
    "profiles": {"free": FREE},
}


def scenario(**changes: Any) -> dict[str, Any]:
    """A copy of BASE with top-level keys replaced; ``host``/``workload`` update the first entry."""
    data = copy.deepcopy(BASE)
    for key, value in changes.items():
        if key == "host":
            data["hosts"][0].update(value)
        elif key == "workload":
            data["workloads"][0].update(value)
        else:
            data[key] = value
    return data


def two_workloads() -> dict[str, Any]:
    """Three workloads, warm-up 5 s: ``web`` on its preloaded image (2 s app start) arriving
    every second from 0; ``burst.cold`` (a name with a dot, as metric names join with dots),
    4 at 10 s pulling a cold 100 MiB layer over 1 Gbit/s and extracting it at 1 GB/s;
    ``early``, 2 at 1 s, all before the warm-up."""
    web = {"name": "web", "image": "base", "isolation": "free", "cpu": 1, "memory": "1GiB",
           "app_start": "2s", "arrival": {"kind": "constant", "interval": "1s", "count": 20}}
    burst = {"name": "burst.cold", "image": "app", "isolation": "free", "cpu": 1,
             "memory": "1GiB", "arrival": {"kind": "burst", "count": 4, "at": "10s"}}
    early = {**web, "name": "early", "arrival": {"kind": "burst", "count": 2, "at": "1s"}}
    return scenario(registry={"bandwidth": "1Gbit/s"}, host={"disk_rate": "1GB/s"},
                    warmup="5s", workloads=[web, burst, early],
                    images=[{"name": "base", "os_build": "ltsc2022", "layers": ["1GiB"]},
                            {"name": "app", "base": "base", "layers": ["100MiB"]}])


def load(data: dict[str, Any]) -> Loaded:
    """Validate ``data`` as a scenario file would be."""
    return load_text(yaml.safe_dump(data, sort_keys=False), "test.yaml")


def simulate(data: dict[str, Any], seed: int | None = None) -> dict[str, RunOutput]:
    """Run every variant of ``data`` (first replication); results keyed by variant name."""
    return {spec.variant: execute(spec) for spec in expand(load(data), seed, replications=1)}


def only(data: dict[str, Any], seed: int | None = None) -> RunOutput:
    """Run a scenario with a single variant."""
    (result,) = simulate(data, seed).values()
    return result
