"""Charts of a scenario's results, for someone who did not write the simulator: titles, units,
legends. Reads result tables only; never imports the model.

Owns: the PNG files ``startup_cdf``, ``startup_phases``, ``running``, ``density`` and ``memory``,
and, when the run has faults or batch jobs, ``blast_radius``, ``availability_density`` and
``slowdown_cdf``; with a commands script, ``commands_timeline``.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np

from sim.analysis.metrics import PHASES
from sim.present.campaign import maintenance
from sim.present.chartkit import (
    series_of,
    time_scale,
    time_unit,
    variant_color,
    variant_panels,
)
from sim.spec.units import format_duration, format_value

# per variant, so that lines that coincide stay apart: a dash pattern and a marker
STYLES = [("-", "o"), ("--", "s"), (":", "^"), ("-.", "D"), ((0, (5, 1, 1, 1)), "v"),
          ((0, (1, 3)), "P")]
MARKS = 12  # markers along a line


def line_style(i: int, n_variants: int, n_points: int) -> dict[str, Any]:
    """Keyword arguments for ``Axes.plot`` that keep variant ``i`` of ``n_variants`` apart
    from the others where their lines coincide: its own dash pattern and marker, about
    ``MARKS`` markers per line, staggered so that markers of different variants do not sit on
    each other, and a width that shrinks with ``i`` so that a line drawn later does not hide
    one drawn earlier."""
    dash, marker = STYLES[i % len(STYLES)]
    step = max(n_points // MARKS, 1)
    return {"linestyle": dash, "marker": marker, "markersize": 5,
            "markevery": (min(i * step // max(n_variants, 1), max(n_points - 1, 0)), step),
            "linewidth": max(2.2 - 0.4 * i, 1.0)}


NICE_DURATIONS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200,
                  1800, 3600, 7200, 4 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400]


def duration_ticks(low_s: float, high_s: float, at_most: int = 9) -> list[float]:
    """Round durations (1s, 2s, 5s, 10s, 30s, 1min, ...) between ``low_s`` and ``high_s``
    for a logarithmic axis of seconds, thinned to at most ``at_most``."""
    ticks = [t for t in NICE_DURATIONS if low_s <= t <= high_s]
    step = max(math.ceil(len(ticks) / at_most), 1)
    return ticks[::step]


def cdf_label(name: str, p50: float | None, p99: float | None) -> str:
    """The start-up CDF's legend entry: the percentiles as the tables show them."""
    return f"{name}: p50 {format_value(p50, 'time')}, p99 {format_value(p99, 'time')}"


def plan_label(mode: str, result: dict[str, Any]) -> str:
    """The plan chart's legend entry of ``mode``: the hosts the table gives (``hosts``, with
    the headroom) and, with headroom, the count the SLOs were judged at."""
    if not result.get("met"):
        return f"{mode}: not met"
    text = f"{mode}: {result['hosts']:,} hosts"
    if result.get("headroom"):
        text += f" (judged at {result['hosts_judged']:,} = n-{result['headroom']}, starred)"
    return text


def plan_xscale(hosts: list[float]) -> str:
    """``linear`` for a narrow range of host counts probed (largest / smallest < 10), else
    ``log``."""
    low = min((h for h in hosts if h > 0), default=1.0)
    return "log" if max(hosts, default=1.0) / low >= 10 else "linear"


def has_data(values: Any) -> bool:
    """Whether a panel's values hold anything worth a panel: a finite number other than 0."""
    arr = np.asarray(values, dtype=float)
    return bool(np.any(np.isfinite(arr) & (arr != 0)))


INSIDE_LEGEND = 4  # entries a legend may have inside the axes; more go beside them


def _legend(ax: Any, **kwargs: Any) -> None:
    """A legend where it covers no data: inside (the emptiest corner) when it is short,
    beside the axes (the figure made wider) when it is long."""
    _, labels = ax.get_legend_handles_labels()
    if not labels:  # nothing drawn to name (no instance started, say)
        return
    if len(labels) <= INSIDE_LEGEND:
        ax.legend(loc=kwargs.pop("loc", "best"), fontsize="small", **kwargs)
        return
    kwargs.pop("loc", None)
    fig = ax.figure
    width, height = fig.get_size_inches()
    fig.set_size_inches(width + 3.6, height)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", **kwargs)


def _table_variants(folder: Path) -> tuple[dict[str, Any], int]:
    """``summary.json``'s variants in ``folder`` (written before the charts) and its
    replications; ({}, 1) when it is not there."""
    try:
        data = json.loads((folder / "summary.json").read_text())
    except (OSError, ValueError):
        return {}, 1
    return data.get("variants") or {}, int(data.get("replications") or 1)


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def chart_calls(folder: Path, scenario_name: str, variants: list[Any], warmup: float
                ) -> list[Callable[[], None]]:
    """Every chart of ``variants`` (``sim.run.results.RunOutput``) into ``folder``, as calls
    of no arguments, one per file: made in any order, on any process forked from this one
    (``sim.run.forks.shared``), they draw the same files.

    The curves are the runs given (the first replication); legend figures that the tables
    also show come from ``summary.json`` in ``folder`` when it is there (``output.write``
    writes it first), so that a legend and the table say the same."""
    table, reps = _table_variants(folder)
    note = f" (curves: replication 1 of {reps})" if reps > 1 else ""
    # where a legend gives the tables' figures: say they are the means, not the curve's own
    noted = (f"\n(curves: replication 1 of {reps}; legend: the mean over replications)"
             if reps > 1 else "")
    calls: list[Callable[[], None]] = []

    def chart(draw: Callable[..., None], *args: Any) -> None:
        calls.append(functools.partial(draw, *args))

    if any(v.extra.get("commands") for v in variants):
        chart(commands_timeline, folder / "commands_timeline.png", scenario_name, variants,
              note.replace("curves", "steps"))
    if not any(len(v.instances) for v in variants):  # a commands script alone
        return calls
    chart(startup_cdf, folder / "startup_cdf.png", scenario_name, variants, warmup, table,
          noted)
    chart(startup_phases, folder / "startup_phases.png", scenario_name, variants)
    chart(running, folder / "running.png", scenario_name, variants, warmup, note)
    chart(density, folder / "density.png", scenario_name, variants, note)
    chart(memory, folder / "memory.png", scenario_name, variants, warmup, table, noted)
    if any(sum((v.metrics.get("faults") or {}).values()) for v in variants):
        chart(blast_radius, folder / "blast_radius.png", scenario_name, variants)
        chart(availability_density, folder / "availability_density.png", scenario_name,
              variants)
    if any(v.extra.get("pipeline_runs") for v in variants):
        chart(rollout_timeline, folder / "rollout_timeline.png", scenario_name, variants)
        chart(registry_bandwidth, folder / "registry_bandwidth.png", scenario_name, variants)
    if any((v.metrics.get("slowdown") or {}).get("p50") is not None for v in variants):
        chart(slowdown_cdf, folder / "slowdown_cdf.png", scenario_name, variants, warmup)
    if any(v.metrics.get("cost") for v in variants):
        chart(cost, folder / "cost.png", scenario_name, variants, warmup, table, noted)
    if any("hosts_present" in (v.extra.get("series") or {}) or v.extra.get("demand")
           for v in variants):
        chart(autoscaling, folder / "autoscaling.png", scenario_name, variants, warmup, table,
              noted)
    if any(v.extra.get("maintenance") is not None for v in variants):
        chart(maintenance, folder / "maintenance.png", scenario_name, variants, table, noted)
    return calls


COST_PARTS = (("hosts", "#4c72b0"), ("licences", "#dd8452"), ("energy", "#55a868"))


def cost(path: Path, title: str, variants: list[Any], warmup: float,
         table: dict[str, Any] | None = None, note: str = "") -> None:
    """Left: what an instance-hour served costs per variant, stacked by hosts, licences and
    energy (the table's means when given); right: the hosts' power over time (the curves'
    replication), one line per variant."""
    table = table or {}
    powered = any("power_w" in v.timeseries for v in variants)
    fig, axes = plt.subplots(1, 2 if powered else 1, figsize=(13 if powered else 7, 5),
                             squeeze=False)
    ax = axes[0][0]
    names = [v.name for v in variants]
    bottom = np.zeros(len(variants))
    for part, color in COST_PARTS:
        per = []
        for v in variants:
            found = (table.get(v.name) or v.metrics).get("cost") or {}
            hours = found.get("instance_hours") or 0
            value = found.get(part)
            per.append(value / hours if value is not None and hours > 0 else 0.0)
        if any(per):
            ax.bar(names, per, bottom=bottom, color=color, label=part)
            bottom += np.asarray(per)
    for k, total in enumerate(bottom):
        ax.annotate(f"{total:.4g}" if total else "not priced", (k, total), ha="center",
                    va="bottom", fontsize="small")
    ax.set_ylabel("cost per instance-hour served")
    ax.set_ylim(0, max(bottom.max(initial=0.0) * 1.35, 1e-9))
    ax.grid(True, axis="y", alpha=0.3)
    if bottom.any():
        _legend(ax, loc="upper left")
    ax.set_title("cost per instance-hour")
    if powered:
        ax = axes[0][1]
        for i, v in enumerate(variants):
            series = v.timeseries.groupby("time_s", sort=True)["power_w"].sum()
            ax.step(series.index / 3600.0, series.to_numpy() / 1e3, where="post",
                    color=variant_color(v.name, i), label=v.name,
                    **line_style(i, len(variants), len(series)))
        if warmup > 0:
            ax.axvline(warmup / 3600.0, color="grey", linestyle=":", linewidth=1)
        ax.set_xlabel("time (h)" + (", dotted: end of warm-up" if warmup > 0 else ""))
        ax.set_ylabel("hosts' power (kW)")
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        _legend(ax, loc="lower right")
        ax.set_title(f"power over time{note}")
    fig.suptitle(f"{title}: what it costs")
    _save(fig, path)


def autoscaling(path: Path, title: str, variants: list[Any], warmup: float,
                table: dict[str, Any] | None = None, note: str = "") -> None:
    """Per variant, a panel over time: the replicas the demand asks for, the replicas the
    autoscaler wants and the instances running (left axis), and the hosts present (right
    axis); beside them, the time to capacity per variant (mean, p95, max; the table's)."""
    from matplotlib.lines import Line2D

    table = table or {}
    fig, axes, unit, label, end = variant_panels(variants, 13, 1.2, 2.3)
    for i, v in enumerate(variants):
        ax = axes[i][0]
        color = variant_color(v.name, i)
        series = v.extra.get("series") or {}
        for name, demand in (v.extra.get("demand") or {}).items():
            t = np.r_[demand["times"], end] / unit
            y = np.r_[demand["replicas"], demand["replicas"][-1]]
            ax.step(t, y, where="post", color="black", linewidth=1.0, linestyle="--")
            wanted = series.get(f"replicas:{name}")
            if wanted:
                ax.step(np.r_[wanted["times"], end] / unit,
                        np.r_[wanted["values"], wanted["values"][-1]], where="post",
                        color="#888888", linewidth=1.2)
        t, y = series_of(v, "running", unit)
        ax.plot(t, y, color=color, linewidth=1.8)
        ax.set_ylabel("instances")
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        where = " ".join(f"{k}={v}" for k, v in v.parameters.items())
        number = f"({i + 1}) " if v.parameters else ""
        ax.set_title(f"{number}{v.name} {where}".strip(), loc="left", fontsize="medium")
        hosts = series.get("hosts_present")
        if hosts:
            twin = ax.twinx()
            twin.step(np.r_[hosts["times"], end] / unit,
                      np.r_[hosts["values"], hosts["values"][-1]], where="post",
                      color=color, linestyle=":", linewidth=1.4)
            twin.set_ylabel("hosts")
            twin.set_ylim(bottom=0)
        if warmup > 0:
            ax.axvline(warmup / unit, color="grey", linestyle="--", linewidth=0.8)
        ax.set_xlabel(f"simulated time ({label})")
        axes[i][1].axis("off")
    ax = fig.add_subplot(1, 4, 4)
    found = [((table.get(v.name) or v.metrics).get("time_to_capacity_s") or {}) for v in variants]
    names = [v.name if not v.parameters else f"({k + 1})" for k, v in enumerate(variants)]
    for k, (stat, shade) in enumerate((("mean", 0.9), ("p95", 0.6), ("max", 0.35))):
        values = [f.get(stat) or 0.0 for f in found]
        ax.bar(np.arange(len(names)) + (k - 1) * 0.27, np.asarray(values) / 60.0, width=0.27,
               color=[variant_color(v.name, j) for j, v in enumerate(variants)], alpha=shade,
               label=stat)
    ax.set_xticks(np.arange(len(names)), names)
    ax.set_ylabel("time to capacity (min)")
    ax.set_title("time to capacity\n(mean, p95, max)", fontsize="medium")
    ax.grid(True, axis="y", alpha=0.3)
    handles = [Line2D([], [], color="black", linestyle="--", label="replicas the demand asks"),
               Line2D([], [], color="#888888", label="replicas wanted"),
               Line2D([], [], color="black", linewidth=1.8, label="running"),
               Line2D([], [], color="black", linestyle=":", label="hosts (right axis)")]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize="small")
    fig.suptitle(f"{title}: demand, replicas and hosts over time{note}")
    height = fig.get_size_inches()[1]
    fig.tight_layout(rect=(0, 0.4 / height, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _duration_axis(ax: Any, low_s: float, high_s: float) -> None:
    """A logarithmic x axis of seconds with round durations as ticks (``30s``, ``2min``)."""
    ticks = duration_ticks(low_s, high_s)
    if len(ticks) >= 2:
        ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator(ticks))
        ax.xaxis.set_major_formatter(matplotlib.ticker.FixedFormatter(
            [format_duration(t) for t in ticks]))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def startup_cdf(path: Path, title: str, variants: list[Any], warmup: float,
                table: dict[str, Any] | None = None, note: str = "") -> None:
    """Empirical CDF of start-up time (arrival to running) per variant; the legend gives each
    variant's p50 and p99 as the tables show them (``table``: ``summary.json``'s variants;
    else the run's own)."""
    fig, ax = plt.subplots(figsize=(8, 5))
    low, high = math.inf, 0.0
    drawn = False
    for i, v in enumerate(variants):
        df = v.instances
        df = df[(df["arrival"] >= warmup) & df["running"].notna()]
        values = np.sort((df["running"] - df["arrival"]).to_numpy())
        if len(values) == 0:
            continue
        drawn = True
        positive = values[values > 0]
        if len(positive):
            low, high = min(low, float(positive[0])), max(high, float(values[-1]))
        y = np.arange(1, len(values) + 1) / len(values)
        shown = ((table or {}).get(v.name) or v.metrics)["startup_s"]
        style = line_style(i, len(variants), len(values))
        style["markevery"] = [int(k) for k in np.linspace(0, len(values) - 1, MARKS)
                              + i * len(values) / (MARKS * max(len(variants), 1))
                              if k < len(values)]
        ax.step(values, y, where="post", color=variant_color(v.name, i),
                label=cdf_label(v.name, shown["p50"], shown["p99"]), **style)
    if high > 0:
        ax.set_xscale("log")
        _duration_axis(ax, low, high)
        ax.set_xlabel("start-up time, request to running (log scale)")
    else:  # every start-up took no time (phases of 0 s), or none started: no log scale
        ax.set_xlim(-0.05, 1.0)
        ax.set_xlabel("start-up time, request to running, seconds: "
                      + ("every one 0 s" if drawn else "none started"))
    ax.set_ylabel("share of instances started within that time")
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.set_ylim(0, 1.01)
    ax.grid(True, which="major", alpha=0.3)
    _legend(ax, loc="lower right")
    ax.set_title(f"{title}: start-up time CDF per variant{note}")
    _save(fig, path)


def startup_phases(path: Path, title: str, variants: list[Any]) -> None:
    """Mean time in each start-up phase per variant, stacked, with the wait before it. A
    phase too short to see in any bar is left out of the bars and the legend and named
    below the chart."""
    names = [v.name for v in variants]
    parts = [("wait (queue + slot)", [v.metrics["wait_s"]["mean"] or 0.0 for v in variants])]
    parts += [(p, [(v.metrics["phases_s"][p]["mean"] or 0.0) for v in variants])
              for p in PHASES]
    totals = np.sum([np.asarray(values, dtype=float) for _, values in parts], axis=0)
    scale, unit = time_scale(float(totals.max(initial=0.0)))
    visible = 0.005 * float(totals.max(initial=0.0))
    shown = [(k, label, values) for k, (label, values) in enumerate(parts)
             if max(values, default=0.0) > visible]
    hidden = [label for label, values in parts if max(values, default=0.0) <= visible]
    fig, ax = plt.subplots(figsize=(8, 5))
    cmap = plt.get_cmap("tab10")
    bottom = np.zeros(len(variants))
    for k, label, values in shown:  # each phase keeps its colour whichever are shown
        arr = np.asarray(values, dtype=float) / scale
        ax.bar(names, arr, bottom=bottom, label=label, color=cmap(k))
        bottom += arr
    for x, total in enumerate(totals):
        ax.text(x, bottom[x], format_duration(float(total)), ha="center", va="bottom")
    ax.set_ylabel(f"mean time per started instance ({unit})")
    ax.set_title(f"{title}: where start-up time goes")
    if shown:  # none when every start-up took no time (a legend of nothing warns)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small",
                  title="phase", title_fontsize="small")
    if hidden:
        fig.text(0.01, 0.01, "not drawn, under " + format_duration(visible)
                 + " in every bar: " + ", ".join(hidden), fontsize="small", color="#555")
    ax.set_ylim(0, max(bottom.max(initial=0.0) * 1.12, 1e-3))
    fig.tight_layout(rect=(0, 0.04 if hidden else 0, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _time_axes(ax: Any, unit: float, label: str, warmup: float) -> None:
    if warmup > 0:
        ax.axvline(warmup / unit, color="grey", linestyle="--", linewidth=1,
                   label="end of warm-up")
    ax.set_xlabel(f"simulated time ({label})")


def running(path: Path, title: str, variants: list[Any], warmup: float, note: str = "") -> None:
    """Instances running over time: one panel per variant (the others faint behind it, for
    comparison), with the instances waiting for placement where there are any."""
    from matplotlib.lines import Line2D

    unit, label = time_unit(variants)
    cols = 1 if len(variants) <= INSIDE_LEGEND else 2
    rows = math.ceil(len(variants) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(8 * cols, 1.0 + 2.1 * rows),
                             sharex=True, sharey=True, squeeze=False)
    for k in range(len(variants), rows * cols):  # a blank place: the panel above it has the
        axes.flat[k].axis("off")                # time axis's labels
        above = axes.flat[k - cols]
        above.tick_params(labelbottom=True)
        above.set_xlabel(f"simulated time ({label})")
    series = [series_of(v, "running", unit) for v in variants]
    waiting = False
    for i, (ax, v) in enumerate(zip(axes.flat, variants)):
        for j, (t, y) in enumerate(series):
            if j != i:
                ax.plot(t, y, color="#bbbbbb", linewidth=0.9)
        t, y = series[i]
        ax.plot(t, y, color=variant_color(v.name, i), linewidth=1.8)
        queued = v.timeseries.groupby("time_s")["queued"].first().to_numpy()  # pool-wide
        if has_data(queued):
            waiting = True
            ax.plot(t, queued, color=variant_color(v.name, i), linestyle=":", linewidth=1.5)
        if warmup > 0:
            ax.axvline(warmup / unit, color="grey", linestyle="--", linewidth=1)
        ax.set_title(v.name, loc="left", fontsize="medium")
        ax.set_ylabel("instances")
        ax.grid(True, alpha=0.3)
        ax.set_ylim(bottom=0)
    for ax in axes[-1]:
        ax.set_xlabel(f"simulated time ({label})")
    handles = [Line2D([], [], color="black", linewidth=1.8, label="running")]
    if waiting:
        handles.append(Line2D([], [], color="black", linestyle=":", label="waiting for a host"))
    if len(variants) > 1:
        handles.append(Line2D([], [], color="#bbbbbb", label="the other variants, running"))
    if warmup > 0:
        handles.append(Line2D([], [], color="grey", linestyle="--", linewidth=1,
                              label="end of warm-up"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize="small")
    fig.suptitle(f"{title}: instances running over time{note}")
    height = fig.get_size_inches()[1]
    fig.tight_layout(rect=(0, 0.4 / height, 1, 1))  # room for the legend below
    fig.savefig(path, dpi=110)
    plt.close(fig)


def density(path: Path, title: str, variants: list[Any], note: str = "") -> None:
    """Most instances held at once by each host, hosts ranked, one line per variant; the
    axis ends a little after the last host used (the rest held none, as the label says)."""
    fig, ax = plt.subplots(figsize=(8, 5))
    hosts, used_max = 0, 0
    for i, v in enumerate(variants):
        peaks = np.sort(np.asarray(v.host_peaks))[::-1]
        used = int(np.count_nonzero(peaks))
        hosts, used_max = max(hosts, len(peaks)), max(used_max, used)
        shown = peaks[:used + 1]  # down to the first host that held none
        ranks = np.arange(1, len(shown) + 1)
        ax.step(ranks, shown, where="mid", color=variant_color(v.name, i),
                label=f"{v.name}: at most {int(max(peaks, default=0)):,} on a host, "
                      f"{used:,} hosts used",
                **line_style(i, len(variants), len(shown)))
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlim(0.5, max(used_max + 1.5, 2.5))
    idle = hosts - used_max - 1
    ax.set_xlabel("host, ranked by its peak"
                  + (f" (the other {idle:,} hosts held none)" if idle > 0 else ""))
    ax.set_ylabel("most instances on the host at once")
    ax.grid(True, alpha=0.3)
    _legend(ax)
    ax.set_title(f"{title}: instances per host{note}")
    _save(fig, path)


def memory(path: Path, title: str, variants: list[Any], warmup: float,
           table: dict[str, Any] | None = None, note: str = "") -> None:
    """Committed memory as a share of the pool's memory (after reserves) over time."""
    fig, ax = plt.subplots(figsize=(8, 5))
    unit, label = time_unit(variants)
    top = 0.0
    for i, v in enumerate(variants):
        t, used = series_of(v, "memory_committed_bytes", unit)
        _, cap = series_of(v, "memory_capacity_bytes", unit)
        share = 100.0 * used / cap
        top = max(top, float(np.nanmax(share, initial=0.0)))
        mean = ((table or {}).get(v.name) or v.metrics)["memory_utilization_mean"]
        ax.plot(t, share, color=variant_color(v.name, i),
                label=f"{v.name}: mean {format_value(mean, 'percent')}",
                **line_style(i, len(variants), len(t)))
    _time_axes(ax, unit, label, warmup)
    ax.set_ylabel("committed memory (% of host memory after reserve)")
    ax.set_ylim(0, 105 if top > 60 else max(10.0, top * 1.35))
    ax.grid(True, alpha=0.3)
    _legend(ax)
    ax.set_title(f"{title}: memory use over time{note}")
    _save(fig, path)


def blast_radius(path: Path, title: str, variants: list[Any]) -> None:
    """Instances taken down per fault (mean, p99, max) per variant, with the fault count."""
    fig, ax = plt.subplots(figsize=(8, 5))
    names = [v.name for v in variants]
    x = np.arange(len(variants))
    for k, (stat, hatch) in enumerate((("mean", ""), ("p99", "//"), ("max", ".."))):
        values = [(v.metrics["blast_radius"][stat] or 0.0) for v in variants]
        bars = ax.bar(x + (k - 1) * 0.27, values, 0.25, hatch=hatch, edgecolor="black",
                      color=[variant_color(n, i) for i, n in enumerate(names)], label=stat)
        ax.bar_label(bars, fmt="%.3g", fontsize="x-small")
    faults = [sum(v.metrics["faults"].values()) for v in variants]
    ax.set_xticks(x, [f"{n}\n({f} faults)" for n, f in zip(names, faults)],
                  rotation=20 if len(names) > 4 else 0, fontsize="small", ha="center")
    ax.set_ylabel("instances taken down per fault")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(title="per fault")
    ax.set_title(f"{title}: blast radius of a fault")
    _save(fig, path)


def availability_density(path: Path, title: str, variants: list[Any]) -> None:
    """The trade-off in one picture: instances per physical host against availability."""
    fig, ax = plt.subplots(figsize=(8, 5))
    names_at: dict[tuple[float, float], list[str]] = {}
    for i, v in enumerate(variants):
        density = v.metrics.get("density_physical_max") or 0.0
        available = v.metrics.get("availability")
        if available is None:
            continue
        ax.scatter([density], [100 * available], s=90, color=variant_color(v.name, i), zorder=3,
                   label=f"{v.name}: {density:.0f} per host, {100 * available:.3f} % "
                         f"available, blast radius {v.metrics['blast_radius']['mean'] or 0:.3g}")
        names_at.setdefault((density, 100 * available), []).append(v.name)
    for point, names in names_at.items():  # variants that coincide share one label
        ax.annotate(" = ".join(names), point, textcoords="offset points", xytext=(6, 6),
                    fontsize="small")
    ax.set_xlabel("density: most instances on one physical host")
    ax.set_ylabel("availability (% of requested instance-time running)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="x-small", loc="best")
    ax.set_title(f"{title}: availability against density")
    _save(fig, path)


COMMAND_COLORS = {"pull": "#4e79a7", "extract": "#a0cbe8", "write": "#a0cbe8",
                  "copy": "#59a14f", "create": "#f28e2b", "boot": "#e15759", "exec": "#b07aa1",
                  "stop": "#9c755f", "commit": "#edc948", "push": "#76b7b2", "rm": "#bab0ac",
                  "rmi": "#bab0ac", "failed": "#000000"}


def _step_label(row: dict[str, Any]) -> str:
    """A step's short label: ``1 run demo (servercore)``, ``4 commit demo > demoimage``."""
    action, name, image = row["action"], row["container"], row["image"]
    if action in ("run", "create"):
        return f"{row['step']} {action} {name} ({image})"
    if action == "commit":
        return f"{row['step']} commit {name} > {image}"
    return f"{row['step']} {action} {name or image}"


def commands_timeline(path: Path, title: str, variants: list[Any], note: str = "") -> None:
    """A commands script's steps over time, a panel per variant on one time axis: each step
    a row, its phases as coloured spans, its seconds written after it (the script's first
    host)."""
    runs = [(v, [r for r in v.extra.get("commands") or []
                 if r["host"] == v.extra["commands"][0]["host"]])
            for v in variants if v.extra.get("commands")]
    steps = sorted({r["step"] for _, rows in runs for r in rows})
    labels = {r["step"]: _step_label(r) for _, rows in runs for r in rows}
    longest = max((r["end"] for _, rows in runs for r in rows), default=1.0)
    scale, unit = time_scale(longest)
    fig, axes = plt.subplots(len(runs), 1, figsize=(10, 0.32 * len(steps) * len(runs)
                                                     + 0.9 * len(runs) + 0.8),
                             sharex=True, squeeze=False)
    used: dict[str, Any] = {}
    for ax, (v, rows) in zip(axes[:, 0], runs):
        for r in rows:
            y = steps.index(r["step"])
            span = max(r["end"] - r["start"], longest * 2e-3)  # a zero-length step shows
            used[r["phase"]] = ax.barh(y, span / scale, left=r["start"] / scale, height=0.6,
                                       color=COMMAND_COLORS.get(r["phase"], "#999999"))
        for step in steps:
            ends = [r for r in rows if r["step"] == step]
            if ends:
                took = max(r["end"] for r in ends) - min(r["start"] for r in ends)
                ax.text(max(r["end"] for r in ends) / scale + longest / scale * 0.006,
                        steps.index(step), format_value(took, "time"), va="center",
                        fontsize="x-small")
        ax.set_yticks(range(len(steps)), [labels[s] for s in steps], fontsize="small")
        ax.invert_yaxis()
        ax.set_title(v.name, fontsize="medium", loc="left")
        ax.grid(True, axis="x", alpha=0.3)
        ax.set_xlim(0, longest / scale * 1.12)
    axes[-1, 0].set_xlabel(f"simulated time ({unit})")
    axes[0, 0].legend(used.values(), used.keys(), fontsize="small", ncol=4,
                      loc="upper right")  # the steps run down and to the right: it is empty
    fig.suptitle(f"{title}: the commands, step by step{note}")
    _save(fig, path)


def _rollout_spans(v: Any) -> list[tuple[float, float]]:
    return [(r["rollout_start"], r.get("rollout_end") or r["rollout_start"])
            for r in v.extra.get("pipeline_runs", []) if "rollout_start" in r]


def _zoom(variants: list[Any]) -> tuple[float, float] | None:
    """A time window around every rollout (None: no rollout)."""
    spans = [s for v in variants for s in _rollout_spans(v)]
    if not spans:
        return None
    start = min(a for a, _ in spans)
    end = max(b for _, b in spans)
    pad = max(30.0, 0.15 * (end - start))
    return start - pad, end + pad


def rollout_timeline(path: Path, title: str, variants: list[Any]) -> None:
    """Instances running per image version over time, one panel per variant, rollouts
    shaded."""
    fig, axes = plt.subplots(len(variants), 1, figsize=(8, 2.4 * len(variants) + 1),
                             sharex=True, squeeze=False)
    window = _zoom(variants)
    for ax, v in zip(axes[:, 0], variants):
        series = v.extra.get("series", {})
        for k, (name, level) in enumerate(sorted(series.items())):
            if not name.startswith("running_image:"):
                continue
            _, workload, image = name.split(":", 2)
            ax.step(level["times"], level["values"], where="post",
                    color=plt.get_cmap("tab10")(k % 10), label=f"{workload}: {image}")
        for a, b in _rollout_spans(v):
            ax.axvspan(a, b, color="grey", alpha=0.15)
        ax.set_ylabel("running")
        ax.set_title(f"{v.name}", fontsize="medium", loc="left")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="x-small", loc="center right")
        if window is not None:
            ax.set_xlim(*window)
    axes[-1, 0].set_xlabel("simulated time (s); grey: rollout in progress")
    fig.suptitle(f"{title}: instances on the old and the new version")
    _save(fig, path)


def registry_bandwidth(path: Path, title: str, variants: list[Any]) -> None:
    """Registry egress in use over time per variant (around the rollouts)."""
    fig, ax = plt.subplots(figsize=(8, 5))
    for i, v in enumerate(variants):
        level = v.extra.get("series", {}).get("registry_egress_Bps")
        if level is None:
            continue
        gbits = np.asarray(level["values"]) * 8 / 1e9
        ax.step(level["times"], gbits, where="post", color=variant_color(v.name, i), label=v.name)
        ax.fill_between(level["times"], gbits, step="post", color=variant_color(v.name, i),
                        alpha=0.25)
    window = _zoom(variants)
    if window is not None:
        ax.set_xlim(*window)
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("registry egress in use (Gbit/s)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    ax.set_title(f"{title}: registry bandwidth in use")
    _save(fig, path)


def slowdown_cdf(path: Path, title: str, variants: list[Any], warmup: float) -> None:
    """Batch jobs: time to finish their work over the stand-alone time, CDF per variant."""
    fig, ax = plt.subplots(figsize=(8, 5))
    for i, v in enumerate(variants):
        df = v.instances
        values = np.sort(df.loc[df["arrival"] >= warmup, "slowdown"].dropna().to_numpy())
        if len(values) == 0:
            continue
        y = np.arange(1, len(values) + 1) / len(values)
        ax.step(values, y, where="post", color=variant_color(v.name, i),
                label=f"{v.name} (p50 x{np.median(values):.3g}, "
                      f"p99 x{np.percentile(values, 99):.3g})")
    ax.set_xlabel("slowdown: completion time / stand-alone time (work / vCPUs)")
    ax.set_ylabel("fraction of batch jobs")
    ax.set_ylim(0, 1.01)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    ax.set_title(f"{title}: batch-job slowdown from sharing and noisy neighbours")
    _save(fig, path)


SWEEP_METRICS = [
    ("startup_s.p50", "start-up p50"),
    ("startup_s.p99", "start-up p99"),
    ("wait_s.mean", "mean wait for placement + slot"),
    ("density_max", "most instances on one host"),
    ("memory_utilization_mean", "committed memory, mean"),
    ("blocking", "blocking (rejected / requests)"),
]


def axis_unit(metric: str, values: Any) -> tuple[float, str]:
    """(divide by, unit) to show ``metric``'s ``values`` on an axis: a time in s, min or h by
    its largest value, a fraction in %, anything else as it is ("")."""
    from sim.present.formats import metric_kind

    kind = metric_kind(metric)
    if kind == "time":
        arr = np.asarray(values, dtype=float)
        return time_scale(float(np.nanmax(arr, initial=0.0)) if arr.size else 0.0)
    if kind == "percent":
        return 0.01, "%"
    return 1.0, ""


def swept_ticks(values: dict[str, float], at_most: int = 10) -> tuple[list[float], list[str]]:
    """Where the ticks of a swept parameter's axis go and what they say: at the swept values
    (their numbers), each as the scenario writes it (``0.5/s``, ``2GiB``, ``8``), thinned to
    at most ``at_most``. ``values``: each value as written → its number."""
    found = sorted(((number, text) for text, number in values.items()), key=lambda p: p[0])
    step = max(math.ceil(len(found) / at_most), 1)
    kept = found[::step]
    return [number for number, _ in kept], [text for _, text in kept]


def sweep_panels(agg: Any) -> tuple[list[tuple[str, str]], list[str]]:
    """The sweep panels worth drawing (``SWEEP_METRICS`` with some number other than 0) and
    the labels of those left out (every value 0 or missing: no blocking, say)."""
    drawn: list[tuple[str, str]] = []
    empty: list[tuple[str, str]] = []
    for metric, label in SWEEP_METRICS:
        means = agg.loc[agg["metric"] == metric, "mean"]
        (drawn if has_data(means.to_numpy(dtype=float)) else empty).append((metric, label))
    return drawn, [label for _, label in empty]


def sweep_calls(folder: Path, title: str, agg: Any, swept: list[str],
                numeric: dict[str, dict[str, float]], elastic: list[Any], warmup: float
                ) -> list[Callable[[], None]]:
    """A sweep's charts (``sweep_chart``, one per swept parameter) and, for autoscaled runs
    (``elastic``: the first replication of each point and variant), the autoscaling chart
    with a panel each: calls of no arguments, one per file, as ``chart_calls``."""
    calls: list[Callable[[], None]] = [
        functools.partial(sweep_chart, folder, title, agg, swept, numeric, p)
        for p in range(len(swept))]
    if elastic:
        calls.append(functools.partial(autoscaling, folder / "autoscaling.png", title, elastic,
                                       warmup))
    return calls


def sweep_chart(folder: Path, title: str, agg: Any, swept: list[str],
                numeric: dict[str, dict[str, float]], p: int) -> None:
    """For the ``p``-th swept parameter, the headline metrics against it: one line per
    variant (and per value of the other parameters), 95 % confidence band where there are
    replications. The axis shows the swept values as the scenario writes them; a metric that
    is 0 everywhere gets no panel (it is named below the charts)."""
    styles = ["-", "--", ":", "-."]
    markers = ["o", "s", "^", "D", "v", "P"]
    panels, empty = sweep_panels(agg)
    if not panels:
        panels, empty = SWEEP_METRICS[:1], []
    names = list(dict.fromkeys(agg["variant"]))
    cols = min(len(panels), 3)
    rows = math.ceil(len(panels) / cols)
    path = swept[p]
    others = [q for q in swept if q != path]
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.6 * rows + 1.3),
                             squeeze=False)
    spare = list(axes.flat[len(panels):])
    for ax in spare:
        ax.axis("off")
    for ax, (metric, label) in zip(axes.flat, panels):
        sub = agg[agg["metric"] == metric]
        scale, unit = axis_unit(metric, sub["mean"].to_numpy(dtype=float))
        keys = ["variant", *others]
        for k, (group_key, group) in enumerate(sub.groupby(keys, sort=False)):
            group_key = group_key if isinstance(group_key, tuple) else (group_key,)
            variant = group_key[0]
            v = names.index(variant) if variant in names else k
            x = _positions(numeric[path], group[path])
            order = np.argsort(x)
            mean = group["mean"].to_numpy(dtype=float)[order] / scale
            ci = np.nan_to_num(group["ci95"].to_numpy(dtype=float)[order]) / scale
            extra = ", ".join(f"{q} = {w}" for q, w in zip(others, group_key[1:]))
            color = variant_color(variant, v)
            style = styles[(k // max(len(names), 1)) % len(styles)]
            ax.plot(x[order], mean, style, marker=markers[v % len(markers)],
                    markersize=5, color=color,
                    label=variant + (f" ({extra})" if extra else ""))
            if ci.any():
                ax.fill_between(x[order], mean - ci, mean + ci, color=color, alpha=0.12)
        ax.set_title(label + (f" ({unit})" if unit else ""), fontsize="medium")
        if _categorical(numeric[path]):  # names, lists: one place each, in sweep order
            ax.set_xticks(range(len(numeric[path])), list(numeric[path]),
                          fontsize="small")
        else:
            ticks, texts = swept_ticks(numeric[path])
            ax.set_xticks(ticks, texts, fontsize="small")
            ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.set_xlabel(path)
        if unit == "%":
            ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    note = ("Not drawn, 0 at every point:\n" + "\n".join(empty)) if empty else ""
    fig.suptitle(f"{title}: metrics against {path} (mean, 95 % confidence band)")
    if spare:  # the legend and the note in the grid's empty place
        spare[0].legend(handles, labels, loc="upper left", fontsize="small",
                        title="variant", title_fontsize="small")
        if note:
            spare[0].text(0.0, 0.0, note, fontsize="small", color="#555", va="bottom",
                          transform=spare[0].transAxes)
        fig.tight_layout(rect=(0, 0, 1, 0.95))
    else:
        longest = max((len(label) for label in labels), default=0)
        ncol = max(1, min(len(labels), 3, 160 // max(longest, 1)))
        fig.legend(handles, labels, loc="lower center", fontsize="small", ncol=ncol)
        if note:
            fig.text(0.01, 0.99, note.replace("\n", " ", 1).replace("\n", ", "),
                     fontsize="small", color="#555", va="top")
        legend_rows = math.ceil(len(labels) / ncol)
        fig.tight_layout(rect=(0, 0.02 + 0.035 * legend_rows / rows * 2, 1, 0.95))
    safe = "".join(c if c.isalnum() else "_" for c in path).strip("_")
    fig.savefig(folder / f"sweep_{p + 1}_{safe}.png", dpi=100)
    plt.close(fig)


def _categorical(values: dict[str, float]) -> bool:
    """Whether a swept parameter's values are not all numbers (names, lists)."""
    return any(math.isnan(v) for v in values.values())


def _positions(values: dict[str, float], cells: Any) -> np.ndarray:
    """Where each run's swept value goes on the x axis: its number, or for a parameter whose
    values are not all numbers, its place in the sweep's order."""
    if _categorical(values):
        places = {cell: k for k, cell in enumerate(values)}
        return np.asarray([float(places[str(v)]) for v in cells])
    return np.asarray([values[str(v)] for v in cells])


def density_bars(path: Path, title: str, table: dict[str, Any], modes: list[str]) -> None:
    """Instances per host for each host group × workload, one bar per mode, the binding
    resource written on each bar."""
    rows = [(g, w, per) for g, workloads in table.items() for w, per in workloads.items()]
    fig, ax = plt.subplots(figsize=(max(7, 2.2 * len(rows) + 3), 5))
    width = 0.8 / max(len(modes), 1)
    x = np.arange(len(rows))
    top = 0.0
    for i, mode in enumerate(modes):
        heights = [max(per[mode]["per_host"], 0) for _, _, per in rows]
        top = max(top, *heights) if heights else top
        bars = ax.bar(x + (i - (len(modes) - 1) / 2) * width, heights, width * 0.95,
                      color=variant_color(mode, i), label=mode)
        for bar, (_, _, per) in zip(bars, rows):
            ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(),
                    f"{per[mode]['per_host']}\n{per[mode]['binding']}", ha="center",
                    va="bottom", fontsize="small")
    ax.set_xticks(x, [f"{g}\n{w}" for g, w, _ in rows])
    ax.set_ylabel("instances per host")
    ax.set_ylim(0, top * 1.4 + 1)
    ax.legend(title="isolation", ncol=len(modes), loc="upper center")
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_title(f"{title}: how many fit on one host, and what binds first")
    _save(fig, path)


def plan_charts(folder: Path, title: str, results: dict[str, Any], slos: list[Any],
                group: str) -> None:
    """For each SLO metric: its value (mean ± 95 % CI) against the host count per mode, the
    limit as a line and the count the SLOs were judged at starred; the legend gives each
    mode's answer as the plan's table does (with the headroom). The host axis is linear over
    a narrow range of counts, logarithmic over a wide one; then a second, linear panel
    shows the counts around the answers."""
    for k, slo in enumerate(slos):
        means = [p["metrics"][slo.metric]["mean"] for r in results.values() for p in r["probes"]
                 if p["metrics"][slo.metric]["mean"] is not None]
        hosts = [float(p["hosts"]) for r in results.values() for p in r["probes"]
                 if p["metrics"][slo.metric]["mean"] is not None]
        xscale = plan_xscale(hosts)
        zoom = plan_zoom(results, hosts) if xscale == "log" else None
        fig, axes = plt.subplots(1, 2 if zoom else 1, figsize=(13 if zoom else 8, 5),
                                 squeeze=False, sharey=True)
        scale, unit = axis_unit(slo.metric, means + [slo.limit])
        positive = [m for m in means if m > 0]
        log_y = bool(positive and slo.limit > 0
                     and max(positive) / min(positive + [slo.limit]) > 30)
        _plan_panel(axes[0, 0], results, slo, scale, xscale, None, log_y)
        axes[0, 0].set_xlabel(f"hosts in group {group} when judged"
                              + (" (log scale)" if xscale == "log" else ""))
        axes[0, 0].set_ylabel(_metric_label(slo.metric) + (f" ({unit})" if unit else ""))
        if zoom:
            _plan_panel(axes[0, 1], results, slo, scale, "linear", zoom, log_y)
            axes[0, 1].set_xlabel(f"hosts in group {group}, around the answers")
            axes[0, 0].set_title("every count probed", fontsize="medium", loc="left")
            axes[0, 1].set_title("around the answers", fontsize="medium", loc="left")
        axes[0, -1].legend(fontsize="small", loc="best")
        fig.suptitle(f"{title}: {_metric_label(slo.metric)} against host count")
        safe = "".join(c if c.isalnum() else "_" for c in slo.metric)
        _save(fig, folder / f"plan_{k + 1}_{safe}.png")


def plan_zoom(results: dict[str, Any], hosts: list[float]) -> tuple[float, float] | None:
    """The host counts around the answers, (low, high), when they take up a small part of a
    wide axis: from the smallest count probed to twice the largest answer; None when no mode
    met its SLOs or that is most of the axis anyway."""
    answers = [r["hosts_judged"] for r in results.values() if r.get("met")]
    if not answers or not hosts:
        return None
    low, high = min(hosts), 2.0 * max(answers)
    if max(hosts) <= 2 * high:
        return None
    pad = max((high - low) * 0.04, 0.5)
    return low - pad, high + pad


def _plan_panel(ax: Any, results: dict[str, Any], slo: Any, scale: float, xscale: str,
                xlim: tuple[float, float] | None, log_y: bool) -> None:
    for i, (mode, r) in enumerate(results.items()):
        probes = [p for p in r["probes"] if p["metrics"][slo.metric]["mean"] is not None
                  and (xlim is None or xlim[0] <= p["hosts"] <= xlim[1])]
        if not probes:
            continue
        xs = np.asarray([p["hosts"] for p in probes], dtype=float)
        ys = np.asarray([p["metrics"][slo.metric]["mean"] for p in probes], dtype=float) / scale
        ci = np.asarray([p["metrics"][slo.metric]["ci95"] or 0.0 for p in probes],
                        dtype=float) / scale
        color = variant_color(mode, i)
        dash, marker = STYLES[i % len(STYLES)]
        ax.errorbar(xs, ys, yerr=ci, color=color, capsize=3, markersize=5, linestyle=dash,
                    marker=marker, label=plan_label(mode, r))
        chosen = [p for p in probes if r["met"] and p["hosts"] == r["hosts_judged"]]
        if chosen:
            ax.plot([chosen[0]["hosts"]], [chosen[0]["metrics"][slo.metric]["mean"] / scale],
                    "*", color=color, markersize=16, markeredgecolor="black")
    ax.axhline(slo.limit / scale, color="black", linestyle="--", linewidth=1,
               label=f"SLO {slo.text}")
    plain = matplotlib.ticker.FuncFormatter(lambda v, _pos: f"{v:,.4g}")
    if log_y:
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    if xscale == "log":
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    else:
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
    if xlim is not None:
        ax.set_xlim(*xlim)
    ax.grid(True, which="major", alpha=0.3)


def _metric_label(metric: str) -> str:
    """``startup_s.p99`` → ``start-up p99``; a metric without a label as it is."""
    return dict(SWEEP_METRICS).get(metric, metric)


TORNADO_MAX_BARS = 15


def tornado_charts(folder: Path, title: str, data: dict[str, Any]) -> None:
    """A tornado chart per variant and metric of ``sensitivity.json``'s ``data``: each input's
    one-at-a-time swing as a bar from the metric at the input's low to the metric at its high,
    around the nominal value, the largest swing on top (at most ``TORNADO_MAX_BARS``)."""
    from sim.present.formats import metric_kind

    for variant, v in data["variants"].items():
        for k, (metric, entries) in enumerate(v["metrics"].items()):
            nominal = v["nominal"].get(metric)
            rows = [e for e in entries if e["low_value"] is not None
                    and e["high_value"] is not None and math.isfinite(e["low_value"])
                    and math.isfinite(e["high_value"])]
            if nominal is None or not math.isfinite(nominal) or not rows:
                continue
            rows.sort(key=lambda e: abs(e["high_value"] - e["low_value"]), reverse=True)
            rows = rows[:TORNADO_MAX_BARS][::-1]
            scale, unit = (60.0, "min") if metric_kind(metric) == "time" and max(
                max(e["low_value"], e["high_value"]) for e in rows) > 300 else (1.0, "")
            unit = unit or ("s" if metric_kind(metric) == "time" else "")
            fig, ax = plt.subplots(figsize=(9, 1.2 + 0.42 * len(rows)))
            for i, e in enumerate(rows):
                lo, hi = e["low_value"] / scale, e["high_value"] / scale
                base = nominal / scale
                ax.barh(i, lo - base, left=base, color="#4c72b0", height=0.6,
                        label="input at its low" if i == 0 else None)
                ax.barh(i, hi - base, left=base, color="#dd8452", height=0.6,
                        label="input at its high" if i == 0 else None)
            ax.axvline(nominal / scale, color="black", linewidth=1,
                       label=f"nominal {format_value(nominal, metric_kind(metric))}")
            band = (v.get("band") or {}).get(metric)
            if band:
                kind = metric_kind(metric)
                ax.axvspan(band["p5"] / scale, band["p95"] / scale, color="grey", alpha=0.15,
                           label="5-95 % over all inputs together: "
                                 f"{format_value(band['p5'], kind)} to "
                                 f"{format_value(band['p95'], kind)}")
            ax.set_yticks(range(len(rows)))
            ax.set_yticklabels([e["path"] for e in rows], fontsize="small")
            ax.set_xlabel(f"{metric}{' (' + unit + ')' if unit else ''}")
            ax.grid(True, axis="x", alpha=0.3)
            ax.legend(fontsize="x-small", loc="lower right")
            ax.set_title(f"{title} [{variant}]: what moves {_metric_label(metric)}",
                         fontsize="medium")
            safe = "".join(c if c.isalnum() else "_" for c in f"{metric}_{variant}")
            _save(fig, folder / f"tornado_{k + 1}_{safe}.png")


BAND_METRICS = [("startup_s.p50", "start-up p50"), ("startup_s.p99", "start-up p99"),
                ("wait_s.mean", "wait for placement + slot, mean"),
                ("hosts_used_max", "hosts used, peak"),
                ("memory_utilization_mean", "memory committed, mean")]


def uncertainty_bands(path: Path, title: str, summary: dict[str, Any]) -> None:
    """Headline metrics per variant: the nominal value with its seed interval (± 95 % CI over
    the replications, a thin bar) beside the 5-95 % band over the sampled assumptions (a
    thick bar, median marked), so a reader sees which of the two is wider."""
    from sim.analysis.dotted import metric_value
    from sim.present.formats import metric_kind

    variants = summary["variants"]
    shown = [(m, label) for m, label in BAND_METRICS
             if any((v.get("uncertainty") or {}).get(m) for v in variants.values())]
    if not shown:
        return
    fig, axes = plt.subplots(len(shown), 1, figsize=(8, 1.1 + 1.25 * len(shown)), squeeze=False)
    for ax, (metric, label) in zip(axes[:, 0], shown):
        time = metric_kind(metric) == "time"
        scale = 60.0 if time and max(
            ((v.get("uncertainty") or {}).get(metric) or {}).get("p95", 0)
            for v in variants.values()) > 300 else 1.0
        for i, (name, v) in enumerate(variants.items()):
            color = variant_color(name, i)
            band = (v.get("uncertainty") or {}).get(metric)
            if band:
                ax.plot([band["p5"] / scale, band["p95"] / scale], [i, i], color=color,
                        linewidth=9, alpha=0.35, solid_capstyle="butt",
                        label="5-95 % over the assumptions" if i == 0 else None)
                ax.plot([band["median"] / scale], [i], "|", color=color, markersize=14)
            nominal = metric_value(v, metric)
            if nominal is not None:
                ci = (v.get("ci95") or {}).get(metric) or 0.0
                ax.errorbar([nominal / scale], [i], xerr=[[ci / scale], [ci / scale]], fmt="o",
                            color=color, capsize=4, markersize=5,
                            label="nominal ± 95 % CI over seeds" if i == 0 else None)
        ax.set_yticks(range(len(variants)))
        ax.set_yticklabels(list(variants), fontsize="small")
        ax.set_ylim(-0.7, len(variants) - 0.3)
        unit = " (min)" if scale == 60.0 else " (s)" if time else ""
        ax.set_xlabel(label + unit, fontsize="small")
        ax.grid(True, axis="x", alpha=0.3)
    axes[0, 0].legend(fontsize="x-small", loc="best")
    axes[0, 0].set_title(f"{title}: the assumptions' spread beside the seeds'",
                         fontsize="medium")
    _save(fig, path)


def plan_uncertainty(path: Path, title: str, results: dict[str, Any], group: str) -> None:
    """Hosts needed per mode at each sample of the assumptions (dots; a cross at the right
    edge for a sample whose SLOs cannot be met), the nominal answer and the count covering
    90 % of the samples."""
    modes = [(m, r) for m, r in results.items() if r.get("uncertainty")]
    if not modes:
        return
    fig, ax = plt.subplots(figsize=(8, 1.4 + 0.8 * len(modes)))
    met_max = max([h for _, r in modes for h in r["uncertainty"]["hosts"] if h is not None]
                  + [r["hosts"] or 0 for _, r in modes] + [1])
    edge = met_max * 1.1 + 1
    for i, (mode, r) in enumerate(modes):
        color = variant_color(mode, i)
        hosts = r["uncertainty"]["hosts"]
        jitter = np.linspace(-0.15, 0.15, len(hosts))
        ok = [(h, j) for h, j in zip(hosts, jitter) if h is not None]
        if ok:
            ax.plot([h for h, _ in ok], [i + j for _, j in ok], "o", color=color, alpha=0.6,
                    markersize=5)
        bad = [j for h, j in zip(hosts, jitter) if h is None]
        if bad:
            labelled = any(r2["uncertainty"]["not_met"] for _, r2 in modes[:i])
            ax.plot([edge] * len(bad), [i + j for j in bad], "x", color="#b00020",
                    markersize=6, label=None if labelled else "SLOs not met at any count")
        if r["hosts"] is not None:
            ax.plot([r["hosts"]], [i], "*", color=color, markersize=16,
                    markeredgecolor="black", label="nominal answer" if i == 0 else None)
        p90 = r["uncertainty"].get("p90")
        if p90 is not None:
            ax.plot([p90, p90], [i - 0.3, i + 0.3], color="black", linewidth=2,
                    label="covers 90 % of the samples" if i == 0 else None)
    ax.set_yticks(range(len(modes)))
    ax.set_yticklabels([m for m, _ in modes])
    ax.set_xlabel(f"hosts needed in group {group}")
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(fontsize="x-small", loc="best")
    ax.set_title(f"{title}: hosts needed over the assumptions", fontsize="medium")
    _save(fig, path)
