"""Open a results folder's report.html in a real headless Chromium (Debian's package) and check
it as a reader would: the page renders, the browser logs no console error or failed request,
every chart loads, and nothing is fetched from the network. Saves a full-page screenshot.

    python scripts/check_report.py results/windows-isolation/report.html [--screenshot FILE]

Needs Debian's ``chromium`` and the ``playwright`` Python package (no browser download: it
drives /usr/bin/chromium). Exit status 0 when every check passes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def check(report: Path, screenshot: Path | None = None) -> dict[str, Any]:
    """Load ``report`` and return what was found (``ok`` is True when all checks pass)."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("requestfailed", lambda r: errors.append(f"failed: {r.url}"))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(report.resolve().as_uri(), wait_until="load")
        images = page.eval_on_selector_all(
            "img", "els => els.map(e => ({alt: e.alt, w: e.naturalWidth, done: e.complete}))")
        title = page.title()
        headings = page.eval_on_selector_all("h2", "els => els.map(e => e.textContent)")
        if screenshot is not None:
            page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    external = [u for u in requests if not u.startswith(("file:", "data:"))]
    broken = [i["alt"] for i in images if not i["done"] or i["w"] == 0]
    return {"ok": not errors and not external and not broken and bool(images),
            "title": title, "sections": headings, "images": len(images),
            "broken_images": broken, "console_errors": errors, "network": external}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("report", type=Path)
    parser.add_argument("--screenshot", type=Path, default=None)
    args = parser.parse_args()
    found = check(args.report, args.screenshot)
    print(json.dumps(found, indent=2))
    return 0 if found["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
