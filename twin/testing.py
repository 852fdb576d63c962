"""Checks a researcher runs on a new dispatch policy before comparing it.

``check_policy(MyPolicy)`` plays a small but busy synthetic day (orders arriving
all day, a surge, cancellations, a driver who does not show up, a breakdown,
multi-trip vans) twice with fresh instances of the policy, and fails with one
clear message if:

* a plan breaks the engine's rules (capacity, committed stops, unknown or
  duplicated orders, too many trips: the engine's own :func:`validate_plan`);
* an order is lost (every released order must end delivered, returned,
  cancelled, unreachable or open at the horizon);
* the two runs differ (same scenario, seed and code must give the same event
  log, so results can be reproduced and policies compared fairly);
* the policy does not answer the protocol (a ``name``, ``decide`` and every
  trait declared with a value the engine can use: :func:`twin.dispatch.traits_of`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from twin.dispatch import DispatchPolicy, PlanError, PolicyTraits, TraitError, traits_of
from twin.events import TERMINAL
from twin.maps import load_network
from twin.metrics import conservation
from twin.scenario import Scenario

__all__ = ["PolicyCheckError", "PolicyCheckResult", "check_policy", "check_scenario"]


class PolicyCheckError(AssertionError):
    """A policy failed one of :func:`check_policy`'s checks."""


@dataclass(frozen=True)
class PolicyCheckResult:
    """What the check saw: KPIs of the run, the event log digest, final states."""

    policy: str
    kpis: dict[str, float]
    digest: str
    final_states: dict[str, int]
    n_plans: int
    #: The traits the engine read from the policy.
    traits: PolicyTraits | None = None


def check_scenario(*, days: int = 1, seed: int = 12) -> Scenario:
    """The small, busy day :func:`check_policy` uses (a 12 x 12 grid city, 4 vans)."""
    return Scenario.model_validate(
        {
            "name": "policy-check",
            "seed": seed,
            "days": days,
            "map": {"ref": "grid-12x12"},
            "hubs": [{"id": "depot"}],
            "vehicle_types": {"van": {"capacity_parcels": 40, "max_trips": 3}},
            "fleet": [{"type": "van", "count": 4, "hub": "depot"}],
            "demand": {
                "orders_per_day": 140,
                "share_known_at_cutoff": 0.6,
                "surges": [{"day": 0, "start_h": 10, "end_h": 12, "orders": 25}],
            },
            "disruptions": {
                "cancel_share": 0.05,
                "no_show_prob": 0.2,
                "breakdown_prob": 0.2,
                "recovery_h": 0.5,
            },
            "policy": {"name": "static", "time_limit_s": 10},
        }
    )


def check_policy(
    policy: DispatchPolicy | Callable[[], DispatchPolicy],
    *,
    scenario: Scenario | None = None,
    replication: int = 0,
) -> PolicyCheckResult:
    """Run the engine's plan, conservation and determinism checks on ``policy``.

    Parameters
    ----------
    policy : DispatchPolicy or callable
        A policy instance (deep-copied for each run, so state it keeps between
        calls starts fresh) or a zero-argument factory such as the class.
    scenario : Scenario, optional
        Defaults to :func:`check_scenario`.

    Raises
    ------
    PolicyCheckError
        Naming the policy and what went wrong.
    """
    from twin.sim import Simulation

    def fresh() -> DispatchPolicy:
        if isinstance(policy, type) or not hasattr(policy, "decide"):
            made: DispatchPolicy = policy()
            return made
        return copy.deepcopy(policy)  # type: ignore[return-value]

    first = fresh()
    name = getattr(first, "name", None)
    if not isinstance(name, str) or not callable(getattr(first, "decide", None)):
        raise PolicyCheckError(
            f"{first!r} is not a dispatch policy: it needs a `name` string and a "
            "`decide(state) -> Plan` method."
        )
    try:
        traits = traits_of(first)
    except TraitError as exc:
        raise PolicyCheckError(str(exc)) from None
    scenario = scenario or check_scenario()
    network = load_network(scenario.map.ref, network_type=scenario.map.network_type)
    runs: list[Any] = []
    for instance in (first, fresh()):
        try:
            runs.append(
                Simulation(scenario, network, policy=instance, replication=replication).run()
            )
        except PlanError as exc:
            raise PolicyCheckError(
                f"policy {name!r} made a plan the engine rejects: {exc}"
            ) from None
    result, again = runs
    states = conservation(result.orders)
    lost = sorted(set(states) - TERMINAL - {"open_at_horizon"})
    if lost:
        raise PolicyCheckError(
            f"policy {name!r}: orders left in non-final states {lost} at the end "
            f"({ {k: states[k] for k in lost} }); the engine closes every order, so this is a bug."
        )
    if result.log.digest() != again.log.digest():
        first_diff = _first_difference(result.events, again.events)
        raise PolicyCheckError(
            f"policy {name!r} is not deterministic: two runs of the same scenario and seed "
            f"gave different event logs (first difference at row {first_diff}). Draw random "
            "numbers only from a seeded generator the policy owns, and never iterate over sets "
            "of strings (their order changes between processes)."
        )
    events = result.events
    return PolicyCheckResult(
        policy=name,
        kpis=result.kpis(),
        digest=result.log.digest(),
        final_states=states,
        n_plans=int((events["kind"] == "plan").sum()),
        traits=traits,
    )


def _first_difference(a: Any, b: Any) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if not a.iloc[i].equals(b.iloc[i]):
            return i
    return n
