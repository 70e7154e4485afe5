"""One run's results as tables and metrics.

Owns: ``RunOutput`` (what a worker sends back and the run store keeps), turning a run's
recorded facts into it, and the table of many runs' outputs (``runs_frame``). The statistics
are ``sim.analysis``'s: one run's metrics (``metrics``), and across replications
(``aggregate``). Must not: run the model or write files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from sim.analysis import metrics as analysis
from sim.analysis.aggregate import flatten
from sim.recorder import Level, Steps
from sim.run.execute import RunResult, few_collections
from sim.spec.demand import carriers


@dataclass
class RunOutput:
    """One run's identity, metrics and tables."""

    key: str
    variant: str
    isolation: str
    choices: dict[str, str]
    parameters: dict[str, Any]
    replication: int
    seed: int
    metrics: dict[str, Any]
    instances: pd.DataFrame
    timeseries: pd.DataFrame
    host_peaks: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)  # pipelines: runs, end state, series

    @property
    def name(self) -> str:
        """The variant name (what ``summary.json`` keys results by)."""
        return self.variant

    def identity(self) -> dict[str, Any]:
        """Everything but the tables, JSON-ready."""
        return {"key": self.key, "variant": self.variant, "isolation": self.isolation,
                "choices": self.choices, "parameters": self.parameters,
                "replication": self.replication, "seed": self.seed, "wall_s": self.wall_s,
                "host_peaks": self.host_peaks, "metrics": self.metrics, "extra": self.extra}


def collect(result: RunResult, key: str | None = None) -> RunOutput:
    """Turn one run's recorded facts into tables and metrics."""
    with few_collections():  # the run's records are many, and none of them is garbage
        return _collect(result, key)


def _collect(result: RunResult, key: str | None) -> RunOutput:
    spec = result.spec
    scenario = spec.scenario
    rec = result.recorder
    columns = rec.table()
    frame = analysis.instances_frame(columns)
    derived, host_levels = analysis.record_levels(columns)
    levels: dict[str, Level | Steps] = {**rec.levels, **derived}
    names = {h["host"]: h["name"] for h in rec.hosts}
    frame.insert(5, "host_name", frame["host"].map(names).fillna(""))
    skip = carriers(list(scenario.hosts))  # their memory is the container-host VMs'
    capacity = sum((g.memory - g.reserved_memory) * g.count for g in scenario.hosts
                   if g.group not in skip)
    modes = sorted({wl.isolation for wl in scenario.workloads})
    isolation = modes[0] if len(modes) == 1 else "mixed"
    metrics: dict[str, Any] = {"isolation": isolation, **dict(spec.choices)}
    metrics.update(analysis.summarize(frame, levels, host_levels, capacity,
                                      scenario.warmup, scenario.duration, rec.faults,
                                      rec.physical_levels, rec.pipeline_runs))
    series = pd.DataFrame(rec.samples)
    for table in (frame, series):
        table.insert(0, "variant", spec.variant)
        table.insert(1, "replication", spec.replication)
        table.insert(2, "seed", spec.seed)
    peaks = analysis.per_host_peaks(host_levels, len(rec.hosts), scenario.warmup,
                                    scenario.duration)
    extra: dict[str, Any] = {}
    if scenario.pipelines:
        extra = {"pipeline_runs": rec.pipeline_runs, "end_state": rec.end_state,
                 "series": {name: {"times": lv.times, "values": lv.values}
                            for name, lv in rec.levels.items()
                            if name.startswith(("running_image:", "registry_egress"))}}
    return RunOutput(key=key or spec.key(), variant=spec.variant, isolation=isolation,
                     choices=dict(spec.choices), parameters=dict(spec.parameters),
                     replication=spec.replication, seed=spec.seed,
                     metrics=analysis.clean(metrics), instances=frame, timeseries=series,
                     host_peaks=peaks, wall_s=result.wall_s, extra=analysis.clean(extra))


def runs_frame(outputs: list[RunOutput]) -> pd.DataFrame:
    """One row per run: variant, sweep parameters, replication, seed, key, every metric."""
    rows = []
    for out in outputs:
        row: dict[str, Any] = {"variant": out.variant, **out.parameters,
                               "replication": out.replication, "seed": out.seed,
                               "key": out.key}
        row.update({k: v for k, v in flatten(out.metrics).items() if k not in row})
        rows.append(row)
    return pd.DataFrame(rows)
