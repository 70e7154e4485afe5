"""A commands script on a host: the lifecycle steps an admin types (``docker pull``, ``run``,
``exec``, ``stop``, ``commit``, ``rm``, ``rmi``, ``push``, or their PowerShell names), one
after another, each through the same roles an instance's start-up uses: the registry's pulls
and extraction, the host's CPU for create and boot (``Startup.work``), its disk for a VM's
template copy and for a commit's new layer, the registry's ingress for a push.

Owns: the script's containers (by name: image, isolation, state, what their execs wrote), the
images its commits make, and the rows it records: one per phase of each step
(``Recorder.commands``: pull, extract, copy, create, boot, exec, stop, commit, push, rm, rmi),
one per change of a container's state (``Recorder.containers``) and one for the script
(``Recorder.scripts``: steps done, start, end). A step the host cannot
take when it comes (no room left beside the workloads' instances) is recorded as failed and
ends the script there, as ``set -e`` would. Must not: check the script (``sim.edge.commands``
did, step by step, before the run) or count its containers among the workloads' instances.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import simpy

from sim.experiment.rng import sampler
from sim.model.placement import fits
from sim.spec.commands import CommitCommand, ContainerCommand, ExecCommand
from sim.spec.demand import instance_demand, layer_chain, new_version
from sim.spec.units import format_size

if TYPE_CHECKING:
    from sim.model.admission import Admission
    from sim.model.counts import Counts
    from sim.model.host import Host
    from sim.model.imagegc import ImageCollector
    from sim.model.placement import CapacityIndex
    from sim.model.registry import Registry
    from sim.model.startup import Startup
    from sim.recorder import Recorder
    from sim.spec.commands import Commands, CommandStep
    from sim.spec.config import Image, ResolvedProfile
    from sim.spec.demand import Demand, Layer

Process = Generator[simpy.Event, Any, str]


class ModelForCommands(Protocol):
    """What a script asks of the model (``sim.model.build.Model`` is one)."""

    env: simpy.Environment
    recorder: Recorder
    images: dict[str, Image]
    index: CapacityIndex
    counts: Counts
    registry: Registry
    collector: ImageCollector
    startup: Startup
    admission: Admission

    def rng(self, name: str) -> Any:
        """The generator of the stream ``name`` in this run."""


@dataclass(eq=False)
class Box:
    """One of the script's containers."""

    name: str
    image: str
    isolation: str
    profile: ResolvedProfile
    need: Demand
    state: str = "created"
    written: float = 0.0  # bytes its execs wrote to its own layer


def _short_of(host: Host, need: Demand, chain: list[Layer]) -> str:
    """What ``host`` lacks for an instance of ``need`` (image ``chain``), in words."""
    disk = need.disk_private + host.missing_bytes(chain)
    short = [(need.memory > host.memory_free + 1e-6,
              f"memory {format_size(need.memory)}, {format_size(max(host.memory_free, 0))} free"),
             (need.vcpu > host.vcpu_free + 1e-9,
              f"{need.vcpu:g} vCPU, {max(host.vcpu_free, 0):g} free"),
             (need.partition > host.partitions_free, "a Hyper-V partition, none free"),
             (disk > host.disk_free + 1e-6,
              f"disk {format_size(disk)}, {format_size(max(host.disk_free, 0))} free")]
    return "it needs " + "; ".join(text for lacking, text in short if lacking)


class Script:
    """A commands script running on one host."""

    def __init__(self, model: ModelForCommands, host: Host, spec: Commands,
                 profiles: dict[str, ResolvedProfile]) -> None:
        self.model = model
        self.env = model.env
        self.host = host
        self.spec = spec
        self.profiles = profiles
        self.boxes: dict[str, Box] = {}
        self._row: dict[str, Any] = {}  # the step in progress: its row's common columns

    def start(self) -> None:
        """Start the script."""
        self.env.process(self._script())

    def _script(self) -> Generator[simpy.Event, Any, None]:
        env = self.env
        record = {"host": self.host.name, "steps": len(self.spec.steps), "done": 0,
                  "start": env.now, "end": math.nan, "error": ""}
        self.model.recorder.scripts.append(record)
        for i, step in enumerate(self.spec.steps):
            if step.at is not None and step.at > env.now:
                yield env.timeout(step.at - env.now)
            isolation = self.spec.isolation_of(step) if isinstance(step.args, ContainerCommand) \
                else self._isolation_of(step)
            self._row = {"host": self.host.name, "step": i, "command": step.written,
                         "action": step.action, "text": step.text(isolation),
                         "container": step.container(), "image": step.image(),
                         "isolation": isolation}
            outcome = getattr(self, "_" + step.action)(i, step)  # text, or a process
            error = outcome if isinstance(outcome, str) else (yield from outcome)
            if error:
                self._phase("failed", env.now, error=error)
                record["error"] = f"step {i} ({step.text(self._row['isolation'])}): {error}"
                return
            record["done"] = i + 1
        record["end"] = env.now

    def _isolation_of(self, step: CommandStep) -> str:
        """The isolation of the container a step acts on ('' for an image command)."""
        box = self.boxes.get(step.container())
        return box.isolation if box is not None else ""

    # --- records ------------------------------------------------------------------------

    def _phase(self, phase: str, start: float, moved: float = 0.0, error: str = "") -> None:
        """The step in progress spent ``start``..now in ``phase``, moving ``moved`` bytes."""
        self.model.recorder.commands.append({**self._row, "phase": phase, "start": start,
                                             "end": self.env.now, "bytes": moved,
                                             "error": error})

    def _state(self, box: Box, state: str) -> None:
        box.state = state
        self.model.recorder.containers.append({
            "time": self.env.now, "host": self.host.name, "container": box.name,
            "image": box.image, "isolation": box.isolation, "state": state})

    def _draw(self, step: int, phase: str, dist: Any) -> float:
        """A draw for ``phase`` of step ``step``, from a stream of its own (the same in each
        compared mode: common random numbers)."""
        name = f"commands/{self.host.name}/{step}/{phase}"
        return float(sampler(dist, self.model.rng(name))())

    # --- images -------------------------------------------------------------------------

    def _fetch(self, image: str, chain: list[Layer], unpack: bool) -> Process:
        """Bring ``image`` to the host: pull (download) then extract (a VM's template: write)
        the layers it lacks."""
        model, host, env = self.model, self.host, self.env
        missing = [layer for layer in chain if layer.key not in host.layers]
        lost = [layer.key for layer in missing if layer.key not in model.registry.layers
                and layer.key not in host.fetching]
        if lost:  # made here, never pushed, and removed since (image garbage collection)
            return (f"{image!r}: layer {lost[0]} is neither on {host.name} (removed by image "
                    "garbage collection?) nor in the registry (never pushed)")
        host.claim(chain)
        model.collector.present(host, image, chain)
        model.index.update(host)
        start = env.now
        if not missing:
            self._phase("pull", start)  # already there
            return ""
        fetches = model.registry.pull(host, missing, unpack=unpack)
        yield env.all_of([f.downloaded for f in fetches])
        self._phase("pull", start, sum(layer.download for layer in missing))
        start = env.now
        yield env.all_of([f.ready for f in fetches])
        self._phase("extract" if unpack else "write", start, sum(layer.size for layer in missing))
        return ""

    def _pull(self, i: int, step: CommandStep) -> Process:
        chain = layer_chain(self.model.images, step.pull or "")
        return (yield from self._fetch(step.pull or "", chain, unpack=True))

    def _push(self, i: int, step: CommandStep) -> Process:
        model, start = self.model, self.env.now
        chain = layer_chain(model.images, step.push or "")
        moved = sum(layer.download for layer in chain if layer.key not in model.registry.layers)
        done = model.registry.push(self.host, chain)
        if done is not None:
            yield done
        self._phase("push", start, moved)
        return ""

    def _rmi(self, i: int, step: CommandStep) -> str:
        refused = self.model.collector.refusal(self.host, step.rmi or "")
        if refused:  # as docker rmi refuses (the checks saw only the script's own)
            return f"cannot remove {step.rmi!r} from {self.host.name}: {refused}"
        freed = self.model.collector.remove(self.host, step.rmi or "")
        self._phase("rmi", self.env.now, freed)
        return ""

    # --- containers ---------------------------------------------------------------------

    def _create(self, i: int, step: CommandStep, run: bool = False) -> Process:
        model, host, env = self.model, self.host, self.env
        args = step.args
        assert isinstance(args, ContainerCommand)
        isolation = self.spec.isolation_of(step)
        profile = self.profiles[isolation]
        chain = layer_chain(model.images, args.image)
        need = instance_demand(args.image, args.cpus, args.memory, profile, model.images)
        if not fits(need, host.memory_free, host.vcpu_free, host.partitions_free,
                    host.disk_free, host.missing_bytes(chain)):
            return f"no room on {host.name} for {args.name!r}: " + _short_of(host, need, chain)
        host.allocate(need, chain)
        model.collector.placed(host, args.image, chain)
        model.index.update(host)
        box = self.boxes[args.name] = Box(args.name, args.image, isolation, profile, need)
        error = yield from self._fetch(args.image, chain, unpack=profile.disk_image != "copy")
        if error:  # nothing to start: what it held goes back
            del self.boxes[args.name]
            host.release(need)
            model.collector.released(host, args.image)
            model.index.update(host)
            return error
        if profile.disk_image == "copy":  # a VM: its template copied to a disk of its own
            start = env.now
            yield host.disk_io.run(need.image_bytes)
            self._phase("copy", start, need.image_bytes)
        start = env.now
        create_s = self._draw(i, "create", profile.create)
        create_s += profile.create_per_running * model.counts.host_running[host.index]
        yield model.startup.work(host, profile, create_s)
        self._phase("create", start)
        self._state(box, "created")
        if run:
            yield from self._boot(i, box)
        return ""

    def _run(self, i: int, step: CommandStep) -> Process:
        return (yield from self._create(i, step, run=True))

    def _boot(self, i: int, box: Box) -> Process:
        start = self.env.now
        yield self.model.startup.work(self.host, box.profile,
                                      self._draw(i, "boot", box.profile.boot))
        self._phase("boot", start)
        self._state(box, "running")
        return ""

    def _start(self, i: int, step: CommandStep) -> Process:
        return (yield from self._boot(i, self.boxes[step.start or ""]))

    def _exec(self, i: int, step: CommandStep) -> Process:
        args = step.args
        assert isinstance(args, ExecCommand)
        box, start = self.boxes[args.container], self.env.now
        yield self.env.timeout(self._draw(i, "exec", args.duration))
        box.written += args.writes
        self._phase("exec", start, args.writes)
        return ""

    def _stop(self, i: int, step: CommandStep) -> Process:
        box, start = self.boxes[step.stop or ""], self.env.now
        yield self.env.timeout(self._draw(i, "stop", box.profile.stop))
        self._phase("stop", start)
        self._state(box, "exited")
        return ""

    def _commit(self, i: int, step: CommandStep) -> Process:
        """The container's changes become a new image: written at the disk's rate (a whole
        template where versions are templates), then the profile's commit cost; a running one
        is paused meanwhile (the checks refused it where the profile does)."""
        model, host, env = self.model, self.host, self.env
        args = step.args
        assert isinstance(args, CommitCommand)
        box = self.boxes[args.container]
        rule = box.profile.image_commit
        layer = box.written if args.layer is None else args.layer
        image = new_version(model.images, args.image, box.image, layer,
                            box.profile.new_version == "template")
        chain = layer_chain({**model.images, image.name: image}, image.name)
        new = [part for part in chain if part.key not in host.layers]
        paused = box.state == "running"
        if paused:
            self._state(box, "paused")
        host.claim(chain)
        start = env.now
        written = sum(part.size for part in new)
        yield host.disk_io.run(written)
        yield env.timeout(rule.cost)
        model.images[image.name] = image
        for part in new:
            host.layers.add(part.key)
            model.recorder.layer(env.now, host.index, part.key, True)
        model.collector.present(host, image.name, chain)
        model.index.update(host)
        self._phase("commit", start, written)
        if paused:
            self._state(box, "running")
        return ""

    def _rm(self, i: int, step: CommandStep) -> str:
        model, host = self.model, self.host
        box = self.boxes.pop(step.rm or "")
        host.release(box.need)
        model.collector.released(host, box.image)
        model.index.update(host)
        if model.admission.queue:  # its room may take a waiting request
            model.admission.drain()
        self._phase("rm", self.env.now)
        self._state(box, "removed")
        return ""
