"""Dispatch policies behind one protocol; :func:`make_policy` builds one by name."""

from __future__ import annotations

import importlib
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
from twin.dispatch.insertion import InsertionPolicy
from twin.dispatch.mixed_fleet import MixedFleetPolicy
from twin.dispatch.nearest_vehicle import NearestVehiclePolicy
from twin.dispatch.planning import PlanningSettings
from twin.dispatch.rolling_horizon import RollingHorizonPolicy
from twin.dispatch.static import StaticPolicy
from twin.dispatch.waves import WavesPolicy
from twin.dispatch.zones import ZonesPolicy
from twin.errors import ScenarioError

__all__ = [
    "POLICIES",
    "RELOAD",
    "DispatchPolicy",
    "DispatchState",
    "InsertionPolicy",
    "NearestVehiclePolicy",
    "OrderView",
    "Plan",
    "PlanError",
    "PlanningSettings",
    "RollingHorizonPolicy",
    "StaticPolicy",
    "VehicleView",
    "WavesPolicy",
    "ZonesPolicy",
    "make_policy",
    "new_trips",
    "split_trips",
    "validate_plan",
]

POLICIES: dict[str, type] = {
    "static": StaticPolicy,
    "waves": WavesPolicy,
    "rolling_horizon": RollingHorizonPolicy,
    "insertion": InsertionPolicy,
    "zones": ZonesPolicy,
    "nearest_vehicle": NearestVehiclePolicy,
    "mixed_fleet": MixedFleetPolicy,
}


def make_policy(name: str, **params: Any) -> DispatchPolicy:
    """Build the policy registered as ``name`` (or importable as ``module:Class``)."""
    factory = _import_policy(name) if ":" in name else POLICIES.get(name)
    if factory is None:
        raise ScenarioError(
            f"policy.name {name!r} is unknown; available policies: {', '.join(sorted(POLICIES))}, "
            "or your own class as 'module:ClassName'."
        )
    try:
        policy: DispatchPolicy = factory(**params)
    except (TypeError, ValueError) as exc:
        raise ScenarioError(f"policy {name!r}: bad parameters ({exc}).") from None
    return policy


def _import_policy(path: str) -> Any:
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ScenarioError(
            f"policy {path!r}: cannot import module {module_name!r} ({exc}); "
            "check that it is on PYTHONPATH."
        ) from None
    factory = getattr(module, attr, None)
    if factory is None:
        raise ScenarioError(f"policy {path!r}: module {module_name!r} has no {attr!r}.")
    return factory
