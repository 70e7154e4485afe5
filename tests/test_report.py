"""report.html: self-contained, with every section whose results exist, leading with the answer
(per mode: hosts or density, start-up, SLO verdicts, warnings) and the assumptions folded away
for people; and, where Debian's Chromium and playwright are installed, rendered by a real
headless browser without errors."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from sim.cli import main
from sim.edge.loader import load_file
from sim.present.report import assumption_value, range_text, write_report
from sim.spec.units import GiB, MiB


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []
        self.links: list[str] = []
        self.h2: list[str] = []
        self._in_h2 = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("img", "script") and "src" in attrs:
            self.sources.append(attrs["src"])
        if tag == "link" and "href" in attrs:
            self.links.append(attrs["href"])
        self._in_h2 = tag == "h2"

    def handle_data(self, data):
        if self._in_h2:
            self.h2.append(data)
            self._in_h2 = False


@pytest.fixture(scope="module")  # runs a whole scenario: only the slow tests use it
def report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    assert main(["run", "scenarios/density.yaml", "--out", str(out), "--quiet"]) == 0
    assert main(["density", "scenarios/density.yaml", "--out", str(out), "--quiet"]) == 0
    assert main(["plan", "scenarios/density.yaml", "--out", str(out), "--quiet",
                 "--slo", "startup_p99<=5min", "--replications", "2", "--max-hosts", "4"]) == 0
    return out / "density" / "report.html"


@pytest.mark.slow
def test_report_is_self_contained_with_every_section(report):
    text = report.read_text()
    page = _Collect()
    page.feed(text)
    assert page.h2 == ["The answer", "Charts", "Comparison", "Density: instances per host",
                       "Plan: hosts needed", "The scenario", "Assumptions and estimates"]
    assert len(page.sources) >= 7  # five run charts, the density chart, a plan chart
    assert all(src.startswith("data:image/png;base64,") for src in page.sources)
    assert not page.links and not re.search(r"""(src|href)=["']https?:""", text)
    assert "estimate" in text and "utility VM = limit + 256 MB" in text


@pytest.mark.slow
def test_report_in_headless_chromium(report, tmp_path):
    pytest.importorskip("playwright")
    if not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from scripts.check_report import check

    found = check(report, tmp_path / "report.png")
    assert found["console_errors"] == [] and found["network"] == []
    assert found["broken_images"] == [] and found["images"] >= 7
    assert found["ok"]
    assert (tmp_path / "report.png").stat().st_size > 50_000


# --- the page's content, from results written by hand (fast) ------------------------------------

def _metrics(p50: float, p99: float, **extra: Any) -> dict[str, Any]:
    return {"isolation": "process", "requests": 100, "started": 100, "blocking": 0.0,
            "pending_at_end": 0, "startup_s": {"mean": p50, "p50": p50, "p95": p99, "p99": p99,
                                               "max": p99},
            "wait_s": {"mean": 0.0}, "running_mean": 10.0, "density_max": 5,
            "hosts_used_max": 3, "memory_utilization_mean": 0.25, **extra}


def _plan(hosts: int, judged: int) -> dict[str, Any]:
    probe = {"hosts": judged, "passed": True, "failed": [],
             "metrics": {"startup_s.p99": {"mean": 12.0, "ci95": 3.0}}}
    return {"hosts": hosts, "hosts_judged": judged, "headroom": hosts - judged, "met": True,
            "reason": None, "metrics": None, "cost": None, "probes": [probe]}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A results folder of plan-web-farm with a summary (a warning in vm), a plan (process
    109 judged at 108, vm not met) and density, written by hand."""
    summary = {"name": "plan-web-farm", "replications": 1, "variants": {
        "process": _metrics(4.0, 218.0, offered_utilization=0.61),
        "vm": _metrics(50.0, 300.0, offered_utilization=1.08, pending_at_end=40, warnings=[
            {"kind": "saturated", "message": "offered load is 108 % of capacity"}])}}
    plan = {"group": "farm", "slo": ["startup_p99<=45s"], "replications": 3, "headroom": 1,
            "seed": 5, "process": _plan(109, 108),
            "vm": {**_plan(0, 0), "hosts": None, "hosts_judged": None, "met": False,
                   "reason": "not met with 10,000 hosts (the search limit)"}}
    density = {"farm": {"shop": {
        "process": {"per_host": 120, "binding": "memory", "simulated": None},
        "vm": {"per_host": 30, "binding": "memory", "simulated": None}}}}
    for name, data in (("summary.json", summary), ("plan.json", plan),
                       ("density.json", density)):
        (tmp_path / name).write_text(json.dumps(data))
    (tmp_path / "plan_1_startup_s_p99.png").write_bytes(b"\x89PNG\r\n\x1a\n")  # embedded as is
    return tmp_path


def _section(text: str, title: str) -> str:
    """The HTML between ``<h2>title</h2>`` and the next ``<h2>``."""
    start = text.index(f"<h2>{title}</h2>")
    end = text.find("<h2>", start + 1)
    return text[start:end if end > 0 else None]


def test_the_answer_comes_first_with_each_modes_figures_and_warnings(folder):
    text = write_report(folder, load_file("scenarios/plan-web-farm.yaml")).read_text()
    page = _Collect()
    page.feed(text)
    assert page.h2 == ["The answer", "Charts", "Comparison", "Density: instances per host",
                       "Plan: hosts needed", "The scenario", "Assumptions and estimates"]
    answer = _section(text, "The answer")
    assert "<b>109</b>" in answer and "judged at 108" in answer  # the answer beside n-K
    assert "not met with 10,000 hosts" in answer
    assert "✓</span> <code>startup_p99&lt;=45s</code>: 12s ± 3s" in answer  # the verdict
    assert "<b>120</b> (memory binds)" in answer and "<b>30</b> (memory binds)" in answer
    # start-up p99 and p50 as the tables write them: one unit per row, named in its label
    assert "start-up p99 (min)" in answer and ">3.633<" in answer
    assert "start-up p50 (s)" in answer and ">4<" in answer
    assert "108.00 %" in answer  # offered load
    assert "class='red'" in answer and "offered load is 108 % of capacity" in answer
    assert "(vm)" in answer  # whose warning it is
    # the file's count is never shown next to the answer without saying which is which
    assert "In the file: 30 hosts in group <code>farm</code>; the plan's answer: " \
           "109 (process)" in answer
    assert "hosts in the file" in _section(text, "The scenario")
    assert re.search(r"\d+ of the \d+ built-in profile values it uses are estimates", answer)


def test_no_warning_list_without_warnings(folder):
    summary = json.loads((folder / "summary.json").read_text())
    for m in summary["variants"].values():
        m.pop("warnings", None)
        m.pop("offered_utilization", None)
    (folder / "summary.json").write_text(json.dumps(summary))
    answer = _section(write_report(folder, load_file("scenarios/plan-web-farm.yaml"))
                      .read_text(), "The answer")
    assert "class='alerts'" not in answer and "offered load" not in answer


def test_the_assumptions_are_folded_away_and_written_for_people(folder):
    text = write_report(folder, load_file("scenarios/windows-isolation.yaml")).read_text()
    assumptions = _section(text, "Assumptions and estimates")
    assert "<details>" in assumptions and "</details>" in assumptions
    assert "<table" not in assumptions.split("<details>")[0]
    assert "cpu ×1.1, memory ×1.12" in assumptions  # hyperv's interference
    assert "median 250ms to 650ms" in assumptions  # process create's range
    assert "set in this scenario" in assumptions  # hyperv boot, overridden
    visible = re.sub(r"<[^>]+>", " ", re.sub(r"<style>.*?</style>", "", text, flags=re.S))
    assert "{'" not in visible and "{&#x27;" not in visible
    assert not re.search(r"\b(True|False|None)\b", visible)


def test_the_scenario_says_the_warm_up_is_within_the_simulated_time(folder):
    """It said 'simulated for 8h after a 3h warm-up': the 8 h hold the warm-up."""
    text = write_report(folder, load_file("scenarios/windows-isolation.yaml")).read_text()
    assert "simulated for 8h (the statistics after its first 3h, the warm-up)" in text
    assert "after a 3h warm-up" not in text


def test_sensitivity_names_what_the_answer_rests_on(folder):
    entries = [{"path": p, "low_value": lo, "high_value": hi} for p, lo, hi in (
        ("antivirus.defender.factor", 50.0, 133.0), ("profiles.hyperv.boot.median", 70.0, 75.0),
        ("workloads[web].memory", 70.0, 70.0), ("workloads[web].arrival.rate", 68.0, 72.0))]
    data = {"method": "morris", "runs": 10, "variants": {"hyperv": {
        "inputs": [{"path": "antivirus.defender.factor", "written": [1.0, 3.0]}],
        "nominal": {"startup_s.p99": 70.0}, "metrics": {"startup_s.p99": entries}}}}
    (folder / "sensitivity.json").write_text(json.dumps(data))
    answer = _section(write_report(folder, load_file("scenarios/plan-web-farm.yaml"))
                      .read_text(), "The answer")
    assert "start-up p99 under hyperv (1.167min at the nominal inputs) moves most with" in answer
    assert "antivirus.defender.factor</code> from 1.0 to 3.0 gives 50s to 2.217min" in answer
    assert "workloads[web].arrival.rate" in answer  # the third that moves it
    assert "workloads[web].memory" not in answer  # moves nothing


@pytest.mark.parametrize(("field", "value", "shown"), [
    ("shares_host_kernel", True, "yes"), ("partition", False, "no"),
    ("interference", {"cpu": 1.1, "memory": 1.12}, "cpu ×1.1, memory ×1.12"),
    ("memory_overhead", 50 * MiB, "50MiB"), ("cpu_overhead", 0.02, "2 %"),
    ("create_per_running", 0.0009, "0.9ms"),
    ("cpu_bound_fraction", 0.45, "0.45"), ("disk_per_instance", 1.5 * GiB, "1.5GiB"),
])
def test_assumption_values_for_people(field, value, shown):
    assert assumption_value(field, value) == shown


def test_ranges_as_written():
    spans = {"create.median": ["250ms", "650ms"], "create.p95": ["750ms", "3750ms"],
             "interference.cpu": [1.0, 1.3], "cpu_overhead": [0.0, 0.03]}
    assert range_text("create", spans) == "median 250ms to 650ms; p95 750ms to 3750ms"
    assert range_text("interference", spans) == "cpu ×1 to ×1.3"
    assert range_text("cpu_overhead", spans) == "0 % to 3 %"
    assert range_text("boot", spans) == ""


def test_the_plans_band_over_the_assumptions_is_in_the_answer(folder):
    plan = json.loads((folder / "plan.json").read_text())
    plan["process"]["uncertainty"] = {"samples": 20, "p5": 104, "p95": 115, "p90": 113,
                                      "not_met": 0, "hosts": [104, 115]}
    (folder / "plan.json").write_text(json.dumps(plan))
    answer = _section(write_report(folder, load_file("scenarios/plan-web-farm.yaml"))
                      .read_text(), "The answer")
    assert "over the assumptions" in answer
    assert "104-115 over 20 samples of the assumptions; 113 covers 90 %" in answer
