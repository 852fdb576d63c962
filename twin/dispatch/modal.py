"""Mode-aware planning: which mode serves which order, then routes per mode.

A mixed fleet cannot be one routing problem: bikes, robots and autonomous
vans move on their own road classes at their own pace, and drones fly. So
planning cascades through the modes in a chosen order (cheapest, most limited
first): each mode is offered the orders it can serve (parcel fits, within
reach, and for drones: a legal sortie within range, in flyable weather), plans
them, and passes on what it could not take. Ground modes are routed by the
routing engine (:func:`~twin.dispatch.planning.plan_routes`) on their own
travel times, robot trips trimmed to the robot's range; drone sorties are
scheduled earliest-deadline-first on the drones' own clocks. Vans that carry a
drone (truck-and-drone) are routed first and then hand the orders their drone
serves faster to it (:func:`van_drone_drops`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from twin.dispatch.base import DispatchState, OrderView, Plan, VehicleView, new_trips
from twin.dispatch.planning import PlanningSettings, plan_routes
from twin.modes import parcel_misfit

__all__ = ["Cascade", "fits", "plan_cascade", "schedule_sorties", "van_drone_drops"]


def fits(vehicle: VehicleView, order: OrderView) -> bool:
    """Can this vehicle's mode take this parcel at all (payload, size, option)?"""
    if vehicle.spec is None:
        return all(order.demand[d] <= vehicle.capacity[d] for d in range(3))
    why = parcel_misfit(
        vehicle.spec, weight_kg=order.demand[2], volume_m3=order.demand[1], option=order.option
    )
    return not why and all(order.demand[d] <= vehicle.capacity[d] for d in range(3))


@dataclass
class Cascade:
    """How a mixed fleet shares the orders.

    Parameters
    ----------
    modes : sequence of str
        The order in which modes are offered the orders (default: drones,
        robots, cargo bikes, autonomous vans, vans).
    reach_km : dict
        Ground modes only take orders within this road distance of their hub
        (default robots 2.5 km, bikes 4 km). A bike's day is many short trips.
    late_tolerance_min : float
        A drone takes an order only if it can be there by the window's end plus
        this (default 0: on time).
    """

    modes: tuple[str, ...] = ("drone", "robot", "cargo_bike", "autonomous_van", "van")
    reach_km: dict[str, float] | None = None
    late_tolerance_min: float = 0.0

    def reach_m(self, mode: str) -> float:
        reach = {"robot": 2.5, "cargo_bike": 4.0, **(self.reach_km or {})}
        return reach.get(mode, math.inf) * 1000.0


def plan_cascade(
    state: DispatchState,
    vehicles: Sequence[VehicleView],
    orders: Sequence[OrderView],
    settings: PlanningSettings,
    cascade: Cascade,
) -> Plan:
    """Plan ``orders`` over a mixed fleet, mode by mode (see the module docstring)."""
    left = list(orders)
    routes: dict[str, tuple[str, ...]] = {}
    stats: dict[str, float] = {}
    drops: dict[str, frozenset[str]] = {}
    for mode in cascade.modes:
        group = [v for v in vehicles if v.mode == mode]
        if not group or not left:
            continue
        if mode == "drone":
            plan = schedule_sorties(state, group, left, cascade)
        else:
            plan = _plan_ground(state, group, left, settings, cascade)
        routes.update(plan.routes)
        drops.update(plan.drone_drops)
        for key, value in plan.stats.items():
            stats[key] = stats.get(key, 0.0) + value
        taken = {oid for vid in plan.routes for oid in plan.routes[vid]}
        left = [o for o in left if o.id not in taken]
    for v in vehicles:
        routes.setdefault(v.id, v.route([]))
    return Plan(routes=routes, stats=stats, drone_drops=drops)


def _plan_ground(
    state: DispatchState,
    group: Sequence[VehicleView],
    orders: Sequence[OrderView],
    settings: PlanningSettings,
    cascade: Cascade,
) -> Plan:
    """Route one ground mode (its types one by one: each moves its own way)."""
    routes: dict[str, tuple[str, ...]] = {}
    stats: dict[str, float] = {}
    drops: dict[str, frozenset[str]] = {}
    left = list(orders)
    for type_name in sorted({v.type for v in group}):
        vehicles = [v for v in group if v.type == type_name]
        mine = _within_reach(state, vehicles, [o for o in left if fits(vehicles[0], o)], cascade)
        if not mine:
            continue
        own = replace(state, travel=state.travel_for(vehicles[0]))
        plan = plan_routes(own, vehicles, mine, settings)
        spec = vehicles[0].spec
        by_id = {o.id: o for o in mine}
        node = {o.id: o.node for o in mine}
        for v in vehicles:
            trips = new_trips(v, plan.routes.get(v.id, v.route([])))
            if spec is not None and spec.range_km is not None:
                trips = [
                    _trim_to_range(state, v, trip, node, spec.range_km * 1000.0) for trip in trips
                ]
            routes[v.id] = v.route(trips)
            if v.drone is not None:
                drops[v.id] = frozenset().union(
                    *(van_drone_drops(state, v, [by_id[oid] for oid in t]) for t in trips)
                )
                stats["van_drone_drops"] = stats.get("van_drone_drops", 0.0) + len(drops[v.id])
        for key, value in plan.stats.items():
            stats[key] = stats.get(key, 0.0) + value
        taken = {oid for vid in routes for oid in routes[vid]}
        left = [o for o in left if o.id not in taken]
    return Plan(routes=routes, stats=stats, drone_drops=drops)


def van_drone_drops(
    state: DispatchState, van: VehicleView, trip: Sequence[OrderView]
) -> frozenset[str]:
    """The orders of one van trip its drone should drop (route first, then fly).

    An order may go by drone if the drone can carry it and fly a legal sortie
    from the van's stop before it and back within range. Its saving is the
    van's detour to it (previous stop -> it -> next stop, against previous ->
    next, plus its stop time) less the time the van waits at the launch stop
    for the drone beyond its own stop there. Orders are taken greedily by
    saving, never a trip's first stop and never two in a row (the drone
    launches from a stop the van serves).
    """
    drone = van.drone
    if drone is None or state.van_sortie_m is None or len(trip) < 2:
        return frozenset()
    assert drone.speed_kph is not None
    nodes = [van.hub_node, *(o.node for o in trip), van.hub_node]
    t = state.travel_for(van)(nodes, nodes, state.now_s).time_s / van.speed_factor
    range_m = drone.range_km * 1000.0 if drone.range_km is not None else math.inf
    savings: list[tuple[float, int]] = []
    for k in range(1, len(trip)):
        order, before = trip[k], trip[k - 1]
        if parcel_misfit(
            drone, weight_kg=order.demand[2], volume_m3=order.demand[1], option=order.option
        ):
            continue
        flight_m = state.van_sortie_m(van.id, before.node, order.node)
        if not flight_m <= range_m:
            continue
        p, o, n = k, k + 1, k + 2  # positions in ``nodes`` (the hub is 0)
        detour = t[p, o] + order.service_s + t[o, n] - t[p, n]
        sortie = drone.takeoff_landing_s + flight_m / (drone.speed_kph / 3.6)
        sortie += drone.stop_overhead_s or 0.0
        saving = detour - max(0.0, sortie - before.service_s)
        if saving > 0:
            savings.append((saving, k))
    chosen: set[int] = set()
    for _, k in sorted(savings, key=lambda x: (-x[0], x[1])):
        if k - 1 not in chosen and k + 1 not in chosen:
            chosen.add(k)
    return frozenset(trip[k].id for k in chosen)


def _within_reach(
    state: DispatchState,
    vehicles: Sequence[VehicleView],
    orders: Sequence[OrderView],
    cascade: Cascade,
) -> list[OrderView]:
    """Orders this mode can reach from one of its hubs and come back from."""
    if not orders:
        return []
    reach = cascade.reach_m(vehicles[0].mode)
    travel = state.travel_for(vehicles[0])
    hubs = sorted({v.hub_node for v in vehicles})
    nodes = [o.node for o in orders]
    out = travel(hubs, nodes, state.now_s)
    back = travel(nodes, hubs, state.now_s)
    assert out.length_m is not None
    ok = ((out.length_m <= reach) & np.isfinite(out.time_s) & np.isfinite(back.time_s.T)).any(
        axis=0
    )
    return [o for o, good in zip(orders, ok, strict=True) if good]


def _trim_to_range(
    state: DispatchState,
    v: VehicleView,
    trip: list[str],
    node: dict[str, int],
    range_m: float,
) -> list[str]:
    """Drop stops from the end of a trip until hub -> stops -> hub fits the range."""
    travel = state.travel_for(v)
    while trip:
        route = [v.hub_node, *(node[oid] for oid in trip), v.hub_node]
        m = travel(route[:-1], route[1:], state.now_s)
        assert m.length_m is not None
        if float(np.trace(m.length_m)) <= range_m:
            break
        trip = trip[:-1]
    return trip


def schedule_sorties(
    state: DispatchState,
    drones: Sequence[VehicleView],
    orders: Iterable[OrderView],
    cascade: Cascade,
) -> Plan:
    """One parcel per sortie, earliest deadline first, each on the drone that gets there first.

    A drone's clock starts when it can next load (its current sorties done),
    skips grounded hours, and advances by load, take-off and landing, the
    flight out and back, the drop and a battery swap. An order is taken only
    if it fits the drone, has a legal sortie within range, and can be reached
    by the end of its window (plus the cascade's tolerance) and the drone back
    by the end of its shift.
    """
    assert state.flight_m is not None
    assert state.clear_sky_from is not None
    clock = {d.id: max(d.available_s, d.shift_start_s, state.now_s) for d in drones}
    trips: dict[str, list[list[str]]] = {d.id: [] for d in drones}
    room = {d.id: d.max_trips - (1 if d.committed else 0) for d in drones}
    tolerance = cascade.late_tolerance_min * 60.0
    for order in sorted(orders, key=lambda o: (o.window_end_s, o.id)):
        best: tuple[float, str, float] | None = None
        for d in drones:
            spec = d.spec
            if spec is None or room[d.id] <= 0 or not fits(d, order):
                continue
            length = state.flight_m(d.id, [order.node])
            range_m = spec.range_km * 1000.0 if spec.range_km is not None else math.inf
            if not math.isfinite(length) or length > range_m:
                continue
            assert spec.speed_kph is not None
            fly_s = length / (spec.speed_kph / 3.6)
            airborne = spec.takeoff_landing_s + fly_s + (spec.stop_overhead_s or 0.0)
            start = state.clear_sky_from(d.id, clock[d.id], d.load_per_parcel_s + airborne)
            arrive = max(
                start + d.load_per_parcel_s + spec.takeoff_landing_s / 2 + fly_s / 2,
                order.window_start_s,
            )
            back = arrive + (spec.stop_overhead_s or 0.0) + fly_s / 2 + spec.takeoff_landing_s / 2
            if arrive > order.window_end_s + tolerance or back > d.shift_end_s:
                continue
            if best is None or (arrive, d.id) < (best[0], best[1]):
                best = (arrive, d.id, back + spec.swap_s)
        if best is not None:
            _, vid, free = best
            trips[vid].append([order.id])
            clock[vid] = free
            room[vid] -= 1
    routes = {d.id: d.route(trips[d.id]) for d in drones}
    return Plan(routes=routes, stats={"drone_sorties": float(sum(map(len, trips.values())))})
