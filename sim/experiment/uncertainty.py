"""Studies of a scenario's assumptions: the runs that move its uncertain inputs.

Each variant (a ``compare`` choice) has its own inputs (``sim.spec.uncertain.inputs``: the
scenario's ranges and the built-in estimates of the profiles and runtimes it uses). A study is
a list of rows, each setting every input (or, one at a time, one input) to a value; each row
is one run. Every run uses the scenario's seed and replication 0 (common random numbers), so
what moves between rows is the inputs, not the random draws.

Designs: ``band`` (Latin hypercube, for the spread of every metric over the assumptions),
``oat`` (the nominal run, then each input at its low and its high: a tornado chart), ``sobol``
(Saltelli's design for first-order and total indices) and ``morris`` (elementary effects, for
many inputs). The designs are SciPy's and SALib's, on the unit cube; each input maps a
quantile to its value.

Owns: the rows of a design and their run specs. Must not: run anything or compute indices
(``sim.analysis.sensitivity``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from SALib.sample import morris as morris_sample
from SALib.sample import sobol as sobol_sample
from scipy.stats import qmc

from sim.edge.loader import Loaded, TraceCache, derive
from sim.experiment.expand import RunSpec, apply, compared, variant_name
from sim.spec.uncertain import Input, inputs

DESIGNS = ("band", "oat", "sobol", "morris")
MORRIS_LEVELS = 4


@dataclass(frozen=True)
class Study:
    """One variant's design: its inputs, the rows' quantiles (None for ``oat``, whose rows
    are the nominal run and each input's two ends) and a run spec per row."""

    variant: str
    choices: tuple[tuple[str, str], ...]
    inputs: tuple[Input, ...]
    design: str
    unit: np.ndarray | None
    specs: tuple[RunSpec, ...]

    def problem(self) -> dict[str, Any]:
        """The design's problem as SALib states it (on the unit cube)."""
        return {"num_vars": len(self.inputs), "names": [i.path for i in self.inputs],
                "bounds": [[0.0, 1.0]] * len(self.inputs)}


def study_seed(seed: int, design: str, variant: str) -> int:
    """The seed of a design's sampler: fixed by the scenario's seed, the design and the
    variant, so a study is the same study on any machine."""
    digest = hashlib.sha256(f"{seed}/{design}/{variant}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def unit_rows(design: str, d: int, samples: int, seed: int) -> np.ndarray:
    """The design's points on the unit cube ``[0, 1]^d``: ``samples`` Latin hypercube rows
    (``band``), ``samples × (d + 2)`` Saltelli rows (``sobol``, first-order and total
    indices) or ``samples × (d + 1)`` rows of Morris trajectories (``morris``)."""
    if design == "band":
        return qmc.LatinHypercube(d=d, seed=seed).random(samples)
    problem = {"num_vars": d, "names": [f"x{i}" for i in range(d)],
               "bounds": [[0.0, 1.0]] * d}
    if design == "sobol":
        return np.asarray(sobol_sample.sample(problem, samples, calc_second_order=False,
                                              seed=seed))
    if design == "morris":
        return np.asarray(morris_sample.sample(problem, samples, num_levels=MORRIS_LEVELS,
                                               seed=seed))
    raise ValueError(f"unknown design {design!r}; one of {', '.join(DESIGNS)}")


def oat_rows(ins: tuple[Input, ...]) -> list[tuple[tuple[str, Any], ...]]:
    """The nominal run (no parameter set), then each input at its low, then at its high."""
    rows: list[tuple[tuple[str, Any], ...]] = [()]
    for inp in ins:
        rows += [((inp.path, inp.value(0.0)),), ((inp.path, inp.value(1.0)),)]
    return rows


def variants(loaded: Loaded) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    """Each variant of ``loaded``: its name and its ``compare`` choices, in expansion order."""
    combos: list[tuple[tuple[str, str], ...]] = [()]
    for axis, values in compared(loaded.scenario):
        combos = [c + ((axis, v),) for c in combos for v in values]
    return [(variant_name(choices), choices) for choices in combos]


def variant_inputs(loaded: Loaded, choices: tuple[tuple[str, str], ...]) -> tuple[Input, ...]:
    """The uncertain inputs of the variant ``choices`` of ``loaded``."""
    return tuple(inputs(apply(loaded.scenario, dict(choices)), loaded.profiles))


def studies(loaded: Loaded, design: str, samples: int, seed: int | None = None
            ) -> list[Study]:
    """A study per variant of ``loaded`` (a scenario without a sweep): ``study`` of each."""
    seen: TraceCache = {}
    return [study(loaded, choices, design, samples, seed, seen)
            for _, choices in variants(loaded)]


def study(loaded: Loaded, choices: tuple[tuple[str, str], ...], design: str, samples: int,
          seed: int | None = None, seen: TraceCache | None = None,
          skip: set[str] | None = None) -> Study:
    """The study of one variant (``choices``, as ``compare`` sets them) of ``loaded``.
    ``samples``: rows of a band, base samples of a Sobol design (a power of two),
    trajectories of a Morris one; ignored by ``oat``. ``seen``: traces already read;
    ``skip``: paths that are not inputs here (a plan's own host count)."""
    run_seed = loaded.scenario.seed if seed is None else seed
    name = variant_name(choices)
    ins = tuple(i for i in variant_inputs(loaded, choices) if i.path not in (skip or set()))
    unit = None
    if design == "oat":
        rows = oat_rows(ins)
    elif ins:
        unit = unit_rows(design, len(ins), samples, study_seed(run_seed, design, name))
        rows = [tuple((inp.path, inp.value(float(u))) for inp, u in zip(ins, row))
                for row in unit]
    else:
        rows = [()]
    specs = []
    for params in rows:
        point = derive(loaded, params, {} if seen is None else seen)
        specs.append(RunSpec(name, choices, params, apply(point.scenario, dict(choices)),
                             point.profiles, run_seed, 0))
    return Study(name, choices, ins, design, unit, tuple(specs))
