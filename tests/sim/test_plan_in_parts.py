"""A plan too large for one routing model is cut into parts: every order in one part,
every vehicle in one, the cut said out loud, and the same log with any number of workers."""

from __future__ import annotations

from pathlib import Path

import pytest

from twin.dispatch.base import DispatchState, OrderView, VehicleView
from twin.dispatch.parts import split_into_parts
from twin.maps import load_network
from twin.scenario import load_scenario
from twin.scenario.edit import derive
from twin.sim import Simulation

SMALL_GRID = Path(__file__).resolve().parents[2] / "scenarios" / "small_grid.yaml"


def _scenario(**params: object):
    # 240 orders a day for 8 vans; parts of at most 70 orders: 4 parts of 2 vans each.
    return derive(
        load_scenario(SMALL_GRID),
        {
            "days": 1,
            "warmup_days": 0,
            "demand": {"orders_per_day": 240},
            "fleet": [{"type": "van", "count": 8, "hub": "depot"}],
            "policy": {"params": {"max_jobs_per_problem": 70, **params}},
        },
    )


@pytest.fixture(scope="module")
def network():
    return load_network("grid-12x12")


def test_parts_hold_every_order_and_vehicle_once(network) -> None:
    captured: list[tuple[DispatchState, list]] = []
    scenario = _scenario(workers=1)
    sim = Simulation(scenario, network)
    decide = sim.policy.decide

    def spy(state: DispatchState):
        if state.trigger == "cutoff":
            captured.append((state, split_into_parts(state, state.vehicles, state.orders, 70)))
        return decide(state)

    sim.policy.decide = spy  # type: ignore[method-assign]
    result = sim.run()
    state, groups = captured[0]
    assert len(groups) == 4
    orders = [o.id for _, part in groups for o in part]
    vehicles = [v.id for fleet, _ in groups for v in fleet]
    assert sorted(orders) == sorted(o.id for o in state.orders)
    assert sorted(vehicles) == sorted(v.id for v in state.vehicles)
    assert all(len(part) <= 70 for _, part in groups)
    assert all(len(fleet) == 2 for fleet, _ in groups)
    # The cut is said out loud, in the plan event and in the run's warnings.
    plans = result.events[result.events["kind"] == "plan"]
    assert '"parts": 4' in plans["details"].iloc[0]
    codes = [w["code"] for w in result.warnings]
    assert "plan_in_parts" in codes
    assert result.kpis()["delivered"] > 150


def test_the_log_does_not_depend_on_the_number_of_workers(network) -> None:
    one = Simulation(_scenario(workers=1), network).run()
    two = Simulation(_scenario(workers=2), network).run()
    assert one.log.digest() == two.log.digest()
    # Worker CPU is counted in planning CPU and said apart: this process's clock
    # never sees it (twin bench scale subtracts only the rest from its other phases).
    assert one.planning_worker_cpu_s == 0.0
    assert 0.0 < two.planning_worker_cpu_s <= two.planning_cpu_s


def test_a_plan_within_the_limit_is_one_model(network) -> None:
    result = Simulation(_scenario(max_jobs_per_problem=3_000), network).run()
    assert "plan_in_parts" not in [w["code"] for w in result.warnings]


def test_parts_never_outnumber_the_vehicles() -> None:
    orders = tuple(
        OrderView(
            id=f"o{i}",
            node=i,
            lat=27.5 + i * 1e-3,
            lon=-99.5,
            demand=(1.0, 0.01, 1.0),
            window_start_s=8 * 3600.0,
            window_end_s=18 * 3600.0,
            service_s=60.0,
            option="home",
            attempts=0,
            due_day=0,
            created_s=0.0,
        )
        for i in range(100)
    )
    vans = [_van("a"), _van("b")]
    groups = split_into_parts(None, vans, orders, 10)  # type: ignore[arg-type]
    assert len(groups) == 2
    assert [len(part) for _, part in groups] == [50, 50]


def _van(vid: str) -> VehicleView:
    return VehicleView(
        id=vid,
        type="van",
        mode="van",
        hub="depot",
        hub_node=0,
        node=0,
        available_s=8 * 3600.0,
        capacity=(100.0, 10.0, 1000.0),
        committed=(),
        shift_start_s=8 * 3600.0,
        shift_end_s=17 * 3600.0,
        max_working_s=10 * 3600.0,
        break_after_s=4.5 * 3600.0,
        break_s=1800.0,
        fixed_cost=50.0,
        cost_per_km=0.3,
        cost_per_h=20.0,
        overtime_cost_per_h=30.0,
        speed_factor=1.0,
    )
