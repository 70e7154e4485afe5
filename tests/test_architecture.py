"""The layout's import rules, checked on the source: every import of every module under ``sim/``
is read with ``ast`` (those inside functions and ``if TYPE_CHECKING:`` blocks too).

- no import circle between modules of ``sim`` (a package's ``__init__`` is not counted as
  imported by its own submodules: Python runs it first, but nothing in it is used);
- the layers only import layers above them: the scenario format (``spec``, ``edge``),
  experiments, the model (with ``recorder``), analysis, running, planning, presentation, the
  fidelity suite, the command line;
- only ``sim.model`` and the one-run module (``sim.run.execute``) import SimPy, and only the
  kernel (``sim.model.kernel``) imports from inside it (``simpy.events``, ``simpy.core``),
  subclasses its classes or touches one of its underscore attributes;
- presentation (``sim.present``) and the command line (``sim.cli``) never import the model,
  and loading presentation or the command line's entry loads neither SimPy nor the model;
  the entry loads no matplotlib either, and validating a scenario loads no SimPy;
- nothing imports a private name (``_x``) from another module, or reads one off a module.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import simpy

ROOT = Path(__file__).resolve().parent.parent
SIM = ROOT / "sim"
KERNEL = "sim.model.kernel"
ONE_RUN = "sim.run.execute"

# The layers, top to bottom: a module may import its own layer's modules and those above.
LAYERS: list[tuple[str, ...]] = [
    ("sim",),  # the package itself: its version
    ("sim.spec",),
    ("sim.edge",),
    ("sim.experiment",),
    ("sim.model", "sim.recorder"),
    ("sim.analysis",),
    ("sim.run",),
    ("sim.planning",),
    ("sim.present",),
    ("sim.fidelity",),
    ("sim.cli", "sim.__main__"),
]
# Imports against the order that remain, each with the reason; the next step removes them.
AGAINST_THE_ORDER = {
    # the SLO check asks which metrics a summary has, by summarizing an empty run
    ("sim.edge.checks", "sim.analysis.metrics"),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(SIM.rglob("*.py"))}


@dataclass(frozen=True)
class Import:
    """One imported module (``names``: what ``from ... import`` took from it)."""

    module: str
    names: tuple[str, ...]
    line: int


def resolve(importer: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = importer.split(".")
    if MODULES[importer].name != "__init__.py":
        package = package[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports_of(name: str, path: Path | None = None) -> Iterator[Import]:
    """Every import in a module: of a module (``import a.b``), or from one (``from a import
    b``, where ``a.b`` is a module of ``sim``, imports ``a.b``)."""
    tree = ast.parse((path or MODULES[name]).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(alias.name, (), node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = resolve(name, node) if name in MODULES else (node.module or "")
            taken = []
            for alias in node.names:
                if f"{base}.{alias.name}" in MODULES:
                    yield Import(f"{base}.{alias.name}", (), node.lineno)
                else:
                    taken.append(alias.name)
            if taken:
                yield Import(base, tuple(taken), node.lineno)


def sim_imports(name: str) -> set[str]:
    return {i.module for i in imports_of(name) if i.module in MODULES and i.module != name}


GRAPH = {name: sim_imports(name) for name in MODULES}


def layer(name: str) -> int:
    best = (-1, -1)  # (prefix length, layer) of the longest prefix that names a layer
    for k, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if name == prefix or name.startswith(prefix + "."):
                best = max(best, (len(prefix), k))
    assert best[1] >= 0, f"{name} is in no layer: add it to LAYERS"
    return best[1]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_every_module_is_seen():
    assert {"sim.cli", KERNEL, ONE_RUN, "sim.spec.config", "sim.edge.loader"} <= set(MODULES)
    assert all(layer(name) >= 0 for name in MODULES)


def test_no_import_circles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert sum(len(deps) for deps in GRAPH.values()) > 100  # the imports were read
    assert cycles(GRAPH) == []


def test_layers_only_import_layers_above():
    against = sorted((a, b) for a, deps in GRAPH.items() for b in deps
                     if layer(b) > layer(a) and (a, b) not in AGAINST_THE_ORDER)
    assert against == []
    stale = sorted(pair for pair in AGAINST_THE_ORDER if pair[1] not in GRAPH[pair[0]])
    assert stale == [], "an allowed exception no longer happens: drop it"


def test_only_the_model_and_the_one_run_module_import_simpy():
    importers = sorted(name for name in MODULES for i in imports_of(name)
                       if i.module == "simpy" or i.module.startswith("simpy."))
    assert importers, "the search found nothing: is it broken?"
    assert [m for m in importers if not (m.startswith("sim.model.") or m == ONE_RUN)] == []


def test_only_the_kernel_imports_from_inside_simpy():
    inside = sorted(f"{name}:{i.line}" for name in MODULES for i in imports_of(name)
                    if i.module.startswith("simpy.") and name != KERNEL)
    assert inside == []


def test_presentation_and_the_command_line_never_import_the_model():
    direct = sorted(f"{a} -> {b}" for a, deps in GRAPH.items() for b in deps
                    if a.split(".")[1:2] in (["present"], ["cli"]) and b.startswith("sim.model"))
    assert direct == []


def _simpy_private_names() -> set[str]:
    """Underscore attributes SimPy's own classes set or read (``self._now``, ``event._ok``)."""
    names: set[str] = set()
    for path in Path(simpy.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                names.add(node.attr)
    return names


def test_only_the_kernel_touches_simpy_underscore_attributes():
    """Outside the kernel: no ``env._x`` or ``<anything>.env._x``, and none of SimPy's own
    underscore attribute names read off anything but ``self`` (the project's classes may
    have attributes of the same name)."""
    private = _simpy_private_names()
    assert {"_now", "_queue", "_eid", "_ok", "_value", "_defused"} <= private
    found = []
    for name, path in MODULES.items():
        if name == KERNEL:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                continue
            owner = node.value
            on_env = (isinstance(owner, ast.Name) and owner.id == "env") or (
                isinstance(owner, ast.Attribute) and owner.attr == "env")
            on_other = node.attr in private and not (
                isinstance(owner, ast.Name) and owner.id in ("self", "cls"))
            if on_env or on_other:
                found.append(f"{name}:{node.lineno}: {ast.unparse(node)}")
    assert found == []


def test_only_the_kernel_subclasses_simpy():
    """SimPy's classes are subclassed (``Environment``, the pools' ``Done`` event) in the
    kernel alone: a subclass touches its base's internals through ``self``."""
    found = [f"{name}:{node.lineno}: class {node.name}"
             for name, path in MODULES.items() if name != KERNEL
             for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
             if isinstance(node, ast.ClassDef)
             and any("simpy" in ast.unparse(base) for base in node.bases)]
    assert found == []


def _code_files() -> dict[str, Path]:
    """The simulator's modules, the tests, the benchmarks and the scripts."""
    files = dict(MODULES)
    for folder in ("tests", "benchmarks", "scripts"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            files[".".join(path.relative_to(ROOT).with_suffix("").parts)] = path
    return files


def test_nothing_imports_a_private_name_from_another_module():
    found = [f"{name}:{i.line}: from {i.module} import {n}"
             for name, path in _code_files().items() for i in imports_of(name, path)
             if i.module.startswith("sim") for n in i.names
             if n.startswith("_") and not n.startswith("__")]
    assert found == []


def test_no_module_reads_a_private_name_off_another_module():
    """``from sim.x import y`` or ``import sim.x.y as y``, then ``y._z``: in ``sim`` only (the
    tests may look inside)."""
    found = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                base = resolve(name, node)
                aliases |= {a.asname or a.name for a in node.names
                            if f"{base}.{a.name}" in MODULES}
            elif isinstance(node, ast.Import):
                aliases |= {a.asname for a in node.names if a.asname and a.name in MODULES}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in aliases and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                found.append(f"{name}:{node.lineno}: {ast.unparse(node)}")
    assert found == []


@pytest.mark.parametrize(("code", "absent"), [
    ("import sim.cli", ("simpy", "matplotlib", "sim.model", "scipy", "SALib", "pydantic",
                        "numpy", "pandas", "rich", "sim.edge")),  # --help in 0.2 s
    ("import sim.present.output, sim.present.report, sim.present.plots", ("simpy", "sim.model")),
    ("from sim.edge.loader import load_file; load_file('scenarios/plan-web-farm.yaml')",
     ("simpy", "sim.model", "sim.planning")),
])
def test_what_loading_a_layer_loads(code, absent):
    """In a fresh interpreter: the command line's entry loads no library (what a command
    needs is imported when it runs); presentation, and validating a scenario with a
    ``plan:`` section load neither SimPy nor the model."""
    check = (f"{code}\nimport sys\n"
             f"loaded = sorted(m for m in sys.modules if m.split('.')[0] in {absent!r} "
             f"or any(m == p or m.startswith(p + '.') for p in {absent!r}))\n"
             "assert not loaded, loaded\n")
    subprocess.run([sys.executable, "-c", check], cwd=ROOT, check=True)
