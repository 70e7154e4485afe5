"""Is the run long enough, and past its warm-up? The MSER-5 truncation rule on the running
level.

MSER-5 (White, Cobb and Spratt, 2000; Franklin and White, 2008) takes the output series in
batches of five, and truncates the first d batch means where the truncated mean has the
smallest standard error, ``MSER(d) = sum_{j > d} (Y_j - mean_{>d}(Y))^2 / (k - d)^2`` over
``d`` in the first half of the ``k`` batches. A minimum in the second half is no minimum: the
series has not settled (it is still filling or draining when the run ends).

Owns: the rule and its reading of a level. Must not: decide what to warn about
(``sim.planning.trust``).
"""

from __future__ import annotations

import numpy as np

BATCH = 5
POINTS = 500  # samples of the level over the run: 100 batches of five


def mser(series: np.ndarray, batch: int = BATCH) -> tuple[int, bool]:
    """The MSER-``batch`` truncation point of ``series`` as a number of samples, and whether
    it is a minimum within the first half of the batches (False: the series has not
    settled)."""
    k = len(series) // batch
    if k < 4:
        return 0, False
    means = series[: k * batch].reshape(k, batch).mean(axis=1)
    tail_sum = np.cumsum(means[::-1])[::-1]  # sum of means[d:]
    tail_sq = np.cumsum((means**2)[::-1])[::-1]
    count = np.arange(k, 0, -1, dtype=float)  # k - d
    variance_sum = tail_sq - tail_sum**2 / count  # sum of squared deviations of means[d:]
    half = k // 2
    stat = variance_sum[: half + 1] / count[: half + 1] ** 2
    if float(np.ptp(means)) == 0.0:
        return 0, True  # a constant level: nothing to truncate
    d = int(np.argmin(stat))
    return d * batch, d < half


def warmup_estimate(times: np.ndarray, values: np.ndarray, duration: float
                    ) -> tuple[float, bool]:
    """The warm-up MSER-5 finds in a piecewise-constant level (``times``, ``values``: where it
    changes and what it becomes) sampled at ``POINTS`` evenly spaced times over
    [0, ``duration``]: the time to cut, and whether the level settled within the run's first
    half."""
    grid = np.linspace(0.0, duration, POINTS, endpoint=False)
    if len(times) == 0:
        return 0.0, True
    index = np.searchsorted(times, grid, side="right") - 1
    sampled = np.where(index >= 0, values[np.clip(index, 0, None)], 0.0)
    cut, settled = mser(sampled.astype(float))
    return float(grid[cut]) if cut < len(grid) else duration, settled
