"""What hosts cost to run: the keys of a host group's power model, price and Windows Server
licensing, and the scenario's ``energy`` section (PUE, carbon intensity, energy price).

Owns: how these keys are read and checked, and the defaults that are not evidence but stated
inputs (licence list prices, the years a perpetual licence is spread over). Must not: compute
power or money (``sim.analysis.cost`` does).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema, model_validator

from sim.spec import units
from sim.spec.values import (
    QUANTITY_PATTERN,
    Duration,
    EnergyPrice,
    Intensity,
    Mass,
    Power,
    Spec,
)

PowerForm = Literal["linear", "sqrt", "square", "cubic"]
Edition = Literal["windows-standard", "windows-datacenter"]
Licensing = Literal["none", "windows-standard", "windows-datacenter", "cheapest"]
SPECPOWER_POINTS = 11  # active idle, then 10 %, 20 % ... 100 % of the target load

# Illustrative list prices of Windows Server 2022 per 16 core licences, in dollars (Microsoft's
# pricing page as quoted in the cost issue); a scenario gives its own (licence_price).
LIST_PRICES: dict[str, float] = {"windows-standard": 1069.0, "windows-datacenter": 6155.0}
DEFAULT_LICENCE_YEARS = 3.0  # an estimate: a perpetual licence spread over a server refresh


class PowerModel(Spec):
    """A host's power draw as a function of its CPU utilisation u (0-1): ``idle`` + (``max`` -
    ``idle``) · f(u), f one of ``linear`` (u), ``sqrt``, ``square``, ``cubic``; or the 11 load
    points of a SPECpower_ssj2008 result (``specpower``: active idle, 10 % ... 100 %), linearly
    interpolated. A host that is off (down for repair) draws ``standby``."""

    model: PowerForm | Literal["specpower"] | None = Field(
        None, description="linear, sqrt, square or cubic between idle and max; specpower with "
                          "the specpower table; default linear (specpower when a table is "
                          "given)")
    idle: Power | None = Field(None, description="watts at 0 % CPU, e.g. 55W")
    max: Power | None = Field(None, description="watts at 100 % CPU, e.g. 469W")
    specpower: list[Power] | None = Field(
        None, description="the 11 average-power figures of a SPECpower_ssj2008 result "
                          "(active idle, 10 % … 100 %), e.g. [55W, 125W, …, 469W]")
    standby: Power = Field(0.0, description="watts while the host is off (down for repair)")

    @model_validator(mode="after")
    def _one_form(self) -> PowerModel:
        if self.specpower is not None:
            if self.idle is not None or self.max is not None or self.model not in (
                    None, "specpower"):
                raise ValueError("give either specpower (the 11 load points) or model with "
                                 "idle and max, not both")
            if len(self.specpower) != SPECPOWER_POINTS:
                raise ValueError(f"specpower: {SPECPOWER_POINTS} load points (active idle, "
                                 f"10 %, 20 % … 100 %), got {len(self.specpower)}")
            if any(b < a for a, b in zip(self.specpower, self.specpower[1:])):
                raise ValueError("specpower: the watts must not fall as the load rises (got "
                                 + ", ".join(f"{w:g}W" for w in self.specpower) + ")")
            if self.standby > self.specpower[-1]:
                raise ValueError(f"standby ({self.standby:g}W) is above the table's 100 % "
                                 f"({self.specpower[-1]:g}W)")
            return self
        if self.model == "specpower":
            raise ValueError("model specpower needs the specpower table (11 load points)")
        if self.idle is None or self.max is None:
            raise ValueError("give idle and max watts (e.g. idle: 55W, max: 469W), or a "
                             "specpower table")
        if self.idle > self.max:
            raise ValueError(f"idle ({self.idle:g}W) is above max ({self.max:g}W): a host "
                             "draws more at full load than idle")
        if self.standby > self.max:
            raise ValueError(f"standby ({self.standby:g}W) is above max ({self.max:g}W): a "
                             "host that is off draws less than at full load")
        return self

    @property
    def form(self) -> str:
        """The model in use: linear, sqrt, square, cubic or specpower."""
        if self.specpower is not None:
            return "specpower"
        return self.model or "linear"

    @property
    def points(self) -> list[float]:
        """Watts at 0 %, 10 % … 100 % CPU (the table, or the form at those loads)."""
        if self.specpower is not None:
            return list(self.specpower)
        assert self.idle is not None and self.max is not None
        return [self.idle + (self.max - self.idle) * float(shape(self.form, k / 10))
                for k in range(SPECPOWER_POINTS)]


def shape(form: str, u: Any) -> Any:
    """f(u) of a power form: the share of (max - idle) drawn at utilisation ``u`` (a number
    or an array)."""
    if form == "sqrt":
        return u ** 0.5
    if form == "square":
        return u * u
    if form == "cubic":
        return u * u * u
    return u


class Embodied(Spec):
    """The carbon emitted making one host, spread evenly over its ``lifetime``."""

    carbon: Mass = Field(description="required: kg CO2e to make one host, e.g. 1300kg")
    lifetime: Annotated[Duration, Field(gt=0)] = Field(
        4 * 365 * 86400.0, description="years in service it is spread over; default 4y")


def _hourly(value: Any) -> Any:
    """A constant intensity is a series of one value."""
    return value if isinstance(value, list) else [value]


_QUANTITY = {"anyOf": [{"type": "string", "pattern": QUANTITY_PATTERN},
                       {"type": "number", "minimum": 0}]}
_FILE = {"type": "object", "required": ["file"], "additionalProperties": False,
         "properties": {"file": {"type": "string", "description": "required: a CSV file "
                                 "whose last column holds gCO2e/kWh, a row per hour"}}}
Series = Annotated[
    list[Intensity], Field(min_length=1), BeforeValidator(_hourly),
    WithJsonSchema({"anyOf": [_QUANTITY, {"type": "array", "items": _QUANTITY, "minItems": 1},
                              _FILE],
                    "description": units.INTENSITY_HINT + "; a list, one per hour; or {file: "
                                   "grid.csv}"})]


class Energy(Spec):
    """What the hosts' energy costs: the data centre's overhead, the grid's carbon intensity
    and the price of a kWh."""

    pue: Annotated[float, Field(ge=1.0, le=10.0)] = Field(
        1.0, description="power usage effectiveness: facility energy per unit of the hosts' "
                         "energy (1.0: the hosts alone)")
    carbon_intensity: Series | None = Field(
        None, description="gCO2e per kWh drawn from the grid: a constant such as 350g/kWh, a "
                          "list with one value per hour from the run's start (the last holds "
                          "to its end), or {file: grid.csv} (its last column, a row per hour); "
                          "none: no operational carbon")
    price: EnergyPrice | None = Field(
        None, description="money per kWh drawn from the grid, e.g. 0.12/kWh; none: energy is "
                          "not costed")
