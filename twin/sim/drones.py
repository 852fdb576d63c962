"""Drones: legal flights around no-fly zones, sorties from the hub, and a truck's drone.

Flight paths are the airspace's shortest legal paths, computed once per node
pair. A drone takes off only if the weather stays flyable for its whole sortie
(:func:`clear_sky_from`); a drone
carried on a van is launched from a stop to drop the next parcel and lands back
on the van, whose driver waits for it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from twin.airspace import FlightPath
from twin.constants import DAY_S, HOUR_S
from twin.demand import Order
from twin.dispatch import PlanError
from twin.fleet import Vehicle
from twin.sim.state import VehicleDay
from twin.sim.stops import attempt

if TYPE_CHECKING:
    from twin.sim.engine import Simulation

__all__ = [
    "clear_sky_for",
    "clear_sky_from",
    "flight",
    "flight_m",
    "fly",
    "launch_at",
    "launch_from",
    "sortie_m",
    "sortie_s",
    "van_sortie",
    "van_sortie_m",
]


def launch_from(sim: Simulation, van: Vehicle, vs: VehicleDay, trip: list[Order], i: int) -> Any:
    """Launch the van's drone from stop ``i`` to the next order if the plan says so
    and it can fly now: weather, battery swapped, range, no drop before the window.
    Returns the sortie's process, or None (then the van serves that order itself)."""
    if i + 1 >= len(trip) or trip[i + 1].id not in vs.drops:
        return None
    order = trip[i + 1]
    drone = sim.world.drone_of[van.id]
    dvs = sim.state.vs[drone.id]
    now = sim.now()
    if order.id in sim.state.cancel_requested or now < dvs.ready_s:
        return None
    vtype = drone.type
    _, out_s = flight(sim, drone, vs.here, order.node)
    _, back_s = flight(sim, drone, order.node, vs.here)
    duration = vtype.takeoff_landing_s + out_s + back_s + (vtype.stop_overhead_s or 0.0)
    clear = clear_sky_from(sim, drone, now, duration)
    if clear > now:
        sim.event(
            "grounded",
            vehicle_id=drone.id,
            carrier=van.id,
            **sim.where(vs.here),
            weather=sim.world.weather.state_name(now),
            until_s=round(clear, 3) if math.isfinite(clear) else None,
        )
        return None
    range_m = vtype.range_km * 1000.0 if vtype.range_km is not None else math.inf
    if not van_sortie_m(sim, van.id, vs.here, order.node) <= range_m:
        return None
    if now + vtype.takeoff_landing_s / 2 + out_s < order.window_start_s:
        return None
    vs.onboard.remove(order)
    return sim.env.process(van_sortie(sim, van, drone, order, vs.here))


def van_sortie(sim: Simulation, van: Vehicle, drone: Vehicle, order: Order, launch: int) -> Any:
    """Take off from the van, drop the parcel, fly back and land on the van; the
    battery is swapped (``swap_s``) before the next launch."""
    vtype = drone.type
    dvs = sim.state.vs[drone.id]
    log, nodes = sim.state.sortie_logs[drone.id]
    dvs.trips_done += 1
    log["planned"] += 1
    sim.event(
        "launch",
        vehicle_id=drone.id,
        carrier=van.id,
        **sim.where(launch),
        payload_kg=round(order.weight_kg, 3),
        parcels=1,
    )
    yield sim.env.timeout(vtype.takeoff_landing_s / 2)
    yield from fly(sim, drone, launch, order.node, order.weight_kg, log, order=order)
    nodes.append(order.node)
    yield from attempt(sim, order, drone)
    log["served"] += 1
    failed = sim.order_state(order.id) == "failed"
    yield from fly(sim, drone, order.node, launch, order.weight_kg if failed else 0.0, log)
    nodes.append(launch)
    yield sim.env.timeout(vtype.takeoff_landing_s / 2)
    sim.event("recovered", vehicle_id=drone.id, carrier=van.id, node=launch)
    dvs.ready_s = sim.now() + vtype.swap_s
    if failed:
        sim.state.vs[van.id].back.append(order)


def flight(sim: Simulation, vehicle: Vehicle, a: int, b: int) -> tuple[FlightPath | None, float]:
    """Shortest legal flight between two nodes and its duration at cruise speed
    (``(None, inf)`` if no legal path: inside a no-fly zone or across the border)."""
    key = (a, b)
    path = sim.state.flights.get(key)
    if key not in sim.state.flights:
        assert sim.world.airspace is not None
        ia, ib = sim.network.index([a, b])
        net = sim.network
        path = sim.world.airspace.path(
            (float(net.lat[ia]), float(net.lon[ia])), (float(net.lat[ib]), float(net.lon[ib]))
        )
        sim.state.flights[key] = path
    if path is None:
        return None, math.inf
    assert vehicle.type.speed_kph is not None
    return path, path.length_m / (vehicle.type.speed_kph / 3.6)


def sortie_m(sim: Simulation, vehicle: Vehicle, stops: Sequence[int]) -> float:
    """Flight length of a sortie from the hub over ``stops`` and back (inf if illegal)."""
    route = [vehicle.hub_node, *stops, vehicle.hub_node]
    total = 0.0
    for a, b in itertools.pairwise(route):
        path, _ = flight(sim, vehicle, a, b)
        if path is None:
            return math.inf
        total += path.length_m
    return total


def van_sortie_m(sim: Simulation, vehicle_id: str, launch: int, drop: int) -> float:
    """Legal flight length of a carried drone from ``launch`` to ``drop`` and back."""
    drone = sim.world.drone_of[vehicle_id]
    out, _ = flight(sim, drone, launch, drop)
    back, _ = flight(sim, drone, drop, launch)
    return math.inf if out is None or back is None else out.length_m + back.length_m


def flight_m(sim: Simulation, vehicle_id: str, stops: Sequence[int]) -> float:
    """:func:`sortie_m` by vehicle id: what policies are given to check a drone's sortie."""
    return sortie_m(sim, sim.state.vehicle_by_id[vehicle_id], stops)


def clear_sky_for(sim: Simulation, vehicle_id: str, t_s: float, duration_s: float = 0.0) -> float:
    """:func:`clear_sky_from` by vehicle id: what policies are given to plan launches."""
    return clear_sky_from(sim, sim.state.vehicle_by_id[vehicle_id], t_s, duration_s)


def launch_at(sim: Simulation, vehicle: Vehicle, trip: list[Order]) -> float:
    """The latest launch that still reaches the first drop no earlier than its window."""
    first = trip[0]
    _, out_s = flight(sim, vehicle, vehicle.hub_node, first.node)
    lead = sim.load_time_s(vehicle, len(trip)) + vehicle.type.takeoff_landing_s / 2
    return first.window_start_s - lead - out_s


def clear_sky_from(sim: Simulation, vehicle: Vehicle, t_s: float, duration_s: float = 0.0) -> float:
    """The first time from ``t_s`` this drone may take off on a sortie of ``duration_s``
    (inf if not within the run): flyable weather at take-off *and* for the whole
    sortie, so that a drone never leaves just before rain it could not fly in. The
    weather is known hour by hour (the forecast the operator flies by)."""
    horizon = sim.scenario.simulated_days * DAY_S
    t = t_s
    while t < horizon:
        bad = _first_grounded(sim, vehicle, t, t + duration_s)
        if bad is None:
            return t
        t = (math.floor(bad / HOUR_S) + 1) * HOUR_S
    return math.inf


def _first_grounded(
    sim: Simulation, vehicle: Vehicle, start_s: float, end_s: float
) -> float | None:
    """The first moment in ``[start_s, end_s]`` the drone would be grounded, or None."""
    vtype = vehicle.type
    t = start_s
    while t <= end_s:
        if sim.world.weather.grounded(
            t, max_wind_kph=vtype.max_wind_kph, max_rain_mm_h=vtype.max_rain_mm_h
        ):
            return t
        t = (math.floor(t / HOUR_S) + 1) * HOUR_S
    return None


def sortie_s(sim: Simulation, vehicle: Vehicle, trip: Sequence[Order]) -> float:
    """Expected time of a hub sortie over ``trip``: loading, take-off and landing, the
    flights there and back and each drop (its weather must hold that long)."""
    route = [vehicle.hub_node, *(o.node for o in trip), vehicle.hub_node]
    flying = sum(flight(sim, vehicle, a, b)[1] for a, b in itertools.pairwise(route))
    vtype = vehicle.type
    drops = len(trip) * (vtype.stop_overhead_s or 0.0)
    return sim.load_time_s(vehicle, len(trip)) + vtype.takeoff_landing_s + flying + drops


def fly(
    sim: Simulation,
    vehicle: Vehicle,
    a: int,
    b: int,
    payload_kg: float,
    day_log: dict[str, Any],
    order: Order | None = None,
) -> Any:
    """One flight leg, logged with its waypoints (the no-fly check reads them)."""
    path, flight_s = flight(sim, vehicle, a, b)
    if path is None:  # plans are checked for legal sorties before they are accepted
        raise PlanError(f"drone {vehicle.id}: no legal flight from node {a} to node {b}")
    end = path.waypoints[-1]
    sim.event(
        "flight",
        vehicle_id=vehicle.id,
        node=b,
        lat=end[0],
        lon=end[1],
        path=[[round(p[0], 7), round(p[1], 7)] for p in path.waypoints],
        length_m=round(path.length_m, 1),
        payload_kg=round(payload_kg, 3),
    )
    yield sim.env.timeout(flight_s)
    day_log["km"] += path.length_m / 1000.0
    sim.state.vs[vehicle.id].driving_s += flight_s
    if order is not None:
        sim.order_event("arrive", order, vehicle_id=vehicle.id, leg_m=round(path.length_m, 1))
    else:
        sim.event("arrive", vehicle_id=vehicle.id, node=b, leg_m=round(path.length_m, 1))
