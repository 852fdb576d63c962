"""From a dispatch state to a routing problem and back: the part policies share.

Every vehicle is planned from the moment it can next load at its hub
(``VehicleView.available_s``), with what is left of its working day, driving
time and trips; its committed stops (on board) are not part of the problem and
stay first in the plan. Orders are jobs with the promised window (lateness
priced, or hard under PyVRP), the stop's expected service time plus the
loading time of its parcel, and a drop penalty that grows with the order's
attempts and lateness, so the solver leaves the cheapest ones for later.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from twin.constants import DAY_S, HOUR_S
from twin.dispatch.base import DispatchState, OrderView, Plan, VehicleView, new_trips
from twin.dispatch.parts import split_into_parts
from twin.routing import RELOAD as ROUTE_RELOAD
from twin.routing import Job, RoutingProblem, RoutingSolution, VehicleSpec
from twin.routing.decompose import SolveTask, solve_each
from twin.traveltime import TravelMatrix

__all__ = [
    "PlanningSettings",
    "break_time_s",
    "break_windows",
    "merge_plans",
    "plan_routes",
    "reoptimise_next_trips",
    "servable_today",
]


@dataclass
class PlanningSettings:
    """How a policy turns a state into a routing problem and solves it.

    The policies built on the routing engine take these as their parameters.

    Parameters
    ----------
    time_limit_s : float
        Safety cap on solver wall time (default 60 s).
    metaheuristic : str, optional
        None (default): greedy descent to a local optimum, reproducible on any
        machine. ``"guided_local_search"`` improves routes further until
        ``time_limit_s`` (or ``solution_limit``), at the price of results that
        depend on machine speed.
    solution_limit : int, optional
        Stop the local search after this many improving solutions (default 100).
        Counting solutions, not seconds, keeps the result machine-independent.
    drop_penalty : float
        Cost of leaving an order unrouted today (default 2,000).
    late_cost_per_h : float
        Cost per hour a stop is planned past its promised window (default 30).
        Weighed against the vehicles' wage, distance and fixed costs: with a low
        value a plan may rather be late than use another vehicle.
    planned_overtime_h : float
        Overtime a plan may count on (default 0.5 h). Planning to the legal
        maximum working day leaves no slack for traffic and failed doorsteps, so
        routes would overrun it in execution.
    backend : str
        ``"ortools"`` (default), ``"pyvrp"`` or ``"auto"``. PyVRP cannot price
        lateness, so under it promised windows are hard: an order that cannot
        make its window waits for another day.
    iterations : int, optional
        PyVRP iteration cap (default 2,000): a machine-independent stop.
    balance_cost_per_h : float
        Workload balance: cost per hour of the largest workload (driving plus
        service) of any driver (default 0: off). Raise it to trade distance for
        evenly loaded drivers.
    breaks : str
        ``"reserve"`` (default): the break rule's time is taken out of each
        shift and the engine places breaks by its duty-time rule. ``"plan"``:
        the solver schedules each break in its window (OR-Tools break
        intervals; exact, but slow on city-sized days) and the engine takes them
        at the planned times.
    depart_offset_s : float
        Plan on the travel times of a departure this long after the earliest
        vehicle start (default 2 h: mid-morning traffic).
    window_margin_s : float
        Plan every stop to start this long before its promised window closes
        (default 0). One travel matrix cannot hold the day's traffic, so a plan
        that meets the windows to the minute sends ETAs past some of them; a
        dispatcher's buffer absorbs that.
    max_jobs_per_problem : int
        Above this many orders a plan is cut into compact parts of at most this
        size, each routed on its own with a share of the hub's vehicles, then a
        repair pass routes what the parts dropped on the vehicles they left
        unused (default 3,000: the Laredo baseline's day stays one model).
        See :mod:`twin.routing.decompose`.
    workers : int, optional
        Processes that solve the parts at once (default: one per CPU). The plan
        is the same with any number: each part stops on its own work budget.
    """

    time_limit_s: float = 60.0
    metaheuristic: str | None = None
    solution_limit: int | None = 100
    drop_penalty: float = 2_000.0
    late_cost_per_h: float = 30.0
    planned_overtime_h: float = 0.5
    backend: str = "ortools"
    iterations: int | None = 2_000
    balance_cost_per_h: float = 0.0
    breaks: str = "reserve"
    depart_offset_s: float = 2 * HOUR_S
    window_margin_s: float = 0.0
    max_jobs_per_problem: int = 3_000
    workers: int | None = None

    def __post_init__(self) -> None:
        if self.breaks not in ("reserve", "plan"):
            raise ValueError(f"breaks must be 'reserve' or 'plan', got {self.breaks!r}")
        if self.max_jobs_per_problem < 1:
            raise ValueError(
                f"max_jobs_per_problem must be at least 1, got {self.max_jobs_per_problem}"
            )
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")

    def planning(self, **changes: Any) -> PlanningSettings:
        """These routing settings alone (a policy's other fields dropped), with ``changes``."""
        own = {f.name: getattr(self, f.name) for f in fields(PlanningSettings)}
        return PlanningSettings(**{**own, **changes})


def servable_today(state: DispatchState) -> list[OrderView]:
    """Orders due today or overdue, not already attempted today: the ones for today's plans.

    A parcel that failed today waits for tomorrow: the customer was out, and
    carriers re-attempt on the next working day.
    """
    day_start = state.day * DAY_S
    return [
        o
        for o in state.orders
        if o.due_day <= state.day and (o.last_attempt_s is None or o.last_attempt_s < day_start)
    ]


def plan_routes(
    state: DispatchState,
    vehicles: Sequence[VehicleView],
    orders: Sequence[OrderView],
    settings: PlanningSettings,
    *,
    warm_start: bool = False,
    next_trip_only: bool = False,
    prizes: Mapping[str, float | None] | None = None,
) -> Plan:
    """Route ``orders`` on ``vehicles`` (new trips after their committed stops).

    ``prizes`` sets, per order id, what leaving the order out costs instead of
    ``settings.drop_penalty`` (None: it must be routed; a plan without it is no
    plan), so a policy can say which orders are optional and what they are worth.

    With ``next_trip_only`` each vehicle gets at most one new trip: what does not
    fit waits for a later re-plan. With ``warm_start`` two searches run on the
    same problem and the cheaper plan wins: one starting from the vehicles'
    current plans (``VehicleView.planned``, restricted to the orders given),
    stopped at its first improving solution, and one from scratch. OR-Tools'
    local search from a warm start can take seconds per improving solution on
    these problems, so a longer warm search would have to be cut by the clock,
    and a clock makes runs depend on the machine; solution counts keep them
    reproducible. Vehicles that get nothing are part of the plan with their
    committed stops only, so their old plan is replaced, not kept.
    """
    vehicles, travel = _one_profile(state, vehicles)
    specs_of = {v.id: _vehicle_spec(v, 0, settings) for v in vehicles}
    # Vehicles with no trip or a quarter of an hour left can only keep their committed stops.
    idle = [
        v for v in vehicles if specs_of[v.id].max_trips < 1 or specs_of[v.id].max_working_s < 900
    ]
    idle_ids = {v.id for v in idle}
    vehicles = [v for v in vehicles if v.id not in idle_ids]
    if not vehicles or not orders:
        return Plan(routes={v.id: v.route([]) for v in [*vehicles, *idle]})
    routing = _Routing(
        state, travel, settings, specs_of, warm_start, next_trip_only, dict(prizes or {})
    )
    if len(orders) <= settings.max_jobs_per_problem:
        plan = routing.plans([(vehicles, list(orders))], workers=1)[0]
    else:
        plan = _plan_in_parts(routing, vehicles, orders)
    return replace(plan, routes={**plan.routes, **{v.id: v.route([]) for v in idle}})


def _plan_in_parts(
    routing: _Routing, vehicles: Sequence[VehicleView], orders: Sequence[OrderView]
) -> Plan:
    """City scale: compact parts routed on their own, in parallel, then a repair pass
    that gives the orders the parts dropped to the vehicles the parts left unused."""
    settings = routing.settings
    groups = split_into_parts(routing.state, vehicles, orders, settings.max_jobs_per_problem)
    workers = settings.workers or os.cpu_count() or 1
    if multiprocessing.current_process().daemon:
        workers = 1  # inside a pool's worker, which may not start processes of its own
    plans = routing.plans(groups, workers=min(workers, len(groups)))
    merged = merge_plans(plans)
    unused = [v for v in vehicles if not new_trips(v, merged.routes[v.id])]
    planned = {oid for route in merged.routes.values() for oid in route}
    left = [o for o in orders if o.id not in planned]
    stats = {**merged.stats, "parts": float(len(groups))}
    if unused and left:
        # What the parts dropped is routed once more, whole: the repair needs one
        # model over the city's leftovers, small because the parts served the rest.
        repair = routing.plans([(unused, left)], workers=1)[0]
        merged = merge_plans([replace(merged, stats={}), repair])
        stats["dropped"] = repair.stats.get("dropped", 0.0)
        stats["dropped_servable"] = repair.stats.get("dropped_servable", 0.0)
        stats["repaired"] = float(len(left) - stats["dropped"])
    return replace(merged, stats={**merged.stats, **stats})


def merge_plans(plans: Sequence[Plan]) -> Plan:
    """One plan of several over different vehicles; counts in ``stats`` are summed
    (a capped solve in any part must still be seen by the engine)."""
    stats: dict[str, float] = {}
    for plan in plans:
        for key, value in plan.stats.items():
            stats[key] = stats.get(key, 0.0) + value
    return Plan(
        routes={k: v for plan in plans for k, v in plan.routes.items()},
        eta_s={k: v for plan in plans for k, v in plan.eta_s.items()},
        stats=stats,
        breaks_s={k: v for plan in plans for k, v in plan.breaks_s.items()},
    )


@dataclass(frozen=True)
class _Routing:
    """What every routing problem of one call of :func:`plan_routes` shares."""

    state: DispatchState
    travel: Callable[[list[int], list[int], float], TravelMatrix]
    settings: PlanningSettings
    specs_of: dict[str, VehicleSpec]
    warm_start: bool
    next_trip_only: bool
    #: Drop penalties set by the policy, per order id (see :func:`plan_routes`).
    prizes: Mapping[str, float | None]

    def plans(
        self, groups: Sequence[tuple[Sequence[VehicleView], Sequence[OrderView]]], *, workers: int
    ) -> list[Plan]:
        """A plan per (vehicles, orders) group, each its own routing problem."""
        jobs_of: list[tuple[Job, ...]] = []

        def tasks() -> Iterator[SolveTask]:
            for vehicles, orders in groups:
                problem = self.problem(vehicles, orders)
                jobs_of.append(problem.jobs)
                initial = None
                if self.warm_start:
                    initial = _initial_routes(vehicles, problem.jobs, self.next_trip_only)
                yield SolveTask(problem, self.solve_settings, initial)

        solutions = solve_each(tasks(), workers=workers)
        return [
            _to_plan(vehicles, jobs, solution)
            for (vehicles, _), jobs, solution in zip(groups, jobs_of, solutions, strict=True)
        ]

    @property
    def solve_settings(self) -> dict[str, Any]:
        s = self.settings
        return {
            "backend": s.backend,
            "time_limit_s": s.time_limit_s,
            "metaheuristic": s.metaheuristic,
            "iterations": s.iterations,
            "solution_limit": s.solution_limit,
        }

    def problem(
        self, vehicles: Sequence[VehicleView], orders: Sequence[OrderView]
    ) -> RoutingProblem:
        """The routing problem of ``orders`` on ``vehicles``, on one travel matrix."""
        state, settings = self.state, self.settings
        hub_nodes = sorted({v.hub_node for v in vehicles})
        nodes = hub_nodes + [o.node for o in orders]
        unique = np.unique(np.asarray(nodes))
        depart = min(max(v.shift_start_s, v.available_s) for v in vehicles)
        m = self.travel(unique.tolist(), unique.tolist(), depart + settings.depart_offset_s)
        assert m.length_m is not None
        where = {int(n): int(i) for i, n in enumerate(unique)}
        # Loading happens before departure and grows with the parcels on board; charging
        # each stop its parcel's loading time keeps every route's total duration right.
        load_per_parcel = max(v.load_per_parcel_s for v in vehicles)

        def default_penalty(o: OrderView) -> float:
            # Orders already late or re-attempted first: they cost more to drop.
            return settings.drop_penalty * (1 + o.attempts + (o.due_day < state.day))

        jobs = tuple(
            Job(
                id=o.id,
                location=where[o.node],
                demand=o.demand,
                tw_start_s=o.window_start_s,
                tw_end_s=max(o.window_end_s - settings.window_margin_s, o.window_start_s + 1),
                service_s=o.service_s + load_per_parcel * o.demand[0],
                drop_penalty=self.prizes.get(o.id, default_penalty(o)),
                hard_window=settings.backend == "pyvrp",
                # An order that does not exist yet (a policy's sample of what may come).
                release_s=o.created_s if o.created_s > state.now_s else 0.0,
            )
            for o in orders
        )
        specs = tuple(
            replace(
                self.specs_of[v.id],
                start_location=where[v.hub_node],
                end_location=where[v.hub_node],
                max_trips=1 if self.next_trip_only else self.specs_of[v.id].max_trips,
            )
            for v in vehicles
        )
        return RoutingProblem(
            duration_s=m.time_s,
            distance_m=m.length_m,
            vehicles=specs,
            jobs=jobs,
            late_cost_per_h=settings.late_cost_per_h,
            balance_cost_per_h=settings.balance_cost_per_h,
        )


def _one_profile(
    state: DispatchState, vehicles: Sequence[VehicleView]
) -> tuple[list[VehicleView], Callable[[list[int], list[int], float], TravelMatrix]]:
    """The vehicles one routing problem can hold: one travel profile, no drones.

    A routing problem has one travel matrix, so vehicles that move differently
    (bikes, robots, autonomous vans on their own road classes) are planned in
    problems of their own (:mod:`twin.dispatch.modal`); drones fly sorties.
    Given a mix, the road's own vehicles (vans) are kept, the others are left
    out of the plan, so a policy that knows nothing of modes plans the vans.
    """
    ground = [v for v in vehicles if v.mode != "drone"]
    if not ground:
        return [], state.travel
    road = any(state.travel_for(v) is state.travel for v in ground)
    travel = state.travel if road else state.travel_for(ground[0])
    return [v for v in ground if state.travel_for(v) is travel], travel


def reoptimise_next_trips(state: DispatchState, settings: PlanningSettings) -> Plan:
    """Re-optimise each vehicle's next trip together with the orders nobody has yet.

    Trips planned after the next one are kept as they are and follow the new
    next trip: what is decided soonest is re-decided with the latest
    information, warm-started from the next trips in force (see
    :func:`plan_routes`).
    """
    later = {v.id: v.planned_trips()[1:] for v in state.vehicles}
    kept = {oid for trips in later.values() for trip in trips for oid in trip}
    # A routing problem holds one travel profile (:func:`_one_profile`): the orders
    # planned on the vehicles it leaves out (cargo bikes beside vans) stay theirs,
    # or the re-plan would hand them to a second vehicle.
    replanned = {v.id for v in _one_profile(state, state.vehicles)[0]}
    kept |= {
        oid
        for v in state.vehicles
        if v.id not in replanned
        for trip in v.planned_trips()
        for oid in trip
    }
    orders = [o for o in servable_today(state) if o.id not in kept]
    if not orders:
        return Plan(routes={})
    plan = plan_routes(
        state, state.vehicles, orders, settings, warm_start=True, next_trip_only=True
    )
    routes = {
        v.id: v.route([*new_trips(v, plan.routes[v.id]), *later[v.id]])
        for v in state.vehicles
        if v.id in plan.routes
    }
    return replace(plan, routes=routes)


def _vehicle_spec(v: VehicleView, depot: int, settings: PlanningSettings) -> VehicleSpec:
    plan_breaks = settings.breaks == "plan"
    # Unless breaks are planned, their time is reserved from the shift. (OR-Tools'
    # break intervals are exact but make its local search far too slow at city
    # scale; the engine then places the actual breaks by the duty-time rule.)
    reserve = 0.0 if plan_breaks else break_time_s(v)
    start = max(v.shift_start_s, v.available_s) + v.load_setup_s
    on_duty = start - v.shift_start_s if v.started else 0.0
    working = min(
        v.max_working_s,
        v.shift_end_s - v.shift_start_s + settings.planned_overtime_h * HOUR_S,
    )
    return VehicleSpec(
        id=v.id,
        start_location=depot,
        end_location=depot,
        capacity=v.capacity,
        shift_start_s=start,
        shift_end_s=max(start, v.shift_end_s - reserve),
        # Back by the end of the working day, and by the end of the shift plus the
        # overtime allowed (a vehicle first sent out late in the day included).
        max_working_s=max(
            0.0,
            min(
                working - reserve - on_duty,
                v.shift_end_s + settings.planned_overtime_h * HOUR_S - reserve - start,
            ),
        ),
        fixed_cost=0.0 if v.started else v.fixed_cost,
        cost_per_km=v.cost_per_km,
        cost_per_h=v.cost_per_h,
        overtime_cost_per_h=v.overtime_cost_per_h,
        speed_factor=v.speed_factor,
        breaks=break_windows(v) if plan_breaks and not v.started else (),
        max_driving_s=v.max_driving_s,
        max_trips=v.max_trips - (1 if v.committed else 0),
        reload_s=v.load_setup_s,
    )


def _initial_routes(
    vehicles: Sequence[VehicleView], jobs: Sequence[Job], next_trip_only: bool
) -> list[list[int]]:
    index = {j.id: i for i, j in enumerate(jobs)}
    routes = []
    for v in vehicles:
        route: list[int] = []
        trips = v.planned_trips()
        for trip in trips[:1] if next_trip_only else trips:
            kept = [index[oid] for oid in trip if oid in index]
            if kept:
                if route:
                    route.append(ROUTE_RELOAD)
                route.extend(kept)
        routes.append(route)
    return routes


def _to_plan(
    vehicles: Sequence[VehicleView], jobs: Sequence[Job], solution: RoutingSolution
) -> Plan:
    routes = {}
    for v, route in zip(vehicles, solution.routes, strict=True):
        trips: list[list[str]] = [[]]
        for j in route:
            if j == ROUTE_RELOAD:
                trips.append([])
            else:
                trips[-1].append(jobs[j].id)
        routes[v.id] = v.route(trips)
    eta = {
        jobs[j].id: t
        for route, times in zip(solution.routes, solution.arrival_s, strict=True)
        for j, t in zip(route, times, strict=True)
        if j != ROUTE_RELOAD
    }
    breaks = {
        v.id: tuple(start for start, _ in planned)
        for v, planned in zip(vehicles, solution.breaks, strict=True)
        if planned and routes[v.id]
    }
    return Plan(routes=routes, eta_s=eta, stats=dict(solution.stats), breaks_s=breaks)


def break_windows(v: VehicleView) -> tuple[tuple[float, float, float], ...]:
    """Break k must start by k x break_after of duty (plus earlier breaks), within 2 h of that."""
    if v.break_s <= 0 or v.break_after_s <= 0:
        return ()
    n = round(break_time_s(v) / v.break_s)
    windows = []
    for k in range(1, n + 1):
        latest = v.shift_start_s + k * v.break_after_s + (k - 1) * v.break_s
        windows.append((max(v.shift_start_s, latest - 2 * HOUR_S), latest, v.break_s))
    return tuple(windows)


def break_time_s(v: VehicleView) -> float:
    """Total break time the duty-time rule requires over a full shift (seconds)."""
    if v.break_s <= 0 or v.break_after_s <= 0:
        return 0.0
    shift = v.shift_end_s - v.shift_start_s
    n = 0
    while (n + 1) * v.break_after_s + n * v.break_s < shift:
        n += 1
    return n * v.break_s
