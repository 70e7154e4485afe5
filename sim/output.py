"""Writing a scenario's results: ``summary.json``, ``instances.csv``, ``timeseries.csv``,
``scenario.resolved.yaml`` and the charts, into ``OUT/<scenario name>/``.

Owns: every file the simulator writes. Results are written into a hidden sibling folder and
moved into place only when complete, so an interrupted run never leaves a folder that looks
finished. Must not: run the model.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from sim import analysis
from sim.experiment import RunResult


@dataclass
class VariantResult:
    """One variant's tables and metrics, ready to write and to chart."""

    name: str
    isolation: str
    metrics: dict[str, Any]
    instances: pd.DataFrame
    timeseries: pd.DataFrame
    host_peaks: list[float]


def collect(result: RunResult) -> VariantResult:
    """Turn one run's recorded facts into tables and metrics."""
    spec = result.spec
    scenario = spec.scenario
    rec = result.recorder
    frame = analysis.instances_frame(rec.instances)
    hosts = pd.DataFrame(rec.hosts)
    names = dict(zip(hosts["host"], hosts["name"])) if len(hosts) else {}
    frame.insert(5, "host_name", frame["host"].map(names).fillna(""))
    capacity = sum((g.memory - g.reserved_memory) * g.count for g in scenario.hosts)
    modes = sorted({wl.isolation for wl in scenario.workloads})
    isolation = modes[0] if len(modes) == 1 else "mixed"
    metrics = {"isolation": isolation, **dict(spec.parameters)}
    metrics.update(analysis.summarize(frame, rec.levels, rec.host_levels, capacity,
                                      scenario.warmup, scenario.duration))
    frame.insert(0, "variant", spec.variant)
    series = pd.DataFrame(rec.samples)
    series.insert(0, "variant", spec.variant)
    peaks = analysis.per_host_peaks(rec.host_levels, len(rec.hosts), scenario.warmup,
                                    scenario.duration)
    return VariantResult(spec.variant, isolation, metrics, frame, series, peaks)


def summary(scenario_name: str, seed: int, duration: float, warmup: float,
            variants: list[VariantResult]) -> dict[str, Any]:
    """The content of ``summary.json``."""
    return analysis.clean({
        "name": scenario_name, "seed": seed, "duration_s": duration, "warmup_s": warmup,
        "variants": {v.name: v.metrics for v in variants},
    })


def write(out_root: Path, scenario_name: str, summary_data: dict[str, Any],
          variants: list[VariantResult], resolved: dict[str, Any],
          charts: Any = None) -> Path:
    """Write every result file into ``out_root/scenario_name`` atomically; returns that path.

    ``charts`` is called with the staging folder to draw the PNG files there.
    """
    out_root.mkdir(parents=True, exist_ok=True)
    final = out_root / scenario_name
    staging = Path(tempfile.mkdtemp(prefix=f".{scenario_name}.", suffix=".partial",
                                    dir=out_root))
    staging.chmod(0o755)
    try:
        (staging / "summary.json").write_text(json.dumps(summary_data, indent=2) + "\n")
        pd.concat([v.instances for v in variants]).to_csv(staging / "instances.csv",
                                                           index=False, float_format="%.6f")
        pd.concat([v.timeseries for v in variants]).to_csv(staging / "timeseries.csv",
                                                            index=False, float_format="%.6g")
        (staging / "scenario.resolved.yaml").write_text(
            yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True))
        if charts is not None:
            charts(staging)
        if final.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{scenario_name}.", suffix=".old",
                                          dir=out_root))
            os.replace(final, trash / "old")
            shutil.rmtree(trash, ignore_errors=True)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final
