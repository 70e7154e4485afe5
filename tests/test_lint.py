"""The code's own checks, run by the test command so CI enforces them: ruff with the rule set in
pyproject.toml (private members outside the kernel, complexity at most 15, imports sorted) and
mypy with the pydantic plugin, both with no finding."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True,
                          text=True, check=False)


def test_ruff_finds_nothing():
    if shutil.which("ruff") is None and _run("ruff", "--version").returncode != 0:
        pytest.fail("ruff is not installed: pip install -e '.[test]'")
    done = _run("ruff", "check", "sim", "tests", "scripts", "benchmarks")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_mypy_finds_nothing():
    done = _run("mypy", "sim")
    assert done.returncode == 0, done.stdout + done.stderr
