"""Writing a scenario's results into ``OUT/<scenario name>/``: ``summary.json``,
``runs.csv``/``runs.parquet``, ``aggregate.csv``, ``instances.csv``, ``timeseries.csv``,
``commands.csv`` and ``containers.csv`` (a commands script), ``scenario.resolved.yaml`` and the
charts.

Owns: what every result file holds. The folder is written whole or not at all
(``sim.present.folders``). Must not: run the model.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from sim.analysis import metrics as analysis
from sim.analysis.aggregate import aggregate, mean_metrics
from sim.analysis.dotted import flatten
from sim.analysis.sensitivity import band
from sim.edge.loader import Loaded
from sim.experiment.expand import apply
from sim.planning import trust
from sim.present.folders import staged
from sim.run.results import RunOutput, runs_frame, with_parameters
from sim.run.tables import FORMATS, write_csv, write_parts

KEPT = ("density.json", "packing.json", "density_per_host.png", "plan.json", "plan_",
        "report.html", "images.json", "sensitivity.json", "tornado_")


def grouped(outputs: list[RunOutput]) -> list[tuple[dict[str, Any], dict[str, list[RunOutput]]]]:
    """Outputs by sweep point, then by variant, in run order."""
    points: dict[str, tuple[dict[str, Any], dict[str, list[RunOutput]]]] = {}
    for out in outputs:
        key = json.dumps(out.parameters, sort_keys=True)
        _params, variants = points.setdefault(key, (out.parameters, {}))
        variants.setdefault(out.variant, []).append(out)
    return list(points.values())


def summary(loaded: Loaded, seed: int, outputs: list[RunOutput],
            samples: list[RunOutput] | None = None) -> dict[str, Any]:
    """The content of ``summary.json``: per variant, the metrics (averaged over replications,
    with 95 % confidence half-widths when there are several); under a sweep, one entry per
    point in ``points``. ``samples``: an uncertainty study's runs (``run --uncertainty``),
    which give each variant an ``uncertainty`` object: per dotted metric, its 5 % quantile,
    median and 95 % quantile over the sampled inputs."""
    scenario = loaded.scenario
    head: dict[str, Any] = {"name": scenario.name, "seed": seed,
                            "duration_s": scenario.duration, "warmup_s": scenario.warmup,
                            "replications": max(o.replication for o in outputs) + 1}
    by_parameters = {json.dumps(dict(p.parameters), sort_keys=True): p for p in loaded.points}
    points = []
    for params, variants in grouped(outputs):
        point = by_parameters.get(json.dumps(params, sort_keys=True), loaded.points[0])
        means = {}
        for name, outs in variants.items():
            means[name] = mean_metrics(outs)
            judged = apply(point.scenario, outs[0].choices)
            means[name]["offered_utilization"] = trust.offered_utilization(judged,
                                                                           point.profiles)
            means[name]["warnings"] = trust.warnings(judged, point.profiles, means[name])
        points.append({"parameters": params, "variants": means})
    if scenario.commands is not None:
        head["commands"] = [{"step": i, "command": step.written, "label": step.label()}
                            for i, step in enumerate(scenario.commands.steps)]
    if scenario.sweep:
        head["points"] = points
    else:
        head["variants"] = points[0]["variants"]
        if samples:
            head["uncertainty_samples"] = len(samples) // max(len(head["variants"]), 1)
            for name, runs in grouped_by_variant(samples).items():
                if name in head["variants"]:
                    head["variants"][name]["uncertainty"] = metric_bands(runs)
    return analysis.clean(head)


def grouped_by_variant(outputs: list[RunOutput]) -> dict[str, list[RunOutput]]:
    """Outputs by variant, in run order."""
    out: dict[str, list[RunOutput]] = {}
    for o in outputs:
        out.setdefault(o.variant, []).append(o)
    return out


def metric_bands(runs: list[RunOutput]) -> dict[str, Any]:
    """Per dotted metric that is a number in some run: its 5 %, 50 % and 95 % quantiles over
    ``runs`` (``sim.analysis.sensitivity.band``)."""
    flat = [flatten(o.metrics) for o in runs]
    names = dict.fromkeys(k for f in flat for k, v in f.items()
                          if isinstance(v, (int, float)) and not isinstance(v, bool))
    out = {}
    for name in names:
        found = band([f.get(name) for f in flat])
        if found is not None:
            out[name] = {k: found[k] for k in ("p5", "median", "p95")}
    return out


def resolved_scenario(loaded: Loaded, seed: int, replications: int) -> dict[str, Any]:
    """The scenario with every default filled in (canonical units: s, bytes, 1/s, bytes/s)
    and the full profiles it uses; it loads and runs as a scenario of its own."""
    data = loaded.scenario.model_dump(mode="json", exclude_none=True)
    data["seed"] = seed
    data["replications"] = replications
    used = loaded.scenario.isolations()
    if loaded.scenario.compare and loaded.scenario.compare.isolation:
        used |= set(loaded.scenario.compare.isolation)
    for point in loaded.points:
        used |= point.scenario.isolations()
    data["profiles"] = {
        name: {k: v for k, v in loaded.profiles[name].model_dump(
            mode="json", exclude_none=True).items() if k != "name"}
        for name in sorted(used | set(loaded.scenario.profiles)) if name in loaded.profiles}
    return data


def command_tables(outputs: list[RunOutput]) -> dict[str, pd.DataFrame]:
    """``commands.csv`` (a row per phase of each step of a commands script: its command as
    written, as Docker's command line, the phase, start, end, seconds and bytes moved) and
    ``containers.csv`` (a row per change of a container's state), each row with its run."""
    tables: dict[str, list[pd.DataFrame]] = {"commands.csv": [], "containers.csv": []}
    for out in outputs:
        for name, key in (("commands.csv", "commands"), ("containers.csv", "containers")):
            frame = pd.DataFrame(out.extra.get(key) or [])
            if name == "commands.csv" and len(frame):
                frame.insert(frame.columns.get_loc("end") + 1, "seconds",
                             frame["end"] - frame["start"])
            for i, column in enumerate(("variant", "replication", "seed")):
                frame.insert(i, column, getattr(out, column))
            tables[name].append(with_parameters(frame, out))
    return {name: pd.concat(frames, ignore_index=True) for name, frames in tables.items()}


def write(out_root: Path, loaded: Loaded, seed: int, outputs: list[RunOutput],
          charts: Callable[[Path, pd.DataFrame], None] | None = None,
          finish: Callable[[Path], object] | None = None,
          samples: list[RunOutput] | None = None) -> tuple[Path, dict]:
    """Write every result file into ``out_root/<name>`` atomically.

    Returns the folder and the summary. ``charts`` is called with the staging folder and the
    aggregate table to draw the PNG files there, before the instance and time-series tables
    are written (it may hand them to another process and return: ``finish`` then waits for
    them); ``finish`` with the staging folder once every other file is there (the report).
    ``samples``: an uncertainty study's runs, summed up in ``summary.json`` and listed in
    ``uncertainty.csv`` (a row per run: its inputs and metrics). Nothing in
    ``out_root/<name>`` changes unless all of it was written.
    """
    with staged(out_root, loaded.scenario.name, lambda name: name.startswith(KEPT)) as staging:
        data = summary(loaded, seed, outputs, samples)
        (staging / "summary.json").write_text(json.dumps(data, indent=2) + "\n")
        if samples:
            runs_frame(samples).to_csv(staging / "uncertainty.csv", index=False)
        runs = runs_frame(outputs)
        runs.to_csv(staging / "runs.csv", index=False)
        runs.to_parquet(staging / "runs.parquet", index=False)
        swept = list(loaded.scenario.sweep or {})
        agg = aggregate(runs, swept)
        agg.to_csv(staging / "aggregate.csv", index=False)
        if charts is not None:
            charts(staging, agg)
        for table in ("instances", "timeseries"):  # rows formatted where each run was
            write_parts(staging / f"{table}.csv",
                        [with_parameters(getattr(o, table), o) for o in outputs],
                        [o.csv.get(table) for o in outputs], FORMATS[table])
        if loaded.scenario.commands is not None:
            for name, table in command_tables(outputs).items():
                write_csv(table, staging / name, "%.6f")
        (staging / "scenario.resolved.yaml").write_text(yaml.safe_dump(
            resolved_scenario(loaded, seed, data["replications"]), sort_keys=False,
            allow_unicode=True))
        if finish is not None:
            finish(staging)
    return out_root / loaded.scenario.name, data
