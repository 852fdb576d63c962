"""The dispatcher: triggers -> ``policy.decide`` -> validate -> hand out the trips.

The policy is asked for a plan at each day's cutoff (the morning plan), at its
own ticks and waves, when a vehicle falls idle, when an order arrives during the
day and on disruptions (no-shows, breakdowns, road closures), if it listens to
that trigger. The dispatcher builds the policy's read-only view of the orders
and vehicles, validates the plan (the general rules, then the limits that depend
on a route: drone sorties, ranges, road classes), logs it, and hands each
vehicle its new trips (only what is not loaded changes), starting the vehicle's
day when it is first given work. Crowd couriers get offers.

What the engine knows of a policy beyond ``decide`` (its declared traits) is
read once, by :func:`twin.dispatch.traits_of`, when the simulation starts.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from twin.constants import DAY_S, HOUR_S
from twin.demand import Order
from twin.dispatch import (
    RELOAD,
    DispatchState,
    OrderView,
    Plan,
    PlanError,
    VehicleView,
    new_trips,
    validate_plan,
)
from twin.fleet import Vehicle, break_s, shift_bounds_s
from twin.processes import cpu_seconds
from twin.sim.crowd import offer_bundle
from twin.sim.drones import clear_sky_for, flight_m, sortie_m, van_sortie_m
from twin.sim.state import VehicleDay
from twin.sim.vehicles import vehicle_day
from twin.traveltime import TravelMatrix, TravelTimes
from twin.weather import Weather
from twin.world import World, forecast_matrix

if TYPE_CHECKING:
    from twin.sim.engine import Simulation

__all__ = ["dispatch", "mode_travel"]

#: Order states a plan may (re)assign.
DISPATCHABLE = frozenset({"created", "unassigned", "reattempt"})


def _travel_function(mover: TravelTimes, weather: Weather) -> Callable[..., TravelMatrix]:
    """What policies see of a mover: expected travel times under the forecast weather."""

    def travel(sources: list[int], targets: list[int], depart_s: float) -> TravelMatrix:
        return forecast_matrix(mover.matrix(sources, targets, depart_s=depart_s), weather)

    return travel


def mode_travel(world: World) -> dict[str, Callable[..., TravelMatrix]]:
    """Each vehicle type's own travel where it differs from the road's (one function per
    mover: policies group vehicles that move alike by it)."""
    functions = {id(m): _travel_function(m, world.weather) for m in world.movers.values()}
    return {
        name: functions[id(mover)]
        for name, mover in world.movers.items()
        if mover is not world.travel
    }


def planned_fleet(sim: Simulation) -> tuple[list[Vehicle], list[dict[str, Any]]]:
    """The vehicles of the modes the policy plans, and a warning naming those left out.

    A policy is only ever shown vehicles it can plan (its declared ``modes``), so
    one that knows nothing of drones never hands them a parcel they cannot carry;
    the others stay at their hub all run, and the run says so.
    """
    modes = sim.traits.modes
    if modes is None:
        return list(sim.world.fleet), []
    planned = [v for v in sim.world.fleet if v.type.mode in modes]
    left = sorted({v.type.mode for v in sim.world.fleet} - modes)
    if not left:
        return planned, []
    n_idle = len(sim.world.fleet) - len(planned)
    which = "that mode" if len(left) == 1 else "those modes"
    warning = {
        "code": "vehicles_not_planned",
        "message": f"{n_idle} vehicle(s) of mode {', '.join(left)} stay at the hub all run: "
        f"policy {sim.policy.name!r} does not plan {which}; "
        "choose a policy that does (e.g. mixed_fleet) or remove them from the fleet",
        "count": n_idle,
    }
    return planned, [warning]


def plan_warnings(sim: Simulation) -> list[dict[str, Any]]:
    """What the run's plans must say out loud: how often the solver's clock stopped one,
    servable orders the morning plans left behind, and plans cut into parts."""
    state, out = sim.state, []
    if state.plans_capped:
        limit = sim.scenario.policy.time_limit_s
        out.append(
            {
                "code": "planner_time_limit_hit",
                "message": f"the planner's wall-clock safety cap (policy.time_limit_s = "
                f"{limit:g} s) stopped {state.plans_capped} of {state.plans} plans: these "
                "results depend on this machine's speed and load; raise the cap or lower "
                "the planning work budget",
                "count": state.plans_capped,
            }
        )
    if state.morning_dropped_servable:
        out.append(
            {
                "code": "plan_left_servable_orders",
                "message": f"the morning plans left {state.morning_dropped_servable} order(s) "
                "unrouted that a vehicle could have served on a route of its own, while "
                f"{state.morning_idle_vehicles} vehicle-day(s) had no route: they wait for a "
                "later plan or day",
                "count": state.morning_dropped_servable,
            }
        )
    if state.plans_in_parts:
        out.append(
            {
                "code": "plan_in_parts",
                "message": f"{state.plans_in_parts} of {state.plans} plans were too large for "
                f"one routing model and were cut into up to {state.most_parts} compact parts "
                "(policy.params.max_jobs_per_problem), each routed with a share of the "
                "vehicles: a route never crosses a part's border, so the plan may be worse "
                "than one model's; raise the limit to check by how much",
                "count": state.plans_in_parts,
            }
        )
    return out


def cutoffs(sim: Simulation) -> Any:
    """Each day's cutoff: vehicles start a new day (no-shows and breakdowns drawn with the
    world) and the policy makes the morning plan."""
    for day in range(sim.scenario.simulated_days):
        cutoff = day * DAY_S + sim.scenario.demand.cutoff_h * HOUR_S
        yield sim.env.timeout(max(0.0, cutoff - sim.now()))
        for v in sim.world.fleet:
            # Uncrewed vehicles have nobody to miss a shift; drones do not break down
            # on the road (a fault aborts a sortie, not modelled yet).
            sim.state.vs[v.id].new_day(
                no_show=sim.world.no_show[day, v.id] and v.type.crewed,
                breakdown_s=sim.world.breakdown_s[day, v.id]
                if v.type.mode != "drone"
                else math.inf,
            )
        sim.dispatch("cutoff")


def operating_hours(sim: Simulation) -> tuple[float, float]:
    """From the earliest shift start to the latest shift end of the fleet's shifts."""
    shifts = [v.drivers for v in sim.world.fleet] or [sim.scenario.drivers]
    return min(d.shift_start_h for d in shifts), max(d.shift_end_h for d in shifts)


def scheduled_triggers(sim: Simulation) -> Any:
    """The policy's periodic ``tick`` and its ``wave`` times, in each operating day."""
    tick_s = sim.traits.tick_s
    waves_h = sim.traits.wave_hours
    first_h, last_h = operating_hours(sim)
    for day in range(sim.scenario.simulated_days):
        # Ticks run while vehicles are out: before the shift the morning plan is fresh.
        first = day * DAY_S + max(sim.scenario.demand.cutoff_h, first_h) * HOUR_S
        last = day * DAY_S + last_h * HOUR_S
        times = {day * DAY_S + h * HOUR_S: "wave" for h in waves_h}
        if tick_s:
            t = first + tick_s
            while t < last:
                times.setdefault(t, "tick")
                t += tick_s
        for t in sorted(times):
            if t <= day * DAY_S + sim.scenario.demand.cutoff_h * HOUR_S:
                continue
            yield sim.env.timeout(t - sim.now())
            sim.dispatch(times[t])


def road_closures(sim: Simulation) -> Any:
    """Closures that start or end during the run are disruptions the policy hears about."""
    horizon = sim.scenario.simulated_days * DAY_S
    changes = sorted(
        [(c.start_s, "road_closed", c.name) for c in sim.scenario.traffic.closures]
        + [(c.end_s, "road_reopened", c.name) for c in sim.scenario.traffic.closures]
    )
    for t, kind, name in changes:
        if not 0 < t < horizon:
            continue
        yield sim.env.timeout(t - sim.now())
        sim.event(kind, closure=name)
        sim.dispatch("disruption")


def _count_planning(sim: Simulation, plan: Plan, started: float, started_cpu: float) -> None:
    """Add a plan's wall and CPU seconds to the run's planning totals. A plan solved
    in worker processes says how much CPU they spent on it (``worker_cpu_s``)."""
    sim.state.planning_s += time.perf_counter() - started
    workers_cpu = plan.stats.get("worker_cpu_s", 0.0)
    sim.state.planning_cpu_s += cpu_seconds() - started_cpu + workers_cpu
    sim.state.planning_worker_cpu_s += workers_cpu


def dispatch(sim: Simulation, trigger: str) -> None:
    """Ask the policy for a plan (if it listens to ``trigger``), check it, carry it out."""
    if sim.traits.triggers is not None and trigger not in sim.traits.triggers:
        return
    now = sim.now()
    day = sim.day()
    if trigger != "cutoff" and now < day * DAY_S + sim.scenario.demand.cutoff_h * HOUR_S:
        return  # before today's morning plan there is nothing to re-plan
    shift_start = day * DAY_S + operating_hours(sim)[0] * HOUR_S
    planned_on = {o.id: vid for vid, vs in sim.state.vs.items() for t in vs.trips for o in t}
    pending = [
        sim.world.orders[oid]
        for oid in sorted(sim.state.released)
        if sim.order_state(oid) in DISPATCHABLE or oid in planned_on
    ]
    views = tuple(
        vehicle_view(sim, v, sim.state.vs[v.id], now, day)
        for v in sim.planned_fleet
        if available(sim, v, sim.state.vs[v.id], now, day)
    )
    state = DispatchState(
        now_s=now,
        day=day,
        trigger=trigger,
        orders=tuple(order_view(sim, o, planned_on.get(o.id), day, shift_start) for o in pending),
        vehicles=views,
        hubs=dict(sim.world.hub_nodes),
        travel=sim.expected_travel,
        mode_travel=sim.mode_travel,
        flight_m=partial(flight_m, sim) if sim.world.airspace is not None else None,
        clear_sky_from=partial(clear_sky_for, sim) if sim.world.airspace is not None else None,
        couriers=sim.world.crowd.online(now) if sim.world.crowd is not None else (),
        van_sortie_m=partial(van_sortie_m, sim) if sim.world.drone_of else None,
    )
    started, started_cpu = time.perf_counter(), cpu_seconds()
    plan = sim.policy.decide(state)
    _count_planning(sim, plan, started, started_cpu)
    validate_plan(sim.policy.name, state, plan)
    check_routes(sim, plan, views)
    routed = {
        oid: vid
        for vid, stops in plan.routes.items()
        for oid in stops[len(sim.state.vs[vid].onboard) :]
        if oid != RELOAD
    }
    n_routes = sum(1 for vid in plan.routes if routed and vid in routed.values())
    sim.state.plans += 1
    if plan.stats.get("time_limit_hit"):
        sim.state.plans_capped += 1
    parts = int(plan.stats.get("parts", 1))
    if parts > 1:
        sim.state.plans_in_parts += 1
        sim.state.most_parts = max(sim.state.most_parts, parts)
    if trigger == "cutoff":
        sim.state.morning_dropped_servable += int(plan.stats.get("dropped_servable", 0))
        sim.state.morning_idle_vehicles += len(views) - n_routes
    if trigger == "cutoff" or n_routes:
        # A solver stopped by its clock makes the run depend on the machine: say so.
        clock = {"time_limit_hit": 1} if plan.stats.get("time_limit_hit") else {}
        cut = {"parts": parts} if parts > 1 else {}
        sim.event(
            "plan",
            policy=sim.policy.name,
            trigger=trigger,
            n_orders=len(pending),
            n_routes=n_routes,
            **clock,
            **cut,
        )
    by_id = {v.id: v for v in sim.world.fleet}
    view_of = {v.id: v for v in views}
    for vid, stops in sorted(plan.routes.items()):
        vs = sim.state.vs[vid]
        trips = new_trips(view_of[vid], stops)
        for trip in trips:
            for oid in trip:
                if planned_on.get(oid) != vid:
                    sim.order_event("assigned", sim.world.orders[oid], vehicle_id=vid)
        vs.trips = [[sim.world.orders[oid] for oid in trip] for trip in trips]
        onboard = {o.id for o in vs.onboard}
        vs.drops = frozenset(vs.drops & onboard) | plan.drone_drops.get(vid, frozenset())
        if vid in plan.breaks_s:
            vs.planned_breaks = sorted(plan.breaks_s[vid])
        if not vs.trips:
            continue
        if vs.status == "off":
            vs.status = "scheduled"
            sim.env.process(vehicle_day(sim, by_id[vid], day))
        elif vs.wake is not None and not vs.wake.triggered:
            vs.wake.succeed()
    for cid, bundle in sorted(plan.offers.items()):
        if offer_bundle(sim, state, cid, [sim.world.orders[oid] for oid in bundle]):
            routed.update(dict.fromkeys(bundle, cid))
    for order in pending:
        if order.id in routed:
            continue
        if planned_on.get(order.id) in plan.routes or sim.order_state(order.id) == "created":
            sim.order_event("unassigned", order)


def vehicle_view(sim: Simulation, v: Vehicle, vs: VehicleDay, now: float, day: int) -> VehicleView:
    """What the policy may know of one vehicle: where and when it is free, its limits
    left today, its costs, and what it has on board and planned."""
    d = v.drivers
    shift_start, shift_end = shift_bounds_s(day, d)
    hub = sim.world.hub_settings[v.hub]
    started = vs.status not in ("off", "scheduled")
    crewed = v.type.crewed
    driving_left = None
    if d.max_driving_h is not None and crewed:
        driving_left = max(0.0, d.max_driving_h * HOUR_S - vs.driving_s)
    return VehicleView(
        id=v.id,
        type=v.type_name,
        mode=v.type.mode,
        hub=v.hub,
        hub_node=v.hub_node,
        node=v.hub_node,
        available_s=max(now, sim.state.busy_until[v.id], vs.eta_back_s if vs.on_road else now),
        capacity=v.capacity,
        committed=tuple(o.id for o in vs.onboard),
        shift_start_s=vs.started_s if started else shift_start,
        shift_end_s=shift_end,
        max_working_s=d.max_working_h * HOUR_S,
        break_after_s=d.break_after_h * HOUR_S,
        break_s=break_s(d) if crewed else 0.0,
        fixed_cost=v.type.fixed_cost_per_day,
        cost_per_km=v.type.cost_per_km,
        cost_per_h=d.cost_per_hour if crewed else v.type.supervision_cost_per_h,
        overtime_cost_per_h=(d.overtime_cost_per_hour if crewed else v.type.supervision_cost_per_h),
        speed_factor=v.type.speed_factor,
        load_setup_s=hub.load_setup_s,
        load_per_parcel_s=hub.load_time_per_parcel_s,
        max_driving_s=driving_left,
        max_trips=v.type.max_trips - vs.trips_done + (1 if vs.onboard else 0),
        planned=tuple(
            oid
            for k, trip in enumerate(vs.trips)
            for oid in ([RELOAD] if k else []) + [o.id for o in trip]
        ),
        started=started,
        spec=v.type,
        drone=sim.world.drone_of[v.id].type if v.id in sim.world.drone_of else None,
    )


def available(sim: Simulation, vehicle: Vehicle, vs: VehicleDay, now: float, day: int) -> bool:
    """Can the dispatcher still give this vehicle work today?"""
    shift_start, shift_end = shift_bounds_s(day, vehicle.drivers)
    if vs.status in ("done", "absent", "broken"):
        return False
    if sim.state.busy_until[vehicle.id] > shift_end:
        return False
    if vs.status == "off":
        # Nobody starts a shift after it has ended, and a no-show is known from shift start.
        if now >= shift_end:
            return False
        return not (vs.no_show and now >= shift_start)
    return True


def order_view(
    sim: Simulation, o: Order, vehicle_id: str | None, day: int, shift_start: float
) -> OrderView:
    """What the policy may know of one order, with the window a plan must meet."""
    window_start, window_end = planning_window(sim, o, day, shift_start)
    return OrderView(
        id=o.id,
        node=o.node,
        lat=o.lat,
        lon=o.lon,
        demand=(1.0, o.volume_m3, o.weight_kg),
        window_start_s=window_start,
        window_end_s=window_end,
        service_s=sim.expected_service_s(o),
        option=o.option,
        attempts=sim.state.attempts[o.id],
        due_day=o.due_day,
        created_s=o.created_s,
        vehicle_id=vehicle_id,
        last_attempt_s=sim.state.arrival.get(o.id),
    )


def planning_window(sim: Simulation, o: Order, day: int, shift_start: float) -> tuple[float, float]:
    """The window a plan made on ``day`` must meet for order ``o``.

    An order due later keeps its promised window. One due today cannot be served
    before the shift starts. One whose promised window is already over (a failed
    attempt to try again, an order left from an earlier day or a slot missed today)
    is late whatever happens, and is delivered today within the demand's all-day
    window, the same for every planner: a planner with hard windows would otherwise
    never route it again, and one with soft windows would route it by how late it
    already is. Its KPIs still count it against its promise.
    """
    if o.due_day > day:
        return o.window_start_s, o.window_end_s
    start = max(o.window_start_s, shift_start)
    if o.window_end_s > max(start, sim.now()):
        return start, o.window_end_s
    opens_h, closes_h = sim.scenario.demand.day_window_h
    return max(day * DAY_S + opens_h * HOUR_S, shift_start), day * DAY_S + closes_h * HOUR_S


def check_routes(sim: Simulation, plan: Any, views: Sequence[VehicleView]) -> None:
    """Limits that depend on the route: drone sorties legal and within range, robot
    trips within range, every leg possible on the vehicle's own road classes."""
    by_id = {v.id: v for v in sim.world.fleet}
    for view in views:
        if view.id not in plan.routes:
            continue
        vehicle = by_id[view.id]
        vtype = vehicle.type
        name = sim.policy.name
        for trip in new_trips(view, plan.routes[view.id]):
            stops = [sim.world.orders[oid].node for oid in trip]
            if vtype.mode == "drone":
                length = sortie_m(sim, vehicle, stops)
                if not math.isfinite(length):
                    raise PlanError(
                        f"policy {name!r} sends drone {view.id!r} on a sortie {trip} with "
                        "no legal flight path (a no-fly zone or the border is in the way)"
                    )
            elif vtype.road_classes is None and vtype.range_km is None:
                continue
            else:
                route = [vehicle.hub_node, *stops, vehicle.hub_node]
                m = sim.mover(vehicle).pairwise(route[:-1], route[1:], depart_s=sim.now())
                length = float(m.length_m.sum())
                if not math.isfinite(length):
                    raise PlanError(
                        f"policy {name!r} sends {vtype.mode} {view.id!r} on a trip {trip} "
                        f"it cannot make on its road classes {list(vtype.road_classes or [])}"
                    )
            if vtype.range_km is not None and length > vtype.range_km * 1000.0 + 1e-6:
                raise PlanError(
                    f"policy {name!r} sends {vtype.mode} {view.id!r} on a trip {trip} of "
                    f"{length / 1000:.1f} km; its range is {vtype.range_km:g} km"
                )

    view_of = {v.id: v for v in views}
    for vid, drops in plan.drone_drops.items():
        drone = sim.world.drone_of[vid]
        range_m = drone.type.range_km * 1000.0 if drone.type.range_km else math.inf
        for trip in new_trips(view_of[vid], plan.routes[vid]):
            for launch, oid in itertools.pairwise(trip):
                if oid not in drops:
                    continue
                length = van_sortie_m(
                    sim, vid, sim.world.orders[launch].node, sim.world.orders[oid].node
                )
                if not length <= range_m + 1e-6:
                    raise PlanError(
                        f"policy {sim.policy.name!r} sends {vid!r}'s drone from the stop of "
                        f"order {launch!r} to order {oid!r}: "
                        + (
                            "no legal flight path"
                            if math.isinf(length)
                            else f"{length / 1000:.1f} km there and back; its range is "
                            f"{range_m / 1000:g} km"
                        )
                    )
