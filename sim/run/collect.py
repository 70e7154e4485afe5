"""Collecting a run: its recorded facts turned into tables and metrics (a ``RunOutput``).

Owns: which tables and metrics a run's output holds. The statistics are ``sim.analysis``'s
(``metrics``). Must not: run the model or write files.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sim.analysis import cost
from sim.analysis import metrics as analysis
from sim.analysis.commands import script_metrics
from sim.analysis.elastic import (
    elastic,
    elastic_metrics,
    mean_hosts,
    replica_metrics,
    replicated,
)
from sim.analysis.maintenance import maintenance_metrics
from sim.recorder import Level, Steps
from sim.run.execute import RunResult, few_collections
from sim.run.results import RunOutput
from sim.spec.demand import carriers


def collect(result: RunResult, key: str | None = None) -> RunOutput:
    """Turn one run's recorded facts into tables and metrics."""
    with few_collections():  # the run's records are many, and none of them is garbage
        return _collect(result, key)


def _vcpu(result: RunResult, columns: dict[str, np.ndarray]) -> np.ndarray:
    """Each record's vCPU: its workload's, or for a trace workload's arrivals the trace's own
    (the k-th request of the workload replays the trace's k-th instance)."""
    names = columns["workload"]
    cpu = np.zeros(len(names))
    for wl in result.spec.scenario.workloads:
        rows = names == wl.name
        cpu[rows] = wl.cpu
        replay = result.traces.get(wl.name)
        if replay is not None:
            arrived = rows & (columns["origin"] == "arrival")
            requests = columns["request"][arrived]
            k = np.searchsorted(np.unique(requests), requests)
            fits = k < len(replay.cpu)
            cpu[np.flatnonzero(arrived)[fits]] = replay.cpu[k[fits]]
    return cpu


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
    # an elastic group's hosts: as many as were there on average (its memory then)
    capacity = sum((g.memory - g.reserved_memory)
                   * mean_hosts(rec.levels, g.group, g.count, scenario.warmup, scenario.duration)
                   for g in scenario.hosts if g.group not in skip)
    modes = sorted({wl.isolation for wl in scenario.workloads})
    isolation = modes[0] if len(modes) == 1 else "mixed"
    metrics: dict[str, Any] = {"isolation": isolation, **dict(spec.choices)}
    metrics.update(analysis.summarize(frame, levels, host_levels, capacity,
                                      scenario.warmup, scenario.duration, rec.faults,
                                      rec.physical_levels, rec.pipeline_runs,
                                      [wl.name for wl in scenario.workloads]))
    if elastic(scenario):
        metrics.update(elastic_metrics(rec.levels, scenario.warmup, scenario.duration))
    if replicated(scenario):
        metrics.update(replica_metrics(scenario, columns, rec.levels, scenario.warmup,
                                       scenario.duration))
    if scenario.commands is not None:
        metrics["commands"] = script_metrics(rec.scripts, rec.commands)
    if scenario.maintenance:
        metrics.update(maintenance_metrics(scenario, rec.maintenance, frame, rec.levels))
    series = pd.DataFrame(rec.samples)
    if cost.costed(scenario):
        found, power = cost.cost_metrics(scenario, spec.profiles, columns,
                                         _vcpu(result, columns), rec.hosts, rec.faults,
                                         rec.presence)
        metrics.update(found)
        if len(series) and any(g.power is not None for g in scenario.hosts):
            series["power_w"] = np.zeros(len(series))
            for g in scenario.hosts:
                rows = (series["group"] == g.group).to_numpy()
                series.loc[rows, "power_w"] = cost.row_power(
                    scenario, power, g.group, series["time_s"].to_numpy()[rows])
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
    if scenario.commands is not None:
        extra.update(commands=rec.commands, containers=rec.containers)
    if scenario.maintenance:  # the campaign timeline's events and curves
        extra["maintenance"] = rec.maintenance
        extra.setdefault("series", {}).update(
            {name: {"times": lv.times, "values": lv.values} for name, lv in rec.levels.items()
             if name.startswith(("maintenance:", "running_workload:", "disrupted:"))})
    if elastic(scenario) or replicated(scenario):  # the autoscaling chart's curves
        extra.setdefault("series", {}).update(
            {name: {"times": lv.times, "values": lv.values} for name, lv in rec.levels.items()
             if name.startswith(("replicas:", "hosts_present"))})
        extra["demand"] = {wl.name: {"times": [st.at for st in wl.replicas.demand.steps],
                                     "replicas": [st.value / wl.replicas.target_per_replica
                                                  for st in wl.replicas.demand.steps]}
                           for wl in scenario.workloads if wl.replicas is not None}
    return RunOutput(key=key or spec.key(), variant=spec.variant, isolation=isolation,
                     choices=dict(spec.choices), parameters=dict(spec.parameters),
                     replication=spec.replication, seed=spec.seed,
                     metrics=analysis.clean(metrics), instances=frame, timeseries=series,
                     host_peaks=peaks, wall_s=result.wall_s, extra=analysis.clean(extra))
