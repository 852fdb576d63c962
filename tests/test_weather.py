"""Hourly weather: series, generator, drone grounding, and storms that slow the roads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from twin.errors import ScenarioError
from twin.maps import load_network
from twin.scenario import Scenario, load_scenario
from twin.sim import Simulation
from twin.weather import Weather, WeatherSettings

ROOT = Path(__file__).resolve().parents[1]


def test_default_weather_is_always_clear() -> None:
    weather = Weather(WeatherSettings(), days=2, rng=np.random.default_rng(0))
    assert set(weather.hourly) == {"clear"}
    assert weather.road_factor(30 * 3600) == 1.0


def test_an_explicit_series_is_hourly_and_its_last_state_holds() -> None:
    settings = WeatherSettings(series=("clear", "rain", "storm"))
    weather = Weather(settings, days=1, rng=np.random.default_rng(0))
    assert weather.state_name(0) == "clear"
    assert weather.state_name(3600 * 1.5) == "rain"
    assert weather.state_name(3600 * 20) == "storm"
    assert weather.road_factor(3600 * 20) == settings.states["storm"].road_factor


def test_generated_weather_follows_its_shares_and_persists() -> None:
    settings = WeatherSettings(generate=True)
    weather = Weather(settings, days=365, rng=np.random.default_rng(42))
    names = np.array(weather.hourly)
    clear = float((names == "clear").mean())
    assert clear == pytest.approx(settings.shares["clear"], abs=0.05)
    changes = int((names[1:] != names[:-1]).sum())
    mean_spell_h = len(names) / (changes + 1)
    assert mean_spell_h > 3.0  # persistence 0.85: spells of several hours, not hourly noise
    again = Weather(settings, days=365, rng=np.random.default_rng(42))
    assert again.hourly == weather.hourly


def test_drones_are_grounded_by_wind_or_rain() -> None:
    weather = Weather(
        WeatherSettings(series=("clear", "wind", "rain")), days=1, rng=np.random.default_rng(0)
    )
    limits = {"max_wind_kph": 35.0, "max_rain_mm_h": 2.0}
    assert not weather.grounded(0, **limits)
    assert weather.grounded(3600, **limits)
    assert weather.grounded(7200, **limits)


def test_unknown_weather_states_are_scenario_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("weather:\n  series: [clear, hail]\n")
    with pytest.raises(ScenarioError, match=r"weather.*hail"):
        load_scenario(path)


def test_a_storm_day_slows_the_roads() -> None:
    base = load_scenario(ROOT / "scenarios" / "small_grid.yaml").model_copy(update={"days": 1})
    data = base.model_dump(mode="json")
    data["weather"] = {"series": ["storm"]}
    storm = Scenario.model_validate(data)
    network = load_network(base.map.ref)
    clear_run = Simulation(base, network).run()
    storm_run = Simulation(storm, network).run()
    clear_h = clear_run.vehicles["driving_h"].sum()
    storm_h = storm_run.vehicles["driving_h"].sum()
    # Same orders, same plan inputs; every leg takes road_factor (1.35) times as long.
    assert storm_h > 1.25 * clear_h


def test_rain_keeps_people_at_home() -> None:
    from twin.customers import CustomerModel
    from twin.scenario import CustomerSettings

    model = CustomerModel(
        CustomerSettings(), np.zeros(2000, dtype=np.int64), rng=np.random.default_rng(1)
    )
    model.start_day(0)
    for _ in range(11):  # late morning: many people out
        model.step()
    dry = np.mean([model.attempt(r, np.random.default_rng(r)) for r in range(2000)])
    wet = np.mean(
        [model.attempt(r, np.random.default_rng(r), stay_home_share=0.5) for r in range(2000)]
    )
    out = 1 - model.home.mean()
    # Half of those out stay in: presence rises by about half the share that was out.
    assert wet - dry == pytest.approx(0.5 * out * 0.93, abs=0.05)


def test_policies_plan_with_the_forecast_road_times() -> None:
    """Dispatch sees storm-slowed travel times, so plans and ETAs allow for the weather."""
    from twin.dispatch import DefaultTraits, DispatchState, Plan

    base = load_scenario(ROOT / "scenarios" / "small_grid.yaml").model_copy(update={"days": 1})
    data = base.model_dump(mode="json")
    data["weather"] = {"series": ["clear"] * 12 + ["storm"]}
    scenario = Scenario.model_validate(data)
    network = load_network(base.map.ref)
    seen: list[DispatchState] = []

    class Watcher(DefaultTraits):
        name = "watcher"

        def decide(self, state: DispatchState) -> Plan:
            seen.append(state)
            return Plan(routes={})

    sim = Simulation(scenario, network, policy=Watcher())
    sim.run()
    state = seen[0]
    a, b = int(network.node_ids[0]), int(network.node_ids[-1])
    morning = state.travel([a], [b], 9 * 3600.0).time_s[0, 0]
    afternoon = state.travel([a], [b], 14 * 3600.0).time_s[0, 0]
    road = sim.travel.matrix([a], [b], depart_s=14 * 3600.0).time_s[0, 0]
    assert morning == pytest.approx(sim.travel.matrix([a], [b], depart_s=9 * 3600.0).time_s[0, 0])
    storm = scenario.weather.states["storm"].road_factor
    assert afternoon == pytest.approx(road * storm)
