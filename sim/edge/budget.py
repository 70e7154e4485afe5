"""What a scenario will cost to run, estimated before anything runs, and the limits past which
the command line refuses it (unless told ``--force``).

Owns: the estimate of instances, samples, runs, memory and time from a loaded scenario (and
the row counts of the traces it replays), and the refusal's wording. Must not: run the model
or import SimPy; it is arithmetic on the validated scenario, so it answers in milliseconds.

The per-instance and per-host costs are measured, not guessed: the full benchmark case
(1,000,000 instances on 10,000 hosts) peaked at 761 MB and the common shape (100,000
instances on 50,000 hosts) at 434 MB, which solve to about 570 B per instance and 4.5 KB per
host above a 150 MB interpreter (docs/performance.md). The time estimate uses 10,000
instances per second, below the measured 13,000-15,000 of the full case on this 2-core
machine, so a refusal errs on the side of running.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from sim.spec.config import (
    BurstArrivals,
    ConstantArrivals,
    PoissonArrivals,
    ReplicaArrivals,
    Scenario,
    TraceArrivals,
)

BASE_BYTES = 150e6  # the interpreter with NumPy, pandas and SimPy loaded
BYTES_PER_INSTANCE = 600.0  # in a run: its lifecycle, records and rows
BYTES_PER_HOST = 5e3  # in a run: a host with its pools and index entries
BYTES_PER_SAMPLE_ROW = 200.0  # a timeseries row (one per host group and sample time)
BYTES_PER_RESULT_ROW = 300.0  # an instance row held while the result tables are written
INSTANCES_PER_SECOND = 1e4  # simulated instances per second of one core
SAMPLES_PER_SECOND = 2e5  # sample rows per second
SECONDS_PER_HOST = 2e-5  # building and freeing a host, per run

MAX_HOURS = 4.0  # the longest estimated run the command line starts without --force
MEMORY_SHARE = 0.8  # of this machine's physical memory


@dataclass(frozen=True)
class Estimate:
    """What the runs of a scenario need, per run (the largest) and in all."""

    runs: int
    instances_per_run: float  # the largest run's
    hosts_per_run: int
    samples_per_run: float  # timeseries rows
    instances: float  # all runs
    memory_bytes: float  # the peak: the largest run plus the result tables of all of them
    seconds: float  # of work on one core
    driver: str  # the dotted key that drives the largest part of the cost
    run_memory_bytes: float = 0.0  # the largest run alone
    run_seconds: float = 0.0
    repeats: str = "replications"  # what multiplies the runs: replications, sweep, compare


@dataclass(frozen=True)
class Limits:
    """The largest estimate a command runs without ``--force``."""

    memory_bytes: float
    seconds: float


def machine_limits() -> Limits:
    """``MEMORY_SHARE`` of this machine's physical memory and ``MAX_HOURS`` of work."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: assume a small machine
        memory = 8 * 1024**3
    return Limits(MEMORY_SHARE * memory, MAX_HOURS * 3600.0)


def arrivals(scenario: Scenario, trace_rows: dict[str, int] | None = None
             ) -> list[tuple[int, float]]:
    """Expected requests of each workload over the run, as (workload index, count).
    ``trace_rows`` gives the rows each replayed trace holds, by digest."""
    out = []
    horizon = scenario.duration
    for i, wl in enumerate(scenario.workloads):
        spec = wl.arrival
        expected: float
        if isinstance(spec, BurstArrivals):  # arrives only inside the window, as the model
            end = min(horizon, spec.until) if spec.until is not None else horizon
            expected = float(spec.count) if spec.at < end else 0.0
        elif isinstance(spec, TraceArrivals):
            rows = (trace_rows or {}).get(spec.digest or "", 0)
            expected = rows * spec.sample
        elif isinstance(spec, ReplicaArrivals):  # each step may start a new set of replicas
            assert wl.replicas is not None
            expected = float(wl.replicas.most() * len(wl.replicas.demand.steps))
        else:
            end = min(horizon, spec.until) if spec.until is not None else horizon
            if isinstance(spec, ConstantArrivals):  # an interval of 5e-324s: no integer count
                per = (end - spec.start) / spec.interval
                expected = max(0.0, math.floor(per) + 1) if math.isfinite(per) else math.inf
            else:
                expected = _poisson_mean(spec, end)
        count = getattr(spec, "count", None)
        if count is not None and not isinstance(spec, BurstArrivals):
            expected = min(expected, float(count))
        out.append((i, expected))
    return out


def _poisson_mean(spec: PoissonArrivals, end: float) -> float:
    if spec.schedule is None:
        return spec.rate * max(0.0, end - spec.start)
    total = 0.0
    steps = list(spec.schedule)
    for k, step in enumerate(steps):
        upto = steps[k + 1].at if k + 1 < len(steps) else end
        lo, hi = max(step.at, spec.start), min(upto, end)
        total += step.rate * max(0.0, hi - lo)
    return total


def estimate(scenarios: list[Scenario], variants: int, replications: int,
             trace_rows: dict[str, int] | None = None) -> Estimate:
    """The cost of running each of ``scenarios`` (the sweep's points) under ``variants``
    variants, ``replications`` times each."""
    runs = len(scenarios) * variants * replications
    biggest = max(scenarios, key=lambda s: _run_bytes(s, trace_rows))
    per_workload = arrivals(biggest, trace_rows)
    instances_per_run = sum(n for _, n in per_workload)
    hosts = sum(g.built for g in biggest.hosts)
    samples = _sample_rows(biggest)
    instances = sum(sum(n for _, n in arrivals(s, trace_rows)) for s in scenarios) \
        * variants * replications
    memory = _run_bytes(biggest, trace_rows) + instances * BYTES_PER_RESULT_ROW \
        + runs * samples * BYTES_PER_SAMPLE_ROW
    seconds = sum(_run_seconds(s, trace_rows) for s in scenarios) * variants * replications
    parts = {"hosts": hosts * BYTES_PER_HOST,  # the largest run's parts
             "timeseries_interval": samples * BYTES_PER_SAMPLE_ROW}
    if per_workload:
        top, count = max(per_workload, key=lambda item: item[1])
        parts[f"workloads[{top}].arrival"] = count * (BYTES_PER_INSTANCE + BYTES_PER_RESULT_ROW)
    driver = max(parts, key=lambda k: parts[k])
    run_seconds = _run_seconds(biggest, trace_rows)
    if _restarted(biggest, instances_per_run) / INSTANCES_PER_SECOND > run_seconds / 2:
        driver = max(_fault_rates(biggest))[1]  # the faults' restarts are most of it
    repeats = ("replications" if replications > 1 else "sweep" if len(scenarios) > 1
               else "compare")
    return Estimate(runs, instances_per_run, hosts, samples, instances, memory, seconds,
                    driver, _run_bytes(biggest, trace_rows), run_seconds, repeats)


def _run_seconds(scenario: Scenario, trace_rows: dict[str, int] | None) -> float:
    """One run's seconds on one core: its instances, samples and hosts, and its host faults,
    each of which restarts the instances of a host (a host's share of them, counted as new
    ones)."""
    instances = sum(n for _, n in arrivals(scenario, trace_rows))
    return ((instances + _restarted(scenario, instances)) / INSTANCES_PER_SECOND
            + _sample_rows(scenario) / SAMPLES_PER_SECOND
            + sum(g.built for g in scenario.hosts) * SECONDS_PER_HOST)


def _restarted(scenario: Scenario, instances: float) -> float:
    """Instances started again after host faults, counted as new ones: every host's hardware
    failures and spontaneous kernel crashes at their ``mtbf`` (an upper bound: a host down is
    not failing), each restarting a host's share of the ``instances``."""
    hosts = sum(g.built for g in scenario.hosts)
    faults = hosts * scenario.duration * sum(rate for rate, _ in _fault_rates(scenario))
    return faults * (1.0 + instances / max(hosts, 1))


def _fault_rates(scenario: Scenario) -> list[tuple[float, str]]:
    """Each host fault's rate per host, with its dotted key (where it has an ``mtbf``)."""
    faults = scenario.faults
    return [(1.0 / f.mtbf, f"faults.{name}.mtbf")
            for name, f in (("host_hardware", faults.host_hardware),
                            ("host_kernel", faults.host_kernel))
            if f is not None and f.mtbf is not None]


def _sample_rows(scenario: Scenario) -> float:
    return (scenario.duration / scenario.sample_interval + 1) * len(scenario.hosts)


def _run_bytes(scenario: Scenario, trace_rows: dict[str, int] | None) -> float:
    instances = sum(n for _, n in arrivals(scenario, trace_rows))
    return (BASE_BYTES + instances * BYTES_PER_INSTANCE
            + sum(g.built for g in scenario.hosts) * BYTES_PER_HOST
            + _sample_rows(scenario) * BYTES_PER_SAMPLE_ROW)


def refusal(found: Estimate, limits: Limits) -> str | None:
    """Why ``found`` is too big for ``limits``, with the figures, or None when it fits."""
    reasons = []
    if found.memory_bytes > limits.memory_bytes:
        reasons.append(f"about {_gb(found.memory_bytes)} of memory, more than the "
                       f"{_gb(limits.memory_bytes)} this machine can give "
                       f"({MEMORY_SHARE:.0%} of its memory)")
    if found.seconds > limits.seconds:
        reasons.append(f"about {_hours(found.seconds)} of simulation, more than the "
                       f"{_hours(limits.seconds)} a run may take without --force")
    if not reasons:
        return None
    key = driver(found, limits)
    return (f"too big to run: {found.runs:,} run{'s' if found.runs != 1 else ''} of up to "
            f"{found.instances_per_run:,.0f} instances on {found.hosts_per_run:,} hosts with "
            f"{found.samples_per_run:,.0f} timeseries rows would need "
            + " and ".join(reasons)
            + f"; {key} drives most of it ({_advice(key)}, or pass --force to run "
              "anyway)")


def driver(found: Estimate, limits: Limits) -> str:
    """The dotted key a refusal of ``found`` is about: what multiplies the runs when one run
    alone would fit, else the largest part of the largest run."""
    one_fits = found.run_memory_bytes <= limits.memory_bytes and \
        found.run_seconds <= limits.seconds
    return found.repeats if one_fits and found.runs > 1 else found.driver


def _advice(driver: str) -> str:
    if driver == "timeseries_interval":
        return "sample less often: a longer timeseries_interval"
    if driver == "hosts":
        return "fewer hosts"
    if driver in ("replications", "sweep", "compare"):
        return "fewer replications, sweep points or variants"
    if driver.startswith("faults."):
        return "rarer faults: a longer mtbf (each one restarts a host's instances)"
    return "fewer arrivals: a lower rate, a count, or a shorter window"


def _gb(n_bytes: float) -> str:
    return f"{n_bytes / 1e9:,.3g} GB" if n_bytes < 1e15 else f"{n_bytes:.2e} bytes"


def _hours(seconds: float) -> str:
    hours = seconds / 3600.0
    return f"{hours:,.3g} h" if hours < 1e6 else f"{hours:.2e} h"
