"""Running many specs: in this process, on local worker processes, or on a Dask cluster,
skipping runs the store already holds.

Owns: choosing the executor, progress, and storing each run as it completes. Results do not
depend on where a run ran: every run is independent and seeded by its own spec, and results
are returned in spec order. Must not: compute statistics or write result files.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import dataclasses
import functools
import math
import multiprocessing
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Self

from sim.errors import ClusterError
from sim.experiment.expand import RunSpec
from sim.run.collect import collect
from sim.run.execute import run
from sim.run.results import RunOutput, with_parameters
from sim.run.store import Store
from sim.run.tables import FORMATS, rows_text


def execute(spec: RunSpec, key: str | None = None) -> RunOutput:
    """Run one spec and collect its results (the function workers call). ``key`` is the
    run's key as the caller computed it, so that a worker with other code files on its disk
    cannot file the result under another name."""
    return collect(run(spec), key)


def execute_aside(spec: RunSpec, key: str | None = None) -> RunOutput:
    """``execute`` for a batch shared with a pool: its tables' rows are also formatted as CSV
    where it ran, beside the other runs, rather than all in this process after the last
    (``sim.run.tables.write_parts``)."""
    out = execute(spec, key)
    out.csv = {table: rows_text(with_parameters(getattr(out, table), out), FORMATS[table])
               for table in FORMATS}
    return out


def execute_stored(spec: RunSpec, key: str, root: Path) -> RunOutput:
    """``execute`` for a caller that reads back only a run's metrics (a planner's probes): the
    run is stored where it ran, in the store at ``root``, and comes back without its tables
    (which would otherwise cross to the caller's process only to be written there)."""
    out = execute(spec, key)
    Store(root).save(out)
    return dataclasses.replace(out, instances=out.instances.head(0),
                               timeseries=out.timeseries.head(0))


@dataclass
class Plan:
    """Which runs are needed and which of them the store already holds."""

    specs: list[RunSpec]
    keys: list[str]
    todo: list[int]  # indexes into specs, first occurrence of each missing key

    @property
    def stored(self) -> int:
        """Runs already complete in the store."""
        return len(set(self.keys)) - len(self.todo)


def plan(specs: Sequence[RunSpec], store: Store, force: bool = False) -> Plan:
    """Keys of ``specs`` and the ones still to run."""
    keys = [spec.key() for spec in specs]
    todo, seen = [], set()
    for i, key in enumerate(keys):
        if key in seen:
            continue
        seen.add(key)
        if force or not store.has(key):
            todo.append(i)
    return Plan(list(specs), keys, todo)


# While a batch is shared with workers, how long this process's running simulation keeps the
# interpreter before a waiting thread may take it (Python's default is 5 ms). The thread that
# receives a worker's finished run reads it in pieces of 64 KiB, each waiting that long for
# the simulation to let go: at 5 ms a run's tables (tens of MB) took a second or more to
# arrive, while the worker, with no run to go on with, waited for them.
HANDOVER_S = 0.0005

CONNECT_TIMEOUT_S = 10
PARENT_POLL_S = 1.0


def _end_with(parent: int) -> None:
    """A worker's initializer: end this worker when process ``parent`` is gone (killed, say),
    within ``PARENT_POLL_S``, instead of finishing a run nobody will read."""
    def watch() -> None:
        while True:
            time.sleep(PARENT_POLL_S)
            try:
                os.kill(parent, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:
                pass

    threading.Thread(target=watch, name="end-with-parent", daemon=True).start()


def default_jobs() -> int:
    """All cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def local_jobs(asked: int | None, runs: int) -> int:
    """The processes for ``runs`` runs when ``asked`` for that many (None: every core): never
    more than the runs or the cores, whichever is more (``--jobs 100000`` forked 99,999
    workers for one run). Above the cores it changes nothing but the processes, which tests
    use to show that results do not depend on them."""
    cores = default_jobs()
    return min(asked or cores, max(runs, cores))


POOL_WORTH_S = 10.0  # estimated seconds of simulation (budget's estimate, about twice the
# real time) below which a single batch runs in this process: a worker takes a second or more
# to start and import the model, and on two cores it slows this process while it does; the
# main example (4.3 s estimated, 2.1-2.6 s real) took 7.3-8.7 s on two processes against
# 6.0-6.8 s on one; a batch of 8 long runs (46 s estimated) was 1.34-1.39x faster on two


class Workers:
    """Where runs execute, kept open across batches (a planner's probes, say): this process,
    this process with a pool of local processes, or a Dask cluster. Use as a context manager.

    With ``jobs`` > 1 a batch worth a pool (``POOL_WORTH_S``) runs on ``jobs`` processes: this
    one and ``jobs - 1`` workers; once ``fork`` has started the workers (the run and plan
    commands do, first thing), every batch of more than one run does. The workers take runs
    from the front of the batch and this process from the back, so their start-up is not
    waited for. ``trace_rows`` (the loader's
    rows of each trace, by digest) lets the estimate count a trace's arrivals; a run replaying
    a trace it does not know is taken to be worth a pool. ``batches="many"`` (a planner's
    probes, the fidelity suite's cases): the pool serves batch after batch, so its start-up
    is paid once and every batch of more than one run uses it. ``rows``: a batch shared with
    the pool formats each run's CSV rows where it ran (``execute_aside``), for the caller that
    writes ``instances.csv`` and ``timeseries.csv``; a planner's probes need none.
    ``stored_aside``: a run made on a local worker is stored by the worker
    (``execute_stored``) and comes back without its tables, for a caller that reads back
    only metrics (a planner's probes)."""

    def __init__(self, jobs: int = 1, cluster: str | None = None,
                 trace_rows: dict[str, int] | None = None,
                 batches: Literal["one", "many"] = "one", rows: bool = False,
                 stored_aside: bool = False) -> None:
        self.jobs = jobs
        self.batches = batches
        self.rows = rows
        self.stored_aside = stored_aside
        self.cluster = cluster
        self.trace_rows = trace_rows or {}
        self._pool: cf.ProcessPoolExecutor | None = None
        self._forked = False  # the pool's workers were forked from this process (``fork``)
        self._client: Any = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
            self._forked = False
        if self._client is not None:
            self._client.close()
            self._client = None

    def fork(self) -> bool:
        """Start the workers now, forked from this process: they begin with its modules and
        data (a scenario loaded, a trace read), so a batch of any size may share them without
        waiting for one to start (``POOL_WORTH_S`` no longer applies). Call it before this
        process starts a thread: a fork copies only the calling thread. False (nothing
        started) with one job, a cluster, a pool already there, or where processes cannot be
        forked."""
        if (self.jobs <= 1 or self.cluster is not None or self._pool is not None
                or "fork" not in multiprocessing.get_all_start_methods()):
            return False
        self._pool = cf.ProcessPoolExecutor(max_workers=self.jobs - 1,
                                            mp_context=multiprocessing.get_context("fork"),
                                            initializer=_end_with, initargs=(os.getpid(),))
        self._pool.submit(int)  # forks every worker now, before the pool's own threads start
        self._forked = True
        return True

    @property
    def forked(self) -> bool:
        """Whether ``fork`` started the workers (and ``submit`` may be used)."""
        return self._forked

    def submit(self, fn: Callable[..., Any], *args: Any) -> cf.Future[Any]:
        """``fn(*args)`` on a worker forked by ``fork`` (charts drawn beside the tables, say);
        it runs after what the workers were given before."""
        if not self._forked or self._pool is None:
            raise RuntimeError("Workers.submit needs the workers started by fork()")
        return self._pool.submit(fn, *args)

    def processes(self, specs: Sequence[RunSpec]) -> int:
        """How many local processes run this batch (1: this one alone; 0: a Dask cluster)."""
        if self.cluster is not None:
            return 0
        if self.jobs <= 1 or len(specs) <= 1:
            return 1
        if self._forked:  # no start-up to wait for
            return min(self.jobs, len(specs))
        if self.batches == "one" and work_seconds(specs, self.trace_rows) < POOL_WORTH_S:
            return 1
        return min(self.jobs, len(specs))

    def outputs(self, specs: list[RunSpec], keys: list[str], store: Store | None = None
                ) -> Iterator[RunOutput]:
        """Each spec's output (filed under the matching key), in completion order; with
        ``stored_aside``, those made on a local worker already in ``store``, without their
        tables."""
        if not specs:
            return
        if self.cluster is not None:
            yield from self._on_dask(specs, keys)
        elif self.processes(specs) == 1:
            for spec, key in zip(specs, keys):
                yield execute(spec, key)
        else:
            yield from self._shared(specs, keys, store)

    def _shared(self, specs: list[RunSpec], keys: list[str], store: Store | None
                ) -> Iterator[RunOutput]:
        """The batch on the pool's workers and on this process. The runs wait in one queue: a
        feeding thread gives each worker the next from the front as soon as it is free (a
        worker is never sent more than the run it works on, so nothing waits behind a busy
        worker), and this process takes the last from the back, until none is left."""
        workers = self.jobs - 1
        if self._pool is None:
            context = multiprocessing.get_context("forkserver")
            self._pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                                initializer=_end_with,
                                                initargs=(os.getpid(),))
        pool = self._pool
        each = execute_aside if self.rows else execute
        on_worker: Callable[[RunSpec, str], RunOutput] = (
            functools.partial(execute_stored, root=store.root)
            if self.stored_aside and store is not None else each)
        waiting = collections.deque(range(len(specs)))
        lock = threading.Lock()
        finished: queue.SimpleQueue[cf.Future[RunOutput] | None] = queue.SimpleQueue()
        stop = threading.Event()
        feeding = True  # until the feeder's end is read from ``finished``

        def take(front: bool) -> int | None:
            with lock:
                if not waiting or stop.is_set():
                    return None
                return waiting.popleft() if front else waiting.pop()

        def feed() -> None:
            running: set[cf.Future[RunOutput]] = set()
            try:
                while True:
                    while len(running) < workers and (i := take(front=True)) is not None:
                        running.add(pool.submit(on_worker, specs[i], keys[i]))
                    if not running:
                        return
                    done, running = cf.wait(running, return_when=cf.FIRST_COMPLETED)
                    for future in done:
                        finished.put(future)
            except BaseException as exc:  # a broken pool: raised in this process, not lost
                failed: cf.Future[RunOutput] = cf.Future()  # with the run it had taken
                failed.set_exception(exc)
                finished.put(failed)
            finally:
                finished.put(None)  # the feeder has ended

        def ready(block: bool) -> Iterator[RunOutput]:
            """The workers' finished runs: those already in (or, ``block``ing, all of them,
            once the feeder ends)."""
            nonlocal feeding
            while feeding:
                try:
                    future = finished.get(block=block)
                except queue.Empty:
                    return
                if future is None:
                    feeding = False
                else:
                    yield future.result()

        feeder = threading.Thread(target=feed, name="feed-workers", daemon=True)
        feeder.start()
        interval = sys.getswitchinterval()
        sys.setswitchinterval(HANDOVER_S)
        try:
            while (i := take(front=False)) is not None:  # run here as the workers run them
                yield each(specs[i], keys[i])
                yield from ready(block=False)
            yield from ready(block=True)
        finally:
            sys.setswitchinterval(interval)
            stop.set()
            feeder.join()

    def _on_dask(self, specs: list[RunSpec], keys: list[str]) -> Iterator[RunOutput]:
        from distributed import Client, as_completed

        if self._client is None:
            try:
                self._client = Client(self.cluster, timeout=CONNECT_TIMEOUT_S)
            except (OSError, TimeoutError, ValueError, TypeError) as exc:
                raise ClusterError(f"--cluster {self.cluster}: cannot reach a Dask scheduler "
                                   f"there ({type(exc).__name__}: {exc}); give its address "
                                   "as tcp://HOST:PORT, or leave --cluster out to run "
                                   "here") from None
        futures = self._client.map(execute, specs, keys, pure=False)
        try:
            for future in as_completed(futures):
                yield future.result()
        except BaseException:
            self._client.cancel(futures)
            raise

    def run(self, the_plan: Plan, store: Store,
            on_done: Callable[[RunOutput], None] | None = None) -> None:
        """Run every spec in ``the_plan.todo`` and store each as it completes (with
        ``stored_aside``, where it ran)."""
        for out in self.outputs([the_plan.specs[i] for i in the_plan.todo],
                                [the_plan.keys[i] for i in the_plan.todo], store):
            store.save(out)  # a run stored where it ran is not written again
            if on_done is not None:
                on_done(out)


def work_seconds(specs: Sequence[RunSpec], trace_rows: dict[str, int]) -> float:
    """The budget's estimate of the seconds ``specs`` take on one core (infinite when one
    replays a trace whose rows are not in ``trace_rows``)."""
    from sim.edge import budget
    from sim.spec.config import TraceArrivals

    if any(isinstance(wl.arrival, TraceArrivals) and wl.arrival.digest not in trace_rows
           for spec in specs for wl in spec.scenario.workloads):
        return math.inf
    return budget.estimate([spec.scenario for spec in specs], 1, 1, trace_rows).seconds


def run_all(the_plan: Plan, store: Store, jobs: int = 1, cluster: str | None = None,
            on_done: Callable[[RunOutput], None] | None = None,
            trace_rows: dict[str, int] | None = None) -> None:
    """Run every spec in ``the_plan.todo`` and store it as it completes."""
    with Workers(jobs, cluster, trace_rows) as workers:
        workers.run(the_plan, store, on_done)
