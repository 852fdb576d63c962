"""Warm-up days: simulated like any other day, left out of every KPI, backlog carried over."""

from __future__ import annotations

from pathlib import Path

import pytest

from twin.constants import DAY_S
from twin.maps import load_network
from twin.metrics import kpis
from twin.scenario import Scenario, load_scenario
from twin.scenario.edit import derive
from twin.sim import SimResult, Simulation

SMALL_GRID = Path(__file__).resolve().parents[2] / "scenarios" / "small_grid.yaml"


def _run(scenario: Scenario) -> SimResult:
    return Simulation(scenario, load_network(scenario.map.ref)).run()


@pytest.fixture(scope="module")
def warm() -> SimResult:
    """small_grid: one warm-up day, one measured day."""
    return _run(derive(load_scenario(SMALL_GRID), {"days": 1, "warmup_days": 1}))


def test_default_warm_up_is_one_day_for_multi_day_runs_and_none_for_one_day() -> None:
    base = load_scenario(SMALL_GRID)
    assert derive(base, {"days": 1}).warmup == 0
    assert derive(base, {"days": 3}).warmup == 1
    assert derive(base, {"days": 3}).simulated_days == 4
    assert derive(base, {"days": 3, "warmup_days": 0}).simulated_days == 3


def test_warm_up_changes_what_is_measured_not_what_is_simulated(warm: SimResult) -> None:
    cold = _run(derive(load_scenario(SMALL_GRID), {"days": 2, "warmup_days": 0}))
    assert warm.log.digest() == cold.log.digest()
    assert warm.kpis() != cold.kpis()


def test_kpis_count_only_the_measured_days(warm: SimResult) -> None:
    orders, vehicles, _ = warm.measured()
    assert (orders["due_day"] >= 1).all()
    assert set(vehicles["day"]) == {1}
    measured = warm.kpis()
    released = warm.orders[warm.orders["released"]]
    assert measured["orders_released"] == (released["due_day"] >= 1).sum()
    assert measured["orders_released"] < len(released)
    assert measured == kpis(*warm.measured())


def test_the_warm_up_backlog_is_served_in_the_measured_day(warm: SimResult) -> None:
    events = warm.events
    delivered = events[(events["kind"] == "delivered") & (events["time_s"] >= DAY_S)]
    due = warm.orders.set_index("order_id")["due_day"]
    # Orders due on the warm-up day that it did not serve (failed, left over) are
    # delivered on the measured day: the backlog is carried, not reset.
    assert any(due[oid] == 0 for oid in delivered["order_id"])
    # And orders placed during the warm-up for the measured day are measured.
    orders, _, _ = warm.measured()
    assert (orders["created_s"] < DAY_S).any()
