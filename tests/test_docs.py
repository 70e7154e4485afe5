"""The documentation stays true to the code: the scenario reference is generated from the
schema and current, every relative link points at a file (and anchor) that exists, and the
README's test command is the one CI runs."""

from __future__ import annotations

import re
from pathlib import Path

from scripts.scenario_reference import COMMAND, TARGET, render

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!\!)\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
CODE = re.compile(r"```.*?```|`[^`\n]*`", re.DOTALL)


def test_scenario_reference_is_current():
    want = render()
    have = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
    assert have == want, (f"{TARGET.relative_to(ROOT)} is out of date with the scenario schema; "
                          f"regenerate it with `{COMMAND}` and commit the result")


def _anchors(path: Path) -> set[str]:
    """Explicit ``<a id>`` anchors and GitHub's heading anchors of a Markdown file."""
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    found = set(re.findall(r'<a id="([^"]+)"', text))
    seen: dict[str, int] = {}
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*$", text, re.MULTILINE):
        heading = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        found.add(slug if n == 0 else f"{slug}-{n}")
    return found


def test_relative_links_point_at_existing_files():
    broken = []
    for doc in DOCS:
        text = CODE.sub("", doc.read_text(encoding="utf-8"))
        for target in LINK.findall(text):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            file, _, fragment = target.partition("#")
            path = (doc.parent / file).resolve() if file else doc
            if not path.exists():
                broken.append(f"{doc.relative_to(ROOT)}: {target}: no such file")
            elif fragment and path.suffix == ".md" and fragment not in _anchors(path):
                broken.append(f"{doc.relative_to(ROOT)}: {target}: no such anchor")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_readme_test_command_is_what_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    assert ci in (ROOT / "README.md").read_text(encoding="utf-8"), (
        f"README.md should give the test command .ci/run runs: {ci}")


def test_readme_is_short():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= 400, f"README.md has {lines} lines; move detail to docs/ (at most 400)"
