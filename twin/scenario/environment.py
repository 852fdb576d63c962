"""Settings of the world a run happens in: the map, traffic, the border, school
zones, closures, the weather and the airspace.

Only the settings live here; the runtime objects that use them (travel times,
the hourly weather, legal flight paths) stay in :mod:`twin.traveltime`,
:mod:`twin.weather` and :mod:`twin.airspace`, so that reading a scenario loads
no routing or geometry code.
"""

from __future__ import annotations

import math
from typing import Annotated

import numpy as np
from pydantic import AfterValidator, Field, model_validator

from twin.constants import ROAD_CLASSES
from twin.scenario._base import Positive, SettingsModel

__all__ = [
    "AirspaceSettings",
    "BorderSettings",
    "Closure",
    "CongestionSettings",
    "MapSettings",
    "NoFlyArea",
    "NoiseSettings",
    "SchoolZoneSettings",
    "TrafficSettings",
    "WeatherSettings",
    "WeatherState",
]


class MapSettings(SettingsModel):
    """Which road network, and how far an address may be from it."""

    ref: str = "laredo"
    network_type: str = "drive"
    max_snap_m: Positive = 500.0


def _profile(am: float, pm: float, midday: float) -> tuple[float, ...]:
    """Hourly multipliers with morning and evening peaks (value at each hour's midpoint)."""
    hours = np.arange(24) + 0.5
    shape = (
        1.0
        + am * np.exp(-(((hours - 7.75) / 1.1) ** 2))
        + pm * np.exp(-(((hours - 17.5) / 1.4) ** 2))
        + midday * np.exp(-(((hours - 13.0) / 3.0) ** 2))
    )
    return tuple(round(float(v), 3) for v in shape)


_DEFAULT_PEAKS = {
    "motorway": (0.55, 0.65, 0.15),
    "trunk": (0.50, 0.60, 0.15),
    "primary": (0.45, 0.55, 0.20),
    "secondary": (0.35, 0.45, 0.15),
    "tertiary": (0.25, 0.30, 0.10),
    "residential": (0.10, 0.12, 0.05),
    "other": (0.05, 0.05, 0.02),
}


def _check_hours(values: tuple[float, ...]) -> tuple[float, ...]:
    if len(values) != 24:
        raise ValueError(f"needs 24 hourly values (hour 0 to 23), got {len(values)}")
    return values


Hourly = Annotated[tuple[float, ...], AfterValidator(_check_hours)]
PositiveHourly = Annotated[tuple[Annotated[float, Field(gt=0)], ...], AfterValidator(_check_hours)]
NonNegHourly = Annotated[tuple[Annotated[float, Field(ge=0)], ...], AfterValidator(_check_hours)]


def _default_hourly() -> dict[str, tuple[float, ...]]:
    return {c: _profile(*p) for c, p in _DEFAULT_PEAKS.items()}


class CongestionSettings(SettingsModel):
    """Travel-time multipliers (1.0 = free flow) by road class and hour of day.

    Defaults have a morning peak around 07:45 and an evening peak around 17:30,
    strongest on motorways and arterials, weak on residential streets. Give 24
    values for any class to override it.
    """

    hourly: dict[str, PositiveHourly] = Field(default_factory=_default_hourly)

    @model_validator(mode="after")
    def _known_classes(self) -> CongestionSettings:
        unknown = set(self.hourly) - set(ROAD_CLASSES)
        if unknown:
            raise ValueError(f"unknown road class {sorted(unknown)}; use {', '.join(ROAD_CLASSES)}")
        return self

    def table(self) -> np.ndarray:
        """``(len(ROAD_CLASSES), 24)`` multipliers; classes not given use the defaults."""
        defaults = _default_hourly()
        return np.array([self.hourly.get(c, defaults[c]) for c in ROAD_CLASSES], dtype=float)


# Illustrative mean waits (minutes) at a busy US–Mexico land port: northbound
# (into the US, inspection) far longer than southbound. Calibrate per crossing
# from published border wait-time data before drawing conclusions.
_NORTHBOUND_MIN = (15, 12, 10, 10, 12, 25, 45, 60, 55, 45, 40, 40,
                   40, 40, 45, 50, 55, 60, 55, 45, 35, 30, 25, 20)  # fmt: skip
_SOUTHBOUND_MIN = (5, 5, 5, 5, 5, 8, 10, 12, 10, 8, 8, 8,
                   8, 8, 10, 12, 15, 15, 12, 10, 8, 6, 5, 5)  # fmt: skip


class BorderSettings(SettingsModel):
    """Border crossings: stochastic waits by hour and direction, access rules.

    Parameters
    ----------
    northbound_wait_min, southbound_wait_min : 24 floats
        Mean wait in minutes by hour of arrival at the crossing.
    wait_cv : float
        Coefficient of variation of the (gamma) wait distribution.
    crossing_allowed : bool
        If False no vehicle may cross the border (each side routes alone).
    commercial_only_allowed : bool
        If True vehicles may use commercial-only crossings (e.g. World Trade Bridge).
    approach_radius_m, approach_hourly : float, 24 floats
        Roads within this distance of a crossing are slowed by these hourly
        multipliers (queues spill back onto the approaches).
    """

    northbound_wait_min: NonNegHourly = tuple(float(v) for v in _NORTHBOUND_MIN)
    southbound_wait_min: NonNegHourly = tuple(float(v) for v in _SOUTHBOUND_MIN)
    wait_cv: float = Field(default=0.6, ge=0, le=3)
    crossing_allowed: bool = True
    commercial_only_allowed: bool = False
    approach_radius_m: float = Field(default=800.0, ge=0)
    approach_hourly: PositiveHourly = _profile(0.6, 0.7, 0.25)


class SchoolZoneSettings(SettingsModel):
    """Reduced speed near schools during school hours on school days.

    Schools come from the map (OSM ``amenity=school`` in the extract, or the
    synthetic city's schools).
    """

    enabled: bool = True
    radius_m: float = Field(default=200.0, ge=0)
    speed_kph: float = Field(default=32.0, gt=0)  # 20 mph school-zone limit
    periods_h: tuple[tuple[float, float], ...] = ((7.0, 8.5), (14.5, 16.0))
    weekdays_only: bool = True

    @model_validator(mode="after")
    def _ordered(self) -> SchoolZoneSettings:
        for start, end in self.periods_h:
            if not 0 <= start < end <= 24:
                raise ValueError(
                    f"school period ({start}, {end}) must satisfy 0 <= start < end <= 24"
                )
        return self


class Closure(SettingsModel):
    """A road closure between two times (seconds since the simulation start).

    Say what is closed with exactly one of: ``crossing`` (a border crossing by
    name), ``road`` (every edge whose name contains this text, case-insensitive),
    ``edges`` (explicit ``[u, v]`` node pairs) or ``near`` (``[lat, lon,
    radius_m]``: every edge with a node inside the circle).
    """

    name: str = "closure"
    start_s: float = Field(default=0.0, ge=0)
    end_s: float = math.inf
    crossing: str | None = None
    road: str | None = None
    edges: tuple[tuple[int, int], ...] | None = None
    near: tuple[float, float, float] | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Closure:
        given = [k for k in ("crossing", "road", "edges", "near") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"closure {self.name!r} must name exactly one of crossing, road, edges, near "
                f"(got {given or 'none'})"
            )
        if self.end_s <= self.start_s:
            raise ValueError(f"closure {self.name!r} ends before it starts")
        return self


class NoiseSettings(SettingsModel):
    """Per-leg multiplicative noise on driving time: lognormal with mean 1."""

    cv: float = Field(default=0.15, ge=0, le=2)


class TrafficSettings(SettingsModel):
    """Everything that turns free-flow times into the times of a given moment."""

    bucket_min: int = Field(default=15, ge=1, le=240)
    congestion: CongestionSettings = CongestionSettings()
    border: BorderSettings = BorderSettings()
    school_zones: SchoolZoneSettings = SchoolZoneSettings()
    closures: tuple[Closure, ...] = ()
    noise: NoiseSettings = NoiseSettings()
    weather_factor: float = Field(default=1.0, gt=0)


class WeatherState(SettingsModel):
    """One kind of weather."""

    #: Multiplier on road travel times (1.0 = no effect).
    road_factor: Annotated[float, Field(gt=0)] = 1.0
    wind_kph: Annotated[float, Field(ge=0)] = 10.0
    rain_mm_h: Annotated[float, Field(ge=0)] = 0.0
    #: Share of the people who would be out that stay at home in this weather.
    stay_home_share: Annotated[float, Field(ge=0, le=1)] = 0.0


def _default_states() -> dict[str, WeatherState]:
    # Illustrative magnitudes: rain slows urban traffic by roughly a tenth to a fifth,
    # storms by a third; 40+ km/h winds and steady rain are beyond small delivery drones.
    return {
        "clear": WeatherState(),
        "rain": WeatherState(road_factor=1.15, wind_kph=15, rain_mm_h=4, stay_home_share=0.05),
        "wind": WeatherState(road_factor=1.05, wind_kph=45, rain_mm_h=0),
        "storm": WeatherState(road_factor=1.35, wind_kph=60, rain_mm_h=15, stay_home_share=0.1),
    }


class WeatherSettings(SettingsModel):
    """The weather of a run: an explicit hourly series, or a generated one."""

    states: dict[str, WeatherState] = Field(default_factory=_default_states)
    #: Named states hour by hour from midnight of day 0; the last one holds after.
    series: tuple[str, ...] = ("clear",)
    #: Generate the series instead (Markov chain over ``shares``).
    generate: bool = False
    #: Long-run share of each state in a generated series.
    shares: dict[str, Annotated[float, Field(ge=0)]] = Field(
        default_factory=lambda: {"clear": 0.8, "rain": 0.12, "wind": 0.06, "storm": 0.02}
    )
    #: Chance each hour that a generated series keeps its state.
    persistence: Annotated[float, Field(ge=0, le=1)] = 0.85

    @model_validator(mode="after")
    def _known_states(self) -> WeatherSettings:
        unknown = sorted({s for s in (*self.series, *self.shares) if s not in self.states})
        if unknown:
            raise ValueError(
                f"weather states {unknown} are not defined; defined states: {sorted(self.states)}"
            )
        if not self.series:
            raise ValueError("weather series needs at least one state (or set generate: true)")
        if self.generate and sum(self.shares.values()) <= 0:
            raise ValueError("weather shares must not all be 0")
        return self


class NoFlyArea(SettingsModel):
    """A user-given no-fly polygon (a prison, a stadium, a hospital's helipad)."""

    name: str
    #: Corners as ``[lat, lon]`` pairs, at least three.
    points: tuple[tuple[float, float], ...] = Field(min_length=3)


class AirspaceSettings(SettingsModel):
    """Where the scenario's drones may not fly, beyond the map's border."""

    #: Map zones of these kinds are no-fly (the synthetic Laredo map has its airport).
    avoid_kinds: tuple[str, ...] = ("airport",)
    no_fly: tuple[NoFlyArea, ...] = ()
    #: Distance a flight keeps from every no-fly polygon.
    clearance_m: float = Field(default=50.0, ge=0)
