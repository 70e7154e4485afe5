"""Results folders: ``OUT/<name>/`` written whole or not at all, the checks before a run, the
staging folders a killed process left, and whether a folder already holds what a run would
write again.

Owns: how a results folder is replaced (a hidden staging sibling moved into place only when
complete, so an interrupted run never leaves a folder that looks finished and a failed run
leaves the previous results byte for byte as they were) and the folder's stamp
(``.written.json``: a fingerprint of what the folder was written from and the size and time
of each file in it). Must not: decide what a result file holds (``output``, ``report`` and
``plots`` do).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sim.errors import OutputError
from sim.run.leftovers import remove_left_over

STAMP = ".written.json"


def check_writable(out_root: Path, folders: tuple[str, ...] = ()) -> None:
    """Raise OutputError unless results could be written in ``out_root``, so a run fails before
    its first simulation rather than after its last. Nothing is left behind: a folder that
    does not exist yet is probed at its nearest existing parent (every part of the path in
    between must be free to become a folder), and is made only when results are written.
    ``folders``: names in ``out_root`` the results go into (the scenario's name, ``.runs``),
    which must be folders where they exist: a file of that name would be replaced."""
    existing = out_root
    try:
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            raise NotADirectoryError(f"{existing} is not a folder")
        probe = Path(tempfile.mkdtemp(prefix=f".write-check.{os.getpid()}.", dir=existing))
        probe.rmdir()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise OutputError(f"{out_root}: cannot write results there ({reason}); choose another "
                          "folder with --out") from None
    for name in folders:
        inside = out_root / name
        if (inside.exists() or inside.is_symlink()) and not inside.is_dir():
            raise OutputError(f"{inside}: a file, not a folder, where the results go; move it "
                              "or choose another folder with --out")


_STAGED = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[^.]+\.(partial|old)$")
_STAGED_BEFORE_PIDS = re.compile(r"^\..+\.[^.]+\.(partial|old)$")


def remove_stale(out_root: Path) -> list[Path]:
    """Remove the staging folders of results folders that a killed process left in
    ``out_root``; returns what was removed. (The run store cleans its own:
    ``Store.remove_stale``.)"""
    return remove_left_over(out_root, _STAGED, _STAGED_BEFORE_PIDS)


@contextlib.contextmanager
def staged(out_root: Path, name: str, carry: Callable[[str], bool]) -> Iterator[Path]:
    """A staging folder for ``out_root/name``: the files of the existing folder for which
    ``carry(file name)`` holds are copied in first; when the block ends without
    an exception the staging folder replaces the folder whole, else it is removed and the
    existing folder is left byte for byte as it was."""
    out_root.mkdir(parents=True, exist_ok=True)
    final = out_root / name
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.{os.getpid()}.", suffix=".partial",
                                    dir=out_root))
    staging.chmod(0o755)
    try:
        if final.is_dir():
            for kept in final.iterdir():
                if kept.is_file() and carry(kept.name):  # copied: a link would let the
                    shutil.copy2(kept, staging / kept.name)  # block rewrite the original
        yield staging
        if final.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{name}.{os.getpid()}.", suffix=".old",
                                          dir=out_root))
            os.replace(final, trash / "old")
            os.replace(staging, final)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def fingerprint(**inputs: Any) -> str:
    """A digest of everything a results folder is written from (JSON-serialisable values:
    the runs' keys, which carry the code's digest, the scenario, the command's options)."""
    text = json.dumps(inputs, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _files(folder: Path) -> dict[str, list[int]]:
    """Every file in ``folder`` but the stamp: [size, modification time in ns]."""
    out = {}
    for entry in sorted(folder.iterdir()):
        if entry.name != STAMP:
            info = entry.stat()
            out[entry.name] = [info.st_size, info.st_mtime_ns, int(entry.is_dir())]
    return out


def stamp(folder: Path, digest: str) -> None:
    """Record that ``folder``, as it is now, was written from ``digest``."""
    staging = folder / f".{STAMP}.{os.getpid()}.partial"
    staging.write_text(json.dumps({"fingerprint": digest, "files": _files(folder)}) + "\n")
    os.replace(staging, folder / STAMP)


def unchanged(folder: Path, digest: str) -> bool:
    """Whether ``folder`` is as ``stamp`` left it for ``digest``: written from the same
    inputs, and no file in it added, removed or changed since (by another command, say)."""
    try:
        recorded = json.loads((folder / STAMP).read_text())
        return recorded["fingerprint"] == digest and recorded["files"] == _files(folder)
    except (OSError, ValueError, KeyError, TypeError):
        return False
