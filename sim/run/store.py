"""The run store: every completed run kept under its key, written atomically.

Owns: ``<out>/.runs/<key>/`` (``run.json`` with the metrics, ``instances.parquet``,
``timeseries.parquet``). A run is written into a temporary folder and renamed into place
only when complete, so an interrupted sweep or a killed worker never leaves a half-written run
that looks complete; rerunning skips runs already stored. Must not: run anything.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from sim.run.leftovers import remove_left_over

if TYPE_CHECKING:  # pandas is imported when a run is loaded: a command that only checks the
    from sim.run.results import RunOutput  # store or finds its results written needs none

_PARTIAL = re.compile(r"^\.partial-(?P<pid>\d+)-")  # a run being written, by process pid
_PARTIAL_BEFORE_PIDS = re.compile(r"^\.partial-")


class Store:
    """Completed runs under ``root``, one folder per run key."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def remove_stale(self) -> list[Path]:
        """Remove the half-written runs of killed processes; returns what was removed."""
        return remove_left_over(self.root, _PARTIAL, _PARTIAL_BEFORE_PIDS)

    def has(self, key: str) -> bool:
        """Whether run ``key`` is stored complete."""
        return (self.root / key / "run.json").is_file()

    def save(self, out: RunOutput) -> None:
        """Store ``out`` atomically (a run already stored under its key is kept, and not
        written again)."""
        if self.has(out.key):
            return
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".partial-{os.getpid()}-", dir=self.root))
        try:
            out.instances.to_parquet(staging / "instances.parquet", index=False)
            out.timeseries.to_parquet(staging / "timeseries.parquet", index=False)
            (staging / "run.json").write_text(json.dumps(out.identity(), indent=1))
            try:
                os.rename(staging, self.root / out.key)
            except OSError:  # stored meanwhile by another process: keep that one
                shutil.rmtree(staging, ignore_errors=True)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def load(self, key: str, tables: bool = True) -> RunOutput:
        """A stored run; without ``tables`` the instance and timeseries frames are empty."""
        import pandas as pd

        from sim.run.results import RunOutput

        folder = self.root / key
        data = json.loads((folder / "run.json").read_text())
        instances = pd.read_parquet(folder / "instances.parquet") if tables else pd.DataFrame()
        series = pd.read_parquet(folder / "timeseries.parquet") if tables else pd.DataFrame()
        return RunOutput(key=data["key"], variant=data["variant"], isolation=data["isolation"],
                         choices=data["choices"], parameters=data["parameters"],
                         replication=data["replication"], seed=data["seed"],
                         metrics=data["metrics"], instances=instances, timeseries=series,
                         host_peaks=data["host_peaks"], wall_s=data["wall_s"],
                         extra=data.get("extra", {}))
