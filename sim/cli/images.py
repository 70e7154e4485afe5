"""``python -m sim images FILE``: the images of a run in the spirit of ``docker images`` -
each image with its layers and sizes, whether the registry has them, and which hosts hold
which layers at the end of the run (images a pipeline built included).

Owns: that view and ``images.json``. Must not: change the model; it runs each variant's first
replication and reads the end state the run recorded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sim.edge.loader import Loaded
from sim.experiment.expand import expand
from sim.run.execute import run
from sim.spec.units import format_size


def end_states(loaded: Loaded, variant: str | None) -> dict[str, dict[str, Any]]:
    """Per variant (or only ``variant``), the end state its first replication recorded."""
    specs = [s for s in expand(loaded, replications=1) if variant in (None, s.variant)]
    return {spec.variant: run(spec).recorder.end_state for spec in specs}


def image_rows(state: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per image and layer: image, layer key, bytes, in the registry, hosts holding it."""
    holders: dict[str, list[str]] = {}
    for host, layers in state["hosts"].items():
        for key in layers:
            holders.setdefault(key, []).append(host)
    registry = set(state["registry"])
    rows = []
    for image, layers in state["images"].items():
        for layer in layers:
            rows.append({"image": image, "layer": layer["key"], "bytes": layer["bytes"],
                         "in_registry": layer["key"] in registry,
                         "hosts": sorted(holders.get(layer["key"], []))})
    return rows


def _hosts_text(hosts: list[str], total: int) -> str:
    if not hosts:
        return "-"
    shown = ", ".join(hosts[:4]) + (", ..." if len(hosts) > 4 else "")
    return f"{len(hosts)}/{total}: {shown}"


def images(loaded: Loaded, out: Path, variant: str | None, quiet: bool) -> int:
    """Print the view and write ``OUT/<name>/images.json``; status 2 for an unknown variant."""
    from sim.cli.planning import write_json
    from sim.present.folders import staged

    states = end_states(loaded, variant)
    if not states:
        names = sorted({s.variant for s in expand(loaded, replications=1)})
        Console(stderr=True).print(f"unknown variant {variant!r}; one of {', '.join(names)}")
        return 2
    data = {name: image_rows(state) for name, state in states.items()}
    with staged(out, loaded.scenario.name, lambda name: name != "images.json") as staging:
        write_json(staging / "images.json", data)
    if not quiet:
        screen = Console()
        for name, rows in data.items():
            total = len(states[name]["hosts"])
            table = Table(title=escape(f"{loaded.scenario.name} [{name}]: images at the end of "
                                       "the run"))
            for column in ("image", "layer", "size", "registry", "hosts holding it"):
                table.add_column(column, justify="right" if column == "size" else "left")
            for row in rows:
                table.add_row(row["image"], row["layer"], format_size(row["bytes"]),
                              "yes" if row["in_registry"] else "no",
                              _hosts_text(row["hosts"], total))
            screen.print(table)
    return 0
