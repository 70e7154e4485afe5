"""Experiments as data: a loaded scenario expands into the runs it asks for, and each run is
built and executed on its own SimPy environment.

Owns: the pure expansion of ``compare`` variants into ``RunSpec`` values, and running one spec.
Must not: compute statistics or write files.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import simpy

from sim.config import ResolvedProfile, Scenario
from sim.loader import Loaded
from sim.model.cluster import build
from sim.recorder import Recorder


@dataclass(frozen=True)
class RunSpec:
    """One run: a scenario with its variant applied, the seed and the replication."""

    variant: str
    parameters: tuple[tuple[str, str], ...]
    scenario: Scenario
    profiles: dict[str, ResolvedProfile]
    seed: int
    replication: int = 0


def expand(loaded: Loaded, seed: int | None = None) -> list[RunSpec]:
    """The runs of a scenario: one per ``compare`` combination (``base`` without compare).

    Variants share the seed, so they see the same arrivals, lifetimes and app start-ups.
    """
    scenario = loaded.scenario
    run_seed = scenario.seed if seed is None else seed
    axes: list[tuple[str, list[str]]] = []
    if scenario.compare is not None:
        if scenario.compare.isolation:
            axes.append(("isolation", list(scenario.compare.isolation)))
        if scenario.compare.placement:
            axes.append(("placement", list(scenario.compare.placement)))
    if not axes:
        return [RunSpec("base", (), scenario, loaded.profiles, run_seed)]
    specs = []
    for values in itertools.product(*(vals for _, vals in axes)):
        params = tuple((key, value) for (key, _), value in zip(axes, values))
        specs.append(RunSpec("+".join(values), params, apply(scenario, dict(params)),
                             loaded.profiles, run_seed))
    return specs


def apply(scenario: Scenario, params: dict[str, str]) -> Scenario:
    """The scenario with variant parameters set (``isolation`` sets every workload's)."""
    update: dict[str, object] = {}
    if "isolation" in params:
        update["workloads"] = [wl.model_copy(update={"isolation": params["isolation"]})
                               for wl in scenario.workloads]
    if "placement" in params:
        update["placement"] = params["placement"]
    return scenario.model_copy(update=update)


@dataclass
class RunResult:
    """What one run recorded, and how long it took on the wall clock."""

    spec: RunSpec
    recorder: Recorder
    wall_s: float
    pulled_bytes: float


def run(spec: RunSpec) -> RunResult:
    """Build and run one spec to the scenario's duration."""
    started = time.perf_counter()
    env = simpy.Environment()
    recorder = Recorder()
    cluster = build(env, spec.scenario, spec.profiles, spec.seed, spec.replication, recorder)
    env.run(until=spec.scenario.duration)
    return RunResult(spec, recorder, time.perf_counter() - started, cluster.pulled_bytes)
