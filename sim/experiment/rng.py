"""Named random streams and the samplers that draw from them.

Owns: turning (seed, replication, stream name) into an independent NumPy generator, and
distribution specs into fast samplers. Every random number of a run comes from here; adding a
draw to one stream never shifts another, so variants compared in one scenario see the same
arrivals, lifetimes and app start-ups (common random numbers). Must not: use global seeding.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Callable

import numpy as np

from sim.spec.values import Constant, Empirical, Exponential, Gamma, Lognormal, Uniform

Z95 = 1.6448536269514722  # standard normal 95 % quantile
CHUNK = 512  # draws are made in blocks of this size; part of the stream's definition


def generator(seed: int, name: str, replication: int = 0) -> np.random.Generator:
    """An independent generator for stream ``name`` of ``seed`` and ``replication``."""
    digest = hashlib.sha256(name.encode()).digest()
    words = [int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4)]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(
        entropy=seed, spawn_key=(replication, *words))))


DistSpec = Constant | Exponential | Lognormal | Uniform | Gamma | Empirical


def lognormal_params(spec: Lognormal) -> tuple[float, float]:
    """(mu, sigma) of the underlying normal."""
    if spec.median is not None and spec.p95 is not None:
        return math.log(spec.median), math.log(spec.p95 / spec.median) / Z95
    assert spec.mean is not None and spec.cv is not None
    sigma2 = math.log1p(spec.cv**2)
    return math.log(spec.mean) - sigma2 / 2, math.sqrt(sigma2)


def mean(spec: DistSpec) -> float:
    """The distribution's mean (seconds)."""
    if isinstance(spec, Constant):
        return spec.value
    if isinstance(spec, (Exponential, Gamma)):
        return spec.mean
    if isinstance(spec, Lognormal):
        mu, sigma = lognormal_params(spec)
        return math.exp(mu + sigma**2 / 2)
    if isinstance(spec, Uniform):
        return (spec.low + spec.high) / 2
    return float(np.mean(spec.values))


def _block(spec: DistSpec, gen: np.random.Generator) -> np.ndarray:
    if isinstance(spec, Exponential):
        return gen.exponential(spec.mean, CHUNK)
    if isinstance(spec, Lognormal):
        mu, sigma = lognormal_params(spec)
        return gen.lognormal(mu, sigma, CHUNK)
    if isinstance(spec, Uniform):
        return gen.uniform(spec.low, spec.high, CHUNK)
    if isinstance(spec, Gamma):
        shape = 1.0 / spec.cv**2
        return gen.gamma(shape, spec.mean / shape, CHUNK)
    if isinstance(spec, Empirical):
        return gen.choice(np.asarray(spec.values, dtype=float), CHUNK)
    raise TypeError(spec)


def sampler(spec: DistSpec, gen: np.random.Generator) -> Callable[[], float]:
    """A function returning successive draws of ``spec`` from ``gen``."""
    if isinstance(spec, Constant):
        return itertools.repeat(float(spec.value)).__next__
    # blocks drawn one after the other, each when the last is used up, read in order; a C
    # iterator's ``__next__``, so a draw is one call with no Python frame (a model draws
    # several per instance)
    blocks = (_block(spec, gen).tolist() for _ in itertools.count())
    return itertools.chain.from_iterable(blocks).__next__


def sampler_exponential(gen: np.random.Generator, mean: float) -> Callable[[], float]:
    """Exponential draws of ``mean`` from ``gen``, in blocks (arrival gaps, fault clocks)."""
    return sampler(Exponential(dist="exponential", mean=mean), gen)
