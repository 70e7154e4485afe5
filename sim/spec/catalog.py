"""The catalog of Windows base images (``catalog.yaml``): Server Core and Nano Server by LTSC
build, with their layers' compressed and extracted sizes, usable by name wherever a scenario
names an image.

Owns: reading the packaged catalog, and adding to a scenario's plain data the catalog images it
names and does not define itself (``with_catalog``), so that everything after sees ordinary
images. Must not: import the scenario models (``sim.spec.config`` calls this before it
validates).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml


@cache
def catalog_data() -> dict[str, dict[str, Any]]:
    """The packaged catalog as plain data, sources included."""
    text = resources.files("sim.spec").joinpath("catalog.yaml").read_text(encoding="utf-8")
    data: dict[str, dict[str, Any]] = yaml.safe_load(text)
    return data


def names() -> list[str]:
    """Every catalog image's name."""
    return list(catalog_data())


def image(name: str) -> dict[str, Any]:
    """Catalog image ``name`` as a scenario's ``images:`` entry."""
    entry = catalog_data()[name]
    return {"name": name, "os_build": entry["os_build"],
            "layers": [dict(layer) for layer in entry["layers"]]}


def referenced(data: dict[str, Any]) -> list[str]:
    """The names a scenario's plain data uses as an image: bases, workloads' images,
    preloaded images and pipeline builds' bases, in the order they appear."""
    seen: list[str] = []

    def add(name: Any) -> None:
        if isinstance(name, str) and name not in seen:
            seen.append(name)

    for img in _dicts(data.get("images")):
        add(img.get("base"))
    for wl in _dicts(data.get("workloads")):
        add(wl.get("image"))
    for group in _dicts(data.get("hosts")):
        preloaded = group.get("preloaded_images")
        for name in preloaded if isinstance(preloaded, list) else []:
            add(name)
        pre_pull = group.get("pre_pull")
        pulled = pre_pull.get("images") if isinstance(pre_pull, dict) else None
        for name in pulled if isinstance(pulled, list) else []:
            add(name)
    for pipeline in _dicts(data.get("pipelines")):
        for step in _dicts(pipeline.get("steps")):
            build = step.get("build")
            if isinstance(build, dict):
                add(build.get("base"))
    return seen


def with_catalog(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with an ``images:`` entry appended for each catalog image it names but does
    not define (the same object when there is none to add)."""
    images = data.get("images")
    if not isinstance(images, list):
        return data
    defined = {img.get("name") for img in _dicts(images) if isinstance(img.get("name"), str)}
    known = catalog_data()
    missing = [name for name in referenced(data) if name in known and name not in defined]
    if not missing:
        return data
    return {**data, "images": [*images, *(image(name) for name in missing)]}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
