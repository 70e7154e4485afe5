"""The floor: a bare SimPy model of the same lifecycle as the benchmark's common shape
(arrival, start slot, fixed start delay, lifetime; one process per instance, no placement, no
recording). Every other figure is printed as a ratio to it."""

from __future__ import annotations

import numpy as np
import simpy


def bare_lifecycles(instances: int, hosts: int, horizon_s: float = 3600.0,
                    start_s: float = 1.0, seed: int = 1) -> int:
    """Run ``instances`` arrivals spread over ``horizon_s`` onto ``hosts`` round robin, each
    host with 8 start slots; returns the instances that reached running."""
    env = simpy.Environment()
    slots = [simpy.Resource(env, capacity=8) for _ in range(hosts)]
    arrivals = np.sort(np.random.default_rng(seed).uniform(0, horizon_s, instances))
    running = [0]

    def lifecycle(i: int):
        with slots[i % hosts].request() as slot:
            yield slot
            yield env.timeout(start_s)
        running[0] += 1
        yield env.timeout(10 * horizon_s)  # lives past the end

    def source():
        for i, t in enumerate(arrivals):
            yield env.timeout(t - env.now)
            env.process(lifecycle(i))

    env.process(source())
    env.run(until=horizon_s)
    return running[0]
