"""The dispatch contract: policies decide, the engine executes.

A policy is any object with a ``name`` and ``decide(state) -> Plan``. It gets a
read-only :class:`DispatchState` snapshot (no SimPy, no I/O, no clock to touch)
and returns a :class:`Plan` mapping vehicles to ordered stop lists that replace
their uncommitted remainder. The engine checks every plan with
:func:`validate_plan` and rejects a bad one with an error naming the policy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from twin.traveltime import TravelMatrix

__all__ = [
    "RELOAD",
    "DispatchPolicy",
    "DispatchState",
    "OrderView",
    "Plan",
    "PlanError",
    "VehicleView",
    "validate_plan",
]


class PlanError(RuntimeError):
    """A policy returned a plan the engine cannot execute."""


@dataclass(frozen=True)
class OrderView:
    """What a policy may know about a pending order."""

    id: str
    node: int
    demand: tuple[float, float, float]  # parcels, volume m3, weight kg
    window_start_s: float
    window_end_s: float
    service_s: float  # expected time at the stop
    option: str
    attempts: int
    due_day: int
    created_s: float


@dataclass(frozen=True)
class VehicleView:
    """What a policy may know about a vehicle and its driver."""

    id: str
    type: str
    mode: str
    hub: str
    hub_node: int
    node: int
    available_s: float
    capacity: tuple[float, float, float]
    committed: tuple[str, ...]
    shift_start_s: float
    shift_end_s: float
    max_working_s: float
    break_after_s: float
    break_s: float
    fixed_cost: float
    cost_per_km: float
    cost_per_h: float
    overtime_cost_per_h: float
    speed_factor: float
    #: Loading at the hub before departure: setup plus a time per parcel.
    load_setup_s: float = 0.0
    load_per_parcel_s: float = 0.0
    #: Hours of service: most driving per shift (None: no limit beyond the working day).
    max_driving_s: float | None = None
    #: Trips per day; between trips the vehicle reloads at its hub (see :data:`RELOAD`).
    max_trips: int = 1


@dataclass(frozen=True)
class DispatchState:
    """Read-only snapshot handed to :meth:`DispatchPolicy.decide`."""

    now_s: float
    day: int
    trigger: str
    orders: tuple[OrderView, ...]
    vehicles: tuple[VehicleView, ...]
    hubs: Mapping[str, int]
    #: ``travel(sources, targets, depart_s)`` -> expected times and lengths.
    travel: Callable[[list[int], list[int], float], TravelMatrix]
    late_cost_per_h: float = 30.0


#: A stop id meaning "back to the hub and reload" (multi-trip routes).
RELOAD = "@reload"


@dataclass(frozen=True)
class Plan:
    """Ordered stops per vehicle (order ids), replacing each vehicle's uncommitted stops.

    Vehicles absent from ``routes`` keep what they had. A :data:`RELOAD` entry
    splits a route into trips. ``eta_s`` may carry the policy's planned arrival
    per order (used for the first customer notice); ``breaks_s`` planned break
    start times per vehicle, which the engine honours (its duty-time rule still
    applies on top).
    """

    routes: Mapping[str, tuple[str, ...]]
    eta_s: Mapping[str, float] = field(default_factory=dict)
    stats: Mapping[str, float] = field(default_factory=dict)
    breaks_s: Mapping[str, tuple[float, ...]] = field(default_factory=dict)


@runtime_checkable
class DispatchPolicy(Protocol):
    """Anything with a name that turns a state into a plan."""

    name: str

    def decide(self, state: DispatchState) -> Plan: ...


def validate_plan(policy_name: str, state: DispatchState, plan: Plan) -> None:
    """Check a plan against the state; raise :class:`PlanError` naming the policy.

    Rules: known vehicles; only pending (or the vehicle's own committed) orders;
    no order twice; committed stops kept first and in order; no more trips than
    the vehicle may make; capacity in every dimension on every trip.
    """
    vehicles = {v.id: v for v in state.vehicles}
    orders = {o.id: o for o in state.orders}
    seen: dict[str, str] = {}
    for vid, stops in plan.routes.items():
        if vid not in vehicles:
            raise PlanError(f"policy {policy_name!r} routed unknown vehicle {vid!r}")
        vehicle = vehicles[vid]
        n_committed = len(vehicle.committed)
        if tuple(stops[:n_committed]) != vehicle.committed:
            raise PlanError(
                f"policy {policy_name!r} changed the committed stops of vehicle {vid!r}"
            )
        if stops.count(RELOAD) + 1 > vehicle.max_trips:
            raise PlanError(
                f"policy {policy_name!r} gives vehicle {vid!r} {stops.count(RELOAD) + 1} trips; "
                f"it may make {vehicle.max_trips}"
            )
        load = [0.0, 0.0, 0.0]
        for oid in stops:
            if oid == RELOAD:
                _check_load(policy_name, vid, vehicle, load)
                load = [0.0, 0.0, 0.0]
                continue
            if oid in seen:
                raise PlanError(
                    f"policy {policy_name!r} gave order {oid!r} to both {seen[oid]!r} and {vid!r}"
                )
            seen[oid] = vid
            if oid not in orders and oid not in vehicle.committed:
                raise PlanError(f"policy {policy_name!r} routed unknown or closed order {oid!r}")
            if oid in orders:
                for d in range(3):
                    load[d] += orders[oid].demand[d]
        _check_load(policy_name, vid, vehicle, load)


def _check_load(policy_name: str, vid: str, vehicle: VehicleView, load: list[float]) -> None:
    for d, name in enumerate(("parcels", "volume_m3", "weight_kg")):
        if load[d] > vehicle.capacity[d] + 1e-9:
            raise PlanError(
                f"policy {policy_name!r} overloads vehicle {vid!r}: {name} "
                f"{load[d]:g} > capacity {vehicle.capacity[d]:g} on one trip"
            )
