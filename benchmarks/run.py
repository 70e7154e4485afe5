"""Speed benchmarks, printed as a table (not timed tests).

    python benchmarks/run.py [--only NAME] [--sizes 100/400,1000/4000] [--json FILE]

``common``: the shape every peer simulator can express (peers.md): N hosts (16 cores,
64 GiB), M instances (2 vCPU, 4 GiB) arriving over one simulated hour, first-fit, a fixed
1 s start-up, lifetimes longer than the run; through the full model (scenario format, placement,
recording, summary). ``floor``: a bare SimPy model of the same lifecycle, run in the same
invocation; each figure is also printed as a ratio to it (machines are shared and noisy: the
ratios hold, absolute times do not). Each case runs in a fresh process so its peak RSS is its
own.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

DEFAULT_SIZES = "100/400,1000/4000,5000/20000"


def common_shape(hosts: int, instances: int) -> dict[str, Any]:
    """The common shape as a scenario (plain data, as a file would hold it)."""
    return {
        "name": f"common-{hosts}-{instances}", "seed": 1, "duration": "1h",
        "timeseries_interval": "5min",
        "hosts": [{"group": "h", "count": hosts, "cpu_cores": 16, "memory": "64GiB",
                   "disk": "10TiB", "disk_rate": "1GB/s", "nic": "10Gbit/s",
                   "max_concurrent_starts": 8, "preloaded_images": ["img"]}],
        "registry": {"bandwidth": "10Gbit/s"},
        "images": [{"name": "img", "os_build": "ltsc2022", "layers": ["1GiB"]}],
        "workloads": [{"name": "vm", "image": "img", "isolation": "fixed", "cpu": 2,
                       "memory": "4GiB", "on_full": "reject",
                       "arrival": {"kind": "constant", "interval": 3600.0 / instances,
                                   "count": instances}}],
        "placement": "first-fit",
        "profiles": {"fixed": {"extends": "process", "create": "1s", "boot": "0s",
                               "stop": "0s", "memory_overhead": "0MiB",
                               "cpu_overhead": 0.0, "cpu_bound_fraction": 0.0,
                               "disk_per_instance": "0B"}},
    }


def _measure(kind: str, hosts: int, instances: int, queue: Any) -> None:
    """Imports happen before the clock starts; loading the scenario and collecting the
    results are timed."""
    import yaml
    from floor import bare_lifecycles

    from sim.experiment import expand
    from sim.loader import load_text
    from sim.results import execute

    started = time.perf_counter()
    if kind == "floor":
        done = bare_lifecycles(instances, hosts)
    else:
        text = yaml.safe_dump(common_shape(hosts, instances))
        (spec,) = expand(load_text(text, "benchmark"))
        done = execute(spec).metrics["started"]
    wall = time.perf_counter() - started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put({"wall_s": wall, "rss_mb": rss, "running": done})


def measure(kind: str, hosts: int, instances: int) -> dict[str, Any]:
    """Run one case in a fresh process; wall time, peak RSS, lifecycles per second."""
    queue: Any = multiprocessing.get_context("spawn").Queue()
    proc = multiprocessing.get_context("spawn").Process(
        target=_measure, args=(kind, hosts, instances, queue))
    proc.start()
    result = queue.get()
    proc.join()
    result["per_s"] = result["running"] / result["wall_s"] if result["wall_s"] else 0.0
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", choices=["common"], default=None)
    parser.add_argument("--sizes", default=DEFAULT_SIZES,
                        help=f"HOSTS/INSTANCES,... (default {DEFAULT_SIZES}; the peers' "
                             "largest is 50000/100000)")
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args()
    rows = []
    print(f"{'case':<10}{'hosts':>8}{'instances':>11}{'wall s':>9}{'RSS MB':>9}"
          f"{'lifecycles/s':>14}{'x floor time':>14}")
    for size in args.sizes.split(","):
        hosts, instances = (int(x) for x in size.split("/"))
        floor = measure("floor", hosts, instances)
        full = measure("common", hosts, instances)
        for kind, r in (("floor", floor), ("common", full)):
            ratio = r["wall_s"] / floor["wall_s"]
            print(f"{kind:<10}{hosts:>8,}{instances:>11,}{r['wall_s']:>9.2f}{r['rss_mb']:>9.0f}"
                  f"{r['per_s']:>14,.0f}{ratio:>14.2f}")
            rows.append({"case": kind, "hosts": hosts, "instances": instances, **r,
                         "ratio_to_floor": ratio})
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
