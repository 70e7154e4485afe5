"""``python -m sim ps FILE [--at T] [-a]``: the containers at a moment of a run, as ``docker
ps`` lists them: a commands script's containers and the workloads' instances, each with its
image, isolation, host, when it was created and its status (``Up 3 minutes``, ``Exited (0) 2
seconds ago``, ``Created``).

Owns: that view. Must not: change the model; it runs each variant's first replication and
reads what the run recorded (``sim.analysis.commands``).
"""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

from sim.analysis.commands import containers_at, human_span, instances_at
from sim.cli.common import wide_console
from sim.cli.images import records_at
from sim.edge.loader import Loaded
from sim.recorder import Recorder
from sim.spec.units import format_duration


def listing(found: dict[str, Recorder], at: float, every: bool
            ) -> dict[str, list[dict[str, Any]]]:
    """Per variant, the containers at ``at`` of what its run recorded (``found``): the
    script's first, then the workloads' instances, newest first."""
    out = {}
    for variant, recorder in found.items():
        hosts = {h["host"]: h["name"] for h in recorder.hosts}
        out[variant] = (containers_at(recorder.containers, at, every)
                        + instances_at(recorder.table(), hosts, at, every))
    return out


def ps(loaded: Loaded, variant: str | None, at: float | None, every: bool, limit: int) -> int:
    """Print the view; status 2 for an unknown variant or a moment after the run's end."""
    found = records_at(loaded, variant, at)
    if found is None:
        return 2
    moment = loaded.scenario.duration if at is None else at
    screen = wide_console()
    for name, boxes in listing(found, moment, every).items():
        title = (f"{loaded.scenario.name} [{name}]: containers at {format_duration(moment)}"
                 + ("" if every else " (running; -a: all)"))
        table = Table(title=escape(title))
        for column in ("NAMES", "IMAGE", "ISOLATION", "HOST", "CREATED", "STATUS"):
            table.add_column(column)
        for box in boxes[:limit]:
            table.add_row(escape(box["name"]), escape(box["image"]), box["isolation"],
                          escape(box["host"]),
                          f"{human_span(moment - box['created'])} ago", box["status"])
        if len(boxes) > limit:
            table.caption = f"{len(boxes) - limit:,} more not shown (--limit)"
        if not boxes:
            table.caption = "none" + ("" if every else " running (-a lists the others)")
        screen.print(table)
    return 0
