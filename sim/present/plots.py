"""Charts of a scenario's results, for someone who did not write the simulator: titles, units,
legends. Reads result tables only; never imports the model.

Owns: the PNG files ``startup_cdf``, ``startup_phases``, ``running``, ``density`` and ``memory``,
and, when the run has faults or batch jobs, ``blast_radius``, ``availability_density`` and
``slowdown_cdf``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np

from sim.analysis.metrics import PHASES

COLORS = {"process": "#1b9e77", "hyperv": "#d95f02", "vm": "#7570b3"}


def _color(name: str, i: int) -> Any:
    """The mode's own colour for a plain isolation variant; distinct colours otherwise (so
    that, e.g., process+best-fit and process+spread do not share one)."""
    if name in COLORS:
        return COLORS[name]
    return plt.get_cmap("tab10")(i % 10)


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def draw_all(folder: Path, scenario_name: str, variants: list[Any], warmup: float) -> None:
    """Draw every chart of ``variants`` (``sim.run.results.RunOutput``) into ``folder``."""
    startup_cdf(folder / "startup_cdf.png", scenario_name, variants, warmup)
    startup_phases(folder / "startup_phases.png", scenario_name, variants)
    running(folder / "running.png", scenario_name, variants, warmup)
    density(folder / "density.png", scenario_name, variants)
    memory(folder / "memory.png", scenario_name, variants, warmup)
    if any(sum((v.metrics.get("faults") or {}).values()) for v in variants):
        blast_radius(folder / "blast_radius.png", scenario_name, variants)
        availability_density(folder / "availability_density.png", scenario_name, variants)
    if any(v.extra.get("pipeline_runs") for v in variants):
        rollout_timeline(folder / "rollout_timeline.png", scenario_name, variants)
        registry_bandwidth(folder / "registry_bandwidth.png", scenario_name, variants)
    if any((v.metrics.get("slowdown") or {}).get("p50") is not None for v in variants):
        slowdown_cdf(folder / "slowdown_cdf.png", scenario_name, variants, warmup)


def startup_cdf(path: Path, title: str, variants: list[Any], warmup: float) -> None:
    """Empirical CDF of start-up time (arrival to running) per variant."""
    fig, ax = plt.subplots(figsize=(8, 5))
    for i, v in enumerate(variants):
        df = v.instances
        df = df[(df["arrival"] >= warmup) & df["running"].notna()]
        values = np.sort((df["running"] - df["arrival"]).to_numpy())
        if len(values) == 0:
            continue
        y = np.arange(1, len(values) + 1) / len(values)
        p50 = v.metrics["startup_s"]["p50"]
        p99 = v.metrics["startup_s"]["p99"]
        ax.step(values, y, where="post", color=_color(v.name, i),
                label=f"{v.name} (p50 {p50:.3g} s, p99 {p99:.3g} s)")
    ax.set_xscale("log")
    ax.set_xlabel("start-up time, request to running (s, log scale)")
    ax.set_ylabel("fraction of instances")
    ax.set_ylim(0, 1.01)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(f"{title}: start-up time CDF per variant")
    _save(fig, path)


def startup_phases(path: Path, title: str, variants: list[Any]) -> None:
    """Mean time in each start-up phase per variant, stacked, with the wait before it."""
    fig, ax = plt.subplots(figsize=(8, 5))
    names = [v.name for v in variants]
    bottom = np.zeros(len(variants))
    parts = [("wait (queue + slot)", [v.metrics["wait_s"]["mean"] or 0.0 for v in variants])]
    parts += [(p, [(v.metrics["phases_s"][p]["mean"] or 0.0) for v in variants])
              for p in PHASES]
    cmap = plt.get_cmap("tab10")
    for k, (label, values) in enumerate(parts):
        arr = np.asarray(values, dtype=float)
        ax.bar(names, arr, bottom=bottom, label=label, color=cmap(k))
        bottom += arr
    for x, total in enumerate(bottom):
        ax.text(x, total, f"{total:.3g} s", ha="center", va="bottom")
    ax.set_ylabel("mean time per started instance (s)")
    ax.set_title(f"{title}: where start-up time goes")
    ax.legend(loc="upper left", fontsize="small")
    ax.set_ylim(0, max(bottom.max() * 1.15, 1e-3))
    _save(fig, path)


def _time_unit(variants: list[Any]) -> tuple[float, str]:
    end = max(float(v.timeseries["time_s"].max()) for v in variants)
    if end > 3 * 3600:
        return 3600.0, "h"
    if end > 180:
        return 60.0, "min"
    return 1.0, "s"


def _series(v: Any, column: str, unit: float) -> tuple[np.ndarray, np.ndarray]:
    ts = v.timeseries.groupby("time_s")[column].sum()
    return ts.index.to_numpy() / unit, ts.to_numpy()


def _time_axes(ax: Any, unit: float, label: str, warmup: float) -> None:
    if warmup > 0:
        ax.axvline(warmup / unit, color="grey", linestyle="--", linewidth=1,
                   label="end of warm-up")
    ax.set_xlabel(f"simulated time ({label})")


def running(path: Path, title: str, variants: list[Any], warmup: float) -> None:
    """Instances running (solid) and waiting for placement (dotted) over time per variant."""
    fig, ax = plt.subplots(figsize=(8, 5))
    unit, label = _time_unit(variants)
    for i, v in enumerate(variants):
        t, y = _series(v, "running", unit)
        ax.plot(t, y, color=_color(v.name, i), label=f"{v.name} running")
        queued = v.timeseries.groupby("time_s")["queued"].first()  # pool-wide, same per group
        q = queued.to_numpy()
        if q.any():
            ax.plot(t, q, color=_color(v.name, i), linestyle=":", label=f"{v.name} queued")
    _time_axes(ax, unit, label, warmup)
    ax.set_ylabel("instances")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    ax.set_title(f"{title}: instances running over time")
    _save(fig, path)


def density(path: Path, title: str, variants: list[Any]) -> None:
    """Most instances held at once by each host, hosts ranked, one line per variant."""
    fig, ax = plt.subplots(figsize=(8, 5))
    for i, v in enumerate(variants):
        peaks = np.sort(np.asarray(v.host_peaks))[::-1]
        ranks = np.arange(1, len(peaks) + 1)
        ax.step(ranks, peaks, where="mid", color=_color(v.name, i), marker="o", markersize=3,
                label=f"{v.name} (max {int(max(peaks, default=0))} per host, "
                      f"{int(np.count_nonzero(peaks))} hosts used)")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("host, ranked by its peak")
    ax.set_ylabel("most instances on the host at once")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    ax.set_title(f"{title}: instances per host")
    _save(fig, path)


def memory(path: Path, title: str, variants: list[Any], warmup: float) -> None:
    """Committed memory as a share of the pool's memory (after reserves) over time."""
    fig, ax = plt.subplots(figsize=(8, 5))
    unit, label = _time_unit(variants)
    for i, v in enumerate(variants):
        t, used = _series(v, "memory_committed_bytes", unit)
        _, cap = _series(v, "memory_capacity_bytes", unit)
        ax.plot(t, 100.0 * used / cap, color=_color(v.name, i),
                label=f"{v.name} (mean {100 * v.metrics['memory_utilization_mean']:.1f} %)")
    _time_axes(ax, unit, label, warmup)
    ax.set_ylabel("committed memory (% of host memory after reserve)")
    ax.set_ylim(0, 105)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    ax.set_title(f"{title}: memory use over time")
    _save(fig, path)


def blast_radius(path: Path, title: str, variants: list[Any]) -> None:
    """Instances taken down per fault (mean, p99, max) per variant, with the fault count."""
    fig, ax = plt.subplots(figsize=(8, 5))
    names = [v.name for v in variants]
    x = np.arange(len(variants))
    for k, (stat, hatch) in enumerate((("mean", ""), ("p99", "//"), ("max", ".."))):
        values = [(v.metrics["blast_radius"][stat] or 0.0) for v in variants]
        bars = ax.bar(x + (k - 1) * 0.27, values, 0.25, hatch=hatch, edgecolor="black",
                      color=[_color(n, i) for i, n in enumerate(names)], label=stat)
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
        ax.scatter([density], [100 * available], s=90, color=_color(v.name, i), zorder=3,
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
        ax.step(level["times"], gbits, where="post", color=_color(v.name, i), label=v.name)
        ax.fill_between(level["times"], gbits, step="post", color=_color(v.name, i),
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
        ax.step(values, y, where="post", color=_color(v.name, i),
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
    ("startup_s.p50", "start-up p50 (s)"),
    ("startup_s.p99", "start-up p99 (s)"),
    ("wait_s.mean", "mean wait for placement + slot (s)"),
    ("density_max", "most instances on one host"),
    ("memory_utilization_mean", "committed memory share"),
    ("blocking", "blocking (rejected / requests)"),
]


def sweep_charts(folder: Path, title: str, agg: Any, swept: list[str],
                 numeric: dict[str, dict[str, float]]) -> None:
    """For each swept parameter, the headline metrics against it: one line per variant (and
    per value of the other parameters), 95 % confidence band where there are replications."""
    styles = ["-", "--", ":", "-."]
    for p, path in enumerate(swept):
        others = [q for q in swept if q != path]
        fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
        for ax, (metric, label) in zip(axes.flat, SWEEP_METRICS):
            sub = agg[agg["metric"] == metric]
            keys = ["variant", *others]
            for k, (group_key, group) in enumerate(sub.groupby(keys, sort=False)):
                group_key = group_key if isinstance(group_key, tuple) else (group_key,)
                variant = group_key[0]
                x = _positions(numeric[path], group[path])
                order = np.argsort(x)
                mean = group["mean"].to_numpy(dtype=float)[order]
                ci = np.nan_to_num(group["ci95"].to_numpy(dtype=float)[order])
                extra = ", ".join(f"{q}={v}" for q, v in zip(others, group_key[1:]))
                color = _color(variant, k)
                style = styles[(k // max(len(set(sub["variant"])), 1)) % len(styles)]
                ax.plot(x[order], mean, style, marker="o", markersize=4, color=color,
                        label=variant + (f" ({extra})" if extra else ""))
                if ci.any():
                    ax.fill_between(x[order], mean - ci, mean + ci, color=color, alpha=0.18)
            ax.set_title(label, fontsize="medium")
            if _categorical(numeric[path]):  # names, lists: one place each, in sweep order
                ax.set_xlabel(path)
                ax.set_xticks(range(len(numeric[path])), list(numeric[path]),
                              fontsize="small")
            else:
                ax.set_xlabel(f"{path} (canonical units)")
            ax.grid(True, alpha=0.3)
        handles, labels = axes.flat[0].get_legend_handles_labels()
        longest = max((len(label) for label in labels), default=0)
        fig.legend(handles, labels, loc="lower center", fontsize="small",
                   ncol=max(1, min(len(labels), 4, 160 // max(longest, 1))))
        fig.suptitle(f"{title}: metrics against {path} (mean, 95 % confidence band)")
        fig.tight_layout(rect=(0, 0.06, 1, 0.96))
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
                      color=_color(mode, i), label=mode)
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
    limit as a line and the chosen count marked."""
    for k, slo in enumerate(slos):
        fig, ax = plt.subplots(figsize=(8, 5))
        for i, (mode, r) in enumerate(results.items()):
            probes = [p for p in r["probes"] if p["metrics"][slo.metric]["mean"] is not None]
            if not probes:
                continue
            xs = np.asarray([p["hosts"] for p in probes], dtype=float)
            ys = np.asarray([p["metrics"][slo.metric]["mean"] for p in probes], dtype=float)
            ci = np.asarray([p["metrics"][slo.metric]["ci95"] or 0.0 for p in probes],
                            dtype=float)
            color = _color(mode, i)
            ax.errorbar(xs, ys, yerr=ci, fmt="o-", color=color, capsize=3, markersize=4,
                        label=f"{mode}: {r['hosts_judged'] if r['met'] else 'not met'}")
            if r["met"]:
                chosen = [p for p in probes if p["hosts"] == r["hosts_judged"]]
                if chosen:
                    ax.plot([chosen[0]["hosts"]], [chosen[0]["metrics"][slo.metric]["mean"]],
                            "*", color=color, markersize=16, markeredgecolor="black")
        ax.axhline(slo.limit, color="black", linestyle="--", linewidth=1,
                   label=f"SLO {slo.text}")
        means = [p["metrics"][slo.metric]["mean"] for r in results.values() for p in r["probes"]
                 if p["metrics"][slo.metric]["mean"] is not None]
        positive = [m for m in means if m > 0]
        if positive and slo.limit > 0 and max(positive) / min(positive + [slo.limit]) > 30:
            ax.set_yscale("log")
        ax.set_xscale("log")
        ax.set_xlabel(f"hosts in group {group} judged (log scale; * = smallest that passes)")
        ax.set_ylabel(slo.metric)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
        ax.set_title(f"{title}: {slo.metric} against host count")
        safe = "".join(c if c.isalnum() else "_" for c in slo.metric)
        _save(fig, folder / f"plan_{k + 1}_{safe}.png")


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
                       label=f"nominal {nominal / scale:.4g}{' ' + unit if unit else ''}")
            band = (v.get("band") or {}).get(metric)
            if band:
                ax.axvspan(band["p5"] / scale, band["p95"] / scale, color="grey", alpha=0.15,
                           label="5-95 % over all inputs together")
            ax.set_yticks(range(len(rows)))
            ax.set_yticklabels([e["path"] for e in rows], fontsize="small")
            ax.set_xlabel(f"{metric}{' (' + unit + ')' if unit else ''}")
            ax.grid(True, axis="x", alpha=0.3)
            ax.legend(fontsize="x-small", loc="lower right")
            ax.set_title(f"{title} [{variant}]: what moves {metric}", fontsize="medium")
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
    from sim.analysis.aggregate import metric_value
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
            color = _color(name, i)
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
        color = _color(mode, i)
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
