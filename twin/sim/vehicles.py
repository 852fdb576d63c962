"""A vehicle's day: shift start, load, drive (with breaks), deliver, return, reload, end.

:func:`vehicle_day` starts when the dispatcher first gives the vehicle work and
runs its trips from the state, which the dispatcher may replace at any time
(only what is not loaded). The rules it keeps (breaks, the working day, the
driving limit, shift cost) are :mod:`twin.fleet`'s.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from twin.constants import HOUR_S
from twin.demand import Order
from twin.fleet import (
    CROWD,
    Vehicle,
    break_due,
    break_s,
    max_driving_s,
    past_working_day,
    shift_bounds_s,
    shift_cost,
    working_day_end_s,
)
from twin.sim.drones import clear_sky_from, fly, launch_at, launch_from, sortie_s
from twin.sim.etas import announce, etas_along, expected_return
from twin.sim.lockers import put_in_locker
from twin.sim.state import VehicleDay, new_day_log
from twin.sim.stops import attempt, courier_attempts, no_attempt, road_blocked
from twin.sim.tables import route_row, vehicle_row

if TYPE_CHECKING:
    from twin.sim.engine import Simulation

__all__ = [
    "back_at_hub",
    "deliver_trip",
    "deposit_redirected",
    "drive",
    "end_shift",
    "fly_trip",
    "load_trip",
    "release_trips",
    "vehicle_day",
]


def vehicle_day(sim: Simulation, vehicle: Vehicle, day: int) -> Any:
    """Drive one vehicle's day: load, deliver trip by trip, reload, wait for work.

    The process starts when the vehicle is first given work on ``day`` and
    runs its trips from ``vs.trips``, which the dispatcher may replace at any
    time (only what is not loaded). Before every leg the driver checks the
    working-day and driving limits (can the stop be served and the hub still
    be reached in time?) and stops early if not; parcels not delivered go
    back to the hub and planned trips are released. Breaks are taken when
    planned and whenever the next leg would pass the duty-time rule. A
    breakdown ends the day where the vehicle is; its parcels are brought
    back to the hub after the recovery time. With a dynamic policy an idle
    vehicle waits at the hub for more work until the end of its shift.
    """
    vs = sim.state.vs[vehicle.id]
    shift_start, shift_end = shift_bounds_s(day, vehicle.drivers)
    hub_node = vehicle.hub_node
    where = sim.where(hub_node)
    if not (yield from _start_shift(sim, vehicle, vs, shift_start, where)):
        return
    day_log = new_day_log()
    drone = sim.world.drone_of.get(vehicle.id)
    if drone is not None:  # its drone rides along all day
        dvs = sim.state.vs[drone.id] = VehicleDay(hub_node=hub_node, status="working")
        dvs.started_s = sim.now()
        sim.state.sortie_logs[drone.id] = (new_day_log(), [])
        sim.event("shift_start", vehicle_id=drone.id, driver_id="", carrier=vehicle.id, **where)
    nodes = [hub_node]
    stopped = ""
    while not stopped:
        if not (yield from _has_work(sim, vs, shift_end)):
            break
        if vehicle.type.mode == "drone":
            launch = yield from _drone_launch(sim, vehicle, vs, where, shift_end)
            if launch == "end":
                break
            if launch == "wait":
                continue  # the plan may have changed meanwhile
        stopped = yield from _trip(sim, vehicle, vs, day_log, nodes, where)
        if stopped == "breakdown":
            yield from _broken_down(sim, vehicle, vs, where)
    vs.status = "broken" if stopped == "breakdown" else "done"
    release_trips(sim, vs)
    end_shift(sim, vehicle, vs, day, day_log, nodes)
    if drone is not None:
        end_shift(sim, drone, sim.state.vs[drone.id], day, *sim.state.sortie_logs[drone.id])


def _start_shift(
    sim: Simulation, vehicle: Vehicle, vs: VehicleDay, shift_start: float, where: dict[str, Any]
) -> Any:
    """Wait for the shift to start; returns whether the vehicle works today (it has
    trips and its driver showed up)."""
    vid, drv = vehicle.id, vehicle.driver_id
    if shift_start > sim.now():
        yield sim.env.timeout(shift_start - sim.now())
    if not vs.trips:
        # Re-planned away before the shift began: ask once more, else stay off.
        sim.dispatch("vehicle_idle")
        if not vs.trips:
            vs.status = "off"
            return False
    if vs.no_show:
        vs.status = "absent"
        sim.event("no_show", vehicle_id=vid, driver_id=drv, **where)
        release_trips(sim, vs)
        sim.dispatch("disruption")
        return False
    vs.status = "working"
    vs.started_s = vs.duty_from_s = sim.now()
    sim.event("shift_start", vehicle_id=vid, driver_id=drv, **where)
    return True


def _has_work(sim: Simulation, vs: VehicleDay, shift_end: float) -> Any:
    """Whether there is a next trip: if none is planned, say the vehicle is idle and,
    under a dynamic policy, wait at the hub for work until the end of the shift."""
    if vs.trips:
        return True
    vs.status = "idle"
    sim.dispatch("vehicle_idle")
    if not vs.trips and sim.traits.dynamic and sim.now() < shift_end:
        vs.wake = sim.env.event()
        yield vs.wake | sim.env.timeout(shift_end - sim.now())
        vs.wake = None
    if not vs.trips:
        return False
    vs.status = "working"
    return True


def _drone_launch(
    sim: Simulation, vehicle: Vehicle, vs: VehicleDay, where: dict[str, Any], shift_end: float
) -> Any:
    """May a drone take off on its next sortie now? Returns "go", "wait" (it waited for
    the window or the weather: look at the plan again) or "end" (not today)."""
    hold = launch_at(sim, vehicle, vs.trips[0]) - sim.now()
    if hold > 0:  # a drop before the window opens is not a delivery: wait
        yield sim.env.timeout(min(hold, max(shift_end - sim.now(), 0.0)))
        return "end" if sim.now() >= shift_end else "wait"
    clear = clear_sky_from(sim, vehicle, sim.now(), sortie_s(sim, vehicle, vs.trips[0]))
    if clear > sim.now():
        # Grounded: hold the launch until the weather allows, if still today.
        sim.event(
            "grounded",
            vehicle_id=vehicle.id,
            **where,
            weather=sim.world.weather.state_name(sim.now()),
            until_s=round(min(clear, shift_end), 3),
        )
        if clear >= shift_end:
            return "end"
        yield sim.env.timeout(clear - sim.now())
        return "wait"
    return "go"


def _trip(
    sim: Simulation,
    vehicle: Vehicle,
    vs: VehicleDay,
    day_log: dict[str, Any],
    nodes: list[int],
    where: dict[str, Any],
) -> Any:
    """Load the next trip, deliver it and come back; returns why it stopped early ("" if
    not). After a breakdown the vehicle stays where it is."""
    hub_node = vehicle.hub_node
    trip = vs.trips.pop(0)
    vs.trips_done += 1
    day_log["planned"] += len(trip)
    day_log["trip_starts"].append(len(day_log["legs"]))
    vs.onboard = list(trip)
    vs.on_road = True
    vs.eta_back_s = expected_return(sim, vehicle, trip, sim.now())
    yield from load_trip(sim, vehicle, trip, where, day_log)
    stopped = ""
    if vehicle.type.mode == "drone":
        yield from fly_trip(sim, vehicle, vs, trip, day_log, nodes)
    else:
        stopped = yield from deliver_trip(sim, vehicle, vs, trip, day_log, nodes)
    if stopped == "breakdown":
        return stopped
    yield from deposit_redirected(sim, vehicle, vs, day_log, nodes)
    if vs.here != hub_node:
        yield from drive(sim, vehicle, vs.here, hub_node, day_log)
        vs.here = hub_node
        nodes.append(hub_node)
    vs.on_road = False
    back_at_hub(sim, vehicle, where, stopped or ("reload" if vs.trips else "done"))
    if stopped:
        release_trips(sim, vs)
    elif vehicle.type.mode == "drone":
        yield sim.env.timeout(vehicle.type.swap_s)  # battery swap before the next sortie
    return stopped


def _broken_down(sim: Simulation, vehicle: Vehicle, vs: VehicleDay, where: dict[str, Any]) -> Any:
    """Out for the day where it broke down: the plan is told, and after the recovery time
    its parcels are dropped at their lockers or brought back to the hub."""
    vs.status = "broken"  # out for the day: no plan may count on it
    release_trips(sim, vs)
    sim.dispatch("disruption")
    yield sim.env.timeout(sim.scenario.disruptions.recovery_h * HOUR_S)
    for order, site, size in vs.to_locker:  # the recovery crew drops them off
        put_in_locker(sim, order, vehicle, site, size)
    vs.to_locker = []
    back_at_hub(sim, vehicle, where, "breakdown")
    sim.dispatch("disruption")


def deliver_trip(
    sim: Simulation,
    vehicle: Vehicle,
    vs: VehicleDay,
    trip: list[Order],
    day_log: dict[str, Any],
    nodes: list[int],
) -> Any:
    """Serve the parcels on board in order; return why the trip stopped early ("" if not).

    Before each leg: can the stop be served and the hub reached within the
    working day, the driving limit (crewed modes) and the trip range (robots)?
    """
    sc = sim.scenario
    d = vehicle.drivers
    vtype = vehicle.type
    limit = working_day_end_s(vs.started_s, d)
    max_driving = max_driving_s(d, crewed=vtype.crewed)
    range_m = vtype.range_km * 1000.0 if vtype.range_km is not None else math.inf
    mover = sim.mover(vehicle)
    speed = vtype.speed_factor
    vid, drv = vehicle.id, vehicle.driver_id
    hub_node = vehicle.hub_node
    legs, etas = announce(sim, vehicle, vs, trip)
    trip_m = 0.0
    flown: set[str] = set()
    for i, order in enumerate(trip):
        if order.id in flown:  # its drone took it from the stop before
            continue
        if sim.now() >= vs.breakdown_s:
            sim.event("breakdown", vehicle_id=vid, driver_id=drv, node=vs.here)
            _not_attempted(sim, vehicle, vs, "breakdown")
            return "breakdown"
        if order.id in sim.state.cancel_requested:
            vs.carry_back(order)
            continue
        if vehicle.type_name == CROWD and not courier_attempts(sim, vehicle, order):
            vs.carry_back(order)  # a less reliable courier: the parcel comes back
            continue
        leg = mover.leg(vs.here, order.node, depart_s=sim.now())
        weather = sim.world.weather.road_factor(sim.now())
        expected_drive = leg.travel_time_s / speed * weather
        home = mover.pairwise([order.node], [hub_node], depart_s=sim.now())
        back = home.time_s[0] / speed * weather
        stopped = ""
        service_s = sim.expected_service_s(order, vtype)
        if past_working_day(sim.now(), expected_drive, service_s, back, limit):
            stopped = "working_day_limit"
        elif vs.driving_s + expected_drive + back > max_driving:
            stopped = "driving_limit"
        elif trip_m + leg.length_m + home.length_m[0] > range_m:
            stopped = "range_limit"
        if stopped:
            _not_attempted(sim, vehicle, vs, stopped)
            return stopped
        yield from drive(sim, vehicle, vs.here, order.node, day_log, leg=leg, order=order)
        trip_m += leg.length_m
        vs.here = order.node
        nodes.append(vs.here)
        # Running late or early moves the expected return by as much.
        vs.eta_back_s += sim.now() - etas[i]
        etas[i] = sim.now()
        if road_blocked(sim, vehicle, order):
            vs.carry_back(order)
            continue
        if sim.now() < order.window_start_s:
            yield from wait_for_window(sim, vehicle, vs, order.window_start_s, day_log)
        if order.id in sim.state.cancel_requested:  # cancelled while the driver was on the way
            vs.carry_back(order)
            continue
        k = i + sc.service.eta_update_stops_before
        if k < len(trip):
            upcoming = etas_along(sim, vehicle, legs[i + 1 : k + 1], trip[i + 1 : k + 1], sim.now())
            sim.order_event("update_eta", trip[k], vehicle_id=vid, eta_s=round(upcoming[-1], 3))
        sortie = launch_from(sim, vehicle, vs, trip, i)
        if sortie is not None:
            flown.add(trip[i + 1].id)
        at_door = sim.now()
        yield from attempt(sim, order, vehicle)
        day_log["at_stops_s"] += sim.now() - at_door
        vs.onboard.remove(order)
        day_log["served"] += 1
        if sim.order_state(order.id) == "failed":
            vs.back.append(order)
        if sortie is not None:
            yield sortie  # the drone comes back to the van before it drives on
    return ""


def _not_attempted(sim: Simulation, vehicle: Vehicle, vs: VehicleDay, reason: str) -> None:
    """The trip ends early: every parcel still on board comes back unattempted."""
    for order in vs.onboard:
        if order.id not in sim.state.cancel_requested:
            no_attempt(sim, vehicle, order, reason)
    vs.carry_back()


def fly_trip(
    sim: Simulation,
    vehicle: Vehicle,
    vs: VehicleDay,
    trip: list[Order],
    day_log: dict[str, Any],
    nodes: list[int],
) -> Any:
    """One sortie: take off, fly to each drop point around no-fly zones, lower the
    parcel, fly back and land. Launched only in flyable weather (checked by the caller)."""
    vtype = vehicle.type
    vid = vehicle.id
    announce(sim, vehicle, vs, trip)
    payload = sum(o.weight_kg for o in trip)
    sim.event(
        "launch",
        vehicle_id=vid,
        **sim.where(vehicle.hub_node),
        payload_kg=round(payload, 3),
        parcels=len(trip),
    )
    yield sim.env.timeout(vtype.takeoff_landing_s / 2)
    for order in trip:
        if order.id in sim.state.cancel_requested:
            vs.carry_back(order)
            continue
        yield from fly(sim, vehicle, vs.here, order.node, payload, day_log, order=order)
        vs.here = order.node
        nodes.append(vs.here)
        at_door = sim.now()
        yield from attempt(sim, order, vehicle)
        day_log["at_stops_s"] += sim.now() - at_door
        payload -= order.weight_kg
        vs.onboard.remove(order)
        day_log["served"] += 1
        if sim.order_state(order.id) == "failed":
            vs.back.append(order)
    yield from fly(sim, vehicle, vs.here, vehicle.hub_node, max(payload, 0.0), day_log)
    yield sim.env.timeout(vtype.takeoff_landing_s / 2)
    vs.here = vehicle.hub_node
    nodes.append(vs.here)


def load_trip(
    sim: Simulation,
    vehicle: Vehicle,
    trip: list[Order],
    where: dict[str, Any],
    day_log: dict[str, Any],
) -> Any:
    """Wait for a dock (drones load at their own pad), load the trip's parcels, depart.

    The loading time goes to ``day_log["loading_s"]``; the queue for a dock before
    it is waiting (the vehicles table's ``waiting_h``)."""
    vid, drv = vehicle.id, vehicle.driver_id
    dock = None if vehicle.type.mode == "drone" else sim.state.docks[vehicle.hub].request()
    queued = sim.now()
    if dock is not None:
        yield dock
    sim.event(
        "load_start",
        vehicle_id=vid,
        driver_id=drv,
        **where,
        dock_wait_s=round(sim.now() - queued, 3),
        parcels=len(trip),
    )
    load_s = sim.draw_load_time_s(vehicle, len(trip))
    yield sim.env.timeout(load_s)
    day_log["loading_s"] += load_s
    for order in trip:
        sim.order_event("loaded", order, vehicle_id=vid, driver_id=drv)
    if dock is not None:
        sim.state.docks[vehicle.hub].release(dock)
    sim.event("depart", vehicle_id=vid, driver_id=drv, **where)


def wait_for_window(
    sim: Simulation, vehicle: Vehicle, vs: VehicleDay, until_s: float, day_log: dict[str, Any]
) -> Any:
    """Wait at a stop until its window opens. Waiting is time on duty: when the duty
    rule calls for a break before the wait ends, the driver takes it in the wait,
    instead of driving on after hours of duty without one. The break starts when it
    falls due, or earlier so that it ends by the window's start if the wait allows
    (the stop's service then starts on time)."""
    d = vehicle.drivers
    rule = vehicle.type.crewed and d.break_min > 0
    while sim.now() < until_s:
        due_s = vs.duty_from_s + d.break_after_h * HOUR_S if rule else math.inf
        if due_s >= until_s:
            yield sim.env.timeout(until_s - sim.now())
            return
        start = max(sim.now(), min(due_s, until_s - break_s(d)))
        if start > sim.now():
            yield sim.env.timeout(start - sim.now())
        yield from take_break(sim, vehicle, vs, vs.here, day_log, planned=False)


def take_break(
    sim: Simulation,
    vehicle: Vehicle,
    vs: VehicleDay,
    node: int,
    day_log: dict[str, Any],
    *,
    planned: bool,
) -> Any:
    """A break where the vehicle stands; the duty clock starts again after it."""
    vid, drv = vehicle.id, vehicle.driver_id
    sim.event("break_start", vehicle_id=vid, driver_id=drv, node=node, planned=planned)
    took_s = break_s(vehicle.drivers)
    yield sim.env.timeout(took_s)
    sim.event("break_end", vehicle_id=vid, driver_id=drv, node=node)
    vs.duty_from_s = sim.now()
    day_log["breaks"] += 1
    day_log["break_s"] += took_s


def drive(
    sim: Simulation,
    vehicle: Vehicle,
    source: int,
    target: int,
    day_log: dict[str, Any],
    leg: Any = None,
    order: Order | None = None,
) -> Any:
    """Drive one leg (taking a break first if one is due) and log the arrival."""
    d = vehicle.drivers
    vid, drv = vehicle.id, vehicle.driver_id
    mover = sim.mover(vehicle)
    if leg is None:
        leg = mover.leg(source, target, depart_s=sim.now())
    driving_s, border_s = mover.sample_parts(leg, sim.travel_rng)
    # The weather and the vehicle's speed scale the whole leg, border queues included,
    # as plans, ETAs and the live forecast expect it.
    road, speed = sim.world.weather.road_factor(sim.now()), vehicle.type.speed_factor
    drive_s = (driving_s + border_s) / speed * road
    vs = sim.state.vs[vid]
    planned = vs.planned_breaks
    due_by_plan = bool(planned) and sim.now() + drive_s > planned[0]
    due_by_rule = break_due(sim.now(), drive_s, vs.duty_from_s, d, crewed=vehicle.type.crewed)
    if due_by_plan or due_by_rule:
        if due_by_plan:
            planned.pop(0)
        yield from take_break(sim, vehicle, vs, source, day_log, planned=due_by_plan)
    yield sim.env.timeout(drive_s)
    day_log["km"] += leg.length_m / 1000.0
    day_log["legs"].append(leg.nodes)
    vs.driving_s += drive_s
    leg_facts: dict[str, Any] = {"leg_m": round(leg.length_m, 1), "drive_s": round(drive_s, 3)}
    if leg.crossings:
        # What the leg spent in border queues, and what the hour's settings expected.
        leg_facts["border_wait_s"] = round(border_s / speed * road, 3)
        leg_facts["border_expected_s"] = round(leg.wait_s / speed * road, 3)
        leg_facts["crossings"] = [[int(k), bool(north)] for k, north, _ in leg.crossings]
    if order is not None:
        sim.order_event("arrive", order, vehicle_id=vid, driver_id=drv, **leg_facts)
    else:
        sim.event("arrive", vehicle_id=vid, driver_id=drv, node=target, **leg_facts)


def deposit_redirected(
    sim: Simulation, vehicle: Vehicle, vs: VehicleDay, day_log: dict[str, Any], nodes: list[int]
) -> Any:
    """On the way back, drop redirected parcels at their lockers (compartments reserved)."""
    while vs.to_locker:
        site = vs.to_locker[0][1]
        here = [item for item in vs.to_locker if item[1] == site]
        node = sim.world.lockers.node[site]
        if vs.here != node:
            yield from drive(sim, vehicle, vs.here, node, day_log)
            vs.here = node
            nodes.append(node)
        for order, _, size in here:
            yield sim.env.timeout(sim.scenario.lockers.deposit_s)
            day_log["at_stops_s"] += sim.scenario.lockers.deposit_s
            put_in_locker(sim, order, vehicle, site, size)
        vs.to_locker = [item for item in vs.to_locker if item[1] != site]


def back_at_hub(sim: Simulation, vehicle: Vehicle, where: dict[str, Any], reason: str) -> None:
    """Hand the parcels carried back to the hub: re-attempt later or return to sender."""
    vs = sim.state.vs[vehicle.id]
    back, vs.back = vs.back, []
    sim.event(
        "return_to_hub",
        vehicle_id=vehicle.id,
        driver_id=vehicle.driver_id,
        **where,
        parcels_back=len(back),
        reason=reason,
    )
    for order in back:
        sim.order_event("returned_to_hub", order, vehicle_id=vehicle.id)
        if order.id in sim.state.cancel_requested:
            sim.order_event("cancelled", order, reason="customer")
        elif order.id in sim.state.to_sender:
            reason = "refused or damaged"
            sim.order_event(
                "returned_to_sender", order, attempts=sim.state.attempts[order.id], reason=reason
            )
        elif sim.state.attempts[order.id] >= sim.scenario.service.max_attempts:
            sim.order_event("returned_to_sender", order, attempts=sim.state.attempts[order.id])
        else:
            sim.order_event("reattempt", order, attempts=sim.state.attempts[order.id])


def release_trips(sim: Simulation, vs: VehicleDay) -> None:
    """Planned trips the vehicle will not make: free for another plan."""
    for trip in vs.trips:
        for order in trip:
            sim.order_event("unassigned", order)
    vs.trips = []


def end_shift(
    sim: Simulation,
    vehicle: Vehicle,
    vs: VehicleDay,
    day: int,
    day_log: dict[str, Any],
    nodes: list[int],
    *,
    crowd_pay: float | None = None,
) -> None:
    """Log the end of a vehicle's day and its row of the vehicles table.

    A crowd courier (``crowd_pay`` given) has no shift of its own beyond the
    bundle and is paid for the bundle, not by the hour.
    """
    d = vehicle.drivers
    vid = vehicle.id
    started, ended = vs.started_s, sim.now()
    if crowd_pay is None:
        shift_start, shift_end = shift_bounds_s(day, d)
    else:
        shift_start, shift_end = started, ended
    cost = shift_cost(
        d,
        vehicle.type,
        started_s=started,
        ended_s=ended,
        km=day_log["km"],
        crowd_pay=crowd_pay,
    )
    sim.event(
        "shift_end",
        vehicle_id=vid,
        driver_id=vehicle.driver_id,
        **sim.where(vehicle.hub_node),
        working_s=round(ended - started, 3),
        overtime_s=round(cost.overtime_s, 3),
        driving_s=round(vs.driving_s, 3),
    )
    sim.state.vehicle_days.append(
        vehicle_row(
            vehicle,
            day=day,
            started_s=started,
            ended_s=ended,
            shift_start_s=shift_start,
            shift_end_s=shift_end,
            driving_s=vs.driving_s,
            trips=vs.trips_done,
            day_log=day_log,
            cost=cost,
            crowd=crowd_pay is not None,
        )
    )
    sim.state.routes.append(route_row(day, vid, nodes, day_log))
    sim.state.busy_until[vid] = ended
