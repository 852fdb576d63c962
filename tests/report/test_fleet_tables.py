"""Vehicles used of the fleet, and the per-vehicle table, from a real run."""

from __future__ import annotations

from pathlib import Path

import pytest

from twin.maps import load_network
from twin.report.fleet import HOUR_PARTS, fleet_use, per_vehicle
from twin.scenario import load_scenario
from twin.sim import Simulation

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def vehicles():
    scenario = load_scenario(ROOT / "scenarios" / "small_grid.yaml")
    data = scenario.model_dump()
    data.update(days=2, warmup_days=0)
    data["fleet"][0]["count"] = 6  # more vans than 120 orders a day need
    scenario = type(scenario).model_validate(data)
    network = load_network(scenario.map.ref)
    return Simulation(scenario, network).run().vehicles


def test_fleet_use_counts_the_vehicles_that_worked_each_day(vehicles) -> None:
    use = fleet_use(vehicles).loc["van"]
    worked = vehicles[vehicles["status"] == "worked"].groupby("day").size()
    assert use["fleet"] == 6
    assert use["days"] == 2
    assert use["used_per_day"] == pytest.approx(worked.mean())
    assert use["used_max"] == worked.max() < 6
    assert use["idle_days"] + use["no_show_days"] == 12 - worked.sum()


def test_each_vehicles_hours_sum_to_its_working_hours(vehicles) -> None:
    table = per_vehicle(vehicles)
    assert table[list(HOUR_PARTS)].sum(axis=1).to_numpy() == pytest.approx(
        table["working_h"].to_numpy()
    )
    assert table["stops_attempted"].sum() == vehicles["stops_attempted"].sum()
    cost = vehicles[["fixed_cost", "distance_cost", "driver_cost", "operating_cost"]].sum().sum()
    # Idle vans' fixed cost is in the table's total only for vans that worked some day.
    assert table["cost"].sum() <= cost + 1e-6
