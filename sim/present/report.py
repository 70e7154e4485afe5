"""``results/<name>/report.html``: one self-contained page a planner can send on.

Owns: the page. It reads what the commands wrote into the results folder (``summary.json``,
``density.json``, ``packing.json``, ``plan.json`` and the PNG charts, embedded as data URIs,
so the page needs no network and no other file) and the scenario with its profiles (for the
scenario in words and the assumptions). Each of ``run``, ``density`` and ``plan`` rewrites it,
so it always shows every section whose results exist. It leads with the answer (hosts or
density, start-up, the SLO verdicts and the warnings, per mode), then the charts, the detailed
tables, the scenario, and the assumptions folded away. Must not: run the model.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from sim import __version__
from sim.analysis.cost import DEFAULT_CPU_USE, costed
from sim.analysis.dotted import metric_value
from sim.edge.loader import Loaded
from sim.present.formats import (
    band_text,
    metric_kind,
    row_unit,
    show,
    show_in,
    unit_label,
    workload_rows,
)
from sim.spec import builds
from sim.spec.config import BurstArrivals, host_name
from sim.spec.cost import DEFAULT_LICENCE_YEARS, LIST_PRICES
from sim.spec.maintenance import DEFAULTS as MAINTENANCE_DEFAULTS
from sim.spec.profiles import raw_ranges, sources
from sim.spec.slo import SLOError, parse_slo
from sim.spec.units import format_duration, format_size, format_value

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1100px;
color:#1d1d1f;line-height:1.45;padding:0 1rem}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid #ddd;padding-bottom:.2rem;margin-top:2.2rem}
.sub{color:#555}table{border-collapse:collapse;margin:.8rem 0;font-size:.92rem}
th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:right;vertical-align:top}
th{background:#f3f3f3}td.l,th.l{text-align:left}
figure{margin:1rem 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{color:#555;font-size:.9rem}.est{color:#a33;font-weight:600}
.ok{color:#1b7f3b}.bad{color:#b00020}code{background:#f5f5f5;padding:0 .2rem}
.question{font-size:1.05rem;font-style:italic;color:#333}
th.group{background:#e8eef7;text-align:left;font-weight:600}
ul.alerts{list-style:none;padding:0;margin:.5rem 0}
ul.alerts li{border-left:4px solid;padding:.25rem .7rem;margin:.3rem 0}
li.red{border-color:#b00020;background:#fdecee}li.amber{border-color:#b26a00;background:#fff4e0}
details{margin:.8rem 0}details>summary{cursor:pointer;font-weight:600;padding:.3rem 0}
.assumptions td:last-child{font-size:.85rem;color:#333;min-width:22rem}
"""

CHART_CAPTIONS = {
    "commands_timeline": "The commands script step by step, a panel per variant: each "
                         "step's phases (pull, extract, create, boot, exec, commit, ...) "
                         "over time, and the seconds it took.",
    "startup_cdf": "Start-up time (request to running) distribution per isolation mode.",
    "startup_phases": "Where start-up time goes: mean time per phase.",
    "running": "Instances running over time, a panel per variant with the others in grey "
               "behind it (dotted: instances waiting for a host, where there are any).",
    "density": "The most instances each host held at once, hosts ranked.",
    "memory": "Committed memory as a share of host memory (after reserves) over time.",
    "density_per_host": "How many instances fit on one empty host, and the resource that binds.",
    "blast_radius": "Instances taken down per fault (mean, p99, max): a shared kernel takes "
                    "the whole host, an own kernel one instance.",
    "availability_density": "The isolation trade-off: instances per physical host against the "
                            "share of requested instance-time spent running.",
    "rollout_timeline": "Rollouts: instances running on the old and the new image version; "
                        "grey spans are rollouts in progress.",
    "registry_bandwidth": "Registry egress in use around the rollouts.",
    "slowdown_cdf": "Batch jobs: completion time over stand-alone time (CPU sharing and noisy "
                    "neighbours).",
    "cost": "What an instance-hour served costs per variant, stacked by hosts, Windows Server "
            "licences and energy (over the window after warm-up), and the hosts' power over "
            "time.",
    "autoscaling": "Autoscaling, a panel per variant: the replicas the demand asks for "
                   "(dashed), those the autoscaler wants (grey), the instances running, and "
                   "the hosts present (dotted, right axis); beside them the time from each "
                   "rise in demand until it was served.",
    "maintenance": "Maintenance campaigns, a panel per variant: instances running (by "
                   "workload and image version when a pipeline rolled one out), the hosts "
                   "drained or down (dotted, right axis) and, for an OS upgrade, the hosts on "
                   "the new build (dashed); beside them each campaign's duration with the "
                   "restarts, live migrations and instance-hours it cost.",
    "uncertainty_bands": "Each headline metric at the nominal inputs with its 95 % interval "
                         "over the seeds (dot and whiskers), beside its 5-95 % range over the "
                         "sampled assumptions (the wide bar; the tick is the median).",
    "plan_uncertainty": "Hosts needed at each sample of the assumptions (dots; a red cross: "
                        "the SLOs cannot be met there), the nominal answer (star) and the "
                        "count that covers 90 % of the samples (bar).",
}
PREFIX_CAPTIONS = {
    "plan_": "Plan: the SLO metric (mean ± 95 % CI over replications) against the host count "
             "probed; the star marks the smallest count that passes, where the SLOs are "
             "judged (the answer adds the headroom). Over a wide range of counts, the right "
             "panel shows those around the answers on a linear axis.",
    "sweep_": "Sweep: headline metrics against a swept parameter, with 95 % confidence bands.",
    "tornado_": "Sensitivity: the metric with each uncertain input alone at its low (blue) and "
                "its high (orange), the others at their nominal values; the grey band spans "
                "5-95 % with every input sampled together.",
}


def _e(value: Any) -> str:
    return html.escape(str(value))


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{_e(path.stem)}" src="data:image/png;base64,{data}">'


def _table(head: list[str], rows: list[list[Any]], left: int = 1) -> str:
    out = ["<table><thead><tr>"]
    out += [f'<th class="{"l" if i < left else ""}">{_e(h)}</th>' for i, h in enumerate(head)]
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>" + "".join(f'<td class="{"l" if i < left else ""}">{cell}</td>'
                                    for i, cell in enumerate(row)) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _modes_compared(loaded: Loaded) -> list[str]:
    s = loaded.scenario
    if s.compare is not None and s.compare.isolation:
        return list(s.compare.isolation)
    return sorted({wl.isolation for wl in s.workloads})


def _scenario_words(loaded: Loaded, planned: bool = False) -> str:
    """The scenario in a sentence, then its hosts and workloads as tables; ``planned``: the
    host counts are the file's, not the plan's answer, and the table says so."""
    s = loaded.scenario
    total = sum(g.count for g in s.hosts)
    groups = "; ".join(f"{g.group}: {g.count:,}"
                       + (f" (scaling {g.autoscale.min:,} to {g.autoscale.max:,})"
                          if g.autoscale is not None else "")
                       + f" × {g.cpu_cores} cores, {format_size(g.memory)}" for g in s.hosts)
    what = f"{len(s.workloads)} workload{'s' if len(s.workloads) != 1 else ''}"
    if s.commands is not None:
        carriers = {g.virtual.physical_group for g in s.hosts if g.virtual is not None}
        first = next(g.group for g in s.hosts if g.group not in carriers)
        where = s.commands.host or (f"each host of {s.commands.group}" if s.commands.group
                                    else host_name(first, 0))
        script = f"a commands script of {len(s.commands.steps)} steps on {where}"
        what = f"{what} and {script}" if s.workloads else script[0].upper() + script[1:]
    parts = [f"<p>{_e(what)}{',' if s.commands is not None else ''} on {total:,} "
             f"host{'s' if total != 1 else ''}"
             + (" as written in the file" if planned else "")
             + f" ({_e(groups)}), simulated for {_e(format_duration(s.duration))} (the "
             f"statistics after its first {_e(format_duration(s.warmup))}, the warm-up), under "
             + ", ".join(f"<code>{_e(m)}</code>" for m in _modes_compared(loaded))
             + ".</p>"]
    hosts = [[_e(g.group), g.count, g.cpu_cores, f"{g.cpu_overcommit:g}",
              _e(format_size(g.memory)), _e(format_size(g.reserved_memory)),
              _e(format_size(g.disk)), "yes" if g.hyperv else "no", _e(g.os_build),
              g.max_concurrent_starts] for g in s.hosts]
    parts.append(_table(["host group", "hosts in the file" if planned else "hosts", "cores",
                         "overcommit", "memory", "reserved", "disk", "Hyper-V", "OS build",
                         "start slots"], hosts))
    workloads = []
    for wl in s.workloads:
        arrival = wl.arrival
        if arrival.kind == "poisson":
            how = f"Poisson, {arrival.rate * 3600:g}/h"
        elif arrival.kind == "constant":
            how = f"every {format_duration(arrival.interval)}"
        elif arrival.kind == "replicas" and wl.replicas is not None:
            how = (f"replicas {wl.replicas.min:,}-{wl.replicas.max:,}, "
                   f"{wl.replicas.target_per_replica:g} of demand each")
        elif arrival.kind == "trace":
            how = (f"{arrival.format} trace {Path(arrival.path).name}"
                   + (f", {arrival.sample:.0%} sampled" if arrival.sample < 1 else "")
                   + (f", {arrival.speedup:g}x speed" if arrival.speedup != 1 else ""))
        elif isinstance(arrival, BurstArrivals):
            how = f"{arrival.count} at {format_duration(arrival.at)}"
        else:
            how = arrival.kind
        workloads.append([_e(wl.name), _e(wl.image), _e(wl.tenant), f"{wl.cpu:g}",
                          _e(format_size(wl.memory)), _e(how), _e(wl.on_full)])
    if workloads:
        parts.append(_table(["workload", "image", "tenant", "vCPU", "memory", "arrivals",
                             "when full"], workloads))
    parts.append(f"<p>Placement <code>{_e(s.placement)}</code>; seed {s.seed}.</p>")
    return "".join(parts)


def _comparison(summary: dict[str, Any]) -> str:
    if "variants" not in summary:
        return "<p>This scenario is a sweep: see <code>aggregate.csv</code> and the sweep " \
               "charts below.</p>"
    variants = summary["variants"]
    rows_spec = [("requests", "requests"), ("started", "started"), ("blocking", "blocking"),
                 ("start-up p50", "startup_s.p50"), ("start-up p95", "startup_s.p95"),
                 ("start-up p99", "startup_s.p99"), *workload_rows(variants),
                 ("mean wait for placement + slot", "wait_s.mean"),
                 ("running, time average", "running_mean"),
                 ("most instances on one host", "density_max"),
                 ("hosts used, peak", "hosts_used_max"),
                 ("committed memory, mean", "memory_utilization_mean")]
    rows = []
    for label, metric in rows_spec:  # one unit per row, named in its label
        unit = row_unit([metric_value(m, metric) for m in variants.values()], metric)
        rows.append([_e(unit_label(label, unit)),
                     *[_e(show(m, metric, unit) + band_text(m, metric))
                       for m in variants.values()]])
    reps = summary.get("replications", 1)
    note = f"<p class='sub'>Means of {reps} replications ± 95 % confidence half-width.</p>" \
        if reps > 1 else ""
    if summary.get("uncertainty_samples"):
        note += (f"<p class='sub'>[a to b]: the 5-95 % range over "
                 f"{summary['uncertainty_samples']} samples of the uncertain inputs (the "
                 "scenario's ranges and the built-in estimates), every sample on the same "
                 "seed; ± is over the seeds at the nominal inputs. Where the range is wider "
                 "than the ±, the assumptions matter more than the randomness.</p>")
    return _table(["metric", *variants], rows) + note


def _sensitivity(data: dict[str, Any]) -> str:
    method = data.get("method")
    out = [f"<p>What moves each metric, and by how much: {data.get('runs')} runs, "
           f"{_e(data.get('note', ''))}.</p>"]
    for variant, v in data.get("variants", {}).items():
        for metric, entries in v.get("metrics", {}).items():
            kind = metric_kind(metric)
            nominal = v.get("nominal", {}).get(metric)
            band = (v.get("band") or {}).get(metric)
            out.append(f"<h3>What moves <code>{_e(metric)}</code>"
                       + ("" if variant == "base" else f" under {_e(variant)}")
                       + f": nominal {_e(format_value(nominal, kind))}"
                       + (f", {_e(format_value(band['p5'], kind))} to "
                          f"{_e(format_value(band['p95'], kind))} over the assumptions"
                          if band else "") + "</h3>")
            inputs = {i["path"]: i for i in v.get("inputs", [])}
            rows = []
            for e in entries:
                spec = inputs.get(e["path"], {})
                written = spec.get("written") or ["", ""]
                index = (f"{e['ST']:.2f} ± {e.get('ST_conf', 0):.2f}" if method == "sobol"
                         and e.get("ST") is not None else
                         f"{_e(format_value(e['mu_star'], kind))}" if e.get("mu_star")
                         is not None else "-")
                rows.append([f"<code>{_e(e['path'])}</code>",
                             _e(f"{written[0]} to {written[1]}"), _e(spec.get("trust", "")),
                             _e(format_value(e["low_value"], kind)),
                             _e(format_value(e["high_value"], kind)), index])
            head = ["input", "range", "trust", "at its low", "at its high",
                    "total index ST" if method == "sobol" else "Morris μ*"]
            out.append(_table(head, rows, left=3))
    return "".join(out)


def _density(density: dict[str, Any], packing: dict[str, Any] | None) -> str:
    order = {"process": 0, "hyperv": 1, "vm": 2}
    modes = sorted({m for rows in density.values() for per in rows.values() for m in per},
                   key=lambda m: (order.get(m, 3), m))
    rows = []
    for group, per_workload in density.items():
        for workload, per in per_workload.items():
            row = [_e(group), _e(workload)]
            for mode in modes:
                e = per.get(mode)
                if e is None:
                    row.append("-")
                    continue
                check = ("" if e.get("simulated") is None else
                         ' <span class="ok">✓ simulated</span>'
                         if e["simulated"] == e["per_host"] else
                         f' <span class="bad">simulated {e["simulated"]}</span>')
                row.append(f"{e['per_host']:,} ({_e(e['binding'])}){check}")
            rows.append(row)
    out = _table(["host group", "workload", *modes], rows, left=2)
    if packing:
        prow = [[_e(g), *[f"{per[m]['hosts']} / {per[m]['lower_bound']} "
                          f"({_e(per[m]['lower_bound_resource'])})" for m in modes if m in per]]
                for g, per in packing.items()]
        out += ("<p>The steady-state mix of all workloads packed by first-fit decreasing, "
                "beside the lower bound (max over resources of ⌈Σ size / capacity⌉):</p>"
                + _table(["host group", *modes], prow))
    return out


def _plan(plan: dict[str, Any]) -> str:
    modes = [k for k, v in plan.items() if isinstance(v, dict) and "probes" in v]
    slos = plan.get("slo", [])
    rows = []
    for mode in modes:
        r = plan[mode]
        if not r["met"]:
            rows.append([_e(mode), '<span class="bad">not met</span>'
                         + (f" ({_e(_over(r['uncertainty']))})" if r.get("uncertainty")
                            else ""), _e(r.get("reason") or ""), "", ""])
            continue
        probe = next(p for p in r["probes"] if p["hosts"] == r["hosts_judged"])
        values = "; ".join(
            f"{m} = {_e(format_value(v['mean'], metric_kind(m)))}"
            + (f" ± {_e(format_value(v['ci95'], metric_kind(m)))}" if v.get("ci95") else "")
            for m, v in probe["metrics"].items())
        cost = "-" if r.get("cost") is None else f"{r['cost']:,.2f}"
        hosts = f"{r['hosts']:,}" + (f" ({_e(_over(r['uncertainty']))})"
                                     if r.get("uncertainty") else "")
        rows.append([_e(mode), hosts, values, str(len(r["probes"])), cost])
    head = (f"<p>Group <code>{_e(plan.get('group'))}</code>, SLOs "
            + ", ".join(f"<code>{_e(s)}</code>" for s in slos)
            + f", judged at the pessimistic end of the 95 % confidence interval over "
              f"{plan.get('replications')} replications"
            + (f", with N+{plan['headroom']} headroom" if plan.get("headroom") else "")
            + ".</p>")
    return head + _table(["mode", "hosts", "SLO metrics at that count", "probes", "cost"], rows)


def _over(band: dict[str, Any]) -> str:
    """``27-36 over the assumptions; 34 covers 90 %``."""
    def count(key: str) -> str:
        return "not met" if band.get(key) is None else f"{band[key]:,}"

    if band.get("not_met") == band["samples"]:
        return f"not met in any of {band['samples']} samples of the assumptions"
    return (f"{count('p5')}-{count('p95')} over {band['samples']} samples of the "
            "assumptions; " + (f"{band['p90']:,} covers 90 %" if band.get("p90") is not None
                               else "no count covers 90 %"))


METRIC_WORDS = {"startup_s.p50": "start-up p50", "startup_s.p95": "start-up p95",
                "startup_s.p99": "start-up p99", "wait_s.mean": "mean wait for a host",
                "hosts_used_max": "hosts used, peak", "density_max": "most instances on a host",
                "memory_utilization_mean": "committed memory, mean", "blocking": "blocking"}
RED = ("saturated", "no_arrivals", "load")  # warning kinds that make an answer wrong, not rough


def _plan_modes(plan: dict[str, Any] | None) -> list[str]:
    return [k for k, v in (plan or {}).items() if isinstance(v, dict) and "probes" in v]


def _density_modes(density: dict[str, Any] | None) -> list[str]:
    order = {"process": 0, "hyperv": 1, "vm": 2}
    return sorted({m for rows in (density or {}).values() for per in rows.values() for m in per},
                  key=lambda m: (order.get(m, 3), m))


def _group_row(text: str, width: int) -> str:
    return f'<tr><th class="group" colspan="{width}">{text}</th></tr>'


def _answer_table(head: list[str], blocks: list[tuple[str, list[list[str]]]]) -> str:
    """A table of ``head`` with rows in titled blocks (a block title spans the table)."""
    out = ["<table><thead><tr>"]
    out += [f'<th class="{"l" if i == 0 else ""}">{_e(h)}</th>' for i, h in enumerate(head)]
    out.append("</tr></thead><tbody>")
    for title, rows in blocks:
        out.append(_group_row(title, len(head)))
        for row in rows:
            out.append("<tr>" + "".join(f'<td class="{"l" if i == 0 else ""}">{cell}</td>'
                                        for i, cell in enumerate(row)) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _hosts_in_file(loaded: Loaded, group: str | None = None) -> str:
    """``farm: 30`` for each host group (or only ``group``)."""
    return ", ".join(f"{g.group}: {g.count:,}" for g in loaded.scenario.hosts
                     if group is None or g.group == group)


def _plan_block(plan: dict[str, Any], columns: list[str]) -> tuple[str, list[list[str]]]:
    headroom = plan.get("headroom") or 0
    title = (f"The plan: hosts needed in group <code>{_e(plan.get('group'))}</code> to meet "
             + " and ".join(f"<code>{_e(t)}</code>" for t in plan.get("slo", []))
             + (f", plus {headroom} spare (N+{headroom})" if headroom else ""))
    hosts, band, verdicts, cost = ["hosts needed"], ["over the assumptions"], \
        ["SLOs at that count"], ["cost"]
    for col in columns:
        r = plan.get(col)
        if not isinstance(r, dict) or "probes" not in r:
            for row in (hosts, band, verdicts, cost):
                row.append("-")
            continue
        band.append(_e(_over(r["uncertainty"])) if r.get("uncertainty") else "-")
        cost.append("-" if r.get("cost") is None else f"{r['cost']:,.2f}")
        if not r["met"]:
            hosts.append('<span class="bad">not met</span>')
            verdicts.append(f'<span class="bad">{_e(r.get("reason") or "not met")}</span>')
            continue
        hosts.append(f"<b>{r['hosts']:,}</b>" + (
            f" <span class='sub'>(SLOs judged at {r['hosts_judged']:,}, + {headroom} "
            "spare)</span>" if headroom else ""))
        probe = next((p for p in r["probes"] if p["hosts"] == r["hosts_judged"]), None)
        verdicts.append("<br>".join(_verdict(text, probe) for text in plan.get("slo", [])))
    rows = [hosts]
    if any(cell != "-" for cell in band[1:]):
        rows.append(band)
    rows.append(verdicts)
    if any(cell != "-" for cell in cost[1:]):
        rows.append(cost)
    if any(isinstance(plan.get(col), dict) and plan[col].get("costs") for col in columns):
        each = ["cost per instance-hour at that count (hosts + licences + energy)"]
        for col in columns:
            found = (plan.get(col) or {}).get("costs") if isinstance(plan.get(col), dict) \
                else None
            value = (found or {}).get("per_instance_hour")
            each.append("-" if value is None else f"{value:,.4g}")
        rows.append(each)
    return title, rows


def _verdict(text: str, probe: dict[str, Any] | None) -> str:
    """``✓ startup_p99<=45s: 15.06s ± 19.56s``: an SLO at the plan's count."""
    metrics = (probe or {}).get("metrics") or {}
    try:
        metric = parse_slo(text, set(metrics)).metric
    except SLOError:
        return f"<code>{_e(text)}</code>"
    v = metrics[metric]
    kind = metric_kind(metric)
    value = format_value(v.get("mean"), kind) + (
        f" ± {format_value(v['ci95'], kind)}" if v.get("ci95") else "")
    failed = text in ((probe or {}).get("failed") or [])
    mark = '<span class="bad">✗</span>' if failed else '<span class="ok">✓</span>'
    return f"{mark} <code>{_e(text)}</code>: {_e(value)}"


def _density_block(density: dict[str, Any], columns: list[str],
                   variants: dict[str, Any]) -> tuple[str, list[list[str]]]:
    rows = []
    for group, per_workload in density.items():
        for workload, per in per_workload.items():
            label = workload if len(density) == 1 else f"{group}: {workload}"
            row = [_e(label)]
            for col in columns:
                e = per.get(col) or per.get((variants.get(col) or {}).get("isolation", ""))
                row.append("-" if e is None else
                           f"<b>{e['per_host']:,}</b> ({_e(e['binding'])} binds)")
            rows.append(row)
    return ("Density: instances that fit on one empty host, and the resource that runs out "
            "first"), rows


def _run_block(loaded: Loaded, variants: dict[str, Any], columns: list[str],
               planned: bool) -> tuple[str, list[list[str]]]:
    spec = [("start-up p50", "startup_s.p50"), ("start-up p99", "startup_s.p99"),
            *workload_rows(variants)]
    if any("offered_utilization" in m for m in variants.values()):
        spec.append(("offered load, share of capacity", "offered_utilization"))
    spec += [("still waiting at the end", "pending_at_end"),
             ("hosts used, peak", "hosts_used_max"),
             ("most instances on one host", "density_max"),
             ("committed memory, mean", "memory_utilization_mean")]
    if any(m.get("blocking") for m in variants.values()):
        spec.append(("turned away (blocking)", "blocking"))
    if any(m.get("cost") for m in variants.values()):  # only rows some variant has
        spec += [(label, metric) for label, metric in (
            ("cost per instance-hour (hosts + licences + energy)", "cost.per_instance_hour"),
            ("energy incl. PUE, kWh", "energy_kwh"), ("carbon, kg CO2e", "carbon_kg"))
            if any(metric_value(m, metric) is not None for m in variants.values())]
    campaigns = dict.fromkeys(c for m in variants.values() for c in (m.get("maintenance") or {}))
    for name in campaigns:  # what each maintenance campaign took and did to the service
        spec += [(f"{name}: {label}", f"maintenance.{name}.{key}") for label, key in (
            ("duration", "duration_s"), ("availability meanwhile", "availability"),
            ("start-up p99 meanwhile", "startup_p99_s"), ("restarts caused", "restarts"),
            ("live migrations", "migrations"),
            ("every instance on the new build after", "all_on_new_build_s"))
            if any(key in ((m.get("maintenance") or {}).get(name) or {})
                   for m in variants.values())]
    rows = []
    for label, metric in spec:
        unit = row_unit([metric_value(m, metric) for m in variants.values()], metric)
        row = [_e(unit_label(label, unit))]
        for col in columns:
            m = variants.get(col)
            row.append("-" if m is None else _e(show(m, metric, unit)))
        rows.append(row)
    if any((m.get("licences") or {}).get("edition") not in (None, "none")
           for m in variants.values()):
        rows.append(["Windows Server licences (sets at the peak)",
                     *[_e(_licences(variants.get(col))) for col in columns]])
    total = sum(g.count for g in loaded.scenario.hosts)
    title = (f"The run: start-up (request to running) on the file's {total:,} hosts"
             + (f" ({_e(_hosts_in_file(loaded))})" if len(loaded.scenario.hosts) > 1 else "")
             + (", not the plan's" if planned else ""))
    return title, rows


def _licences(metrics: dict[str, Any] | None) -> str:
    lic = (metrics or {}).get("licences") or {}
    if lic.get("edition") in (None, "none"):
        return "-"
    return f"{lic['edition'].removeprefix('windows-')}, {lic.get('sets') or 0:,.0f}"


def _commands_block(script: list[dict[str, Any]], variants: dict[str, Any],
                    columns: list[str]) -> tuple[str, list[list[str]]]:
    """The commands script: each step's seconds per variant, then the whole script."""
    spec = [(f"{s['step']}: {s['label']}", f"commands.step_s.{s['step']}") for s in script]
    spec.append(("the whole script", "commands.total_s"))
    rows = []
    for label, metric in spec:
        unit = row_unit([metric_value(m, metric) for m in variants.values()], metric)
        row = [f"<code>{_e(label)}</code>" if metric != "commands.total_s" else _e(label)]
        for col in columns:
            m = variants.get(col)
            row.append("-" if m is None else _e(show_in(m, metric, unit)))
        rows.append(row)
    return "The commands, step by step (seconds each took; commands.csv has every phase)", rows


def _alerts(per_variant: dict[str, list[dict[str, Any]]]) -> str:
    """The warnings of every variant as one list, red for those that make an answer wrong
    (saturated, no arrivals, load) and amber for those that make it rough; a warning that
    several variants share is listed once with their names."""
    merged: dict[tuple[str, str], list[str]] = {}
    for name, warnings in per_variant.items():
        for w in warnings or []:
            merged.setdefault((str(w.get("kind", "")), str(w.get("message", ""))),
                              []).append(name)
    if not merged:
        return ""
    items = sorted(merged.items(), key=lambda item: (item[0][0] not in RED, item[0][0]))
    out = ["<ul class='alerts'>"]
    for (kind, message), names in items:
        colour = "red" if kind in RED else "amber"
        who = ", ".join(names) if len(names) < len(per_variant) or len(names) == 1 else \
            "every variant"
        out.append(f"<li class='{colour}'><b>{_e(kind.replace('_', ' '))}</b> "
                   f"({_e(who)}): {_e(message)}</li>")
    out.append("</ul>")
    return "".join(out)


def _sweep_answer(summary: dict[str, Any]) -> str:
    """For a sweep: per variant, the range of start-up p50 and p99 over the points, and
    where each end lies."""
    points = summary.get("points") or []
    names = list(dict.fromkeys(v for point in points for v in point.get("variants", {})))

    def where(point: dict[str, Any]) -> str:
        return ", ".join(f"{k} = {v}" for k, v in point.get("parameters", {}).items())

    rows = []
    for label, metric in (("start-up p50", "startup_s.p50"), ("start-up p99", "startup_s.p99")):
        row = [_e(label + ", over the sweep")]
        for name in names:
            found = [(metric_value(p["variants"][name], metric), p) for p in points
                     if name in p.get("variants", {})]
            found = [(v, p) for v, p in found if v is not None]
            if not found:
                row.append("-")
                continue
            (low, at_low), (high, at_high) = min(found, key=lambda f: f[0]), \
                max(found, key=lambda f: f[0])
            row.append(f"<b>{_e(format_value(low, 'time'))}</b> to "
                       f"<b>{_e(format_value(high, 'time'))}</b><br><span class='sub'>"
                       f"lowest at {_e(where(at_low))}<br>highest at {_e(where(at_high))}"
                       "</span>")
        rows.append(row)
    warnings: dict[str, list[dict[str, Any]]] = {}
    for point in points:
        for name, m in point.get("variants", {}).items():
            for w in m.get("warnings") or []:
                warnings.setdefault(name, []).append(
                    {"kind": w.get("kind", ""),
                     "message": f"at {where(point)}: {w.get('message', '')}"})
    return (_answer_table(["", *names], [(f"{len(points)} points swept", rows)])
            + _alerts({n: warnings.get(n, []) for n in names}))


def _rests_on(loaded: Loaded, sensitivity: dict[str, Any] | None) -> str:
    """What the answer rests on: the three inputs that move each studied metric most
    (``sensitivity.json``), else how many of the profile values used are estimates."""
    if sensitivity:
        items = []
        for variant, v in sensitivity.get("variants", {}).items():
            inputs = {i["path"]: i for i in v.get("inputs", [])}
            for metric, entries in v.get("metrics", {}).items():
                kind = metric_kind(metric)
                top = []
                for e in [e for e in entries if e.get("low_value") != e.get("high_value")][:3]:
                    written = (inputs.get(e["path"]) or {}).get("written") or ["", ""]
                    top.append(f"<code>{_e(e['path'])}</code> from {_e(written[0])} to "
                               f"{_e(written[1])} gives {_e(format_value(e['low_value'], kind))}"
                               f" to {_e(format_value(e['high_value'], kind))}")
                nominal = (v.get("nominal") or {}).get(metric)
                items.append(f"<li>{_e(METRIC_WORDS.get(metric, metric))}"
                             + ("" if variant == "base" else f" under {_e(variant)}")
                             + f" ({_e(format_value(nominal, kind))} at the nominal inputs) "
                             + ("moves most with: " + "; ".join(top) if top else
                                "moves with none of the inputs studied") + "</li>")
        return ("<p><b>What the answer rests on</b> (the sensitivity study: each input alone "
                "from its low to its high, the others at their nominal values):</p><ul>"
                + "".join(items) + "</ul>")
    rows = _assumption_rows(loaded)
    estimates = sum(1 for r in rows if r["trust"] == "estimate")
    if not estimates:
        return ""
    return (f"<p><b>What the answer rests on:</b> {estimates} of the {len(rows)} built-in "
            "profile values it uses are estimates that no source states (see the "
            "assumptions below); <code>csim sensitivity</code> shows which of them move "
            "it.</p>")


def _answer(loaded: Loaded, summary: dict[str, Any] | None, density: dict[str, Any] | None,
            plan: dict[str, Any] | None, sensitivity: dict[str, Any] | None) -> str:
    """The first screen: per mode, the hosts (plan) or the density, start-up p50/p99, the
    SLO verdicts and the warnings; then what the answer rests on."""
    if summary and "points" in summary and not (plan or density):
        return _sweep_answer(summary) + _rests_on(loaded, sensitivity)
    variants: dict[str, Any] = (summary or {}).get("variants") or {}
    columns = list(variants)
    columns += [m for m in _plan_modes(plan) if m not in columns]
    columns += [m for m in _density_modes(density) if m not in columns]
    blocks = []
    if plan:
        blocks.append(_plan_block(plan, columns))
    if density:
        blocks.append(_density_block(density, columns, variants))
    script = (summary or {}).get("commands")
    if variants and not (script and not loaded.scenario.workloads):
        blocks.append(_run_block(loaded, variants, columns, bool(plan)))
    if variants and script:
        blocks.append(_commands_block(script, variants, columns))
    out = [_answer_table(["", *columns], blocks)] if blocks else []
    if plan:
        group = plan.get("group")
        answers = ", ".join(f"{plan[m]['hosts']:,} ({m})" for m in _plan_modes(plan)
                            if plan[m].get("met"))
        in_file = sum(g.count for g in loaded.scenario.hosts if g.group == group)
        out.append(f"<p class='sub'>In the file: {in_file:,} hosts in group "
                   f"<code>{_e(group)}</code>; the plan's answer: "
                   f"{_e(answers or 'no mode met the SLOs')}.</p>")
    out.append(_alerts({name: m.get("warnings") or [] for name, m in variants.items()}))
    if summary and "points" in summary:
        out.append(_sweep_answer(summary))
    out.append(_rests_on(loaded, sensitivity))
    return "".join(out)


def profile_value(field: str, value: Any) -> str:
    """``value`` of the profile field ``field`` as the report and ``csim profiles`` show it: a
    size, the commit rule, a distribution with its parameters, else ``str(value)``."""
    if field in ("memory_overhead", "disk_per_instance"):
        return format_size(value)
    if field == "commit":
        return (f"add {format_size(value.add)}, round up to {format_size(value.round_to)}"
                if value.round_to else f"add {format_size(value.add)}")
    if field == "image_commit":
        return (f"{format_duration(value.cost)} besides writing the layer; a running "
                f"container: {'refused' if value.running == 'refuse' else 'paused'}")
    if hasattr(value, "dist"):
        params = {k: v for k, v in value.model_dump(exclude_none=True).items() if k != "dist"}
        return value.dist + ", " + ", ".join(
            f"{k} {format_duration(v) if isinstance(v, float) else v}" for k, v in params.items())
    return str(value)


FIELD_LABELS = {
    "create": "create time", "boot": "boot time", "stop": "stop time",
    "memory_overhead": "memory overhead per instance",
    "commit": "memory committed per instance", "cpu_overhead": "CPU overhead",
    "disk_per_instance": "disk per instance", "disk_image": "private disk image",
    "cpu_bound_fraction": "share of start-up that needs a core",
    "shares_host_kernel": "shares the host's kernel", "requires_hyperv": "needs Hyper-V",
    "partition": "counts as a Hyper-V partition",
    "create_per_running": "create time added per instance running",
    "interference": "slowdown beside noisy neighbours", "nested": "inside a VM (nested)",
    "new_version": "a new image version ships as", "host_groups": "host groups",
    "image_commit": "a commit of a container's changes (commands)",
}


def _factor_key(key: str) -> str:
    return key.removesuffix("_factor").replace("_", " ")


def _number(field: str, value: Any) -> str:
    """A plain number of profile field ``field``: a share in %, a duration, else as it is."""
    if isinstance(value, str):
        return value
    if field == "cpu_overhead":
        return f"{100 * float(value):g} %"
    if field == "create_per_running":
        return format_duration(float(value))
    return f"{float(value):g}"


def assumption_value(field: str, value: Any) -> str:
    """``value`` of the profile field ``field`` for people: sizes and durations with their
    units, yes/no, factors as ``cpu ×1.1, memory ×1.12``, a share in %."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "-"
    if field in ("memory_overhead", "disk_per_instance", "commit", "image_commit") \
            or hasattr(value, "dist"):
        return profile_value(field, value)
    if isinstance(value, dict):
        return ", ".join(f"{_factor_key(k)} ×{v:g}" for k, v in value.items()) or "none"
    if hasattr(value, "model_dump"):
        return ", ".join(f"{_factor_key(k)} ×{v:g}" for k, v in value.model_dump().items())
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
    if isinstance(value, (int, float)):
        return _number(field, value)
    return str(value)


def range_text(field: str, spans: dict[str, list[Any]]) -> str:
    """The range of profile field ``field`` from ``raw_ranges()`` of its profile, as
    written: ``250ms to 650ms``, ``median 250ms to 650ms; p95 750ms to 3750ms``,
    ``cpu ×1 to ×1.3``; empty when it has none."""
    parts = []
    for path, (low, high) in spans.items():
        head, _, key = path.partition(".")
        if head != field:
            continue
        if field in ("interference", "nested"):
            parts.append(f"{_factor_key(key)} ×{_number(field, low)} to ×{_number(field, high)}")
        else:
            parts.append((f"{key} " if key else "")
                         + f"{_number(field, low)} to {_number(field, high)}")
    return "; ".join(parts)


def _assumption_rows(loaded: Loaded) -> list[dict[str, str]]:
    """Every built-in value of the profiles the scenario uses: profile, field, value for
    people, range, trust and source (``scenario`` for a value the scenario sets)."""
    used = loaded.scenario.isolations()
    if loaded.scenario.compare and loaded.scenario.compare.isolation:
        used |= set(loaded.scenario.compare.isolation)
    known, spans = sources(), raw_ranges()
    rows = []
    for name in sorted(used):
        profile = loaded.profiles[name]
        own = loaded.scenario.profiles.get(name)
        overridden = set(own.model_fields_set) if own is not None else set()
        base = name if name in known or own is None else (own.extends or name)
        for field, (trust, source) in known.get(base, {}).items():
            span = range_text(field, spans.get(base, {}))
            if field in overridden:
                trust, source, span = "scenario", "set in this scenario", ""
            rows.append({"profile": name, "field": field,
                         "value": assumption_value(field, getattr(profile, field)),
                         "range": span, "trust": trust, "source": source})
    return rows + cost_assumptions(loaded.scenario) + maintenance_assumptions(loaded)


def cost_assumptions(scenario: Any) -> list[dict[str, str]]:
    """The defaults a costed scenario's figures rest on where it does not set them: each
    workload's CPU use, each licensed group's licence prices and years."""
    if not costed(scenario):
        return []
    rows = []
    if any(g.power is not None for g in scenario.hosts):
        rows += [{"profile": f"workload {wl.name}", "field": "cpu_use",
                  "value": f"{DEFAULT_CPU_USE:g}", "range": "0.05 to 0.6", "trust": "estimate",
                  "source": "no source states a Windows workload's mean CPU use; cloud VMs "
                            "mostly run well below their vCPU (docs/cost.md)"}
                 for wl in scenario.workloads if wl.cpu_use is None]
    for g in scenario.hosts:
        if g.licensing in (None, "none"):
            continue
        missing = [e for e in LIST_PRICES if e not in g.licence_price]
        if missing:
            rows.append({"profile": f"hosts {g.group}", "field": "licence_price",
                         "value": ", ".join(f"{e} {LIST_PRICES[e]:,.0f}" for e in missing),
                         "range": "", "trust": "illustrative",
                         "source": "Windows Server 2022 list prices per 16 cores (Microsoft); "
                                   "what you pay depends on your agreement"})
        if g.licence_years is None:
            rows.append({"profile": f"hosts {g.group}", "field": "licence_years",
                         "value": f"{DEFAULT_LICENCE_YEARS:g}", "range": "3 to 5",
                         "trust": "estimate",
                         "source": "a perpetual licence spread over a server's refresh cycle"})
    return rows


def maintenance_assumptions(loaded: Loaded) -> list[dict[str, str]]:
    """The defaults maintenance campaigns rest on where the scenario does not set them:
    each campaign's downtime and live-migration settings, the migrating workloads' dirty
    rate, the groups' migration bandwidth; and the compatibility table an upgrade follows."""
    scenario = loaded.scenario
    rows = []

    def row(who: str, field: str, value: str, span: str, key: str) -> None:
        trust, source = MAINTENANCE_DEFAULTS[key]
        rows.append({"profile": who, "field": field, "value": value, "range": span,
                     "trust": trust, "source": source})

    migrating = [wl for wl in scenario.workloads
                 if loaded.profiles[wl.isolation].live_migration]
    for spec in scenario.maintenance:
        who = f"maintenance {spec.name}"
        if "downtime" not in spec.model_fields_set:
            row(who, "downtime", "lognormal, median 15min, p95 40min", "median 5min to 30min",
                "downtime")
        moves = spec.live_migration
        if moves is not None and migrating:
            if "pause" not in moves.model_fields_set:
                row(who, "live_migration.pause", "200ms", "50ms to 1s", "live_migration.pause")
            if "max_rounds" not in moves.model_fields_set:
                row(who, "live_migration.max_rounds", "10", "10 to 30",
                    "live_migration.max_rounds")
        if spec.os_build is not None:
            trust, source = builds.source()
            rows.append({"profile": who, "field": "os_build", "value": spec.os_build,
                         "range": "", "trust": trust, "source": source})
    if any(spec.live_migration is not None for spec in scenario.maintenance):
        for wl in migrating:
            if wl.dirty_rate is None:
                row(f"workload {wl.name}", "dirty_rate", "50MB/s", "1MB/s to 1GB/s",
                    "dirty_rate")
        for g in scenario.hosts:
            if g.migration_bandwidth is None and any(
                    spec.group == g.group and spec.live_migration is not None
                    for spec in scenario.maintenance) and migrating:
                row(f"hosts {g.group}", "migration_bandwidth", "the host's nic", "",
                    "migration_bandwidth")
    return rows


def _assumptions(loaded: Loaded) -> str:
    rows = _assumption_rows(loaded)
    estimates = sum(1 for r in rows if r["trust"] == "estimate")
    cells = []
    for r in rows:
        cls = ' class="est"' if r["trust"] == "estimate" else ""
        cells.append([_e(r["profile"]),
                      f"{_e(FIELD_LABELS.get(r['field'], r['field']))}<br>"
                      f"<code>{_e(r['field'])}</code>",
                      _e(r["value"]), _e(r["range"] or "-"),
                      f"<span{cls}>{_e(r['trust'])}</span>", _e(r["source"])])
    table = _table(["profile", "value of", "value", "range", "trust", "source"], cells, left=6)
    return (f"<details><summary>The {len(rows)} built-in values the modes compared rest on, "
            f"{estimates} of them estimates (open)</summary>"
            "<p>Each value with its source and trust level. "
            '<span class="est">estimate</span> marks values no source states; replace them '
            "with your own measurements in the scenario's <code>profiles:</code>. The range is "
            "how far the sources allow a value to move (<code>csim sensitivity</code> and "
            "<code>--uncertainty</code> sample it).</p><div class='assumptions'>" + table
            + "</div></details>")


def write_report(folder: Path, loaded: Loaded) -> Path:
    """(Re)write ``folder/report.html`` from the results found in ``folder``."""
    def read(name: str) -> Any:
        path = folder / name
        return json.loads(path.read_text()) if path.is_file() else None

    summary, density, packing, plan, sensitivity = (
        read("summary.json"), read("density.json"), read("packing.json"), read("plan.json"),
        read("sensitivity.json"))
    s = loaded.scenario
    sections = [f"<h1>{_e(s.name)}</h1>",
                f"<p class='question'>{_e(s.description)}</p>" if s.description else "",
                f"<p class='sub'>Container-host simulator {__version__}, "
                f"{dt.date.today().isoformat()}: process isolation, Hyper-V isolation and "
                "virtual machines compared.</p>",
                "<h2>The answer</h2>", _answer(loaded, summary, density, plan, sensitivity)]
    charts = sorted(folder.glob("*.png"), key=lambda p: (
        list(CHART_CAPTIONS).index(p.stem) if p.stem in CHART_CAPTIONS else 99, p.name))
    if charts:
        sections.append("<h2>Charts</h2>")
        for png in charts:
            caption = CHART_CAPTIONS.get(png.stem) or next(
                (text for prefix, text in PREFIX_CAPTIONS.items()
                 if png.stem.startswith(prefix)), png.stem.replace("_", " "))
            sections.append(f"<figure>{_img(png)}<figcaption>{_e(caption)}</figcaption>"
                            "</figure>")
    if summary and s.workloads:  # a commands script alone has its table in the answer
        sections += ["<h2>Comparison</h2>", _comparison(summary)]
    if density:
        sections += ["<h2>Density: instances per host</h2>", _density(density, packing)]
    if plan:
        sections += ["<h2>Plan: hosts needed</h2>", _plan(plan)]
    if sensitivity:
        sections += ["<h2>Sensitivity: what the answers rest on</h2>",
                     _sensitivity(sensitivity)]
    sections += ["<h2>The scenario</h2>", _scenario_words(loaded, bool(plan)),
                 "<h2>Assumptions and estimates</h2>", _assumptions(loaded),
                 ("<p class='sub'>Model: one lifecycle per requested instance; placement never "
                  "overcommits memory or disk; start-ups share the host's cores (processor "
                  "sharing) and its start slots; layers are pulled once per host and shared; "
                  "bandwidth is shared max-min fairly at the registry and each NIC.</p>")]
    page = ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{_e(s.name)}: container-host simulation report</title>"
            f"<style>{CSS}</style></head><body>" + "".join(sections) + "</body></html>\n")
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".report.", dir=folder)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(page)
    os.chmod(tmp, 0o644)
    os.replace(tmp, folder / "report.html")
    return folder / "report.html"
