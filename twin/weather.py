"""Hourly weather: what slows the roads, grounds the drones and keeps people at home.

A scenario gives the weather as an explicit hourly series of named states
(``series: [clear, clear, rain, storm, ...]``, from midnight of day 0; the last
state holds after the series ends; default: always clear), or lets twin
generate one (``generate: true``): a Markov chain
over the states that stays in its state with probability ``persistence`` each
hour and otherwise jumps to a state drawn by ``shares``. The generator draws
from the run's own ``weather`` stream, so every policy sees the same sky.

Each state says how much slower road travel is (``road_factor``), the wind and
rain a drone must fly in, and what share of the people who would be out stay
at home instead.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Weather", "WeatherSettings", "WeatherState"]

H = 3600.0


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WeatherState(_Settings):
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


class WeatherSettings(_Settings):
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


class Weather:
    """The hourly weather of one run."""

    def __init__(self, settings: WeatherSettings, *, days: int, rng: np.random.Generator) -> None:
        self.settings = settings
        hours = 24 * days
        if settings.generate:
            names = _markov(settings, hours, rng)
        else:
            names = list(settings.series[:hours])
            names += [settings.series[-1]] * (hours - len(names))
        self.hourly: tuple[str, ...] = tuple(names)

    def state_name(self, t_s: float) -> str:
        """The weather state at time ``t_s`` (seconds since the start of day 0)."""
        i = min(max(int(t_s // H), 0), len(self.hourly) - 1)
        return self.hourly[i]

    def state(self, t_s: float) -> WeatherState:
        return self.settings.states[self.state_name(t_s)]

    def road_factor(self, t_s: float) -> float:
        return self.state(t_s).road_factor

    def grounded(self, t_s: float, *, max_wind_kph: float, max_rain_mm_h: float) -> bool:
        """Would a drone with these limits be grounded at ``t_s``?"""
        s = self.state(t_s)
        return s.wind_kph > max_wind_kph or s.rain_mm_h > max_rain_mm_h


def _markov(settings: WeatherSettings, hours: int, rng: np.random.Generator) -> list[str]:
    names = sorted(settings.shares)
    p = np.array([settings.shares[n] for n in names], dtype=float)
    p /= p.sum()
    stay = rng.random(hours) < settings.persistence
    draws = rng.choice(len(names), size=hours, p=p)
    current = int(draws[0])
    out = []
    for h in range(hours):
        if h > 0 and not stay[h]:
            current = int(draws[h])
        out.append(names[current])
    return out
