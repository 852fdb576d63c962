"""The stop: getting to the door, the attempt, and its outcome.

Vans park and walk; other modes have their own stop overhead. Every draw comes
from the order attempt's own generator (common random numbers), with the stop
model of :mod:`twin.fleet`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from twin.constants import HOUR_S
from twin.demand import Order
from twin.fleet import Vehicle, draw_service_s, handover_mean_s, safe_drop_mean_s
from twin.sim.lockers import deposit, offer_redirect

if TYPE_CHECKING:
    from twin.sim.engine import Simulation

__all__ = [
    "FAILURE_REASONS",
    "NO_ATTEMPT_REASONS",
    "TO_SENDER",
    "attempt",
    "courier_attempts",
    "fail",
    "no_attempt",
    "road_blocked",
]

#: Why an attempt at the door failed (``failed`` events' ``reason``);
#: ``locker_full``: the customer's chosen locker had no room.
FAILURE_REASONS = (
    "customer_absent",
    "access_problem",
    "no_safe_place",
    "refused",
    "damaged",
    "locker_full",
)
#: Failures after which the parcel goes back to the sender, not out again.
TO_SENDER = frozenset({"refused", "damaged"})
#: Why a courier made no attempt at a parcel on board (``no_attempt`` events):
#: the working day, driving or range limit was reached, the vehicle broke down,
#: the street was blocked, or a crowd courier skipped the stop.
NO_ATTEMPT_REASONS = (
    "working_day_limit",
    "driving_limit",
    "range_limit",
    "breakdown",
    "road_blocked",
    "courier_skipped",
)


def attempt(sim: Simulation, order: Order, vehicle: Vehicle) -> Any:
    """Get to the door (or locker), try to hand the parcel over, record the outcome.

    Vans park and walk; other modes have their own stop overhead. Safe drops
    need no one at home, except from modes that cannot leave a parcel (a
    robot, an autonomous van), and a safe place to leave it. A drone only
    lowers parcels. On the ground an attempt can also fail on a damaged parcel,
    an address or building that cannot be reached, or a refusal
    (``scenario.failures``). After most failures the customer may accept a
    redirection to a nearby locker.
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
    # The attempt's failures come from a stream of their own, so the stop times and
    # the customer's presence are drawn as they would be without them.
    fate = sim.order_rng(order.id, attempt, purpose="failure").random(5)
    f = sim.scenario.failures
    grounded = vtype.mode != "drone"  # a drone lowers the parcel at its drop point
    if grounded and fate[0] < f.damaged_prob:
        reason = "damaged"
    elif grounded and fate[1] < f.access_problem_prob:
        reason = "access_problem"
    else:
        reason = ""
    present = (
        not reason
        and grounded
        and sim.world.customers.attempt(
            row, rng, stay_home_share=sim.world.weather.state(arrival).stay_home_share
        )
    )
    if reason:
        pass  # found at the door before anyone answers: no hand-over
    elif present:
        handover_s = handover_mean_s(s, order.option, vtype)
        yield sim.env.timeout(draw_service_s(rng, handover_s, s.service_cv))
        if fate[2] < f.refusal_prob:
            reason = "refused"
        else:
            pod = "signature" if order.option == "signature" else "scan"
            hand_over(sim, order, vid, attempt, pod=pod)
            sim.world.customers.record_outcome(
                row, delivered=True, lateness_h=lateness_h, eta_error_h=eta_error_h
            )
    elif order.option == "safe_drop" and not vtype.needs_presence:
        if grounded and fate[3] < f.no_safe_place_prob:
            reason = "no_safe_place"
        else:
            if grounded:  # a drone's drop time is its stop overhead
                yield sim.env.timeout(draw_service_s(rng, safe_drop_mean_s(s), s.service_cv))
            sim.order_event("safe_drop", order, vehicle_id=vid)
            hand_over(sim, order, vid, attempt, pod="photo")
            stolen = fate[4] < f.theft_prob
            if stolen:
                sim.order_event("stolen", order, vehicle_id=vid)
            sim.world.customers.record_outcome(
                row, delivered=not stolen, lateness_h=lateness_h, eta_error_h=eta_error_h
            )
    else:
        reason = "customer_absent"
    if reason:
        fail(sim, order, vehicle, reason, rng, eta_error_h=eta_error_h)
    if vtype.stop_overhead_s is None:
        yield sim.env.timeout(draw_service_s(rng, s.walk_s_mean, s.service_cv))


def hand_over(sim: Simulation, order: Order, vehicle_id: str, attempt: int, *, pod: str) -> None:
    """The parcel is the customer's: delivered, with its proof, at this moment (the
    hand-over, not the knock, is the delivery time)."""
    sim.order_event("delivered", order, vehicle_id=vehicle_id, attempt=attempt)
    sim.order_event("pod", order, vehicle_id=vehicle_id, pod=pod)
    sim.state.delivered_s[order.id] = sim.now()


def fail(
    sim: Simulation,
    order: Order,
    vehicle: Vehicle,
    reason: str,
    rng: np.random.Generator,
    *,
    eta_error_h: float = 0.0,
) -> None:
    """A failed attempt: logged with its reason (:data:`FAILURE_REASONS`). A refused or
    damaged parcel goes back to the sender; after the others the customer may take a
    nearby locker instead of another attempt."""
    if reason == "customer_absent":
        sim.order_event("customer_absent", order, vehicle_id=vehicle.id)
    attempt = sim.state.attempts[order.id]
    sim.order_event("failed", order, vehicle_id=vehicle.id, attempt=attempt, reason=reason)
    sim.world.customers.record_outcome(order.customer, delivered=False, eta_error_h=eta_error_h)
    if reason in TO_SENDER:
        sim.state.to_sender.add(order.id)
    else:
        offer_redirect(sim, order, vehicle, rng)


def road_blocked(sim: Simulation, vehicle: Vehicle, order: Order) -> bool:
    """Is the street to this stop blocked on this visit? Then the courier makes no
    attempt. Each visit draws afresh from the order's own stream (CRN)."""
    p = sim.scenario.failures.road_blocked_prob
    if p <= 0.0:
        return False
    sim.state.visits[order.id] += 1
    rng = sim.order_rng(order.id, sim.state.visits[order.id], purpose="blocked")
    if rng.random() >= p:
        return False
    no_attempt(sim, vehicle, order, "road_blocked")
    return True


def no_attempt(sim: Simulation, vehicle: Vehicle, order: Order, reason: str) -> None:
    """The courier did not try this parcel's door (:data:`NO_ATTEMPT_REASONS`): it
    goes back to be planned again, counted by the ``no_attempts`` KPI and in none
    of the attempt KPIs."""
    sim.order_event("no_attempt", order, vehicle_id=vehicle.id, reason=reason)


def courier_attempts(sim: Simulation, vehicle: Vehicle, order: Order) -> bool:
    """Does a crowd courier attempt this stop at all? (Drawn from the order attempt's
    own stream, so every policy sees the same skips.)"""
    assert sim.world.crowd is not None
    rng = sim.order_rng(order.id, sim.state.attempts[order.id] + 1, purpose="crowd")
    if sim.world.crowd.reliable(vehicle.id, order.id, rng):
        return True
    no_attempt(sim, vehicle, order, "courier_skipped")
    return False
