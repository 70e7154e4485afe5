"""What the charts share: each variant's colour, the time unit of an axis, a variant's
time series summed over its host groups.

Owns: those helpers (``sim.present.plots`` and ``sim.present.campaign`` draw with them). Must
not: draw a chart.
"""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

COLORS = {"process": "#1b9e77", "hyperv": "#d95f02", "vm": "#7570b3"}

def variant_color(name: str, i: int) -> Any:
    """The mode's own colour for a plain isolation variant; distinct colours otherwise (so
    that, e.g., process+best-fit and process+spread do not share one)."""
    if name in COLORS:
        return COLORS[name]
    return plt.get_cmap("tab10")(i % 10)


def time_scale(longest_s: float) -> tuple[float, str]:
    """(seconds per unit, unit) for an axis of durations up to ``longest_s``: s, min or h."""
    if longest_s > 3 * 3600:
        return 3600.0, "h"
    if longest_s > 180:
        return 60.0, "min"
    return 1.0, "s"


def time_unit(variants: list[Any]) -> tuple[float, str]:
    """(seconds per unit, unit) of a time axis as long as the longest run of ``variants``."""
    return time_scale(max(float(v.timeseries["time_s"].max()) for v in variants))


def series_of(v: Any, column: str, unit: float) -> tuple[np.ndarray, np.ndarray]:
    """Variant ``v``'s time series ``column``, summed over its host groups: (times in
    ``unit``, values)."""
    ts = v.timeseries.groupby("time_s")[column].sum()
    return ts.index.to_numpy() / unit, ts.to_numpy()


def variant_panels(variants: list[Any], width: float, top: float, per_row: float
                   ) -> tuple[Any, Any, float, str, float]:
    """A figure with a row per variant: a wide panel over time and a narrow one beside it
    (``width`` inches wide, ``top`` + ``per_row`` per variant high); with the time axis's
    unit (seconds per unit, name) and the latest sample time."""
    unit, label = time_unit(variants)
    fig, axes = plt.subplots(len(variants), 2, figsize=(width, top + per_row * len(variants)),
                             squeeze=False, gridspec_kw={"width_ratios": [3, 1]})
    end = max((float(v.timeseries["time_s"].max()) for v in variants if len(v.timeseries)),
              default=0.0)
    return fig, axes, unit, label, end
