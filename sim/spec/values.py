"""The value types a scenario's keys are made of: the frozen ``Spec`` base of every section,
quantities written with their unit (sizes, durations, rates, bandwidths) and the distributions
of durations.

Owns: how one value is read and checked. Must not: know a scenario's sections (``config``
does) or read files.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)

from sim.spec import units

QUANTITY_PATTERN = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*[A-Za-z/]*\s*$"


def _quantity(parse: Any, hint: str) -> Any:
    return (
        BeforeValidator(parse),
        WithJsonSchema(
            {"anyOf": [{"type": "string", "pattern": QUANTITY_PATTERN}, {"type": "number",
                                                                         "minimum": 0}],
             "description": hint}
        ),
    )


Size = Annotated[float, *_quantity(units.parse_size, units.SIZE_HINT)]
Duration = Annotated[float, *_quantity(units.parse_duration, units.DURATION_HINT)]
Rate = Annotated[float, *_quantity(units.parse_rate, units.RATE_HINT)]
Bandwidth = Annotated[float, *_quantity(units.parse_bandwidth, units.BANDWIDTH_HINT)]
DataRate = Annotated[float, *_quantity(units.parse_data_rate, units.BANDWIDTH_HINT)]  # 0 too
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
# Spreads whose draws and moments stay finite floats: a coefficient of variation of 100 is
# already wilder than any start-up or lifetime measured; below 0.001 a gamma's shape
# parameter (1/cv^2) leaves what NumPy draws reliably (use a constant instead).
MAX_CV = 100.0
MIN_GAMMA_CV = 1e-3
MAX_P95_RATIO = 1e6


class Spec(BaseModel):
    """Base of every scenario section: frozen, unknown keys rejected, and strict about types:
    a boolean is not a count, and every number is finite (``.inf`` and ``.nan`` are refused
    wherever a number is read)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


# --- distributions --------------------------------------------------------------------------

class Constant(Spec):
    """Always ``value``."""

    dist: Literal["constant"] = Field(
        "constant", description="constant: every draw is value (a bare duration means the same)")
    value: Duration = Field(description="required: the duration every draw takes, e.g. 2s")


class Exponential(Spec):
    """Exponential with the given ``mean``."""

    dist: Literal["exponential"] = Field(
        description="required: names the distribution, which says what the other keys mean")
    mean: Duration = Field(description="required: the mean, the distribution's one parameter")


class Lognormal(Spec):
    """Lognormal given by ``median`` and ``p95``, or by ``mean`` and coefficient of variation ``cv``."""  # noqa: E501 - the schema's description

    dist: Literal["lognormal"] = Field(
        description="required: names the distribution, which says what the other keys mean")
    median: Duration | None = Field(None, description="the median (give it with p95)")
    p95: Duration | None = Field(None, description="the 95th percentile (give it with median)")
    mean: Duration | None = Field(None, description="the mean (give it with cv)")
    cv: Annotated[float, Field(gt=0, le=MAX_CV)] | None = Field(
        None, description="coefficient of variation, standard deviation / mean (give it with "
                          "mean)")

    @model_validator(mode="after")
    def _one_parametrisation(self) -> Lognormal:
        by_quantiles = self.median is not None or self.p95 is not None
        by_moments = self.mean is not None or self.cv is not None
        if by_quantiles == by_moments:
            raise ValueError("give either median and p95, or mean and cv")
        if by_quantiles:
            if self.median is None or self.p95 is None:
                raise ValueError("give both median and p95")
            if self.median <= 0 or self.p95 <= self.median:
                raise ValueError("needs 0 < median < p95")
            if self.p95 > MAX_P95_RATIO * self.median:
                raise ValueError(f"p95 is more than {MAX_P95_RATIO:,} times the median: a "
                                 "spread whose mean no float can hold")
        elif self.mean is None or self.cv is None:
            raise ValueError("give both mean and cv")
        elif self.mean <= 0:
            raise ValueError("needs a mean above 0 (a lognormal is positive)")
        return self


class Uniform(Spec):
    """Uniform on [``low``, ``high``]."""

    dist: Literal["uniform"] = Field(
        description="required: names the distribution, which says what the other keys mean")
    low: Duration = Field(description="required: the lowest value, one end of the range")
    high: Duration = Field(description="required: the highest value, the other end of the range")

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high < self.low:
            raise ValueError("needs low <= high")
        return self


class Gamma(Spec):
    """Gamma with the given ``mean`` and coefficient of variation ``cv``."""

    dist: Literal["gamma"] = Field(
        description="required: names the distribution, which says what the other keys mean")
    mean: Duration = Field(description="required: the mean, one of the two parameters")
    cv: Annotated[float, Field(ge=MIN_GAMMA_CV, le=MAX_CV)] = Field(
        description=f"required: coefficient of variation, standard deviation / mean, the other "
                    f"parameter; between {MIN_GAMMA_CV} and {MAX_CV:g} (a constant for no "
                    f"spread)")


class Empirical(Spec):
    """Draws uniformly from the listed ``values`` (a measured sample)."""

    dist: Literal["empirical"] = Field(
        description="required: names the distribution, which says what the other keys mean")
    values: Annotated[list[Duration], Field(min_length=1)] = Field(
        description="required: the measured sample, at least one value; each draw is one of "
                    "them")


def _bare_constant(value: Any) -> Any:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return {"dist": "constant", "value": value}
    return value


Distribution = Annotated[
    Constant | Exponential | Lognormal | Uniform | Gamma | Empirical,
    Field(discriminator="dist"),
    BeforeValidator(_bare_constant),
]
ZERO = Constant(value=0.0)


Power = Annotated[float, *_quantity(units.parse_power, units.POWER_HINT)]
Price = Annotated[float, *_quantity(units.parse_price, units.PRICE_HINT)]
EnergyPrice = Annotated[float, *_quantity(units.parse_energy_price, units.ENERGY_PRICE_HINT)]
Intensity = Annotated[float, *_quantity(units.parse_intensity, units.INTENSITY_HINT)]
Mass = Annotated[float, *_quantity(units.parse_mass, units.MASS_HINT)]


def count_of(value: int | str, total: int) -> int:
    """A count (a validated ``int``), or a percentage of ``total`` rounded up, as Kubernetes
    rounds a rollout's max surge and a PodDisruptionBudget's maxUnavailable (one rule here
    also keeps a 10 % batch of 5 at 1, not 0)."""
    if isinstance(value, int):
        return value
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%\s*", value)
    if match is None:
        raise ValueError(f"not a count or a percentage: {value!r}")
    return math.ceil(float(match.group(1)) / 100.0 * total - 1e-9)

