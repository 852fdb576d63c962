"""The dispatch contract: policies decide, the engine executes.

A policy is any object with a ``name`` and ``decide(state) -> Plan``. It gets a
read-only :class:`DispatchState` snapshot (no SimPy, no I/O, no clock to touch)
and returns a :class:`Plan` mapping vehicles to ordered stop lists that replace
their uncommitted remainder. The engine checks every plan with
:func:`validate_plan` and rejects a bad one with an error naming the policy.

When the engine asks (the *triggers*): ``cutoff`` (the morning plan), ``new_order``
(an order placed during the day), ``vehicle_idle`` (a vehicle back at its hub
with nothing planned), ``tick`` (every ``tick_s`` seconds of the operating day,
if the policy has that attribute), ``wave`` (at each of the policy's
``wave_hours``), and ``disruption`` (a no-show, a breakdown, a road closing or
reopening). A policy may declare ``triggers`` (a set of these names) to be asked
only then, and ``dynamic = True`` to have vehicles wait at the hub for more work
until the end of their shift instead of clocking off when their plan is done.

What is committed: the parcels on board a vehicle (loaded, not yet attempted),
in their order. A plan keeps them first; anything after them is a new trip
from the hub (the vehicle must come back to load it). Everything else, orders
planned on a vehicle but not yet loaded included, may be re-planned freely.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from twin.crowd import CourierView
from twin.modes import parcel_misfit
from twin.scenario import VehicleType
from twin.traveltime import TravelMatrix

__all__ = [
    "RELOAD",
    "DispatchPolicy",
    "DispatchState",
    "OrderView",
    "Plan",
    "PlanError",
    "VehicleView",
    "new_trips",
    "split_trips",
    "validate_plan",
]


class PlanError(RuntimeError):
    """A policy returned a plan the engine cannot execute."""


@dataclass(frozen=True)
class OrderView:
    """What a policy may know about an order that is not yet on a vehicle."""

    id: str
    node: int
    lat: float
    lon: float
    demand: tuple[float, float, float]  # parcels, volume m3, weight kg
    window_start_s: float
    window_end_s: float
    service_s: float  # expected time at the stop
    option: str
    attempts: int
    due_day: int
    created_s: float
    #: The vehicle this order is planned on (not loaded yet), or None.
    vehicle_id: str | None = None
    #: When the last delivery attempt failed (None: never attempted).
    last_attempt_s: float | None = None


@dataclass(frozen=True)
class VehicleView:
    """What a policy may know about a vehicle and its driver.

    Every vehicle is described as it will be when it can next load at its hub:
    ``available_s`` is when it is back there (now, for a vehicle at the hub) and
    ``committed`` the parcels it must deliver before (on board now).
    """

    id: str
    type: str
    mode: str
    hub: str
    hub_node: int
    node: int
    available_s: float
    capacity: tuple[float, float, float]
    committed: tuple[str, ...]
    #: When the driver came on duty (the scheduled shift start if not started yet).
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
    #: Hours of service: driving time left today (None: no limit beyond the working day).
    max_driving_s: float | None = None
    #: Trips it may still make today, the committed one included; between trips the
    #: vehicle reloads at its hub (see :data:`RELOAD`).
    max_trips: int = 1
    #: Its current plan after the committed stops (order ids, RELOAD between trips).
    planned: tuple[str, ...] = ()
    #: On shift already today (its fixed cost is spent).
    started: bool = False
    #: The vehicle type's full description: mode limits (payload, parcel size,
    #: range, road classes, speed, drone weather limits). None: a plain van.
    spec: VehicleType | None = None
    #: Truck-and-drone: the drone it carries (None: none).
    drone: VehicleType | None = None

    def route(self, trips: Sequence[Sequence[str]]) -> tuple[str, ...]:
        """The plan entry for this vehicle: its committed stops, then ``trips`` from the hub."""
        stops: list[str] = list(self.committed)
        for trip in trips:
            if trip:
                if stops:
                    stops.append(RELOAD)
                stops.extend(trip)
        return tuple(stops)

    def planned_trips(self) -> list[list[str]]:
        """``planned`` split into trips."""
        return split_trips(self.planned)


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
    #: Travel on each vehicle type's own network where it differs from ``travel``
    #: (bikes, robots, autonomous vans), by type name: see :meth:`travel_for`.
    mode_travel: Mapping[str, Callable[[list[int], list[int], float], TravelMatrix]] = field(
        default_factory=dict
    )
    #: ``flight_m(vehicle_id, stops)``: legal flight length (m) of a drone sortie from
    #: its hub over ``stops`` and back; inf if no legal path or beyond nothing to fly.
    flight_m: Callable[[str, Sequence[int]], float] | None = None
    #: ``clear_sky_from(vehicle_id, t_s)``: first time from ``t_s`` the drone may fly.
    clear_sky_from: Callable[[str, float], float] | None = None
    #: Crowdsourced couriers online now and free: a plan may offer them bundles.
    couriers: tuple[CourierView, ...] = ()
    #: ``van_sortie_m(vehicle_id, launch_node, drop_node)``: legal flight length (m)
    #: of the vehicle's carried drone from ``launch_node`` to the drop and back; inf
    #: if there is no legal path.
    van_sortie_m: Callable[[str, int, int], float] | None = None

    def travel_for(
        self, vehicle: VehicleView
    ) -> Callable[[list[int], list[int], float], TravelMatrix]:
        """Travel times as this vehicle moves (its road classes, its pace)."""
        return self.mode_travel.get(vehicle.type, self.travel)


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
    #: Bundles offered to crowdsourced couriers (courier id -> order ids, in stop
    #: order). Each courier accepts or declines; declined orders stay open.
    offers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Truck-and-drone: per vehicle that carries a drone, the orders of its route
    #: the drone serves, each launched at the vehicle's stop just before it and
    #: recovered there (the vehicle skips that order's stop). If the drone cannot
    #: fly then (weather, an early window), the vehicle serves the order itself.
    drone_drops: Mapping[str, frozenset[str]] = field(default_factory=dict)


@runtime_checkable
class DispatchPolicy(Protocol):
    """Anything with a name that turns a state into a plan."""

    name: str

    def decide(self, state: DispatchState) -> Plan: ...


def split_trips(stops: Sequence[str]) -> list[list[str]]:
    """Stops split at :data:`RELOAD` into trips (empty trips dropped)."""
    trips: list[list[str]] = [[]]
    for oid in stops:
        if oid == RELOAD:
            trips.append([])
        else:
            trips[-1].append(oid)
    return [t for t in trips if t]


def new_trips(vehicle: VehicleView, route: Sequence[str]) -> list[list[str]]:
    """The trips from the hub that ``route`` plans after the vehicle's committed stops."""
    return split_trips(route[len(vehicle.committed) :])


def validate_plan(policy_name: str, state: DispatchState, plan: Plan) -> None:
    """Check a plan against the state; raise :class:`PlanError` naming the policy.

    Rules: known vehicles; only open orders of the state (or the vehicle's own
    committed ones); no order twice, counting the plans kept by vehicles the plan
    leaves alone; committed stops kept first and in order; no more trips than
    the vehicle may still make; capacity in every dimension on every new trip;
    each parcel within the vehicle's mode limits (payload, parcel size, a drone
    only drops). Limits that depend on the route (range, no-fly zones, road
    classes) are checked by the engine, which knows the geometry.
    """
    vehicles = {v.id: v for v in state.vehicles}
    orders = {o.id: o for o in state.orders}
    seen: dict[str, str] = {}
    for v in state.vehicles:
        if v.id not in plan.routes:
            for oid in v.planned:
                if oid != RELOAD:
                    seen[oid] = v.id
    for vid, stops in plan.routes.items():
        if vid not in vehicles:
            raise PlanError(f"policy {policy_name!r} routed unknown or unavailable vehicle {vid!r}")
        vehicle = vehicles[vid]
        n_committed = len(vehicle.committed)
        if tuple(stops[:n_committed]) != vehicle.committed:
            raise PlanError(
                f"policy {policy_name!r} changed the committed stops of vehicle {vid!r} "
                f"(the parcels on board, {list(vehicle.committed)}, must come first and in order)"
            )
        trips = new_trips(vehicle, stops)
        n_trips = len(trips) + (1 if n_committed else 0)
        if n_trips > vehicle.max_trips:
            raise PlanError(
                f"policy {policy_name!r} gives vehicle {vid!r} {n_trips} trips; "
                f"it may make {vehicle.max_trips} more today"
            )
        for trip in trips:
            load = [0.0, 0.0, 0.0]
            for oid in trip:
                if oid in seen:
                    raise PlanError(
                        f"policy {policy_name!r} gave order {oid!r} to both "
                        f"{seen[oid]!r} and {vid!r}"
                    )
                seen[oid] = vid
                if oid not in orders:
                    raise PlanError(
                        f"policy {policy_name!r} routed unknown, loaded or closed order {oid!r}"
                    )
                for d in range(3):
                    load[d] += orders[oid].demand[d]
                if vehicle.spec is not None:
                    order = orders[oid]
                    why = parcel_misfit(
                        vehicle.spec,
                        weight_kg=order.demand[2],
                        volume_m3=order.demand[1],
                        option=order.option,
                    )
                    if why:
                        raise PlanError(
                            f"policy {policy_name!r} gave order {oid!r} to {vehicle.mode} "
                            f"{vid!r}: {why}"
                        )
            _check_load(policy_name, vid, vehicle, load)
    for vid, drops in plan.drone_drops.items():
        _check_drone_drops(policy_name, vehicles.get(vid), vid, plan.routes.get(vid), drops, orders)
    online = {c.id: c for c in state.couriers}
    for cid, bundle in plan.offers.items():
        if cid not in online:
            raise PlanError(f"policy {policy_name!r} offered a bundle to {cid!r}, not online")
        if not bundle or len(bundle) > online[cid].max_parcels:
            raise PlanError(
                f"policy {policy_name!r} offered {cid!r} {len(bundle)} parcels; "
                f"between 1 and {online[cid].max_parcels} may be offered"
            )
        for oid in bundle:
            if oid in seen:
                raise PlanError(
                    f"policy {policy_name!r} gave order {oid!r} to both {seen[oid]!r} and {cid!r}"
                )
            if oid not in orders or orders[oid].vehicle_id is not None:
                raise PlanError(
                    f"policy {policy_name!r} offered {cid!r} order {oid!r}, which is not open "
                    "or is planned on a vehicle"
                )
            seen[oid] = cid


def _check_load(policy_name: str, vid: str, vehicle: VehicleView, load: list[float]) -> None:
    for d, name in enumerate(("parcels", "volume_m3", "weight_kg")):
        if load[d] > vehicle.capacity[d] + 1e-9:
            raise PlanError(
                f"policy {policy_name!r} overloads vehicle {vid!r}: {name} "
                f"{load[d]:g} > capacity {vehicle.capacity[d]:g} on one trip"
            )


def _check_drone_drops(
    policy_name: str,
    vehicle: VehicleView | None,
    vid: str,
    stops: Sequence[str] | None,
    drops: frozenset[str],
    orders: Mapping[str, OrderView],
) -> None:
    """A carried drone serves orders of its vehicle's new trips, each launched at
    the stop before it (so never a trip's first stop, and never two in a row)."""
    if vehicle is None or vehicle.drone is None or stops is None:
        raise PlanError(
            f"policy {policy_name!r} gave drone drops to {vid!r}, which carries no drone "
            "or is not routed by the plan"
        )
    drone = vehicle.drone
    position = {}
    for trip in new_trips(vehicle, stops):
        for k, oid in enumerate(trip):
            position[oid] = (k, trip)
    for oid in sorted(drops):
        if oid not in position:
            raise PlanError(
                f"policy {policy_name!r} drops order {oid!r} by {vid!r}'s drone, but it is "
                "not on a new trip of that vehicle's route"
            )
        k, trip = position[oid]
        if k == 0 or trip[k - 1] in drops:
            raise PlanError(
                f"policy {policy_name!r}: {vid!r}'s drone needs a stop of the vehicle before "
                f"order {oid!r} to launch from"
            )
        order = orders[oid]
        why = parcel_misfit(
            drone, weight_kg=order.demand[2], volume_m3=order.demand[1], option=order.option
        )
        if why:
            raise PlanError(f"policy {policy_name!r} drops order {oid!r} by {vid!r}'s drone: {why}")
