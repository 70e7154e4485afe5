"""Per-node limits (issue #23): ``max_instances`` (Kubernetes maxPods) as a placement filter
and a density resource, and ``creation_rate`` (create phases a host begins per second)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.planning.capacity import fit
from tests.helpers import FREE, load, only, scenario


def test_a_host_at_max_instances_takes_no_more():
    data = scenario(host={"count": 2, "max_instances": 3},
                    workload={"arrival": {"kind": "burst", "count": 5, "at": 0}})
    df = only(data).instances
    assert sorted(df.groupby("host").size().tolist()) == [2, 3]
    assert (df["running"] == 0.0).all()


def test_instances_beyond_every_hosts_limit_wait_for_a_free_place():
    data = scenario(host={"max_instances": 2},
                    workload={"lifetime": "10s",
                              "arrival": {"kind": "burst", "count": 5, "at": 0}})
    df = only(data).instances.sort_values("id")
    assert df["running"].tolist() == [0.0, 0.0, 10.0, 10.0, 20.0]


def test_creation_rate_spaces_the_create_phases_on_a_host():
    data = scenario(host={"creation_rate": "0.5/s"},
                    workload={"arrival": {"kind": "burst", "count": 4, "at": 0}})
    df = only(data).instances.sort_values("id")
    assert df["running"].tolist() == [0.0, 2.0, 4.0, 6.0]
    assert df["copied"].tolist() == [0.0] * 4  # they wait after their image is ready


def test_creation_rate_adds_to_the_create_phase_under_a_real_profile():
    free = {**FREE, "create": "1s"}
    data = scenario(host={"creation_rate": "1/s"}, profiles={"free": free},
                    workload={"arrival": {"kind": "burst", "count": 3, "at": 0}})
    df = only(data).instances.sort_values("id")
    assert np.allclose(df["created"], [1.0, 2.0, 3.0])


def test_density_names_max_instances_when_it_binds():
    loaded = load(scenario(host={"max_instances": 30, "cpu_cores": 1000}))
    sc = loaded.scenario
    images = {img.name: img for img in sc.images}
    found = fit(sc.hosts[0], sc.workloads[0], loaded.profiles["free"], images)
    assert (found.per_host, found.binding) == (30, "instances")
    unlimited = load(scenario()).scenario
    f2 = fit(unlimited.hosts[0], unlimited.workloads[0], loaded.profiles["free"], images)
    assert "instances" not in f2.limits


@pytest.mark.parametrize("value", [0, -1, 1.5])
def test_bad_max_instances_is_refused(value):
    from sim.edge.loader import ScenarioError

    with pytest.raises(ScenarioError, match="max_instances"):
        load(scenario(host={"max_instances": value}))

