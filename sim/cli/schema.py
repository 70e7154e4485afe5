"""The ``schema`` command: the scenario format's JSON Schema, printed.

Owns: what the schema adds to the one pydantic gives (bare durations for distributions), and
its descriptions as plain text: pydantic takes a model's description from its docstring, whose
reStructuredText (``literal``, :class:`Name`) editors would show as it is written.
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from sim.spec.config import Scenario
from sim.spec.units import DURATION_HINT
from sim.spec.values import QUANTITY_PATTERN


def command(args: argparse.Namespace) -> int:
    """Print the schema."""
    print(json.dumps(schema(), indent=2))
    return 0


def schema() -> dict[str, Any]:
    """The scenario format's JSON Schema."""
    data = _plain_descriptions(_bare_durations(Scenario.model_json_schema()))
    data["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    data["title"] = "Container-host simulator scenario"
    return data


def _bare_durations(node: Any) -> Any:
    """Let every distribution in the schema also be a bare duration (``4h`` = constant), as
    the loader accepts. What pydantic wrote beside the distribution's alternatives about the
    field (its title, description and default) goes on the field, beside both forms."""
    if isinstance(node, list):
        return [_bare_durations(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: _bare_durations(v) for k, v in node.items()}
    if (node.get("discriminator") or {}).get("propertyName") == "dist":
        bare = {"anyOf": [{"type": "string", "pattern": QUANTITY_PATTERN},
                          {"type": "number", "minimum": 0}], "description": DURATION_HINT}
        field = {key: node.pop(key) for key in ("title", "description", "default")
                 if key in node}
        node = {"anyOf": [bare, node], **field}
    return node


_ROLE = re.compile(r":(?:[a-z]+:)?[a-z]+:`(~?)([^`]*)`")  # :class:`X`, :py:func:`~a.b`
_LITERAL = re.compile(r"``(.+?)``|`([^`]+)`")  # ``literal``, `interpreted text`


def plain_text(text: str) -> str:
    """A docstring's reStructuredText as plain text: a role's target (``:class:`~a.B```)
    as its name (``B``), ``literal`` and `text` in single quotes, and each paragraph's
    lines joined into one.

    Args:
        text: a description, as pydantic took it from a docstring or a ``Field``.

    Returns:
        The text without markup; paragraphs stay apart (a blank line).
    """
    text = _ROLE.sub(lambda m: m.group(2).rsplit(".", 1)[-1] if m.group(1) else m.group(2),
                     text)
    text = _LITERAL.sub(lambda m: f"'{m.group(1) or m.group(2)}'", text)
    paragraphs = re.split(r"\n\s*\n", text.strip())
    return "\n\n".join(" ".join(p.split()) for p in paragraphs)


_VALUES = {"default", "const", "enum", "examples"}  # a scenario's values, left as they are


def _plain_descriptions(node: Any) -> Any:
    """Every ``description`` in the schema as plain text (a key named ``description`` in a
    ``properties`` map is a schema, not a text, and is walked into; values are not)."""
    if isinstance(node, list):
        return [_plain_descriptions(n) for n in node]
    if not isinstance(node, dict):
        return node
    return {k: plain_text(v) if k == "description" and isinstance(v, str)
            else v if k in _VALUES else _plain_descriptions(v) for k, v in node.items()}
