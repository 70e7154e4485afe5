"""Metrics by dotted name: the nested metrics of a run or of ``summary.json`` flattened to
dotted names (``startup_s.p99``), to paths of keys and back, and read by a dotted name.

Owns: what a dotted metric name means (a key may itself hold a dot, as a workload's name may).
Plain dictionaries only, no NumPy or pandas: the command line reads stored summaries with it
without loading them.
"""

from __future__ import annotations

from typing import Any


def leaves(metrics: dict[str, Any]) -> dict[tuple[str, ...], Any]:
    """``{"startup_s": {"p50": 1}}`` → ``{("startup_s", "p50"): 1}``: every value that is not
    a mapping, by its path of keys (a key may itself hold a dot, as a workload's name may)."""
    out: dict[tuple[str, ...], Any] = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            out.update({(key, *path): v for path, v in leaves(value).items()})
        else:
            out[(key,)] = value
    return out


def tree(paths: dict[tuple[str, ...], Any]) -> dict[str, Any]:
    """The inverse of ``leaves``."""
    out: dict[str, Any] = {}
    for (*parents, last), value in paths.items():
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def flatten(metrics: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"startup_s": {"p50": 1}}`` → ``{"startup_s.p50": 1}``."""
    return {prefix + ".".join(path): value for path, value in leaves(metrics).items()}


def metric_value(metrics: dict[str, Any], dotted: str) -> Any:
    """``metric_value(m, "startup_s.p99")`` → ``m["startup_s"]["p99"]`` (None if absent). A key
    holding a dot (``startup_by_workload_s.web.v2.p99``, of workload ``web.v2``) is found:
    at each level the longest key the rest of the name begins with is taken."""
    node: Any = metrics
    rest = dotted
    while rest:
        if not isinstance(node, dict):
            return None
        key = max((k for k in node if rest == k or rest.startswith(f"{k}.")), key=len,
                  default=None)
        if key is None:
            return None
        node, rest = node[key], rest[len(key) + 1:]
    return node
