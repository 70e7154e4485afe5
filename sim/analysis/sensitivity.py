"""Which assumptions move a metric, and by how much: the spread of a metric over sampled
inputs, one-at-a-time swings, and variance-based indices.

Owns: the statistics of an uncertainty study from its rows' metric values: ``band`` (median
and the 5-95 % band), ``swings`` (each input alone at its low and high: a tornado chart),
``sobol`` (first-order and total indices with their 95 % confidence half-widths, SALib's
estimators on Saltelli's design) and ``morris`` (mean absolute elementary effect μ* with its
confidence half-width, and σ). Must not: run anything or decide which rows to run
(``sim.experiment.uncertainty``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # SALib and the designs load only when a study is analysed
    from sim.experiment.uncertainty import Study
    from sim.spec.uncertain import Input

RESAMPLES = 200  # bootstrap resamples behind the confidence intervals


def _number(value: Any) -> float:
    if value is None or isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def band(values: Sequence[Any]) -> dict[str, float] | None:
    """Median and 5 % / 95 % quantiles of the values that are numbers (None if none is)."""
    numbers = np.array([v for v in map(_number, values) if math.isfinite(v)])
    if numbers.size == 0:
        return None
    p5, median, p95 = np.quantile(numbers, [0.05, 0.5, 0.95])
    return {"p5": float(p5), "median": float(median), "p95": float(p95),
            "samples": int(numbers.size)}


def swings(inputs: Sequence[Input], values: Sequence[Any]) -> tuple[float, list[dict[str, Any]]]:
    """The nominal value and, per input, the metric with the input at its low and at its
    high (``values``: the ``oat`` rows' metric, nominal first). ``swing``: high minus low."""
    numbers = [_number(v) for v in values]
    out = []
    for k, inp in enumerate(inputs):
        low, high = numbers[1 + 2 * k], numbers[2 + 2 * k]
        out.append({"path": inp.path, "low": inp.value(0.0), "high": inp.value(1.0),
                    "low_value": low, "high_value": high, "swing": high - low})
    return numbers[0], out


def _usable(values: Sequence[Any]) -> np.ndarray | None:
    y = np.array([_number(v) for v in values])
    return y if y.size and bool(np.all(np.isfinite(y))) else None


def sobol(study: Study, values: Sequence[Any], seed: int) -> list[dict[str, float]] | None:
    """First-order (``S1``) and total (``ST``) Sobol indices per input with 95 % confidence
    half-widths (``S1_conf``, ``ST_conf``); None when the metric is missing in a row (a
    study cannot be judged on part of its design). A metric that does not vary has no
    variance to share: every index 0."""
    from SALib.analyze import sobol as sobol_analyze

    y = _usable(values)
    if y is None:
        return None
    d = len(study.inputs)
    if float(np.var(y)) == 0.0:
        return [{"S1": 0.0, "S1_conf": 0.0, "ST": 0.0, "ST_conf": 0.0} for _ in range(d)]
    result = sobol_analyze.analyze(study.problem(), y, calc_second_order=False,
                                   num_resamples=RESAMPLES, conf_level=0.95, seed=seed)
    return [{key: float(result[key][k]) for key in ("S1", "S1_conf", "ST", "ST_conf")}
            for k in range(d)]


def morris(study: Study, values: Sequence[Any], seed: int) -> list[dict[str, float]] | None:
    """Morris screening per input: ``mu_star`` (the mean absolute elementary effect of moving
    the input across its whole range), its 95 % confidence half-width and ``sigma`` (the
    effects' spread: interaction or non-linearity); None when the metric is missing in a
    row."""
    from SALib.analyze import morris as morris_analyze

    from sim.experiment.uncertainty import MORRIS_LEVELS

    y = _usable(values)
    if y is None or study.unit is None:
        return None
    result = morris_analyze.analyze(study.problem(), study.unit, y, num_resamples=RESAMPLES,
                                    conf_level=0.95, num_levels=MORRIS_LEVELS, seed=seed)
    return [{"mu_star": float(result["mu_star"][k]),
             "mu_star_conf": float(result["mu_star_conf"][k]),
             "sigma": float(result["sigma"][k])} for k in range(len(study.inputs))]


def rank_key(entry: dict[str, Any]) -> float:
    """How an input ranks: its total index, else its μ*, else its swing's size."""
    for key in ("ST", "mu_star"):
        value = entry.get(key)
        if value is not None and math.isfinite(value):
            return -value
    swing = entry.get("swing")
    return -abs(swing) if swing is not None and math.isfinite(swing) else math.inf
