"""Why attempts fail, and parcels a courier never tries (``scenario.failures``).

Each failure reason is switched fully on (chance 1) on a small grid day, so the
test knows exactly what every attempt must end in; one run checks a partial
rate against its binomial range, and one that the failures come from their own
random stream (turning them on leaves the customers' presence untouched).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from twin.maps import load_network
from twin.metrics import failures_by_reason
from twin.scenario import load_scenario
from twin.scenario.edit import derive
from twin.sim import SimResult, Simulation
from twin.sim.stops import FAILURE_REASONS, NO_ATTEMPT_REASONS, TO_SENDER

SMALL_GRID = Path(__file__).resolve().parents[2] / "scenarios" / "small_grid.yaml"

NO_FAILURES = {
    "access_problem_prob": 0.0,
    "refusal_prob": 0.0,
    "damaged_prob": 0.0,
    "no_safe_place_prob": 0.0,
    "theft_prob": 0.0,
    "road_blocked_prob": 0.0,
}
SAFE_DROP_ONLY = {"home": 0.0, "safe_drop": 1.0, "signature": 0.0}
EVERYONE_HOME = {
    "households": [
        {"name": "home", "share": 1.0, "at_home_by_hour": [1.0] * 24, "answer_door": 1.0}
    ]
}
NOBODY_HOME = {
    "households": [
        {"name": "away", "share": 1.0, "at_home_by_hour": [0.0] * 24, "answer_door": 1.0}
    ]
}


def _run(failures: dict[str, float], **changes: Any) -> SimResult:
    scenario = derive(
        load_scenario(SMALL_GRID),
        {
            "days": 1,
            "demand": {"orders_per_day": 60},
            "failures": {**NO_FAILURES, **failures},
            **changes,
        },
    )
    return Simulation(scenario, load_network(scenario.map.ref)).run()


def _reasons(result: SimResult, kind: str = "failed") -> pd.Series:
    """The reasons of the run's ``failed`` (or ``no_attempt``) events: each one of the
    documented vocabulary."""
    events = result.events
    mine = events[events["kind"] == kind]
    reasons = mine["details"].map(lambda d: json.loads(d)["reason"])
    assert set(reasons) <= set(FAILURE_REASONS if kind == "failed" else NO_ATTEMPT_REASONS)
    return reasons


def _attempts(result: SimResult) -> int:
    return int((result.events["kind"] == "attempted").sum())


def test_a_damaged_parcel_fails_at_any_door_and_goes_back_to_the_sender() -> None:
    assert "damaged" in TO_SENDER
    result = _run({"damaged_prob": 1.0}, customers=EVERYONE_HOME)
    assert _attempts(result) > 0
    assert set(_reasons(result)) == {"damaged"}
    assert len(_reasons(result)) == _attempts(result)
    finals = result.orders.set_index("order_id")["final_state"]
    sent_back = result.events[result.events["kind"] == "returned_to_sender"]["order_id"]
    assert (finals[list(sent_back)] == "returned_to_sender").all()
    # Never out again: one attempt each.
    assert result.orders["attempts"].max() == 1
    assert result.kpis()["delivered"] == 0


def test_an_access_problem_fails_safe_drops_too_and_the_parcel_is_tried_again() -> None:
    result = _run(
        {"access_problem_prob": 1.0},
        customers=NOBODY_HOME,
        demand={"orders_per_day": 60, "options": SAFE_DROP_ONLY},
    )
    assert set(_reasons(result)) == {"access_problem"}
    assert not (result.events["kind"] == "returned_to_sender").any()
    assert (result.events["kind"] == "reattempt").any()


def test_a_customer_at_home_may_refuse_and_the_parcel_goes_back() -> None:
    result = _run({"refusal_prob": 1.0}, customers=EVERYONE_HOME)
    assert set(_reasons(result)) == {"refused"}
    returned = result.events[result.events["kind"] == "returned_to_sender"]
    assert len(returned) > 0
    assert all(json.loads(d)["reason"] == "refused or damaged" for d in returned["details"])


@pytest.mark.parametrize(("chance", "dropped"), [(1.0, False), (0.0, True)])
def test_a_safe_drop_needs_a_safe_place(chance: float, dropped: bool) -> None:
    result = _run(
        {"no_safe_place_prob": chance},
        customers=NOBODY_HOME,
        demand={"orders_per_day": 60, "options": SAFE_DROP_ONLY},
    )
    kinds = set(result.events["kind"])
    assert ("safe_drop" in kinds) is dropped
    if not dropped:
        assert set(_reasons(result)) == {"no_safe_place"}


def test_a_stolen_safe_drop_is_still_a_delivery_but_the_customer_is_unhappier() -> None:
    options = {"orders_per_day": 60, "options": SAFE_DROP_ONLY}
    kept = _run({}, customers=NOBODY_HOME, demand=options)
    stolen = _run({"theft_prob": 1.0}, customers=NOBODY_HOME, demand=options)
    drops = stolen.events[stolen.events["kind"] == "safe_drop"]
    thefts = stolen.events[stolen.events["kind"] == "stolen"]
    assert len(drops) > 0
    assert sorted(thefts["order_id"]) == sorted(drops["order_id"])
    assert stolen.kpis()["delivered"] == kept.kpis()["delivered"]
    assert stolen.kpis()["customer_satisfaction"] < kept.kpis()["customer_satisfaction"]


def test_a_blocked_street_means_no_attempt_and_the_parcel_is_planned_again() -> None:
    result = _run({"road_blocked_prob": 1.0})
    assert _attempts(result) == 0
    untried = _reasons(result, "no_attempt")
    assert len(untried) > 0
    assert set(untried) == {"road_blocked"}
    out = result.kpis()
    assert out["no_attempts"] == len(untried)
    assert out["delivered"] == 0
    # Kept out of the attempt KPIs: no attempt was made, so they are undefined.
    assert out["failed_delivery_rate"] != out["failed_delivery_rate"]  # NaN
    back = set(result.events[result.events["kind"] == "reattempt"]["order_id"])
    assert set(result.events[result.events["kind"] == "no_attempt"]["order_id"]) <= back
    finals = result.orders[result.orders["released"]]["final_state"]
    assert set(finals) <= {"open_at_horizon", "cancelled"}


def test_a_partial_rate_fails_about_that_share_of_attempts() -> None:
    result = _run({"access_problem_prob": 0.25}, customers=EVERYONE_HOME)
    n = _attempts(result)
    k = int((_reasons(result) == "access_problem").sum())
    # Binomial(n, 0.25): mean n/4, sd sqrt(n * 3/16); 4 sd either side.
    sd = (n * 3 / 16) ** 0.5
    assert n >= 50
    assert abs(k - n / 4) < 4 * sd


def test_failures_draw_from_their_own_stream() -> None:
    # Failures switched on (none possible here: everyone home, chance 0 for what
    # ends an attempt) leave every service time and presence draw as it was.
    plain = _run({})
    with_theft_only = _run({"theft_prob": 1e-12})
    assert plain.log.digest() == with_theft_only.log.digest()
    table = failures_by_reason(plain.events)
    assert set(table["reason"]) <= {"customer_absent", "locker_full"}


@pytest.mark.parametrize("backend", ["pyvrp", "ortools"])
def test_a_failed_parcel_is_tried_again_the_next_day_by_either_planner(backend: str) -> None:
    # Nobody is home: every first attempt fails and the parcel comes back. Its promised
    # window is over, so the next day's plan must give it that day's window; a planner
    # with hard windows (PyVRP) used to see only the window that had passed, and never
    # routed the parcel again.
    result = _run(
        {},
        customers=NOBODY_HOME,
        days=2,
        demand={"orders_per_day": 30, "options": {"home": 1.0, "safe_drop": 0.0, "signature": 0.0}},
        policy={"name": "static", "params": {"backend": backend, "iterations": 200}},
    )
    events = result.events
    back = set(events[(events["kind"] == "reattempt") & (events["day"] == 0)]["order_id"])
    tried_again = set(events[(events["kind"] == "attempted") & (events["day"] == 1)]["order_id"])
    assert len(back) >= 20
    assert back <= tried_again
