"""Fitting a profile's distribution to measured samples, instead of typing numbers by hand.

Owns: reading a column of measurements, the maximum-likelihood lognormal fit (SciPy) reported
as the scenario format's ``median`` and ``p95``, and the empirical percentiles beside it.
Must not: run the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from sim.experiment.rng import Z95


@dataclass(frozen=True)
class Fitted:
    """A lognormal fit (seconds) and the sample's own percentiles."""

    n: int
    median: float
    p95: float
    sample_p50: float
    sample_p95: float
    ks_statistic: float

    def yaml(self) -> str:
        """The fit as a distribution in the scenario format: a constant where the median and
        the p95 are the same as written (samples all alike), which a lognormal cannot be."""
        median, p95 = f"{self.median * 1e3:.4g}ms", f"{self.p95 * 1e3:.4g}ms"
        if median == p95:
            return f"{{dist: constant, value: {median}}}"
        return f"{{dist: lognormal, median: {median}, p95: {p95}}}"


def read_column(path: str | Path, column: int = 1, scale: float = 1.0) -> np.ndarray:
    """Column ``column`` (1-based) of a whitespace- or comma-separated file, times ``scale``
    (e.g. 1e-6 for microseconds to seconds). Lines starting with ``#`` are skipped."""
    values = []
    try:
        lines = Path(path).read_text(encoding="utf-8").split("\n")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8 or "
                         "plain ASCII") from None
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        fields = text.replace(",", " ").split()
        if len(fields) < column:
            raise ValueError(f"{path}:{number}: no column {column} (the line has "
                             f"{len(fields)}): {text!r}")
        try:
            value = float(fields[column - 1]) * scale
        except ValueError:
            raise ValueError(f"{path}:{number}: column {column} is not a number: "
                             f"{text!r}") from None
        if not math.isfinite(value):
            raise ValueError(f"{path}:{number}: column {column} is not a finite number: "
                             f"{text!r}")
        values.append(value)
    if not values:
        raise ValueError(f"{path}: no samples")
    return np.asarray(values)


def fit_lognormal(samples: np.ndarray) -> Fitted:
    """Maximum-likelihood lognormal (location fixed at 0) of positive ``samples``."""
    data = np.asarray(samples, dtype=float)
    if (data <= 0).any():
        raise ValueError("a lognormal needs positive samples")
    sigma, _, scale = stats.lognorm.fit(data, floc=0)
    ks = stats.kstest(data, "lognorm", args=(sigma, 0, scale)).statistic
    return Fitted(len(data), float(scale), float(scale * math.exp(Z95 * sigma)),
                  float(np.percentile(data, 50)), float(np.percentile(data, 95)), float(ks))


def empirical(samples: np.ndarray, points: int = 101) -> str:
    """The sample as an ``empirical`` distribution of ``points`` evenly spaced quantiles."""
    quantiles = np.percentile(np.asarray(samples, dtype=float), np.linspace(0, 100, points))
    values = ", ".join(f"{q * 1e3:.4g}ms" for q in quantiles)
    return f"{{dist: empirical, values: [{values}]}}"
