"""The floor: a bare SimPy model of a benchmark case's lifecycle (arrival, start slot, fixed
start delay, lifetime; one process per instance, no placement, no recording). Every other
figure is printed as a ratio to it. (It takes only the lognormal's parameters from ``sim``.)

Two lifecycles, one per kind of case:

* the common shape's (``bare_lifecycles`` with ``lifetime=None``): instances arrive over one
  hour and live past its end, as the common shape's do;
* a trace's (``replayed``): the instances a trace replay runs, at their arrival times with
  their lifetimes (the ``trace`` case reads them with ``sim``'s trace reader);
* the full model's (``same_lifecycle``): each isolation mode's share of the instances arrives
  over the main example's duration (4 h), and each lives a lifetime drawn from the example's
  own distribution (lognormal, median 20 min, p95 2 h), so most lifetimes end during the run
  and the floor processes their ends, as the full model processes its instances' stops. One
  run per mode, each in a fresh environment, as the full model runs its variants.
"""

from __future__ import annotations

import numpy as np
import simpy

from sim.experiment.rng import lognormal_params
from sim.spec.values import Lognormal


def bare_lifecycles(instances: int, hosts: int, horizon_s: float = 3600.0,
                    start_s: float = 1.0, seed: int = 1,
                    lifetime: tuple[float, float] | None = None) -> int:
    """Run ``instances`` arrivals spread over ``horizon_s`` onto ``hosts`` round robin, each
    host with 8 start slots; returns the instances that reached running. ``lifetime``: (median,
    95th percentile) seconds of a lognormal each instance's lifetime is drawn from (its end
    is simulated when it falls in the run), or None: every instance lives past the end."""
    rng = np.random.default_rng(seed)
    arrivals = np.sort(rng.uniform(0, horizon_s, instances))
    if lifetime is None:
        lifetimes = np.full(instances, 10 * horizon_s)  # lives past the end
    else:
        mu, sigma = lognormal_params(Lognormal(dist="lognormal", median=lifetime[0],
                                               p95=lifetime[1]))
        lifetimes = rng.lognormal(mu, sigma, instances)
    return replayed(arrivals, lifetimes, hosts, horizon_s, start_s)


def replayed(arrivals: np.ndarray, lifetimes: np.ndarray, hosts: int, horizon_s: float,
             start_s: float = 1.0) -> int:
    """Run instances arriving at ``arrivals`` (seconds, ascending) onto ``hosts`` round robin,
    each host with 8 start slots, each living its ``lifetimes`` entry after it starts (NaN:
    past the end); returns the instances that reached running by ``horizon_s``."""
    env = simpy.Environment()
    slots = [simpy.Resource(env, capacity=8) for _ in range(hosts)]
    lifetimes = np.where(np.isnan(lifetimes), 10 * horizon_s, lifetimes)
    running = [0]

    def lifecycle(i: int, lives: float):
        with slots[i % hosts].request() as slot:
            yield slot
            yield env.timeout(start_s)
        running[0] += 1
        yield env.timeout(lives)

    def source():
        for i, (t, lives) in enumerate(zip(arrivals.tolist(), lifetimes.tolist(),
                                           strict=True)):
            yield env.timeout(t - env.now)
            env.process(lifecycle(i, lives))

    env.process(source())
    env.run(until=horizon_s)
    return running[0]


def same_lifecycle(instances: int, hosts: int, modes: int, duration_s: float,
                   lifetime: tuple[float, float]) -> int:
    """The full model's floor: ``modes`` runs of an equal share of ``instances`` each, over
    ``duration_s``, with lifetimes (median, p95) from a lognormal; instances that reached
    running, in all runs."""
    share = instances // modes
    return sum(bare_lifecycles(share + (1 if k < instances % modes else 0), hosts,
                               horizon_s=duration_s, seed=1 + k, lifetime=lifetime)
               for k in range(modes))
