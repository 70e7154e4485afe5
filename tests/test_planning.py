"""Capacity planning: density (analytic = simulated), bin packing, SLOs and the host search."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
import yaml

from sim.analysis import theory
from sim.analysis.metrics import metric_names
from sim.cli import main
from sim.edge.loader import load_file
from sim.planning.capacity import density_table, fit, lower_bound, pack
from sim.planning.planner import Probe, levelled_off, search, search_ahead
from sim.spec.config import HostGroup
from sim.spec.demand import Demand
from sim.spec.slo import SLO, SLOError, parse_slo
from sim.spec.units import GiB
from tests.helpers import FREE, load, scenario

SCENARIOS = sorted(Path("scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_analytic_density_equals_a_simulated_fill_for_every_shipped_scenario(path):
    loaded = load_file(path)
    modes = ["process", "hyperv", "vm"]
    table = density_table(loaded.scenario, loaded.profiles, modes, check=True)
    for rows in table.values():
        for per_mode in rows.values():
            for entry in per_mode.values():
                assert entry["simulated"] == entry["per_host"]


@pytest.mark.parametrize("host,profile,expected", [
    ({"memory": "10GiB"}, {}, (10, "memory")),
    ({"cpu_cores": 3, "cpu_overcommit": 2.0}, {}, (6, "cpu")),
    ({"disk": "5GiB"}, {"disk_per_instance": "1GiB"}, (4, "disk")),  # 1 GiB of image layers
    ({"max_partitions": 7}, {"partition": True}, (7, "partitions")),
])
def test_the_binding_resource_is_named(host, profile, expected):
    data = scenario(host=host, profiles={"free": {**FREE, **profile}})
    loaded = load(data)
    s = loaded.scenario
    f = fit(s.hosts[0], s.workloads[0], loaded.profiles["free"], {i.name: i for i in s.images})
    assert (f.per_host, f.binding) == expected
    table = density_table(s, loaded.profiles, ["free"])
    assert table["h"]["w"]["free"]["simulated"] == expected[0]


def test_a_density_past_what_a_fill_can_count_is_not_simulated(monkeypatch):
    """A host of more instances than the check fills one by one (it took minutes, then
    hours, for instances asking next to nothing): the analytic count stands alone."""
    from sim.planning import capacity

    loaded = load(scenario(host={"cpu_cores": 4}, profiles={"free": FREE}))
    s = loaded.scenario
    monkeypatch.setattr(capacity, "CHECKED_AT_MOST", 3)
    entry = density_table(s, loaded.profiles, ["free"])["h"]["w"]["free"]
    assert entry["per_host"] == 4 and "simulated" not in entry
    monkeypatch.setattr(capacity, "CHECKED_AT_MOST", 4)
    assert density_table(s, loaded.profiles, ["free"])["h"]["w"]["free"]["simulated"] == 4


def test_utility_vm_commit_binds_hyperv_density():
    loaded = load_file("scenarios/density.yaml")
    table = density_table(loaded.scenario, loaded.profiles, ["process", "hyperv", "vm"])
    worker = table["dense"]["worker"]
    usable = 60 * GiB
    assert worker["process"]["per_host"] == int(usable // (256 * 2**20 + 50e6))
    assert worker["hyperv"]["per_host"] == int(usable // (512 * 2**20 + 20e6))
    assert worker["vm"]["per_host"] == int(usable // (256 * 2**20 + GiB))


def test_first_fit_decreasing_on_the_reference_case_p1():
    """P1: capacity 100; 6x51, 6x27, 6x26, 12x23: L1 = 9 = OPT, FFD = 11 exactly."""
    host = HostGroup(group="g", cpu_cores=1000, memory=100 * GiB, disk=1e15, disk_rate=1e9,
                     nic=1e9)

    def item(size: float) -> Demand:
        return Demand(memory=size * GiB, vcpu=0.001, disk_private=0.0, partition=0,
                      image_bytes=0.0, requires_hyperv=False, os_build=None)

    mix = [("a", 6, item(51)), ("b", 6, item(27)), ("c", 6, item(26)), ("d", 12, item(23))]
    found = pack(host, mix, {}, [])
    assert found.lower_bound == 9 and found.bound_by == "memory"
    assert found.hosts == 11
    assert sum(sum(h.values()) for h in found.per_host) == 30
    assert lower_bound(host, mix, {}, []) == (9, "memory")  # without packing
    too_big = [*mix, ("e", 1, item(101))]
    for way in (pack, lower_bound):
        with pytest.raises(ValueError, match="e does not fit on an empty g host"):
            way(host, too_big, {}, [])
    assert lower_bound(host, [*mix, ("e", 0, item(101))], {}, []) == (9, "memory")


def test_slo_parsing():
    known = metric_names()
    assert parse_slo("startup_p99<=30s", known) == SLO("startup_s.p99", "<=", 30.0,
                                                       "startup_p99<=30s")
    assert parse_slo("blocking<=1%", known).limit == pytest.approx(0.01)
    assert parse_slo("memory_utilization_mean < 80%", known).op == "<"
    assert parse_slo("wait_s.p95<=2min", known).limit == 120.0
    assert parse_slo("density_max>=40", known).limit == 40
    for bad in ("startup_p99=30s", "latency<=1s", "blocking<=lots"):
        with pytest.raises(SLOError):
            parse_slo(bad, known)


def test_slos_are_judged_at_the_pessimistic_end_of_the_interval():
    slo = SLO("startup_s.p99", "<=", 30.0, "")
    assert slo.holds(25.0, 4.0) and not slo.holds(25.0, 6.0)
    assert SLO("density_max", ">=", 40, "").holds(45, 4) is True
    assert SLO("density_max", ">=", 40, "").holds(45, 6) is False
    assert slo.holds(25.0, None)


def _probe(n: int, passed: bool, value: float = 1.0) -> Probe:
    return Probe(n, {"x": value}, passed, [] if passed else ["x<=0"])


@pytest.mark.parametrize("answer,start", [(1, 1), (37, 1), (37, 500), (37, 37), (64, 16),
                                          (1000, 3)])
def test_search_brackets_then_bisects_to_the_smallest_passing_count(answer, start):
    seen = []

    def evaluate(n):
        seen.append(n)
        return _probe(n, n >= answer)

    found, _probes = search(evaluate, start, 1000)
    assert found == answer
    assert len(seen) == len(set(seen)) <= 2 * 10 + 2


@pytest.mark.parametrize("answer,start", [(1, 1), (37, 1), (37, 500), (37, 36), (37, 38),
                                          (37, 37), (64, 16), (1000, 3), (520, 515)])
def test_a_search_from_near_the_answer_finds_it_in_few_probes(answer, start):
    """From the answer of a similar mode: steps of 1, 2, 4, ... hosts away from the start,
    then bisection; the same answer as from afar, and the start or one host more costs two
    probes."""
    seen = []

    def evaluate(n):
        seen.append(n)
        return _probe(n, n >= answer)

    found, _probes = search(evaluate, start, 1000, near=True)
    assert found == answer
    assert len(seen) == len(set(seen)) <= 2 * 10 + 2
    if answer - start in (0, 1) and answer > 1:  # the start, and one host below or above it
        assert len(seen) == 2
    if 0 < answer - start <= max(2, start // 10):  # steps out, then bisection back
        assert len(seen) <= 2 * (answer - start).bit_length() + 1


@pytest.mark.parametrize("near", [False, True])
@pytest.mark.parametrize("answer,start", [(1, 1), (37, 1), (37, 500), (37, 36), (37, 38),
                                          (64, 16), (1000, 3), (520, 515), (None, 8)])
def test_a_search_told_what_comes_next_probes_what_it_said(answer, start, near):
    """``search_ahead`` makes the probes ``search`` makes, and after each verdict, what it
    says it would probe next on that verdict is what it probes next (where it ends, what
    ``then`` makes of its answer), and on the other verdict what a search given that verdict
    would probe next. (Where the search gives up because a probe's metrics level off, what it
    said came next is a count: a verdict alone does not show the metrics.)"""
    slo = SLO("x", "<=", 0.0, "x<=0")

    def verdict(n):
        if answer is None:  # never met; the metric flat from 8 hosts up
            return _probe(n, False, value=5.0 if n >= 8 else 100.0 / n)
        return _probe(n, n >= answer, value=100.0 / n)  # still falling: no giving up

    def stalled(a, b):
        return levelled_off(a, b, [slo])

    plain = []
    want = search(lambda n: plain.append(n) or verdict(n), start, 1000, stalled, near=near)
    seen, said = [], []

    def evaluate(n, after):
        seen.append(n)
        said.append((after(True), after(False)))
        return verdict(n)

    def then(found):
        return ("after", found)

    got = search_ahead(evaluate, start, 1000, stalled, near=near, then=then)
    assert got[0] == want[0] and sorted(got[1]) == sorted(want[1]) and seen == plain
    for i, n in enumerate(seen):
        told = said[i][0 if verdict(n).passed else 1]
        if i + 1 < len(seen) or answer is not None:  # (the last gave up: see above)
            assert told == (seen[i + 1] if i + 1 < len(seen) else ("after", want[0]))
        other = said[i][1 if verdict(n).passed else 0]  # the verdict it did not get

        def flipped(m, n=n, i=i):
            if m == n:
                return Probe(m, {}, not verdict(n).passed)
            if m in seen[:i]:
                return verdict(m)
            raise LookupError(m)

        try:
            found, _ = search(flipped, start, 1000, stalled, near=near)
            assert other == ("after", found)
        except LookupError as nxt:
            assert other == nxt.args[0]


def test_a_near_search_gives_up_on_the_first_doubling_that_changes_nothing():
    """Steps of 1 and 2 hosts from 8 (a tenth of 8 is under 2), then doublings: the verdict
    compares 8 with the first count at least twice it (22 = 2 x 11), not 8 with 9."""
    slo = SLO("x", "<=", 0.0, "x<=0")

    def evaluate(n):  # fails everywhere, the metric flat from 8 hosts up
        return _probe(n, False, value=5.0 if n >= 8 else 100.0 / n)

    found, probes = search(evaluate, 8, 10_000, lambda a, b: levelled_off(a, b, [slo]),
                           near=True)
    assert found is None
    assert sorted(probes) == [8, 9, 11, 22]


def test_search_gives_up_when_more_hosts_stop_helping():
    slo = SLO("x", "<=", 0.0, "x<=0")

    def evaluate(n):
        return _probe(n, False, value=5.0 if n >= 8 else 100.0 / n)

    found, probes = search(evaluate, 1, 10_000, lambda a, b: levelled_off(a, b, [slo]))
    assert found is None
    assert max(probes) == 16


def _erlang_pool(tmp_path, headroom=0):
    """Hosts with room for k = 5 each, Poisson arrivals, offered load a = 15, reject."""
    data = scenario(
        duration=30_000 / 1.5 * 60, warmup=1000 / 1.5 * 60, seed=3,
        host={"memory": "5GiB", "count": 1},
        workload={"on_full": "reject", "lifetime": {"dist": "exponential", "mean": "10min"},
                  "arrival": {"kind": "poisson", "rate": "1.5/min"}},
        plan={"slo": ["blocking<=1%"], "replications": 3, "headroom": headroom})
    path = tmp_path / "erlang.yaml"
    import yaml

    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.slow
def test_plan_is_exact_where_the_model_is_erlang_b(tmp_path):
    expected = next(n for n in range(1, 100) if theory.erlang_b(5 * n, 15.0) <= 0.01)
    assert expected == 5
    path = _erlang_pool(tmp_path)
    assert main(["plan", str(path), "--out", str(tmp_path), "--quiet", "--jobs", "2"]) == 0
    result = json.loads((tmp_path / "tiny" / "plan.json").read_text())
    assert result["free"]["hosts"] == expected
    blocking = {p["hosts"]: p["metrics"]["blocking"]["mean"] for p in result["free"]["probes"]}
    assert blocking[expected - 1] > 0.01 >= blocking[expected]
    # N+1: the SLO is judged on n - 1 hosts, so one more host
    path = _erlang_pool(tmp_path, headroom=1)
    assert main(["plan", str(path), "--out", str(tmp_path), "--quiet"]) == 0
    result = json.loads((tmp_path / "tiny" / "plan.json").read_text())
    assert result["free"]["hosts"] == expected + 1
    assert result["free"]["hosts_judged"] == expected


@pytest.mark.slow
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_running_ahead_leaves_the_plan_as_it_was(tmp_path, monkeypatch, jobs):
    """A plan whose probes run the next probe's first replication beside their last writes
    the same plan.json as one that does not; one job runs nothing ahead (no core is free).
    On two, the runs differ: a guess that proves wrong costs a run, and a probe whose first
    replication, run ahead, dooms it needs no second."""
    from sim.cli import planning
    from sim.run import runner

    path = _erlang_pool(tmp_path)
    runs = []
    real = runner.Workers.run

    def counted(self, the_plan, store, on_done=None):
        runs.extend(the_plan.keys[i] for i in the_plan.todo)
        return real(self, the_plan, store, on_done)

    monkeypatch.setattr(runner.Workers, "run", counted)
    assert main(["plan", str(path), "--out", str(tmp_path / "ahead"), "--quiet",
                 "--jobs", jobs]) == 0
    ahead = list(runs)
    runs.clear()

    def plain(evaluate, *args, then=None, **kwargs):  # told nothing of what comes next
        return planning.search(lambda n: evaluate(n, None), *args, **kwargs)

    monkeypatch.setattr(planning, "search_ahead", plain)
    monkeypatch.setattr(planning, "next_after_confirmation", lambda *args: None)
    assert main(["plan", str(path), "--out", str(tmp_path / "plain"), "--quiet",
                 "--jobs", jobs]) == 0
    assert (tmp_path / "ahead" / "tiny" / "plan.json").read_bytes() == \
        (tmp_path / "plain" / "tiny" / "plan.json").read_bytes()
    assert ahead != runs if jobs == "2" else ahead == runs


def test_plan_rejects_bad_slos(capsys):
    assert main(["plan", "scenarios/density.yaml", "--slo", "latency<=1s", "--quiet"]) == 2
    assert "unknown metric 'latency'" in capsys.readouterr().err
    assert main(["plan", "scenarios/density.yaml", "--quiet"]) == 2


@pytest.mark.slow
def test_density_command_writes_the_documented_shape(tmp_path):
    assert main(["density", "scenarios/density-mixed.yaml", "--out", str(tmp_path),
                 "--quiet"]) == 0
    folder = tmp_path / "density-mixed"
    data = json.loads((folder / "density.json").read_text())
    assert set(data["mixed"]) == {"api", "batch"}
    for per_mode in data["mixed"].values():
        assert set(per_mode) == {"process", "hyperv", "vm"}
        for entry in per_mode.values():
            assert isinstance(entry["per_host"], int) and entry["binding"] in (
                "memory", "cpu", "disk", "partitions")
    packing = json.loads((folder / "packing.json").read_text())["mixed"]
    for mode in ("process", "hyperv", "vm"):
        assert packing[mode]["hosts"] >= packing[mode]["lower_bound"] >= 1
    assert (folder / "density_per_host.png").stat().st_size > 10_000
    # a later run keeps what density wrote
    assert main(["run", "scenarios/density-mixed.yaml", "--out", str(tmp_path), "--quiet",
                 "--no-charts"]) == 0
    assert (folder / "density.json").is_file() and (folder / "summary.json").is_file()


class _Out:
    """What ``judge`` reads of a run: its metrics."""

    def __init__(self, metrics: dict) -> None:
        self.metrics = metrics


def _pending(count: int, ages: dict[str, float]) -> _Out:
    """100 requests, 100 - ``count`` started in 10 s, ``count`` still waiting at the end."""
    return _Out({"requests": 100, "started": 100 - count, "pending_at_end": count,
                 "startup_s": {"p99": 10.0, "mean": 10.0},
                 "pending_age_s": {"p50": ages["p50"], "p95": ages["p95"],
                                   "p99": ages["p99"], "max": ages["max"]}})


def test_requests_still_waiting_fail_a_p99_only_once_they_have_waited_past_its_limit():
    from sim.planning.planner import judge

    slo = parse_slo("startup_p99<=60s", metric_names())
    young = {"p50": 20.0, "p95": 40.0, "p99": 50.0, "max": 55.0}  # arrived in the last minute
    assert judge([_pending(5, young)], [slo], 1).passed  # no violation seen yet
    old = {"p50": 20.0, "p95": 50.0, "p99": 70.0, "max": 90.0}  # up to 5 % of them past 60 s
    assert judge([_pending(5, old)], [slo], 1).passed  # 5 % of 5 %: within the 1 %
    stuck = {"p50": 300.0, "p95": 400.0, "p99": 500.0, "max": 600.0}
    assert not judge([_pending(5, stuck)], [slo], 1).passed  # 5 % waited past it
    assert judge([_pending(1, stuck)], [slo], 1).passed  # 1 % may be ignored by a p99
    mean = parse_slo("startup_mean<=60s", metric_names())
    assert not judge([_pending(1, old)], [mean], 1).passed  # a mean ignores none
    assert judge([_pending(1, young)], [mean], 1).passed


def test_an_answer_that_fails_over_twice_the_window_is_searched_again(tmp_path):
    """Instances that never stop, 1 a minute, on 10-core hosts: 30 min need 3 hosts, but the
    confirmation over 60 min needs 6, and the plan keeps 6."""
    data = scenario(duration="30min", host={"cpu_cores": 10},
                    workload={"arrival": {"kind": "constant", "interval": "1min"}})
    path = tmp_path / "grow.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["plan", str(path), "--slo", "startup_p99<=10s", "--replications", "1",
                 "--out", str(tmp_path), "--quiet"]) == 0
    result = json.loads((tmp_path / "tiny" / "plan.json").read_text())["free"]
    assert result["confirmation"] == {"duration_s": 3600.0, "hosts": 3, "passed": False,
                                      "failed": ["startup_p99<=10s"], "searched_again": 6}
    assert result["hosts"] == 6


def test_the_plan_table_has_a_cost_column_only_when_a_cost_is_set():
    from rich.console import Console

    from sim.cli.planning import plan_rich

    slo = parse_slo("blocking<=1%", metric_names())
    result = {"hosts": 3, "hosts_judged": 3, "met": True, "metrics": {"density_max": 5},
              "probes": [{"hosts": 3, "metrics": {"blocking": {"mean": 0.0, "ci95": None}}}]}
    for cost, shown in ((None, False), (12.5, True)):
        console = Console(width=120, record=True)
        console.print(plan_rich("s", "h", {"process": {**result, "cost": cost}}, [slo], 0))
        text = console.export_text()
        assert ("cost" in text) is shown and ("12.50" in text) is shown


def test_a_traces_peak_is_the_moment_its_running_instances_fill_the_most_hosts(tmp_path):
    """Hosts of 16 vCPU / 64 GiB. A (2 vCPU, 4 GiB) runs [0, 100) s, a quarter-host B
    (4 vCPU, 8 GiB) [10, 60), a half-host D (8 vCPU, 1 GiB) [60, 70), C (1 vCPU, 2 GiB) from
    70 s. The most is A + D at 60 s (0.625 of a host): B ends at 60 s as D starts, and an end
    comes before a start at one moment. The mean is what ``trace_sizes`` gives."""
    from sim.planning.capacity import trace_peak, trace_sizes

    path = tmp_path / "vms.csv"
    path.write_text("t,life,vcpu,mem\n0,100,2,4\n10,50,4,8\n60,10,8,1\n70,100,1,2\n")
    data = scenario(duration="200s", workload={"arrival": {
        "kind": "trace", "format": "csv", "path": str(path), "memory_unit": "1GiB",
        "columns": {"arrival": "t", "lifetime": "life", "cpu": "vcpu", "memory": "mem"}}})
    loaded = load(data)
    workload = loaded.scenario.workloads[0]
    assert trace_peak(workload, loaded.scenario, 16.0, 64 * GiB) == [
        (2.0, 4 * GiB, 1.0), (8.0, 1 * GiB, 1.0)]
    assert trace_sizes(workload, loaded.scenario) == [
        (2.0, 4 * GiB, 0.5), (1.0, 2 * GiB, 0.5), (4.0, 8 * GiB, 0.25), (8.0, 1 * GiB, 0.05)]


class _Run:
    """A replication as ``judge`` and ``doomed`` read it: its metrics."""

    def __init__(self, p99: float) -> None:
        self.metrics = {"startup_s": {"p99": p99}, "requests": 100}


def test_a_probe_is_doomed_only_when_no_replications_still_to_come_could_make_it_pass():
    """Doomed: whatever the one (or two) replications still to come give, the probe fails;
    a grid of the values they could give holds it to that."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from sim.planning.planner import doomed, judge

    upper = parse_slo("startup_p99<=30s", metric_names())
    lower = SLO("startup_s.p99", ">=", 30.0, "startup_p99>=30s")
    grid = [x / 2 for x in range(-100, 500)]  # what the last replication could give
    pairs = [(x, y) for x in grid[::8] for y in grid[::8]]  # what the last two could give

    @settings(max_examples=25, deadline=None)
    @given(st.lists(st.floats(0, 200, allow_nan=False), min_size=1, max_size=3),
           st.sampled_from([upper, lower]), st.sampled_from([1, 2]))
    def check(values: list[float], slo: SLO, missing: int) -> None:
        known = [_Run(v) for v in values]
        completions = [[x] for x in grid] if missing == 1 else pairs
        verdicts = [judge([*known, *map(_Run, more)], [slo], 5).passed for more in completions]
        if doomed(known, [slo], missing):
            assert not any(verdicts)  # exact: nothing the others give passes
            assert not judge(known, [slo], 5).passed  # nor do these alone
        # and tight: not doomed with 1 s to spare (a limit 1 s stricter), the others all
        # equal to one of the grid's values or of the known ones pass (the end moves by less
        # than 1 s over half a grid step, and with one known value it is that value)
        shift = -1.0 if slo.op == "<=" else 1.0
        if not doomed(known, [SLO(slo.metric, slo.op, slo.limit + shift, slo.text)], missing):
            assert any(judge([*known, *[_Run(x)] * missing], [slo], 5).passed
                       for x in [*grid, *values])

    check()
    assert doomed([_Run(90.0), _Run(95.0)], [upper])  # far past the limit: certain
    assert not doomed([_Run(10.0), _Run(12.0)], [upper])  # within it: a third may confirm
    assert doomed([_Run(31.0), _Run(10.0)], [upper])  # so spread no third can narrow it
    assert not doomed([_Run(29.0), _Run(28.0)], [upper])  # a third near them passes:
    assert judge([_Run(29.0), _Run(28.0), _Run(28.5)], [upper], 5).passed
    # one replication past the limit: of three, the pessimistic end is at least the largest
    assert doomed([_Run(30.5)], [upper], 2) and not doomed([_Run(29.5)], [upper], 2)
    assert judge([_Run(29.5), _Run(29.5), _Run(29.5)], [upper], 5).passed


def test_a_probe_is_decided_on_the_fewest_first_replications_that_doom_it():
    """A certain failure is decided on one or two of three, the fewest first ones that make it
    certain; a pass never is (the third may undo it: a start-up p99 over replications is
    heavy-tailed); a replication after those is not read."""
    from sim.planning.planner import decided

    upper = parse_slo("startup_p99<=30s", metric_names())
    failed = decided([_Run(90.0), _Run(95.0)], [upper], 5, 3)  # doomed on the first
    assert failed is not None and not failed.passed and failed.replications == 1
    assert failed.metrics["startup_s"]["p99"] == 90.0
    failed = decided([_Run(28.0), _Run(95.0)], [upper], 5, 3)  # on the first two
    assert failed is not None and not failed.passed and failed.replications == 2
    assert decided([_Run(31.0), _Run(10.0)], [upper], 5, 3).replications == 1
    assert decided([_Run(10.0), _Run(12.0)], [upper], 5, 3) is None  # passing: the third judges
    assert decided([_Run(29.0), _Run(28.0)], [upper], 5, 3) is None
    assert decided([_Run(10.0)], [upper], 5, 3) is None
    assert decided([_Run(10.0), _Run(12.0), _Run(99.0)], [upper], 5, 3) is None  # all: judge
    assert decided([_Run(90.0)], [upper], 5, 1) is None  # one replication in all: judge
    assert decided([], [upper], 5, 3) is None


@pytest.mark.slow
def test_a_plan_is_the_same_on_any_number_of_processes(tmp_path):
    """One process runs a probe's replications in turn, two run the last only when the
    others leave the verdict open, three run them all at once: the verdicts, the
    replications each probe is judged on (a certain failure on two) and plan.json are the
    same."""
    path = _erlang_pool(tmp_path)
    for jobs in ("1", "2", "3"):
        assert main(["plan", str(path), "--out", str(tmp_path / jobs), "--quiet",
                     "--jobs", jobs]) == 0
    plans = {jobs: (tmp_path / jobs / "tiny" / "plan.json").read_bytes()
             for jobs in ("1", "2", "3")}
    assert plans["1"] == plans["2"] == plans["3"]
    probes = json.loads(plans["1"])["free"]["probes"]
    assert {p["replications"] for p in probes} == {1, 3}  # some failures decided on one


def test_what_comes_after_a_search_and_its_confirmation():
    """After a search, its answer's confirmation over the longer window; after a failed
    confirmation, the search again there from the next count; after a passed one, the next
    mode's first probe, from that answer scaled by the two modes' first guesses."""
    from sim.cli.planning import next_after_confirmation, next_after_search

    loaded, longer = object(), object()
    assert next_after_search(longer, "process", 40) == (longer, "process", 40)
    assert next_after_search(longer, "process", None) is None
    after = functools.partial(next_after_confirmation, loaded, longer)
    assert after("process", 36, ("hyperv", 38, False), 40, False) == (longer, "process", 41)
    assert after("process", 36, ("hyperv", 38, False), 40, True) == \
        (loaded, "hyperv", 42)  # 40 x 38 / 36: the answer scaled by the first guesses
    assert after("vm", 36, None, 40, True) is None
    # a guess that is a lower bound is a floor; one only near the answer (a trace's peak) not
    assert after("process", 40, ("hyperv", 42, False), 36, True) == (loaded, "hyperv", 42)
    assert after("process", 40, ("hyperv", 42, True), 36, True) == \
        (loaded, "hyperv", 38)  # 36 x 42 / 40
    assert after("process", 3, ("hyperv", 1, True), 1, True) == (loaded, "hyperv", 1)  # not 0
