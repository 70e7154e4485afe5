"""Analytic checks (shared/reference/analytic-checks.md) through the public scenario format.

Tolerances: |mean - expected| <= k * sigma_1 * sqrt(90 000 / (N * R)) with k = 4 for a fixed
seed, sigma_1 as given in the reference for one replication of 100k arrivals; where the reference
gives none, the stated sampling error of the quantity.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.analysis import theory
from tests.helpers import only, scenario

K = 4.0


def test_theory_matches_the_worked_cases():
    assert theory.erlang_c(8, 6.0) == pytest.approx(0.3569810859, abs=1e-10)
    assert theory.mmc_mean_wait(8, 1.2, 5.0) == pytest.approx(0.8924527147, abs=1e-10)
    assert theory.erlang_c(1, 0.5) == pytest.approx(0.5)
    assert theory.erlang_b(10, 5.0) == pytest.approx(0.01838457034, abs=1e-11)
    assert theory.erlang_b(20, 15.0) == pytest.approx(0.04559321559, abs=1e-11)
    assert theory.erlang_b_servers(5.0, 0.01) == 11
    assert theory.erlang_b_servers(15.0, 0.01) == 24
    assert theory.poisson_quantile(10, 0.99) == 18
    assert theory.poisson_quantile(100, 0.99) == 124


def _start_slots(slots: int, rate: float, mean_start: float, arrivals: int, seed: int):
    """M/M/c: c start slots on one host, exponential start-up, nothing else limiting."""
    data = scenario(seed=seed, duration=arrivals / rate, warmup=0.1 * arrivals / rate,
                    host={"max_concurrent_starts": slots},
                    workload={"memory": "1MiB", "cpu": 0.001, "lifetime": "1s",
                              "app_start": {"dist": "exponential", "mean": mean_start},
                              "arrival": {"kind": "poisson", "rate": rate}})
    return only(data)


@pytest.mark.slow
def test_erlang_c_start_slots_c2():
    """C2: c=8, lambda=1.2/s, start ~ Exp(5 s): E[Wq]=0.8925 s, P(wait)=0.357, 6 busy slots."""
    runs = [_start_slots(8, 1.2, 5.0, 100_000, seed) for seed in (11, 12)]
    n = sum(r.metrics["requests"] for r in runs)  # N * R counted arrivals
    wq = np.mean([r.metrics["wait_s"]["mean"] for r in runs])
    assert abs(wq - 0.8924527147) <= K * 0.0474 * math.sqrt(90_000 / n)
    p_wait = np.mean([r.metrics["waited_fraction"] for r in runs])
    assert p_wait == pytest.approx(0.3569810859, abs=0.02)
    busy = np.mean([r.metrics["starting_mean"] for r in runs])
    assert busy == pytest.approx(6.0, abs=0.15)  # Little: lambda * E[S]


@pytest.mark.slow
def test_erlang_c_single_slot_c1():
    """C1: c=1, lambda=0.5/s, Exp(1 s): E[Wq] = 1 s, E[W] = 2 s."""
    r = _start_slots(1, 0.5, 1.0, 100_000, 21)
    assert r.metrics["wait_s"]["mean"] == pytest.approx(1.0, abs=0.08)
    assert r.metrics["startup_s"]["mean"] == pytest.approx(2.0, abs=0.08)


LIFETIMES = {  # law -> (spec, E[S^2] / E[S]^2)
    "exponential": ({"dist": "exponential", "mean": "10min"}, 2.0),
    "constant": ("10min", 1.0),
    "lognormal": ({"dist": "lognormal", "mean": "10min", "cv": 2.0}, 5.0),
}


@pytest.mark.slow
@pytest.mark.parametrize("law", list(LIFETIMES))
def test_erlang_b_blocking_is_insensitive_to_the_lifetime_law(law):
    """B1: room for 10, lambda=0.5/min, mean life 10 min: B = 0.018385, carried 4.908."""
    arrivals = 100_000
    rate = 0.5 / 60
    life, moment_ratio = LIFETIMES[law]
    data = scenario(seed=31, duration=arrivals / rate, warmup=0.1 * arrivals / rate,
                    host={"memory": "10GiB"},
                    workload={"on_full": "reject", "lifetime": life,
                              "arrival": {"kind": "poisson", "rate": "0.5/min"}})
    m = only(data).metrics
    tolerance = K * 0.0005 * math.sqrt(90_000 / m["requests"])
    assert abs(m["blocking"] - 0.01838457034) <= tolerance
    # time average of the count: at most the M/G/inf sampling error sqrt(lambda E[S^2] / T)
    horizon = 0.9 * arrivals / rate
    sd = math.sqrt(rate * moment_ratio * 600.0**2 / horizon)
    assert abs(m["running_mean"] - 4.908077148) <= K * sd


@pytest.mark.slow
@pytest.mark.parametrize("case,rate,life,mean,q99", [
    ("I1", "1/s", {"dist": "exponential", "mean": "10s"}, 10.0, 18),
    ("I2", "2/min", {"dist": "lognormal", "mean": "50min", "cv": 1.5}, 100.0, 124),
])
def test_mg_infinity_running_count_is_poisson(case, rate, life, mean, q99):
    from sim.spec.units import parse_duration, parse_rate

    lam = parse_rate(rate)
    arrivals = 100_000
    horizon = arrivals / lam
    mean_life = mean / lam
    cv = 1.0 if case == "I1" else 1.5
    second_moment = mean_life**2 * (1 + cv**2)
    data = scenario(seed=41, duration=horizon + 10 * mean_life, warmup=10 * mean_life,
                    host={"memory": "1000GiB"},
                    workload={"memory": "1MiB", "cpu": 0.001, "lifetime": life,
                              "arrival": {"kind": "poisson", "rate": rate}})
    m = only(data).metrics
    sd = math.sqrt(lam * second_moment / horizon)
    assert abs(m["running_mean"] - mean) <= K * sd
    assert abs(m["running_p99"] - q99) <= (0 if case == "I1" else 2)
    assert parse_duration(life.get("mean")) == pytest.approx(mean_life)
