"""Speed benchmarks, printed as a table (not timed tests).

    python benchmarks/run.py [--only common|full|storm|trace|overhead]
                             [--sizes 100/400,1000/4000] [--full-sizes 10000/100000]
                             [--storm-sizes 300/1200] [--trace-sizes 53/10,502/100]
                             [--common-run-sizes 5000/20000,50000/100000]
                             [--repeat N] [--jobs N] [--placement POLICY]
                             [--json FILE] [--baseline FILE]

``common``: the shape every peer simulator can express (peers.md): N hosts (16 cores,
64 GiB), M instances (2 vCPU, 4 GiB) arriving over one simulated hour, first-fit, a fixed
1 s start-up, lifetimes longer than the run; through the full model (scenario format, placement,
recording, summary). ``floor``: a bare SimPy model of the same lifecycle, run in the same
invocation; each figure is also printed as a ratio to it (machines are shared and noisy: the
ratios hold, absolute times do not). The full case's floor, ``floor-full``, has the full
case's lifecycle: its modes' shares of the instances over the example's 4 hours, with its
lifetimes, which mostly end during the run (``floor.same_lifecycle``). ``storm``: a cold
pull storm (every host downloads the image at once through the shared registry). ``full``: the main example
(``scenarios/windows-isolation.yaml``: layered images, pulls, start-up contention, three
isolation modes) grown through the scenario's own dotted paths to N hosts, with the arrival
rate raised so that M instances arrive in all (M/3 per mode, over its 4 simulated hours); its
lifecycles are the instances that reached running, in all three modes. Each case runs in a
fresh process so its peak RSS is its own; with ``--repeat N`` the floor and the case run
alternately, N times each, so that both see the machine's drift. ``--baseline`` prints an
earlier ``--json`` file's wall time and floor ratio beside each row (before/after a change).
``trace``: the Azure day (``scenarios/azure-replay.yaml``, 14 VM sizes, best-fit) replaying a
percentage of its VMs on N hosts, process isolation only (``--trace-sizes HOSTS/PERCENT``);
its floor, ``floor-trace``, replays the same arrivals and lifetimes (``floor.replayed``). The
trace is read before the clock starts, as a planner's workers hold it after their first run.
``overhead``: the seconds around the simulations as a user waits for them (``overhead.py``:
importing, a whole ``run``, a rerun of written results, ``--jobs 2`` against ``--jobs 1``,
the common shape as a whole ``run``, ``plan`` on the Azure day with every VM), each beside
its baseline and target.
"""  # noqa: E501 - printed as is by --help (raw description)

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))  # the worktree's ``sim``, also in spawned workers

DEFAULT_SIZES = "100/400,1000/4000,5000/20000"
DEFAULT_FULL_SIZES = "10000/100000"
DEFAULT_STORM_SIZES = "300/1200,1000/4000"
DEFAULT_COMMON_RUN_SIZES = "5000/20000,50000/100000"
MAIN_EXAMPLE = HERE.parent / "scenarios" / "windows-isolation.yaml"
AZURE_DAY = HERE.parent / "scenarios" / "azure-replay.yaml"
DEFAULT_TRACE_SIZES = "53/10,502/100"

from sim.model.placement import POLICIES  # the worktree's, from the path above


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


def storm_shape(hosts: int, instances: int) -> dict[str, Any]:
    """A cold pull storm: ``instances`` arrive at once on ``hosts`` hosts that hold no layer,
    spread over them, so every host downloads the whole image (1.2 GiB in three layers) at the
    same time through a 10 Gbit/s registry: the network's sharing under the most transfers."""
    return {
        "name": f"storm-{hosts}-{instances}", "seed": 1, "duration": "4h",
        "hosts": [{"group": "h", "count": hosts, "cpu_cores": 16, "memory": "64GiB",
                   "disk": "1TiB", "disk_rate": "500MB/s", "nic": "1Gbit/s",
                   "max_concurrent_starts": 8}],
        "registry": {"bandwidth": "10Gbit/s", "latency": "30ms"},
        "images": [{"name": "base", "os_build": "ltsc2022", "layers": ["1GiB"]},
                   {"name": "app", "base": "base", "layers": ["200MiB", "20MiB"]}],
        "workloads": [{"name": "web", "image": "app", "isolation": "process", "cpu": 2,
                       "memory": "4GiB", "arrival": {"kind": "burst", "at": "0s",
                                                     "count": instances}}],
        "placement": "spread",
    }


def full_shape(hosts: int, instances: int) -> dict[str, Any]:
    """The main example with ``hosts`` hosts and ``instances`` arrivals over its three modes."""
    import yaml

    from sim.spec import paths

    data = yaml.safe_load(MAIN_EXAMPLE.read_text(encoding="utf-8"))
    modes = len(data["compare"]["isolation"])
    data = paths.replace(data, "name", f"full-{hosts}-{instances}")
    data = paths.replace(data, "hosts[standard].count", hosts)
    # the example's shape as every benchmark figure since 2026-11 measured it: 4 h with a
    # 30 min warm-up and the cold burst at 2 h (the example itself now runs 8 h, 3 h warm-up)
    data = {**data, "duration": "4h", "warmup": "30min"}
    data = paths.replace(data, "workloads[scale-out].arrival.at", "2h")
    rate = instances / modes / 14400.0  # over the 4 h
    return paths.replace(data, "workloads[web].arrival.rate", f"{rate}/s")


def azure_day(percent: int, scenario: Path = AZURE_DAY) -> dict[str, Any]:
    """The Azure day (``scenario``, ``scenarios/azure-replay.yaml``: 74,576 VMs of 14 sizes in
    the first day of the trace's test split, best-fit) replaying ``percent`` % of its VMs, its
    trace's path made absolute (the scenario is written elsewhere)."""
    import yaml

    from sim.spec import paths

    data = yaml.safe_load(scenario.read_text(encoding="utf-8"))
    arrival = "workloads[azure].arrival"
    data = paths.replace(data, f"{arrival}.sample", percent / 100)
    return paths.replace(data, f"{arrival}.path", str(
        (scenario.parent / paths.get(data, f"{arrival}.path")).resolve()))


def trace_shape(hosts: int, percent: int) -> dict[str, Any]:
    """The Azure day (``azure_day``) replaying ``percent`` % of its VMs on ``hosts`` hosts,
    under process isolation only: the runs ``python -m sim plan`` makes on it."""
    from sim.spec import paths

    data = paths.replace(azure_day(percent), "name", f"trace-{hosts}-{percent}")
    data = paths.replace(data, "hosts[rack].count", hosts)
    return {**data, "compare": {"isolation": ["process"]}}


def trace_lifecycles(shape: dict[str, Any]) -> tuple[Any, Any, float]:
    """The arrivals and lifetimes (seconds; NaN: past the end) of the trace shape's replay, as
    ``sim`` reads them, and its duration: what the trace's floor (``floor.replayed``) runs."""
    import yaml

    from sim.edge import traces
    from sim.edge.loader import load_text
    from sim.experiment.rng import generator

    scenario = load_text(yaml.safe_dump(shape), "trace").scenario
    workload = scenario.workloads[0]
    table = traces.read(workload.arrival)
    replay = traces.replay(table, workload.arrival, workload,
                           generator(scenario.seed, traces.stream_name(table)))
    return replay.arrival_s, replay.lifetime_s, scenario.duration


def full_lifecycle(shape: dict[str, Any]) -> dict[str, Any]:
    """The full shape's lifecycle, as ``floor.same_lifecycle`` takes it: its modes, its
    duration (seconds) and its lifetimes' (median, p95) seconds."""
    from sim.spec.units import parse_duration

    lifetime = next(w["lifetime"] for w in shape["workloads"] if w["name"] == "web")
    assert lifetime["dist"] == "lognormal", "the floor draws the example's lognormal"
    return {"modes": len(shape["compare"]["isolation"]),
            "duration_s": parse_duration(shape["duration"]),
            "lifetime": (parse_duration(lifetime["median"]), parse_duration(lifetime["p95"]))}


def _placed(shape: dict[str, Any], policy: str | None) -> dict[str, Any]:
    """``shape`` with its placement policy replaced (None: as it is)."""
    return shape if policy is None else {**shape, "placement": policy}


def _measure(kind: str, hosts: int, instances: int, queue: Any, jobs: int = 1,
             policy: str | None = None) -> None:
    """Imports happen before the clock starts; loading the scenario and collecting the
    results are timed."""
    import yaml
    from floor import bare_lifecycles, replayed, same_lifecycle

    from sim.edge.loader import load_text
    from sim.experiment.expand import expand
    from sim.run.runner import execute

    if kind == "floor-full":  # its parameters are read before the clock starts
        lifecycle = full_lifecycle(full_shape(hosts, instances))
    if kind in ("trace", "floor-trace"):  # ``instances``: the percentage of the trace replayed;
        # the trace is read before the clock (into this process's cache, as a planner's
        # workers hold it after their first run; reading it is measured in docs/traces.md)
        arrivals, lifetimes, duration = trace_lifecycles(trace_shape(hosts, instances))
    started = time.perf_counter()
    if kind == "floor":
        done = bare_lifecycles(instances, hosts)
    elif kind == "floor-full":
        done = same_lifecycle(instances, hosts, **lifecycle)
    elif kind == "floor-trace":
        done = replayed(arrivals, lifetimes, hosts, duration)
    elif kind == "trace":
        (spec,) = expand(load_text(yaml.safe_dump(trace_shape(hosts, instances)), "trace"))
        done = execute(spec).metrics["started"]
    elif kind in ("common", "storm"):
        shape = common_shape if kind == "common" else storm_shape
        (spec,) = expand(load_text(yaml.safe_dump(_placed(shape(hosts, instances), policy)),
                                   "benchmark"))
        done = execute(spec).metrics["started"]
    else:
        from sim.run.runner import Workers

        specs = expand(load_text(yaml.safe_dump(_placed(full_shape(hosts, instances), policy)),
                                 "full"))
        with Workers(jobs) as workers:  # as ``python -m sim run --jobs N`` runs them
            done = sum(int(out.instances["running"].notna().sum())
                       for out in workers.outputs(specs, [spec.variant for spec in specs]))
    wall = time.perf_counter() - started
    rss = max(resource.getrusage(who).ru_maxrss / 1024
              for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    queue.put({"wall_s": wall, "rss_mb": rss, "running": done})


def _once(kind: str, hosts: int, instances: int, jobs: int = 1,
          policy: str | None = None) -> dict[str, Any]:
    """One run of a case in a fresh process: wall time, peak RSS (of the process, or of its
    largest worker) and instances that reached running. ``jobs``: worker processes for the
    full model's three runs (1: one after the other in this process)."""
    context = multiprocessing.get_context("spawn")
    queue: Any = context.Queue()
    proc = context.Process(target=_measure, args=(kind, hosts, instances, queue, jobs, policy))
    proc.start()
    result: dict[str, Any] = queue.get()
    proc.join()
    queue.close()
    queue.join_thread()
    return result


def _fastest(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest run (other load on a shared machine only slows runs), with its lifecycles
    per second."""
    result = min(runs, key=lambda r: r["wall_s"])
    result["per_s"] = result["running"] / result["wall_s"] if result["wall_s"] else 0.0
    return result


def measure(kind: str, hosts: int, instances: int, repeat: int = 1, jobs: int = 1,
            policy: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The case's floor (``floor.py``: the full model's has its own lifecycle) and the case,
    each run ``repeat`` times, alternately (floor, case, floor, case, ...: the machine's speed
    drifts over minutes, and alternating puts both under the same drift), each in a fresh
    process; the fastest run of each."""
    floors, runs = [], []
    floor = {"full": "floor-full", "trace": "floor-trace"}.get(kind, "floor")  # its own lifecycle
    for _ in range(repeat):
        floors.append(_once(floor, hosts, instances))
        runs.append(_once(kind, hosts, instances, jobs, policy))
    return _fastest(floors), _fastest(runs)


def _sizes(text: str) -> list[tuple[int, int]]:
    return [(int(h), int(m)) for h, m in (size.split("/") for size in text.split(",") if size)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["common", "full", "storm", "trace", "overhead"],
                        default=None)
    parser.add_argument("--sizes", default=DEFAULT_SIZES,
                        help=f"common shape HOSTS/INSTANCES,... (default {DEFAULT_SIZES}; the "
                             "peers' largest is 50000/100000)")
    parser.add_argument("--full-sizes", default=DEFAULT_FULL_SIZES,
                        help=f"full model HOSTS/INSTANCES,... (default {DEFAULT_FULL_SIZES}; "
                             "the issue's target is 10000/1000000)")
    parser.add_argument("--storm-sizes", default=DEFAULT_STORM_SIZES,
                        help=f"cold pull storm HOSTS/INSTANCES,... (default "
                             f"{DEFAULT_STORM_SIZES}): time per host stays flat when the "
                             "network's sharing costs O(log hosts) per change")
    parser.add_argument("--trace-sizes", default=DEFAULT_TRACE_SIZES,
                        help="the Azure day's replay, HOSTS/PERCENT of its VMs,... (default "
                             f"{DEFAULT_TRACE_SIZES}: the shipped scenario, and the whole day "
                             "on the hosts its plan needs)")
    parser.add_argument("--common-run-sizes", default=DEFAULT_COMMON_RUN_SIZES,
                        help="the common shape as a whole 'sim run', HOSTS/INSTANCES,... "
                             f"(default {DEFAULT_COMMON_RUN_SIZES})")
    parser.add_argument("--tree", default=None,
                        help="overhead cases only: measure another checkout's code (before a "
                             "change), for figures side by side")
    parser.add_argument("--cases", default=None,
                        help="overhead cases only: those whose names start with one of these, "
                             "comma-separated (e.g. whole-run-default,jobs-small,common-run)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs per case, alternating with the floor's; the fastest of each "
                             "reported (default 1)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="worker processes for the full model's three isolation modes, as "
                             "'python -m sim run --jobs N' runs them (default 1: one after "
                             "the other, comparable with the single-threaded floor)")
    parser.add_argument("--placement", default=None,
                        choices=POLICIES,
                        help="placement policy for the common and full cases (default: the "
                             "shape's own, first-fit and best-fit)")
    parser.add_argument("--json", default=None, help="also write the figures here")
    parser.add_argument("--baseline", default=None,
                        help="an earlier --json file, printed beside each row")
    args = parser.parse_args()
    before: dict[tuple[str, int, int], dict[str, Any]] = {}
    if args.baseline:
        for row in json.loads(Path(args.baseline).read_text()):
            before[(row["case"], row["hosts"], row["instances"])] = row
    cases = [(kind, size) for kind, sizes in (("common", args.sizes), ("full", args.full_sizes),
                                              ("storm", args.storm_sizes),
                                              ("trace", args.trace_sizes))
             if args.only in (None, kind) for size in _sizes(sizes)]
    rows = []
    header = (f"{'case':<11}{'hosts':>8}{'instances':>11}{'wall s':>9}{'RSS MB':>8}"
              f"{'lifecycles/s':>14}{'x floor time':>14}{'/ floor rate':>14}")
    if before:
        header += f"{'before s':>10}{'before x floor':>16}"
    if cases:
        print(header)
    for kind, (hosts, instances) in cases:
        jobs = args.jobs if kind == "full" else 1
        floor, model = measure(kind, hosts, instances, args.repeat, jobs,
                               args.placement if kind not in ("storm", "trace") else None)
        if kind == "trace":  # sized as a percentage of the trace: the VMs it replays
            instances = floor["running"]
        label = kind if jobs == 1 else f"{kind}/j{jobs}"  # full/j2: two worker processes
        floor_name = {"full": "floor-full", "trace": "floor-trace"}.get(kind, "floor")
        for name, r in ((floor_name, floor), (label, model)):
            ratio = r["wall_s"] / floor["wall_s"]
            rate = r["per_s"] / floor["per_s"] if floor["per_s"] else 0.0
            line = (f"{name:<11}{hosts:>8,}{instances:>11,}{r['wall_s']:>9.2f}{r['rss_mb']:>8.0f}"
                    f"{r['per_s']:>14,.0f}{ratio:>14.2f}{rate:>14.2f}")
            old = before.get((name, hosts, instances))
            if old is not None:
                line += f"{old['wall_s']:>10.2f}{old['ratio_to_floor']:>16.2f}"
            print(line, flush=True)
            rows.append({"case": name, "hosts": hosts, "instances": instances, **r,
                         "ratio_to_floor": ratio, "rate_to_floor": rate})
    if args.only in (None, "overhead"):
        import overhead

        if rows:
            print()
        rows += overhead.measure(_sizes(args.common_run_sizes),
                                 Path(args.tree) if args.tree else None,
                                 args.cases.split(",") if args.cases else None)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
