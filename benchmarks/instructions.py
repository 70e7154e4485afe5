"""Instructions per request, counted, not timed: the full model's variants and the floor,
side by side (needs ``valgrind``; Debian's package of that name).

    python benchmarks/instructions.py [--hosts 2000] [--requests 10000]
                                      [--variants process,hyperv,vm]

On a shared machine the same run takes ±20 % more or less time minutes apart, which hides a
change of a few per cent; the instructions a run executes do not vary. Each case runs under
``valgrind --tool=cachegrind --cache-sim=no`` twice, with ``--requests`` and with
``--small`` requests (imports and building the hosts cost the same in both), and the
difference divided by the difference in requests is printed, with the floor's per instance
(``floor.same_lifecycle``: one mode's share of the arrivals over 4 h, with the example's
lifetimes). Instructions are not time: the model touches many more objects
per step than the floor, so it runs fewer instructions per second (compare a change's
instructions with the same case's, before and after it).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# One variant of the full model (``run.full_shape``), simulated only: what ``--requests``
# counts is the variant's requests (the shape spreads its arrivals over the three modes).
_MODEL = """
import sys, yaml
sys.path[:0] = [{here!r}, {root!r}]
from run import full_shape
from sim.experiment.expand import expand
from sim.run.execute import run
from sim.edge.loader import load_text
specs = expand(load_text(yaml.safe_dump(full_shape({hosts}, 3 * {requests})), "full"))
print(len(run(next(s for s in specs if s.variant == {variant!r})).recorder.table()["id"]))
"""

# The floor of the same lifecycle (``floor.same_lifecycle``), one mode's run of ``requests``.
_FLOOR = """
import sys
sys.path[:0] = [{here!r}, {root!r}]
from floor import same_lifecycle
from run import full_lifecycle, full_shape
same_lifecycle({requests}, {hosts}, **{{**full_lifecycle(full_shape({hosts}, 3)), "modes": 1}})
print({requests})
"""


def instructions(code: str) -> tuple[int, int]:
    """Instructions ``python -c code`` executes (valgrind's count, whole process), and the
    requests it printed."""
    # the same hash order and one BLAS thread in every run (without them counts moved ~1 %)
    env = {**os.environ, "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1"}
    out = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
         sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    found = re.search(r"I\s+refs:\s+([\d,]+)", out.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{out.stderr}")
    return int(found.group(1).replace(",", "")), int(out.stdout.split()[-1])


def per_request(template: str, hosts: int, requests: int, small: int, **extra: str) -> float:
    """Instructions per request: the run with about ``requests`` less the run with about
    ``small``, over the difference in the requests they made (arrivals are random)."""
    def count(n: int) -> tuple[int, int]:
        return instructions(template.format(here=str(HERE), root=str(HERE.parent),
                                            hosts=hosts, requests=n, **extra))
    (big, made), (base, few) = count(requests), count(small)
    return (big - base) / (made - few)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=10000,
                        help="requests per variant (default 10000)")
    parser.add_argument("--small", type=int, default=10,
                        help="requests in the run subtracted (default 10)")
    parser.add_argument("--variants", default="process,hyperv,vm")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (Debian: apt-get install valgrind)")
    if args.requests <= args.small:
        parser.error("--requests must be more than --small")
    floor = per_request(_FLOOR, args.hosts, args.requests, args.small)
    print(f"{'case':<10}{'hosts':>8}{'requests':>10}{'instructions/request':>22}"
          f"{'/ floor':>9}")
    print(f"{'floor':<10}{args.hosts:>8,}{args.requests:>10,}{floor:>22,.0f}{1.0:>9.2f}",
          flush=True)
    for variant in args.variants.split(","):
        model = per_request(_MODEL, args.hosts, args.requests, args.small, variant=variant)
        print(f"{variant:<10}{args.hosts:>8,}{args.requests:>10,}{model:>22,.0f}"
              f"{model / floor:>9.2f}", flush=True)


if __name__ == "__main__":
    main()
