"""Image pipelines: build, push, test and rollout, with the bounds written as arithmetic."""

from __future__ import annotations

import pytest

from sim.edge.loader import ScenarioError
from tests.helpers import FREE, load, only, scenario

MiB = 1024**2
GBIT = 1e9 / 8  # bytes per second
LAYER = 40 * MiB


def farm(steps: list[dict], hosts: int = 100, profile: dict | None = None,
         **extra: object) -> dict:
    """``hosts`` farm hosts, each running one instance of ``web`` (image ``app`` = base + one
    layer, preloaded), a one-host build group, a 1 Gbit/s registry; a pipeline at t = 100 s.
    Extraction is bound by the (fast) disk alone: rollouts here are bound by the registry."""
    return scenario(
        duration="1h", placement="spread",
        hosts=[{"group": "farm", "count": hosts, "cpu_cores": 16, "memory": "64GiB",
                "disk": "1TiB", "disk_rate": "1TB/s", "nic": "10Gbit/s",
                "preloaded_images": ["app"], "runtime": "disk-bound"},
               {"group": "build", "count": 1, "cpu_cores": 16, "memory": "64GiB",
                "disk": "1TiB", "disk_rate": "1TB/s", "nic": "10Gbit/s",
                "preloaded_images": ["app"], "runtime": "disk-bound"}],
        registry={"bandwidth": "1Gbit/s"},
        images=[{"name": "base", "os_build": "ltsc2022", "layers": ["1GiB"]},
                {"name": "app", "base": "base", "layers": ["10MiB"]}],
        workloads=[{"name": "web", "image": "app", "isolation": "free", "cpu": 1,
                    "memory": "1GiB", "host_groups": ["farm"],
                    "arrival": {"kind": "burst", "count": hosts, "at": 0}}],
        profiles={"free": profile or FREE},
        pipelines=[{"name": "release", "host_group": "build", "trigger": {"at": "100s"},
                    "steps": steps}],
        **extra)


BUILD = {"build": {"base": "base", "install": "0s", "layer": "40MiB", "commit": "0s"}}


def test_a_pre_pulled_rollout_of_one_layer_to_100_hosts_takes_the_registry_bound():
    out = only(farm([BUILD, {"push": {}},
                     {"rollout": {"workload": "web", "pre_pull": True,
                                  "strategy": "blue-green"}}]))
    metrics = out.metrics["pipelines"]["release"]
    bound = 100 * LAYER / GBIT  # every host pulls the layer through the registry's egress
    assert bound == pytest.approx(33.554, abs=1e-3)
    assert metrics["rollout_s"] >= bound - 1e-6
    assert metrics["rollout_s"] == pytest.approx(bound, rel=1e-3)
    extract = LAYER / 1e12  # then written to disk at disk_rate
    assert metrics["pre_pull_s"] == pytest.approx(bound + extract, rel=1e-9)
    assert metrics["bytes_pulled"] == pytest.approx(100 * LAYER)
    assert metrics["push_s"] == pytest.approx(LAYER / GBIT)
    assert metrics["registry_egress_peak_bps"] == pytest.approx(1e9)
    frame = out.instances
    new = frame[frame["origin"] == "rollout"]
    assert len(new) == 100
    assert (new["pulled"] - new["slot"]).max() == 0.0  # the switch takes no pull time
    assert set(new["image"]) == {"release-v1"}


def test_a_rolling_rollout_without_pre_pull_pulls_as_it_goes_and_dips_by_max_unavailable():
    out = only(farm([BUILD, {"push": {}},
                     {"rollout": {"workload": "web", "max_surge": 0,
                                  "max_unavailable": "10%"}}]))
    metrics = out.metrics["pipelines"]["release"]
    batch = 10 * LAYER / GBIT  # each batch of 10 pulls the layer on 10 hosts
    assert metrics["rollout_s"] >= 100 * LAYER / GBIT - 1e-6
    assert metrics["rollout_s"] == pytest.approx(10 * batch, rel=1e-3)
    assert metrics["capacity_dip"] == pytest.approx(0.10)
    assert metrics["bytes_pulled"] == pytest.approx(100 * LAYER)


def test_a_vm_rollout_moves_the_whole_template_to_every_host():
    vm = {**FREE, "new_version": "template"}
    out = only(farm([BUILD, {"push": {}},
                     {"rollout": {"workload": "web", "pre_pull": True}}], hosts=10,
                    profile=vm))
    metrics = out.metrics["pipelines"]["release"]
    template = 1024 * MiB + LAYER  # the build's base chain and the new layer, as one image
    assert metrics["bytes_pulled"] == pytest.approx(10 * template)
    assert metrics["push_s"] == pytest.approx(template / GBIT)
    assert metrics["rollout_s"] == pytest.approx(10 * template / GBIT, rel=1e-3)


def test_build_time_is_install_plus_commit_plus_writing_the_layer():
    build = {"build": {"base": "base", "install": "5min", "layer": "400MiB", "commit": "2s"}}
    data = farm([build], hosts=1)
    data["hosts"][1]["disk_rate"] = "100MB/s"
    out = only(data)
    metrics = out.metrics["pipelines"]["release"]
    assert metrics["build_s"] == pytest.approx(300 + 2 + 400 * MiB / 100e6)
    state = out.extra["end_state"]
    assert "release-v1#0" in state["hosts"]["build-01"]
    assert "release-v1#0" not in state["hosts"]["farm-01"]
    assert "release-v1#0" not in state["registry"]  # never pushed


def test_test_instances_run_on_the_build_group_and_are_not_the_load():
    out = only(farm([BUILD, {"test": {"instances": 3, "run": "2min"}}], hosts=2))
    metrics = out.metrics["pipelines"]["release"]
    assert metrics["test_s"] == pytest.approx(120.0)
    assert out.metrics["requests"] == 2
    tests = out.instances[out.instances["origin"] == "test"]
    assert len(tests) == 3 and set(tests["host_name"]) == {"build-01"}


def test_a_schedule_triggers_one_run_per_interval_and_runs_queue():
    data = farm([{"build": {"base": "base", "install": "90min", "layer": "1MiB"}}], hosts=1)
    data["pipelines"][0]["trigger"] = {"at": 0, "every": "1h"}
    data["duration"] = "4h"
    out = only(data)
    runs = out.extra["pipeline_runs"]
    assert [r["triggered"] for r in runs] == [0.0, 3600.0, 7200.0]  # 3 of 4 got their turn
    assert [r["started"] for r in runs] == pytest.approx([0.0, 5401.0, 10802.0], abs=2.0)
    assert out.metrics["pipelines"]["release"]["runs"] == 3


@pytest.mark.parametrize("steps, message", [
    ([BUILD, {"rollout": {"workload": "web"}}], "put a push step"),
    ([BUILD, {"push": {}}, {"rollout": {"workload": "webb"}}], "did you mean 'web'"),
    ([{"push": {}}], "nothing to push"),
    ([{"build": {"base": "bse", "install": "1s", "layer": "1MiB"}}], "did you mean 'base'"),
    ([BUILD, {"push": {}}, {"rollout": {"workload": "web", "max_surge": 0}}],
     "both 0"),
    ([{"build": BUILD["build"], "push": {}}], "exactly one of"),
])
def test_bad_pipelines_are_reported_with_their_place(steps, message):
    with pytest.raises(ScenarioError) as err:
        load(farm(steps))
    assert message in str(err.value)
    assert "pipelines[0]" in str(err.value)


def test_images_view_lists_each_layer_and_the_hosts_holding_it(tmp_path, capsys):
    import json

    import yaml

    from sim.cli import main

    data = farm([BUILD, {"push": {}}, {"rollout": {"workload": "web", "pre_pull": True}}],
                hosts=3)
    path = tmp_path / "farm.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["images", str(path), "--out", str(tmp_path / "out")]) == 0
    rows = json.loads((tmp_path / "out" / "tiny" / "images.json").read_text())["base"]
    new = next(r for r in rows if r["layer"] == "release-v1#0")
    assert new["image"] == "release-v1" and new["bytes"] == LAYER and new["in_registry"]
    assert new["hosts"] == ["build-01", "farm-01", "farm-02", "farm-03"]
    assert "release-v1" in capsys.readouterr().out
    assert main(["images", str(path), "--variant", "nope", "--out", str(tmp_path)]) == 2


def test_a_new_months_update_layer_rolled_out_is_pulled_by_every_host_and_the_base_is_not():
    """The catalog's Server Core is its base layer (servercore:ltsc2022/base) under a monthly
    update layer: another month's update on the same base, built into the web-shop image and
    rolled out, moves the new update layer and the new app layer to every host, never the
    base layer they hold."""
    from sim.spec.units import parse_size

    update = {"download": "750MB", "size": "1.55GB"}
    data = farm([{"build": {"base": "servercore-2027-01", "install": "0s", "layer": "40MiB",
                            "commit": "0s"}},
                 {"push": {}}, {"rollout": {"workload": "web", "pre_pull": True,
                                            "strategy": "blue-green"}}], hosts=10)
    data["images"] = [{"name": "app", "base": "servercore:ltsc2022", "layers": ["10MiB"]},
                      {"name": "servercore-2027-01", "base": "servercore:ltsc2022/base",
                       "layers": [update]}]
    for group in data["hosts"]:
        group["preloaded_images"] = ["app"]
    out = only(data)
    metrics = out.metrics["pipelines"]["release"]
    # every farm host: the new update layer and the new 40 MiB layer, compressed
    assert metrics["bytes_pulled"] == pytest.approx(10 * (parse_size("750MB") + 40 * MiB))
