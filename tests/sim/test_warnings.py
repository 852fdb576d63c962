"""A run says out loud the shortcuts its numbers depend on (``SimResult.warnings``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from twin.experiment.runs import merge_warnings
from twin.maps import load_network
from twin.scenario import Scenario, load_scenario
from twin.scenario.edit import derive
from twin.sim import SimResult, Simulation

SMALL_GRID = Path(__file__).resolve().parents[2] / "scenarios" / "small_grid.yaml"


@pytest.fixture(scope="module")
def base() -> Scenario:
    return derive(load_scenario(SMALL_GRID), {"days": 1})


def _run(scenario: Scenario) -> SimResult:
    return Simulation(scenario, load_network(scenario.map.ref)).run()


def _codes(result: SimResult) -> dict[str, dict]:
    return {w["code"]: w for w in result.warnings}


def test_the_shipped_small_day_has_no_warning(base: Scenario) -> None:
    assert _run(base).warnings == []


def test_a_plan_stopped_by_the_clock_is_reported(base: Scenario) -> None:
    # Guided local search never stops by itself: without a solution limit only the
    # wall-clock cap ends it, so that cap fires on every plan, on any machine.
    gls = {"metaheuristic": "guided_local_search", "solution_limit": None}
    result = _run(derive(base, {"policy": {"time_limit_s": 0.2, "params": gls}}))
    warning = _codes(result)["planner_time_limit_hit"]
    assert warning["count"] == 1  # static: one morning plan in one day
    assert "policy.time_limit_s = 0.2 s" in warning["message"]
    assert "stopped 1 of 1 plans" in warning["message"]


def test_servable_orders_a_morning_plan_leaves_behind_are_counted(base: Scenario) -> None:
    one_van = derive(base, {"fleet": [{"type": "van", "count": 1, "hub": base.fleet[0].hub}]})
    result = _run(one_van)
    warning = _codes(result)["plan_left_servable_orders"]
    events = result.events
    plan = events[events["kind"] == "plan"].iloc[0]
    assigned = (events["kind"] == "assigned").sum()
    # Every order of the morning plan either got a van or is counted as left behind
    # (each of small_grid's orders fits a van on a route of its own).
    n_orders = json.loads(plan["details"])["n_orders"]
    assert warning["count"] == n_orders - assigned > 0


def test_merge_warnings_sums_counts_and_names_the_replications() -> None:
    def result(*warnings: dict) -> SimResult:
        return SimResult(
            scenario=None,
            log=None,
            orders=None,
            vehicles=None,
            hubs={},  # type: ignore[arg-type]
            warnings=list(warnings),
        )

    a = {"code": "a", "message": "first a", "count": 2}
    b = {"code": "b", "message": "only b", "count": 1}
    merged = merge_warnings(
        [result(a), result(), result({**a, "message": "later a", "count": 3}, b)]
    )
    # Each message quotes one run's figures, and says which run and the total.
    assert merged == [
        {
            "code": "a",
            "message": "first a (in 2 of 3 replications; this is replication 0, 5 in all)",
            "count": 5,
            "replications": [0, 2],
        },
        {
            "code": "b",
            "message": "only b (in 1 of 3 replications; this is replication 2)",
            "count": 1,
            "replications": [2],
        },
    ]
    # One run: its messages as they are.
    assert merge_warnings([result(a)])[0]["message"] == "first a"


def test_a_cap_that_fires_before_any_solution_is_a_warning_not_a_traceback(
    base: Scenario,
) -> None:
    # 1 ms is less than building the model takes: OR-Tools stops with no solution at
    # all. The run goes on with nothing planned, and says so.
    result = _run(derive(base, {"policy": {"time_limit_s": 0.001}}))
    assert "planner_time_limit_hit" in _codes(result)


def test_dear_lateness_gives_a_plan_that_serves_what_it_can_on_time(base: Scenario) -> None:
    # At 30,000 $ an hour late, OR-Tools' insertion heuristics (blind to lateness)
    # used to insert nothing: every order dropped, no van out. The cost-aware retry
    # serves the orders that can be on time and drops only those that cannot.
    dear = derive(base, {"policy": {"params": {"late_cost_per_h": 30_000.0}}})
    result = _run(dear)
    kpis = result.kpis()
    assert kpis["delivered"] > 0.7 * kpis["orders_released"]
    assert kpis["on_time_rate"] > 0.95
    assert "plan_left_servable_orders" not in _codes(result)
