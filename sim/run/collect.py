"""One run's results as tables and metrics, and the aggregation of many runs.

Owns: ``RunOutput`` (what a worker sends back and the run store keeps), turning a run's
recorded facts into it, and the per-variant, per-sweep-point statistics across replications
(mean, standard deviation, 95 % confidence half-width by Student's t). Must not: run the model
or write files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim import analysis
from sim.demand import carriers
from sim.experiment import RunResult, RunSpec, few_collections, run
from sim.recorder import Level, Steps


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


def execute(spec: RunSpec, key: str | None = None) -> RunOutput:
    """Run one spec and collect its results (the function workers call). ``key`` is the
    run's key as the caller computed it, so that a worker with other code files on its disk
    cannot file the result under another name."""
    return collect(run(spec), key)


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


def flatten(metrics: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"startup_s": {"p50": 1}}`` → ``{"startup_s.p50": 1}``."""
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    """The inverse of ``flatten``."""
    out: dict[str, Any] = {}
    for name, value in flat.items():
        node = out
        *parents, last = name.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return out


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


def numeric_metrics(frame: pd.DataFrame, exclude: list[str]) -> list[str]:
    """The metric columns of a runs frame that hold numbers."""
    return [c for c in frame.columns if c not in exclude
            and pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(
                frame[c])]


def ci95_half_width(values: np.ndarray) -> float:
    """Half-width of the 95 % confidence interval of the mean (Student's t); NaN for n < 2."""
    n = len(values)
    if n < 2:
        return math.nan
    return float(stats.t.ppf(0.975, n - 1) * np.std(values, ddof=1) / math.sqrt(n))


def aggregate(runs: pd.DataFrame, parameters: list[str]) -> pd.DataFrame:
    """Per variant × sweep point × metric: mean, std, ci95 (half-width) and n, in long form."""
    group_by = ["variant", *parameters]
    exclude = [*group_by, "replication", "seed", "key"]
    metrics = numeric_metrics(runs, exclude)
    rows = []
    for keys, group in runs.groupby(group_by, sort=False, dropna=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        for metric in metrics:
            values = group[metric].dropna().to_numpy(dtype=float)
            rows.append({**dict(zip(group_by, keys)), "metric": metric,
                         "mean": float(values.mean()) if len(values) else math.nan,
                         "std": float(values.std(ddof=1)) if len(values) > 1 else math.nan,
                         "ci95": ci95_half_width(values), "n": len(values)})
    return pd.DataFrame(rows)


def mean_metrics(outputs: list[RunOutput]) -> dict[str, Any]:
    """The replications' metrics averaged, in the nested shape of ``summary.json``; with more
    than one replication, ``replications`` and ``ci95`` (half-widths by metric) are added."""
    flats = [flatten(o.metrics) for o in outputs]
    merged: dict[str, Any] = {}
    ci: dict[str, float] = {}
    for name in flats[0]:
        values = [f.get(name) for f in flats]
        numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if len(numbers) == len(values) and len(outputs) > 1:
            merged[name] = float(np.mean(numbers))
            ci[name] = ci95_half_width(np.asarray(numbers, dtype=float))
        elif len(outputs) > 1 and numbers:
            merged[name] = float(np.mean(numbers))
        else:
            merged[name] = values[0]
    result = unflatten(merged)
    if len(outputs) > 1:
        result["replications"] = len(outputs)
        result["ci95"] = analysis.clean(ci)
    return result
