"""First attempts at the door: the simulated failure rate against the model's own odds.

The engine decides an attempt with agents (households with a presence chain,
each with its own chance to answer the door) and the scenario's failure
chances. Their expectation is written down independently here, from the
settings alone, for an attempt by a van at time ``t`` with delivery option ``o``:

    P(fail) = d + (1 - d) a + (1 - d)(1 - a) [p r + (1 - p) q_o]

with ``d`` the damaged, ``a`` the access-problem, ``r`` the refusal chance,
``p`` the household mix's chance that someone at home answers at that hour
(:func:`twin.customers.answer_probability`, weather included), and ``q_o`` the
chance an unanswered door fails: the no-safe-place chance for a safe drop, 1
otherwise. The check sums that over every first attempt of the run and sets it
beside the number that failed, with the simulated rate's 95 % Wilson interval.

Source: the model's stated probabilities (``scenario.customers``,
``scenario.failures``; their published sources are in
:mod:`twin.scenario.operations` and ``docs/background/validation.md``).
"""

from __future__ import annotations

import json

import numpy as np

from twin.constants import HOUR_S
from twin.customers import answer_probability
from twin.maps import load_network
from twin.scenario import Scenario
from twin.sim import Simulation
from twin.validate.check import CheckResult, binomial_interval

__all__ = ["expected_failure", "first_attempt_failures"]

#: Seed of the check's scenario.
SEED = 23


def expected_failure(scenario: Scenario, option: str, p_answer: float) -> float:
    """Chance that a van's attempt fails, given the chance someone answers the door."""
    f = scenario.failures
    unanswered = f.no_safe_place_prob if option == "safe_drop" else 1.0
    at_door = p_answer * f.refusal_prob + (1.0 - p_answer) * unanswered
    return (
        f.damaged_prob
        + (1.0 - f.damaged_prob) * f.access_problem_prob
        + (1.0 - f.damaged_prob) * (1.0 - f.access_problem_prob) * at_door
    )


def first_attempt_failures(fast: bool = False) -> list[CheckResult]:
    """Failed first attempts, simulated against expected (see the module docstring)."""
    days, orders = (1, 150) if fast else (3, 600)
    scenario = Scenario.model_validate(
        {
            "name": "validate_first_attempt_failures",
            "seed": SEED,
            "days": days,
            "map": {"ref": "grid-10x10"},
            "fleet": [{"type": "van", "count": max(4, orders // 60), "hub": "hub"}],
            "demand": {"orders_per_day": orders},
        }
    )
    sim = Simulation(scenario, load_network("grid-10x10"))
    result = sim.run()
    events = result.events
    tried = events[events["kind"].isin(["attempted", "failed"])]
    tried = tried[tried["details"].astype(str).map(_attempt_number) == 1]
    attempts = tried[tried["kind"] == "attempted"]
    failed = set(tried.loc[tried["kind"] == "failed", "order_id"].astype(str))
    option = result.orders.set_index("order_id")["option"]
    expected = []
    for oid, t in zip(attempts["order_id"].astype(str), attempts["time_s"], strict=True):
        hour = int(t // HOUR_S)
        stay = sim.world.weather.state(float(t)).stay_home_share
        p = float(answer_probability(scenario.customers, hour, stay))
        expected.append(expected_failure(scenario, str(option[oid]), p))
    n = len(expected)
    n_failed = sum(1 for oid in attempts["order_id"].astype(str) if oid in failed)
    low, high = binomial_interval(n_failed, n)
    expected_rate = float(np.mean(expected)) if n else float("nan")
    simulated = n_failed / n if n else float("nan")
    check = CheckResult(
        name="first_attempt_failures",
        what=f"failed first attempts over {n} first attempts by vans ({days} day(s))",
        unit="share",
        expected=expected_rate,
        simulated=simulated,
        low=low,
        high=high,
        passed=bool(n > 0 and low <= expected_rate <= high),
        source="the scenario's presence, answer and failure chances, summed over the attempts",
        n=n,
    )
    return [check]


def _attempt_number(details: str) -> int:
    return int(json.loads(details).get("attempt", 0))
