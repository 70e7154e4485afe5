"""report.html: self-contained, with every section whose results exist; and, where Debian's
Chromium and playwright are installed, rendered by a real headless browser without errors."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from sim.cli import main

pytestmark = pytest.mark.slow  # both tests share a fixture that runs a whole scenario


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


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    assert main(["run", "scenarios/density.yaml", "--out", str(out), "--quiet"]) == 0
    assert main(["density", "scenarios/density.yaml", "--out", str(out), "--quiet"]) == 0
    assert main(["plan", "scenarios/density.yaml", "--out", str(out), "--quiet",
                 "--slo", "startup_p99<=5min", "--replications", "2", "--max-hosts", "4"]) == 0
    return out / "density" / "report.html"


def test_report_is_self_contained_with_every_section(report):
    text = report.read_text()
    page = _Collect()
    page.feed(text)
    assert page.h2 == ["The scenario", "Comparison", "Density: instances per host",
                       "Plan: hosts needed", "Charts", "Assumptions and estimates"]
    assert len(page.sources) >= 7  # five run charts, the density chart, a plan chart
    assert all(src.startswith("data:image/png;base64,") for src in page.sources)
    assert not page.links and not re.search(r"""(src|href)=["']https?:""", text)
    assert "estimate" in text and "utility VM = limit + 256 MB" in text


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
