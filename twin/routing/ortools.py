"""OR-Tools backend: the only module that imports ortools.

Model: one routing node per job, per spare trip of a multi-trip vehicle (a
reload stop at its depot) and per vehicle start and end, so several depots work.

- Time: travel / speed factor + service, waiting allowed; windows open hard and
  close hard or soft (late starts cost ``late_cost_per_h``); routes start after
  the shift start and end by the duty limit, with a soft bound at the shift end
  that costs overtime. The time span of each route costs ``cost_per_h`` (idle
  time is paid); the largest workload in the fleet (a dimension of driving
  and service from zero, whose global span is that maximum) ``balance_cost_per_h``.
- Hours of service: a driving-time dimension capped per vehicle. Breaks: OR-Tools
  break intervals (earliest/latest start, duration), never during a service.
- Load, per capacity dimension: a running count of what was loaded at the depot
  (reload stops reset it through their slack), or, when the problem has pickups,
  the on-board load with its start tied to the deliveries the route carries.
- Pickup-and-delivery pairs on one vehicle, pickup first. Skills restrict the
  vehicles a job may use. Jobs may be dropped at their penalty unless required.

Search: parallel cheapest insertion, then local search. The default, greedy
descent, stops by itself at a local optimum, so results depend only on the input,
never on machine speed. Metaheuristics (``guided_local_search`` ...) search until
``time_limit_s`` or ``solution_limit``. A warm start (routes of a previous plan)
replaces the first-solution heuristic.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

# OR-Tools 9.12's SWIG modules warn while they load (DeprecationWarning: builtin type
# SwigPyPacked has no __module__ attribute), and under warnings-as-errors (pytest's
# filterwarnings = error, python -W error) the module's init then crashes the
# interpreter with a segmentation fault instead of raising.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", r"builtin type \w+ has no __module__", DeprecationWarning)
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from twin.routing.problem import (
    RELOAD,
    RoutingProblem,
    RoutingSolution,
    SolverTimeLimitError,
    UnsupportedConstraintError,
)
from twin.routing.scaling import COST_SCALE, ceil_int, floor_int, load_scales, time_scale

__all__ = ["METAHEURISTICS", "solve_ortools"]

METAHEURISTICS = {
    None: routing_enums_pb2.LocalSearchMetaheuristic.GREEDY_DESCENT,
    "guided_local_search": routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH,
    "simulated_annealing": routing_enums_pb2.LocalSearchMetaheuristic.SIMULATED_ANNEALING,
    "tabu_search": routing_enums_pb2.LocalSearchMetaheuristic.TABU_SEARCH,
}


def _per_second(cost_per_h: float, ts: int) -> int:
    """Cost per scaled time unit as an integer; never 0 when the cost is not."""
    if cost_per_h <= 0:
        return 0
    return max(1, round(cost_per_h / 3600.0 / ts * COST_SCALE))


def solve_ortools(
    problem: RoutingProblem,
    *,
    time_limit_s: float = 10.0,
    solution_limit: int | None = None,
    metaheuristic: str | None = None,
    initial_routes: Sequence[Sequence[int]] | None = None,
) -> RoutingSolution:
    """Solve ``problem`` with OR-Tools; see the module docstring for the model."""
    if metaheuristic not in METAHEURISTICS:
        raise ValueError(
            f"unknown metaheuristic {metaheuristic!r}; use one of "
            f"{sorted(k for k in METAHEURISTICS if k)} or None"
        )
    started = time.perf_counter()
    has_pickups = bool(problem.pairs) or any(any(j.pickup) for j in problem.jobs if j.pickup)
    multi_trip = any(v.max_trips > 1 for v in problem.vehicles)
    if has_pickups and multi_trip:
        raise UnsupportedConstraintError(
            "ortools backend: multi-trip together with pickups is not modelled; "
            "use single trips for routes with returns or pickup-and-delivery pairs"
        )
    # The model is built in a fixed order (the solver's search depends on it).
    model = _Model.build(problem)
    model.add_time_and_costs()
    _add_load_dimensions(
        problem, model.routing, model.manager, model.solver, model.reload_owner, has_pickups
    )
    model.add_jobs()
    break_vars = model.add_shifts()
    assignment, warm = model.search(
        started,
        time_limit_s=time_limit_s,
        solution_limit=solution_limit,
        metaheuristic=metaheuristic,
        initial_routes=initial_routes,
    )
    elapsed = time.perf_counter() - started
    if assignment is None and elapsed >= time_limit_s * 0.98:
        raise SolverTimeLimitError(
            f"OR-Tools found no solution before its wall-clock cap ({time_limit_s:g} s)"
        )
    if assignment is None:
        raise RuntimeError(
            "OR-Tools found no feasible solution: the required jobs cannot all be served "
            "within the fleet's capacity, windows and duty limits (or a break does not fit)"
        )
    return _extract(
        problem,
        model.routing,
        model.manager,
        assignment,
        model.time_dim,
        break_vars,
        model.ts,
        model.n_jobs,
        stats={
            "wall_s": elapsed,
            "time_limit_hit": float(elapsed >= time_limit_s * 0.98),
            "warm_start": float(warm),
            "time_scale": float(model.ts),
        },
    )


@dataclass
class _Model:
    """The OR-Tools model of one problem while it is built, and its search.

    Routing nodes: jobs, reload stops (one per spare trip, at the owner's
    depot), then each vehicle's start and end, so several depots work.
    """

    problem: RoutingProblem
    manager: pywrapcp.RoutingIndexManager
    routing: pywrapcp.RoutingModel
    solver: pywrapcp.Solver
    ts: int
    n_jobs: int
    reload_owner: list[int]
    service: np.ndarray
    loc_arr: np.ndarray
    limits: list[int] = field(default_factory=list)
    horizon: int = 0
    time_dim: pywrapcp.RoutingDimension | None = None

    @classmethod
    def build(cls, problem: RoutingProblem) -> _Model:
        jobs, vehicles = problem.jobs, problem.vehicles
        n_jobs, n_veh = len(jobs), len(vehicles)
        ts = time_scale(problem)
        loc = [j.location for j in jobs]
        reload_owner: list[int] = []
        for v, spec in enumerate(vehicles):
            reload_owner += [v] * (spec.max_trips - 1)
        loc += [vehicles[v].start_location for v in reload_owner]
        first_start = n_jobs + len(reload_owner)
        starts = list(range(first_start, first_start + n_veh))
        ends = list(range(first_start + n_veh, first_start + 2 * n_veh))
        loc += [v.start_location for v in vehicles] + [v.end_location for v in vehicles]
        manager = pywrapcp.RoutingIndexManager(len(loc), n_veh, starts, ends)
        routing = pywrapcp.RoutingModel(manager)
        service = np.zeros(len(loc), dtype=np.int64)
        service[:n_jobs] = ceil_int([j.service_s for j in jobs], ts)
        service[n_jobs:first_start] = ceil_int([vehicles[v].reload_s for v in reload_owner], ts)
        return cls(
            problem=problem,
            manager=manager,
            routing=routing,
            solver=routing.solver(),
            ts=ts,
            n_jobs=n_jobs,
            reload_owner=reload_owner,
            service=service,
            loc_arr=np.asarray(loc),
        )

    def add_time_and_costs(self) -> None:
        """Arc costs, fixed costs, the time dimension, workload balance and hours of service."""
        problem, routing, ts, service = self.problem, self.routing, self.ts, self.service
        vehicles = problem.vehicles
        durations = problem.planning_durations[np.ix_(self.loc_arr, self.loc_arr)]
        dist = problem.distance_m[np.ix_(self.loc_arr, self.loc_arr)]
        # Per distinct vehicle profile: time transit, driving and arc cost matrices.
        drive_cb: dict[float, int] = {}
        time_cb: dict[float, int] = {}
        cost_cb: dict[float, int] = {}
        for v, spec in enumerate(vehicles):
            sf = spec.speed_factor
            if sf not in time_cb:
                drive = ceil_int(durations / sf, ts)
                drive_cb[sf] = routing.RegisterTransitMatrix(drive.tolist())
                time_cb[sf] = routing.RegisterTransitMatrix((service[:, None] + drive).tolist())
            if spec.cost_per_km not in cost_cb:
                cost = np.rint(dist / 1000.0 * spec.cost_per_km * COST_SCALE).astype(np.int64)
                cost_cb[spec.cost_per_km] = routing.RegisterTransitMatrix(cost.tolist())
            routing.SetArcCostEvaluatorOfVehicle(cost_cb[spec.cost_per_km], v)
            routing.SetFixedCostOfVehicle(round(spec.fixed_cost * COST_SCALE), v)

        self.limits = [int(floor_int(v.shift_start_s + v.max_working_s, ts)) for v in vehicles]
        horizon = self.horizon = max(self.limits) + 1
        routing.AddDimensionWithVehicleTransits(
            [time_cb[v.speed_factor] for v in vehicles], horizon, horizon, False, "time"
        )
        time_dim = self.time_dim = routing.GetDimensionOrDie("time")
        for v, spec in enumerate(vehicles):
            time_dim.SetSpanCostCoefficientForVehicle(_per_second(spec.cost_per_h, ts), v)
        if problem.balance_cost_per_h > 0:
            # Workload = driving + service per vehicle, counted from zero: its global span
            # is the largest workload in the fleet (waiting and start times do not count).
            routing.AddDimensionWithVehicleTransits(
                [time_cb[v.speed_factor] for v in vehicles], 0, horizon, True, "workload"
            )
            routing.GetDimensionOrDie("workload").SetGlobalSpanCostCoefficient(
                _per_second(problem.balance_cost_per_h, ts)
            )
        if any(v.max_driving_s is not None for v in vehicles):
            caps = [
                int(floor_int(v.max_driving_s, ts)) if v.max_driving_s is not None else horizon
                for v in vehicles
            ]
            routing.AddDimensionWithVehicleTransitAndCapacity(
                [drive_cb[v.speed_factor] for v in vehicles], 0, caps, True, "driving"
            )

    def add_jobs(self) -> None:
        """Windows (hard or soft), drop penalties, skills, reload stops and pickup pairs."""
        problem, routing, manager, ts, horizon = (
            self.problem,
            self.routing,
            self.manager,
            self.ts,
            self.horizon,
        )
        time_dim = self.time_dim
        assert time_dim is not None, "add_time_and_costs comes first"
        late = _per_second(problem.late_cost_per_h, ts)
        for j, job in enumerate(problem.jobs):
            index = manager.NodeToIndex(j)
            opens = min(int(ceil_int(job.tw_start_s, ts)), horizon)
            if job.hard_window:
                closes = int(floor_int(min(job.tw_end_s, horizon / ts), ts))
                if closes < opens:
                    raise ValueError(f"job {job.id}: its window is empty after rounding")
                time_dim.CumulVar(index).SetRange(opens, closes)
            else:
                time_dim.CumulVar(index).SetRange(opens, horizon)
                if job.tw_end_s * ts < horizon and late:
                    time_dim.SetCumulVarSoftUpperBound(
                        index, int(floor_int(job.tw_end_s, ts)), late
                    )
            if job.drop_penalty is not None:
                routing.AddDisjunction([index], round(job.drop_penalty * COST_SCALE))
            if job.skills:
                allowed = [
                    v for v, spec in enumerate(problem.vehicles) if job.skills <= spec.skills
                ]
                _allow(routing, index, allowed, optional=job.drop_penalty is not None)
        for r, owner in enumerate(self.reload_owner):
            index = manager.NodeToIndex(self.n_jobs + r)
            routing.AddDisjunction([index], 0)
            _allow(routing, index, [owner], optional=True)
        for p, q in problem.pairs:
            ip, iq = manager.NodeToIndex(p), manager.NodeToIndex(q)
            routing.AddPickupAndDelivery(ip, iq)
            self.solver.Add(routing.VehicleVar(ip) == routing.VehicleVar(iq))
            self.solver.Add(time_dim.CumulVar(ip) <= time_dim.CumulVar(iq))

    def add_shifts(self) -> list[list[pywrapcp.IntervalVar]]:
        """Shift start, duty limit, overtime past the shift end, and break intervals."""
        routing, manager, solver, ts, time_dim = (
            self.routing,
            self.manager,
            self.solver,
            self.ts,
            self.time_dim,
        )
        assert time_dim is not None, "add_time_and_costs comes first"
        visit = [int(self.service[manager.IndexToNode(i)]) for i in range(routing.Size())]
        break_vars: list[list[pywrapcp.IntervalVar]] = []
        for v, spec in enumerate(self.problem.vehicles):
            start, end = routing.Start(v), routing.End(v)
            time_dim.CumulVar(start).SetMin(int(ceil_int(spec.shift_start_s, ts)))
            time_dim.CumulVar(end).SetMax(self.limits[v])
            overtime = _per_second(spec.overtime_cost_per_h, ts)
            if overtime:
                time_dim.SetCumulVarSoftUpperBound(
                    end, int(floor_int(spec.shift_end_s, ts)), overtime
                )
            # Leave as late as the route allows (no idle waiting), come back as early as possible.
            routing.AddVariableMaximizedByFinalizer(time_dim.CumulVar(start))
            routing.AddVariableMinimizedByFinalizer(time_dim.CumulVar(end))
            intervals = [
                solver.FixedDurationIntervalVar(
                    int(ceil_int(earliest, ts)),
                    int(floor_int(latest, ts)),
                    int(ceil_int(duration, ts)),
                    False,
                    f"break-{v}-{k}",
                )
                for k, (earliest, latest, duration) in enumerate(spec.breaks)
            ]
            if intervals:
                time_dim.SetBreakIntervalsOfVehicle(intervals, v, visit)
                # A break before the route leaves would not rest the driver on the road.
                for interval in intervals:
                    solver.Add(interval.StartExpr() >= time_dim.CumulVar(start))
            break_vars.append(intervals)
        return break_vars

    def search(
        self,
        started: float,
        *,
        time_limit_s: float,
        solution_limit: int | None,
        metaheuristic: str | None,
        initial_routes: Sequence[Sequence[int]] | None,
    ) -> tuple[pywrapcp.Assignment | None, bool]:
        """First solution (or the warm start), then local search; returns it and "warm"."""
        routing = self.routing
        params = pywrapcp.DefaultRoutingSearchParameters()
        strategies = routing_enums_pb2.FirstSolutionStrategy
        # Parallel cheapest insertion builds the best first routes, but it cannot see the
        # side constraint that ties on-board load to depot deliveries; local cheapest
        # insertion can. If the first heuristic finds nothing, the path heuristic tries.
        mixed_load = any(d.startswith("depot_load") for d in routing.GetAllDimensionNames())
        first = (
            strategies.LOCAL_CHEAPEST_INSERTION
            if mixed_load
            else strategies.PARALLEL_CHEAPEST_INSERTION
        )
        params.first_solution_strategy = first
        params.local_search_metaheuristic = METAHEURISTICS[metaheuristic]
        params.time_limit.FromMilliseconds(max(1, int(time_limit_s * 1000)))
        if solution_limit is not None:
            params.solution_limit = solution_limit
        warm = False
        if initial_routes is not None:
            routing.CloseModelWithParameters(params)
            initial = routing.ReadAssignmentFromRoutes(
                _initial_nodes(initial_routes, self.reload_owner, self.n_jobs), True
            )
            warm = initial is not None
        assignment = (
            routing.SolveFromAssignmentWithParameters(initial, params)
            if warm
            else routing.SolveWithParameters(params)
        )
        left = time_limit_s - (time.perf_counter() - started)
        if assignment is None and left > 0:
            params.first_solution_strategy = strategies.PATH_CHEAPEST_ARC
            params.time_limit.FromMilliseconds(max(1, int(left * 1000)))
            assignment = routing.SolveWithParameters(params)
        left = time_limit_s - (time.perf_counter() - started)
        if assignment is not None and not warm and left > 0 and self._nothing_served(assignment):
            # The insertion heuristics price an insertion without the lateness it
            # causes, so when lateness is dear they insert nothing, and local search
            # cannot leave an empty plan. Cost-aware insertion (slower) can.
            params.first_solution_strategy = strategies.LOCAL_CHEAPEST_COST_INSERTION
            params.time_limit.FromMilliseconds(max(1, int(left * 1000)))
            retry = routing.SolveWithParameters(params)
            if retry is not None and retry.ObjectiveValue() < assignment.ObjectiveValue():
                assignment = retry
        return assignment, warm

    def _nothing_served(self, assignment: pywrapcp.Assignment) -> bool:
        """No job is on any route (every one dropped) although there are jobs."""
        routing, manager = self.routing, self.manager
        return self.n_jobs > 0 and all(
            assignment.Value(routing.NextVar(manager.NodeToIndex(j))) == manager.NodeToIndex(j)
            for j in range(self.n_jobs)
        )


def _allow(routing: pywrapcp.RoutingModel, index: int, vehicles: list[int], optional: bool) -> None:
    """Restrict the vehicles that may visit ``index`` (-1 keeps "not visited" possible)."""
    routing.VehicleVar(index).SetValues(([-1] if optional else []) + vehicles)


def _add_load_dimensions(
    problem: RoutingProblem,
    routing: pywrapcp.RoutingModel,
    manager: pywrapcp.RoutingIndexManager,
    solver: pywrapcp.Solver,
    reload_owner: list[int],
    has_pickups: bool,
) -> None:
    """Capacity in every dimension; see the module docstring for the two models."""
    jobs, vehicles = problem.jobs, problem.vehicles
    n_jobs, n_nodes = len(jobs), manager.GetNumberOfNodes()
    paired = problem.paired_deliveries()
    demand = np.asarray([j.demand for j in jobs], dtype=float).reshape(n_jobs, -1)
    pickup = np.asarray([problem.job_pickup(j) for j in range(n_jobs)]).reshape(n_jobs, -1)
    depot_loaded = np.asarray([j not in paired for j in range(n_jobs)])
    for d, scale in enumerate(load_scales(problem)):
        amounts = np.zeros(n_nodes, dtype=np.int64)
        caps = [int(floor_int(v.capacity[d], scale)) for v in vehicles]
        if not has_pickups:
            amounts[:n_jobs] = ceil_int(demand[:, d], scale)
            for r, owner in enumerate(reload_owner):
                amounts[n_jobs + r] = -caps[owner]
            slack = max(caps) if reload_owner else 0
            cb = routing.RegisterUnaryTransitVector(amounts.tolist())
            routing.AddDimensionWithVehicleCapacity(cb, slack, caps, True, f"load{d}")
            if reload_owner:
                dim = routing.GetDimensionOrDie(f"load{d}")
                for j in range(n_jobs):
                    dim.SlackVar(manager.NodeToIndex(j)).SetValue(0)
            continue
        # On-board load: starts at what the route delivers from the depot, rises at
        # pickups and falls at deliveries.
        amounts[:n_jobs] = ceil_int(pickup[:, d], scale) - ceil_int(demand[:, d], scale)
        cb = routing.RegisterUnaryTransitVector(amounts.tolist())
        loaded_at_depot = depot_loaded & (demand[:, d] > 0)
        routing.AddDimensionWithVehicleCapacity(cb, 0, caps, not loaded_at_depot.any(), f"load{d}")
        if loaded_at_depot.any():
            counted = np.zeros(n_nodes, dtype=np.int64)
            counted[:n_jobs] = np.where(loaded_at_depot, ceil_int(demand[:, d], scale), 0)
            cb2 = routing.RegisterUnaryTransitVector(counted.tolist())
            routing.AddDimensionWithVehicleCapacity(cb2, 0, caps, True, f"depot_load{d}")
            on_board = routing.GetDimensionOrDie(f"load{d}")
            from_depot = routing.GetDimensionOrDie(f"depot_load{d}")
            for v in range(len(vehicles)):
                solver.Add(
                    on_board.CumulVar(routing.Start(v)) == from_depot.CumulVar(routing.End(v))
                )


def _initial_nodes(
    routes: Sequence[Sequence[int]], reload_owner: list[int], n_jobs: int
) -> list[list[int]]:
    """Warm-start routes as routing nodes: each RELOAD takes the vehicle's next reload stop."""
    spare: dict[int, list[int]] = {}
    for r, owner in enumerate(reload_owner):
        spare.setdefault(owner, []).append(n_jobs + r)
    out = []
    for v, route in enumerate(routes):
        nodes = []
        for j in route:
            if j == RELOAD:
                if spare.get(v):
                    nodes.append(spare[v].pop(0))
            else:
                nodes.append(int(j))
        out.append(nodes)
    return out


def _extract(
    problem: RoutingProblem,
    routing: pywrapcp.RoutingModel,
    manager: pywrapcp.RoutingIndexManager,
    assignment: pywrapcp.Assignment,
    time_dim: pywrapcp.RoutingDimension,
    break_vars: list[list[pywrapcp.IntervalVar]],
    ts: int,
    n_jobs: int,
    stats: dict[str, float],
) -> RoutingSolution:
    routes, arrivals, starts_s, ends_s, breaks = [], [], [], [], []
    served: set[int] = set()
    for v in range(len(problem.vehicles)):
        index = routing.Start(v)
        starts_s.append(assignment.Value(time_dim.CumulVar(index)) / ts)
        route, times = [], []
        index = assignment.Value(routing.NextVar(index))
        while not routing.IsEnd(index):
            node = manager.IndexToNode(index)
            if node < n_jobs:
                route.append(node)
                served.add(node)
            else:
                route.append(RELOAD)
            times.append(assignment.Value(time_dim.CumulVar(index)) / ts)
            index = assignment.Value(routing.NextVar(index))
        ends_s.append(assignment.Value(time_dim.CumulVar(index)) / ts)
        # A reload right before the end of the route is a no-op: drop it.
        while route and route[-1] == RELOAD:
            route.pop()
            times.pop()
        routes.append(tuple(route))
        arrivals.append(tuple(times))
        breaks.append(
            tuple(
                (assignment.StartValue(b) / ts, assignment.DurationValue(b) / ts)
                for b in break_vars[v]
                if assignment.PerformedValue(b)
            )
        )
    return RoutingSolution(
        routes=tuple(routes),
        arrival_s=tuple(arrivals),
        start_s=tuple(starts_s),
        end_s=tuple(ends_s),
        dropped=tuple(j for j in range(n_jobs) if j not in served),
        cost=assignment.ObjectiveValue() / COST_SCALE,
        solver="ortools",
        stats=stats,
        breaks=tuple(breaks),
    )
