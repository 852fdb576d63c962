"""Parcel lockers: deposits, redirections after a failed attempt, and the dwell.

A compartment is taken when its door opens (or when a redirection reserves it)
and freed when the customer collects the parcel or it expires and goes back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from twin.constants import HOUR_S
from twin.demand import Order
from twin.fleet import Vehicle, draw_service_s

if TYPE_CHECKING:
    from twin.sim.engine import Simulation

__all__ = ["deposit", "locker_dwell", "offer_redirect", "put_in_locker"]


def deposit(sim: Simulation, order: Order, vehicle: Vehicle, rng: np.random.Generator) -> Any:
    """Put a parcel the customer sent to a locker into the smallest free compartment."""
    assert order.locker is not None
    size = sim.world.lockers.free_size(order.locker, order.volume_m3)
    if size is None:
        sim.order_event(
            "failed",
            order,
            vehicle_id=vehicle.id,
            attempt=sim.state.attempts[order.id],
            reason="locker_full",
        )
        sim.world.customers.record_outcome(order.customer, delivered=False)
        return
    sim.world.lockers.take(order.locker, size)  # the door opens: the compartment is ours
    yield sim.env.timeout(
        draw_service_s(rng, sim.scenario.lockers.deposit_s, sim.scenario.service.service_cv)
    )
    put_in_locker(sim, order, vehicle, order.locker, size)


def offer_redirect(
    sim: Simulation, order: Order, vehicle: Vehicle, rng: np.random.Generator
) -> None:
    """Nobody answered: offer the customer the nearest locker with room (reserved now)."""
    settings = sim.scenario.lockers
    if not sim.world.lockers or vehicle.type.mode not in ("van", "cargo_bike", "autonomous_van"):
        return
    if rng.random() >= settings.redirect_share:
        return  # the customer prefers another attempt at home
    xy = sim.network.node_xy[sim.network.index(order.node)[0]]
    mover = sim.mover(vehicle)
    for _, site in sim.world.lockers.nearest(xy, settings.redirect_radius_km):
        size = sim.world.lockers.free_size(site, order.volume_m3)
        node = sim.world.lockers.node[site]
        if size is None:
            continue
        there = mover.matrix([order.node], [node], depart_s=sim.now(), with_length=False)
        if not np.isfinite(there.time_s[0, 0]):
            continue
        sim.world.lockers.take(site, size)
        sim.order_event("redirected", order, vehicle_id=vehicle.id, locker=site)
        sim.state.vs[vehicle.id].to_locker.append((order, site, size))
        return


def put_in_locker(sim: Simulation, order: Order, vehicle: Vehicle, site: str, size: str) -> None:
    """The parcel is in its compartment: delivered, for the customer to collect."""
    sim.order_event(
        "in_locker",
        order,
        vehicle_id=vehicle.id,
        locker=site,
        compartment=size,
        used=sim.world.lockers.used[site][size],  # type: ignore[index]
    )
    now = sim.now()
    sim.state.delivered_s[order.id] = now
    sim.world.customers.record_outcome(
        order.customer, delivered=True, lateness_h=max(0.0, now - order.window_end_s) / HOUR_S
    )
    sim.env.process(locker_dwell(sim, order, site, size))


def locker_dwell(sim: Simulation, order: Order, site: str, size: str) -> Any:
    """The customer collects the parcel after a while, or it expires and goes back."""
    settings = sim.scenario.lockers
    delay = sim.world.lockers.pickup_delay_s(sim.order_rng(order.id, 0, purpose="pickup"))
    expiry = settings.expiry_h * HOUR_S
    yield sim.env.timeout(min(delay, expiry))
    sim.world.lockers.free(site, size)  # type: ignore[arg-type]
    if delay < expiry:
        sim.order_event("picked_up", order, locker=site)
        return
    sim.order_event("expired", order, locker=site)
    sim.order_event("returned_to_hub", order, reason="locker_expired")
    sim.order_event("returned_to_sender", order, attempts=sim.state.attempts[order.id])
