"""Uncertainty studies (#22): ranges read and refused, designs, indices against closed forms,
and the commands' files.

The tiny scenario starts one instance of the cost-free profile at 0 s on an idle host, its
image preloaded: its start-up is exactly create + boot, so an input's effect is arithmetic.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from sim.analysis import sensitivity
from sim.edge.loader import ScenarioError, derive
from sim.experiment.uncertainty import study, unit_rows
from sim.run.runner import execute
from sim.spec.config import UncertainRange
from sim.spec.uncertain import inputs
from tests.helpers import load, scenario

ROOT = Path(__file__).resolve().parents[1]


def tiny(uncertainty: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """One instance of the free profile, create 1 s and boot 2 s (constants), with
    ``uncertainty``; the start-up is create + boot."""
    data = scenario(**changes)
    data["profiles"]["free"] = {**data["profiles"]["free"], "create": "1s", "boot": "2s"}
    data["uncertainty"] = uncertainty
    return data


def metric(specs: Any, name: str = "startup_s.p50") -> list[float]:
    return [execute(spec).metrics["startup_s"][name.split(".")[1]] for spec in specs]


# --- ranges -----------------------------------------------------------------------------------

def test_a_pair_is_uniform_and_values_map_quantiles() -> None:
    r = UncertainRange.model_validate(["2s", "4s"])
    assert (r.dist, r.bounds()) == ("uniform", (2.0, 4.0, None))
    loaded = load(tiny({"profiles.free.boot": ["2s", "4s"], "hosts[h].count": [1, 3]}))
    boot, count = inputs(loaded.scenario, loaded.profiles)
    assert (boot.nominal, boot.value(0.0), boot.value(0.25), boot.value(1.0)) == (2.0, 2.0, 2.5,
                                                                                   4.0)
    # a count: each whole number equally likely
    assert [count.value(u) for u in (0.0, 0.33, 0.34, 0.66, 0.67, 1.0)] == [1, 1, 2, 2, 3, 3]


def test_triangular_and_loguniform_quantiles() -> None:
    loaded = load(tiny({
        "workloads[w].memory": {"dist": "triangular", "low": "1GiB", "mode": "1GiB",
                                "high": "3GiB"},
        "profiles.free.boot": {"dist": "loguniform", "low": "1s", "high": "100s"}}))
    memory, boot = inputs(loaded.scenario, loaded.profiles)
    gib = 1024**3
    # triangular with its mode at low: F(x) = 1 - ((high - x) / (high - low))^2
    assert memory.value(0.75) == pytest.approx(3 * gib - 2 * gib * math.sqrt(0.25))
    assert boot.value(0.5) == pytest.approx(10.0)


def test_builtin_estimates_are_inputs_unless_set_or_fixed() -> None:
    data = scenario(workload={"isolation": "hyperv"})
    data["profiles"] = {"hyperv": {"boot": "5s"}}
    data["uncertainty"] = {"profiles.hyperv.create.median": "fixed"}
    loaded = load(data)
    paths = [i.path for i in inputs(loaded.scenario, loaded.profiles)]
    assert "profiles.hyperv.cpu_bound_fraction" in paths
    assert not any(p.startswith("profiles.hyperv.boot") for p in paths)  # the scenario's own
    assert "profiles.hyperv.create.median" not in paths  # fixed
    assert "profiles.hyperv.create.p95" in paths
    assert not any(p.startswith("profiles.process") for p in paths)  # not used


def test_a_builtin_default_is_written_out_to_change_it() -> None:
    data = scenario(workload={"isolation": "hyperv"})
    loaded = load({**data, "uncertainty": {"profiles.hyperv.boot.median": ["3s", "12s"]}})
    point = derive(loaded, (("profiles.hyperv.boot.median", 5.0),))
    assert point.profiles["hyperv"].boot.median == 5.0
    assert point.profiles["hyperv"].boot.p95 == loaded.profiles["hyperv"].boot.p95
    assert point.scenario.uncertainty is None  # a point holds what it simulates


@pytest.mark.parametrize(("entry", "message"), [
    ({"profiles.free.boot": ["3s", "2s"]}, "needs low <= high"),
    ({"profiles.free.boot": ["1s", "2GiB"]}, "of one kind"),
    ({"hosts[h].count": [0, 4]}, "at its low 0"),
    ({"workloads[w].image": [1, 2]}, "names no number"),
    ({"hosts[nope].count": [1, 2]}, "no entry named 'nope'"),
    ({"seed": [1, 2]}, "cannot be uncertain"),
    ({"profiles.free.boot": {"dist": "triangular", "low": "1s", "high": "2s"}}, "mode"),
    ({"profiles.free.boot": {"dist": "loguniform", "low": 0, "high": "2s"}}, "low > 0"),
])
def test_bad_ranges_are_refused_where_they_are_written(entry: dict[str, Any],
                                                       message: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        load(tiny(entry))
    (problem,) = caught.value.problems
    assert message in problem.message
    assert problem.line > 1 and problem.path.startswith("uncertainty")


# --- designs and indices ------------------------------------------------------------------------

def test_one_at_a_time_swings_are_the_arithmetic_and_a_zero_width_range_moves_nothing() -> None:
    loaded = load(tiny({"profiles.free.boot": ["1s", "5s"], "profiles.free.create": ["1s", "1s"],
                        "workloads[w].memory": ["1GiB", "2GiB"]}))
    oat = study(loaded, (), "oat", 0)
    nominal, entries = sensitivity.swings(oat.inputs, metric(oat.specs))
    assert nominal == 3.0
    by_path = {e["path"]: e for e in entries}
    assert (by_path["profiles.free.boot"]["low_value"],
            by_path["profiles.free.boot"]["high_value"]) == (2.0, 6.0)
    assert by_path["profiles.free.create"]["swing"] == 0.0
    assert by_path["workloads[w].memory"]["swing"] == 0.0


def test_the_one_input_a_metric_depends_on_takes_all_the_variance() -> None:
    loaded = load(tiny({"profiles.free.boot": ["1s", "5s"],
                        "workloads[w].memory": ["1GiB", "2GiB"],
                        "hosts[h].disk_rate": ["500MB/s", "2GB/s"]}))
    sobol = study(loaded, (), "sobol", 64)
    indices = sensitivity.sobol(sobol, metric(sobol.specs), seed=1)
    assert indices is not None
    boot, memory, disk = indices
    assert boot["S1"] == pytest.approx(1.0, abs=max(boot["S1_conf"], 0.05))
    assert boot["ST"] == pytest.approx(1.0, abs=max(boot["ST_conf"], 0.05))
    for other in (memory, disk):
        assert abs(other["S1"]) <= max(other["S1_conf"], 1e-9)
        assert other["ST"] == 0.0


def test_two_additive_uniform_phases_share_the_variance_as_their_variances() -> None:
    """create ~ U[0, 1] s, boot ~ U[0, 2] s: start-up = create + boot, whose variance is
    1/12 + 4/12, so S1 = ST = 0.2 and 0.8."""
    loaded = load(tiny({"profiles.free.create": ["0s", "1s"], "profiles.free.boot": ["0s", "2s"]}))
    sobol = study(loaded, (), "sobol", 128)
    values = metric(sobol.specs)
    rows = np.asarray([[p[1] for p in spec.parameters] for spec in sobol.specs])
    assert values == pytest.approx(list(rows.sum(axis=1)))  # the model adds them exactly
    create, boot = sensitivity.sobol(sobol, values, seed=1) or []
    for index, share in ((create, 0.2), (boot, 0.8)):
        for key in ("S1", "ST"):
            assert index[key] == pytest.approx(share, abs=max(2 * index[f"{key}_conf"], 0.03))


def test_the_estimators_on_a_closed_form_with_an_interaction() -> None:
    """Y = x1 + x1 x2 on U[0, 1]^2 (no simulation): V1 = 1.5^2/12, V2 = 0.5^2/12,
    V12 = 1/144; S1 = 0.6923, ST1 = 0.7692, S2 = 0.0769, ST2 = 0.1538."""
    from sim.experiment.uncertainty import Study

    loaded = load(tiny({"profiles.free.create": [0, 1], "profiles.free.boot": [0, 1]}))
    unit = unit_rows("sobol", 2, 1024, seed=3)
    y = unit[:, 0] + unit[:, 0] * unit[:, 1]
    design = Study("base", (), tuple(inputs(loaded.scenario, loaded.profiles)), "sobol", unit,
                   ())
    (i1, i2) = sensitivity.sobol(design, list(y), seed=1) or []
    total = 1.5**2 / 12 + 0.5**2 / 12 + 1 / 144
    for got, want in ((i1["S1"], 1.5**2 / 12 / total), (i2["S1"], 0.5**2 / 12 / total),
                      (i1["ST"], (1.5**2 / 12 + 1 / 144) / total),
                      (i2["ST"], (0.5**2 / 12 + 1 / 144) / total)):
        assert got == pytest.approx(want, abs=0.03)


def test_morris_ranks_the_input_that_matters_first() -> None:
    loaded = load(tiny({"profiles.free.boot": ["1s", "5s"],
                        "workloads[w].memory": ["1GiB", "2GiB"]}))
    morris = study(loaded, (), "morris", 8)
    boot, memory = sensitivity.morris(morris, metric(morris.specs), seed=1) or []
    assert boot["mu_star"] == pytest.approx(4.0)  # the whole range moves it 4 s, linearly
    assert memory["mu_star"] == 0.0


def test_band_quantiles() -> None:
    found = sensitivity.band([*range(101), None, "x"])
    assert found == {"p5": 5.0, "median": 50.0, "p95": 95.0, "samples": 101}
    assert sensitivity.band([None]) is None


def test_designs_are_the_same_for_the_same_seed() -> None:
    loaded = load(tiny({"profiles.free.boot": ["1s", "5s"]}))
    a = [s.parameters for s in study(loaded, (), "band", 8).specs]
    b = [s.parameters for s in study(loaded, (), "band", 8).specs]
    assert a == b
    assert all(spec.seed == 1 and spec.replication == 0
               for spec in study(loaded, (), "band", 8).specs)  # common random numbers


# --- the commands -------------------------------------------------------------------------------

def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sim", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600)


def test_sensitivity_and_uncertainty_commands_write_their_files(tmp_path: Path) -> None:
    data = tiny({"profiles.free.boot": ["1s", "5s"], "workloads[w].memory": ["1GiB", "2GiB"]})
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data))
    done = _cli("sensitivity", "s.yaml", "--metric", "startup_s.p50", "--samples", "8",
                "--out", "out", "--jobs", "2", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "out/tiny/sensitivity.json").read_text())
    ranked = result["metrics"]["startup_s.p50"]
    assert [e["path"] for e in ranked] == ["profiles.free.boot", "workloads[w].memory"]
    assert (ranked[0]["low_value"], ranked[0]["high_value"]) == (2.0, 6.0)
    assert {"S1", "S1_conf", "ST", "ST_conf"} <= set(ranked[0])
    assert list((tmp_path / "out/tiny").glob("tornado_*.png"))
    assert "What moves" in (tmp_path / "out/tiny/report.html").read_text()

    done = _cli("run", "s.yaml", "--uncertainty", "10", "--out", "out", "--jobs", "1",
                cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "out/tiny/summary.json").read_text())
    band = summary["variants"]["base"]["uncertainty"]["startup_s.p50"]
    assert 2.0 <= band["p5"] <= band["median"] <= band["p95"] <= 6.0
    first = (tmp_path / "out/tiny/summary.json").read_bytes()
    assert (tmp_path / "out/tiny/sensitivity.json").exists()  # kept beside the run's files
    done = _cli("run", "s.yaml", "--uncertainty", "10", "--out", "out2", "--jobs", "2",
                cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out2/tiny/summary.json").read_bytes() == first  # any worker count


def test_plan_over_the_assumptions(tmp_path: Path) -> None:
    data = tiny({"workloads[w].memory": ["1GiB", "8GiB"]}, workload={
        "arrival": {"kind": "burst", "count": 8, "at": 0}}, host={"memory": "16GiB"})
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(data))
    done = _cli("plan", "p.yaml", "--slo", "startup_p99<=10s", "--replications", "1",
                "--uncertainty", "6", "--out", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    band = json.loads((tmp_path / "out/tiny/plan.json").read_text())["free"]["uncertainty"]
    assert band["samples"] == 6 and band["inputs"] == ["workloads[w].memory"]
    # more memory per instance never needs fewer hosts; the quantiles are of the samples
    by_memory = sorted(zip((v for (v,) in band["values"]), band["hosts"]))
    hosts = [h for _, h in by_memory]
    assert hosts == sorted(hosts) and hosts[0] < hosts[-1]
    assert min(hosts) <= band["p5"] <= band["median"] <= band["p95"] <= max(hosts)
    assert "over the assumptions" in done.stdout


def test_a_study_of_a_sweep_is_refused(tmp_path: Path) -> None:
    data = tiny({})
    del data["uncertainty"]
    data["sweep"] = {"hosts[h].count": [1, 2]}
    (tmp_path / "w.yaml").write_text(yaml.safe_dump(data))
    done = _cli("run", "w.yaml", "--uncertainty", "4", "--out", "out", cwd=tmp_path)
    assert done.returncode == 2 and "w.yaml:" in done.stderr and "sweep" in done.stderr
    assert not (tmp_path / "out/tiny").exists()
    done = _cli("sensitivity", "w.yaml", "--metric", "startup_s.p99", "--out", "out",
                cwd=tmp_path)
    assert done.returncode == 2 and "sweep" in done.stderr
    done = _cli("sensitivity", "w.yaml", "--metric", "startup_s.p999", "--out", "out",
                cwd=tmp_path)
    assert done.returncode == 2 and "did you mean" in done.stderr
    # plan's short name of a metric is read here too (it was 'not a metric of summary.json')
    done = _cli("sensitivity", "w.yaml", "--metric", "startup_p99", "--out", "out",
                cwd=tmp_path)
    assert done.returncode == 2 and "sweep" in done.stderr and "not a metric" not in done.stderr


def test_a_sampled_combination_that_is_not_a_scenario_stops_the_command(tmp_path: Path) -> None:
    """Each end of each range is valid alone (checked at load); a median drawn above a p95
    is not: the command names the sample at uncertainty:, exits 2 and writes nothing."""
    data = tiny({"profiles.free.boot.median": ["1s", "5s"],
                 "profiles.free.boot.p95": ["2s", "6s"]})
    data["profiles"]["free"]["boot"] = {"dist": "lognormal", "median": "1s", "p95": "6s"}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(data))
    for command in (["run", "c.yaml", "--uncertainty", "16"],
                    ["plan", "c.yaml", "--slo", "startup_p99<=1min", "--uncertainty", "16"]):
        done = _cli(*command, "--out", "out", cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert "c.yaml:" in done.stderr and "is not a valid scenario" in done.stderr
        assert "needs 0 < median < p95" in done.stderr and "Traceback" not in done.stderr
        assert not (tmp_path / "out/tiny").exists()
