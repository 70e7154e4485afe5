"""``results/<name>/report.html``: one self-contained page a planner can send on.

Owns: the page. It reads what the commands wrote into the results folder (``summary.json``,
``density.json``, ``packing.json``, ``plan.json`` and the PNG charts, embedded as data URIs,
so the page needs no network and no other file) and the scenario with its profiles (for the
scenario in words and the assumptions). Each of ``run``, ``density`` and ``plan`` rewrites it,
so it always shows every section whose results exist. Must not: run the model.
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
from sim.edge.loader import Loaded
from sim.present.formats import metric_kind, show, workload_rows
from sim.spec.profiles import sources
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
"""

CHART_CAPTIONS = {
    "startup_cdf": "Start-up time (request to running) distribution per isolation mode.",
    "startup_phases": "Where start-up time goes: mean time per phase.",
    "running": "Instances running over time.",
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
    "uncertainty_bands": "Each headline metric at the nominal inputs with its 95 % interval "
                         "over the seeds (dot and whiskers), beside its 5-95 % range over the "
                         "sampled assumptions (the wide bar; the tick is the median).",
    "plan_uncertainty": "Hosts needed at each sample of the assumptions (dots; a red cross: "
                        "the SLOs cannot be met there), the nominal answer (star) and the "
                        "count that covers 90 % of the samples (bar).",
}
PREFIX_CAPTIONS = {
    "plan_": "Plan: the SLO metric (mean ± 95 % CI over replications) against the host count "
             "probed; the star marks the smallest count that passes.",
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


def _scenario_words(loaded: Loaded) -> str:
    s = loaded.scenario
    parts = [f"<p>{_e(s.description)}</p>" if s.description else ""]
    hosts = [[_e(g.group), g.count, g.cpu_cores, f"{g.cpu_overcommit:g}",
              _e(format_size(g.memory)), _e(format_size(g.reserved_memory)),
              _e(format_size(g.disk)), "yes" if g.hyperv else "no", _e(g.os_build),
              g.max_concurrent_starts] for g in s.hosts]
    parts.append(_table(["host group", "hosts", "cores", "overcommit", "memory", "reserved",
                         "disk", "Hyper-V", "OS build", "start slots"], hosts))
    workloads = []
    for wl in s.workloads:
        arrival = wl.arrival
        if arrival.kind == "poisson":
            how = f"Poisson, {arrival.rate * 3600:g}/h"
        elif arrival.kind == "constant":
            how = f"every {format_duration(arrival.interval)}"
        elif arrival.kind == "trace":
            how = (f"{arrival.format} trace {Path(arrival.path).name}"
                   + (f", {arrival.sample:.0%} sampled" if arrival.sample < 1 else "")
                   + (f", {arrival.speedup:g}x speed" if arrival.speedup != 1 else ""))
        else:
            how = f"{arrival.count} at {format_duration(arrival.at)}"
        workloads.append([_e(wl.name), _e(wl.image), _e(wl.tenant), f"{wl.cpu:g}",
                          _e(format_size(wl.memory)), _e(how), _e(wl.on_full)])
    parts.append(_table(["workload", "image", "tenant", "vCPU", "memory", "arrivals",
                         "when full"], workloads))
    parts.append(f"<p>Simulated time {_e(format_duration(s.duration))}, statistics after a "
                 f"{_e(format_duration(s.warmup))} warm-up; placement <code>{_e(s.placement)}"
                 f"</code>; seed {s.seed}.</p>")
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
    rows = [[_e(label), *[_e(show(m, metric) + _band(m, metric)) for m in variants.values()]]
            for label, metric in rows_spec]
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


def _band(metrics: dict[str, Any], metric: str) -> str:
    found = (metrics.get("uncertainty") or {}).get(metric)
    if not found:
        return ""
    kind = metric_kind(metric)
    return f" [{format_value(found['p5'], kind)} to {format_value(found['p95'], kind)}]"


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


def profile_value(field: str, value: Any) -> str:
    """``value`` of the profile field ``field`` as the report and ``csim profiles`` show it: a
    size, the commit rule, a distribution with its parameters, else ``str(value)``."""
    if field in ("memory_overhead", "disk_per_instance"):
        return format_size(value)
    if field == "commit":
        return (f"add {format_size(value.add)}, round up to {format_size(value.round_to)}"
                if value.round_to else f"add {format_size(value.add)}")
    if hasattr(value, "dist"):
        params = {k: v for k, v in value.model_dump(exclude_none=True).items() if k != "dist"}
        return value.dist + ", " + ", ".join(
            f"{k} {format_duration(v) if isinstance(v, float) else v}" for k, v in params.items())
    return str(value)


def _assumptions(loaded: Loaded) -> str:
    used = {wl.isolation for wl in loaded.scenario.workloads}
    if loaded.scenario.compare and loaded.scenario.compare.isolation:
        used |= set(loaded.scenario.compare.isolation)
    known = sources()
    rows = []
    for name in sorted(used):
        profile = loaded.profiles[name]
        own = loaded.scenario.profiles.get(name)
        overridden = set(own.model_fields_set) if own is not None else set()
        base = name if name in known or own is None else (own.extends or name)
        for field, (trust, source) in known.get(base, {}).items():
            value = profile_value(field, getattr(profile, field))
            if field in overridden:
                trust, source = "scenario", "set in this scenario"
            cls = ' class="est"' if trust == "estimate" else ""
            rows.append([_e(name), _e(field), _e(value), f"<span{cls}>{_e(trust)}</span>",
                         f'<span style="text-align:left">{_e(source)}</span>'])
    return ("<p>Every built-in value with its source and trust level. "
            '<span class="est">estimate</span> marks values no source states; replace them '
            "with your own measurements in the scenario's <code>profiles:</code>.</p>"
            + _table(["profile", "field", "value", "trust", "source"], rows, left=5))


def write_report(folder: Path, loaded: Loaded) -> Path:
    """(Re)write ``folder/report.html`` from the results found in ``folder``."""
    def read(name: str) -> Any:
        path = folder / name
        return json.loads(path.read_text()) if path.is_file() else None

    summary, density, packing, plan, sensitivity = (
        read("summary.json"), read("density.json"), read("packing.json"), read("plan.json"),
        read("sensitivity.json"))
    s = loaded.scenario
    sections = [(f"<h1>{_e(s.name)}</h1><p class='sub'>Container-host simulator "
                 f"{__version__}, {dt.date.today().isoformat()}: process isolation, Hyper-V "
                 "isolation and virtual machines compared.</p>"),
                "<h2>The scenario</h2>", _scenario_words(loaded)]
    if summary:
        sections += ["<h2>Comparison</h2>", _comparison(summary)]
    if density:
        sections += ["<h2>Density: instances per host</h2>", _density(density, packing)]
    if plan:
        sections += ["<h2>Plan: hosts needed</h2>", _plan(plan)]
    if sensitivity:
        sections += ["<h2>Sensitivity: what the answers rest on</h2>",
                     _sensitivity(sensitivity)]
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
    sections += ["<h2>Assumptions and estimates</h2>", _assumptions(loaded),
                 ("<p class='sub'>Model: one lifecycle per requested instance; placement never "
                  "overcommits memory or disk; start-ups share the host's cores (processor "
                  "sharing) and its start slots; layers are pulled once per host and shared; "
                  "bandwidth is shared max-min fairly at the registry and each NIC. Not "
                  "modelled: kernel faults, noisy neighbours, layer eviction.</p>")]
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
