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

import numpy as np

from twin.constants import HOUR_S
from twin.scenario.environment import WeatherSettings, WeatherState

# Settings classes in __all__ are the scenario's (twin.scenario is the contract),
# re-exported here under the names they always had.
__all__ = ["Weather", "WeatherSettings", "WeatherState"]


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
        i = min(max(int(t_s // HOUR_S), 0), len(self.hourly) - 1)
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
