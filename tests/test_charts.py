"""Charts a reader who did not write them understands: legends that say what the tables say,
lines that stay apart, axes in the scenario's units, no empty panels. The label and layout
rules are small pure functions, tested here; the drawings themselves are smoke-tested on
results written by hand."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from sim.present import plots
from sim.present.formats import show
from sim.spec.slo import parse_slo
from sim.spec.units import format_duration


def test_the_cdf_legend_writes_percentiles_as_the_table_does():
    metrics = {"startup_s": {"p50": 3.97, "p99": 218.16}}
    label = plots.cdf_label("hyperv", 3.97, 218.16)
    assert label == f"hyperv: p50 {format_duration(3.97)}, p99 {format_duration(218.16)}"
    assert "p99 3.636min" in label and show(metrics, "startup_s.p99") == "3.636min"
    assert plots.cdf_label("vm", None, None) == "vm: p50 -, p99 -"


def _result(hosts: int | None, judged: int | None, headroom: int) -> dict[str, Any]:
    return {"hosts": hosts, "hosts_judged": judged, "headroom": headroom,
            "met": hosts is not None, "probes": []}


def test_the_plan_legend_gives_the_tables_answer():
    label = plots.plan_label("process", _result(109, 108, 1))
    assert label.startswith("process: 109 hosts") and "judged at 108 = n-1" in label
    assert plots.plan_label("hyperv", _result(30, 30, 0)) == "hyperv: 30 hosts"
    assert plots.plan_label("vm", _result(None, None, 1)) == "vm: not met"


def test_the_plan_host_axis_is_linear_over_a_narrow_range():
    assert plots.plan_xscale([104, 108, 115]) == "linear"
    assert plots.plan_xscale([27, 28, 56, 112, 896]) == "log"
    assert plots.plan_xscale([]) == "linear"
    results = {"process": {**_result(29, 28, 1)}, "vm": {**_result(None, None, 1)}}
    low, high = plots.plan_zoom(results, [27, 28, 56, 112, 896]) or (0, 0)
    assert low < 27 and 56 <= high < 112  # the answers, not vm's far probes
    assert plots.plan_zoom({"vm": _result(None, None, 1)}, [27, 896]) is None


def _agg(blocking: float) -> pd.DataFrame:
    rows = []
    for variant in ("process", "vm"):
        for count in (4, 8):
            for metric, _ in plots.SWEEP_METRICS:
                value = blocking if metric == "blocking" else 10.0 / count
                rows.append({"variant": variant, "hosts[h].count": count, "metric": metric,
                             "mean": value, "std": 0.0, "ci95": 0.5, "n": 3})
    return pd.DataFrame(rows)


def test_a_metric_that_is_zero_everywhere_gets_no_panel():
    drawn, empty = plots.sweep_panels(_agg(0.0))
    assert "blocking" not in [m for m, _ in drawn] and empty == ["blocking (rejected / requests)"]
    drawn, empty = plots.sweep_panels(_agg(0.01))
    assert len(drawn) == len(plots.SWEEP_METRICS) and empty == []
    assert not plots.has_data([0.0, float("nan")]) and plots.has_data([0.0, 2.0])


def test_swept_values_are_ticked_as_the_scenario_writes_them():
    ticks, texts = plots.swept_ticks({"0.2/s": 0.2, "0.1/s": 0.1})
    assert ticks == [0.1, 0.2] and texts == ["0.1/s", "0.2/s"]
    ticks, texts = plots.swept_ticks({str(n): float(n) for n in range(1, 31)}, at_most=10)
    assert len(ticks) <= 10 and texts[0] == "1" and all(t.isdigit() for t in texts)


def test_axis_units_follow_the_metric():
    assert plots.axis_unit("memory_utilization_mean", [0.1, 0.5]) == (0.01, "%")
    assert plots.axis_unit("startup_s.p99", [30.0, 1000.0]) == (60.0, "min")
    assert plots.axis_unit("startup_s.p50", [3.0, 9.0]) == (1.0, "s")
    assert plots.axis_unit("density_max", [3.0]) == (1.0, "")


def test_duration_ticks_are_round_and_few():
    ticks = plots.duration_ticks(1.1, 1000.0)
    assert 2 <= len(ticks) <= 9 and all(1.1 <= t <= 1000 for t in ticks)
    assert [format_duration(t) for t in plots.duration_ticks(10, 60)] == ["10s", "20s", "30s",
                                                                          "1min"]


def test_variants_get_distinct_styles_and_staggered_markers():
    styles = [plots.line_style(i, 3, 240) for i in range(3)]
    assert len({(s["linestyle"], s["marker"]) for s in styles}) == 3
    assert len({s["markevery"][0] for s in styles}) == 3  # markers never on top of each other
    assert all(s["markevery"][1] == 20 for s in styles)


def test_plan_and_sweep_charts_draw(tmp_path: Path):
    probes = [{"hosts": n, "passed": n >= 28, "failed": [],
               "metrics": {"startup_s.p99": {"mean": 100.0 / n, "ci95": 0.5}}}
              for n in (27, 28, 30, 56)]
    far = [{"hosts": n, "passed": False, "failed": ["x"],
            "metrics": {"startup_s.p99": {"mean": 140.0, "ci95": 5.0}}} for n in (28, 448, 896)]
    results = {"process": {**_result(29, 28, 1), "probes": probes},
               "vm": {**_result(None, None, 1), "probes": far}}
    slo = parse_slo("startup_p99<=45s", {"startup_s.p99"})
    plots.plan_charts(tmp_path, "t", results, [slo], "farm")
    assert (tmp_path / "plan_1_startup_s_p99.png").stat().st_size > 10_000
    numeric = {"hosts[h].count": {"4": 4.0, "8": 8.0}}
    plots.sweep_chart(tmp_path, "t", _agg(0.0), ["hosts[h].count"], numeric, 0)
    assert (tmp_path / "sweep_1_hosts_h__count.png").stat().st_size > 10_000


@pytest.mark.parametrize("n", [1, 3])
def test_running_draws_a_panel_per_variant(tmp_path: Path, n: int):
    class Run:
        def __init__(self, name: str) -> None:
            t = np.arange(0, 3600, 60.0)
            self.name = name
            self.timeseries = pd.DataFrame({"time_s": t, "running": np.minimum(t / 60, 40),
                                            "queued": np.zeros_like(t)})

    plots.running(tmp_path / "running.png", "t", [Run(m) for m in ("process", "hyperv",
                                                                    "vm")[:n]], 600.0)
    assert (tmp_path / "running.png").stat().st_size > 10_000


def test_start_up_phases_of_instant_start_ups_draw_without_a_warning(tmp_path: Path):
    """Every phase took no time (a profile with free start-ups): no bar, no legend, and no
    matplotlib warning about a legend of nothing; the note names the phases left out."""
    import warnings

    class Run:
        name = "free"
        metrics = {"wait_s": {"mean": 0.0},
                   "phases_s": {p: {"mean": 0.0} for p in plots.PHASES}}

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plots.startup_phases(tmp_path / "phases.png", "t", [Run()])
    assert (tmp_path / "phases.png").stat().st_size > 5_000


@pytest.mark.parametrize("startups", [[0.0, 0.0, 0.0], []])
def test_a_cdf_of_instant_start_ups_or_of_none_draws_without_a_warning(tmp_path: Path,
                                                                       startups: list[float]):
    """Every start-up took 0 s (a profile of free phases), or none started: a log scale would
    show nothing (matplotlib warned that no value was positive), so the axis is linear and
    its label says why."""
    import warnings

    class Run:
        name = "free"
        instances = pd.DataFrame({"arrival": [10.0 * i for i in range(len(startups))],
                                  "running": [10.0 * i + s for i, s in enumerate(startups)]})
        metrics = {"startup_s": {"p50": 0.0, "p99": 0.0}}

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plots.startup_cdf(tmp_path / "cdf.png", "t", [Run()], 0.0)
    assert (tmp_path / "cdf.png").stat().st_size > 5_000


def test_a_legend_of_the_tables_means_says_so_beside_curves_of_one_replication(tmp_path):
    """The start-up CDF's legend gives the tables' p50 and p99 (means over replications)
    beside the curves of replication 1: its title said only the latter."""
    import json

    (tmp_path / "summary.json").write_text(json.dumps({"replications": 3, "variants": {}}))

    class Run:
        name = "process"
        instances = pd.DataFrame({"arrival": [0.0], "running": [1.0]})
        metrics: dict[str, Any] = {}
        extra: dict[str, Any] = {}

    notes = {call.func.__name__: call.args[-1] for call in
             plots.chart_calls(tmp_path, "t", [Run()], 0.0)}
    assert notes["startup_cdf"] == notes["memory"] == (
        "\n(curves: replication 1 of 3; legend: the mean over replications)")
    assert notes["running"] == notes["density"] == " (curves: replication 1 of 3)"


@pytest.mark.parametrize("swept", [False, True])
def test_charts_drawn_in_other_processes_are_the_same_files_as_drawn_here(tmp_path, swept):
    """Two jobs: a worker and a process it forks share the charts (a sweep's too); the files
    are byte for byte those one process draws."""
    import yaml

    from sim.cli import main
    from tests.helpers import two_workloads

    data = two_workloads()
    if swept:
        data = {**data, "sweep": {"hosts[0].count": [1, 2],
                                  "workloads[web].app_start": ["1s", "2s"]}}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    for jobs in ("1", "2"):  # two jobs: other processes draw them
        assert main(["run", str(path), "--out", str(tmp_path / jobs), "--quiet",
                     "--jobs", jobs]) == 0
    pngs = sorted(p.name for p in (tmp_path / "1" / "tiny").glob("*.png"))
    assert len(pngs) >= (2 if swept else 5)
    for name in pngs:
        assert (tmp_path / "1" / "tiny" / name).read_bytes() == \
            (tmp_path / "2" / "tiny" / name).read_bytes(), name


def test_a_failure_in_the_charts_process_is_raised_here_with_its_traceback():
    from sim.present.aside import Charts
    from sim.run.runner import Workers

    with Workers(jobs=2) as workers:
        assert workers.fork()  # Linux forks
        aside = Charts(workers.submit, 2)
        aside.draw("no_such_chart")
        with pytest.raises(RuntimeError, match=r"(?s)drawing the charts failed:.*no_such_chart"):
            aside.wait()
        Charts(workers.submit, 2).wait()  # nothing sent: it returns once matplotlib is loaded
    with pytest.raises(RuntimeError, match="fork"):
        Workers(jobs=2).submit(print)


def _broken_charts(folder: Path) -> list:
    """Four charts' calls, the third of which fails (for the test below; looked up by name
    in the worker, which is forked after it is set on ``plots``)."""
    def chart(i: int) -> None:
        if i == 2:
            raise ValueError("chart 2 cannot be drawn")
        (folder / f"{i}.txt").write_text(str(i))

    return [functools.partial(chart, i) for i in range(4)]


def test_a_chart_that_fails_among_others_drawn_apart_is_told_and_the_others_drawn(
        tmp_path, monkeypatch):
    from sim.present.aside import Charts
    from sim.run.runner import Workers

    monkeypatch.setattr(plots, "broken_charts", _broken_charts, raising=False)
    with Workers(jobs=2) as workers:
        assert workers.fork()
        aside = Charts(workers.submit, 2)
        aside.draw("broken_charts", tmp_path)
        with pytest.raises(RuntimeError, match=r"(?s)failed:.*ValueError: chart 2 cannot"):
            aside.wait()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0.txt", "1.txt", "3.txt"]


def test_a_refused_fork_in_the_charts_worker_is_told_here(tmp_path, monkeypatch):
    from sim.present.aside import Charts
    from sim.run import forks
    from sim.run.runner import Workers

    def refused(calls, processes):
        raise OSError("fork: resource temporarily unavailable")

    monkeypatch.setattr(plots, "broken_charts", _broken_charts, raising=False)
    monkeypatch.setattr(forks, "shared", refused)
    with Workers(jobs=2) as workers:
        assert workers.fork()  # after the patches: the worker has them
        aside = Charts(workers.submit, 2)
        aside.draw("broken_charts", tmp_path)
        with pytest.raises(RuntimeError, match=r"(?s)failed:.*OSError: fork: resource"):
            aside.wait()
