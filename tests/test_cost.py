"""Cost (issue #24): power models, energy, carbon, Windows Server licences and money, as
arithmetic on tiny scenarios; the licensing rules; bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sim.analysis.cost import (
    Hosts,
    host_licences,
    licences,
    licensed_cores,
    power,
    standard_sets,
    watts,
)
from sim.spec.config import HostGroup
from tests.helpers import FREE, load, only, scenario

ROOT = Path(__file__).resolve().parent.parent
HOUR = 3600.0


def group(**fields):
    base = {"group": "g", "cpu_cores": 32, "memory": "256GiB", "disk": "1TiB",
            "disk_rate": "1GB/s", "nic": "10Gbit/s"}
    return HostGroup.model_validate({**base, **fields}, strict=False)


def steady(host=None, workload=None, **changes):
    """One 8-core host, 4 instances of 2 vCPU each using half of it from time 0 for 10 h:
    4 cores busy, u = 0.5."""
    host = {"cpu_cores": 8, "power": {"model": "linear", "idle": "100W", "max": "300W"},
            **(host or {})}
    workload = {"cpu": 2, "cpu_use": 0.5, "arrival": {"kind": "burst", "count": 4, "at": 0},
                **(workload or {})}
    return scenario(duration="10h", host=host, workload=workload, **changes)


def test_linear_power_at_a_constant_utilisation_is_exact():
    m = only(steady()).metrics
    assert m["power_w"]["mean"] == pytest.approx(100 + 200 * 0.5, rel=1e-12)
    assert m["power_w"]["peak"] == pytest.approx(200.0, rel=1e-12)
    assert m["energy_kwh"] == pytest.approx(0.2 * 10, rel=1e-12)  # 200 W for 10 h


@pytest.mark.parametrize("form, f", [("sqrt", 0.5 ** 0.5), ("square", 0.25), ("cubic", 0.125)])
def test_power_forms_at_half_load(form, f):
    data = steady(host={"power": {"model": form, "idle": "100W", "max": "300W"}})
    assert only(data).metrics["power_w"]["mean"] == pytest.approx(100 + 200 * f, rel=1e-12)


def test_pue_price_and_carbon_multiply_the_hosts_energy():
    data = steady(energy={"pue": 1.5, "carbon_intensity": "400g/kWh", "price": "0.10/kWh"})
    m = only(data).metrics
    assert m["energy_kwh"] == pytest.approx(2.0 * 1.5)
    assert m["carbon_kg"] == pytest.approx(3.0 * 0.4)
    assert m["cost"]["energy"] == pytest.approx(0.30)
    assert m["cost"]["total"] == pytest.approx(0.30)
    assert m["cost"]["instance_hours"] == pytest.approx(40.0)
    assert m["cost"]["per_instance_hour"] == pytest.approx(0.30 / 40)


def test_an_hourly_carbon_series_weights_each_hour_by_its_energy():
    hourly = [100, 200, 300]  # hours 0 and 1, then 300 to the end (8 of the 10 hours)
    m = only(steady(energy={"carbon_intensity": hourly})).metrics
    assert m["carbon_kg"] == pytest.approx(0.2 * (100 + 200 + 8 * 300) / 1e3)


def test_specpower_table_at_its_own_load_points_returns_its_own_watts():
    table = [55, 125, 151, 176, 202, 232, 261, 301, 357, 421, 469]
    g = group(power={"specpower": [f"{w}W" for w in table]})
    assert watts(g, np.linspace(0, 1, 11)).tolist() == pytest.approx(table, abs=1e-9)
    assert watts(g, np.array([0.45]))[0] == pytest.approx((202 + 232) / 2)
    m = only(steady(host={"power": {"specpower": [f"{w}W" for w in table]}})).metrics
    assert m["power_w"]["mean"] == pytest.approx(232.0)  # u = 0.5 exactly


def test_start_up_cpu_counts_while_it_runs():
    """A 1-hour create at cpu_bound_fraction 1 keeps a core busy for that hour."""
    starting = {**FREE, "create": "1h", "cpu_bound_fraction": 1.0}
    data = steady(workload={"arrival": {"kind": "burst", "count": 1, "at": 0}},
                  profiles={"free": starting})
    m = only(data).metrics
    # hour 1: 1 core of 8 for the create; hours 2-10: 1 of 8 cores running (2 vCPU x 0.5)
    assert m["energy_kwh"] == pytest.approx((100 + 200 / 8) * 10 / 1e3)


def test_a_host_off_draws_its_standby_power():
    """One idle host (100 W) off from 2 h to 3 h at 10 W: 9 h at 100 W and 1 h at 10 W."""
    g = group(cpu_cores=8, power={"model": "linear", "idle": "100W", "max": "300W",
                                  "standby": "10W"})
    hosts = Hosts(np.array([0]), np.array([0]), np.array([0]), [g])
    none = np.zeros(0)
    found = power(hosts, (none.astype(int), none, none, none),
                  (np.array([0]), np.array([2 * HOUR]), np.array([3 * HOUR])), 10 * HOUR)
    assert found.energy_j(0, 10 * HOUR) == pytest.approx((9 * 100 + 10) * HOUR)
    assert found.at(np.array([2.5 * HOUR]))[0] == 10.0


def test_hardware_faults_take_hosts_to_standby():
    data = steady(host={"count": 4, "power": {"model": "linear", "idle": "100W", "max": "300W",
                                              "standby": "0W"}},
                  workload={"cpu_use": 0.0},
                  faults={"host_hardware": {"mtbf": "10h", "repair": "2h"}})
    out = only(data)
    assert out.metrics["faults"]["host_hardware"] >= 1
    assert out.metrics["energy_kwh"] < 4 * 0.1 * 10  # some host-hours at 0 W, none above idle


def test_prices_and_licences_of_the_window_after_warm_up():
    data = steady(host={"price": "2/h", "licensing": "windows-standard", "cpu_cores": 8,
                        "licence_price": {"windows-standard": 1600}, "licence_years": 1},
                  warmup="2h")
    m = only(data).metrics
    assert m["cost"]["hosts"] == pytest.approx(2 * 8)  # 8 h after the warm-up
    # 16 core licences at least (8 cores), one set (process isolation needs no OSE)
    assert m["cost"]["licences"] == pytest.approx(1600 * 8 / (365 * 24))
    assert m["licences"] == {"edition": "windows-standard", "sets": 1,
                             "standard_cost": pytest.approx(1600 * 8 / (365 * 24)),
                             "datacenter_cost": pytest.approx(6155 * 8 / (365 * 24))}
    assert m["cost"]["instance_hours"] == pytest.approx(4 * 8)


def test_licensing_arithmetic_of_the_issue():
    """A 32-core host running 7 Hyper-V containers at its peak needs 4 Standard sets of 32
    cores, or one Datacenter set; with process isolation one Standard set."""
    g = group(cpu_cores=32)
    assert licensed_cores(g) == 32
    assert standard_sets(7) == 4 and standard_sets(0) == 1 and standard_sets(2) == 1
    assert host_licences(g, 7) == {"windows-standard": (4, 4 * 2 * 1069.0),
                                   "windows-datacenter": (1, 2 * 6155.0)}
    assert host_licences(g, 0)["windows-standard"] == (1, 2 * 1069.0)
    assert licensed_cores(group(cpu_cores=8)) == 16  # 16 per host at least
    assert licensed_cores(group(cpu_cores=20, sockets=4)) == 32  # 8 per processor


@pytest.mark.parametrize("oses, cheaper", [(10, "windows-standard"), (11, "windows-datacenter"),
                                           (12, "windows-datacenter")])
def test_the_cheaper_edition_flips_where_the_arithmetic_says(oses, cheaper):
    """Standard costs 1069 per set of 16 cores, Datacenter 6155: Standard is cheaper up to
    5 sets (10 OSEs; 5 x 1069 = 5345), 11 OSEs need 6 sets (6414 > 6155)."""
    g = group(cpu_cores=16, licensing="cheapest")
    hosts = Hosts(np.array([0]), np.array([0]), np.array([0]), [g])
    found = licences(hosts, np.array([oses]), 365 * 86400.0 * 3)  # the whole licence
    assert found["edition"] == cheaper
    assert found["cost"] == pytest.approx(min(standard_sets(oses) * 1069.0, 6155.0))


def test_hyperv_containers_need_standard_sets_for_their_peak():
    data = steady(host={"cpu_cores": 32, "licensing": "windows-standard", "licence_years": 3},
                  workload={"isolation": "hyperv", "cpu": 1,
                            "arrival": {"kind": "burst", "count": 7, "at": 0}})
    m = only(data).metrics
    assert m["licences"]["sets"] == 4


def test_no_cost_keys_no_cost_metrics():
    m = only(scenario()).metrics
    assert "cost" not in m and "energy_kwh" not in m


def _validate(text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    return subprocess.run([sys.executable, "-m", "sim", "validate", str(path)],
                          capture_output=True, text=True, cwd=ROOT)


@pytest.mark.parametrize("old, new, says", [
    ("idle: 55W, max: 469W", "idle: -55W, max: 469W", "power.idle: must be non-negative"),
    ("idle: 55W, max: 469W", "idle: 500W, max: 469W", "idle (500W) is above max (469W)"),
    ("151W, 176W", "176W, 151W", "must not fall as the load rises"),
    ("licensing: cheapest", "licensing: enterprise", "'windows-datacenter' or 'cheapest'"),
    ("350g/kWh", "350g/h", "expected a carbon intensity"),
])
def test_bad_cost_input_is_said_with_its_place(tmp_path, old, new, says):
    text = (ROOT / "scenarios" / "cost.yaml").read_text()
    assert old in text
    done = _validate(text.replace(old, new, 1), tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    line = next(line for line in done.stderr.splitlines() if says in line)
    assert line.startswith(f"{tmp_path / 'bad.yaml'}:")


def test_cheapest_count_tries_larger_counts_only_while_they_could_cost_less():
    from sim.planning.planner import Probe, cheapest

    costs = {5: 100.0, 6: 90.0, 7: 95.0, 8: 80.0, 9: 70.0}
    tried = []

    def probe(n):
        tried.append(n)
        return Probe(n, {"cost": {"total": costs[n]}}, passed=True)

    best, probes = cheapest(5, probe, lambda n: 12.0 * n, max_hosts=100)
    # 6 could cost less (floor 72 < 100) and does; 7 could (84 < 90) and does not; 8 cannot
    # (96 >= 90), so 8 and 9 are never run, though they would have been cheaper
    assert best == 6 and tried == [5, 6, 7] and sorted(probes) == [5, 6, 7]


def test_plan_objective_cost_needs_costs(tmp_path):
    done = subprocess.run([sys.executable, "-m", "sim", "plan", "scenarios/plan-web-farm.yaml",
                           "--objective", "cost", "--out", str(tmp_path)],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2
    assert "--objective cost needs what the hosts cost" in done.stderr
    assert not any(tmp_path.iterdir())


def test_the_floor_is_what_idle_hosts_cost():
    from sim.analysis.cost import floor

    data = steady(host={"price": "1/h", "licensing": "windows-standard", "licence_years": 1,
                        "licence_price": {"windows-standard": 876}},
                  energy={"price": "0.5/kWh", "pue": 2.0})
    scenario = load(data).scenario
    per_host = 10 * 1.0 + 876 * 10 / (365 * 24) + 0.1 * 10 * 2.0 * 0.5  # 10 h, 100 W idle
    assert floor(scenario, 0, 3) == pytest.approx(3 * per_host)


def test_an_hourly_carbon_csv_is_read_into_the_scenario(tmp_path):
    from sim.edge.loader import ScenarioError, load_file

    text = (ROOT / "scenarios" / "cost.yaml").read_text().replace(
        "carbon_intensity: 350g/kWh", "carbon_intensity: {file: grid.csv}")
    (tmp_path / "s.yaml").write_text(text)
    (tmp_path / "grid.csv").write_text("hour,g_per_kwh\n0,100\n1,200\n2,300\n")
    loaded = load_file(str(tmp_path / "s.yaml"))
    assert loaded.scenario.energy.carbon_intensity == [100.0, 200.0, 300.0]
    (tmp_path / "grid.csv").write_text("g\n1\nabc\n")
    with pytest.raises(ScenarioError) as info:
        load_file(str(tmp_path / "s.yaml"))
    said = str(info.value)
    assert "line 3: 'abc' is not a number" in said and said.count("carbon_intensity") == 1


def test_a_trace_instance_uses_its_own_vcpu(tmp_path):
    """Two trace instances of 1 and 3 vCPU running the whole hour at cpu_use 0.5 on a
    16-core host: 2 cores, u = 1/8, whatever the workload's own cpu says."""
    path = tmp_path / "t.csv"
    path.write_text("arrival,lifetime,cpu\n0,,3\n0,,1\n")
    arrival = {"kind": "trace", "format": "csv", "path": str(path),
               "columns": {"arrival": "arrival", "lifetime": "lifetime", "cpu": "cpu"}}
    data = scenario(host={"cpu_cores": 16, "power": {"model": "linear", "idle": "0W",
                                                     "max": "800W"}},
                    workload={"arrival": arrival, "cpu": 8, "cpu_use": 0.5})
    assert only(data).metrics["power_w"]["mean"] == pytest.approx(800 / 8)


def test_cost_metrics_are_metric_names():
    from sim.analysis.metrics import metric_names

    assert {"cost.per_instance_hour", "energy_kwh", "carbon_kg"} <= metric_names()


def test_an_ose_that_ends_as_another_starts_is_not_counted_twice():
    from sim.analysis.cost import peak_oses

    g = group(cpu_cores=16)
    hosts = Hosts(np.array([0]), np.array([0]), np.array([0]), [g])
    # two OSEs, one after the other: [0, 10) and [10, 20); a third alongside: [5, 15)
    ose = (np.array([0, 0, 0]), np.array([0.0, 10.0, 5.0]), np.array([10.0, 20.0, 15.0]))
    assert peak_oses(hosts, ose, 30.0).tolist() == [2]


def test_what_the_helper_found_is_refused_or_null(tmp_path):
    """Power on container-host VMs, an energy price without power, nothing priced."""
    from sim.edge.loader import ScenarioError

    vms = scenario(host={"count": 1, "cpu_cores": 32})
    vms["hosts"].append({**vms["hosts"][0], "group": "v", "count": 2, "cpu_cores": 8,
                         "memory": "100GiB", "virtual": {"physical_group": "h",
                                                         "per_physical": 2},
                         "power": {"model": "linear", "idle": "1W", "max": "2W"}})
    with pytest.raises(ScenarioError, match="power belongs to the physical hosts"):
        load(vms)
    with pytest.raises(ScenarioError, match="give a host group a power model"):
        load(scenario(energy={"price": "0.1/kWh"}))
    m = only(steady()).metrics  # power alone: nothing priced
    assert m["cost"]["total"] is None and m["cost"]["per_instance_hour"] is None

