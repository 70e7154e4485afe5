"""Lazy pulling (a what-if on Windows): a start-up begins once ``start_at`` of each missing
layer's compressed bytes has arrived, without waiting for extraction; a phase begun while the
image still streams takes ``slowdown`` times longer. Exact arithmetic on tiny scenarios: one
cold host, a 1 Gbit/s registry, pure-wait start-up phases (no CPU), so that the extraction
running in the background cannot slow them."""

from __future__ import annotations

import pytest

from sim.spec.runtimes import builtin_runtimes
from sim.spec.units import MiB
from tests.helpers import FREE, load, only, scenario

GBIT = 1e9 / 8
DOCKER = builtin_runtimes()["docker"].extract_rate
DOWNLOAD = 100 * MiB / GBIT  # the base layer, alone on the link
LAZY = {"start_at": 0.1, "slowdown": 2.0}
CREATE, BOOT, APP = 0.1, 2.0, 1.0


def cold(runtime: str = "lazy", lazy: dict | None = None, latency: str = "0s",
         layers: list | None = None) -> dict:
    """One cold host whose runtime ``lazy`` is Docker plus ``lazy_pull`` (``LAZY`` unless
    given); one instance of ``app`` (the 100 MiB / 300 MiB base + ``layers``) at t = 0;
    create 0.1 s, boot 2 s and app start 1 s, all waiting (no CPU)."""
    data = scenario(registry={"bandwidth": "1Gbit/s", "latency": latency},
                    host={"preloaded_images": [], "cpu_cores": 4, "max_concurrent_starts": 4,
                          "disk_rate": "10GB/s", "runtime": runtime, "antivirus": "none"},
                    images=[{"name": "base", "os_build": "ltsc2022",
                             "layers": [{"download": "100MiB", "size": "300MiB"}]},
                            {"name": "app", "base": "base", "layers": layers or []}],
                    workload={"image": "app", "isolation": "slow", "app_start": f"{APP}s"})
    data["profiles"]["slow"] = {**FREE, "create": f"{CREATE}s", "boot": f"{BOOT}s"}
    data["runtimes"] = {"lazy": {"extends": "docker", "lazy_pull": lazy or LAZY}}
    return data


def rows(data: dict) -> list[dict]:
    return only(data).instances.sort_values("arrival").to_dict("records")


def test_the_start_up_begins_once_start_at_of_the_image_has_arrived():
    (row,) = rows(cold(latency="30ms"))
    start = 0.03 + 0.1 * 100 * MiB / GBIT
    assert row["pulled"] == pytest.approx(start, rel=1e-12)
    assert row["extracted"] == row["pulled"]  # it does not wait for extraction
    assert row["pulled_bytes"] == 100 * MiB  # the whole image still comes


def test_phases_begun_while_the_image_streams_are_slowed_and_not_after():
    # begins at 0.1 D/B; create (0.1 s x 2) ends at 0.28 s, before the download's end at
    # D/B = 0.84 s, so boot begins while streaming too (2 s x 2); the app starts after
    (row,) = rows(cold())
    start = 0.1 * DOWNLOAD
    assert start + 2 * CREATE < DOWNLOAD < start + 2 * CREATE + 2 * BOOT
    assert row["created"] == pytest.approx(start + 2 * CREATE, rel=1e-12)
    assert row["booted"] == pytest.approx(start + 2 * CREATE + 2 * BOOT, rel=1e-12)
    assert row["running"] == pytest.approx(start + 2 * CREATE + 2 * BOOT + APP, rel=1e-12)


def test_a_runtime_without_lazy_pull_waits_for_the_download_and_the_extraction():
    (row,) = rows(cold("docker"))
    extracted = DOWNLOAD + 300 * MiB / DOCKER
    assert row["pulled"] == pytest.approx(DOWNLOAD, rel=1e-12)
    assert row["extracted"] == pytest.approx(extracted, rel=1e-12)
    assert row["running"] == pytest.approx(extracted + CREATE + BOOT + APP, rel=1e-12)


def test_start_at_one_waits_for_the_download_but_not_the_extraction():
    (row,) = rows(cold(lazy={"start_at": 1.0, "slowdown": 3.0}))
    assert row["pulled"] == pytest.approx(DOWNLOAD, rel=1e-12)
    assert row["running"] == pytest.approx(DOWNLOAD + CREATE + BOOT + APP, rel=1e-12)


def test_every_layer_brings_its_share_first_as_the_layers_share_the_link():
    # the 100 MiB and 50 MiB layers download at once, at half the link each: the larger one's
    # 10 MiB share arrives at 2 x 10 MiB / B (the smaller's 5 MiB came earlier; its rest
    # follows at once, so the link stays shared as without lazy pulling)
    (row,) = rows(cold(layers=[{"download": "50MiB", "size": "60MiB"}]))
    assert row["pulled"] == pytest.approx(2 * 10 * MiB / GBIT, rel=1e-12)
    assert row["pulled_bytes"] == 150 * MiB


def test_a_start_up_joining_a_pull_after_its_download_begins_at_once_unslowed():
    # the second arrives at 2 s: the image has arrived (0.84 s) but is still being extracted
    # (15 s, in the background): it joins the pull, begins at once and is not slowed
    data = cold()
    data["workloads"][0]["arrival"] = {"kind": "constant", "interval": "2s", "count": 2}
    first, second = rows(data)
    assert second["pulled_bytes"] == 0
    assert second["pulled"] == second["extracted"] == 2.0
    assert second["running"] == pytest.approx(2.0 + CREATE + BOOT + APP, rel=1e-12)
    assert first["running"] == pytest.approx(0.1 * DOWNLOAD + 2 * CREATE + 2 * BOOT + APP,
                                             rel=1e-12)


def test_a_vm_template_is_never_pulled_lazily():
    data = cold()
    data["hosts"][0]["disk_rate"] = "100MB/s"
    data["profiles"]["template"] = {**FREE, "extends": "vm", "disk_image": "copy"}
    data["workloads"][0]["isolation"] = "template"
    (row,) = rows(data)
    assert row["pulled"] == pytest.approx(DOWNLOAD, rel=1e-12)
    assert row["extracted"] - row["pulled"] == pytest.approx(300 * MiB / 100e6, rel=1e-9)


def test_serialized_pulls_pass_the_start_up_share_on():
    data = cold()
    data["hosts"][0]["serialize_pulls"] = True
    (row,) = rows(data)
    assert row["pulled"] == pytest.approx(0.1 * DOWNLOAD, rel=1e-12)


def test_containerd_lazy_is_containerd_with_lazy_pulling():
    runtimes = builtin_runtimes()
    lazy, containerd = runtimes["containerd-lazy"], runtimes["containerd"]
    assert containerd.lazy_pull is None
    assert lazy.lazy_pull is not None and lazy.lazy_pull.start_at == 0.1
    same = {"name", "description", "lazy_pull"}
    assert lazy.model_dump(exclude=same) == containerd.model_dump(exclude=same)
    assert "what-if" in lazy.description and "Windows" in lazy.description


def test_a_scenario_may_turn_lazy_pulling_off_or_change_it():
    data = cold("containerd-lazy")
    data["runtimes"] = {"containerd-lazy": {"lazy_pull": None}}
    (row,) = rows(data)
    assert row["extracted"] > row["pulled"] == pytest.approx(DOWNLOAD, rel=1e-12)
    data["runtimes"] = {"containerd-lazy": {"lazy_pull": {"start_at": 0.5, "slowdown": 1}}}
    (row,) = rows(data)
    assert row["pulled"] == pytest.approx(0.5 * DOWNLOAD, rel=1e-12)


@pytest.mark.parametrize(("lazy", "field", "words"), [
    ({"start_at": 0, "slowdown": 2}, "start_at", "greater than 0"),
    ({"start_at": 1.5, "slowdown": 2}, "start_at", "less than or equal to 1"),
    ({"start_at": 0.1, "slowdown": 0.5}, "slowdown", "greater than or equal to 1"),
    ({"start_at": 0.1}, "slowdown", "missing"),
    ({"start_at": 0.1, "slowdown": 2, "prefetch": True}, "prefetch", "unknown key"),
])
def test_bad_lazy_pull_values_are_errors_at_their_place(lazy, field, words):
    from sim.edge.loader import ScenarioError

    with pytest.raises(ScenarioError) as error:
        load(cold(lazy=lazy))
    (problem,) = str(error.value).splitlines()
    assert problem.startswith("test.yaml:")
    assert f"runtimes.lazy.lazy_pull.{field}" in problem and words in problem


def test_the_cli_exits_2_on_a_bad_lazy_pull(tmp_path, capsys):
    import yaml

    from sim.cli import main

    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cold(lazy={"start_at": 0.1, "slowdown": 0.9}),
                                   sort_keys=False))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1)
                if "slowdown" in text)
    assert f"{path}:{line}:" in err and "runtimes.lazy.lazy_pull.slowdown" in err


def test_the_profiles_table_shows_the_lazy_values_with_sources_and_ranges():
    from rich.console import Console

    from sim.cli.fidelity import runtimes_table

    console = Console(width=400, record=True)
    console.print(runtimes_table())
    text = console.export_text()
    lines = [line for line in text.splitlines() if "containerd-lazy" in line]
    assert any("lazy_pull" in line and "start at 10% of each layer, x1.5 while streaming" in line
               and "start_at 3% - 30%, slowdown x1 - x3" in line and "estimate" in line
               for line in lines)
