"""``python -m sim images FILE [--at T]``: the images of a run in the spirit of ``docker
images`` - each image with its layers, their sizes and parents, when it was made, whether the
registry has them, and which hosts hold which layers at the end of the run or at a moment
(images a pipeline built or a commands script committed included).

Owns: that view and ``images.json``. Must not: change the model; it runs each variant's first
replication and reads what the run recorded (its end state, its layer log, its pipeline and
command rows).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sim.analysis.commands import layers_at
from sim.cli.common import wide_console
from sim.edge.loader import Loaded
from sim.experiment.expand import expand
from sim.recorder import Recorder
from sim.run.execute import run
from sim.spec.units import format_duration, format_size


def records(loaded: Loaded, variant: str | None) -> dict[str, Recorder]:
    """Per variant (or only ``variant``), what its first replication recorded."""
    specs = [s for s in expand(loaded, replications=1) if variant in (None, s.variant)]
    return {spec.variant: run(spec).recorder for spec in specs}


def records_at(loaded: Loaded, variant: str | None, at: float | None
               ) -> dict[str, Recorder] | None:
    """``records`` for a view of the run at ``at`` (``images``, ``ps``); None after saying
    what is wrong: a moment after the run's end, or a variant the scenario does not have."""
    errors = Console(stderr=True)
    duration = loaded.scenario.duration
    if at is not None and at > duration:
        errors.print(f"--at {format_duration(at)} is after the end of the run "
                     f"({format_duration(duration)}); give a moment within it")
        return None
    names = sorted({s.variant for s in expand(loaded, replications=1)})
    if variant is not None and variant not in names:
        errors.print(f"unknown variant {variant!r}; one of {', '.join(names)}")
        return None
    return records(loaded, variant)


def made(recorder: Recorder) -> tuple[dict[str, float], dict[str, float]]:
    """When each image a run made was made (a pipeline's build, a script's commit), and when
    each image pushed during the run reached the registry."""
    built = {r["image"]: r["build_end"] for r in recorder.pipeline_runs if "build_end" in r}
    pushed = {r["image"]: r["push_end"] for r in recorder.pipeline_runs
              if "push_end" in r and "image" in r}
    for row in recorder.commands:  # several hosts: the first to make or push it
        if row["phase"] == "commit":
            built[row["image"]] = min(built.get(row["image"], row["end"]), row["end"])
        elif row["phase"] == "push":
            pushed[row["image"]] = min(pushed.get(row["image"], row["end"]), row["end"])
    return built, pushed


def image_rows(recorder: Recorder, at: float | None = None) -> list[dict[str, Any]]:
    """One row per image and layer: image, when it was made (None: from the start), layer
    key, bytes, its parent (the layer below it), in the registry, hosts holding it; at the
    end of the run, or at time ``at`` (images made later left out)."""
    state = recorder.end_state
    built, pushed = made(recorder)
    names = {h["host"]: h["name"] for h in recorder.hosts}
    if at is None:
        holders_of = {name: set(keys) for name, keys in state["hosts"].items()}
    else:
        holders_of = {names[i]: keys for i, keys in layers_at(recorder.layers, at).items()}
    holders: dict[str, list[str]] = {}
    for host, layers in holders_of.items():
        for key in layers:
            holders.setdefault(key, []).append(host)
    registry = set(state["registry"])
    if at is not None:  # the new layers of images pushed after ``at`` were not there yet
        there = {layer["key"] for image, layers in state["images"].items()
                 if image not in built for layer in layers}
        for image, when in pushed.items():
            if when > at:
                registry -= {layer["key"] for layer in state["images"].get(image, [])} - there
    rows = []
    for image, layers in state["images"].items():
        if at is not None and built.get(image, 0.0) > at:
            continue
        for k, layer in enumerate(layers):
            rows.append({"image": image, "made": built.get(image), "layer": layer["key"],
                         "bytes": layer["bytes"],
                         "parent": layers[k - 1]["key"] if k else "",
                         "in_registry": layer["key"] in registry,
                         "hosts": sorted(holders.get(layer["key"], []))})
    return rows


def _hosts_text(hosts: list[str], total: int) -> str:
    if not hosts:
        return "-"
    shown = ", ".join(hosts[:4]) + (", ..." if len(hosts) > 4 else "")
    return f"{len(hosts)}/{total}: {shown}"


def images(loaded: Loaded, out: Path, variant: str | None, quiet: bool,
           at: float | None = None) -> int:
    """Print the view and write ``OUT/<name>/images.json``; status 2 for an unknown variant
    or a moment ``at`` after the run's end."""
    from sim.cli.planning import write_json
    from sim.present.folders import staged

    found = records_at(loaded, variant, at)
    if found is None:
        return 2
    data = {name: image_rows(recorder, at) for name, recorder in found.items()}
    with staged(out, loaded.scenario.name, lambda name: name != "images.json") as staging:
        write_json(staging / "images.json", data)
    if not quiet:
        screen = wide_console()
        when = "the end of the run" if at is None else format_duration(at)
        for name, rows in data.items():
            total = len(found[name].hosts)
            table = Table(title=escape(f"{loaded.scenario.name} [{name}]: images at {when}"))
            for column in ("image", "made", "layer", "parent", "size", "registry",
                           "hosts holding it"):
                table.add_column(column, justify="right" if column == "size" else "left")
            for row in rows:
                table.add_row(escape(row["image"]),
                              "-" if row["made"] is None else format_duration(row["made"]),
                              escape(row["layer"]), escape(row["parent"] or "-"),
                              format_size(row["bytes"]), "yes" if row["in_registry"] else "no",
                              escape(_hosts_text(row["hosts"], total)))
            screen.print(table)
    return 0
