"""Checks of a ``commands:`` script against its scenario, step by step, before anything runs.

A script's steps run in order, so the state each step meets (which containers exist and run,
which images the host holds, which the registry has) is known from the steps before it: a
``commit`` of an unknown container, an ``rmi`` of an image a container uses or a ``run`` of an
image that does not exist is found here, with its place, as Docker would refuse it. The rules
that depend on the isolation mode (a running container's commit, Hyper-V, the OS build) are
checked under each mode the scenario compares.

Owns: those rules. Must not: read files, format positions (``sim.edge.loader``) or run the
script (``sim.model.commands``).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from sim.spec.commands import Commands, CommandStep, CommitCommand, ContainerCommand
from sim.spec.config import HostGroup, Image, ResolvedProfile, host_name
from sim.spec.demand import Demand, instance_demand, layer_chain, new_version, why_not
from sim.spec.units import format_size

Path = tuple[Any, ...]


@dataclass
class _Box:
    """A container as the script has left it so far."""

    image: str
    running: bool
    isolation: str
    need: Demand


@dataclass
class _State:
    """What a step meets on the host: containers, the images held, the registry's, all
    images known (committed ones included)."""

    images: dict[str, Image]
    held: set[str]
    registry: set[str]
    boxes: dict[str, _Box] = field(default_factory=dict)


def host_names(groups: list[HostGroup]) -> list[str]:
    """Every host's name, as the model and the results call it (``standard-01``)."""
    return [host_name(g.group, k) for g in groups for k in range(g.count)]


def script_group(commands: Commands, groups: list[HostGroup]) -> HostGroup | None:
    """The host group the script runs on (None: an unknown host or group)."""
    if commands.group is not None:
        return next((g for g in groups if g.group == commands.group), None)
    if commands.host is None:  # the first group that carries no container-host VMs
        carriers = {g.virtual.physical_group for g in groups if g.virtual is not None}
        return next((g for g in groups if g.group not in carriers), None)
    for g in groups:
        if any(host_name(g.group, k) == commands.host for k in range(g.count)):
            return g
    return None


def check_commands(data: dict[str, Any], groups: list[HostGroup], images: dict[str, Image],
                   profiles: dict[str, ResolvedProfile], modes: list[str] | None,
                   faults: bool, built: list[str] | None = None,
                   pulled: set[str] | None = None) -> list[tuple[Path, str]]:
    """Problems of the scenario's ``commands`` section; ``modes``: the isolation values
    ``compare`` sets (None: the script's own); ``faults``: the scenario injects faults;
    ``built``: the prefixes of the images pipelines make (``<image>-v``), which a commit may
    not take; ``pulled``: the images the workloads run, which may be on the host (the run
    judges an ``rmi`` of one: refused while instances use it)."""
    raw = data.get("commands")
    if raw is None:
        return []
    try:
        commands = Commands.model_validate(raw)
    except ValidationError:
        return []  # the schema's errors are reported already
    where: Path = ("commands",)
    if faults:
        return [(where, "a commands script cannot run beside injected faults (a script does "
                        "not survive its host going down in this model); drop faults: or "
                        "run the script in a scenario of its own")]
    group = script_group(commands, groups)
    if group is None:
        if not groups:
            return []
        if commands.group is not None:
            known = [g.group for g in groups]
            return [(where + ("group",), f"unknown host group {commands.group!r}"
                     + _hint(commands.group, known))]
        names = host_names(groups)
        return [(where + ("host",), f"unknown host {commands.host!r}"
                 + _hint(str(commands.host), names[:20]))]
    if group.virtual is None and any(g.virtual is not None and
                                     g.virtual.physical_group == group.group for g in groups):
        return [(where, f"host group {group.group!r} carries container-host VMs; run the "
                        "script on the VMs' group")]
    steps: Path = ("commands",) if isinstance(raw, list) else ("commands", "steps")
    every = modes or [commands.isolation]
    held = set(group.preloaded_images) | (pulled or set())
    found = {mode: _walk(commands.model_copy(update={"isolation": mode}), steps, group, images,
                         profiles, built or [], held) for mode in every}
    problems: list[tuple[Path, str]] = []
    for mode in every:  # a problem under some compared modes only says under which
        for problem in found[mode]:
            shared = all(problem in found[other] for other in every)
            said = problem if shared else (problem[0], f"{problem[1]} (under {mode} isolation, "
                                                       "a compared variant)")
            if said not in problems:
                problems.append(said)
    return problems


def _hint(name: str, known: list[str]) -> str:
    near = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f"; did you mean {near[0]!r}?" if near else f"; known: {', '.join(sorted(known))}"


def _walk(commands: Commands, steps: Path, group: HostGroup, images: dict[str, Image],
          profiles: dict[str, ResolvedProfile], built: list[str], held: set[str]
          ) -> list[tuple[Path, str]]:
    """The script's steps (at ``steps`` in the file) in order under its isolation, each
    against the state the steps before it left (``held``: the images the host may hold at
    the start); a step that fails leaves the state as it was."""
    state = _State(images=dict(images), held=set(held), registry=set(images))
    problems: list[tuple[Path, str]] = []
    previous_at = 0.0
    for i, step in enumerate(commands.steps):
        at: Path = (*steps, i)
        if step.at is not None and step.at < previous_at:
            problems.append((at + ("at",), f"at {step.at:g} s is before the step before it "
                                           f"({previous_at:g} s): steps run in order"))
        previous_at = step.at if step.at is not None else previous_at
        message = _step(step, commands, group, state, profiles)
        made = step.image() if step.action == "commit" else ""
        clash = next((prefix for prefix in built if made.startswith(prefix)
                      and made[len(prefix):].isdigit()), None)
        if not message and clash:
            message = (f"image {made!r} is a name a pipeline gives its builds ({clash}<run>): "
                       "give the commit a name of its own")
        if message:
            problems.append((at + (step.written,), message))
            _assume(step, state)  # one mistake is said once, not again at every later step
    return problems


NOTHING = Demand(memory=0.0, vcpu=0.0, disk_private=0.0, partition=0, image_bytes=0.0,
                 requires_hyperv=False, os_build=None)


def _assume(step: CommandStep, state: _State) -> None:
    """What a step that was refused would have left, as far as the steps after it can tell:
    its container, its image, its state (so that they are judged on their own)."""
    args, action = step.args, step.action
    if isinstance(args, ContainerCommand):
        state.boxes.setdefault(args.name, _Box(args.image if args.image in state.images else "",
                                               running=action == "run", isolation="",
                                               need=NOTHING))
    elif isinstance(args, CommitCommand):
        state.images.setdefault(args.image, Image(name=args.image, layers=[0.0]))
        state.held.add(args.image)
    elif action in ("start", "stop") and step.container() in state.boxes:
        state.boxes[step.container()].running = action == "start"
    elif action == "rm":
        state.boxes.pop(step.container(), None)
    elif action == "pull" and args in state.images:
        state.held.add(args)


def _step(step: CommandStep, commands: Commands, group: HostGroup, state: _State,
          profiles: dict[str, ResolvedProfile]) -> str:
    """What is wrong with ``step`` in ``state`` ('' if nothing), updating ``state``."""
    action = step.action
    args = step.args
    if isinstance(args, ContainerCommand):
        return _container(args, commands.isolation_of(step), group, state, profiles,
                          run=action == "run")
    if action == "pull":
        if args not in state.images:
            return f"no such image {args!r} in the registry" + _hint(args, list(state.images))
        if args not in state.registry:
            return f"image {args!r} is not in the registry: push it first"
        state.held.add(args)
        return ""
    if action in ("rmi", "push"):
        return _image_command(action, args, state)
    name = step.container()
    box = state.boxes.get(name)
    if box is None:
        return f"no such container {name!r}" + (_hint(name, list(state.boxes))
                                                if state.boxes else " (run or create it first)")
    if action == "start":
        if box.running:
            return f"container {name!r} is already running"
        box.running = True
    elif action in ("exec", "stop") and not box.running:
        return f"container {name!r} is not running" + (" (start it first)" if action == "exec"
                                                       else "")
    elif action == "stop":
        box.running = False
    elif action == "rm":
        if box.running:
            return f"container {name!r} is running: stop it first (docker rm refuses)"
        del state.boxes[name]
    elif action == "commit":
        return _commit(step, box, state, profiles)
    return ""


def _container(args: ContainerCommand, isolation: str, group: HostGroup, state: _State,
               profiles: dict[str, ResolvedProfile], run: bool) -> str:
    """A create or run step (``run``: started too)."""
    if args.name in state.boxes:
        return f"the container name {args.name!r} is already in use (rm it first)"
    if isolation not in profiles:
        return f"unknown isolation {isolation!r}" + _hint(isolation, list(profiles))
    if args.image not in state.images:
        return f"no such image {args.image!r}" + _hint(args.image, list(state.images))
    if args.image not in state.held and args.image not in state.registry:
        return f"image {args.image!r} is neither on the host nor in the registry"
    need = instance_demand(args.image, args.cpus, args.memory, profiles[isolation],
                           state.images)
    reasons = why_not(group, need)
    if reasons:
        return (f"{args.image!r} cannot run under {isolation} isolation on a host of group "
                f"{group.group!r}: {', '.join(reasons)}")
    held = [box.need for box in state.boxes.values()]  # created, running or stopped: held
    short = _beside(group, need, held)
    if short:
        names = ", ".join(sorted(state.boxes))
        return (f"no room for {args.name!r} beside the script's other containers ({names}: "
                f"a stopped one keeps its memory until rm): {short}")
    state.held.add(args.image)
    state.boxes[args.name] = _Box(args.image, running=run, isolation=isolation, need=need)
    return ""


def _beside(group: HostGroup, need: Demand, held: list[Demand]) -> str:
    """What a host of ``group`` lacks for ``need`` beside the containers holding ``held``
    ('' if nothing; workloads, which come and go, are the run's to judge)."""
    memory = group.memory - group.reserved_memory - sum(h.memory for h in held)
    vcpu = group.cpu_cores * group.cpu_overcommit - sum(h.vcpu for h in held)
    partitions = group.max_partitions - sum(h.partition for h in held)
    short = [(need.memory > memory + 1e-6,
              f"memory {format_size(need.memory)}, {format_size(max(memory, 0.0))} left"),
             (need.vcpu > vcpu + 1e-9, f"{need.vcpu:g} vCPU, {max(vcpu, 0.0):g} left"),
             (need.partition > partitions, "a Hyper-V partition, none left")]
    return "; ".join(text for lacking, text in short if lacking)


def _commit(step: CommandStep, box: _Box, state: _State,
            profiles: dict[str, ResolvedProfile]) -> str:
    args = step.args
    if box.isolation not in profiles or box.image not in state.images:  # made by a refused
        state.images.setdefault(args.image, Image(name=args.image, layers=[0.0]))  # step
        state.held.add(args.image)
        return ""
    profile = profiles[box.isolation]
    if box.running and profile.image_commit.running == "refuse":
        return (f"container {args.container!r} is running and {box.isolation} isolation "
                "refuses to commit a running container ('windows does not support commit of "
                "a running container'): stop it first")
    if args.image in state.images:
        return f"image {args.image!r} exists already: give the new image a name of its own"
    state.images[args.image] = new_version(state.images, args.image, box.image, 0.0,
                                           profile.new_version == "template")
    state.held.add(args.image)
    return ""


def _image_command(action: str, name: str, state: _State) -> str:
    """An rmi or push step."""
    if name not in state.images:
        return f"no such image {name!r}" + _hint(name, list(state.images))
    if name not in state.held:
        return f"image {name!r} is not on the host"
    if action == "push":
        state.registry.add(name)
        return ""
    users = sorted(n for n, b in state.boxes.items() if b.image == name)
    if users:
        return (f"image {name!r} is used by container {users[0]!r}: rm the container first "
                "(docker rmi refuses)")
    keys = {layer.key for layer in layer_chain(state.images, name)}
    children = sorted(other for other in state.held if other != name
                      and keys < {layer.key for layer in layer_chain(state.images, other)})
    if children:
        return f"image {name!r} has dependent child image {children[0]!r}: rmi it first"
    state.held.discard(name)
    return ""
