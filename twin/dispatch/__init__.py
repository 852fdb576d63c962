"""Dispatch policies behind one protocol; :func:`make_policy` builds one by name."""

from __future__ import annotations

from typing import Any

from twin.dispatch.base import (
    RELOAD,
    DispatchPolicy,
    DispatchState,
    OrderView,
    Plan,
    PlanError,
    VehicleView,
    new_trips,
    split_trips,
    validate_plan,
)
from twin.dispatch.static import StaticPolicy
from twin.errors import ScenarioError

__all__ = [
    "POLICIES",
    "RELOAD",
    "DispatchPolicy",
    "DispatchState",
    "OrderView",
    "Plan",
    "PlanError",
    "StaticPolicy",
    "VehicleView",
    "make_policy",
    "new_trips",
    "split_trips",
    "validate_plan",
]

POLICIES: dict[str, type] = {"static": StaticPolicy}


def make_policy(name: str, **params: Any) -> DispatchPolicy:
    """Build the policy registered as ``name`` with its parameters."""
    if name not in POLICIES:
        raise ScenarioError(
            f"policy.name {name!r} is unknown; available policies: {', '.join(sorted(POLICIES))}."
        )
    try:
        policy: DispatchPolicy = POLICIES[name](**params)
    except (TypeError, ValueError) as exc:
        raise ScenarioError(f"policy {name!r}: bad parameters ({exc}).") from None
    return policy
