"""The ``sensitivity`` command: which assumptions move each metric, ranked.

For each variant: the nominal run and every uncertain input at its low and at its high (a
tornado chart per metric), and a global design over all inputs together (Sobol first-order and
total indices, or Morris screening when the inputs are many), every run with the scenario's
seed (common random numbers). Writes ``OUT/<name>/sensitivity.json``, a tornado chart per
metric and variant, and the report's sensitivity section.

Owns: the command's flow and its table. Must not import the model (the runner does, in its own
processes).
"""

from __future__ import annotations

import argparse
import difflib
import math
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sim.cli.common import EXIT_BAD_INPUT, prepare
from sim.edge.loader import Loaded
from sim.spec.units import format_value

SOBOL_MAX_INPUTS = 12  # beyond this many inputs, auto picks Morris screening
DEFAULT_SAMPLES = {"sobol": 32, "morris": 10}
DYNAMIC = ("startup_by_workload_s.", "pipelines.", "maintenance.")  # named by the scenario


def runs_per_variant(inputs: int, method: str, samples: int) -> int:
    """Runs of one variant: the nominal and two per input, plus the global design's."""
    design = {"sobol": samples * (inputs + 2), "morris": samples * (inputs + 1)}[method]
    return 1 + 2 * inputs + design


def choose(method: str, inputs: int) -> str:
    """The global design: the one asked for, or ``auto``: Sobol up to ``SOBOL_MAX_INPUTS``
    inputs, Morris beyond."""
    if method != "auto":
        return method
    return "sobol" if inputs <= SOBOL_MAX_INPUTS else "morris"


def unknown_metrics(metrics: list[str]) -> list[str]:
    """A message for each metric ``summary.json`` does not have, with near misses."""
    from sim.analysis.metrics import metric_names

    known = metric_names()
    out = []
    for metric in metrics:
        if metric in known or metric.startswith(DYNAMIC):
            continue
        near = difflib.get_close_matches(metric, sorted(known), n=3, cutoff=0.6)
        out.append(f"--metric {metric}: not a metric of summary.json"
                   + (f"; did you mean {' or '.join(near)}?" if near else
                      "; e.g. startup_s.p99, wait_s.mean, hosts_used_max, density_max, "
                      "blocking"))
    return out


def command(args: argparse.Namespace) -> int:
    """``python -m sim sensitivity FILE --metric M ...``."""
    from sim.spec.slo import metric_alias

    args.metric = [metric_alias(m) for m in args.metric]  # startup_p99, as plan reads it
    errors = unknown_metrics(args.metric)
    if args.samples is not None and args.method == "sobol" and args.samples & (args.samples - 1):
        errors.append(f"--samples {args.samples}: a Sobol design needs a power of two "
                      "(e.g. 16, 32, 64)")
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return EXIT_BAD_INPUT
    def runs(loaded: Loaded) -> int:
        from sim.experiment.uncertainty import variant_inputs, variants

        d = max((len(variant_inputs(loaded, choices)) for name, choices in variants(loaded)
                 if not args.variant or name in args.variant), default=0)
        method = choose(args.method, d)
        return runs_per_variant(d, method, args.samples or DEFAULT_SAMPLES[method])

    loaded = prepare(args, runs)
    if loaded is None:
        return EXIT_BAD_INPUT
    if loaded.scenario.sweep:
        line, col = loaded.place("sweep")
        print(f"{args.file}:{line}:{col}: sweep: a sensitivity study runs at one point; set "
              "the swept value (or study each point's scenario on its own)", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        return _study(loaded, args)
    except KeyboardInterrupt:
        print(f"interrupted: completed runs are kept in {Path(args.out) / '.runs'}; "
              "the same command resumes", file=sys.stderr)
        return 130


def _study(loaded: Loaded, args: argparse.Namespace) -> int:
    from sim.analysis import sensitivity
    from sim.analysis.dotted import flatten
    from sim.cli.planning import write_json
    from sim.cli.run import execute_specs
    from sim.edge.loader import ScenarioError
    from sim.experiment.uncertainty import study, study_seed
    from sim.experiment.uncertainty import variants as variants_of
    from sim.present import plots
    from sim.present.folders import staged
    from sim.present.report import write_report

    started = time.perf_counter()
    console = Console(stderr=True, quiet=args.quiet, soft_wrap=True)
    seed = loaded.scenario.seed if args.seed is None else args.seed
    every = variants_of(loaded)
    unknown = [v for v in args.variant or [] if v not in dict(every)]
    if unknown:
        print(f"--variant {unknown[0]}: not a variant of {loaded.source}; its variants: "
              f"{', '.join(name for name, _ in every)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    chosen = [choices for name, choices in every if not args.variant or name in args.variant]
    seen: dict[str, Any] = {}  # traces read, across the studies
    try:
        oat = [study(loaded, choices, "oat", 0, seed, seen) for choices in chosen]
        d = max(len(s.inputs) for s in oat)
        method = choose(args.method, d)
        samples = args.samples or DEFAULT_SAMPLES[method]
        if method == "sobol" and samples & (samples - 1):
            print(f"--samples {samples}: a Sobol design (chosen for {d} inputs) needs a power "
                  "of two (e.g. 16, 32, 64), or use --method morris", file=sys.stderr)
            return EXIT_BAD_INPUT
        glob = [study(loaded, choices, method, samples, seed, seen) for choices in chosen]
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_INPUT
    if d == 0:
        print(f"{loaded.source}: nothing is uncertain: no uncertainty: entries and no built-in "
              "estimate in the profiles and runtimes this scenario uses", file=sys.stderr)
        return EXIT_BAD_INPUT
    specs = [spec for s in oat + glob for spec in s.specs]
    counts = ", ".join(f"{s.variant} {len(s.inputs)} inputs" for s in oat)
    console.print(f"{loaded.scenario.name}: {counts}; one at a time and {method} "
                  f"({samples} samples)")
    outputs = execute_specs(specs, args, console, loaded.scenario.name, loaded.trace_rows)
    flat = [flatten(o.metrics) for o in outputs]
    variants: dict[str, Any] = {}
    at = 0
    values: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for s in oat + glob:
        values[(s.design, s.variant)] = flat[at:at + len(s.specs)]
        at += len(s.specs)
    for s_oat, s_glob in zip(oat, glob):
        per_metric: dict[str, Any] = {}
        nominal: dict[str, Any] = {}
        bands: dict[str, Any] = {}
        for metric in args.metric:
            oat_values = [f.get(metric) for f in values[("oat", s_oat.variant)]]
            glob_values = [f.get(metric) for f in values[(method, s_glob.variant)]]
            base, entries = sensitivity.swings(s_oat.inputs, oat_values)
            analyse = sensitivity.sobol if method == "sobol" else sensitivity.morris
            indices = analyse(s_glob, glob_values, study_seed(seed, "analysis", s_glob.variant))
            for k, entry in enumerate(entries):
                if indices is not None:
                    entry.update(indices[k])
            entries.sort(key=sensitivity.rank_key)
            per_metric[metric] = entries
            nominal[metric] = base
            bands[metric] = sensitivity.band(glob_values)
        variants[s_oat.variant] = {
            "inputs": [{"path": i.path, "dist": i.range.dist, "low": i.low, "high": i.high,
                        "written": [i.range.low, i.range.high],
                        "nominal": i.nominal, "trust": i.trust, "source": i.source}
                       for i in s_oat.inputs],
            "nominal": nominal,
            "band": bands,
            "metrics": per_metric}
    data: dict[str, Any] = {
        "name": loaded.scenario.name, "seed": seed, "method": method, "samples": samples,
        "runs": len(specs), "metrics": {}, "variants": variants,
        "note": ("one at a time: each input at its low and high, the others at their nominal "
                 "values; "
                 + ("Sobol: S1 first-order and ST total indices with 95 % confidence "
                    "half-widths (bootstrap)" if method == "sobol" else
                    "Morris: mu_star, the mean absolute effect of moving the input across its "
                    "range, with its 95 % confidence half-width, and sigma")
                 + "; every run with the same seed (common random numbers)")}
    if len(variants) == 1:
        data["metrics"] = next(iter(variants.values()))["metrics"]
    out = Path(args.out)
    with staged(out, loaded.scenario.name,
                lambda name: name != "sensitivity.json" and not name.startswith("tornado_")
                ) as staging:
        write_json(staging / "sensitivity.json", data)
        if not args.no_charts:
            plots.tornado_charts(staging, loaded.scenario.name, data)
        write_report(staging, loaded)
    if not args.quiet:
        screen = Console(width=None if Console().is_terminal else 160)
        for variant, v in variants.items():
            for metric in args.metric:
                screen.print(ranking_table(loaded.scenario.name, variant, metric, v, method))
    console.print(f"wrote {out / loaded.scenario.name}/sensitivity.json ({len(specs)} runs) in "
                  f"{time.perf_counter() - started:.1f} s")
    return 0


def _cell(value: Any, kind: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return format_value(value, kind)


def ranking_table(name: str, variant: str, metric: str, v: dict[str, Any], method: str
                  ) -> Table:
    """One metric's inputs, ranked: the metric at each input's low and high, and the global
    indices with their 95 % confidence half-widths."""
    from sim.present.formats import metric_kind

    kind = metric_kind(metric)
    band = v["band"].get(metric)
    title = (escape(f"{name}{'' if variant == 'base' else f' [{variant}]'}: what moves {metric}")
             + f" (nominal "
             f"{_cell(v['nominal'][metric], kind)}"
             + (f"; {_cell(band['p5'], kind)} to {_cell(band['p95'], kind)} over the "
                "assumptions, 5-95 %" if band else "") + ")")
    table = Table(title=title)
    for head in ("input", "range", "at low", "at high"):
        table.add_column(head, justify="left" if head in ("input", "range") else "right")
    heads = (("S1", "S1_conf"), ("ST", "ST_conf")) if method == "sobol" else \
        (("mu_star", "mu_star_conf"), ("sigma", None))
    for head, _ in heads:
        table.add_column(head, justify="right")
    inputs = {i["path"]: i for i in v["inputs"]}
    for entry in v["metrics"][metric]:
        spec = inputs[entry["path"]]
        cells = []
        for key, conf in heads:
            value = entry.get(key)
            if value is None or not math.isfinite(value):
                cells.append("-")
                continue
            text = f"{value:.2f}" if method == "sobol" else _cell(value, kind)
            if conf is not None and entry.get(conf) is not None and math.isfinite(entry[conf]):
                text += f" ± {entry[conf]:.2f}" if method == "sobol" else \
                    f" ± {_cell(entry[conf], kind)}"
            cells.append(text)
        table.add_row(escape(entry["path"]), f"{spec['written'][0]} to {spec['written'][1]}",
                      _cell(entry["low_value"], kind), _cell(entry["high_value"], kind), *cells)
    return table
