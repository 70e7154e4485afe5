"""The maintenance campaign timeline (``maintenance.png``): per variant, the hosts out of
service, the hosts on the new build (an upgrade) and the instances running, by image version
when a pipeline rolled a new one out; beside them, what each campaign took and cost.

Owns: that chart. Must not: compute metrics (``sim.analysis.maintenance``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from sim.present.chartkit import series_of, variant_color, variant_panels


def _steps(series: dict[str, Any], end: float, unit: float) -> tuple[np.ndarray, np.ndarray]:
    return (np.r_[series["times"], end] / unit,
            np.r_[series["values"], series["values"][-1]])


def _on_new_build(events: list[dict[str, Any]], name: str, target: str
                  ) -> tuple[list[float], list[float]]:
    """The campaign's hosts back on ``target`` over time (a step each host)."""
    times = sorted(e["time"] for e in events
                   if e["campaign"] == name and e["event"] == "up" and e.get("build") == target)
    return [0.0, *times], [0.0, *range(1, len(times) + 1)]


def _campaigns(variants: list[Any]) -> list[tuple[str, str | None]]:
    """Each campaign's name and, for an OS upgrade, the build it goes to (from its events)."""
    found: dict[str, str | None] = {}
    for v in variants:
        for name, metrics in (v.metrics.get("maintenance") or {}).items():
            found.setdefault(name, None)
            if "all_on_new_build_s" in metrics:
                builds = [e.get("build") for e in v.extra.get("maintenance") or []
                          if e["campaign"] == name and e["event"] == "up"]
                found[name] = found[name] or (builds[-1] if builds else None)
    return list(found.items())


def maintenance(path: Path, title: str, variants: list[Any],
                table: dict[str, Any] | None = None, note: str = "") -> None:
    """Draw the campaign timeline of ``variants`` (``sim.run.results.RunOutput``) into
    ``path``."""
    table = table or {}
    fig, axes, unit, label, end = variant_panels(variants, 14, 1.4, 2.4)
    campaigns = _campaigns(variants)
    for i, v in enumerate(variants):
        ax = axes[i][0]
        color = variant_color(v.name, i)
        series = v.extra.get("series") or {}
        versions = sorted(k for k in series if k.startswith("running_image:"))
        if versions:
            for k, name in enumerate(versions):
                t, y = _steps(series[name], end, unit)
                ax.step(t, y, where="post", color=color, linewidth=1.6,
                        linestyle=("-", "--", "-.", ":")[k % 4],
                        label=": ".join(name.split(":", 2)[1:]))
            ax.legend(loc="upper left", fontsize="x-small", title="running (workload: image)",
                      title_fontsize="x-small")
        else:
            t, y = series_of(v, "running", unit)
            ax.plot(t, y, color=color, linewidth=1.6)
        ax.set_ylabel("instances running")
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        ax.set_title(v.name, loc="left", fontsize="medium")
        twin = ax.twinx()
        for name, target in campaigns:
            out = series.get(f"maintenance:{name}")
            if out:
                t, y = _steps(out, end, unit)
                twin.step(t, y, where="post", color="#c44e52", linewidth=1.2, linestyle=":")
            if target is not None:
                times, count = _on_new_build(v.extra.get("maintenance") or [], name, target)
                twin.step(np.r_[times, end] / unit, np.r_[count, count[-1]], where="post",
                          color="#55a868", linewidth=1.2, linestyle="--")
        twin.set_ylabel("hosts")
        twin.set_ylim(bottom=0)
        twin.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(f"simulated time ({label})")
        axes[i][1].axis("off")
    _costs(fig.add_subplot(1, 4, 4), variants, campaigns, table)
    handles = [Line2D([], [], color="black", linewidth=1.6, label="instances running"),
               Line2D([], [], color="#c44e52", linestyle=":", label="hosts drained or down "
                      "(right axis)")]
    if any(target for _name, target in campaigns):
        handles.append(Line2D([], [], color="#55a868", linestyle="--",
                              label="hosts on the new build (right axis)"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize="small")
    names = ", ".join(name for name, _target in campaigns)
    fig.suptitle(f"{title}: maintenance ({names}) over time{note}")
    height = fig.get_size_inches()[1]
    fig.tight_layout(rect=(0, 0.4 / height, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _costs(ax: Any, variants: list[Any], campaigns: list[tuple[str, str | None]],
           table: dict[str, Any]) -> None:
    """Per variant: the first campaign's duration (bars, hours) with its restarts, live
    migrations and lost instance-hours written above; one that did not finish is marked."""
    first = campaigns[0][0]
    hours, notes = [], []
    for v in variants:
        found = ((table.get(v.name) or v.metrics).get("maintenance") or {}).get(first, {})
        duration = found.get("duration_s")
        hours.append((duration or 0.0) / 3600.0)
        notes.append("did not finish" if duration is None else
                     f"{found.get('restarts', 0):,} restarts\n"
                     f"{found.get('migrations', 0):,} moves\n"
                     f"{found.get('lost_instance_hours') or 0:.2g} inst-h\nlost")
    x = np.arange(len(variants))
    ax.bar(x, hours, color=[variant_color(v.name, k) for k, v in enumerate(variants)])
    for k, text in enumerate(notes):
        ax.annotate(text, (k, hours[k]), ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x, [v.name for v in variants])
    ax.set_ylim(0, max(max(hours, default=0.0) * 1.5, 1e-6))
    ax.set_ylabel("campaign duration (h)")
    ax.set_title(f"{first}: duration and cost", fontsize="medium")
    ax.grid(True, axis="y", alpha=0.3)
