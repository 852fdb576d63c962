"""Expected times a vehicle announces: legs, ETAs at each stop, the return to the hub.

Computed from expected travel times under the forecast weather (what the
dispatcher and the customers know), never from the noisy times actually driven.
A truck's drone drops are read as the van waiting for its drone at the stop before.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from twin.demand import Order
from twin.fleet import Vehicle
from twin.sim.drones import flight
from twin.sim.state import VehicleDay
from twin.world import forecast_matrix

if TYPE_CHECKING:
    from twin.sim.engine import Simulation

__all__ = [
    "announce",
    "back_leg_s",
    "drop_legs",
    "etas_along",
    "expected_legs",
    "expected_return",
]


def announce(sim: Simulation, vehicle: Vehicle, vs: VehicleDay, trip: list[Order]) -> Any:
    """Trip leaves: parcels out for delivery, ETAs sent; returns (legs, etas)."""
    vid, drv = vehicle.id, vehicle.driver_id
    legs = expected_legs(sim, vehicle, vehicle.hub_node, trip, sim.now())
    etas = etas_along(sim, vehicle, legs, trip, sim.now())
    for order, eta in zip(trip, etas, strict=True):
        sim.order_event("out_for_delivery", order, vehicle_id=vid, driver_id=drv)
        sim.state.eta_announced[order.id] = eta
        sim.order_event("notify_eta", order, vehicle_id=vid, eta_s=round(eta, 3))
    vs.eta_back_s = expected_return(sim, vehicle, trip, sim.now(), legs=legs, etas=etas)
    return legs, etas


def expected_legs(
    sim: Simulation, vehicle: Vehicle, start_node: int, stops: list[Order], depart: float
) -> list[float]:
    """Expected time of each leg of a route (start -> stop 1 -> stop 2 ...) at ``depart``.

    Computed once per route; ETA updates reuse it instead of new shortest paths.
    """
    if not stops:
        return []
    nodes = [start_node] + [o.node for o in stops]
    if vehicle.type.mode == "drone":
        return [flight(sim, vehicle, a, b)[1] for a, b in itertools.pairwise(nodes)]
    # The van drives from the last stop it serves itself (its drone's drops are flown).
    drops = sim.state.vs[vehicle.id].drops if vehicle.id in sim.world.drone_of else frozenset()
    dropped = [o.id in drops and k > 0 for k, o in enumerate(stops)]
    origins, last = [], start_node
    for k, order in enumerate(stops):
        origins.append(last)
        if not dropped[k]:
            last = order.node
    targets = [o.node for o in stops]
    times = forecast_matrix(
        sim.mover(vehicle).pairwise(origins, targets, depart_s=depart), sim.world.weather
    ).time_s
    legs = [float(t) / vehicle.type.speed_factor for t in times]
    for k in (k for k, flown in enumerate(dropped) if flown):
        legs[k : k + 2] = drop_legs(sim, vehicle, stops, k, legs)
    return legs


def drop_legs(
    sim: Simulation, van: Vehicle, stops: list[Order], k: int, legs: list[float]
) -> list[float]:
    """Legs ``k`` and ``k + 1`` as :func:`etas_along` reads them when the van's drone drops
    stop ``k``: launched on arrival at stop ``k - 1``, it drops after take-off and the
    flight out; the van leaves ``k - 1`` when both its own stop is done and the drone
    is back, then drives on (``legs[k + 1]`` is that drive, from ``k - 1``)."""
    drone = sim.world.drone_of[van.id]
    launch, drop = stops[k - 1].node, stops[k].node
    out = drone.type.takeoff_landing_s / 2 + flight(sim, drone, launch, drop)[1]
    back = flight(sim, drone, drop, launch)[1] + drone.type.takeoff_landing_s / 2
    served_before = sim.expected_service_s(stops[k - 1], van.type)
    dropped = sim.expected_service_s(stops[k], drone.type)
    first = out - served_before
    if k + 1 == len(stops):
        return [first]
    return [first, max(served_before - out - dropped, back) + legs[k + 1]]


def etas_along(
    sim: Simulation, vehicle: Vehicle, legs: list[float], stops: list[Order], depart: float
) -> list[float]:
    """Expected arrival at each stop, driving ``legs`` and serving each stop in turn."""
    etas, t = [], depart
    for leg_s, order in zip(legs, stops, strict=True):
        t = max(t + leg_s, order.window_start_s)
        etas.append(t)
        t += sim.expected_service_s(order, vehicle.type)
    return etas


def back_leg_s(sim: Simulation, vehicle: Vehicle, node: int, depart_s: float) -> float:
    """Expected time from ``node`` back to the vehicle's hub."""
    if vehicle.type.mode == "drone":
        return flight(sim, vehicle, node, vehicle.hub_node)[1]
    m = sim.mover(vehicle).pairwise([node], [vehicle.hub_node], depart_s=depart_s)
    return float(forecast_matrix(m, sim.world.weather).time_s[0]) / vehicle.type.speed_factor


def expected_return(
    sim: Simulation,
    vehicle: Vehicle,
    trip: list[Order],
    depart_s: float,
    *,
    legs: list[float] | None = None,
    etas: list[float] | None = None,
) -> float:
    """When the vehicle is expected back at its hub after ``trip`` (loading included
    unless the legs from departure are given)."""
    if legs is None or etas is None:
        depart_s += sim.load_time_s(vehicle, len(trip))
        legs = expected_legs(sim, vehicle, vehicle.hub_node, trip, depart_s)
        etas = etas_along(sim, vehicle, legs, trip, depart_s)
    last = trip[-1]
    done = etas[-1] + sim.expected_service_s(last, vehicle.type)
    return done + back_leg_s(sim, vehicle, last.node, etas[-1])
