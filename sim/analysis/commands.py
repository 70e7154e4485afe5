"""What the Docker commands a user knows show of a run: a commands script's figures (how long
each step and each kind of phase took, whether it finished), the containers as ``docker ps``
lists them at a moment (the script's and the workloads' instances), and the layers each host
holds at a moment (``docker images``).

Owns: the ``commands`` metrics of a run (``script_metrics``), the container list at a time
(``containers_at``, ``instances_at``) and the layers held at a time (``layers_at``). Must not:
run the model or print.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

PHASES = ("pull", "extract", "write", "copy", "create", "boot", "exec", "stop", "commit",
          "push", "rm", "rmi")


def script_metrics(scripts: list[dict[str, Any]], rows: list[dict[str, Any]]
                   ) -> dict[str, Any]:
    """A run's ``commands`` metrics from its script records and phase rows: steps (in the
    script), completed (steps every host finished), failed (hosts where a step failed),
    finished (1 when every host ran the whole script within the run), ``total_s`` (first
    step's start to the last host's end; NaN if not finished), ``step_s`` (each step's
    seconds, the slowest host's) and ``phase_s`` (seconds per kind of phase, summed over
    steps, the slowest host's)."""
    steps = max((s["steps"] for s in scripts), default=0)
    step_s: dict[str, float] = {}
    phase_s: dict[str, float] = {}
    for host in {r["host"] for r in rows}:
        spans: dict[int, tuple[float, float]] = {}
        phases = dict.fromkeys(PHASES, 0.0)
        for r in rows:
            if r["host"] != host or r["phase"] == "failed":
                continue
            low, high = spans.get(r["step"], (r["start"], r["end"]))
            spans[r["step"]] = (min(low, r["start"]), max(high, r["end"]))
            phases[r["phase"]] += r["end"] - r["start"]
        for i, (low, high) in spans.items():
            step_s[str(i)] = max(step_s.get(str(i), 0.0), high - low)
        for name, seconds in phases.items():
            phase_s[name] = max(phase_s.get(name, 0.0), seconds)
    finished = bool(scripts) and all(not math.isnan(s["end"]) for s in scripts)
    start = min((s["start"] for s in scripts), default=math.nan)
    return {
        "steps": steps,
        "completed": min((s["done"] for s in scripts), default=0),
        "failed": sum(1 for s in scripts if s["error"]),
        "finished": 1.0 if finished else 0.0,
        "total_s": max(s["end"] for s in scripts) - start if finished else math.nan,
        "step_s": {k: step_s[k] for k in sorted(step_s, key=int)},
        "phase_s": {k: v for k, v in phase_s.items() if v > 0 or k in ("pull", "create")},
    }


def containers_at(events: list[dict[str, Any]], at: float, every: bool
                  ) -> list[dict[str, Any]]:
    """The containers at time ``at`` as ``docker ps`` lists them (``every``: ``-a``, the
    stopped and created ones too; removed ones never): name, image, isolation, host, state,
    created (when it was created) and status (``Up 3 minutes``, ``Exited (0) 2 seconds ago``,
    ``Created``), newest first."""
    now: dict[tuple[str, str], dict[str, Any]] = {}
    for e in events:  # in time order
        if e["time"] > at:
            break
        key = (e["host"], e["container"])
        if e["state"] == "created":  # a new container (the name may have been used before)
            now[key] = {"name": e["container"], "image": e["image"],
                        "isolation": e["isolation"], "host": e["host"], "created": e["time"]}
        box = now[key]
        # up since it started: a pause (a commit) and the resume after it do not restart it
        if not (e["state"] == "paused" or box.get("state") == "paused"):
            box["since"] = e["time"]
        box["state"] = e["state"]
    shown = [b for b in now.values() if b["state"] != "removed"
             and (every or b["state"] in ("running", "paused"))]
    for box in shown:
        box["status"] = _status(box["state"], at - box["since"])
    return sorted(shown, key=lambda b: (-b["created"], b["host"], b["name"]))


def _status(state: str, seconds: float) -> str:
    """Docker's STATUS text for a container in ``state`` for ``seconds``."""
    if state == "created":
        return "Created"
    span = human_span(seconds)
    if state == "exited":
        return f"Exited (0) {span} ago"
    return f"Up {span}" + (" (Paused)" if state == "paused" else "")


def human_span(seconds: float) -> str:
    """A span as Docker writes it: '12 seconds', 'About a minute', '3 minutes', '2 hours'."""
    if seconds < 1:
        return "Less than a second"
    if seconds < 60:
        return f"{int(seconds)} second{'s' if int(seconds) != 1 else ''}"
    minutes = seconds / 60
    if minutes < 2:
        return "About a minute"
    if minutes < 60:
        return f"{int(minutes)} minutes"
    hours = minutes / 60
    if hours < 2:
        return "About an hour"
    if hours < 48:
        return f"{int(hours)} hours"
    return f"{int(hours / 24)} days"


def instances_at(columns: dict[str, np.ndarray], hosts: dict[int, str], at: float,
                 every: bool) -> list[dict[str, Any]]:
    """The workloads' instances at time ``at`` in ``containers_at``'s form (named
    ``<workload>-<id>``): running (its stop phase included, as ``docker ps`` shows a
    container until it exits) or, with ``every``, created too (placed, starting); one that
    has left its host is gone, as a removed container is."""
    placed, running = columns["placed"], columns["running"]
    gone = np.fmin(columns["removed"], columns["disrupted"])
    with np.errstate(invalid="ignore"):
        here = (placed <= at) & ~(gone <= at)
        up = here & (running <= at)
    out = []
    for i in np.flatnonzero(here if every else up).tolist():
        state = "running" if up[i] else "created"
        since = float(running[i] if up[i] else placed[i])
        out.append({"name": f"{columns['workload'][i]}-{int(columns['id'][i])}",
                    "image": str(columns["image"][i]) or str(columns["workload"][i]),
                    "isolation": str(columns["isolation"][i]),
                    "host": hosts.get(int(columns["host"][i]), ""),
                    "created": float(placed[i]), "state": state,
                    "status": _status(state, at - since)})
    return sorted(out, key=lambda b: (-b["created"], b["host"], b["name"]))


def layers_at(log: list[tuple[float, int, str, bool]], at: float) -> dict[int, set[str]]:
    """The layers each host (by index) holds at time ``at``, from the run's layer log."""
    held: dict[int, set[str]] = {}
    for time, host, key, arrived in log:  # in time order
        if time > at:
            break
        if arrived:
            held.setdefault(host, set()).add(key)
        else:
            held.get(host, set()).discard(key)
    return held
