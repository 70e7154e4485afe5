"""A commands script: Docker's and PowerShell's lifecycle steps on one host, with the times
written as arithmetic, the views (ps, images --at) and the errors a bad script gets."""

from __future__ import annotations

import copy
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from sim.analysis.commands import containers_at, human_span
from sim.cli.images import image_rows
from sim.edge.loader import ScenarioError
from sim.experiment.expand import expand
from sim.run.execute import run
from tests.helpers import load, only

MB = 1e6
ROOT = Path(__file__).resolve().parents[1]

# Every phase a constant, so each step's time is arithmetic: create 1 s and boot 3 s on an
# idle host (a fifth of each on one core of eight), stop 2 s, a commit's cost 5 s.
EXACT = {"extends": "process", "create": "1s", "boot": "3s", "stop": "2s",
         "cpu_bound_fraction": 0.2, "image_commit": {"cost": "5s"}}


def lab(steps: list[Any], **extra: Any) -> dict[str, Any]:
    """One host (8 cores, 64 GiB, a 500 MB/s disk, the disk-bound runtime), a 1 Gbit/s
    registry with 20 ms latency, a one-layer base image (1 GB compressed, 2 GB extracted),
    no workloads, and ``steps`` as its commands script under the ``exact`` profile."""
    data: dict[str, Any] = {
        "name": "lab", "seed": 5, "duration": "1h",
        "hosts": [{"group": "lab", "count": 1, "cpu_cores": 8, "memory": "64GiB",
                   "disk": "500GB", "disk_rate": "500MB/s", "nic": "10Gbit/s",
                   "runtime": "disk-bound"}],
        "registry": {"bandwidth": "1Gbit/s", "latency": "20ms"},
        "images": [{"name": "base", "os_build": "ltsc2022",
                    "layers": [{"download": "1GB", "size": "2GB"}]}],
        "profiles": {"exact": EXACT},
        "commands": {"isolation": "exact", "steps": steps},
    }
    data.update(extra)
    return data


WALK = [
    {"pull": "base"},
    {"run": {"name": "demo", "image": "base"}},
    {"exec": {"container": "demo", "duration": "60s", "writes": "150MB",
              "command": "Install-WindowsFeature Web-Server"}},
    {"stop": "demo"},
    {"commit": {"container": "demo", "image": "demoimage"}},
    {"run": {"name": "demo02", "image": "demoimage"}},
    {"Invoke-Command": {"container": "demo02", "duration": "10s", "writes": "50MB"}},
    {"Stop-Container": "demo02"},
    {"New-ContainerImage": {"container": "demo02", "name": "web", "publisher": "KRN",
                            "version": "1.0"}},
    {"push": "web"},
]


def phases(data: dict[str, Any]) -> dict[tuple[int, str], tuple[float, float, float]]:
    """``(step, phase) -> (start, end, bytes)`` of the one run of ``data``."""
    (out,) = only(data).extra["commands"],
    return {(r["step"], r["phase"]): (r["start"], r["end"], r["bytes"]) for r in out}


def test_each_step_takes_its_arithmetic():
    got = phases(lab(WALK))
    pull = 0.02 + 1e9 / (1e9 / 8)  # latency + 1 GB over 1 Gbit/s
    assert got[(0, "pull")][:2] == pytest.approx((0.0, pull), abs=1e-9)
    assert got[(0, "extract")][1] == pytest.approx(pull + 2e9 / 500e6, abs=1e-9)
    t = got[(0, "extract")][1]
    # run: the image is local (pull of nothing), create 1 s, boot 3 s on an idle host
    assert got[(1, "pull")] == (t, t, 0.0)
    assert got[(1, "create")][1] == pytest.approx(t + 1.0, abs=1e-9)
    assert got[(1, "boot")][1] == pytest.approx(t + 4.0, abs=1e-9)
    assert got[(2, "exec")][1] - got[(2, "exec")][0] == pytest.approx(60.0)
    assert got[(3, "stop")][1] - got[(3, "stop")][0] == pytest.approx(2.0)
    # commit: the 150 MB the exec wrote, at the disk's 500 MB/s, plus the profile's 5 s
    start, end, moved = got[(4, "commit")]
    assert moved == 150 * MB
    assert end - start == pytest.approx(150 * MB / 500e6 + 5.0, abs=1e-9)
    # demo02 runs from demoimage on the same host: nothing is pulled
    assert got[(5, "pull")][2] == 0.0 and (5, "extract") not in got
    # web = base + demoimage's layer + its own: the push moves only the two new layers
    assert got[(9, "push")][2] == 150 * MB + 50 * MB


def test_a_commit_of_a_stated_layer_takes_that_at_the_disk_rate_plus_the_commit_cost():
    steps = [{"run": {"name": "c", "image": "base"}}, {"stop": "c"},
             {"commit": {"container": "c", "image": "new", "layer": "1GB"}}]
    start, end, moved = phases(lab(steps))[(2, "commit")]
    assert moved == 1e9
    assert end - start == pytest.approx(1e9 / 500e6 + 5.0, abs=1e-9)


def test_an_image_built_by_two_commits_has_three_layers_with_their_parents():
    (spec,) = expand(load(lab(WALK)), replications=1)
    rows = [r for r in image_rows(run(spec).recorder) if r["image"] == "web"]
    assert [(r["layer"], r["parent"]) for r in rows] == [
        ("base#0", ""), ("demoimage#0", "base#0"), ("web#0", "demoimage#0")]
    assert [r["bytes"] for r in rows] == [2e9, 150 * MB, 50 * MB]
    assert all(r["hosts"] == ["lab-01"] for r in rows)
    assert all(r["in_registry"] for r in rows)  # pushed


def test_images_at_a_moment_leave_out_what_was_made_or_pushed_later():
    (spec,) = expand(load(lab(WALK)), replications=1)
    recorder = run(spec).recorder
    commit = next(r for r in recorder.commands if r["phase"] == "commit")
    before = image_rows(recorder, at=commit["end"] - 1e-6)
    assert {r["image"] for r in before} == {"base"}
    assert not any(r["hosts"] for r in image_rows(recorder, at=1.0))  # still pulling
    after = image_rows(recorder, at=commit["end"])
    assert {r["image"] for r in after} == {"base", "demoimage"}
    assert not next(r for r in after if r["layer"] == "demoimage#0")["in_registry"]


def test_ps_inside_an_exec_shows_the_container_running_and_after_it_stops_exited():
    (spec,) = expand(load(lab(WALK)), replications=1)
    recorder = run(spec).recorder
    ex = next(r for r in recorder.commands if r["phase"] == "exec")
    middle = (ex["start"] + ex["end"]) / 2
    (demo,) = containers_at(recorder.containers, middle, every=False)
    assert (demo["name"], demo["state"], demo["isolation"]) == ("demo", "running", "exact")
    assert demo["status"] == f"Up {human_span(middle - ex['start'])}"
    stop = next(r for r in recorder.commands if r["phase"] == "stop")
    assert containers_at(recorder.containers, stop["end"], every=False) == []
    (gone,) = containers_at(recorder.containers, stop["end"], every=True)
    assert gone["status"].startswith("Exited (0)")


def test_powershell_names_are_the_same_commands_and_the_table_says_how_they_were_written():
    out = only(lab(WALK)).extra["commands"]
    step6 = next(r for r in out if r["step"] == 6)
    assert (step6["command"], step6["action"]) == ("Invoke-Command", "exec")
    assert step6["text"].startswith("docker exec demo02")
    assert next(r for r in out if r["step"] == 8)["image"] == "web"  # -Name


def test_the_script_runs_under_each_compared_mode_and_hyperv_boots_slower():
    data = lab(WALK[:2], compare={"isolation": ["process", "hyperv", "vm"]})
    data["hosts"][0]["disk"] = "1TB"
    outs = {spec.variant: run(spec).recorder for spec in expand(load(data), replications=1)}
    boot = {v: next(r["end"] - r["start"] for r in rec.commands if r["phase"] == "boot")
            for v, rec in outs.items()}
    assert boot["process"] < boot["hyperv"] < boot["vm"]
    # a VM copies its template to a disk of its own first
    assert any(r["phase"] == "copy" for r in outs["vm"].commands)
    assert not any(r["phase"] == "copy" for r in outs["hyperv"].commands)
    # the same draws in each mode: the pull is the same
    pulls = {v: [r for r in rec.commands if r["phase"] == "pull"][0] for v, rec in outs.items()}
    assert len({(p["start"], p["end"]) for p in pulls.values()}) == 1


def test_a_group_script_runs_on_every_host_of_the_group_at_once():
    data = lab([{"pull": "base"}])
    data["hosts"][0]["count"] = 3
    data["commands"]["group"] = "lab"
    rows = only(data).extra["commands"]
    assert sorted(r["host"] for r in rows if r["phase"] == "pull") == [
        "lab-01", "lab-02", "lab-03"]
    # three hosts share the registry's 1 Gbit/s: each download takes three times as long
    pull = next(r for r in rows if r["phase"] == "pull")
    assert pull["end"] - pull["start"] == pytest.approx(0.02 + 3 * 8.0, abs=1e-6)


def test_a_step_the_host_has_no_room_for_beside_the_workloads_fails_and_stops_the_script():
    wl = {"name": "web", "image": "base", "isolation": "exact", "cpu": 1, "memory": "50GiB",
          "arrival": {"kind": "burst", "count": 1, "at": 0}}
    steps = [{"at": "60s", "run": {"name": "a", "image": "base", "memory": "20GiB"}},
             {"stop": "a"}]
    out = only(lab(steps, workloads=[wl]))
    failed = [r for r in out.extra["commands"] if r["phase"] == "failed"]
    assert [r["step"] for r in failed] == [0]
    assert "no room on lab-01 for 'a': it needs memory 20.05GiB, 13.95GiB free" in failed[0][
        "error"]
    assert not any(r["step"] == 1 for r in out.extra["commands"])
    script = out.metrics["commands"]
    assert (script["failed"], script["completed"], script["finished"]) == (1, 0, 0.0)


def test_the_script_s_own_containers_are_counted_before_it_runs():
    steps = [{"run": {"name": "a", "image": "base", "memory": "40GiB"}}, {"stop": "a"},
             {"run": {"name": "b", "image": "base", "memory": "40GiB"}}]
    with pytest.raises(ScenarioError, match=r"no room for 'b' beside the script's other "
                                            r"containers \(a: a stopped one keeps its memory"):
        load(lab(steps))
    steps.insert(2, {"rm": "a"})
    load(lab(steps))  # removed: its memory is back


def test_rm_gives_its_room_to_a_request_waiting_for_it():
    wl = {"name": "web", "image": "base", "isolation": "exact", "cpu": 1, "memory": "40GiB",
          "arrival": {"kind": "burst", "count": 1, "at": "30s"}}
    steps = [{"run": {"name": "a", "image": "base", "memory": "40GiB"}},
             {"at": "5min", "stop": "a"}, {"rm": "a"}]
    out = only(lab(steps, workloads=[wl]))
    rm = next(r for r in out.extra["commands"] if r["phase"] == "rm")
    assert out.instances["placed"].iloc[0] == pytest.approx(rm["end"])


def test_rmi_of_an_image_instances_use_fails_at_run_time_as_docker_refuses_it():
    wl = {"name": "web", "image": "base", "isolation": "exact", "cpu": 1, "memory": "1GiB",
          "arrival": {"kind": "burst", "count": 1, "at": 0}}
    out = only(lab([{"at": "10min", "rmi": "base"}], workloads=[wl]))
    (failed,) = [r for r in out.extra["commands"] if r["phase"] == "failed"]
    assert "cannot remove 'base' from lab-01: instances there use it (1)" in failed["error"]


def test_a_script_longer_than_the_run_is_reported_unfinished():
    steps = [{"run": {"name": "a", "image": "base"}},
             {"exec": {"container": "a", "duration": "2h"}}]
    script = only(lab(steps)).metrics["commands"]
    assert script["finished"] == 0.0 and script["completed"] == 1
    assert script["total_s"] is None


def test_the_same_seed_gives_the_same_rows_and_another_seed_other_draws():
    data = lab(WALK[:3], profiles={"exact": {**EXACT, "boot": {"dist": "lognormal",
                                                               "median": "3s", "p95": "9s"}}})
    first = only(data).extra["commands"]
    assert only(data).extra["commands"] == first
    assert only(data, seed=99).extra["commands"] != first


def test_a_running_container_may_be_committed_where_the_profile_pauses_it():
    steps = [{"run": {"name": "c", "image": "base"}},
             {"commit": {"container": "c", "image": "snap", "layer": "10MB"}}]
    data = lab(steps, profiles={"exact": {**EXACT, "image_commit": {"cost": "1s",
                                                                     "running": "pause"}}})
    (spec,) = expand(load(data), replications=1)
    states = [c["state"] for c in run(spec).recorder.containers]
    assert states == ["created", "running", "paused", "running"]


BAD = [  # (steps, the step that is wrong, what the message says)
    ([{"commit": {"container": "ghost", "image": "x"}}], 0, "no such container 'ghost'"),
    ([{"run": {"name": "c", "image": "base"}}, {"rmi": "base"}], 1,
     "image 'base' is used by container 'c'"),
    ([{"run": {"name": "c", "image": "nope"}}], 0, "no such image 'nope'"),
    ([{"run": {"name": "c", "image": "base"}}, {"commit": {"container": "c", "image": "x"}}],
     1, "refuses to commit a running container"),
    ([{"run": {"name": "c", "image": "base"}}, {"rm": "c"}], 1, "stop it first"),
    ([{"create": {"name": "c", "image": "base"}}, {"exec": {"container": "c",
                                                            "duration": "1s"}}],
     1, "is not running (start it first)"),
    ([{"run": {"name": "c", "image": "base"}}, {"run": {"name": "c", "image": "base"}}], 1,
     "already in use"),
    ([{"run": {"name": "c", "image": "base"}}, {"stop": "c"},
      {"commit": {"container": "c", "image": "x"}}, {"pull": "x"}], 3, "push it first"),
    ([{"pull": "base"}, {"run": {"name": "c", "image": "base", "isolation": "hyperx"}}], 1,
     "unknown isolation 'hyperx'; did you mean 'hyperv'?"),
    ([{"run": {"name": "c", "image": "base"}}, {"stop": "c"},
      {"commit": {"container": "c", "image": "x"}}, {"rm": "c"}, {"rmi": "base"}], 4,
     "dependent child image 'x'"),
    ([{"pull": "base", "stop": "c"}], 0, "one command per step"),
    ([{"exec": None}], 0, "exec: give what it acts on"),
]


@pytest.mark.parametrize(("steps", "index", "message"), BAD)
def test_a_bad_step_is_an_error_at_its_place(steps, index, message):
    with pytest.raises(ScenarioError) as caught:
        load(lab(steps))
    text = str(caught.value)
    assert message in text, text
    assert f"commands.steps[{index}]" in text


def test_process_isolation_of_an_older_build_is_refused_under_that_mode_only():
    data = lab([{"run": {"name": "c", "image": "old"}}],
               compare={"isolation": ["process", "hyperv"]})
    data["images"].append({"name": "old", "os_build": "ltsc2019", "layers": ["1GB"]})
    with pytest.raises(ScenarioError) as caught:
        load(data)
    text = str(caught.value)
    assert "ltsc2019 does not match" in text and "under process isolation" in text
    assert "under hyperv" not in text


def test_a_script_beside_faults_is_refused():
    data = lab([{"pull": "base"}], faults={"host_kernel": {"mtbf": "1d"}})
    with pytest.raises(ScenarioError, match="cannot run beside injected faults"):
        load(data)


def test_a_bad_script_from_the_command_line_is_file_line_col_exit_2_and_writes_nothing(
        tmp_path):
    data = lab([{"pull": "base"}, {"commit": {"container": "ghost", "image": "x"}}])
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1)
                if "container: ghost" in text)
    done = subprocess.run([sys.executable, "-m", "sim", "run", str(path), "--out",
                           str(tmp_path / "out")], capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert f"{path}:{line}:" in done.stderr and "no such container 'ghost'" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out" / "lab").exists()


def test_ps_and_images_from_the_command_line(tmp_path):
    path = tmp_path / "lab.yaml"
    path.write_text(yaml.safe_dump(lab(WALK), sort_keys=False))

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True,
                              text=True, check=False, cwd=tmp_path)

    inside = cli("ps", str(path), "--at", "60s")  # inside the exec (16 s to 76 s)
    assert inside.returncode == 0 and "demo" in inside.stdout and "Up" in inside.stdout
    every = cli("ps", str(path), "-a")
    assert "demo02" in every.stdout and "Exited (0)" in every.stdout
    late = cli("ps", str(path), "--at", "2h")
    assert late.returncode == 2 and "after the end of the run" in late.stderr
    bad = cli("ps", str(path), "--at", "soon")
    assert bad.returncode == 2
    shown = cli("images", str(path), "--at", "50s", "--out", str(tmp_path / "out"))
    assert shown.returncode == 0 and "demoimage" not in shown.stdout


def test_a_bare_list_is_a_script_on_the_first_host_and_its_errors_point_into_the_list():
    data = lab([])
    data["commands"] = [{"pull": "base"}, {"start": "ghost"}]
    with pytest.raises(ScenarioError) as caught:
        load(data)
    assert "commands[1].start: no such container 'ghost'" in str(caught.value)


def test_the_walkthrough_finishes_in_every_mode_and_vms_take_longest():
    data = yaml.safe_load((ROOT / "scenarios" / "walkthrough.yaml").read_text())
    outs = {spec.variant: run(spec).recorder
            for spec in expand(load(copy.deepcopy(data)), replications=1)}
    ends = {v: max(r["end"] for r in rec.commands) for v, rec in outs.items()}
    assert set(ends) == {"process", "hyperv", "vm"}
    assert ends["process"] < ends["hyperv"] < ends["vm"] < 7200
    assert all(math.isfinite(s["end"]) for rec in outs.values() for s in rec.scripts)


def test_a_failed_script_is_a_warning_in_the_summary():
    from sim.planning.trust import warnings

    loaded = load(lab(WALK[:1]))
    said = warnings(loaded.scenario, loaded.profiles,
                    {"requests": 0, "commands": {"failed": 1, "finished": 0.0}})
    assert [w["kind"] for w in said] == ["commands_failed"]
    said = warnings(loaded.scenario, loaded.profiles,
                    {"requests": 0, "commands": {"failed": 0, "finished": 0.0, "steps": 3,
                                                 "completed": 1}})
    assert [w["kind"] for w in said] == ["commands_unfinished"]


def test_a_bare_list_runs_on_the_container_host_vms_not_on_their_carriers():
    data = lab([{"run": {"name": "c", "image": "base"}}])
    data["hosts"] = [
        {"group": "metal", "count": 2, "cpu_cores": 16, "memory": "128GiB", "disk": "1TB",
         "disk_rate": "500MB/s", "nic": "10Gbit/s", "runtime": "disk-bound"},
        {"group": "vms", "count": 1, "cpu_cores": 8, "memory": "64GiB", "disk": "500GB",
         "disk_rate": "500MB/s", "nic": "10Gbit/s", "runtime": "disk-bound",
         "virtual": {"physical_group": "metal", "per_physical": 1}}]
    data["commands"] = data["commands"]["steps"]
    (spec,) = expand(load(data), replications=1)
    assert {c["host"] for c in run(spec).recorder.containers} == {"vms-01"}


def test_ps_shows_a_name_used_again_after_rm_as_the_new_container():
    steps = [{"run": {"name": "c", "image": "base"}}, {"stop": "c"}, {"rm": "c"},
             {"at": "10min", "run": {"name": "c", "image": "base", "isolation": "hyperv"}}]
    (spec,) = expand(load(lab(steps)), replications=1)
    (box,) = containers_at(run(spec).recorder.containers, 1800.0, every=True)
    assert (box["isolation"], box["state"]) == ("hyperv", "running")
    assert box["created"] > 600.0


def test_ps_counts_the_uptime_from_the_start_across_a_paused_commit():
    steps = [{"run": {"name": "c", "image": "base"}},
             {"at": "60s", "commit": {"container": "c", "image": "snap", "layer": "10MB"}}]
    data = lab(steps, profiles={"exact": {**EXACT, "image_commit": {"cost": "1s",
                                                                     "running": "pause"}}})
    (spec,) = expand(load(data), replications=1)
    recorder = run(spec).recorder
    up = next(c["time"] for c in recorder.containers if c["state"] == "running")
    (box,) = containers_at(recorder.containers, 600.0, every=False)
    assert box["status"] == f"Up {human_span(600.0 - up)}"


def test_images_made_by_a_group_script_count_from_the_first_host_to_make_them():
    data = lab([{"run": {"name": "c", "image": "base"}}, {"stop": "c"},
                {"commit": {"container": "c", "image": "new", "layer": "10MB"}}])
    data["hosts"][0]["count"] = 2
    data["commands"]["group"] = "lab"
    (spec,) = expand(load(data), replications=1)
    recorder = run(spec).recorder
    first = min(r["end"] for r in recorder.commands if r["phase"] == "commit")
    rows = [r for r in image_rows(recorder, at=first) if r["image"] == "new"]
    assert rows and rows[-1]["hosts"]


def test_a_commit_may_not_take_a_name_a_pipeline_gives_its_builds():
    data = lab([{"run": {"name": "c", "image": "base"}}, {"stop": "c"},
                {"commit": {"container": "c", "image": "shop-v1"}}])
    data["pipelines"] = [{"name": "release", "image": "shop", "trigger": {"at": "1h"},
                          "steps": [{"build": {"base": "base", "layer": "10MB"}}]}]
    with pytest.raises(ScenarioError, match="a name a pipeline gives its builds"):
        load(data)


def test_a_committed_image_garbage_collection_removed_fails_the_run_that_needs_it():
    data = lab([{"run": {"name": "c", "image": "base"}}, {"stop": "c"},
                {"commit": {"container": "c", "image": "new", "layer": "600MB"}},
                {"rm": "c"}, {"run": {"name": "d", "image": "new"}}])
    data["hosts"][0]["disk"] = "3GB"  # past the high mark: unused images go
    out = only(data)
    failed = [r for r in out.extra["commands"] if r["phase"] == "failed"]
    assert failed and "nor in the registry (never pushed)" in failed[0]["error"]


def test_an_error_the_same_in_every_compared_mode_is_said_once():
    data = lab([{"run": {"name": "c", "image": "nope"}}],
               compare={"isolation": ["process", "hyperv"]})
    with pytest.raises(ScenarioError) as caught:
        load(data)
    text = str(caught.value)
    assert text.count("no such image 'nope'") == 1 and "compared variant" not in text


def test_one_mistake_is_said_once_not_again_at_every_later_step():
    steps = [{"run": {"name": "demo", "image": "servercor"}},
             {"exec": {"container": "demo", "duration": "1s"}}, {"stop": "demo"},
             {"commit": {"container": "dmeo", "image": "demoimage"}},
             {"run": {"name": "demo02", "image": "demoimage"}}, {"rmi": "demoimage"}]
    with pytest.raises(ScenarioError) as caught:
        load(lab(steps))
    lines = str(caught.value).splitlines()
    assert [line.split(": ", 1)[1].split(":")[0] for line in lines] == [
        "commands.steps[0].run", "commands.steps[3].commit", "commands.steps[5].rmi"]


def test_a_commit_is_judged_the_same_whichever_name_it_is_written_with():
    outcomes = []
    for step in ({"commit": {"container": "c", "image": "nanoserver:ltsc2022"}},
                 {"New-ContainerImage": {"container": "c", "name": "nanoserver:ltsc2022"}}):
        data = lab([{"run": {"name": "c", "image": "base"}}, {"stop": "c"}, step])
        try:
            load(data)
            outcomes.append("ok")
        except ScenarioError as exc:
            outcomes.append(str(exc).split(": ", 2)[-1])
    assert outcomes[0] == outcomes[1] == "ok"  # a new image's name adds no catalog image
