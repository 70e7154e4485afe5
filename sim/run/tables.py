"""Writing a long result table (``instances.csv``, ``timeseries.csv``) as CSV, byte for byte
as ``DataFrame.to_csv(index=False, float_format=...)`` writes it, in about half its time; and
each run's rows formatted where the run was (a pool's worker, as it finishes: ``rows_text``),
so that writing the table of many runs is mostly writing text (``write_parts``).

Owns: the CSV text of a table. pandas formats each float through a Python call per value;
here each float column is formatted in one pass (``float_format % value``, missing values
empty) and the rows go through the standard library's C ``csv.writer`` with pandas's dialect
(minimal quoting, ``\\n`` line ends), which is what ``to_csv`` itself calls. A column of any
other kind than numbers, booleans and text is left to pandas. The rows of several runs' tables
of the same columns and types are the rows of their concatenation, so each run's may be
formatted on its own. Must not: decide what a table holds.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FORMATS = {"instances": "%.6f", "timeseries": "%.6g"}  # the result tables' float formats
CHUNK_ROWS = 50_000  # rows formatted at a time: the cells of a whole table of a million rows
# as Python strings would take gigabytes (pandas writes in chunks too)


def write_csv(frame: pd.DataFrame, path: Path, float_format: str) -> None:
    """``frame`` (no index) into ``path`` as ``frame.to_csv(path, index=False,
    float_format=float_format)`` would write it."""
    if not _fast(frame):
        frame.to_csv(path, index=False, float_format=float_format)
        return
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([str(name) for name in frame.columns])
        _rows(writer, frame, float_format)


def rows_text(frame: pd.DataFrame, float_format: str) -> str:
    """The rows ``write_csv`` writes for ``frame``, without the header, as text."""
    buffer = io.StringIO()
    if not _fast(frame):
        frame.to_csv(buffer, index=False, header=False, float_format=float_format)
    else:
        _rows(csv.writer(buffer, lineterminator="\n"), frame, float_format)
    return buffer.getvalue()


def write_parts(path: Path, frames: list[pd.DataFrame], texts: list[str | None],
                float_format: str) -> None:
    """``pd.concat(frames)`` into ``path`` as ``write_csv`` would write it: when every frame
    has the same columns of the same types, the header and each frame's rows in turn (its
    ``texts`` entry, ``rows_text`` made where its run was, or formatted now); otherwise the
    concatenation itself."""
    kinds = {tuple(zip(map(str, frame.columns), map(str, frame.dtypes), strict=True))
             for frame in frames}
    if len(kinds) != 1:
        write_csv(pd.concat(frames), path, float_format)
        return
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerow([str(n) for n in frames[0].columns])
        for frame, text in zip(frames, texts, strict=True):
            handle.write(text if text is not None else rows_text(frame, float_format))


def _fast(frame: pd.DataFrame) -> bool:
    """Whether every column is of a kind ``_cells`` writes (else pandas writes the table)."""
    return frame.columns.is_unique and all(_known(frame[name]) for name in frame.columns)


def _rows(writer: Any, frame: pd.DataFrame, float_format: str) -> None:
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
