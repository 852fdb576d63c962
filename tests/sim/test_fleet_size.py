"""More vans deliver more when vans are the bottleneck (the ``more_vans`` what-if)."""

from __future__ import annotations

from pathlib import Path

import pytest

from twin.maps import load_network
from twin.scenario import load_scenario
from twin.scenario.edit import derive
from twin.sim import Simulation

SMALL_GRID = Path(__file__).resolve().parents[2] / "scenarios" / "small_grid.yaml"


@pytest.mark.parametrize("backend", ["ortools", "pyvrp"])
def test_more_vans_deliver_more_when_demand_exceeds_the_fleet(backend: str) -> None:
    # 120 orders a day for 2 vans of 45 parcels, one trip each: at most 90 can go out.
    base = derive(
        load_scenario(SMALL_GRID),
        {
            "days": 1,
            "warmup_days": 0,
            "vehicle_types": {"van": {"capacity_parcels": 45, "max_trips": 1}},
            "fleet": [{"type": "van", "count": 2, "hub": "depot"}],
            # A small PyVRP budget: this day is tiny, and the test is about the fleet.
            "policy": {"params": {"backend": backend, "iterations": 200}},
            "variants": {"more_vans": {"fleet": [{"type": "van", "count": 4, "hub": "depot"}]}},
        },
    )
    network = load_network(base.map.ref)
    few = Simulation(base, network).run().kpis()
    more = Simulation(base.variant("more_vans"), network).run().kpis()
    assert few["delivered"] <= 90
    assert more["delivered"] > few["delivered"] + 10
