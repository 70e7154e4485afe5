"""Pulls as a Windows container runtime takes them: the compressed bytes over the network, then
extraction of the extracted bytes on one core at the runtime's rate (slowed by antivirus unless
the runtime is excluded), bounded by the disk and processor-shared with start-ups; an image's
layers one after another; concurrent pulls of one layer joined or done twice. Exact arithmetic
on tiny scenarios."""

from __future__ import annotations

import pytest

from sim.spec.runtimes import antivirus_factors, builtin_runtimes
from sim.spec.units import GiB, MiB, parse_size
from tests.helpers import FREE, load, only, scenario

GBIT = 1e9 / 8
DOCKER = builtin_runtimes()["docker"].extract_rate
CONTAINERD = builtin_runtimes()["containerd"].extract_rate
DEFENDER = antivirus_factors()["defender"]


def cold(runtime: str | None, antivirus: str | None = "none", layers: list | None = None,
         **host: object) -> dict:
    """One cold host (nothing preloaded) with ``runtime``; one instance of ``app`` (base +
    ``layers``) at t = 0; a 1 Gbit/s registry; a fast disk; start-up costs nothing."""
    group: dict = {"preloaded_images": [], "cpu_cores": 4, "max_concurrent_starts": 4,
                   "disk_rate": "10GB/s", **host}
    if runtime is not None:
        group["runtime"] = runtime
    if antivirus is not None:
        group["antivirus"] = antivirus
    data = scenario(registry={"bandwidth": "1Gbit/s"}, host=group,
                    images=[{"name": "base", "os_build": "ltsc2022",
                             "layers": [{"download": "100MiB", "size": "300MiB"}]},
                            {"name": "app", "base": "base", "layers": layers or []}],
                    workload={"image": "app"})
    if runtime is None:  # the helpers' hosts name one
        del data["hosts"][0]["runtime"]
    return data


def first(data: dict) -> dict:
    return only(data).instances.iloc[0].to_dict()


def test_docker_downloads_the_compressed_bytes_then_extracts_on_one_core_at_its_rate():
    row = first(cold("docker"))
    downloaded = 100 * MiB / GBIT
    assert row["pulled"] == pytest.approx(downloaded, rel=1e-12)
    assert row["pulled_bytes"] == 100 * MiB
    assert row["extracted"] == pytest.approx(downloaded + 300 * MiB / DOCKER, rel=1e-12)


def test_a_slow_disk_bounds_extraction():
    row = first(cold("docker", disk_rate="5MB/s"))  # slower than one core's 21 MB/s
    assert row["extracted"] == pytest.approx(100 * MiB / GBIT + 300 * MiB / 5e6, rel=1e-12)


def test_antivirus_slows_a_runtime_that_is_not_excluded_and_not_one_that_is():
    downloaded = 100 * MiB / GBIT
    scanned = first(cold("containerd", "defender"))
    assert scanned["extracted"] == pytest.approx(
        downloaded + 300 * MiB * DEFENDER / CONTAINERD, rel=1e-12)
    unscanned = first(cold("containerd", "none"))
    assert unscanned["extracted"] == pytest.approx(downloaded + 300 * MiB / CONTAINERD,
                                                   rel=1e-12)
    docker = first(cold("docker", "defender"))  # Docker's installer excludes it
    assert docker["extracted"] == pytest.approx(downloaded + 300 * MiB / DOCKER, rel=1e-12)


def test_a_scenario_sets_what_scanning_costs():
    data = cold("containerd", "defender")
    data["antivirus"] = {"defender": {"factor": 2.5}}
    assert first(data)["extracted"] == pytest.approx(
        100 * MiB / GBIT + 300 * MiB * 2.5 / CONTAINERD, rel=1e-12)


def test_a_host_group_that_names_nothing_runs_containerd_under_defender():
    row = first(cold(None, None))
    assert row["extracted"] == pytest.approx(
        100 * MiB / GBIT + 300 * MiB * DEFENDER / CONTAINERD, rel=1e-12)


def test_the_layers_of_one_image_extract_one_after_another():
    # both download together (the 50 MiB one at half the link until it ends), the base's
    # extraction starts when its 100 MiB arrive, the app layer's when the base's ends
    row = first(cold("docker", layers=[{"download": "50MiB", "size": "210MB"}]))
    base_done = 150 * MiB / GBIT + 300 * MiB / DOCKER
    assert row["pulled"] == pytest.approx(150 * MiB / GBIT, rel=1e-12)
    assert row["extracted"] == pytest.approx(base_done + 210e6 / DOCKER, rel=1e-12)


def test_a_parallel_runtime_extracts_the_layers_of_one_image_at_once():
    data = cold("fast", layers=[{"download": "50MiB", "size": "210MB"}])
    data["runtimes"] = {"fast": {"extends": "docker", "extraction": "parallel"}}
    row = first(data)
    # the app layer arrives at 2 * 50 MiB / B and extracts in 10 s; the base arrives at
    # 150 MiB / B and extracts in 300 MiB / rate, which ends last
    assert row["extracted"] == pytest.approx(150 * MiB / GBIT + 300 * MiB / DOCKER, rel=1e-12)


def test_extraction_shares_the_cores_with_a_start_up_under_processor_sharing():
    # one core: a preloaded workload's create (all CPU, 20 s) runs alone while the cold
    # instance downloads, then beside the extraction of 300 MiB (300 MiB / 21 MB/s = 14.98 s
    # of CPU): each at half a core until the extraction ends, then the create alone
    data = cold("docker", cpu_cores=1, max_concurrent_starts=2, disk_rate="100GB/s")
    data["workloads"][0]["cpu"] = 0.5
    data["profiles"]["busy"] = {**FREE, "create": "20s", "cpu_bound_fraction": 1.0}
    data["hosts"][0]["preloaded_images"] = ["ready"]
    data["images"].append({"name": "ready", "os_build": "ltsc2022", "layers": ["1MiB"]})
    data["workloads"].append({"name": "warm", "image": "ready", "isolation": "busy",
                              "cpu": 0.5, "memory": "1GiB",
                              "arrival": {"kind": "burst", "count": 1, "at": 0}})
    table = only(data).instances.set_index("workload")
    download = 100 * MiB / GBIT
    work = 300 * MiB / DOCKER
    # the create alone until the download ends, then both at half a core: the extraction
    # ends first (the create has done download + work < 20 s of its work by then)
    extracted = download + 2 * work
    assert table.loc["w", "extracted"] == pytest.approx(extracted, rel=1e-9)
    assert table.loc["warm", "created"] == pytest.approx(
        extracted + (20 - (download + work)), rel=1e-9)


def test_a_runtime_that_duplicates_concurrent_pulls_extracts_twice_from_one_download():
    # two instances at once on one core: Docker joins the pull whole (one extraction); a
    # duplicating runtime (containerd) joins the download (the content store fetches a blob
    # once) but each instance extracts its own copy, the two sharing the core
    def two(runtime: str) -> list:
        data = cold(runtime, cpu_cores=1, max_concurrent_starts=2)
        data["workloads"][0]["cpu"] = 0.5
        data["workloads"][0]["arrival"] = {"kind": "burst", "count": 2, "at": 0}
        return only(data).instances.to_dict("records")

    download = 100 * MiB / GBIT
    shared = two("docker")
    assert sum(r["pulled_bytes"] for r in shared) == 100 * MiB
    assert [r["extracted"] for r in shared] == pytest.approx(
        [download + 300 * MiB / DOCKER] * 2, rel=1e-12)
    duplicated = two("containerd")
    assert sum(r["pulled_bytes"] for r in duplicated) == 100 * MiB
    assert [r["pulled"] for r in duplicated] == pytest.approx([download] * 2, rel=1e-12)
    assert [r["extracted"] for r in duplicated] == pytest.approx(
        [download + 2 * 300 * MiB / CONTAINERD] * 2, rel=1e-12)


def test_a_bare_size_is_both_the_download_and_the_extracted_size():
    data = cold("docker", layers=["64MiB"])
    row = first(data)
    assert row["pulled_bytes"] == 100 * MiB + 64 * MiB


@pytest.mark.parametrize(("change", "message"), [
    ({"images": [{"name": "base", "os_build": "ltsc2022",
                  "layers": [{"download": "2GiB", "size": "1GiB"}]}]},
     "smaller than the download"),
    ({"host": {"runtime": "containrd"}}, "did you mean 'containerd'"),
    ({"host": {"antivirus": "norton"}}, "'defender' or 'none'"),
    ({"runtimes": {"mine": {"extract_rate": "50MB/s"}}}, "give 'extends'"),
    ({"runtimes": {"mine": {"extends": "dokker"}}}, "not a built-in runtime"),
    ({"runtimes": {"docker": {"extract_rate": "-5MB/s"}}}, "runtimes.docker.extract_rate"),
])
def test_bad_runtime_input_is_an_error_at_its_place(change, message):
    from sim.edge.loader import ScenarioError

    with pytest.raises(ScenarioError) as error:
        load(scenario(**change))
    assert message in str(error.value)


def test_a_scenario_can_change_a_built_in_runtime():
    data = cold("docker")
    data["runtimes"] = {"docker": {"extract_rate": "30MB/s"}}
    row = first(data)
    assert row["extracted"] == pytest.approx(100 * MiB / GBIT + 300 * MiB / 30e6, rel=1e-12)


def catalog_scenario(base: str, **host: object) -> dict:
    data = cold("docker", **host)
    data["hosts"][0]["os_build"] = base.split(":")[1]
    data["images"] = [{"name": "app", "base": base,
                       "layers": [{"download": "40MiB", "size": "120MiB"}]}]
    return data


def test_a_catalog_base_brings_its_layers_and_os_build():
    from sim.spec.catalog import catalog_data
    from sim.spec.units import parse_size

    row = first(catalog_scenario("servercore:ltsc2022"))
    layers = catalog_data()["servercore:ltsc2022"]["layers"]
    download = sum(parse_size(layer["download"]) for layer in layers) + 40 * MiB
    extracted = sum(parse_size(layer["size"]) for layer in layers) + 120 * MiB
    assert row["pulled_bytes"] == pytest.approx(download, rel=1e-12)
    # three layers download together over the 1 Gbit/s link, the base layer (the largest)
    # last; then the base, the update and the app layer extract one after another
    assert row["pulled"] == pytest.approx(download / GBIT, rel=1e-12)
    assert row["extracted"] == pytest.approx(download / GBIT + extracted / DOCKER, rel=1e-12)


def test_a_scenario_of_catalog_images_alone_needs_no_images_section():
    """A workload of a catalog image, with no ``images:`` of the scenario's own: it was refused
    as 'unknown image servercore:ltsc2022; did you mean servercore:ltsc2022?'."""
    from sim.spec.catalog import catalog_data

    data = cold("docker")
    del data["images"]
    data["hosts"][0]["preloaded_images"] = []
    data["workloads"][0]["image"] = "servercore:ltsc2022"
    row = first(data)
    layers = catalog_data()["servercore:ltsc2022"]["layers"]
    assert row["pulled_bytes"] == pytest.approx(sum(parse_size(layer["download"])
                                                    for layer in layers), rel=1e-12)


def test_a_host_with_the_catalog_base_preloaded_pulls_only_the_app_layer():
    data = catalog_scenario("nanoserver:ltsc2025")
    data["hosts"][0]["preloaded_images"] = ["nanoserver:ltsc2025"]
    row = first(data)
    assert row["pulled_bytes"] == 40 * MiB
    assert row["extracted"] == pytest.approx(40 * MiB / GBIT + 120 * MiB / DOCKER, rel=1e-12)


def test_a_scenario_image_named_as_a_catalog_one_takes_precedence():
    data = catalog_scenario("servercore:ltsc2019")
    data["images"].append({"name": "servercore:ltsc2019", "os_build": "ltsc2019",
                           "layers": ["10MiB"]})
    assert first(data)["pulled_bytes"] == 10 * MiB + 40 * MiB


def test_an_unknown_catalog_name_suggests_the_near_miss_and_lists_the_catalog():
    from sim.edge.loader import ScenarioError

    with pytest.raises(ScenarioError) as error:
        load(catalog_scenario("servercore:ltsc2023"))
    text = str(error.value)
    assert "did you mean 'servercore:ltsc202" in text
    assert "nanoserver:ltsc2019" in text and "images[0].base" in text


def test_the_sweep_table_keeps_a_group_selector_and_shows_each_workloads_p99():
    from rich.console import Console

    from sim.cli.run import sweep_table

    metrics = {"startup_s": {"p50": 1.0, "p99": 2.0},
               "startup_by_workload_s": {"steady": {"p50": 1.0, "p99": 2.0},
                                         "surge": {"p50": 60.0, "p99": 600.0}}}
    data = {"name": "s", "seed": 1, "replications": 1,
            "points": [{"parameters": {"hosts[fresh].runtime": "docker"},
                        "variants": {"process": metrics}}]}
    console = Console(width=250, record=True)
    console.print(sweep_table(data))
    text = console.export_text()
    assert "hosts[fresh].runtime" in text
    row = text.rstrip().splitlines()[-2]  # the point's row: 600 s in the column's unit
    assert "p99, surge (min)" in text and row.replace(" ", "").endswith("│2│10│")


# --- image garbage collection ------------------------------------------------------------------

def gc_scenario(arrivals: list[tuple[str, float]], **gc: float) -> dict:
    """One 10 GiB disk, three images of one 3 GiB layer each (no shared base), one instance of
    ``image`` at each ``time``, living 10 s; extraction bound by the (fast) disk."""
    workloads = [{"name": f"w{k}", "image": image, "isolation": "free", "cpu": 1,
                  "memory": "1GiB", "lifetime": "10s",
                  "arrival": {"kind": "burst", "count": 1, "at": at}}
                 for k, (image, at) in enumerate(arrivals)]
    data = scenario(registry={"bandwidth": "1000Gbit/s"},
                    host={"disk": "10GiB", "disk_rate": "100GB/s", "nic": "1000Gbit/s",
                          "preloaded_images": [], "image_gc": gc or {"high": 0.85, "low": 0.8}},
                    images=[{"name": name, "os_build": "ltsc2022", "layers": ["3GiB"]}
                            for name in ("a", "b", "c")],
                    workloads=workloads)
    return data


def end_layers(data: dict) -> list[str]:
    """The layers on the first host at the end of the run."""
    from sim.experiment.expand import expand
    from sim.run.execute import run

    (spec,) = expand(load(data), None, replications=1)
    return sorted(run(spec).recorder.end_state["hosts"]["h-01"])


def test_image_gc_removes_the_least_recently_used_unused_images_down_to_the_low_mark():
    # a (used until 10 s), b (until 30 s), then c: 9 GiB > 8.5 GiB, so the least recently used
    # unused image, a, goes: 6 GiB <= 8 GiB, b stays; a again at 60 s: pulled again (9 GiB),
    # and now b (last used at 30 s) goes, not c (used until 50 s)
    data = gc_scenario([("a", 0), ("b", 20), ("c", 40), ("a", 60)])
    out = only(data)
    pulled = out.instances.sort_values("arrival")["pulled_bytes"].tolist()
    assert pulled == [3 * GiB, 3 * GiB, 3 * GiB, 3 * GiB]
    assert out.metrics["image_gc_removed_bytes"] == 2 * 3 * GiB
    assert end_layers(data) == ["a#0", "c#0"]


def test_an_image_in_use_is_never_collected():
    # a runs from 0 s to 10 s, b from 1 s to 11 s; c arrives at 5 s: 9 GiB used, past the
    # 5 GiB high mark, but every image on the host is in use: nothing goes
    out = only(gc_scenario([("a", 0), ("b", 1), ("c", 5)], high=0.5, low=0.4))
    assert out.metrics["image_gc_removed_bytes"] == 0.0


def test_without_disk_pressure_image_gc_changes_nothing():
    data = gc_scenario([("a", 0), ("b", 20)])
    assert only(data).metrics["image_gc_removed_bytes"] == 0.0
    assert end_layers(data) == ["a#0", "b#0"]


def test_a_low_mark_above_the_high_mark_is_an_error_at_its_place():
    from sim.edge.loader import ScenarioError

    with pytest.raises(ScenarioError) as error:
        load(scenario(host={"image_gc": {"high": 0.8, "low": 0.9}}))
    assert "hosts[0].image_gc" in str(error.value)
    assert "must be at most high" in str(error.value)


def test_a_pre_pull_before_the_instances_arrive_leaves_them_nothing_to_pull():
    data = cold("docker")
    data["hosts"][0]["pre_pull"] = {"images": ["app"], "at": "0s"}
    data["workloads"][0]["arrival"] = {"kind": "burst", "count": 1, "at": "10min"}
    row = first(data)
    assert row["pulled_bytes"] == 0
    assert row["extracted"] == row["slot"] == 600.0


def test_an_instance_arriving_during_a_pre_pull_joins_it():
    data = cold("docker")
    data["hosts"][0]["pre_pull"] = {"images": ["app"], "at": "0s"}
    data["workloads"][0]["arrival"] = {"kind": "burst", "count": 1, "at": "5s"}
    row = first(data)  # arrives while the pre-pull extracts: it waits for that extraction
    assert row["pulled_bytes"] == 0
    assert row["extracted"] == pytest.approx(100 * MiB / GBIT + 300 * MiB / DOCKER, rel=1e-12)


def test_a_pre_pull_of_an_unknown_image_is_an_error_at_its_place():
    from sim.edge.loader import ScenarioError

    with pytest.raises(ScenarioError) as error:
        load(scenario(host={"pre_pull": {"images": ["servercore:ltsc2002"]}}))
    assert "hosts[0].pre_pull.images[0]: unknown image" in str(error.value)


def test_a_sweep_over_names_and_lists_draws_its_charts(tmp_path):
    """Swept values that are not numbers (a runtime's name, a list of images) go on the x axis
    in sweep order (the charts once looked them up by a different text and failed)."""
    from sim.cli import main

    data = cold("docker")
    data["sweep"] = {"hosts[h].runtime": ["docker", "containerd"],
                     "hosts[h].preloaded_images": [[], ["app"]]}
    path = tmp_path / "s.yaml"
    path.write_text(__import__("yaml").safe_dump(data))
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    charts = sorted(p.name[len("sweep_1_"):]
                    for p in (tmp_path / "out" / "tiny").glob("sweep_*.png"))
    assert charts == ["hosts_h__preloaded_images.png", "hosts_h__runtime.png"]


def test_a_vm_template_is_written_to_the_disk_not_unpacked_by_the_runtime():
    data = cold("containerd", disk_rate="100MB/s")
    data["profiles"]["template"] = {**FREE, "extends": "vm", "disk_image": "copy"}
    data["workloads"][0]["isolation"] = "template"
    row = first(data)
    assert row["extracted"] - row["pulled"] == pytest.approx(300 * MiB / 100e6, rel=1e-9)


def test_serialized_pulls_wait_for_the_pull_before_and_take_only_what_is_missing():
    # two instances of one image at once on one core under containerd (duplicated pulls):
    # unserialized, both extract a copy, sharing the core; serialized (the kubelet's default),
    # the second waits for the first pull and finds the image there
    def two(serialize: bool) -> list:
        data = cold("containerd", cpu_cores=1, max_concurrent_starts=2,
                    serialize_pulls=serialize)
        data["workloads"][0]["cpu"] = 0.5
        data["workloads"][0]["arrival"] = {"kind": "burst", "count": 2, "at": 0}
        return only(data).instances.to_dict("records")

    download, work = 100 * MiB / GBIT, 300 * MiB / CONTAINERD
    assert [r["extracted"] for r in two(False)] == pytest.approx([download + 2 * work] * 2,
                                                                 rel=1e-12)
    serial = two(True)
    assert [r["extracted"] for r in serial] == pytest.approx([download + work] * 2, rel=1e-12)
    assert sum(r["pulled_bytes"] for r in serial) == 100 * MiB


def test_a_serialized_pull_of_another_image_starts_when_the_one_before_ends():
    data = cold("docker", serialize_pulls=True)
    data["images"].append({"name": "other", "os_build": "ltsc2022",
                           "layers": [{"download": "50MiB", "size": "105MB"}]})
    data["workloads"].append({"name": "second", "image": "other", "isolation": "free",
                              "cpu": 1, "memory": "1GiB",
                              "arrival": {"kind": "burst", "count": 1, "at": 0}})
    table = only(data).instances.set_index("workload")
    first_done = 100 * MiB / GBIT + 300 * MiB / DOCKER
    assert table.loc["w", "extracted"] == pytest.approx(first_done, rel=1e-12)
    assert table.loc["second", "pulled"] == pytest.approx(first_done + 50 * MiB / GBIT,
                                                          rel=1e-12)
    assert table.loc["second", "extracted"] == pytest.approx(
        first_done + 50 * MiB / GBIT + 105e6 / DOCKER, rel=1e-12)
