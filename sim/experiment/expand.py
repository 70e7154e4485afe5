"""Experiments as data: a loaded scenario expands into the runs it asks for (sweep points ×
``compare`` variants × replications).

Owns: the pure expansion into ``RunSpec`` values and each run's identity (its store key).
Must not: import SimPy or the model, run anything (``sim.run.execute`` runs a spec), compute
statistics or write files.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim import __version__
from sim.edge.loader import Loaded
from sim.spec.config import COMPARE_AXES, ResolvedProfile, Scenario


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
        """The profiles this run's workloads and commands use."""
        return {name: self.profiles[name] for name in sorted(self.scenario.isolations())}

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
    root = Path(__file__).resolve().parents[1]  # the ``sim`` package
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
    axes = compared(base)
    specs: list[RunSpec] = []
    for point in loaded.points:
        for values in itertools.product(*(vals for _, vals in axes)):
            choices = tuple((key, value) for (key, _), value in zip(axes, values))
            name = variant_name(choices)
            scenario = apply(point.scenario, dict(choices))
            specs.extend(RunSpec(name, choices, point.parameters, scenario, point.profiles,
                                 run_seed, r) for r in range(count))
    return specs


def variant_name(choices: tuple[tuple[str, str], ...]) -> str:
    """A variant's name: its ``compare`` values joined with ``+`` (``hyperv+spread``), or
    ``base`` when nothing is compared."""
    return "+".join(value for _, value in choices) if choices else "base"


def compared(scenario: Scenario) -> list[tuple[str, list[str]]]:
    """The axes ``scenario`` compares, in the order of ``COMPARE_AXES``, each with its values
    (an axis without values is left out)."""
    if scenario.compare is None:
        return []
    return [(axis, list(values)) for axis in COMPARE_AXES
            if (values := getattr(scenario.compare, axis))]


def apply(scenario: Scenario, choices: dict[str, str]) -> Scenario:
    """The scenario with variant choices set, each where ``COMPARE_AXES`` says its axis sets
    (``isolation`` every workload's and the commands script's; ``placement`` and
    ``kernel_sharing`` the scenario's)."""
    update: dict[str, object] = {}
    workloads = scenario.workloads
    for axis, target in COMPARE_AXES.items():
        if axis not in choices:
            continue
        if target.every_workload:
            workloads = [wl.model_copy(update={target.field: choices[axis]}) for wl in workloads]
            update["workloads"] = workloads
            if scenario.commands is not None:
                update["commands"] = scenario.commands.model_copy(
                    update={target.field: choices[axis]})
        else:
            update[target.field] = choices[axis]
    return scenario.model_copy(update=update)


def as_cell(value: Any) -> Any:
    """A sweep value as a table cell: a number or text as it is, a mapping or list (a swept
    distribution, say) as its JSON text, so that rows group by it."""
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return value
