"""The ``validate`` command: check scenarios without running them.

Owns: the one line printed per good scenario. Must not import SimPy (validating loads none).
"""

from __future__ import annotations

import argparse

from sim.cli.common import EXIT_BAD_INPUT, describe, fits, load


def command(args: argparse.Namespace) -> int:
    """Each file's problems, or ``FILE: ok (...)``; status 2 when any file has a problem."""
    status = 0
    for file in args.file:
        loaded = load(file)
        if loaded is None or not fits(loaded, args.force, None):
            status = EXIT_BAD_INPUT
        else:
            print(f"{file}: ok ({describe(loaded)})")
    return status
