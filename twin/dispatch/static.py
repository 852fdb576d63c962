"""``static``: one plan a day, at the morning cutoff, with the routing engine.

Every order known at the cutoff is routed at once (capacity in parcels, volume
and weight; promised windows, late arrivals penalised; the driver's shift, the
working-day limit, hours of service, breaks, multi-trip reloads at the hub, and
optionally a workload-balance term); orders that arrive later wait for the next
day's plan. This is what most operations did before dynamic dispatch, and the
baseline the dynamic policies are measured against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin.dispatch.base import RELOAD, DispatchState, Plan, VehicleView
from twin.routing import RELOAD as ROUTE_RELOAD
from twin.routing import Job, RoutingProblem, VehicleSpec, solve

__all__ = ["StaticPolicy"]


@dataclass
class StaticPolicy:
    """Plan all pending orders once per day at the cutoff trigger.

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
    """

    time_limit_s: float = 60.0
    metaheuristic: str | None = None
    solution_limit: int | None = 100
    drop_penalty: float = 2_000.0
    planned_overtime_h: float = 0.5
    backend: str = "ortools"
    iterations: int | None = 2_000
    balance_cost_per_h: float = 0.0
    breaks: str = "reserve"
    name: str = "static"

    def __post_init__(self) -> None:
        if self.breaks not in ("reserve", "plan"):
            raise ValueError(f"breaks must be 'reserve' or 'plan', got {self.breaks!r}")

    def decide(self, state: DispatchState) -> Plan:
        if state.trigger != "cutoff" or not state.orders:
            return Plan(routes={})
        vehicles = [v for v in state.vehicles if not v.committed]
        if not vehicles:
            return Plan(routes={})
        hub_nodes = sorted({v.hub_node for v in vehicles})
        nodes = hub_nodes + [o.node for o in state.orders]
        unique = np.unique(np.asarray(nodes))
        depart = min(v.shift_start_s for v in vehicles)
        m = state.travel(unique.tolist(), unique.tolist(), depart + 2 * 3600.0)
        assert m.length_m is not None
        where = {int(n): int(i) for i, n in enumerate(unique)}
        # Loading happens before departure and grows with the parcels on board; charging
        # each stop its parcel's loading time keeps every route's total duration right.
        load_per_parcel = max(v.load_per_parcel_s for v in vehicles)
        jobs = tuple(
            Job(
                id=o.id,
                location=where[o.node],
                demand=o.demand,
                tw_start_s=o.window_start_s,
                tw_end_s=max(o.window_end_s, o.window_start_s + 1),
                service_s=o.service_s + load_per_parcel * o.demand[0],
                # Orders already late or re-attempted first: they cost more to drop.
                drop_penalty=self.drop_penalty * (1 + o.attempts + (o.due_day < state.day)),
                hard_window=self.backend == "pyvrp",
            )
            for o in state.orders
        )
        plan_breaks = self.breaks == "plan"
        specs = tuple(
            VehicleSpec(
                id=v.id,
                start_location=where[v.hub_node],
                end_location=where[v.hub_node],
                capacity=v.capacity,
                shift_start_s=max(v.shift_start_s, v.available_s) + v.load_setup_s,
                # Unless breaks are planned, their time is reserved from the shift. (OR-Tools'
                # break intervals are exact but make its local search far too slow at city
                # scale; the engine then places the actual breaks by the duty-time rule.)
                shift_end_s=v.shift_end_s - (0.0 if plan_breaks else _break_time(v)),
                max_working_s=min(
                    v.max_working_s,
                    v.shift_end_s - v.shift_start_s + self.planned_overtime_h * 3600.0,
                )
                - (0.0 if plan_breaks else _break_time(v)),
                fixed_cost=v.fixed_cost,
                cost_per_km=v.cost_per_km,
                cost_per_h=v.cost_per_h,
                overtime_cost_per_h=v.overtime_cost_per_h,
                speed_factor=v.speed_factor,
                breaks=_break_windows(v) if plan_breaks else (),
                max_driving_s=v.max_driving_s,
                max_trips=v.max_trips,
                reload_s=v.load_setup_s,
            )
            for v in vehicles
        )
        problem = RoutingProblem(
            duration_s=m.time_s,
            distance_m=m.length_m,
            vehicles=specs,
            jobs=jobs,
            late_cost_per_h=state.late_cost_per_h,
            balance_cost_per_h=self.balance_cost_per_h,
        )
        solution = solve(
            problem,
            backend=self.backend,
            time_limit_s=self.time_limit_s,
            solution_limit=self.solution_limit,
            metaheuristic=self.metaheuristic,
            iterations=self.iterations,
        )
        routes = {
            spec.id: tuple(RELOAD if j == ROUTE_RELOAD else jobs[j].id for j in route)
            for spec, route in zip(specs, solution.routes, strict=True)
            if route
        }
        eta = {
            jobs[j].id: t
            for route, times in zip(solution.routes, solution.arrival_s, strict=True)
            for j, t in zip(route, times, strict=True)
            if j != ROUTE_RELOAD
        }
        breaks = {
            spec.id: tuple(start for start, _ in planned)
            for spec, planned in zip(specs, solution.breaks, strict=True)
            if planned and spec.id in routes
        }
        return Plan(routes=routes, eta_s=eta, stats=dict(solution.stats), breaks_s=breaks)


def _break_windows(v: VehicleView) -> tuple[tuple[float, float, float], ...]:
    """Break k must start by k x break_after of duty (plus earlier breaks), within 2 h of that."""
    if v.break_s <= 0 or v.break_after_s <= 0:
        return ()
    n = round(_break_time(v) / v.break_s)
    windows = []
    for k in range(1, n + 1):
        latest = v.shift_start_s + k * v.break_after_s + (k - 1) * v.break_s
        windows.append((max(v.shift_start_s, latest - 2 * 3600.0), latest, v.break_s))
    return tuple(windows)


def _break_time(v: VehicleView) -> float:
    """Total break time the duty-time rule requires over a full shift (seconds)."""
    if v.break_s <= 0 or v.break_after_s <= 0:
        return 0.0
    shift = v.shift_end_s - v.shift_start_s
    n = 0
    while (n + 1) * v.break_after_s + n * v.break_s < shift:
        n += 1
    return n * v.break_s
