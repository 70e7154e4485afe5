"""Dotted paths into a scenario, as used by ``sweep:``: ``hosts[0].count``,
``workloads[web].arrival.rate``, ``profiles.hyperv.boot``.

Owns: parsing a path and reading or replacing the value it names in plain scenario data.
A ``[name]`` selects the list entry whose ``name`` (or ``group``) is that name; ``[0]`` selects
by position. Must not: validate values (the scenario models do).
"""

from __future__ import annotations

import copy
import re
from typing import Any

_TOKEN = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*)|\[([^\]]+)\]|(\.)")

Step = str | int | tuple[str, str]


class PathError(ValueError):
    """A path that is malformed or names nothing in the scenario."""


def parse(path: str) -> list[Step]:
    """``'workloads[web].arrival.rate'`` → ``['workloads', ('name', 'web'), 'arrival', 'rate']``."""
    steps: list[Step] = []
    pos = 0
    expect_key = True
    while pos < len(path):
        match = _TOKEN.match(path, pos)
        if not match:
            raise PathError(f"cannot read path {path!r} at {path[pos:]!r}")
        key, index, dot = match.groups()
        if key is not None:
            if not expect_key:
                raise PathError(f"missing '.' before {key!r} in {path!r}")
            steps.append(key)
            expect_key = False
        elif index is not None:
            if expect_key and steps:
                raise PathError(f"'[' after '.' in {path!r}")
            steps.append(int(index) if index.isdigit() else ("name", index))
            expect_key = False
        elif dot:
            if expect_key:
                raise PathError(f"empty part in {path!r}")
            expect_key = True
        pos = match.end()
    if not steps or expect_key:
        raise PathError(f"incomplete path {path!r}")
    return steps


def _entry(items: list[Any], step: int | tuple[str, str], path: str) -> int:
    if isinstance(step, int):
        if 0 <= step < len(items):
            return step
        raise PathError(f"{path}: index {step} is out of range (0..{len(items) - 1})")
    name = step[1]
    for i, item in enumerate(items):
        if isinstance(item, dict) and name in (item.get("name"), item.get("group")):
            return i
    names = [item.get("name", item.get("group")) for item in items if isinstance(item, dict)]
    raise PathError(f"{path}: no entry named {name!r} (there are: {', '.join(map(str, names))})")


def get(data: Any, path: str) -> Any:
    """The value at ``path`` in ``data`` (None when the last key is absent)."""
    node = data
    steps = parse(path)
    for i, step in enumerate(steps):
        last = i == len(steps) - 1
        if isinstance(step, str):
            if not isinstance(node, dict):
                raise PathError(f"{path}: {step!r} is not inside a mapping")
            if step not in node:
                if last:
                    return None
                raise PathError(f"{path}: no key {step!r}")
            node = node[step]
        else:
            if not isinstance(node, list):
                raise PathError(f"{path}: [{step if isinstance(step, int) else step[1]}] "
                                "is not inside a list")
            node = node[_entry(node, step, path)]
    return node


def replace(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``data`` with the value at ``path`` set to ``value``."""
    out = copy.deepcopy(data)
    steps = parse(path)
    node: Any = out
    for step in steps[:-1]:
        if isinstance(step, str):
            if not isinstance(node, dict) or not isinstance(node.get(step), (dict, list)):
                raise PathError(f"{path}: no mapping or list at {step!r}")
            node = node[step]
        else:
            if not isinstance(node, list):
                raise PathError(f"{path}: not a list before [{step}]")
            node = node[_entry(node, step, path)]
    last = steps[-1]
    if isinstance(last, str):
        if not isinstance(node, dict):
            raise PathError(f"{path}: {last!r} is not inside a mapping")
        node[last] = value
    else:
        if not isinstance(node, list):
            raise PathError(f"{path}: not a list")
        node[_entry(node, last, path)] = value
    return out
