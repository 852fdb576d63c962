"""The dispatch contract: policies decide, the engine executes.

A policy is an object with a ``name``, its declared *traits* and
``decide(state) -> Plan``. It gets a read-only :class:`DispatchState` snapshot
(no SimPy, no I/O, no clock to touch) and returns a :class:`Plan` mapping
vehicles to ordered stop lists that replace their uncommitted remainder. The
engine checks every plan with :func:`validate_plan` and rejects a bad one with
an error naming the policy.

The traits tell the engine when and how to use the policy (see
:class:`DispatchPolicy` for each one's meaning and :func:`traits_of`, which
reads and checks them). When the engine asks (the *triggers*): ``cutoff`` (the
morning plan), ``new_order`` (an order placed during the day),
``vehicle_idle`` (a vehicle back at its hub with nothing planned), ``tick``
(every ``tick_s`` seconds of the operating day), ``wave`` (at each of the
policy's ``wave_hours``), and ``disruption`` (a no-show, a breakdown, a road
closing or reopening).

What is committed: the parcels on board a vehicle (loaded, not yet attempted),
in their order. A plan keeps them first; anything after them is a new trip
from the hub (the vehicle must come back to load it). Everything else, orders
planned on a vehicle but not yet loaded included, may be re-planned freely.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Collection, Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, Protocol, runtime_checkable

from twin.errors import TwinError
from twin.modes import MODES, parcel_misfit
from twin.scenario import VehicleType
from twin.traveltime import TravelMatrix

__all__ = [
    "GROUND_MODES",
    "RELOAD",
    "TRAITS",
    "TRIGGERS",
    "UNRESTRICTED_MODES",
    "CourierView",
    "DefaultTraits",
    "DispatchPolicy",
    "DispatchState",
    "OrderView",
    "Plan",
    "PlanError",
    "PolicyTraits",
    "TraitError",
    "VehicleView",
    "new_trips",
    "split_trips",
    "traits_of",
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
class CourierView:
    """What a dispatch policy sees of a crowd courier (not their wage or detour tolerance)."""

    id: str
    #: Network node where they are when they come online.
    node: int
    online_s: float
    offline_s: float
    max_parcels: int


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
    #: Travel on each vehicle type's own network where it differs from ``travel``
    #: (bikes, robots, autonomous vans), by type name: see :meth:`travel_for`.
    mode_travel: Mapping[str, Callable[[list[int], list[int], float], TravelMatrix]] = field(
        default_factory=dict
    )
    #: ``flight_m(vehicle_id, stops)``: legal flight length (m) of a drone sortie from
    #: its hub over ``stops`` and back; inf if no legal path or beyond nothing to fly.
    flight_m: Callable[[str, Sequence[int]], float] | None = None
    #: ``clear_sky_from(vehicle_id, t_s, duration_s)``: first time from ``t_s`` the drone
    #: may take off and fly for ``duration_s`` in flyable weather.
    clear_sky_from: Callable[[str, float, float], float] | None = None
    #: Crowdsourced couriers online now and free: a plan may offer them bundles.
    couriers: tuple[CourierView, ...] = ()
    #: ``van_sortie_m(vehicle_id, launch_node, drop_node)``: legal flight length (m)
    #: of the vehicle's carried drone from ``launch_node`` to the drop and back; inf
    #: if there is no legal path.
    van_sortie_m: Callable[[str, int, int], float] | None = None
    #: ``future_orders(rng)``: one draw of the orders that may still come, each with
    #: its ``created_s`` in the future (a route may not leave for it earlier), for
    #: policies that plan with what may come. None: no model of future demand.
    future_orders: Callable[[Any], tuple[OrderView, ...]] | None = None

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


#: Every moment the engine may ask a policy for a plan (see the module docstring).
TRIGGERS: Final = frozenset({"cutoff", "new_order", "vehicle_idle", "tick", "wave", "disruption"})
#: Every mode that moves on the ground: the modes a policy built on one routing
#: problem can plan (a drone flies sorties, a routing problem has no flights).
GROUND_MODES: Final = frozenset(MODES) - {"drone"}
#: Modes whose vehicles take any order their capacity allows: no largest parcel, no
#: delivery option they cannot serve (an autonomous van or robot needs someone at the
#: door), no range per trip. A policy that checks only capacity and time plans these.
UNRESTRICTED_MODES: Final = frozenset({"van", "cargo_bike"})
#: The traits every policy declares, beside ``name`` and ``decide``.
TRAITS: Final = ("dynamic", "triggers", "tick_s", "wave_hours", "modes")


@runtime_checkable
class DispatchPolicy(Protocol):
    """Anything with a name and declared traits that turns a state into a plan.

    The traits are read-only as far as the engine is concerned: class
    attributes, dataclass fields or properties all do. A policy that needs only
    the defaults can inherit them from :class:`DefaultTraits`.

    Attributes
    ----------
    name : str
        How plans, events, errors and reports name the policy.
    dynamic : bool
        True: a vehicle whose plan is done waits at its hub for more work until
        the end of its shift (the policy gives work during the day). False: it
        clocks off when its plan is done.
    triggers : set of str or None
        The triggers (:data:`TRIGGERS`) the policy is asked at; None: every
        one. Asking a policy that ignores a trigger costs a state snapshot.
    tick_s : float or None
        Seconds between ``tick`` triggers while vehicles are out; None: no
        ticks. Only heard if ``triggers`` lets ``tick`` through.
    wave_hours : sequence of float
        Hours of the day of ``wave`` triggers after the morning cutoff; empty:
        no waves.
    modes : collection of str or None
        The modes (:data:`twin.modes.MODES`) whose vehicles the policy plans;
        None: every mode. The engine shows a policy only the vehicles of these
        modes; the others stay at their hub all run, and the run's warnings say
        so (a policy that knows nothing of a mode never hands it a parcel it
        cannot carry).
    """

    @property
    def name(self) -> str: ...

    @property
    def dynamic(self) -> bool: ...

    @property
    def triggers(self) -> Set[str] | None: ...

    @property
    def tick_s(self) -> float | None: ...

    @property
    def wave_hours(self) -> Sequence[float]: ...

    @property
    def modes(self) -> Collection[str] | None: ...

    def decide(self, state: DispatchState) -> Plan: ...


class DefaultTraits:
    """The default of every trait, for a policy to inherit and override what differs.

    The defaults describe the simplest policy: asked at every trigger, no
    ticks, no waves, vehicles clock off when their plan is done, every mode
    planned. ``class MyPolicy(DefaultTraits): name = "mine"; dynamic = True``
    then declares everything :func:`traits_of` checks.
    """

    dynamic: ClassVar[bool] = False
    triggers: ClassVar[frozenset[str] | None] = None
    tick_s: ClassVar[float | None] = None
    wave_hours: ClassVar[tuple[float, ...]] = ()
    modes: ClassVar[frozenset[str] | None] = None


class TraitError(TwinError, TypeError):
    """A policy is missing a trait or declares one the engine cannot use."""


@dataclass(frozen=True)
class PolicyTraits:
    """A policy's traits as the engine uses them: checked and normalised.

    See :class:`DispatchPolicy` for what each one means.
    """

    name: str
    dynamic: bool
    triggers: frozenset[str] | None
    tick_s: float | None
    wave_hours: tuple[float, ...]
    modes: frozenset[str] | None


def traits_of(policy: object) -> PolicyTraits:
    """Read and check the traits ``policy`` declares.

    Every trait must be declared (a user policy may inherit
    :class:`DefaultTraits`): a missing one would otherwise fall back silently to
    a default the author may not have meant, such as vehicles clocking off
    while the policy still has work for them.

    Raises
    ------
    TraitError
        One sentence naming the policy, every missing or bad trait and the fix.
    """
    name = getattr(policy, "name", None)
    who = f"policy {name!r} ({type(policy).__name__})" if isinstance(name, str) else repr(policy)
    if not isinstance(name, str) or not name:
        raise TraitError(f"{who} has no `name`; give it a non-empty string `name`.")
    missing = [t for t in TRAITS if not hasattr(policy, t)]
    if missing:
        raise TraitError(
            f"{who} does not declare {', '.join(missing)}; declare "
            f"{'them' if len(missing) > 1 else 'it'} (see twin.dispatch.DispatchPolicy) "
            "or inherit the defaults from twin.dispatch.DefaultTraits."
        )
    values = {t: getattr(policy, t) for t in TRAITS}
    problems = [p for p in (_check(t, values[t]) for t in TRAITS) if p]
    if problems:
        raise TraitError(f"{who}: {'; '.join(problems)}.")
    triggers, modes = values["triggers"], values["modes"]
    return PolicyTraits(
        name=name,
        dynamic=values["dynamic"],
        triggers=None if triggers is None else frozenset(triggers),
        tick_s=None if values["tick_s"] is None else float(values["tick_s"]),
        wave_hours=tuple(float(h) for h in values["wave_hours"]),
        modes=None if modes is None else frozenset(modes),
    )


def _check(trait: str, value: Any) -> str | None:
    """What is wrong with one trait's value, as "trait: problem; fix" (None: fine)."""
    if trait == "dynamic":
        return None if isinstance(value, bool) else f"dynamic is {value!r}; use True or False"
    if trait in ("triggers", "modes"):
        known = TRIGGERS if trait == "triggers" else frozenset(MODES)
        if value is None:
            return None
        if isinstance(value, str) or not isinstance(value, Collection):
            return f"{trait} is {value!r}; use a set of names or None (every one)"
        unknown = sorted(str(v) for v in value if v not in known)
        if unknown:
            choices = ", ".join(sorted(known))
            return f"{trait} has unknown {', '.join(unknown)}; choose from {choices}"
        return None
    if trait == "tick_s":
        if value is None:
            return None
        if not _is_number(value) or not value > 0 or not math.isfinite(value):
            return f"tick_s is {value!r}; use a positive number of seconds or None (no ticks)"
        return None
    if isinstance(value, str) or not isinstance(value, Collection):
        return f"wave_hours is {value!r}; use a sequence of hours of the day (empty: no waves)"
    bad = [h for h in value if not _is_number(h) or not 0 <= h < 24]
    if bad:
        return f"wave_hours has {bad!r}; use hours of the day in [0, 24)"
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


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
