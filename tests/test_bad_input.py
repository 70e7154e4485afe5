"""Bad input: every problem in one pass as FILE:LINE:COL: path: message, exit 2, nothing written."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml

from sim.cli import main
from sim.edge.loader import ScenarioError, load_text

MAIN = Path("scenarios/windows-isolation.yaml").read_text()


def problems(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load_text(text, "s.yaml")
    return str(info.value).splitlines()


def edit(old: str, new: str) -> str:
    assert old in MAIN
    return MAIN.replace(old, new, 1)


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_yaml_syntax_error_has_its_line():
    text = edit("  bandwidth: 10Gbit/s", "  bandwidth: [10Gbit/s")
    (only,) = problems(text)
    assert only.startswith("s.yaml:") and "YAML syntax" in only


def test_a_character_yaml_refuses_is_placed_where_it_is():
    """A NUL inside the file was placed at 1:1 with ruamel's 'position 18'."""
    text = edit("seed: 42", "seed: 4\x002")
    (only,) = problems(text)
    line = line_of(text, "seed: 4")
    assert only == (f"s.yaml:{line}:8: YAML syntax: unacceptable character #x0000: special "
                    "characters are not allowed")


def test_an_unknown_demand_kind_names_every_kind():
    """It said "Input should be 'schedule'", though constant, step, spike and file are read
    too."""
    text = Path("scenarios/spike.yaml").read_text().replace("        kind: schedule",
                                                             "        kind: wave")
    (only,) = problems(text)
    assert only.startswith(f"s.yaml:{line_of(text, 'kind: wave')}:9: "
                           "workloads[0].replicas.demand: unknown demand kind 'wave'; one of "
                           "constant, step, spike, schedule or file")


def test_unknown_key_suggests_the_near_miss():
    text = edit("    memory: 256GiB", "    memroy: 256GiB")
    out = problems(text)
    line = line_of(text, "memroy")
    assert f"s.yaml:{line}:5: hosts[0].memroy: unknown key 'memroy'; did you mean 'memory'?" \
        in out
    assert any("hosts[0].memory: missing required key 'memory'" in p for p in out)


def test_unknown_key_inside_a_distribution():
    text = edit("app_start: {dist: lognormal, median: 1.5s, p95: 4s}",
                "app_start: {dist: lognormal, medain: 1.5s, p95: 4s}")
    assert any("workloads[0].app_start.medain: unknown key 'medain'; did you mean 'median'?"
               in p for p in problems(text))


@pytest.mark.parametrize("old,new,path,words", [
    ("    memory: 256GiB", "    memory: -256GiB", "hosts[0].memory", "non-negative"),
    ("    memory: 256GiB", "    memory: 256Gib", "hosts[0].memory", "unknown size unit"),
    ("duration: 8h ", "duration: 4 hours ", "duration", "unknown duration unit 'hours'"),
    ("duration: 8h ", "duration: soon ", "duration", "a duration such as"),
    ("rate: 0.5/s", "rate: 10MB/s", "workloads[0].arrival.rate", "a rate such as"),
    ("  bandwidth: 10Gbit/s", "  bandwidth: 0Gbit/s", "registry.bandwidth", "positive"),
    ("    count: 20", "    count: 0", "hosts[0].count", "greater than or equal to 1"),
    ("on_full: queue", "on_full: wait", "workloads[0].on_full", "'queue' or 'reject'"),
    ("placement: best-fit", "placement: worst-fit", "placement", "first-fit"),
    ("median: 5s, p95: 20s", "median: 5s, p95: 2s", "profiles.hyperv.boot", "median < p95"),
    # an overcommit of 1e308 gave infinite vCPU capacity: NaN rows, then a crash in density
    ("    cpu_overcommit: 2.0          #", "    cpu_overcommit: 1e308          #",
     "hosts[0].cpu_overcommit", "less than or equal to 100"),
    # a creation rate of 0 passed, then divided by zero in the run
    ("    cpu_overcommit: 2.0          #", "    creation_rate: 0/s           #",
     "hosts[0].creation_rate", "greater than 0"),
    # an empty list ran as if there were no compare
    ("  isolation: [process, hyperv, vm]", "  isolation: []", "compare.isolation",
     "at least 1 item"),
    # an empty schedule was told its steps were out of order
    ("arrival: {kind: poisson, rate: 0.5/s}", "arrival: {kind: poisson, schedule: []}",
     "workloads[0].arrival", "a schedule needs at least one step"),
    # an instance of 1e-300 vCPU fit 6.4e301 times on a host
    ("    cpu: 1\n", "    cpu: 1e-300\n", "workloads[0].cpu", "greater than or equal to 0.001"),
])
def test_malformed_values_name_the_place_and_what_would_be_right(old, new, path, words):
    text = edit(old, new)
    out = problems(text)
    hit = [p for p in out if f": {path}: " in p]
    assert hit, out
    assert words in hit[0]
    assert hit[0].startswith(f"s.yaml:{line_of(text, new.strip())}:")


def test_references_to_unknown_names():
    text = edit("    image: webshop", "    image: webshp")
    text = text.replace("    base: iis", "    base: iis2")
    text = text.replace("preloaded_images: [servercore:ltsc2022]",
                        "preloaded_images: [servrcore:ltsc2022]")
    text = text.replace("isolation: [process, hyperv, vm]", "isolation: [process, hyperv, vmm]")
    out = "\n".join(problems(text))
    assert "workloads[0].image: unknown image 'webshp'; did you mean 'webshop'?" in out
    assert "images[1].base: unknown base image 'iis2'; did you mean 'iis'?" in out
    assert ("hosts[0].preloaded_images[0]: unknown image 'servrcore:ltsc2022'; did you mean "
            "'servercore:ltsc2022'? (the catalog: servercore:ltsc2019") in out
    assert "compare.isolation[2]: unknown isolation profile 'vmm'; did you mean 'vm'?" in out


def test_cycle_in_base():
    text = edit("    base: servercore:ltsc2022", "    base: webshop")
    out = "\n".join(problems(text))
    assert "cycle in base: iis -> webshop -> iis" in out


def test_profile_problems():
    text = MAIN + textwrap.indent(textwrap.dedent("""\
        fc: {extends: firecrackr}
        loop1: {extends: loop2}
        loop2: {extends: loop1}
        fresh: {boot: 1s}
        """), "  ")
    out = "\n".join(problems(text))
    assert "profiles.fc.extends: unknown profile 'firecrackr'" in out
    assert "cycle in extends" in out
    assert "profiles.fresh: a new profile must extend one" in out


@pytest.mark.parametrize("change,words", [
    (("    memory: 1GiB\n    app_start", "    memory: 300GiB\n    app_start"),
     "committed memory"),
    (("    hyperv: true ", "    hyperv: false "), "needs Hyper-V"),
    (("    os_build: ltsc2022           # process", "    os_build: ltsc2019           # proc"),
     "does not match the host's ltsc2019"),
    (("    cpu: 1\n", "    cpu: 100\n"), "vCPU"),
])
def test_impossible_workloads_are_errors_not_silent_queues(change, words):
    text = edit(*change)
    out = "\n".join(problems(text))
    assert "workloads[0]: no host can ever run it under" in out
    assert words in out


def test_os_build_mismatch_is_fine_for_hyperv_only():
    text = edit("    os_build: ltsc2022           # process", "    os_build: ltsc2025  # proc")
    text = text.replace("isolation: [process, hyperv, vm]", "isolation: [hyperv, vm]")
    load_text(text, "s.yaml")


def test_every_problem_is_reported_in_one_pass():
    text = edit("    memory: 256GiB", "    memroy: 256GiB")
    text = text.replace("    image: webshop", "    image: nothere")
    text = text.replace("rate: 0.5/s", "rate: fast")
    text = text.replace("warmup: 3h ", "warmup: 9h ")
    out = problems(text)
    assert len(out) >= 5, out
    joined = "\n".join(out)
    for words in ("memroy", "unknown image 'nothere'", "a rate such as",
                  "warmup: must be shorter than duration"):
        assert words in joined
    lines = [int(p.split(":")[1]) for p in out]
    assert lines == sorted(lines)


@pytest.mark.parametrize("slo,words", [
    ("blocking<=abc%", "write a number before the %"),  # was a ValueError: internal error
    ("blocking<=%", "write a number before the %"),
    ("startup_p99<=30%", "is a time: give its limit as a duration"),  # read as 0.3 s
    ("blocking<=5min", "is not a time: give its limit as a number or a percentage"),
    ("blocking<=150%", "not a share between 0% and 100%"),
])
def test_an_slo_whose_limit_does_not_fit_its_metric_is_a_problem_at_its_place(slo, words,
                                                                               tmp_path, capsys):
    text = MAIN + f"plan:\n  slo: [\"{slo}\"]\n"
    (found,) = problems(text)
    assert found.startswith(f"s.yaml:{line_of(text, slo)}:") and ": plan.slo[0]: " in found
    assert words in found
    out = tmp_path / "out"
    assert main(["plan", "scenarios/windows-isolation.yaml", "--slo", slo, "--out",
                 str(out)]) == 2
    assert words in capsys.readouterr().err and not out.exists()


def test_duplicate_pipelines_and_a_build_no_host_can_hold_are_problems():
    text = MAIN + textwrap.dedent("""\
        pipelines:
          - {name: p, steps: [{build: {base: iis, install: 1min, layer: 40MiB}}]}
          - {name: p, steps: [{build: {base: iis, install: 1min, layer: 5TiB}}]}
        """)
    out = problems(text)
    assert any(": pipelines[1].name: duplicate name 'p' (first at pipelines[0])" in p
               for p in out), out
    assert any(": pipelines[1].steps[0].build.layer: the built image (" in p
               and "cannot fit a host of build group 'standard' (disk" in p for p in out), out


def test_host_faults_too_frequent_to_simulate_are_refused_at_their_mtbf(tmp_path, capsys):
    """A crash every millisecond on each host was not in the time estimate: the run went on
    for good; each fault restarts a host's instances."""
    bad = tmp_path / "faults.yaml"
    text = MAIN + "faults:\n  host_kernel: {mtbf: 1ms}\n"
    bad.write_text(text)
    assert main(["run", str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:{line_of(text, 'mtbf: 1ms')}:" in err
    assert "faults.host_kernel.mtbf: too big to run" in err and "rarer faults" in err


@pytest.mark.parametrize("name", [".runs", "windows-isolation"])
def test_a_file_where_the_results_go_is_an_error_and_is_kept(tmp_path, capsys, name):
    """A file named as the scenario was replaced by its results folder; one named .runs was a
    crash (FileExistsError)."""
    out = tmp_path / "out"
    out.mkdir()
    (out / name).write_text("mine")
    assert main(["run", "scenarios/windows-isolation.yaml", "--out", str(out)]) == 2
    assert "a file, not a folder, where the results go" in capsys.readouterr().err
    assert (out / name).read_text() == "mine"


def test_cli_exits_2_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(edit("    memory: 256GiB", "    memroy: 256GiB"))
    out = tmp_path / "out"
    assert main(["run", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:" in err and "did you mean 'memory'" in err and "nothing was run" in err
    assert not out.exists()
    assert main(["validate", str(bad)]) == 2
    assert main(["run", str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.slow
def test_a_duration_too_short_to_sample_is_an_error_not_a_crash():
    found = problems(edit("duration: 8h", "duration: 5e-324s"))
    assert any("duration: Input should be greater than or equal to 0.001" in p for p in found)


def test_the_tiniest_constant_interval_with_a_count_is_counted_not_a_crash():
    from sim.edge.budget import arrivals

    data = yaml.safe_load(MAIN)
    data["workloads"][0]["arrival"] = {"kind": "constant", "interval": "5e-324s", "count": 10}
    loaded = load_text(yaml.safe_dump(data), "s.yaml")
    assert arrivals(loaded.scenario)[0] == (0, 10.0)


def test_a_commit_rule_rounding_to_a_fraction_of_a_byte_is_an_error_not_a_crash():
    text = edit("    boot: {dist: lognormal, median: 5s, p95: 20s}",
                "    commit: {add: 0B, round_to: 1e-300B}")
    assert any("round_to: 0 (no rounding) or at least 1B" in p for p in problems(text))


def test_density_of_a_trace_sampled_to_nothing_says_so(tmp_path, capsys):
    text = Path("scenarios/azure-replay.yaml").read_text()
    assert "sample: 0.1" in text
    path = Path("scenarios") / ".sampled-to-nothing.yaml"  # beside it: the trace's path
    path.write_text(text.replace("sample: 0.1", "sample: 1e-300", 1))
    try:
        assert main(["density", str(path), "--out", str(tmp_path), "--no-charts",
                     "--quiet"]) == 2
    finally:
        path.unlink()
    err = capsys.readouterr().err
    assert f"{path}: workload 'azure': its trace replays no instance here" in err


def test_an_output_folder_whose_name_is_too_long_is_an_error_not_a_crash(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text(MAIN)
    assert main(["run", str(path), "--out", str(tmp_path / ("x" * 300)), "--quiet"]) == 2
    assert "cannot write results there (File name too long)" in capsys.readouterr().err


def test_a_failed_run_leaves_the_previous_results_untouched(tmp_path, monkeypatch):
    from sim.present import plots

    good = tmp_path / "s.yaml"
    good.write_text(Path("scenarios/density.yaml").read_text())
    assert main(["run", str(good), "--out", str(tmp_path), "--no-charts", "--quiet"]) == 0
    before = (tmp_path / "density" / "summary.json").read_bytes()

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(plots, "chart_calls", broken)
    assert main(["run", str(good), "--out", str(tmp_path), "--quiet", "--seed", "9"]) == 70
    assert (tmp_path / "density" / "summary.json").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [".runs"]


@pytest.mark.slow
def test_schema_is_json_schema_that_accepts_every_scenario(capsys):
    jsonschema = pytest.importorskip("jsonschema")
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    for path in Path("scenarios").glob("*.yaml"):
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(yaml.safe_load(edit("    memory: 256GiB", "    memroy: 256GiB")),
                            schema)


# --- malformed traces: TRACEFILE:LINE: field: message, exit 2, nothing written ----------------

TRACE_SAMPLE = Path("sim/data/traces/azure-v1").resolve()


def trace_scenario(arrival: dict) -> str:
    from tests.helpers import scenario

    data = scenario(host={"cpu_cores": 1000, "memory": "10TiB"}, workload={"arrival": arrival})
    return yaml.safe_dump(data, sort_keys=False)


def broken_azure(tmp_path: Path, flavors_edit=None, durations_edit=None) -> Path:
    import shutil

    folder = tmp_path / "azure"
    shutil.copytree(TRACE_SAMPLE, folder)
    for name, change in (("v1.test.day1.txt", flavors_edit),
                         ("v1.test.day1.c2591400.txt", durations_edit)):
        if change is not None:
            lines = (folder / name).read_text().splitlines(keepends=True)
            number, old, new = change
            assert old in lines[number - 1]
            lines[number - 1] = lines[number - 1].replace(old, new, 1)
            (folder / name).write_text("".join(lines))
    return folder / "v1.test.day1.txt"


@pytest.mark.parametrize("flavors_edit,durations_edit,file,line,words", [
    ((3, "|,g,|", "|,z,|"), None, "v1.test.day1.txt", 3,
     "flavor: unknown flavor 'z'; known: a, b, c"),
    ((5, "2101200 ", "21012x0 "), None, "v1.test.day1.txt", 5, "time: expected a time"),
    (None, (7, "U", "X"), "v1.test.day1.c2591400.txt", 7,
     "duration: 'X"),
    (None, (9, ",|,", ",U1,|,"), "v1.test.day1.c2591400.txt", 9,
     "durations: "),
    (None, (11, "U3", "U99"), "v1.test.day1.c2591400.txt", 11, "with a bin from 0 to 45"),
])
def test_malformed_azure_trace_names_file_line_and_field(tmp_path, flavors_edit,
                                                         durations_edit, file, line, words):
    path = broken_azure(tmp_path, flavors_edit, durations_edit)
    text = trace_scenario({"kind": "trace", "format": "azure-v1", "path": str(path)})
    out = problems(text)
    hit = [p for p in out if p.startswith(f"{path.parent / file}:{line}: ")]
    assert hit, out
    assert words in hit[0], hit[0]


@pytest.mark.parametrize("body,line,words", [
    ("arrival,cpu\n0,1\n5,two\n", 3, "cpu: 'two' is not a number; expected vCPU"),
    ("arrival,memory\n0,1\n1,-4\n", 3, "memory: -4 is negative"),
    # an instance of no vCPU was accepted: it would fit a host without end
    ("arrival,cpu\n0,1\n1,0\n", 3, "cpu: 0 is zero; expected more than 0 (empty: the "
                                   "workload's own)"),
    ("arrival,lifetime\n0,1\n1,0\n2,-1\n", 4, "lifetime: -1 is negative; expected 0 or more"),
    ("start,cpu\n0,1\n", 1, ("arrival: no column 'arrival'; the header has start, cpu; map one "
                             "with columns: {arrival: NAME}")),
    ("arrival,cpu\n0,1\n,2\n", 3, "arrival: empty"),
    ("arrival,cpu\n0,1\n1,2,3,4\n", 3, "line: "),
])
def test_malformed_csv_trace(tmp_path, body, line, words):
    path = tmp_path / "t.csv"
    path.write_text(body)
    out = problems(trace_scenario({"kind": "trace", "format": "csv", "path": str(path)}))
    assert any(p.startswith(f"{path}:{line}: ") and words in p for p in out), out


@pytest.mark.parametrize("second_row, expected", [
    ("600000000,,7,0,1,11,u,2,9,0.5,0.25,0,0", "event_type: 11 is out of range; expected 0-8"),
    ("5,,7,x1,1,1,u,2,9,0.5,0.25,0,0", "task_index: 'x1' is not a number; expected an integer"),
])
def test_malformed_google_trace(tmp_path, second_row, expected):
    import gzip

    path = tmp_path / "part-00000.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(f"0,,7,0,1,0,u,2,9,0.5,0.25,0,0\n{second_row}\n")
    out = problems(trace_scenario({"kind": "trace", "format": "google-2011", "path": str(path),
                                   "machine": {"cpu": 32, "memory": "128GiB"}}))
    assert any(p.startswith(f"{path}:2: {expected}") for p in out), out


def test_missing_trace_and_bad_options_are_scenario_problems(tmp_path):
    text = trace_scenario({"kind": "trace", "format": "azure-v1", "path": "nothere.txt"})
    out = "\n".join(problems(text))
    assert f"s.yaml:{line_of(text, 'nothere.txt')}:" in out
    assert "workloads[0].arrival.path: no such file" in out
    text = trace_scenario({"kind": "trace", "format": "google-2011", "path": "x.gz"})
    assert "google-2011 needs machine" in "\n".join(problems(text))
    text = trace_scenario({"kind": "trace", "format": "csv", "path": "x.csv", "spred": False})
    assert "unknown key 'spred'; did you mean 'spread'?" in "\n".join(problems(text))
    text = trace_scenario({"kind": "trace", "format": "csv", "path": "x.csv",
                           "durations": "d.txt"})
    assert "durations is an option of format azure-v1, not csv" in "\n".join(problems(text))


def test_a_pinned_digest_that_no_longer_matches(tmp_path):
    text = trace_scenario({"kind": "trace", "format": "azure-v1",
                           "path": str(TRACE_SAMPLE / "v1.test.day1.txt"),
                           "digest": "0123456789abcdef0123"})
    out = "\n".join(problems(text))
    assert "workloads[0].arrival.digest: the trace's files have digest" in out
    assert "the scenario pins 0123456789abcdef0123" in out


def test_cli_exits_2_on_a_malformed_trace_and_writes_nothing(tmp_path, capsys):
    path = broken_azure(tmp_path, (3, "|,g,|", "|,z,|"))
    bad = tmp_path / "bad.yaml"
    bad.write_text(trace_scenario({"kind": "trace", "format": "azure-v1", "path": str(path)}))
    out = tmp_path / "out"
    assert main(["run", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:3: flavor: unknown flavor 'z'" in err and "nothing was run" in err
    assert not out.exists()


def test_a_window_with_no_trace_instance_is_a_problem():
    text = trace_scenario({"kind": "trace", "format": "azure-v1",
                           "path": str(TRACE_SAMPLE / "v1.test.day1.txt"), "offset": "30d"})
    assert "workloads[0]: the trace" in "\n".join(problems(text))
    assert "has no instance in the chosen window and classes" in "\n".join(problems(text))


def test_a_bad_value_merged_from_a_yaml_anchor_is_placed_where_it_is_written():
    text = edit("  - name: web\n", "  - &web\n    name: web\n").replace(
        "    cpu: 1\n", "    cpu: -1\n", 1).replace(
        "\nplacement:", "\n  - {<<: *web, name: web2}\n\nplacement:", 1)
    out = problems(text)
    line = line_of(text, "cpu: -1")
    for index in (0, 2):  # the merged copy is reported where the value is written
        assert any(p.startswith(f"s.yaml:{line}:") and f"workloads[{index}].cpu" in p
                   for p in out), out
