"""Reproducibility: same scenario and seed, identical results; variants share random numbers."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from sim.cli import main
from tests.helpers import FREE, scenario, simulate

STORM = scenario(
    duration="20min",
    host={"count": 3, "cpu_cores": 8, "max_concurrent_starts": 4, "preloaded_images": []},
    images=[{"name": "base", "os_build": "ltsc2022", "layers": ["300MiB"]},
            {"name": "app", "base": "base", "layers": ["40MiB"]}],
    workload={"image": "app", "isolation": "process", "memory": "512MiB",
              "app_start": {"dist": "lognormal", "median": "1s", "p95": "3s"},
              "lifetime": {"dist": "exponential", "mean": "5min"},
              "arrival": {"kind": "poisson", "rate": "1/s"}},
    placement="random", profiles={}, compare={"isolation": ["process", "hyperv"]})


@pytest.mark.slow
def test_same_seed_gives_identical_summary_files(tmp_path):
    main(["run", "scenarios/boot-storm.yaml", "--out", str(tmp_path / "a"), "--no-charts",
          "--quiet"])
    main(["run", "scenarios/boot-storm.yaml", "--out", str(tmp_path / "b"), "--no-charts",
          "--quiet"])
    for name in ("summary.json", "instances.csv", "timeseries.csv", "scenario.resolved.yaml"):
        a = (tmp_path / "a" / "boot-storm" / name).read_bytes()
        b = (tmp_path / "b" / "boot-storm" / name).read_bytes()
        assert a == b, name


def test_a_different_seed_gives_different_results():
    a = simulate(STORM, seed=1)["process"].metrics
    b = simulate(STORM, seed=2)["process"].metrics
    assert a["requests"] != b["requests"] or a["startup_s"] != b["startup_s"]


def test_variants_see_the_same_arrivals_lifetimes_and_app_start_ups():
    results = simulate(STORM)
    process, hyperv = results["process"].instances, results["hyperv"].instances
    pd.testing.assert_series_equal(process["arrival"], hyperv["arrival"])
    life_p = (process["stopping"] - process["running"]).dropna()
    life_h = (hyperv["stopping"] - hyperv["running"]).dropna()
    common = life_p.index.intersection(life_h.index)
    pd.testing.assert_series_equal(life_p[common], life_h[common])


@pytest.mark.slow
def test_resolved_scenario_runs_to_the_same_summary(tmp_path):
    main(["run", "scenarios/density.yaml", "--out", str(tmp_path / "a"), "--no-charts",
          "--quiet"])
    resolved = tmp_path / "a" / "density" / "scenario.resolved.yaml"
    main(["run", str(resolved), "--out", str(tmp_path / "b"), "--no-charts", "--quiet"])
    a = json.loads((tmp_path / "a" / "density" / "summary.json").read_text())
    b = json.loads((tmp_path / "b" / "density" / "summary.json").read_text())
    assert a == b


def test_app_start_ups_are_the_same_draws_in_every_variant():
    slow = {**FREE, "create": {"dist": "exponential", "mean": "3s"}}
    data = scenario(duration="10min", profiles={"free": FREE, "slow": slow},
                    compare={"isolation": ["free", "slow"]},
                    workload={"app_start": {"dist": "gamma", "mean": "2s", "cv": 0.7},
                              "lifetime": "1min",
                              "arrival": {"kind": "poisson", "rate": "2/s"}})
    results = simulate(data)
    fast, slowed = results["free"].instances, results["slow"].instances
    both = fast["running"].notna() & slowed["running"].notna()
    assert both.sum() > 1000
    assert (slowed["running"] > fast["running"])[both].all()
    pd.testing.assert_series_equal((fast["running"] - fast["booted"])[both],
                                   (slowed["running"] - slowed["booted"])[both],
                                   check_exact=False,
                                   rtol=1e-9)
