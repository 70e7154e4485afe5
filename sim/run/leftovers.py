"""Staging folders a killed process left behind: a run being written into the run store, or a
results folder being written, whose writer is gone.

Owns: when such a folder is left over (its writer's process no longer exists, or, for a
folder named before staging folders carried a process id, it is older than
``STALE_AFTER_S``). No pandas: every command that writes checks this before it starts.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

STALE_AFTER_S = 3600.0  # a staging folder that names no process, older than this, is left over


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
