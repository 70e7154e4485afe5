"""Benchmark: speed-up of a 32-run sweep on 2 local processes over 1, and the per-run overhead
of sending runs to a Dask cluster (a LocalCluster on loopback) instead of local processes.

Prints the figures and the baseline each is compared with, all measured in this invocation
(machines are shared and noisy: the ratios hold, absolute times do not).

    python benchmarks/sweep_speedup.py [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from sim.edge.loader import load_text
from sim.experiment.expand import expand
from sim.run.runner import plan, run_all
from sim.run.store import Store

SCENARIO = (Path(__file__).resolve().parent.parent / "scenarios" / "windows-isolation.yaml")


def sweep_text() -> str:
    """The main example, 2 simulated hours, process vs Hyper-V, 2 host counts, 8 replications:
    2 x 2 x 8 = 32 runs."""
    text = SCENARIO.read_text()
    text = text.replace("duration: 4h ", "duration: 2h ").replace(
        "isolation: [process, hyperv, vm]", "isolation: [process, hyperv]")
    return text + "sweep:\n  hosts[standard].count: [10, 20]\nreplications: 8\n"


def timed(specs: list, jobs: int = 1, cluster: str | None = None) -> float:
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder))
        started = time.perf_counter()
        run_all(plan(specs, store), store, jobs=jobs, cluster=cluster)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    specs = expand(load_text(sweep_text(), "sweep-benchmark"))
    assert len(specs) == 32
    one = timed(specs, jobs=1)
    two = timed(specs, jobs=2)
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        dask = timed(specs, cluster=cluster.scheduler_address)
    figures = {
        "runs": len(specs),
        "jobs1_s": one, "jobs2_s": two, "speedup_jobs2": one / two,
        "dask2_s": dask, "dask_overhead_per_run_s": (dask - two) / len(specs),
        "dask_over_local_ratio": dask / two,
    }
    print(f"{len(specs)}-run sweep (main example, 2 h simulated, 2 modes x 2 host counts x 8 "
          "replications)")
    print(f"  --jobs 1 (baseline)        {one:7.2f} s")
    print(f"  --jobs 2                   {two:7.2f} s   speed-up {one / two:.2f}x "
          "(target >= 1.7x)")
    print(f"  Dask LocalCluster, 2 procs {dask:7.2f} s   {dask / two:.2f}x the local --jobs 2 "
          f"time; overhead {1000 * (dask - two) / len(specs):+.0f} ms per run")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
