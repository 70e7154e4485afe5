"""Image pipelines: build (run a container, install, stop, commit a layer), test, push to the
registry, and roll a workload out to the new image version.

Owns: a pipeline's runs (triggered at a time, on a schedule or by a stream of commits; one run
at a time per pipeline), the new image versions they make, and the rollout strategies (rolling
with max surge / max unavailable, blue-green, optional pre-pull). Under a profile whose
``new_version`` is ``template`` (VMs) a version is a whole new template instead of one layer on
the old base. Must not: read files or compute statistics; it drives the model through its roles'
public methods (``Arrivals.submit``, ``Registry.pull``), retires requests (``retire``)
and records facts.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, Protocol

import simpy

from sim.experiment.rng import sampler, sampler_exponential
from sim.model.lifecycle import RETIRE, Draws
from sim.model.workload import WorkloadRuntime, as_slice
from sim.spec import builds
from sim.spec.config import Image, Pipeline, RolloutStep
from sim.spec.demand import demand, layer_chain, new_version, os_build, why_not
from sim.spec.values import count_of

if TYPE_CHECKING:
    from sim.model.arrivals import Arrivals
    from sim.model.host import Host
    from sim.model.imagegc import ImageCollector
    from sim.model.placement import CapacityIndex
    from sim.model.registry import Registry
    from sim.model.roster import Live, Roster
    from sim.recorder import Recorder
    from sim.spec.config import Scenario

Process = Generator[simpy.Event, Any, None]


class ModelForPipelines(Protocol):
    """What a pipeline asks of the model (``sim.model.build.Model`` is one): the handle a
    ``PipelineRunner`` is given, so this module need not import the wiring (which starts the
    pipelines)."""

    env: simpy.Environment
    scenario: Scenario
    recorder: Recorder
    hosts: list[Host]
    index: CapacityIndex
    images: dict[str, Image]
    workloads: list[WorkloadRuntime]
    registry: Registry
    roster: Roster
    collector: ImageCollector

    def rng(self, name: str) -> Any:
        """The generator of the stream ``name`` in this run."""


class PipelineRunner:
    """The runs of one pipeline on a model."""

    def __init__(self, model: ModelForPipelines, arrivals: Arrivals, spec: Pipeline) -> None:
        """``arrivals``: makes the requests of tests and rollouts."""
        self.model = model
        self.arrivals = arrivals
        self.env = model.env
        self.spec = spec
        group = spec.host_group or model.scenario.hosts[0].group
        self.hosts = [h for h in model.hosts if h.spec.group == group]
        self.lock = simpy.Resource(self.env, 1)
        rollouts = [s.rollout for s in spec.steps if s.rollout is not None]
        self.workload = model.roster.current[rollouts[0].workload] if rollouts else None
        template = model.workloads[0] if self.workload is None else self.workload
        profile = self.profile = template.profile
        rng = model.rng
        name = spec.name
        self.draw_create = sampler(profile.create, rng(f"pipeline/{name}/create"))
        self.draw_boot = sampler(profile.boot, rng(f"pipeline/{name}/boot"))
        self.draw_stop = sampler(profile.stop, rng(f"pipeline/{name}/stop"))
        self.draw_install = {i: sampler(s.build.install, rng(f"pipeline/{name}/install/{i}"))
                             for i, s in enumerate(spec.steps) if s.build is not None}
        self.runs = 0
        # replacements and test instances draw from streams of their own
        tag = f"pipeline/{name}/{template.spec.name}"
        self.draw_app = sampler(template.spec.app_start, rng(f"{tag}/app_start"))
        self.draw_new_create = sampler(profile.create, rng(f"{tag}/create"))
        self.draw_new_boot = sampler(profile.boot, rng(f"{tag}/boot"))
        self.draw_new_stop = sampler(profile.stop, rng(f"{tag}/stop"))
        rate = template.spec.kernel_fault_rate
        self.draw_new_fault = (sampler_exponential(rng(f"{tag}/kernel_faults"), 1.0 / rate)
                               if rate > 0 else None)

    def _draws(self, lifetime_s: float | None) -> Draws:
        """A replacement's (or test instance's) draws."""

        fault = self.draw_new_fault() if self.draw_new_fault else math.inf
        return Draws(self.draw_app(), lifetime_s, self.draw_new_create(),
                     self.draw_new_boot(), self.draw_new_stop(), fault)

    # --- triggers -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the trigger process."""
        self.env.process(self._triggers())

    def _triggers(self) -> Process:
        trigger = self.spec.trigger
        duration = self.model.scenario.duration
        t = trigger.at
        gen = self.model.rng(f"pipeline/{self.spec.name}/commits")
        if trigger.commits is not None:
            t += float(gen.exponential(1.0 / trigger.commits))
        while t < duration:
            if t > self.env.now:
                yield self.env.timeout(t - self.env.now)
            self.env.process(self._run(self.env.now))
            if trigger.every is not None:
                t += trigger.every
            elif trigger.commits is not None:
                t += float(gen.exponential(1.0 / trigger.commits))
            else:
                return

    # --- one run ------------------------------------------------------------------------

    def _run(self, triggered: float) -> Process:
        with self.lock.request() as turn:
            yield turn
            self.runs += 1
            run = self.runs
            row: dict[str, Any] = {"pipeline": self.spec.name, "run": run,
                                   "triggered": triggered, "started": self.env.now}
            self.model.recorder.pipeline_runs.append(row)
            host = self.hosts[(run - 1) % len(self.hosts)]
            image: Image | None = None
            for i, step in enumerate(self.spec.steps):
                if step.build is not None:
                    row["build_start"] = self.env.now
                    while True:  # a crash of the build host starts the build over
                        host = yield from self._build_host(run, step.build.base)
                        image = yield from self._build(i, host, run)
                        if image is not None:
                            break
                    row["image"] = image.name
                    row["build_end"] = self.env.now
                elif step.push is not None:
                    row["push_start"] = self.env.now
                    yield from self._push(host, image)
                    row["push_end"] = self.env.now
                elif step.test is not None:
                    row["test_start"] = self.env.now
                    yield from self._test(step.test, image)
                    row["test_end"] = self.env.now
                elif step.rollout is not None:
                    yield from self._rollout(step.rollout, image, row)
            row["finished"] = self.env.now

    def _build_host(self, run: int, base: str) -> Generator[simpy.Event, Any, Any]:
        """The build host of run ``run``: round robin over the group's hosts that are up and
        run ``base``'s OS build under the pipeline's profile (waiting for one to come back,
        perhaps upgraded, if none is)."""
        profile = self.profile
        build = os_build(self.model.images, base) if profile.build_rule != "any" else None
        while True:
            for k in range(len(self.hosts)):
                host = self.hosts[(run - 1 + k) % len(self.hosts)]
                if (host.available and not host.cordons  # not drained for maintenance
                        and builds.runs(profile.build_rule, build, host.os_build)):
                    return host
            yield self.env.any_of([h.back for h in self.hosts])

    def _survive(self, host: Any, event: simpy.Event) -> Generator[simpy.Event, Any, bool]:
        """Wait for ``event`` unless ``host`` crashes first; whether it completed."""
        crashed = host.crashed
        yield event | crashed
        return event.triggered and not crashed.triggered

    def _build(self, step: int, host: Any, run: int
               ) -> Generator[simpy.Event, Any, Image | None]:
        """Run a container from the base image on the build host, install, stop, commit.
        None if the host crashed meanwhile."""
        spec = self.spec.steps[step].build
        assert spec is not None
        model = self.model
        env = self.env
        chain = layer_chain(model.images, spec.base)
        host.claim(chain)
        model.collector.placed(host, spec.base, chain)  # in use while the build runs
        model.index.update(host)
        try:
            fetches = model.registry.pull(host, [layer for layer in chain
                                                 if layer.key not in host.layers],
                                          unpack=not self._templates())
            if fetches and not (yield from self._survive(
                    host, env.all_of([f.ready for f in fetches]))):
                return None
            for delay in (self.draw_create() + self.draw_boot(), self.draw_install[step](),
                          self.draw_stop(), spec.commit):
                if not (yield from self._survive(host, env.timeout(delay))):
                    return None
            if not (yield from self._survive(host, host.disk_io.run(spec.layer))):  # commit
                return None
        finally:
            model.collector.released(host, spec.base)
        name = f"{self.spec.image or self.spec.name}-v{run}"
        image = new_version(model.images, name, spec.base, spec.layer, self._templates())
        model.images[name] = image
        new_chain = layer_chain(model.images, name)
        host.claim(new_chain)  # written here: the build host holds the new image
        for layer in new_chain:
            if layer.key not in host.layers:
                host.layers.add(layer.key)
                model.recorder.layer(env.now, host.index, layer.key, True)
        model.collector.present(host, name, new_chain)
        model.index.update(host)
        return image

    def _templates(self) -> bool:
        """Whether this pipeline's versions are VM templates (copied, not unpacked)."""
        return self.workload is not None and self.workload.profile.new_version == "template"

    def _push(self, host: Any, image: Image | None) -> Process:
        """Upload the image's layers the registry lacks, at most the build host's NIC each."""
        if image is None:
            return
        model = self.model
        done = model.registry.push(host, layer_chain(model.images, image.name))
        if done is not None:
            yield done

    def _test(self, spec: Any, image: Image | None) -> Process:
        """A fixed time, or ``instances`` of the new image run for ``run`` on the build
        group (recorded with origin ``test``)."""
        if spec.duration is not None:
            yield self.env.timeout(spec.duration)
            return
        base = self.workload or self.model.workloads[0]
        version = self._version(base, image.name if image else base.chain_key)
        ids = [h.index for h in self.hosts if not why_not(h.spec, version.need)]
        tester = dataclasses.replace(version, host_ids=as_slice(ids))
        ended = [self.arrivals.submit(tester, self._draws(spec.run), origin="test").finished()
                 for _ in range(spec.instances)]
        yield self.env.all_of(ended)

    # --- rollout ------------------------------------------------------------------------

    def _version(self, wl: WorkloadRuntime, image: str) -> WorkloadRuntime:
        """``wl`` running ``image`` instead (same draws, hosts and profile)."""
        model = self.model
        spec = wl.spec.model_copy(update={"image": image})
        return dataclasses.replace(
            wl, spec=spec, need=demand(spec, wl.profile, model.images),
            chain=layer_chain(model.images, image), chain_key=image)

    def _pre_pull(self, new: WorkloadRuntime) -> Process:
        """Pull ``new``'s layers onto every host that is up, at once; one that crashes is
        skipped."""
        model = self.model
        env = self.env
        waits = []
        for h in _hosts(model, new):
            if not h.available:
                continue
            h.claim(new.chain)
            model.collector.present(h, new.chain_key, new.chain)
            model.index.update(h)
            missing = [layer for layer in new.chain if layer.key not in h.layers]
            ready = [fetch.ready for fetch in model.registry.pull(
                h, missing, unpack=new.profile.disk_image != "copy")]
            if ready:
                waits.append(env.all_of(ready) | h.crashed)
        if waits:
            yield env.all_of(waits)

    def _rollout(self, step: RolloutStep, image: Image | None, row: dict[str, Any]
                 ) -> Process:
        model = self.model
        env = self.env
        name = step.workload
        old = model.roster.current[name]
        new = self._version(old, image.name if image else old.chain_key)
        row["workload"] = name
        row["rollout_start"] = env.now
        row["bytes_before"] = model.registry.bytes_downloaded
        if step.pre_pull:
            yield from self._pre_pull(new)
        row["switch"] = env.now
        model.roster.current[name] = new
        live = model.roster.live[name]
        first = [e for e in live.values() if e.wl.chain_key != new.chain_key]
        total = len(first)
        if step.strategy == "blue-green":
            surge, unavailable = total, 0
        else:
            surge = count_of(step.max_surge, total)
            unavailable = count_of(step.max_unavailable, total)
        row["replaced"] = 0
        while True:
            # old-version requests waiting for a host are unavailable anyway: each is
            # replaced at once (as Kubernetes deletes pending pods of the old version first),
            # so none blocks the queue ahead of the new version (an image no host runs any
            # more, after an OS upgrade, would wait for ever)
            for entry in [e for e in live.values() if e.wl.chain_key != new.chain_key
                          and not e.retiring and e.rec.host < 0 and not e.rec.rejected]:
                retire(model.hosts, entry)
                self.arrivals.submit(new, self._draws(self._left(entry)), origin="rollout")
                row["replaced"] += 1
            old_ones = sorted((e for e in live.values() if e.wl.chain_key != new.chain_key
                               and not e.retiring and not math.isnan(e.rec.placed)
                               and math.isnan(e.rec.stopping)
                               and math.isnan(e.rec.disrupted)),
                              key=lambda e: e.rec.request)
            if not old_ones:
                if any(e.wl.chain_key != new.chain_key and not e.retiring
                       for e in live.values()):
                    yield env.timeout(1.0)  # old-version requests still queued: wait for them
                    continue
                break
            batch = old_ones[:max(1, min(surge + unavailable, len(old_ones)))]
            down_now = min(unavailable, len(batch))
            for entry in batch[:down_now]:  # first down (their capacity frees first) ...
                retire(model.hosts, entry)
            started = []
            for entry in batch:  # ... then their replacements and the surge
                running = env.event()
                self.arrivals.submit(new, self._draws(self._left(entry)), origin="rollout",
                               on_running=running)
                started.append(running)
            yield env.all_of(started)
            if not all(event.value for event in started):  # a replacement never ran
                row["failed"] = True  # (rejected, or taken down while starting): stop here
                break
            for entry in batch[down_now:]:
                if entry.request.is_alive:
                    retire(model.hosts, entry)
            row["replaced"] += len(batch)
        row["bytes_pulled"] = model.registry.bytes_downloaded - row.pop("bytes_before")
        if not row.get("failed"):
            row["rollout_end"] = env.now

    def _left(self, entry: Live) -> float | None:
        """The running time a replacement inherits from the instance it replaces: the rest
        of its lifetime (what it has left while running, or between attempts)."""
        if entry.lifetime_s is None:
            return None
        if not math.isnan(entry.stop_at):
            return max(0.0, entry.stop_at - self.env.now)
        return entry.remaining if entry.remaining is not None else entry.lifetime_s


def _hosts(model: ModelForPipelines, wl: WorkloadRuntime) -> list[Any]:
    ids = wl.host_ids
    if isinstance(ids, slice):
        return model.hosts[ids]
    return [model.hosts[int(i)] for i in ids]


def retire(hosts: list[Host], live: Live) -> None:
    """Stop a live instance for good (a rollout replaced it): it stops as it would at the
    end of its lifetime; one still starting is dropped; one waiting for a host leaves the
    queue now (as Kubernetes deletes a pending pod); one waiting to restart ends when its
    wait does."""
    live.retiring = True
    rec = live.rec
    if not live.request.is_alive:
        return
    on_host = rec.host >= 0 and math.isnan(rec.removed) and math.isnan(rec.disrupted)
    queued = rec.host < 0 and not rec.rejected
    if queued or (on_host and rec.id in hosts[rec.host].residents):
        live.request.interrupt(RETIRE)
