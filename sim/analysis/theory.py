"""Closed-form queueing results the simulator is checked against (and planners can use).

Owns: Erlang B and C, M/M/c waiting time, M/G/infinity occupancy. Formulas as in
Kleinrock, Queueing Systems Vol. 1 (1975) and Gross et al., Fundamentals of Queueing Theory
(2008). Must not: import the model.
"""

from __future__ import annotations

import math


def erlang_b(servers: int, load: float) -> float:
    """Blocking probability of M/G/c/c with offered load ``load`` Erlangs (stable recursion)."""
    b = 1.0
    for k in range(1, servers + 1):
        b = load * b / (k + load * b)
    return b


def erlang_c(servers: int, load: float) -> float:
    """Probability of waiting in M/M/c (requires load < servers)."""
    if load >= servers:
        return 1.0
    b = erlang_b(servers, load)
    return servers * b / (servers - load * (1 - b))


def mmc_mean_wait(servers: int, arrival_rate: float, mean_service: float) -> float:
    """Mean time in queue E[Wq] of M/M/c."""
    mu = 1.0 / mean_service
    load = arrival_rate * mean_service
    return erlang_c(servers, load) / (servers * mu - arrival_rate)


def erlang_b_servers(load: float, target: float) -> int:
    """The smallest number of servers with Erlang-B blocking at most ``target``."""
    c = 0
    while erlang_b(c, load) > target:
        c += 1
    return c


def poisson_quantile(mean: float, q: float) -> int:
    """The smallest n with P(Poisson(mean) <= n) >= q."""
    term = math.exp(-mean)
    total, n = term, 0
    while total < q:
        n += 1
        term *= mean / n
        total += term
    return n
