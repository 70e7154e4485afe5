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

CHUNK_ROWS = 50_000  # rows formatted at a time: the cells of a whole table of a million rows
# as Python strings would take gigabytes (pandas writes in chunks too)


def write_csv(frame: pd.DataFrame, path: Path, float_format: str) -> None:
    """``frame`` (no index) into ``path`` as ``frame.to_csv(path, index=False,
    float_format=float_format)`` would write it."""
    if not frame.columns.is_unique or not all(_known(frame[name]) for name in frame.columns):
        frame.to_csv(path, index=False, float_format=float_format)
        return
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([str(name) for name in frame.columns])
        for first in range(0, len(frame), CHUNK_ROWS):
            chunk = frame.iloc[first:first + CHUNK_ROWS]
            writer.writerows(zip(*(_cells(chunk[name], float_format) for name in frame.columns),
                                 strict=True))


def _known(column: pd.Series) -> bool:
    """Whether ``_cells`` writes this column as pandas does: NumPy numbers and booleans, and
    text (with missing values); anything else (dates, pandas's nullable integers, text
    mixed with numbers) is left to pandas."""
    if isinstance(column.dtype, np.dtype) and column.dtype.kind in "fiub":
        return True
    if column.dtype.kind == "O" or isinstance(column.dtype, pd.StringDtype):
        return pd.api.types.infer_dtype(column, skipna=True) in ("string", "empty")
    return False


def _cells(column: pd.Series, float_format: str) -> list[Any]:
    """A column's cells (of a kind ``_known`` accepts) as ``csv.writer`` writes them to match
    pandas."""
    if column.dtype.kind == "f":
        values = column.to_numpy()
        cells = [float_format % v for v in values.tolist()]
        for i in np.flatnonzero(np.isnan(values)).tolist():  # missing: an empty cell
            cells[i] = ""
        return cells
    if column.dtype.kind in "iub":  # str() of an int or a bool is what pandas writes
        return column.to_numpy().tolist()
    return column.to_numpy(dtype=object, na_value=None).tolist()  # None: an empty cell
