"""How long reading a trace takes (not a timed test): each trace read in a fresh process, so
that neither the per-process memo nor the page cache of an earlier read of the same process
flatters it (the OS page cache does warm up; the first figure of a cold machine is higher).

    python benchmarks/trace_load.py [FILE_OR_FORMAT ...]

With no arguments, reads the shipped Azure sample and, where ``/work/shared/data/traces`` is
present, the full Azure V1 test split, the six Google 2011 task_events parts and the Azure LLM
conversation trace. Prints instances, digest time, parse time and instances per second.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path("/work/shared/data/traces")
CASES: list[tuple[str, dict[str, Any]]] = [
    ("shipped Azure sample (first day of v1.test)",
     {"format": "azure-v1", "path": str(ROOT / "sim/data/traces/azure-v1/v1.test.day1.txt")}),
    ("Azure V1 test split (full)",
     {"format": "azure-v1",
      "path": str(SHARED / "azure-v1-huawei-rnn/traces/v1.test.txt")}),
    ("Google 2011 task_events, parts 0-5",
     {"format": "google-2011", "path": str(SHARED / "google-2011-borg/task_events/part-*.gz"),
      "machine": {"cpu": 32, "memory": "128GiB"}}),
    ("Azure LLM conversation trace (csv)",
     {"format": "csv", "time_unit": "datetime", "columns": {"arrival": "TIMESTAMP"},
      "path": str(SHARED / "azure-llm-inference-2023/AzureLLMInferenceTrace_conv.csv")}),
]


def _measure(options: dict[str, Any]) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from sim.edge import traces
    from sim.spec.config import TraceArrivals

    spec = TraceArrivals.model_validate({"kind": "trace", **options})
    started = time.perf_counter()
    files = traces.files_of(spec)
    traces.digest(files)
    digested = time.perf_counter()
    table = traces.read(spec)
    done = time.perf_counter()
    return {"instances": len(table), "digest_s": digested - started,
            "total_s": done - started}


def main() -> None:
    """Print one line per trace."""
    context = multiprocessing.get_context("spawn")
    for name, options in CASES:
        if not Path(options["path"]).parent.exists():
            print(f"{name}: not here, skipped")
            continue
        with context.Pool(1) as pool:
            r = pool.apply(_measure, (options,))
        print(f"{name}: {r['instances']:,} instances in {r['total_s']:.2f} s "
              f"(digest {r['digest_s']:.2f} s; {r['instances'] / r['total_s']:,.0f}/s)")


if __name__ == "__main__":
    main()
