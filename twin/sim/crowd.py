"""Crowdsourced couriers: offers of bundles, and the runs of those who accept.

A courier agent (:class:`twin.crowd.CrowdModel`) decides on an offer from its
pay and the detour; one who accepts drives to the nearest hub, picks the bundle
up, delivers (skipping a stop now and then: :func:`twin.sim.stops.courier_attempts`),
brings back what was not delivered and is paid per delivery.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from twin.constants import HOUR_S
from twin.demand import Order
from twin.dispatch import CourierView, DispatchState
from twin.fleet import CROWD, Vehicle
from twin.sim.state import VehicleDay, new_day_log
from twin.sim.vehicles import (
    back_at_hub,
    deliver_trip,
    deposit_redirected,
    drive,
    end_shift,
    load_trip,
)

if TYPE_CHECKING:
    from twin.sim.engine import Simulation

__all__ = ["courier_run", "offer_bundle"]


def offer_bundle(
    sim: Simulation, state: DispatchState, courier_id: str, bundle: list[Order]
) -> bool:
    """Offer a bundle; the courier agent decides. Accepted: the courier's run starts."""
    assert sim.world.crowd is not None
    courier = next(c for c in state.couriers if c.id == courier_id)
    ids = sorted(sim.world.hub_nodes)
    to_hubs = sim.world.travel.matrix(
        [courier.node], [sim.world.hub_nodes[h] for h in ids], depart_s=sim.now()
    )
    assert to_hubs.length_m is not None
    k = int(np.argmin(to_hubs.time_s[0]))
    hub_id, hub_node = ids[k], sim.world.hub_nodes[ids[k]]
    pickup_s, pickup_m = float(to_hubs.time_s[0, k]), float(to_hubs.length_m[0, k])
    route = [hub_node, *(o.node for o in bundle), hub_node]
    m = sim.world.travel.pairwise(route[:-1], route[1:], depart_s=sim.now())
    route_km = float(m.length_m.sum()) / 1000.0
    route_h = (float(m.time_s.sum()) + sum(sim.expected_service_s(o) for o in bundle)) / HOUR_S
    if not math.isfinite(route_km + pickup_s):
        return False
    accepted = sim.world.crowd.offer(
        courier_id,
        n_parcels=len(bundle),
        route_km=route_km,
        route_h=route_h,
        pickup_km=pickup_m / 1000.0,
        t_s=sim.now(),
    )
    sim.event(
        "crowd_offer",
        vehicle_id=courier_id,
        node=courier.node,
        parcels=len(bundle),
        pay=round(sim.world.crowd.pay(len(bundle), route_km), 2),
        accepted=accepted,
    )
    if accepted:
        for order in bundle:
            sim.order_event("assigned", order, vehicle_id=courier_id)
        sim.env.process(courier_run(sim, courier, hub_id, hub_node, bundle, route_km))
    return accepted


def courier_run(
    sim: Simulation,
    courier: CourierView,
    hub_id: str,
    hub_node: int,
    bundle: list[Order],
    route_km: float,
) -> Any:
    """Drive to the hub, pick up, deliver (skipping what the courier does not attempt),
    bring back what was not delivered, get paid per delivery."""
    assert sim.world.crowd is not None
    assert sim.world.crowd_type is not None
    vehicle = Vehicle(
        id=courier.id,
        driver_id=courier.id,
        type_name=CROWD,
        type=sim.world.crowd_type,
        hub=hub_id,
        hub_node=hub_node,
        drivers=sim.scenario.drivers,
    )
    vs = sim.state.vs[courier.id] = VehicleDay(hub_node=hub_node)
    vs.here = courier.node
    vs.status = "working"
    vs.started_s = vs.duty_from_s = sim.now()
    sim.event("shift_start", vehicle_id=courier.id, driver_id=courier.id, node=courier.node)
    day_log = new_day_log(planned=len(bundle))
    nodes = [courier.node]
    if vs.here != hub_node:
        yield from drive(sim, vehicle, vs.here, hub_node, day_log)
        vs.here = hub_node
        nodes.append(hub_node)
    where = sim.where(hub_node)
    vs.onboard = list(bundle)
    vs.on_road = True
    yield from load_trip(sim, vehicle, bundle, where, day_log)
    stopped = yield from deliver_trip(sim, vehicle, vs, bundle, day_log, nodes)
    yield from deposit_redirected(sim, vehicle, vs, day_log, nodes)
    if vs.back and vs.here != hub_node:  # undelivered parcels go back to the hub
        yield from drive(sim, vehicle, vs.here, hub_node, day_log)
        vs.here = hub_node
        nodes.append(hub_node)
    vs.on_road = False
    if vs.back:
        back_at_hub(sim, vehicle, where, stopped or "done")
    delivered = sum(1 for o in bundle if o.id in sim.state.delivered_s)
    vs.status = "done"
    vs.trips_done = 1
    sim.world.crowd.release(courier.id)
    end_shift(
        sim,
        vehicle,
        vs,
        sim.day(),
        day_log,
        nodes,
        crowd_pay=sim.world.crowd.pay(delivered, route_km),
    )
