"""Writing a long result table (``instances.csv``, ``timeseries.csv``) as CSV, byte for byte
as ``DataFrame.to_csv(index=False, float_format=...)`` writes it, in about half its time.

Owns: the CSV text of a table. pandas formats each float through a Python call per value;
here each float column is formatted in one pass (``float_format % value``, missing values
empty) and the rows go through the standard library's C ``csv.writer`` with pandas's dialect
(minimal quoting, ``\\n`` line ends), which is what ``to_csv`` itself calls. A column of any
other kind than numbers, booleans and text is left to pandas. Must not: decide what a table
holds.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def write_csv(frame: pd.DataFrame, path: Path, float_format: str) -> None:
    """``frame`` (no index) into ``path`` as ``frame.to_csv(path, index=False,
    float_format=float_format)`` would write it."""
    columns = ([_cells(frame[name], float_format) for name in frame.columns]
               if frame.columns.is_unique else [None])
    if any(cells is None for cells in columns):
        frame.to_csv(path, index=False, float_format=float_format)
        return
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([str(name) for name in frame.columns])
        writer.writerows(zip(*columns, strict=True))


def _cells(column: pd.Series, float_format: str) -> list[Any] | None:
    """A column's cells as ``csv.writer`` writes them to match pandas (None: a kind of column
    this does not know; pandas writes the table)."""
    kind = column.dtype.kind if isinstance(column.dtype, np.dtype) else "pandas's own"
    if kind == "f":
        values = column.to_numpy()
        cells = [float_format % v for v in values.tolist()]
        for i in np.flatnonzero(np.isnan(values)).tolist():  # missing: an empty cell
            cells[i] = ""
        return cells
    if kind in "iub":  # str() of an int or a bool is what pandas writes
        return column.to_numpy().tolist()
    if kind == "O" or isinstance(column.dtype, pd.StringDtype):
        cells = column.to_numpy(dtype=object, na_value=None).tolist()  # None: an empty cell
        return cells if all(c is None or isinstance(c, str) for c in cells) else None
    return None
