"""Dispatch policies behind one protocol; :func:`build_policy` builds one from a scenario."""

from __future__ import annotations

from twin.dispatch.base import (
    GROUND_MODES,
    RELOAD,
    TRIGGERS,
    UNRESTRICTED_MODES,
    CourierView,
    DefaultTraits,
    DispatchPolicy,
    DispatchState,
    OrderView,
    Plan,
    PlanError,
    PolicyTraits,
    TraitError,
    VehicleView,
    new_trips,
    split_trips,
    traits_of,
    validate_plan,
)
from twin.dispatch.insertion import InsertionPolicy
from twin.dispatch.mixed_fleet import MixedFleetPolicy
from twin.dispatch.nearest_vehicle import NearestVehiclePolicy
from twin.dispatch.planning import PlanningSettings
from twin.dispatch.registry import POLICIES, build_policy, make_policy
from twin.dispatch.rolling_horizon import RollingHorizonPolicy
from twin.dispatch.static import StaticPolicy
from twin.dispatch.waves import WavesPolicy
from twin.dispatch.zones import ZonesPolicy

__all__ = [
    "GROUND_MODES",
    "POLICIES",
    "RELOAD",
    "TRIGGERS",
    "UNRESTRICTED_MODES",
    "CourierView",
    "DefaultTraits",
    "DispatchPolicy",
    "DispatchState",
    "InsertionPolicy",
    "MixedFleetPolicy",
    "NearestVehiclePolicy",
    "OrderView",
    "Plan",
    "PlanError",
    "PlanningSettings",
    "PolicyTraits",
    "RollingHorizonPolicy",
    "StaticPolicy",
    "TraitError",
    "VehicleView",
    "WavesPolicy",
    "ZonesPolicy",
    "build_policy",
    "make_policy",
    "new_trips",
    "split_trips",
    "traits_of",
    "validate_plan",
]
