"""One run: a spec's traces read, its model built on a SimPy environment of its own and run to
the scenario's duration, with the cyclic garbage collector held back meanwhile.

Owns: running one ``RunSpec`` into its recorded facts (``RunResult``) and the collector policy
around building, running and collecting a run. The one module outside ``sim.model`` that may
import SimPy (it needs none: ``sim.model.kernel`` makes the environment). Must not: compute
statistics or write files.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from sim.edge import traces
from sim.edge.traces import Replay
from sim.experiment.expand import RunSpec
from sim.experiment.rng import generator
from sim.model import kernel
from sim.model.build import build
from sim.recorder import Recorder
from sim.spec.config import Scenario, TraceArrivals


@dataclass
class RunResult:
    """What one run recorded, and how long it took on the wall clock."""

    spec: RunSpec
    recorder: Recorder
    wall_s: float
    traces: dict[str, Replay] = field(default_factory=dict)  # by workload name


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
        env = kernel.Environment()  # SimPy's, with the clock in a slot
        cluster = build(env, spec.scenario, spec.profiles, spec.seed, spec.replication,
                        recorder, traces)
        kernel.run(env, spec.scenario.duration)
        cluster.finish()
        kernel.discard(env)  # the run is over
        del cluster, env
        # the run's model is in cycles (the environment, the hosts with their pools, the
        # index): freed now, by a collection that looks only at what the run made (the rest
        # is frozen), not by a full one later that would look at everything
        gc.collect()
    return RunResult(spec, recorder, time.perf_counter() - started, traces)
