"""Calls shared with forked processes (``sim.run.forks.shared``): every call made once, on
this process and the children, what became of each told in call order."""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path

from sim.run.forks import shared


def _write(folder: Path, i: int, fail: bool = False) -> None:
    time.sleep(0.1)  # long enough for every process to take some
    (folder / f"{i}").write_text(str(os.getpid()))
    if fail:
        raise ValueError(f"call {i} fails")


def test_every_call_is_made_once_on_this_process_and_a_forked_one(tmp_path):
    calls = [functools.partial(_write, tmp_path, i) for i in range(8)]
    assert shared(calls, 2) == [""] * 8
    pids = [int((tmp_path / f"{i}").read_text()) for i in range(8)]
    assert os.getpid() in pids
    assert len(set(pids)) == 2  # a child took some


def test_one_process_or_one_call_makes_them_here(tmp_path):
    assert shared([functools.partial(_write, tmp_path, i) for i in range(3)], 1) == [""] * 3
    assert shared([functools.partial(_write, tmp_path, 3)], 4) == [""]
    assert {int((tmp_path / f"{i}").read_text()) for i in range(4)} == {os.getpid()}


def test_a_failure_is_told_in_its_place_and_the_other_calls_are_made(tmp_path):
    calls = [functools.partial(_write, tmp_path, i, fail=i in (1, 4)) for i in range(6)]
    told = shared(calls, 3)
    assert [bool(t) for t in told] == [False, True, False, False, True, False]
    assert "ValueError: call 1 fails" in told[1] and "call 4 fails" in told[4]
    assert sorted(p.name for p in tmp_path.iterdir()) == [str(i) for i in range(6)]


def test_a_child_that_ends_mid_call_leaves_a_failure_in_that_calls_place(tmp_path):
    """The child ends its process in the first call it takes (here it would end the test):
    that call is told as failed, with the child's exit code; this process makes the rest."""
    here = os.getpid()

    def call(i: int) -> None:
        if os.getpid() != here:
            os._exit(9)
        time.sleep(0.2)  # the child starts and takes a call meanwhile
        (tmp_path / f"{i}").write_text(str(i))

    told = shared([functools.partial(call, i) for i in range(6)], 2)
    lost = [i for i, t in enumerate(told) if t]
    assert len(lost) == 1
    assert "ended without telling" in told[lost[0]] and "exit codes 9" in told[lost[0]]
    assert sorted(p.name for p in tmp_path.iterdir()) == [str(i) for i in range(6)
                                                           if i not in lost]
