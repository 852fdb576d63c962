"""The stop: getting to the door, the attempt, and its outcome.

Vans park and walk; other modes have their own stop overhead. Every draw comes
from the order attempt's own generator (common random numbers), with the stop
model of :mod:`twin.fleet`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twin.constants import HOUR_S
from twin.demand import Order
from twin.fleet import Vehicle, draw_service_s, handover_mean_s, safe_drop_mean_s
from twin.sim.lockers import deposit, offer_redirect

if TYPE_CHECKING:
    from twin.sim.engine import Simulation

__all__ = ["attempt", "courier_attempts"]


def attempt(sim: Simulation, order: Order, vehicle: Vehicle) -> Any:
    """Get to the door (or locker), try to hand the parcel over, record the outcome.

    Vans park and walk; other modes have their own stop overhead. Safe drops
    need no one at home, except from modes that cannot leave a parcel (a
    robot, an autonomous van). A drone only lowers parcels. After a failed
    attempt the customer may accept a redirection to a nearby locker.
    """
    s = sim.scenario.service
    vtype = vehicle.type
    sim.state.attempts[order.id] += 1
    attempt = sim.state.attempts[order.id]
    rng = sim.order_rng(order.id, attempt)
    if vtype.stop_overhead_s is None:
        yield sim.env.timeout(
            draw_service_s(rng, s.parking_s_mean, s.service_cv)
            + draw_service_s(rng, s.walk_s_mean, s.service_cv)
        )
    else:
        yield sim.env.timeout(draw_service_s(rng, vtype.stop_overhead_s, s.service_cv))
    arrival = sim.now()
    sim.state.arrival[order.id] = arrival
    vid = vehicle.id
    sim.order_event(
        "attempted", order, vehicle_id=vid, driver_id=vehicle.driver_id, attempt=attempt
    )
    row = order.customer
    lateness_h = max(0.0, arrival - order.window_end_s) / HOUR_S
    eta_error_h = abs(arrival - sim.state.eta_announced.get(order.id, arrival)) / HOUR_S
    if order.locker is not None:
        yield from deposit(sim, order, vehicle, rng)
        return
    if vtype.mode == "drone":
        present = False  # nobody needs to be there: the parcel is lowered
    else:
        present = sim.world.customers.attempt(
            row, rng, stay_home_share=sim.world.weather.state(arrival).stay_home_share
        )
    if present:
        handover_s = handover_mean_s(s, order.option, vtype)
        yield sim.env.timeout(draw_service_s(rng, handover_s, s.service_cv))
        pod = "signature" if order.option == "signature" else "scan"
        sim.order_event("delivered", order, vehicle_id=vid, attempt=attempt)
        sim.order_event("pod", order, vehicle_id=vid, pod=pod)
        sim.state.delivered_s[order.id] = sim.now()  # the hand-over, not the knock
        sim.world.customers.record_outcome(
            row, delivered=True, lateness_h=lateness_h, eta_error_h=eta_error_h
        )
    elif order.option == "safe_drop" and not vtype.needs_presence:
        if vtype.mode != "drone":  # a drone's drop time is its stop overhead
            yield sim.env.timeout(draw_service_s(rng, safe_drop_mean_s(s), s.service_cv))
        sim.order_event("safe_drop", order, vehicle_id=vid)
        sim.order_event("delivered", order, vehicle_id=vid, attempt=attempt)
        sim.order_event("pod", order, vehicle_id=vid, pod="photo")
        sim.state.delivered_s[order.id] = sim.now()  # the hand-over, not the knock
        sim.world.customers.record_outcome(
            row, delivered=True, lateness_h=lateness_h, eta_error_h=eta_error_h
        )
    else:
        sim.order_event("customer_absent", order, vehicle_id=vid)
        sim.order_event("failed", order, vehicle_id=vid, attempt=attempt, reason="customer_absent")
        sim.world.customers.record_outcome(row, delivered=False, eta_error_h=eta_error_h)
        offer_redirect(sim, order, vehicle, rng)
    if vtype.stop_overhead_s is None:
        yield sim.env.timeout(draw_service_s(rng, s.walk_s_mean, s.service_cv))


def courier_attempts(sim: Simulation, vehicle: Vehicle, order: Order) -> bool:
    """Does a crowd courier attempt this stop at all? (Drawn from the order attempt's
    own stream, so every policy sees the same skips.)"""
    assert sim.world.crowd is not None
    rng = sim.order_rng(order.id, sim.state.attempts[order.id] + 1, purpose="crowd")
    if sim.world.crowd.reliable(vehicle.id, order.id, rng):
        return True
    sim.order_event("courier_skipped", order, vehicle_id=vehicle.id)
    return False
