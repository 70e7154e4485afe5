"""The fidelity suite: published measurements and queueing theory reproduced, with the error.

Owns: the cases (each a scenario file in ``sim/fidelity/cases/``), what each compares, the
published value, the tolerance and the verdict; fitting where a case says a value is fitted.
Results go to ``OUT/fidelity/report.md``, ``report.json`` and one chart per case. Must not:
change the model to make a case pass: a failure stays in the report with its explanation.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from sim.analysis import theory
from sim.analysis.fit import fit_lognormal, read_column
from sim.edge.loader import Loaded, load_text
from sim.experiment.expand import expand
from sim.planning.capacity import fit as density_fit
from sim.planning.capacity import simulated_fit
from sim.run.results import RunOutput
from sim.run.runner import Workers, execute
from sim.run.runner import plan as plan_runs
from sim.run.store import Store
from sim.spec import paths
from sim.spec.config import PoissonArrivals
from sim.spec.profiles import builtin_profiles
from sim.spec.values import Exponential


@dataclass
class Check:
    """One compared number."""

    case: str
    quantity: str
    published: float
    simulated: float
    tolerance: float  # absolute
    role: str  # theory | fitted | predicted | consistency
    source: str
    note: str = ""
    known_gap: bool = False  # outside tolerance for a reason the case explains

    @property
    def verdict(self) -> str:
        """pass, fail, or fail (known gap)."""
        if self.passed:
            return "pass"
        return "fail (known gap)" if self.known_gap else "FAIL"

    @property
    def error(self) -> float:
        """simulated - published."""
        return self.simulated - self.published

    @property
    def relative_error(self) -> float | None:
        """error / published (None when published is 0)."""
        return self.error / self.published if self.published else None

    @property
    def passed(self) -> bool:
        """Within tolerance."""
        return abs(self.error) <= self.tolerance + 1e-12


@dataclass
class Case:
    """A case's checks, its chart and what it cost."""

    name: str
    title: str
    scenario: str
    checks: list[Check] = field(default_factory=list)
    chart: str | None = None
    wall_s: float = 0.0
    explanation: str = ""
    fitted: dict[str, Any] | None = None
    chart_data: Any = None


def case_file(name: str) -> Path:
    """The scenario file of a case."""
    return Path(str(resources.files("sim.fidelity").joinpath("cases", f"{name}.yaml")))


def data_file(*parts: str) -> Path:
    """A file of the shipped measurement data."""
    return Path(str(resources.files("sim.fidelity").joinpath("data", *parts)))


class Suite:
    """Runs cases through the run store (so a rerun is cheap) on shared workers."""

    def __init__(self, out: Path, quick: bool, jobs: int) -> None:
        self.out = out / "fidelity"
        self.quick = quick
        self.store = Store(out / ".runs")
        self.workers = Workers(jobs, batches="many")

    def load(self, name: str, **changes: Any) -> Loaded:
        """Case ``name`` with dotted-path ``changes`` (quick mode shortens runs here)."""
        data = yaml.safe_load(case_file(name).read_text())
        for path, value in changes.items():
            data = paths.replace(data, path, value)
        return load_text(yaml.safe_dump(data, sort_keys=False), str(case_file(name)))

    def run(self, loaded: Loaded, tables: bool = False) -> list[RunOutput]:
        """Every run of ``loaded`` (all replications), from the store when already made."""
        specs = expand(loaded)
        todo = plan_runs(specs, self.store)
        self.workers.run(todo, self.store)
        return [self.store.load(key, tables=tables) for key in todo.keys]


# --- queueing theory ------------------------------------------------------------------------

def _k_sigma(sigma_1: float, n_counted: int, k: float = 4.0) -> float:
    """k sigma_1 sqrt(90 000 / N) with N the counted arrivals over all replications."""
    return k * sigma_1 * math.sqrt(90_000 / max(n_counted, 1))


def _spread(values: list[float], k: float = 4.0) -> float:
    """k standard errors of the mean of replications."""
    return k * float(np.std(values, ddof=1)) / math.sqrt(len(values)) if len(values) > 1 else 0.0


def erlang_c(suite: Suite) -> Case:
    """Case C2: start slots as an M/M/8, against Erlang C (mean wait, probability of
    waiting), and Little's law on the busy slots (against lambda E[S] and against the run's
    own records)."""
    case = Case("erlang-c", "Erlang C: start slots (M/M/8, case C2)",
                "sim/fidelity/cases/erlang-c.yaml")
    loaded = suite.load("erlang-c", **({"replications": 2} if suite.quick else {}))
    outs = suite.run(loaded)
    m = [o.metrics for o in outs]
    n = sum(x["requests"] for x in m)
    wq = float(np.mean([x["wait_s"]["mean"] for x in m]))
    p_wait = float(np.mean([x["waited_fraction"] for x in m]))
    busy = float(np.mean([x["starting_mean"] for x in m]))
    src = "Erlang C; analytic-checks.md case C2"
    case.checks += [
        Check(case.name, "E[Wq] (s)", theory.mmc_mean_wait(8, 1.2, 5.0), wq,
              _k_sigma(0.0474, n), "theory", src),
        Check(case.name, "P(wait)", theory.erlang_c(8, 6.0), p_wait,
              4 * 0.0057 / math.sqrt(len(m)), "theory", src,
              "tolerance: 4 x 0.0057 / sqrt(R), 0.0057 being one run's spread measured "
              "over 12 replications (the reference gives none)"),
        Check(case.name, "busy start slots (Little: lambda E[S])", 6.0, busy, 0.15, "theory",
              "Little's law"),
    ]
    # Little's law on the simulator's own records: busy slots = measured rate x mean time in slot
    window = loaded.scenario.duration - loaded.scenario.warmup
    measured = float(np.mean([x["requests"] / window
                              * (x["startup_s"]["mean"] - x["wait_s"]["mean"]) for x in m]))
    case.checks.append(Check(case.name, "busy slots vs (requests/time) x mean slot time",
                             measured, busy, 0.02 * measured, "theory",
                             "Little's law, L = lambda W, on the run's own records"))
    return case


def erlang_b(suite: Suite) -> Case:
    """Cases B1 and B2: blocking against Erlang B, in B1 for each lifetime law the case
    compares (with the carried load for the exponential one); B2 (c = 20, a = 15) only
    outside quick mode."""
    case = Case("erlang-b", "Erlang B: admission, insensitive to the lifetime law (B1, B2)",
                "sim/fidelity/cases/erlang-b.yaml, erlang-b2.yaml")
    loaded = suite.load("erlang-b", **({"replications": 2} if suite.quick else {}))
    outs = suite.run(loaded)
    expected = theory.erlang_b(10, 5.0)
    for params, group in itertools.groupby(outs, key=lambda o: json.dumps(o.parameters)):
        rows = [o.metrics for o in group]
        law = next(iter(json.loads(params).values()))
        name = "constant" if isinstance(law, str) else law.get("dist")
        n = sum(x["requests"] for x in rows)
        case.checks.append(Check(
            case.name, f"B1 blocking, {name} lifetime", expected,
            float(np.mean([x["blocking"] for x in rows])), _k_sigma(0.0005, n), "theory",
            "Erlang B; analytic-checks.md case B1",
            "sigma_1 = 0.0005 from the reference; one run's spread measured over 12 "
            "replications is 0.00087"))
        if name == "exponential":
            case.checks.append(Check(
                case.name, "B1 carried load a(1 - B)", 5.0 * (1 - expected),
                float(np.mean([x["running_mean"] for x in rows])), 0.1, "theory",
                "Little's law for loss systems"))
    if not suite.quick:
        rows = [o.metrics for o in suite.run(suite.load("erlang-b2"))]
        case.checks.append(Check(
            case.name, "B2 blocking (c = 20, a = 15)", theory.erlang_b(20, 15.0),
            float(np.mean([x["blocking"] for x in rows])),
            max(_spread([x["blocking"] for x in rows]), 0.002), "theory",
            "Erlang B; analytic-checks.md case B2", "tolerance: 4 standard errors over the "
            "replications (the reference gives no sigma for B2)"))
    return case


def mg_infinity(suite: Suite) -> Case:
    """Cases I1 and I2 (I2 only outside quick mode): the number running against
    Poisson(lambda E[S]), its time average and its 99 % quantile."""
    case = Case("mg-infinity", "M/G/infinity: the number running is Poisson (I1, I2)",
                "sim/fidelity/cases/mg-infinity.yaml, mg-infinity-lognormal.yaml")
    specs = [("mg-infinity", "I1", 1.0, 10.0, 2 * 10.0**2, 18)]
    if not suite.quick:
        specs.append(("mg-infinity-lognormal", "I2", 2 / 60, 3000.0,
                      3000.0**2 * (1 + 1.5**2), 124))
    for name, label, lam, mean_s, second, q99 in specs:
        loaded = suite.load(name, **({"replications": 2} if suite.quick else {}))
        rows = [o.metrics for o in suite.run(loaded)]
        horizon = loaded.scenario.duration - loaded.scenario.warmup
        sd = math.sqrt(lam * second / horizon) / math.sqrt(len(rows))
        mean = lam * mean_s
        case.checks += [
            Check(case.name, f"{label} running, time average", mean,
                  float(np.mean([x["running_mean"] for x in rows])), 4 * sd, "theory",
                  "M/G/inf: Poisson(lambda E[S]); sd sqrt(lambda E[S^2] / T)"),
            Check(case.name, f"{label} running, 99 % quantile", float(q99),
                  float(np.median([x["running_p99"] for x in rows])), 1.0, "theory",
                  "Poisson quantile"),
        ]
    return case


def mt_g_infinity(suite: Suite) -> Case:
    """Time-varying arrivals: the number running, averaged over the replications, against
    m(t) for the case's schedule of rates and exponential lifetimes (the case's mean), at three
    times and as the largest |z| over every sample time."""
    case = Case("mt-g-infinity", "M_t/G/infinity: time-varying arrivals",
                "sim/fidelity/cases/mt-g-infinity.yaml")
    loaded = suite.load("mt-g-infinity", **({"replications": 4} if suite.quick else {}))
    outs = suite.run(loaded, tables=True)
    arrival = loaded.scenario.workloads[0].arrival
    assert isinstance(arrival, PoissonArrivals) and arrival.schedule is not None
    steps = [(s.at, s.rate) for s in arrival.schedule]
    lifetime = loaded.scenario.workloads[0].lifetime
    assert isinstance(lifetime, Exponential), "m(t) below holds for exponential lifetimes"
    tau = lifetime.mean

    def m(t: float) -> float:  # exponential lifetimes: m' = lambda(t) - m / tau, m(0) = 0
        value = 0.0
        for k, (at, rate) in enumerate(steps):
            end = steps[k + 1][0] if k + 1 < len(steps) else math.inf
            if t <= at:
                break
            span = min(t, end) - at
            value = rate * tau + (value - rate * tau) * math.exp(-span / tau)
        return value

    series = [o.timeseries.groupby("time_s")["running"].sum() for o in outs]
    times = series[0].index.to_numpy()
    mean = np.mean([s.to_numpy() for s in series], axis=0)
    expected = np.asarray([m(t) for t in times])
    z = np.where(expected > 0, (mean - expected) / np.sqrt(np.maximum(expected, 1e-9)
                                                          / len(series)), 0.0)
    for t in (3000.0, 6600.0, 10800.0):
        i = int(np.argmin(abs(times - t)))
        case.checks.append(Check(
            case.name, f"mean running at {times[i] / 3600:.2f} h", float(expected[i]),
            float(mean[i]), 4 * math.sqrt(expected[i] / len(series)), "theory",
            "Eick, Massey, Whitt 1993: Poisson(m(t))"))
    case.checks.append(Check(case.name, f"largest |z| over {len(times)} sample times", 0.0,
                             float(np.max(np.abs(z))), 4.5, "theory",
                             "z = (mean - m(t)) / sqrt(m(t) / R)"))
    case.chart_data = (times, mean, expected)
    return case


# --- published measurements -------------------------------------------------------------------

FC_PARALLEL = (10, 50, 100)
# outside tolerance for the reasons in the case's explanation; any other failure is a failure
FC_KNOWN_GAPS = {"rn.nehalem 50 in parallel p95 (ms)", "rn.nehalem 100 in parallel p50 (ms)",
                 "m5d.metal 50 in parallel p50 (ms)", "m5d.metal 50 in parallel p95 (ms)"}


def _fc_published(host: str, n: int | None) -> np.ndarray:
    name = "boot-serial-fc-api.dat" if n is None else f"boot-parallel-{n}-fc-api.dat"
    return read_column(data_file("firecracker-nsdi2020", host, name), column=1, scale=1e-6)


def _fc_boots(suite: Suite, base: dict[str, Any], group: str, n: int | None, samples: int,
              fraction: float | None = None, cores: int | None = None,
              store: bool = True) -> np.ndarray:
    """Simulated boot times (s) on one host of ``group``: N at once (None: one after
    another)."""
    changes: dict[str, Any] = dict(base)
    changes["workloads[boot].host_groups"] = [group]
    if n is None:
        changes["workloads[boot].arrival"] = {"kind": "constant", "interval": "1s",
                                              "count": samples}
    else:
        changes["workloads[boot].arrival"] = {"kind": "burst", "count": n, "at": 0}
        changes["replications"] = max(1, math.ceil(samples / n))
    if cores is not None:
        changes[f"hosts[{group}].cpu_cores"] = cores
    if fraction is not None:
        changes["profiles.firecracker.cpu_bound_fraction"] = fraction
    loaded = suite.load("firecracker", **changes)
    outs = suite.run(loaded, tables=True) if store else [execute(spec) for spec in expand(loaded)]
    frames = [o.instances for o in outs]
    return np.concatenate([(f["running"] - f["arrival"]).dropna().to_numpy() for f in frames])


HOSTS = {"m5d.metal": "m5d", "rn.nehalem": "nehalem"}


def firecracker(suite: Suite) -> Case:
    """Firecracker boots (NSDI 2020): the boot fitted to m5d.metal's serial boots, the CPU-bound
    share and rn.nehalem's effective cores fitted to its parallel boots (refitted outside
    quick mode, else the case file's), m5d.metal's parallel boots predicted; each p50 and p95
    within 15 %, the known gaps marked."""
    case = Case("firecracker", "Firecracker boots under concurrency (NSDI 2020)",
                "sim/fidelity/cases/firecracker.yaml")
    serial = _fc_published("m5d.metal", None)
    fitted = fit_lognormal(serial)
    boot = {"dist": "lognormal", "median": fitted.median, "p95": fitted.p95}
    base: dict[str, Any] = {"profiles.firecracker.boot": boot}
    loaded = suite.load("firecracker")
    fraction = loaded.profiles["firecracker"].cpu_bound_fraction
    cores = next(g.cpu_cores for g in loaded.scenario.hosts if g.group == "nehalem")
    published = {(h, n): np.percentile(_fc_published(h, n), [50, 95])
                 for h in HOSTS for n in FC_PARALLEL}
    in_file = (fraction, cores)
    if not suite.quick:
        fraction, cores = _fit_contention(suite, base, published)
    case.fitted = {"boot": {"median_ms": fitted.median * 1e3, "p95_ms": fitted.p95 * 1e3,
                            "ks_statistic": fitted.ks_statistic},
                   "cpu_bound_fraction": fraction, "rn.nehalem effective cores": cores,
                   "matches the case file": (fraction, cores) == in_file}
    base["profiles.firecracker.cpu_bound_fraction"] = fraction
    base["hosts[nehalem].cpu_cores"] = cores
    src = "nsdi2020-data, wall clock (column 1), fc-api"
    sim_serial = _fc_boots(suite, base, "m5d", None, 500)
    for q, idx in (("p50", 0), ("p95", 1)):
        pub = float(np.percentile(serial, [50, 95])[idx]) * 1e3
        case.checks.append(Check(case.name, f"m5d.metal serial {q} (ms)", pub,
                                 float(np.percentile(sim_serial, [50, 95])[idx]) * 1e3,
                                 0.15 * pub, "fitted", src,
                                 "boot fitted to these serial boots (lognormal, SciPy MLE)"))
    serial_q = np.percentile(sim_serial, [50, 95]) * 1e3
    rows = [(host, 1, np.percentile(_fc_published(host, None), [50, 95]) * 1e3, serial_q)
            for host in HOSTS]
    for host, role in (("rn.nehalem", "fitted"), ("m5d.metal", "predicted")):
        for n in FC_PARALLEL:
            sim_q = np.percentile(_fc_boots(suite, base, HOSTS[host], n, 1000), [50, 95]) * 1e3
            pub_q = published[(host, n)] * 1e3
            rows.append((host, n, pub_q, sim_q))
            for q, idx in (("p50", 0), ("p95", 1)):
                case.checks.append(Check(
                    case.name, f"{host} {n} in parallel {q} (ms)", float(pub_q[idx]),
                    float(sim_q[idx]), 0.15 * float(pub_q[idx]), role, src,
                    f"cpu_bound_fraction {fraction:g}; "
                    f"{cores if host == 'rn.nehalem' else 48} cores"))
    for check in case.checks:
        check.known_gap = check.quantity in FC_KNOWN_GAPS
    case.chart_data = rows
    case.explanation = (
        "The model slows concurrent boots only by processor sharing of the host's cores (each "
        "boot at most one core) and start slots. rn.nehalem, whose core count the data does not "
        "give, is fitted with an effective core count and the CPU-bound share; on m5d.metal's "
        "48 cores that mechanism predicts almost no slowdown up to 48 boots, while the data "
        "rise about 30 % at 50 and 100 in parallel: that contention is not for cores (the VMM "
        "process start, KVM and memory-map locks in the host kernel are candidates) and the "
        "model has no term for it. At 50 and 100 in parallel on rn.nehalem the data flatten "
        "(1,049 to 1,329 ms) where processor sharing keeps growing linearly, so one effective "
        "core count cannot match all three; the p95s are tighter in the model because every "
        "boot of a burst shares the cores equally until the end.")
    return case


def _fit_contention(suite: Suite, base: dict[str, Any],
                    published: dict[tuple[str, int], np.ndarray]) -> tuple[float, int]:
    """cpu_bound_fraction and rn.nehalem's effective cores minimising the squared log error
    of its three parallel p50s (a grid search on the model itself)."""
    best = (math.inf, 0.5, 8)
    for fraction in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0):
        for cores in (1, 2, 3, 4, 6, 8, 12, 16):
            err = 0.0
            for n in FC_PARALLEL:
                sim = _fc_boots(suite, base, "nehalem", n, 200, fraction=fraction,
                                cores=cores, store=False)
                err += (math.log(np.percentile(sim, 50))
                        - math.log(published[("rn.nehalem", n)][0])) ** 2
            if err < best[0]:
                best = (err, fraction, cores)
    return best[1], best[2]


def ms_memory(suite: Suite) -> Case:
    """Microsoft's memory table: the instances of each isolation mode that fit in 64 GB,
    simulated, against 64 GB over the table's memory per instance, exactly."""
    case = Case("ms-memory", "Microsoft's memory table: instances in 64 GB",
                "sim/fidelity/cases/ms-memory.yaml")
    loaded = suite.load("ms-memory")
    s = loaded.scenario
    images = {i.name: i for i in s.images}
    host = s.hosts[0]
    rows = [("nano", "process-nano", 40e6, "process isolation, Nano Server, 40 MB"),
            ("core", "process-core", 50e6, "process isolation, Server Core, 50 MB"),
            ("nano", "hyperv-nano", 130e6, "Hyper-V isolation, Nano Server, 130 MB resident"),
            ("core", "hyperv-core", 325e6, "Hyper-V isolation, Server Core, 325 MB resident"),
            ("core", "hyperv-default-commit", 1e9,
             "Hyper-V isolation, default utility-VM commit of 1 GB")]
    src = ("Microsoft, Windows container requirements (WS2016 table); P. Lang, "
           "Virtualization-Documentation #477")
    for wl_name, profile, per, label in rows:
        wl = next(w for w in s.workloads if w.name == wl_name)
        analytic = density_fit(host, wl, loaded.profiles[profile], images)
        simulated = simulated_fit(s, host, wl, profile, loaded.profiles,
                                  analytic.per_host + 5)
        case.checks.append(Check(case.name, f"{label}: instances in 64 GB",
                                 float(math.floor(64e9 / per)), float(simulated), 0.0,
                                 "consistency", src, f"binding: {analytic.binding}"))
    overhead = builtin_profiles()["process"].memory_overhead / 1e6
    for base, published in (("Server Core", 230.0), ("Nano Server", 90.0)):
        check = Check(case.name, f"process isolation, {base}: idle working set (MB)",
                      published, overhead, 0.3 * published, "predicted",
                      "Azure/azure-container-networking PR #2935 (one report, anecdotal)",
                      "the built-in process profile's memory_overhead")
        check.known_gap = not check.passed
        case.checks.append(check)
    case.explanation = ("Microsoft notes that these minima ignore sharing between containers "
                        "(\"a host with 512 MB of free memory can run multiple Server Core "
                        "containers under Hyper-V isolation\"); the model has no shared-page "
                        "term, so that caveat is not reproduced. The built-in process profile "
                        f"charges {overhead:.0f} MB per instance beside its memory limit "
                        "(Microsoft's documented minimum); one report measured idle working "
                        "sets of 230 MB (Server Core) and 90 MB (Nano Server). A process-"
                        "isolated instance commits its memory limit, so this matters where a "
                        "workload's memory is set below its base image's idle working set: "
                        "give each workload a measured memory.")
    return case


def slacker(suite: Suite) -> Case:
    """Slacker (FAST 2016): pull plus extract as a share of start-up, against the published
    76 %, within 0.10."""
    case = Case("slacker", "Slacker: pulling is 76 % of start-up (FAST 2016)",
                "sim/fidelity/cases/slacker.yaml")
    loaded = suite.load("slacker", **({"replications": 20} if not suite.quick else
                                      {"replications": 5}))
    rows = [o.metrics for o in suite.run(loaded)]
    share = float(np.mean([(x["phases_s"]["pull"]["mean"] + x["phases_s"]["extract"]["mean"])
                           / x["startup_s"]["mean"] for x in rows]))
    case.checks.append(Check(case.name, "pull + extract share of start-up", 0.76, share, 0.10,
                             "consistency", "Harter et al., FAST 2016, abstract",
                             "image size, link and disk speed, app start: estimates"))
    return case


def lightvm(suite: Suite) -> Case:
    """LightVM (SOSP 2017): the 1st and the 3,000th container's start-up against Fig. 10's
    150 ms and 1 s, both fitted."""
    case = Case("lightvm", "LightVM: Docker start-up grows with containers running (SOSP 2017)",
                "sim/fidelity/cases/lightvm.yaml")
    out = suite.run(suite.load("lightvm"), tables=True)[0]
    df = out.instances.sort_values("id")
    startup = (df["running"] - df["arrival"]).to_numpy()
    src = "Manco et al., SOSP 2017, Fig. 10 (64 cores)"
    case.checks += [
        Check(case.name, "1st container start-up (ms)", 150.0, float(startup[0]) * 1e3, 7.5,
              "fitted", src, "create = 150 ms"),
        Check(case.name, "3,000th container start-up (ms)", 1000.0, float(startup[-1]) * 1e3,
              100.0, "fitted", src, "create_per_running = (1 s - 150 ms) / 3,000"),
    ]
    case.chart_data = startup
    case.explanation = ("Both points are fitted (the figure gives no intermediate values that "
                        "this project has read off reliably); the case shows that the "
                        "control-plane term reproduces the growth, not that it predicts it.")
    return case


def windows_pulls(suite: Suite) -> Case:
    """Pulls of Windows base images on Docker and containerd against the reports reviewed in
    docs/evidence-review-startup.md: durations within 35 % (two reports of one pull lie
    ±24 % about their geometric mean; the unknown compression ratio adds about 10 %), Docker's
    extraction rate within 5 % of the report it was read from (rounded to two figures)."""
    case = Case("windows-pulls", "Windows image pulls: Docker and containerd",
                "sim/fidelity/cases/windows-pulls.yaml")
    out = suite.run(suite.load("windows-pulls"), tables=True)[0]
    df = out.instances
    by = {name: rows for name, rows in df.groupby("workload")}

    def took(name: str, start: str, end: str) -> float:
        rows = by[name]
        return float((rows[end] - rows[start]).mean())

    review = "docs/evidence-review-startup.md"
    one, both = took("containerd", "arrival", "extracted"), took("twice", "arrival", "extracted")
    ratio = both / one
    cold_min = took("containerd", "arrival", "running") / 60
    rows = [
        ("Docker: extracting a 3.0 GB layer (s)", 140.0, took("layer-607", "pulled", "extracted"),
         7.0, "fitted", "Windows-Containers #607 (Docker 28, WS2022)",
         "rate 21 MB/s = 3.0 GB / 140 s; if 3.0 GB is compressed, 1.6-2.5x faster"),
        ("Docker: pull of a Server Core ltsc2019 image (s)", math.sqrt(210.0 * 322.0),
         took("docker", "arrival", "extracted"), 0.35 * math.sqrt(210.0 * 322.0), "predicted",
         "containerd/cri #1355: 210 s, 322 s in Microsoft's repro (geometric mean)",
         "from the rate of #607 and the image's 4.84 GB"),
        ("containerd: the same pull (s)", 1110.0, took("containerd", "arrival", "extracted"),
         0.35 * 1110.0, "fitted", "containerd/cri #1355 (containerd 1.3, Defender on)",
         "rate fitted jointly with #4989"),
        ("containerd: unpacking servercore:1809 (s)", 752.0,
         took("containerd", "pulled", "extracted"), 0.35 * 752.0, "fitted",
         "containerd #4989 (containerd 1.4.3, Defender on)", "rate fitted jointly with #1355"),
        ("containerd: cold start, no base image on the host (min)", 17.5, cold_min, 2.5,
         "predicted", "kubernetes-sigs/sig-windows-dev-tools #87: 15-20 min in "
         "ContainerCreating pulling servercore:1809 (anecdotal)", "band 15-20 min"),
    ]
    for quantity, published, simulated, tolerance, role, source, note in rows:
        case.checks.append(Check(case.name, quantity, published, simulated, tolerance, role,
                                 source, note))
    twice = Check(case.name, "containerd: two concurrent pulls of one image against one (x)",
                  2316.0 / 1142.0, ratio, 0.1 * 2316.0 / 1142.0, "predicted",
                  "containerd #11451 (2025, Windows): 19 min alone, 38.6 min each for two",
                  "duplicated pulls: one download, a copy extracted each")
    twice.known_gap = not twice.passed
    case.checks.append(twice)
    case.explanation = (
        "Evidence and its weaknesses: " + review + ". The two containerd reports disagree by "
        "1.6x (4.05 and 6.4 MB/s with Defender scanning); the default rate is their geometric "
        "mean, which splits the disagreement between them. A duplicated pull shares the "
        "download and extracts twice, but on two of the host's cores: the model makes two "
        f"concurrent pulls take {ratio:.2f}x one, where the report saw 2x. Something the model "
        "does not hold serialises them there (the disk, a lock in the snapshotter, Defender) "
        "on a VM whose cores the report does not state. The warm host (base image preloaded) "
        f"starts in {took('warm', 'arrival', 'running'):.1f} s.")
    return case


CASES: dict[str, Callable[[Suite], Case]] = {
    "erlang-c": erlang_c, "erlang-b": erlang_b, "mg-infinity": mg_infinity,
    "mt-g-infinity": mt_g_infinity, "firecracker": firecracker, "ms-memory": ms_memory,
    "slacker": slacker, "lightvm": lightvm, "windows-pulls": windows_pulls,
}


def run_suite(out: Path, quick: bool, jobs: int,
              progress: Callable[[str], None] | None = None) -> list[Case]:
    """Run every case (the quick subset with shorter runs) and return their checks."""
    suite = Suite(out, quick, jobs)
    cases = []
    with suite.workers:
        for name, function in CASES.items():
            started = time.perf_counter()
            case = function(suite)
            case.wall_s = time.perf_counter() - started
            cases.append(case)
            if progress is not None:
                bad = sum(not c.passed for c in case.checks)
                progress(f"{name}: {len(case.checks)} checks, {bad} outside tolerance, "
                         f"{case.wall_s:.1f} s")
    return cases


def as_json(cases: list[Case], quick: bool, wall_s: float) -> dict[str, Any]:
    """The report's data."""
    return {"quick": quick, "wall_s": wall_s, "cases": [
        {"name": c.name, "title": c.title, "scenario": c.scenario, "wall_s": c.wall_s,
         "explanation": c.explanation, "fitted": getattr(c, "fitted", None),
         "checks": [{**asdict(k), "error": k.error, "relative_error": k.relative_error,
                     "passed": k.passed, "verdict": k.verdict} for k in c.checks]}
        for c in cases]}


# --- the report --------------------------------------------------------------------------------

def number(value: float) -> str:
    """A check's number as the report and the terminal table show it."""
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.1f}"
    return f"{value:.4g}"


def report_markdown(cases: list[Case], quick: bool, wall_s: float) -> str:
    """The report as Markdown: every check with published, simulated, error, tolerance."""
    checks = [k for c in cases for k in c.checks]
    passed = sum(k.passed for k in checks)
    gaps = sum(k.known_gap and not k.passed for k in checks)
    lines = [f"# Fidelity report{' (quick subset)' if quick else ''}", "",
             (f"{len(checks)} checks in {len(cases)} cases: {passed} within tolerance, "
             f"{gaps} outside it for a reason stated below (known gaps), "
             f"{len(checks) - passed - gaps} unexplained failures. Wall time {wall_s:.0f} s."),
             "", ("Role: *theory* (exact result, sampling tolerance), *fitted* (the number was "
             "used to set a parameter), *predicted* (not used for fitting), *consistency* (the "
             "model applies published per-instance numbers; estimates where stated)."), ""]
    for case in cases:
        lines += [f"## {case.title}", "", f"Scenario: `{case.scenario}`; {case.wall_s:.1f} s.",
                  ""]
        if case.fitted:
            lines += ["Fitted: " + ", ".join(f"{k} = {v}" for k, v in case.fitted.items()), ""]
        lines += ["| quantity | published | simulated | error | tolerance | role | verdict |",
                  "|---|---:|---:|---:|---:|---|---|"]
        for k in case.checks:
            rel = f" ({100 * k.relative_error:+.1f} %)" if k.relative_error is not None else ""
            lines.append(f"| {k.quantity} | {number(k.published)} | {number(k.simulated)} | "
                         f"{number(k.error)}{rel} | ± {number(k.tolerance)} | {k.role} | "
                         f"{k.verdict} |")
        sources = sorted({k.source for k in case.checks})
        notes = sorted({k.note for k in case.checks if k.note})
        lines += ["", "Sources: " + "; ".join(sources) + "."]
        if notes:
            lines += ["Notes: " + "; ".join(notes) + "."]
        if case.explanation:
            lines += ["", case.explanation]
        if case.chart:
            lines += ["", f"![{case.name}]({case.chart})"]
        lines.append("")
    return "\n".join(lines)


def draw_charts(folder: Path, cases: list[Case]) -> None:
    """One chart per case, its file name stored in ``case.chart``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"pass": "#1b9e77", "fail (known gap)": "#e6ab02", "FAIL": "#d62728"}
    for case in cases:
        fig, ax = plt.subplots(figsize=(8, max(3.0, 0.45 * len(case.checks) + 1.5)))
        if case.name == "firecracker" and case.chart_data:
            plt.close(fig)
            fig, ax = plt.subplots(figsize=(8, 5))
            for host, style in (("m5d.metal", "-"), ("rn.nehalem", "--")):
                rows = [r for r in case.chart_data if r[0] == host]
                ns = [r[1] for r in rows]
                ax.plot(ns, [r[2][0] for r in rows], style, marker="o", color="black",
                        label=f"{host} published p50")
                ax.plot(ns, [r[3][0] for r in rows], style, marker="s", color="#d95f02",
                        label=f"{host} simulated p50")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("boots started at once (1: one after another)")
            ax.set_ylabel("boot time p50 (ms, log scale)")
        elif case.name == "mt-g-infinity" and case.chart_data is not None:
            times, mean, expected = case.chart_data
            ax.plot(times / 3600, expected, color="black", label="theory m(t)")
            ax.plot(times / 3600, mean, "o", color="#d95f02", markersize=4,
                    label="simulated, mean of replications")
            ax.set_xlabel("simulated time (h)")
            ax.set_ylabel("instances running")
        elif case.name == "lightvm" and case.chart_data is not None:
            startup = case.chart_data
            ax.plot(np.arange(1, len(startup) + 1), startup * 1e3, color="#d95f02",
                    label="simulated")
            ax.plot([1, 3000], [150, 1000], "o", color="black", label="published (Fig. 10)")
            ax.set_xlabel("containers already started")
            ax.set_ylabel("start-up (ms)")
        else:
            labels = [k.quantity for k in case.checks]
            scaled = [k.error / k.tolerance if k.tolerance else (0.0 if k.passed else
                                                                   math.copysign(2, k.error))
                      for k in case.checks]
            y = np.arange(len(labels))
            ax.axvspan(-1, 1, color="#1b9e77", alpha=0.12, label="within tolerance")
            ax.scatter(scaled, y, c=[colors[k.verdict] for k in case.checks], zorder=3)
            ax.set_yticks(y, labels, fontsize="small")
            ax.axvline(0, color="black", linewidth=0.8)
            ax.set_xlabel("(simulated - published) / tolerance")
            ax.set_xlim(min(-1.5, min(scaled) - 0.3), max(1.5, max(scaled) + 0.3))
            ax.invert_yaxis()
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
        ax.set_title(case.title, fontsize="medium")
        fig.tight_layout()
        name = f"{case.name}.png"
        fig.savefig(folder / name, dpi=100)
        plt.close(fig)
        case.chart = name
