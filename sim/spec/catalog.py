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
from typing import Any

from sim.spec import packaged


@cache
def catalog_data() -> dict[str, dict[str, Any]]:
    """The packaged catalog as plain data, sources included."""
    data: dict[str, dict[str, Any]] = packaged.read("catalog.yaml")
    return data


BASE = "/base"  # a Server Core image's base layer alone: ``servercore:ltsc2022/base``


def names() -> list[str]:
    """Every catalog image's name: each image, and for one with a monthly update layer, its
    base layer alone (``NAME/base``), on which a scenario may put another month's update."""
    out = []
    for name, entry in catalog_data().items():
        out.append(name)
        if len(entry["layers"]) > 1:
            out.append(name + BASE)
    return out


def entries(name: str) -> list[dict[str, Any]]:
    """Catalog image ``name`` as a scenario's ``images:`` entries: an image with an update
    layer is that layer on its base layer's image (``NAME/base``), so that another month's
    update can share the base layer."""
    family = name.removesuffix(BASE)
    entry = catalog_data()[family]
    layers = [dict(layer) for layer in entry["layers"]]
    if len(layers) == 1:
        return [{"name": name, "os_build": entry["os_build"], "layers": layers}]
    base = {"name": family + BASE, "os_build": entry["os_build"], "layers": layers[:-1]}
    if name.endswith(BASE):
        return [base]
    return [base, {"name": family, "base": family + BASE, "layers": layers[-1:]}]


def referenced(data: dict[str, Any]) -> list[str]:
    """The names a scenario's plain data uses as an image: bases, workloads' images,
    preloaded images, pipeline builds' bases and a commands script's images, in the order
    they appear (a script's container names too: a name no catalog image has adds
    nothing)."""
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
    commands = data.get("commands")
    steps = commands.get("steps") if isinstance(commands, dict) else commands
    for step in _dicts(steps):  # pull: NAME, run: {image: NAME}, push: NAME, ...
        for key, value in step.items():  # (a commit names a new image, not one it uses)
            if key not in ("commit", "New-ContainerImage"):
                add(value.get("image", value.get("ContainerImage")) if isinstance(value, dict)
                    else value)
    return seen


def with_catalog(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with an ``images:`` entry appended for each catalog image it names but does
    not define (the same object when there is none to add)."""
    images = data.get("images", [])  # none of its own: the catalog's may be all it uses
    if not isinstance(images, list):
        return data
    defined = {img.get("name") for img in _dicts(images) if isinstance(img.get("name"), str)}
    known = set(names())
    added: list[dict[str, Any]] = []
    for name in referenced(data):
        if name in known and name not in defined:
            for entry in entries(name):
                if entry["name"] not in defined:
                    defined.add(entry["name"])
                    added.append(entry)
    if not added:
        return data
    return {**data, "images": [*images, *added]}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
