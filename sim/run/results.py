"""One run's results, as a worker sends them back, the run store keeps them and the result
files are written from them.

Owns: ``RunOutput`` and the table of many runs' outputs (``runs_frame``). Must not: import
the model (presentation reads results through this module) or compute statistics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from sim.analysis.dotted import flatten
from sim.experiment.expand import as_cell


@dataclass
class RunOutput:
    """One run's identity, metrics and tables."""

    key: str
    variant: str
    isolation: str
    choices: dict[str, str]
    parameters: dict[str, Any]
    replication: int
    seed: int
    metrics: dict[str, Any]
    instances: pd.DataFrame
    timeseries: pd.DataFrame
    host_peaks: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)  # pipelines: runs, end state, series
    # its tables' rows as CSV text (``sim.run.tables.rows_text``), made where it ran when that
    # was a pool's worker; the store does not keep them
    csv: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The variant name (what ``summary.json`` keys results by)."""
        return self.variant

    def identity(self) -> dict[str, Any]:
        """Everything but the tables, JSON-ready."""
        return {"key": self.key, "variant": self.variant, "isolation": self.isolation,
                "choices": self.choices, "parameters": self.parameters,
                "replication": self.replication, "seed": self.seed, "wall_s": self.wall_s,
                "host_peaks": self.host_peaks, "metrics": self.metrics, "extra": self.extra}


def with_parameters(frame: pd.DataFrame, out: RunOutput) -> pd.DataFrame:
    """``frame`` (one of ``out``'s tables) with a column per sweep parameter of its point,
    after its first three (variant, replication, seed)."""
    if not out.parameters:
        return frame
    frame = frame.copy()
    for i, (path, value) in enumerate(out.parameters.items()):
        frame.insert(3 + i, path, str(value))
    return frame


def runs_frame(outputs: list[RunOutput]) -> pd.DataFrame:
    """One row per run: variant, sweep parameters, replication, seed, key, every metric."""
    rows = []
    for out in outputs:
        row: dict[str, Any] = {"variant": out.variant,
                               **{k: as_cell(v) for k, v in out.parameters.items()},
                               "replication": out.replication, "seed": out.seed,
                               "key": out.key}
        row.update({k: v for k, v in flatten(out.metrics).items() if k not in row})
        rows.append(row)
    frame = pd.DataFrame(rows)
    for column in [c for c in frame.columns if frame[c].dtype.kind == "O"]:
        # a column of several kinds (a swept batch of 1 and 50%) is written as text:
        # a columnar file holds one type per column
        kinds = {type(v) for v in frame[column] if v is not None and v == v}
        if len(kinds) > 1:
            frame[column] = frame[column].map(lambda v: v if v is None else str(v))
    return frame
