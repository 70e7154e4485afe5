"""The ``schema`` command: the scenario format's JSON Schema, printed.

Owns: what the schema adds to the one pydantic gives (bare durations for distributions).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from sim.spec.config import QUANTITY_PATTERN, Scenario
from sim.spec.units import DURATION_HINT


def command(args: argparse.Namespace) -> int:
    """Print the schema."""
    print(json.dumps(schema(), indent=2))
    return 0


def schema() -> dict[str, Any]:
    """The scenario format's JSON Schema."""
    data = _bare_durations(Scenario.model_json_schema())
    data["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    data["title"] = "Container-host simulator scenario"
    return data


def _bare_durations(node: Any) -> Any:
    """Let every distribution in the schema also be a bare duration (``4h`` = constant), as
    the loader accepts."""
    if isinstance(node, list):
        return [_bare_durations(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: _bare_durations(v) for k, v in node.items()}
    if (node.get("discriminator") or {}).get("propertyName") == "dist":
        bare = {"anyOf": [{"type": "string", "pattern": QUANTITY_PATTERN},
                          {"type": "number", "minimum": 0}], "description": DURATION_HINT}
        title = node.pop("title", None)
        node = {"anyOf": [bare, node], **({"title": title} if title else {})}
    return node
