"""Render docs/scenario-format.md, the reference of every scenario key, from the scenario
format's JSON Schema (``sim.cli.schema()``, what ``python -m sim schema`` prints), so that the
reference cannot drift from the code.

    python scripts/scenario_reference.py            # rewrite docs/scenario-format.md
    python scripts/scenario_reference.py --check    # exit 1 if it is out of date

The schema gives the structure, the types, the allowed values, the defaults and the
descriptions. Two things it does not say are read from the pydantic models it is generated
from: which unit a quantity takes when the field's own description replaced the unit hint
(``memory: the memory limit ...``), and the defaults made by a ``default_factory``.
``tests/test_docs.py`` fails when the file differs from what this script renders.
"""

from __future__ import annotations

import argparse
import json
import sys
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, WithJsonSchema
from pydantic_core import PydanticUndefined

from sim.cli.schema import schema
from sim.spec import units
from sim.spec.config import Scenario

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "scenario-format.md"
COMMAND = "python scripts/scenario_reference.py"

KINDS = {units.SIZE_HINT: "size", units.DURATION_HINT: "duration", units.RATE_HINT: "rate",
         units.BANDWIDTH_HINT: "bandwidth"}
KIND_UNITS = {"size": "bytes", "duration": "seconds", "rate": "per second",
              "bandwidth": "bytes per second"}


# --- the pydantic models behind the schema's definitions -------------------------------------

def _models(root: type[BaseModel]) -> dict[str, type[BaseModel]]:
    """Every model reachable from ``root``'s fields, by class name (the schema's $defs keys)."""
    found: dict[str, type[BaseModel]] = {}

    def visit(tp: Any) -> None:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if tp.__name__ in found:
                return
            found[tp.__name__] = tp
            for field in tp.model_fields.values():
                visit(field.annotation)
            return
        for arg in typing.get_args(tp):
            visit(arg)

    visit(root)
    return found


def _quantity_kinds(tp: Any, metadata: list[Any] = ()) -> set[str]:
    """The unit kinds (size, duration, ...) of the quantities a field's annotation holds."""
    kinds = set()
    for item in metadata:
        if isinstance(item, WithJsonSchema) and isinstance(item.json_schema, dict):
            kind = KINDS.get(item.json_schema.get("description", ""))
            if kind:
                kinds.add(kind)
    if typing.get_origin(tp) is typing.Annotated:
        kinds |= _quantity_kinds(typing.get_args(tp)[0], list(tp.__metadata__))
    else:
        for arg in typing.get_args(tp):
            if not (isinstance(arg, type) and issubclass(arg, BaseModel)):
                kinds |= _quantity_kinds(arg)
    return kinds


# --- reading the schema ----------------------------------------------------------------------

def _is_quantity(node: dict[str, Any]) -> bool:
    options = node.get("anyOf") or []
    return (len(options) == 2 and {o.get("type") for o in options} == {"string", "number"}
            and any("[A-Za-z/]" in o.get("pattern", "") for o in options))


def _without_null(node: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The node with a ``null`` alternative taken out, and whether there was one."""
    options = node.get("anyOf")
    if options and any(o == {"type": "null"} for o in options):
        rest = [o for o in options if o != {"type": "null"}]
        inner = rest[0] if len(rest) == 1 else {"anyOf": rest}
        for key in ("description",):
            if key in node and key not in inner:
                inner = {**inner, key: node[key]}
        return inner, True
    return node, False


def _ref(node: dict[str, Any]) -> str | None:
    ref = node.get("$ref")
    return ref.rsplit("/", 1)[-1] if ref else None


def _bounds(node: dict[str, Any]) -> str:
    parts = []
    if "minimum" in node:
        parts.append(f"≥ {node['minimum']:g}")
    if "exclusiveMinimum" in node:
        parts.append(f"> {node['exclusiveMinimum']:g}")
    if "maximum" in node:
        parts.append(f"≤ {node['maximum']:g}")
    if "exclusiveMaximum" in node:
        parts.append(f"< {node['exclusiveMaximum']:g}")
    if "minItems" in node:
        parts.append(f"at least {node['minItems']} item{'s' if node['minItems'] != 1 else ''}")
    return ", ".join(parts)


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _anchor(path: str) -> str:
    out = []
    for ch in path.lower():
        out.append(ch if ch.isalnum() else "-")
    return "key-" + "-".join(p for p in "".join(out).split("-") if p)


# What a key means, for the keys whose schema has no description of its own (the schema's
# description wins where there is one). Every path must exist: render() fails otherwise.
MEANINGS = {
    "name": "names the results folder, `results/<name>/`",
    "description": "free text, shown at the top of report.html",
    "seed": "every random stream derives from it: the same seed gives the same numbers",
    "duration": "simulated time",
    "warmup": "statistics ignore requests that arrive before this",
    "hosts": "groups of identical hosts",
    "registry": "the registry every host pulls from",
    "images": "images and their layers",
    "workloads": "streams of instance requests",
    "placement": "how a host is chosen for a request (docs/model.md)",
    "compare": "variants compared in one run, on the same arrivals and lifetimes",
    "profiles": "override fields of the built-in profiles (process, hyperv, vm) or define new "
                "ones (`extends`)",
    "plan": "what `python -m sim plan` sizes and against which SLOs",
    "faults": "failures injected into the run",
    "pipelines": "image pipelines: commit, build, test, push, roll out",
    "hosts[].group": "the group's name (workloads' and profiles' `host_groups`, sweeps' "
                     "`hosts[name]` and `plan.group` refer to it)",
    "hosts[].count": "hosts in the group",
    "hosts[].cpu_cores": "physical cores; start-ups' CPU work shares them",
    "hosts[].cpu_overcommit": "vCPU per core that placement may promise",
    "hosts[].memory": "physical memory",
    "hosts[].reserved_memory": "host OS / root partition; never committed to instances",
    "hosts[].disk": "disk for image layers and instances' private disks",
    "hosts[].disk_rate": "layer extraction and VM disk copies, shared equally on the host",
    "hosts[].nic": "network interface: caps the host's share of the registry",
    "hosts[].hyperv": "Hyper-V installed: required for hyperv and vm isolation",
    "hosts[].os_build": "process isolation requires the image's build to match",
    "hosts[].max_concurrent_starts": "start slots: start-ups in progress at once; more wait "
                                     "FIFO",
    "hosts[].preloaded_images": "images whose layers are on every host of the group at time 0",
    "hosts[].virtual.physical_group": "the group whose hosts hold these VMs",
    "hosts[].virtual.per_physical": "VMs in each physical host",
    "registry.bandwidth": "egress, shared max-min fairly by all concurrent pulls",
    "registry.latency": "per layer request",
    "images[].name": "the image's name",
    "images[].base": "the image it is built on (its layers come first)",
    "images[].layers": "sizes of its own layers, on top of the base's",
    "workloads[].name": "the workload's name",
    "workloads[].image": "the image its instances run",
    "workloads[].isolation": "a profile: process, hyperv, vm or one defined under `profiles`",
    "workloads[].tenant": "trust boundary (`kernel_sharing`, tenants per fault)",
    "workloads[].app_start": "the application's start after the boot",
    "workloads[].arrival": "how requests arrive",
    "workloads[].on_full": "when no host fits: queue (one FIFO queue for the pool) or reject",
    "workloads[].restart": "what happens to an instance a fault took down",
    "workloads[].arrival.kind": "the kind of arrival process",
    "workloads[].arrival.count": "at most this many arrivals",
    "workloads[].arrival(burst).count": "arrivals, all at `at`",
    "workloads[].arrival.until": "no arrivals after this time",
    "workloads[].arrival.at": "when the burst arrives",
    "workloads[].arrival.interval": "time between arrivals",
    "workloads[].arrival(constant).start": "the first arrival's time",
    "workloads[].arrival(poisson).start": "when arrivals begin",
    "workloads[].arrival.rate": "arrivals per second (give `rate` or `schedule`)",
    "workloads[].arrival.schedule": "a piecewise-constant rate instead of `rate`",
    "workloads[].arrival.schedule[].at": "from this time on ...",
    "workloads[].arrival.schedule[].rate": "... arrivals come at this rate",
    "workloads[].arrival.format": "the trace format (docs/traces.md)",
    "workloads[].arrival.cpu_scale": "multiplies the trace's vCPU",
    "workloads[].arrival.memory_scale": "multiplies the trace's memory",
    "workloads[].restart.policy": "never: the request ends; always: placed and started again",
    "workloads[].restart.delay": "time before it is requested again",
    "compare.placement": "one variant per placement policy",
    "compare.kernel_sharing": "one variant per value (the constraint's cost)",
    "profiles.<name>.extends": "the profile this one starts from (required for a new profile)",
    "profiles.<name>.description": "free text",
    "profiles.<name>.create": "create phase on an idle host",
    "profiles.<name>.boot": "boot phase on an idle host",
    "profiles.<name>.stop": "stop phase",
    "profiles.<name>.commit": "committed memory = round_up(memory + add, round_to) + "
                              "memory_overhead",
    "profiles.<name>.disk_per_instance": "private disk per instance (sandbox, pagefile, VHD)",
    "profiles.<name>.cpu_bound_fraction": "share of create, boot and app start that needs a "
                                          "CPU (processor-shared with the host's other "
                                          "start-ups)",
    "profiles.<name>.shares_host_kernel": "the image's OS build must match the host's; a "
                                          "kernel fault reaches every such instance on the "
                                          "host",
    "profiles.<name>.requires_hyperv": "only hosts with `hyperv: true`",
    "profiles.<name>.commit.add": "added to the memory limit",
    "profiles.<name>.commit.round_to": "then rounded up to a multiple of this (0: not "
                                       "rounded)",
    "profiles.<name>.nested.boot_factor": "start-up phases take this many times as long",
    "profiles.<name>.nested.cpu_factor": "batch work takes this many times as long",
    "plan.replications": "runs per candidate host count",
    "plan.max_hosts": "the search's limit",
    "faults.host_hardware": "whole-host failures, per physical host",
    "faults.host_kernel": "host kernel crashes, per kernel (container-host VMs included)",
    "faults.host_hardware.mtbf": "mean up time (exponential)",
    "faults.host_hardware.repair": "time down after a failure",
    "faults.host_kernel.mtbf": "mean up time between spontaneous crashes (exponential)",
    "faults.host_kernel.reboot": "time down after a crash",
    "pipelines[].name": "the pipeline's name",
    "pipelines[].trigger": "when it runs",
    "pipelines[].steps": "run in order",
    "pipelines[].trigger.at": "the first (or only) run",
    "pipelines[].trigger.every": "then again every this long",
    "pipelines[].trigger.commits": "instead: a run per commit of a Poisson stream",
    "pipelines[].steps[].build": "build a new image",
    "pipelines[].steps[].test": "test it",
    "pipelines[].steps[].rollout": "replace a workload's instances with it",
    "pipelines[].steps[].build.base": "the image built on",
    "pipelines[].steps[].build.install": "the install step's duration",
    "pipelines[].steps[].build.layer": "size of the new layer",
    "pipelines[].steps[].build.commit": "commit time, besides writing the layer at disk_rate",
    "pipelines[].steps[].test.duration": "a fixed test time",
    "pipelines[].steps[].test.instances": "instances of the new image started on the build "
                                          "group",
    "pipelines[].steps[].test.run": "how long each test instance runs",
    "pipelines[].steps[].rollout.workload": "the workload whose instances are replaced",
    "pipelines[].steps[].rollout.strategy": "rolling batches, or blue-green (one batch with "
                                            "100 % surge)",
    "pipelines[].steps[].rollout.pre_pull": "first pull the new layers to every host the "
                                            "workload may use",
    "constant.value": "the duration",
    "exponential.mean": "the mean",
    "lognormal.median": "the median (with p95)",
    "lognormal.p95": "the 95th percentile (with median)",
    "lognormal.mean": "the mean (with cv)",
    "lognormal.cv": "coefficient of variation: standard deviation / mean (with mean)",
    "uniform.low": "the lowest value",
    "uniform.high": "the highest value",
    "gamma.mean": "the mean",
    "gamma.cv": "coefficient of variation: standard deviation / mean",
    "empirical.values": "the measured sample; each draw is one of them",
}
HEAD = """\
# Scenario format: every key

<!-- Generated by `{command}` from the scenario schema; do not edit. -->

This file is generated from the scenario format's JSON Schema (what `python -m sim
schema` prints) by [`{command}`](../scripts/scenario_reference.py), and
`tests/test_docs.py` fails when it is out of date: after changing the format, run
`{command}`. A guided tour with examples is [scenarios.md](scenarios.md).

Key paths: `a.b` is key `b` inside `a`, `a[]` an entry of the list `a`, `a.<name>` an
entry of the map `a` under a name you choose. A key that is not **required** may be left
out; its default is shown (*none*: unset). Unknown keys are errors.

<a id="units"></a>

## Units

Quantities are written with their unit; inside, everything is canonical.

| kind | written as | canonical unit |
|---|---|---|"""
DISTRIBUTIONS = """\
<a id="distributions"></a>

## Distributions

Wherever a key's type is *distribution*, write a bare duration (`2s`: always that long)
or a mapping whose `dist` is one of these.
"""
HEADER = "| key | type | default | allowed | description |"
RULE = "|---|---|---|---|---|"


def _rst(text: str) -> str:
    """Docstrings' ``literal`` as Markdown's `literal`."""
    return text.replace("``", "`")


class Renderer:
    def __init__(self) -> None:
        self.schema = schema()
        self.defs = self.schema["$defs"]
        self.models = _models(Scenario)
        self.sections: list[tuple[str, str, str, list[str]]] = []  # anchor, title, text, rows
        self.done: dict[str, str] = {}     # definition -> the anchor it is documented at
        self.dists: dict[str, str] = {}    # dist value -> definition
        self.used: set[str] = set()

    def type_of(self, node: dict[str, Any], path: str, kind: str | None) -> tuple[str, str]:
        """A node's type and allowed values in words; documents the objects it leads to."""
        node, _ = _without_null(node)
        if _is_quantity(node):
            k = KINDS.get(node.get("description", "")) or kind or "quantity"
            return f"[{k}](#units)", _bounds(node)
        options = node.get("anyOf")
        if options and len(options) == 2 and _is_quantity(options[0]) and (
                options[1].get("discriminator") or {}).get("propertyName") == "dist":
            node = options[1]
        discriminator = node.get("discriminator")
        if discriminator and discriminator["propertyName"] == "dist":
            for value, ref in discriminator["mapping"].items():
                self.dists.setdefault(value, ref.rsplit("/", 1)[-1])
            return "[distribution](#distributions)", ""
        if discriminator:
            prop = discriminator["propertyName"]
            links = []
            for value, ref in discriminator["mapping"].items():
                anchor = self.section(ref.rsplit("/", 1)[-1], path, f"{prop}: {value}")
                links.append(f"[`{value}`](#{anchor})")
            return f"object by `{prop}`: " + ", ".join(links), ""
        name = _ref(node)
        if name:
            return f"[object](#{self.section(name, path)})", ""
        if options:
            texts = [self.type_of(o, path, kind) for o in options]
            return " or ".join(t for t, _ in texts), "; ".join(a for _, a in texts if a)
        typ = node.get("type")
        if typ == "array":
            inner, allowed = self.type_of(node.get("items", {}), path + "[]", kind)
            return f"list of {inner}", ", ".join(b for b in (allowed, _bounds(node)) if b)
        if typ == "object":
            extra = node.get("additionalProperties")
            if isinstance(extra, dict) and extra:
                inner, allowed = self.type_of(extra, path + ".<name>", kind)
                return f"map of name → {inner}", allowed
            return "mapping", ""
        if "enum" in node:
            allowed = ", ".join(f"`{v}`" for v in node["enum"])
        elif "const" in node:
            allowed = f"`{node['const']}`"
        elif "pattern" in node:
            pattern = node["pattern"]
            allowed = "a percentage such as `25%`" if "%" in pattern else f"matches `{pattern}`"
        else:
            allowed = _bounds(node)
        return typ or "any", allowed

    def section(self, name: str, path: str, variant: str = "") -> str:
        """Document definition ``name`` at key path ``path`` (once); its anchor."""
        if name in self.done:
            return self.done[name]
        anchor = _anchor(path + (" " + variant if variant else ""))
        self.done[name] = anchor
        title = f"`{path}`" + (f" with `{variant}`" if variant else "")
        self.object_section(anchor, title, path, self.defs[name], self.models.get(name),
                            variant)
        return anchor

    def rows(self, prefix: str, node: dict[str, Any], model: type[BaseModel] | None,
             first: str | None, meaning_prefix: str, variant: str = "") -> list[str]:
        required = set(node.get("required", []))
        keys = list(node.get("properties", {}))
        if first in keys:
            keys.remove(first)
            keys.insert(0, first)
        out = []
        for key in keys:
            prop = node["properties"][key]
            field = model.model_fields.get(key) if model else None
            kinds = _quantity_kinds(field.annotation, field.metadata) if field else set()
            kind = next(iter(kinds)) if len(kinds) == 1 else None
            typ, allowed = self.type_of(prop, prefix + key, kind)
            description = prop.get("description", "")
            if description in KINDS:  # only the unit hint: the type says it
                description = ""
            qualified = f"{meaning_prefix[:-1]}({variant}).{key}"
            for meaning in ((qualified, meaning_prefix + key) if variant else
                            (meaning_prefix + key,)):
                if meaning in MEANINGS:
                    self.used.add(meaning)
                    description = description or MEANINGS[meaning]
                    break
            default = "**required**" if key in required else self.default(prop, field, kind)
            out.append("| " + " | ".join([f"`{prefix}{key}`", typ, default, _cell(allowed),
                                          _cell(_rst(description))]) + " |")
        return out

    def object_section(self, anchor: str, title: str, path: str, node: dict[str, Any],
                       model: type[BaseModel] | None, variant: str = "") -> None:
        index = len(self.sections)
        self.sections.append((anchor, title, "", []))
        prefix = path + "." if path else ""
        first, _, value = variant.partition(": ")
        rows = self.rows(prefix, node, model, first or None, prefix, value)
        self.sections[index] = (anchor, title, _rst(node.get("description", "")), rows)

    def default(self, prop: dict[str, Any], field: Any, kind: str | None) -> str:
        if "default" in prop:
            value = prop["default"]
        elif field is not None and field.default_factory is not None:
            value = field.get_default(call_default_factory=True)
        elif field is not None and field.default is not PydanticUndefined:
            value = field.default
        else:
            return ""
        if isinstance(value, BaseModel) and "dist" not in type(value).model_fields:
            return "each key's default"
        return _cell(_show(value, kind))

    def render(self) -> str:
        self.object_section("key-top-level", "Top level", "", self.schema, Scenario)
        dist_parts = []
        for value, name in sorted(self.dists.items()):
            node = self.defs[name]
            dist_parts += [f'<a id="dist-{value}"></a>', "", f"### `dist: {value}`", ""]
            if node.get("description"):
                dist_parts += [_cell(_rst(node["description"])), ""]
            dist_parts += [HEADER, RULE]
            dist_parts += self.rows("", node, self.models.get(name), "dist", value + ".")
            dist_parts.append("")
        unknown = sorted(set(MEANINGS) - self.used - self.described())
        if unknown:
            raise SystemExit(f"MEANINGS names keys the schema does not have: {unknown}")
        lines = HEAD.format(command=COMMAND).split("\n")
        lines += [f"| {kind} | {hint} | {KIND_UNITS[kind]} |" for hint, kind in KINDS.items()]
        lines += ["", "## Keys", ""]
        for anchor, title, text, rows in self.sections:
            lines += [f'<a id="{anchor}"></a>', "", f"### {title}", ""]
            if text:
                lines += [_cell(text), ""]
            lines += [HEADER, RULE, *rows, ""]
        lines += DISTRIBUTIONS.split("\n")
        lines += dist_parts
        return "\n".join(lines).rstrip() + "\n"

    def described(self) -> set[str]:
        """Every key path the rendered tables hold (MEANINGS may only name these)."""
        found = set()
        for _, _, _, rows in self.sections:
            for row in rows:
                found.add(row.split("`")[1])
        for value, name in self.dists.items():
            found |= {f"{value}.{key}" for key in self.defs[name].get("properties", {})}
        for name, anchor in self.done.items():  # variants: path(value).key
            variant = next((t for a, t, _, _ in self.sections if a == anchor), "")
            if " with `" in variant:
                path = variant.split("`")[1]
                value = variant.split("`")[3].split(": ")[1]
                found |= {f"{path}({value}).{key}" for key in self.defs[name]["properties"]}
        return found


def _show(value: Any, kind: str | None) -> str:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, (int, float)) and kind:
        return f"`{_quantity(value, kind)}`"
    if isinstance(value, (int, float)):
        return f"`{value:g}`" if isinstance(value, float) else f"`{value}`"
    if isinstance(value, str):
        return f"`{value}`" if value else '`""`'
    if isinstance(value, dict) and value.get("dist") == "constant" and len(value) == 2:
        return f"`{_quantity(value['value'], 'duration')}`"
    return f"`{json.dumps(value, separators=(', ', ': '))}`"


def _quantity(value: float, kind: str) -> str:
    if kind == "size":
        return units.format_size(value) if value else "0"
    if kind == "duration":
        return units.format_duration(value)
    if kind == "rate":
        return f"{value:g}/s"
    if kind == "bandwidth":
        return f"{value:g}B/s"
    return f"{value:g}"


def render() -> str:
    """The reference as Markdown."""
    return Renderer().render()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help=f"exit 1 if {TARGET.relative_to(ROOT)} is out of date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET.relative_to(ROOT)} is out of date; run {COMMAND}", file=sys.stderr)
            return 1
        return 0
    TARGET.parent.mkdir(exist_ok=True)
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
