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
import time
from pathlib import Path

import pandas as pd

from sim.run.results import RunOutput

STALE_AFTER_S = 3600.0  # a staging folder that names no process, older than this, is left over
_PARTIAL = re.compile(r"^\.partial-(?P<pid>\d+)-")  # a run being written, by process pid
_PARTIAL_BEFORE_PIDS = re.compile(r"^\.partial-")


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (this one does)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_left_over(folder: Path, owned: re.Pattern[str], unowned: re.Pattern[str]
                     ) -> list[Path]:
    """Remove the staging folders in ``folder`` whose writer is gone: those ``owned`` matches
    with a ``pid`` group of a process that no longer exists, and those only ``unowned``
    matches (named before staging folders carried a pid) older than ``STALE_AFTER_S``.
    Returns what was removed; a live process's folder is kept."""
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        if not entry.is_dir():
            continue
        match = owned.match(entry.name)
        if match:
            stale = not process_alive(int(match.group("pid")))
        elif unowned.match(entry.name):
            try:
                stale = time.time() - entry.stat().st_mtime > STALE_AFTER_S
            except OSError:
                stale = False
        else:
            stale = False
        if stale:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


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
        """Store ``out`` atomically (a run already stored under its key is kept)."""
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
