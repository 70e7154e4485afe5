"""The fidelity suite (quick subset, as CI runs it), the fitting helper and the model terms
the suite needs: time-varying arrivals and a start-up cost growing with instances running."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import yaml

from sim.analysis.fit import fit_lognormal, read_column
from sim.cli import main
from sim.experiment.rng import mean as dist_mean
from tests.helpers import FREE, load, only, scenario


@pytest.mark.slow
def test_quick_fidelity_suite_passes_and_writes_its_report(tmp_path, capsys):
    assert main(["fidelity", "--quick", "--out", str(tmp_path)]) == 0
    folder = tmp_path / "fidelity"
    report = json.loads((folder / "report.json").read_text())
    names = [c["name"] for c in report["cases"]]
    assert names == ["erlang-c", "erlang-b", "mg-infinity", "mt-g-infinity", "firecracker",
                     "ms-memory", "slacker", "lightvm", "windows-pulls"]
    for case in report["cases"]:
        assert (folder / f"{case['name']}.png").stat().st_size > 10_000
        for check in case["checks"]:
            assert check["passed"] or check["known_gap"], check
            if check["known_gap"]:
                assert case["explanation"]
    text = (folder / "report.md").read_text()
    assert "0 unexplained failures" in text and "| predicted |" in text
    assert "unexplained failure" in capsys.readouterr().err


def test_lognormal_fit_recovers_its_parameters(tmp_path):
    rng = np.random.default_rng(5)
    sample = rng.lognormal(np.log(0.2), 0.1, 20_000)
    path = tmp_path / "boots.dat"
    path.write_text("# microseconds\n" + "\n".join(f"{x * 1e6:.0f} 7" for x in sample))
    fitted = fit_lognormal(read_column(path, column=1, scale=1e-6))
    assert fitted.median == pytest.approx(0.2, rel=0.01)
    assert fitted.p95 == pytest.approx(0.2 * np.exp(1.6448536 * 0.1), rel=0.01)
    assert fitted.ks_statistic < 0.02
    bad = tmp_path / "bad.dat"
    bad.write_text("1\n2\nthree\n")
    with pytest.raises(ValueError, match="bad.dat:3"):
        read_column(bad)


def test_fit_command_prints_a_distribution(tmp_path, capsys):
    path = tmp_path / "s.txt"
    path.write_text("\n".join(str(100 + i % 7) for i in range(200)))
    assert main(["fit", str(path), "--scale", "1e-3"]) == 0
    assert "boot: {dist: lognormal, median: 10" in capsys.readouterr().out
    assert main(["fit", str(path), "--scale", "1e-3", "--empirical"]) == 0
    line = capsys.readouterr().out.splitlines()[-1]
    assert line.startswith("boot: {dist: empirical, values: [100ms,") and "106ms]}" in line
    assert main(["fit", str(tmp_path / "missing.txt")]) == 2


def test_fit_of_samples_all_alike_is_a_constant_the_loader_reads(tmp_path, capsys):
    """Five alike samples gave a lognormal of median 5000ms and p95 5000ms, which the loader
    refuses (it needs median < p95): a constant instead, and it loads."""
    path = tmp_path / "s.txt"
    path.write_text("5\n5\n5\n")
    assert main(["fit", str(path)]) == 0
    line = capsys.readouterr().out.splitlines()[-1]
    assert line == "boot: {dist: constant, value: 5000ms}"
    data = scenario(profiles={"free": {**FREE, "boot": yaml.safe_load(line[len("boot: "):])}})
    assert dist_mean(load(data).profiles["free"].boot) == 5.0


@pytest.mark.parametrize("body,words", [
    (b"1.2\n", "s.txt:1: no column 5 (the line has 1)"),  # was: 'column 5 is not a number'
    (b"1 1 1 1 1\n1 1 1 1 nan\n", "s.txt:2: column 5 is not a finite number"),  # SciPy's
    (b"1 1 1 1 1\n\xff\n", "s.txt: not UTF-8 text"),  # a bare codec error
])
def test_fit_of_a_file_it_cannot_read_says_where(tmp_path, body, words):
    path = tmp_path / "s.txt"
    path.write_bytes(body)
    with pytest.raises(ValueError, match=re.escape(words)):
        read_column(path, column=5)


def test_profiles_command_names_every_source(capsys):
    assert main(["profiles"]) == 0
    out = capsys.readouterr().out
    assert "estimate" in out and "measured" in out and "P. Lang" in out


def test_a_rate_schedule_switches_rates_at_its_steps():
    data = scenario(duration="3h", workload={
        "lifetime": "1s", "memory": "1MiB", "cpu": 0.001,
        "arrival": {"kind": "poisson", "schedule": [{"at": "0s", "rate": 0},
                                                    {"at": "1h", "rate": "2/s"},
                                                    {"at": "2h", "rate": "0.5/s"}]}})
    arrivals = only(data).instances["arrival"].to_numpy()
    assert arrivals.min() >= 3600
    first, second = np.sum(arrivals < 7200), np.sum(arrivals >= 7200)
    assert abs(first - 7200) < 4 * np.sqrt(7200) and abs(second - 1800) < 4 * np.sqrt(1800)


def test_create_grows_with_instances_running_on_the_host():
    profile = {**FREE, "create": "100ms", "create_per_running": "10ms"}
    data = scenario(profiles={"free": profile}, host={"max_concurrent_starts": 1},
                    workload={"arrival": {"kind": "constant", "interval": "1s", "count": 5}})
    df = only(data).instances.sort_values("id")
    startup = (df["running"] - df["arrival"]).to_numpy()
    assert startup == pytest.approx([0.1 + 0.01 * k for k in range(5)])


def test_every_case_file_validates():
    from pathlib import Path

    cases = sorted(Path("sim/fidelity/cases").glob("*.yaml"))
    assert len(cases) >= 10
    assert main(["validate", *map(str, cases)]) == 0
