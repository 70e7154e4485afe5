"""The program explains itself: every command's ``--help`` says what it answers and what it
writes and shows examples that parse and name shipped files; every option has a help text;
every key of the scenario schema (``python -m sim schema``) is described in plain text, and a
required key says why it is required.
"""

from __future__ import annotations

import argparse
import glob
import json
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sim.cli.dispatch import build_parser, main
from sim.cli.schema import plain_text, schema
from sim.spec import units

ROOT = Path(__file__).resolve().parent.parent


def _actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """A parser's arguments (argparse has no public way to list them)."""
    return list(parser._actions)  # noqa: SLF001


def _is_commands(action: argparse.Action) -> bool:
    """The action holding the commands: its choices map names to parsers."""
    return isinstance(action.choices, dict)


def _commands() -> dict[str, argparse.ArgumentParser]:
    """Every command's parser, by name, as ``python -m sim --help`` lists them."""
    sub = next(a for a in _actions(build_parser()) if _is_commands(a))
    assert isinstance(sub.choices, dict)
    return dict(sub.choices)


COMMANDS = sorted(_commands())


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0, f"{' '.join(argv)} --help: exit status {exc.value.code}"
    return capsys.readouterr().out


def _example_lines(epilog: str) -> list[str]:
    """The command lines of an epilog: comments left out, ``\\`` continuations joined."""
    lines, pending = [], ""
    for raw in epilog.splitlines()[1:]:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pending += line
        if pending.endswith("\\"):
            pending = pending[:-1]
            continue
        lines.append(pending)
        pending = ""
    assert not pending, f"an example ends in a continuation: {pending}"
    return lines


def test_the_command_list_is_complete():
    assert sorted(["run", "validate", "schema", "density", "images", "ps", "fidelity", "profiles",
                   "fit", "plan", "sensitivity"]) == COMMANDS


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_a_description_and_examples(command, capsys):
    parser = _commands()[command]
    out = _help([command], capsys)
    description = " ".join((parser.description or "").split())
    assert description.count(". ") >= 1 and description.endswith("."), (
        f"{command}: the description should say in 2-4 sentences what it answers and writes; "
        f"got {description!r}")
    assert description in " ".join(out.split()), f"{command} --help does not show its description"
    assert "examples:" in out, f"{command} --help shows no examples"
    assert _example_lines(parser.epilog or ""), f"{command}: no example command line"


def test_top_level_help_points_at_the_first_scenario(capsys):
    out = _help([], capsys)
    assert "README" in out and "first scenario" in out
    assert "python -m sim run scenarios/windows-isolation.yaml" in out
    for command in COMMANDS:  # each listed with its one-line summary
        assert command in out


def test_every_option_has_help():
    parsers = {"csim": build_parser(), **_commands()}
    missing = []
    for name, parser in parsers.items():
        for action in _actions(parser):
            if _is_commands(action):  # the command list's one-line summaries
                for choice in action._get_subactions():  # noqa: SLF001 - as _actions
                    if not (choice.help or "").strip():
                        missing.append(f"{name}: command {choice.dest}")
                continue
            if not (action.help or "").strip() or action.help == argparse.SUPPRESS:
                missing.append(f"{name}: {'/'.join(action.option_strings) or action.dest}")
    assert not missing, "options without a help text:\n" + "\n".join(missing)


@pytest.mark.parametrize("command", COMMANDS)
def test_examples_parse_and_name_shipped_files(command):
    for line in _example_lines(_commands()[command].epilog or ""):
        argv = shlex.split(line)
        argv = argv[:argv.index(">")] if ">" in argv else argv  # the shell's redirection
        assert argv[:4] == ["python", "-m", "sim", command], (
            f"{command}'s example should run that command: {line}")
        try:
            build_parser().parse_args(argv[3:])
        except SystemExit as exc:
            pytest.fail(f"{command}'s example does not parse (status {exc.code}): {line}")
        for arg in argv:
            if arg.startswith("scenarios/"):
                assert glob.glob(str(ROOT / arg)), f"{command}'s example names {arg}: no such file"


@pytest.mark.parametrize("line, argv", [
    ("examples:\n  # a comment\n  python -m sim run a.yaml \\\n      --jobs 2\n  python x",
     ["python -m sim run a.yaml --jobs 2", "python x"]),
])
def test_example_lines_join_continuations(line, argv):
    assert _example_lines(line) == argv


# --- the schema --------------------------------------------------------------------------------

UNIT_HINTS = {units.SIZE_HINT, units.DURATION_HINT, units.RATE_HINT, units.BANDWIDTH_HINT}


def _objects(node: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object schema with properties under ``node`` (definitions, properties, items,
    alternatives), each with where it is; defaults and other values are not schemas."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from _objects(item, f"{path}[{i}]")
        return
    if not isinstance(node, dict):
        return
    if isinstance(node.get("properties"), dict):
        yield path, node
    for key, value in node.items():
        if key not in ("default", "const", "enum", "examples"):
            yield from _objects(value, f"{path}/{key}")


def _is_plain(text: str) -> bool:
    return "`" not in text and ":class:" not in text and ":func:" not in text


def test_every_schema_key_is_described_in_plain_text():
    data = schema()
    problems = []
    objects = list(_objects(data, "#"))
    assert len(objects) > 30, "the walk should reach every definition"
    for path, node in objects:
        if not _is_plain(node.get("description") or "x"):
            problems.append(f"{path}: markup in {node['description']!r}")
        for key, prop in node["properties"].items():
            text = prop.get("description") or ""
            if not text.strip():
                problems.append(f"{path}/properties/{key}: no description")
            elif text in UNIT_HINTS:
                problems.append(f"{path}/properties/{key}: only how to write it ({text!r}), "
                                "not what it means")
            elif not _is_plain(text):
                problems.append(f"{path}/properties/{key}: markup in {text!r}")
    for name, node in data["$defs"].items():
        if not (node.get("description") or "").strip():
            problems.append(f"#/$defs/{name}: no description (the model's docstring)")
    assert not problems, "schema keys not described in plain text:\n" + "\n".join(problems)


def test_required_keys_say_why():
    data = schema()
    # workloads too, unless a commands script is given: the checks say so, not the schema
    assert set(data["required"]) == {"name", "duration", "hosts", "registry", "images"}
    problems = []
    for path, node in _objects(data, "#"):
        for key in node.get("required", []):
            text = node["properties"][key].get("description") or ""
            why = text.removeprefix("required:").split()
            if not text.startswith("required:") or len(why) < 3:
                problems.append(f"{path}/properties/{key}: {text!r}")
    assert not problems, ("a required key's description should start 'required:' and say "
                          "why:\n" + "\n".join(problems))
    for key in data["required"]:  # the top level's required keys are also named together
        assert f"'{key}'" in data["description"]


def test_schema_command_prints_plain_text(capsys):
    assert main(["schema"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out) == schema()
    assert "``" not in out and ":class:" not in out


@pytest.mark.parametrize("text, plain", [
    ("Always ``value``.", "Always 'value'."),
    ("See :class:`~sim.spec.config.Scenario` and :func:`sim.cli.main`.",
     "See Scenario and sim.cli.main."),
    ("a `b` c", "a 'b' c"),
    ("one\n    paragraph,\n    wrapped\n\n    and another",
     "one paragraph, wrapped\n\nand another"),
    ("already plain: 'x' <= 30s", "already plain: 'x' <= 30s"),
])
def test_plain_text(text, plain):
    assert plain_text(text) == plain
