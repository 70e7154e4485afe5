"""Statistics across runs: per variant and sweep point, the mean, standard deviation and 95 %
confidence half-width (Student's t) of every metric over the replications.

Owns: how replications are combined. Must not: run the model, know how a run's results are
stored, or write files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd

from sim.analysis.dotted import leaves, tree
from sim.analysis.metrics import clean


class HasMetrics(Protocol):
    """A run's results as far as combining them goes: its nested metrics (``RunOutput``)."""

    metrics: dict[str, Any]


def numeric_metrics(frame: pd.DataFrame, exclude: list[str]) -> list[str]:
    """The metric columns of a runs frame that hold numbers."""
    return [c for c in frame.columns if c not in exclude
            and pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(
                frame[c])]


def ci95_half_width(values: np.ndarray) -> float:
    """Half-width of the 95 % confidence interval of the mean (Student's t); NaN for n < 2."""
    n = len(values)
    if n < 2:
        return math.nan
    from scipy import special  # here: a run with one replication needs no SciPy (0.3 s)

    # Student's t quantile: what stats.t.ppf computes, without importing scipy.stats (0.5 s)
    return float(special.stdtrit(n - 1, 0.975) * np.std(values, ddof=1) / math.sqrt(n))


def aggregate(runs: pd.DataFrame, parameters: list[str]) -> pd.DataFrame:
    """Per variant × sweep point × metric: mean, std, ci95 (half-width) and n, in long form."""
    group_by = ["variant", *parameters]
    exclude = [*group_by, "replication", "seed", "key"]
    metrics = numeric_metrics(runs, exclude)
    rows = []
    for keys, group in runs.groupby(group_by, sort=False, dropna=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        for metric in metrics:
            values = group[metric].dropna().to_numpy(dtype=float)
            rows.append({**dict(zip(group_by, keys)), "metric": metric,
                         "mean": float(values.mean()) if len(values) else math.nan,
                         "std": float(values.std(ddof=1)) if len(values) > 1 else math.nan,
                         "ci95": ci95_half_width(values), "n": len(values)})
    return pd.DataFrame(rows)


def mean_metrics(outputs: Sequence[HasMetrics]) -> dict[str, Any]:
    """The replications' metrics averaged, in the nested shape of ``summary.json``; with more
    than one replication, ``replications`` and ``ci95`` (half-widths by metric) are added."""
    flats = [leaves(o.metrics) for o in outputs]
    merged: dict[tuple[str, ...], Any] = {}
    ci: dict[str, float] = {}
    for path in flats[0]:
        values = [f.get(path) for f in flats]
        numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if len(numbers) == len(values) and len(outputs) > 1:
            merged[path] = float(np.mean(numbers))
            ci[".".join(path)] = ci95_half_width(np.asarray(numbers, dtype=float))
        elif len(outputs) > 1 and numbers:
            merged[path] = float(np.mean(numbers))
        else:
            merged[path] = values[0]
    result = tree(merged)
    if len(outputs) > 1:
        result["replications"] = len(outputs)
        result["ci95"] = clean(ci)
    return result
