"""Experiments as data: a loaded scenario expands into the runs it asks for (sweep points ×
``compare`` variants × replications), and each run is built and executed on its own SimPy
environment.

Owns: the pure expansion into ``RunSpec`` values, each run's identity (its store key), and
running one spec. Must not: compute statistics or write files.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import simpy

from sim import __version__, traces
from sim.config import ResolvedProfile, Scenario, TraceArrivals
from sim.loader import Loaded
from sim.model import timers
from sim.model.cluster import build
from sim.recorder import Recorder
from sim.rng import generator
from sim.traces import Replay


@dataclass(frozen=True)
class RunSpec:
    """One run: a scenario with its sweep point and variant applied, the seed, the replication.

    ``parameters`` are the sweep's (path, value) pairs; ``choices`` the ``compare`` ones.
    """

    variant: str
    choices: tuple[tuple[str, str], ...]
    parameters: tuple[tuple[str, Any], ...]
    scenario: Scenario
    profiles: dict[str, ResolvedProfile]
    seed: int
    replication: int = 0

    def used_profiles(self) -> dict[str, ResolvedProfile]:
        """The profiles this run's workloads use."""
        return {wl.isolation: self.profiles[wl.isolation] for wl in self.scenario.workloads}

    def key(self) -> str:
        """A name for this run derived from everything it simulates: the resolved scenario
        (with the content digest of every trace it replays, which the loader pins), the
        profiles it uses, the seed, the replication and the simulator's code."""
        identity = {
            "scenario": self.scenario.model_dump(mode="json", exclude_none=True),
            "profiles": {k: v.model_dump(mode="json", exclude_none=True)
                         for k, v in sorted(self.used_profiles().items())},
            "seed": self.seed, "replication": self.replication, "version": __version__,
            "code": code_digest(),
        }
        text = json.dumps(identity, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:24]


@functools.cache
def code_digest() -> str:
    """A digest of the simulator's own source and data files: a run made by other code is a
    different run, so the store never serves results of a model that has since changed."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parent
    for path in sorted([*root.rglob("*.py"), *root.rglob("*.yaml")]):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def expand(loaded: Loaded, seed: int | None = None, replications: int | None = None
           ) -> list[RunSpec]:
    """Every run of a scenario, in a fixed order: sweep point, then variant, then replication.

    Variants and sweep points share the seed, so they see the same arrivals, lifetimes and
    app start-ups (common random numbers); replication r draws from streams keyed by r.
    """
    base = loaded.scenario
    run_seed = base.seed if seed is None else seed
    count = base.replications if replications is None else replications
    axes: list[tuple[str, list[str]]] = []
    if base.compare is not None:
        if base.compare.isolation:
            axes.append(("isolation", list(base.compare.isolation)))
        if base.compare.placement:
            axes.append(("placement", list(base.compare.placement)))
        if base.compare.kernel_sharing:
            axes.append(("kernel_sharing", list(base.compare.kernel_sharing)))
    specs: list[RunSpec] = []
    for point in loaded.points:
        for values in itertools.product(*(vals for _, vals in axes)):
            choices = tuple((key, value) for (key, _), value in zip(axes, values))
            name = "+".join(values) if values else "base"
            scenario = apply(point.scenario, dict(choices))
            specs.extend(RunSpec(name, choices, point.parameters, scenario, point.profiles,
                                 run_seed, r) for r in range(count))
    return specs


def apply(scenario: Scenario, choices: dict[str, str]) -> Scenario:
    """The scenario with variant choices set (``isolation`` sets every workload's;
    ``placement`` and ``kernel_sharing`` the scenario's)."""
    update: dict[str, object] = {}
    if "isolation" in choices:
        update["workloads"] = [wl.model_copy(update={"isolation": choices["isolation"]})
                               for wl in scenario.workloads]
    if "placement" in choices:
        update["placement"] = choices["placement"]
    if "kernel_sharing" in choices:
        update["kernel_sharing"] = choices["kernel_sharing"]
    return scenario.model_copy(update=update)


@dataclass
class RunResult:
    """What one run recorded, and how long it took on the wall clock."""

    spec: RunSpec
    recorder: Recorder
    wall_s: float


def replays(scenario: Scenario, seed: int, replication: int) -> dict[str, Replay]:
    """The instances each trace workload of ``scenario`` replays in a run of ``seed`` and
    ``replication``, by workload name. Traces are read here (memoized per process, checked
    against the digest the loader pinned), never in the model; their random draws come from
    the stream ``trace/<digest>`` of the trace's content, so every isolation mode compared sees
    the same instances, and workloads that split one trace by ``classes`` replay disjoint
    parts of the same draw (a batch split across them still arrives at one moment).
    """
    out: dict[str, Replay] = {}
    for wl in scenario.workloads:
        if isinstance(wl.arrival, TraceArrivals):
            table = traces.read(wl.arrival)
            out[wl.name] = traces.replay(table, wl.arrival, wl,
                                         generator(seed, traces.stream_name(table), replication))
    return out


# The cyclic garbage collector while building, running and collecting a run: a
# young-generation pass every this many new container objects (CPython's default is 700). A
# run allocates millions of short-lived, acyclic objects (events, records, tuples); at the
# default, collections that re-examine the ever-growing set of surviving records took about a
# fifth of a 100,000-instance run. Building 10,000 hosts also set off two full collections per
# run, and making the rows of the records still open at the end set off passes over everything
# the run left alive: 1.4-1.7 s of collections in a three-run comparison of 300,000 instances,
# 0.7-0.8 s with this and the collection at the end of ``run``.
_GC_YOUNG = 50_000


@contextlib.contextmanager
def few_collections() -> Iterator[None]:
    """Collect rarely: objects alive before (the scenario, the libraries, a run's records
    when its results are collected) are set aside from collection (unfrozen after, so any
    garbage among them is still found then), young passes are rarer; cycles are still
    found."""
    gc.freeze()
    threshold = gc.get_threshold()
    gc.set_threshold(_GC_YOUNG, threshold[1], threshold[2])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def run(spec: RunSpec) -> RunResult:
    """Read the traces a spec replays, then build and run it to the scenario's duration
    (``wall_s`` covers both)."""
    started = time.perf_counter()
    recorder = Recorder()
    traces = replays(spec.scenario, spec.seed, spec.replication)
    with few_collections():
        env = simpy.Environment()
        cluster = build(env, spec.scenario, spec.profiles, spec.seed, spec.replication,
                        recorder, traces)
        timers.run(env, spec.scenario.duration)
        cluster.finish()
        timers.discard(env)  # the run is over
        del cluster, env
        # the run's model is in cycles (the environment, the hosts with their pools, the
        # index): freed now, by a collection that looks only at what the run made (the rest
        # is frozen), not by a full one later that would look at everything
        gc.collect()
    return RunResult(spec, recorder, time.perf_counter() - started)
