"""``write_csv`` writes what ``DataFrame.to_csv`` writes, byte for byte, in less time."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.run.tables import write_csv

TEXT = st.one_of(st.none(), st.text(alphabet=st.sampled_from('ab ,"\n\r\'x;é'), max_size=6))
FLOAT = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                  st.sampled_from([0.0, -0.0, 5e-7, 0.5, 1e-300, 1e300, 2.5e-6, math.nan]))


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.tuples(FLOAT, st.integers(-2**63, 2**63 - 1), st.booleans(), TEXT),
                     max_size=12),
       float_format=st.sampled_from(["%.6f", "%.6g", "%.3e"]),
       string_dtype=st.booleans())
def test_the_same_bytes_as_pandas(tmp_path_factory, rows, float_format, string_dtype):
    frame = pd.DataFrame(rows, columns=["time_s", "id", "rejected", "host_name"])
    frame = frame.astype({"time_s": "float64", "id": "int64", "rejected": "bool",
                          "host_name": "str" if string_dtype else "object"})
    folder = tmp_path_factory.mktemp("csv")
    write_csv(frame, folder / "fast.csv", float_format)
    frame.to_csv(folder / "pandas.csv", index=False, float_format=float_format)
    assert (folder / "fast.csv").read_bytes() == (folder / "pandas.csv").read_bytes()


@pytest.mark.parametrize("frame", [
    pd.DataFrame({"when": pd.to_datetime(["2026-12-06"]), "x": [1.5]}),  # not a kind it knows
    pd.DataFrame({"mixed": ["a", 3]}),  # text mixed with numbers
    pd.DataFrame([[1.0, 2.0]], columns=["a", "a"]),  # a name twice
    pd.DataFrame({"x": pd.Series([1, None], dtype="Int64")}),  # pandas's nullable integers
    pd.DataFrame({"x": pd.Series([], dtype="float64")}),  # no rows
])
def test_what_it_does_not_know_pandas_writes(tmp_path, frame):
    write_csv(frame, tmp_path / "fast.csv", "%.6f")
    frame.to_csv(tmp_path / "pandas.csv", index=False, float_format="%.6f")
    assert (tmp_path / "fast.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()


def test_a_result_table_is_written_whole(tmp_path, monkeypatch):
    """A table with every kind of column the model's tables hold, and many rows, written in
    chunks of rows (of 333 here; memory stays that of a chunk's cells)."""
    from sim.run import tables

    monkeypatch.setattr(tables, "CHUNK_ROWS", 333)
    n = 5000
    rng = np.random.default_rng(1)
    times = rng.exponential(100.0, n)
    times[::7] = np.nan
    frame = pd.DataFrame({"variant": pd.Series(["process", "hyper,v"] * (n // 2), dtype="str"),
                          "id": np.arange(n), "arrival": times,
                          "rejected": rng.random(n) < 0.1})
    write_csv(frame, tmp_path / "fast.csv", "%.6f")
    frame.to_csv(tmp_path / "pandas.csv", index=False, float_format="%.6f")
    assert (tmp_path / "fast.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()
    assert len((tmp_path / "fast.csv").read_text().splitlines()) == n + 1


def test_runs_formatted_apart_make_the_table_of_them_all(tmp_path):
    """Each run's rows formatted on its own (where it ran), then written one after another,
    are the concatenation's CSV; frames whose columns' types differ are concatenated first."""
    from sim.run.tables import rows_text, write_parts

    def run(k, n):
        return pd.DataFrame({"variant": [f"v{k}"] * n, "x": np.arange(n) / 3.0 + k,
                             "n": np.arange(n), "ok": [True, False] * (n // 2) + [True] * (n % 2),
                             "origin": ["arrival", None] * (n // 2) + ["test"] * (n % 2)})

    frames = [run(0, 5), run(1, 1), run(2, 7)]
    assert len({tuple(map(str, f.dtypes)) for f in frames}) == 1  # the parts path
    write_csv(pd.concat(frames), tmp_path / "whole.csv", "%.6f")
    texts = [rows_text(frames[0], "%.6f"), None, rows_text(frames[2], "%.6f")]
    write_parts(tmp_path / "parts.csv", frames, texts, "%.6f")
    assert (tmp_path / "parts.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    mixed = [run(0, 3), run(1, 2).astype({"n": float})]  # int in one, float in the other
    write_csv(pd.concat(mixed), tmp_path / "whole2.csv", "%.6f")
    write_parts(tmp_path / "parts2.csv", mixed, [None, None], "%.6f")
    assert (tmp_path / "parts2.csv").read_bytes() == (tmp_path / "whole2.csv").read_bytes()
