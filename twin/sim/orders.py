"""Orders and customers: orders become known, customers hear their window, the Mesa
customer model steps every hour, and customers cancel.

Each order is released at its creation time (a ``new_order`` trigger after the
day's cutoff); addresses no hub can serve are reported, never dropped. The
evening before its day (20:00) each customer is told the window. Cancellations
were drawn with the world (:mod:`twin.world`) and are played at their times: at
once if the parcel is still at the hub, else when it comes back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twin.constants import DAY_S, HOUR_S
from twin.demand import Order
from twin.events import TERMINAL

if TYPE_CHECKING:
    from twin.sim.engine import Simulation

__all__ = ["cancel_order", "cancellations", "customer_clock", "day_ahead_notices", "release_orders"]


def release_orders(sim: Simulation) -> Any:
    """Make each order known at its creation time, in time order (ties by id)."""
    for order in sorted(sim.world.orders.values(), key=lambda o: (o.created_s, o.id)):
        wait = max(order.created_s, 0.0) - sim.now()
        if wait > 0:
            yield sim.env.timeout(wait)
        sim.state.released.add(order.id)
        sim.order_event(
            "created",
            order,
            placed_s=round(order.created_s, 3),
            due_day=order.due_day,
            window=order.window,
            window_start_s=order.window_start_s,
            window_end_s=order.window_end_s,
            option=order.option,
            service_level=order.service_level,
            customer=order.customer,
        )
        if (
            order.due_day * DAY_S - 4 * HOUR_S < order.created_s
            and order.due_day < sim.scenario.simulated_days
        ):
            sim.order_event(
                "notify_window",
                order,
                window_start_s=order.window_start_s,
                window_end_s=order.window_end_s,
            )
        if order.node not in sim.world.serviceable_ids:
            # Reported, never silently dropped: no hub's vehicles can reach this
            # address and come back under the traffic rules.
            sim.order_event("unreachable", order, reason="address not routable from a hub")
        elif sim.now() > sim.scenario.demand.cutoff_h * HOUR_S:
            sim.dispatch("new_order")


def day_ahead_notices(sim: Simulation) -> Any:
    """Tell each customer their delivery window the evening before (20:00), or at
    once for orders placed later than that."""
    for day in range(sim.scenario.simulated_days):
        notice = day * DAY_S - 4 * HOUR_S
        if notice > sim.now():
            yield sim.env.timeout(notice - sim.now())
        for oid in sorted(sim.state.released):
            order = sim.world.orders[oid]
            if (
                order.due_day == day
                and order.created_s <= notice
                and sim.order_state(oid) not in TERMINAL
            ):
                sim.order_event(
                    "notify_window",
                    order,
                    window_start_s=order.window_start_s,
                    window_end_s=order.window_end_s,
                )


def customer_clock(sim: Simulation) -> Any:
    """The one clock of the Mesa customer model: a step every hour, a new day at midnight.

    Observers hear every hour here too (``on_tick``), so watching adds no event
    of its own to the run.
    """
    for day in range(sim.scenario.simulated_days):
        sim.world.customers.start_day(day)
        for _ in range(23):
            yield sim.env.timeout(HOUR_S)
            sim.world.customers.step()
            sim.tick()
        yield sim.env.timeout(HOUR_S)
        sim.world.customers.end_day()
        sim.tick()


def cancellations(sim: Simulation) -> Any:
    """Play the cancellations drawn with the world, at their times."""
    for t, oid in sim.world.cancel_at:
        yield sim.env.timeout(max(0.0, t - sim.now()))
        cancel_order(sim, sim.world.orders[oid])


def cancel_order(sim: Simulation, order: Order) -> None:
    """The customer cancels: at once if the parcel is still at the hub, else when it is back."""
    holder = next(
        (vid for vid, vs in sim.state.vs.items() if order in vs.onboard or order in vs.back), None
    )
    if holder is not None:
        sim.state.cancel_requested.add(order.id)
        sim.order_event("cancel_request", order, vehicle_id=holder)
    elif sim.order_state(order.id) in ("created", "unassigned", "reattempt", "assigned"):
        for vs in sim.state.vs.values():
            vs.drop_planned(order.id)
        sim.order_event("cancelled", order, reason="customer")
