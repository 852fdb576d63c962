"""OR-Tools backend: the only module that imports ortools.

Model: one routing node per job plus one per vehicle start and end (so multiple
depots work). Dimensions: time (travel / speed factor + service, waiting
allowed), and capacity in parcels, litres and 100 g. Windows: hard opening (no
delivery before the slot), soft closing (late arrivals cost ``late_cost_per_h``).
Shifts: routes start after the shift start, end before the hard working limit,
with a soft bound at the shift end that costs overtime. Mandatory break
intervals per vehicle when given. Jobs may be dropped at their penalty, so an
over-full day degrades gracefully instead of failing.

Search: parallel cheapest insertion, then local search. By default the local
search is greedy descent, which stops by itself at a local optimum: the result
depends only on the input, never on machine speed, so runs are reproducible.
``metaheuristic="guided_local_search"`` searches further but stops on wall time
(or ``solution_limit``), so its results can differ between machines; ``stats``
reports when the time limit was hit.
"""

from __future__ import annotations

import math
import time

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from twin.routing.problem import RoutingProblem, RoutingSolution

__all__ = ["solve_ortools"]

_BIG = 10**9


def solve_ortools(
    problem: RoutingProblem,
    *,
    time_limit_s: float = 10.0,
    solution_limit: int | None = None,
    metaheuristic: str | None = None,
) -> RoutingSolution:
    """Solve ``problem`` with OR-Tools; see the module docstring for the model."""
    jobs, vehicles = problem.jobs, problem.vehicles
    n_jobs, n_veh = len(jobs), len(vehicles)
    started = time.perf_counter()
    if n_veh == 0 or n_jobs == 0:
        return RoutingSolution(
            routes=tuple(() for _ in vehicles),
            arrival_s=tuple(() for _ in vehicles),
            start_s=tuple(v.shift_start_s for v in vehicles),
            end_s=tuple(v.shift_start_s for v in vehicles),
            dropped=tuple(range(n_jobs)),
            cost=0.0,
            solver="ortools",
        )
    # Routing nodes: jobs first, then each vehicle's start and end.
    loc = [j.location for j in jobs]
    starts = list(range(n_jobs, n_jobs + n_veh))
    ends = list(range(n_jobs + n_veh, n_jobs + 2 * n_veh))
    loc += [v.start_location for v in vehicles] + [v.end_location for v in vehicles]
    loc_arr = np.asarray(loc)
    manager = pywrapcp.RoutingIndexManager(len(loc), n_veh, starts, ends)
    routing = pywrapcp.RoutingModel(manager)

    service = np.zeros(len(loc))
    service[:n_jobs] = [j.service_s for j in jobs]
    drive = problem.duration_s[np.ix_(loc_arr, loc_arr)]
    dist = problem.distance_m[np.ix_(loc_arr, loc_arr)]

    # Per distinct vehicle profile: time transit and arc cost matrices (C++ side lookups).
    time_cb: dict[float, int] = {}
    cost_cb: dict[tuple[float, float, float], int] = {}
    for v, spec in enumerate(vehicles):
        if spec.speed_factor not in time_cb:
            transit = np.rint(service[:, None] + drive / spec.speed_factor).astype(np.int64)
            time_cb[spec.speed_factor] = routing.RegisterTransitMatrix(transit.tolist())
        # Arcs cost distance; driver time (driving, service *and waiting*) is charged
        # through the time dimension's span cost below, so idle time is not free.
        key = (spec.speed_factor, spec.cost_per_km, 0.0)
        if key not in cost_cb:
            cents = np.rint(100 * dist / 1000.0 * spec.cost_per_km)
            cost_cb[key] = routing.RegisterTransitMatrix(cents.astype(np.int64).tolist())
        routing.SetArcCostEvaluatorOfVehicle(cost_cb[key], v)
        routing.SetFixedCostOfVehicle(round(100 * spec.fixed_cost), v)

    horizon = int(max(v.shift_start_s + v.max_working_s for v in vehicles)) + 1
    routing.AddDimensionWithVehicleTransits(
        [time_cb[v.speed_factor] for v in vehicles], horizon, horizon, False, "time"
    )
    time_dim = routing.GetDimensionOrDie("time")
    for v, spec in enumerate(vehicles):
        # Span cost in cents per second, kept integral: round up so time never costs 0.
        time_dim.SetSpanCostCoefficientForVehicle(max(1, round(100 * spec.cost_per_h / 3600)), v)

    demand = np.asarray([j.demand for j in jobs], dtype=float)
    scales = (1.0, 1000.0, 10.0)  # parcels, litres, 100 g
    for d, (name, scale) in enumerate(
        zip(("parcels", "litres", "hectograms"), scales, strict=True)
    ):
        amounts = np.zeros(len(loc), dtype=np.int64)
        amounts[:n_jobs] = np.ceil(demand[:, d] * scale - 1e-9).astype(np.int64)
        cb = routing.RegisterUnaryTransitVector(amounts.tolist())
        caps = [math.floor(v.capacity[d] * scale + 1e-9) for v in vehicles]
        routing.AddDimensionWithVehicleCapacity(cb, 0, caps, True, name)

    # Objective in cents; lateness costs at least one cent per second late.
    late_per_s = max(1, round(100 * problem.late_cost_per_h / 3600.0))
    for j, job in enumerate(jobs):
        index = manager.NodeToIndex(j)
        time_dim.CumulVar(index).SetRange(min(math.ceil(job.tw_start_s), horizon), horizon)
        time_dim.SetCumulVarSoftUpperBound(index, int(job.tw_end_s), late_per_s)
        routing.AddDisjunction([index], round(100 * job.drop_penalty))

    solver = routing.solver()
    visit = [int(service[manager.IndexToNode(i)]) for i in range(routing.Size())]
    for v, spec in enumerate(vehicles):
        start, end = routing.Start(v), routing.End(v)
        time_dim.CumulVar(start).SetMin(int(spec.shift_start_s))
        time_dim.CumulVar(end).SetMax(int(spec.shift_start_s + spec.max_working_s))
        overtime_per_s = max(1, round(100 * spec.overtime_cost_per_h / 3600.0))
        time_dim.SetCumulVarSoftUpperBound(end, int(spec.shift_end_s), overtime_per_s)
        # Leave as late as the route allows (no idle waiting), come back as early as possible.
        routing.AddVariableMaximizedByFinalizer(time_dim.CumulVar(start))
        routing.AddVariableMinimizedByFinalizer(time_dim.CumulVar(end))
        if spec.breaks:
            intervals = [
                solver.FixedDurationIntervalVar(
                    int(earliest), int(latest), int(duration), False, f"break-{spec.id}-{k}"
                )
                for k, (earliest, latest, duration) in enumerate(spec.breaks)
            ]
            time_dim.SetBreakIntervalsOfVehicle(intervals, v, visit)

    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = (
        routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
    )
    heuristics = {
        None: routing_enums_pb2.LocalSearchMetaheuristic.GREEDY_DESCENT,
        "guided_local_search": routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH,
        "simulated_annealing": routing_enums_pb2.LocalSearchMetaheuristic.SIMULATED_ANNEALING,
        "tabu_search": routing_enums_pb2.LocalSearchMetaheuristic.TABU_SEARCH,
    }
    if metaheuristic not in heuristics:
        raise ValueError(
            f"unknown metaheuristic {metaheuristic!r}; use one of "
            f"{sorted(k for k in heuristics if k)} or None"
        )
    params.local_search_metaheuristic = heuristics[metaheuristic]
    params.time_limit.FromMilliseconds(int(time_limit_s * 1000))
    if solution_limit is not None:
        params.solution_limit = solution_limit
    assignment = routing.SolveWithParameters(params)
    elapsed = time.perf_counter() - started
    if assignment is None:
        raise RuntimeError(
            "OR-Tools found no solution (every job can be dropped, so this means the "
            "vehicles' shifts themselves are infeasible, e.g. a break that does not fit)"
        )
    routes, arrivals, starts_s, ends_s = [], [], [], []
    served: set[int] = set()
    for v in range(n_veh):
        index = routing.Start(v)
        starts_s.append(float(assignment.Value(time_dim.CumulVar(index))))
        route, times = [], []
        index = assignment.Value(routing.NextVar(index))
        while not routing.IsEnd(index):
            node = manager.IndexToNode(index)
            route.append(node)
            times.append(float(assignment.Value(time_dim.CumulVar(index))))
            served.add(node)
            index = assignment.Value(routing.NextVar(index))
        ends_s.append(float(assignment.Value(time_dim.CumulVar(index))))
        routes.append(tuple(route))
        arrivals.append(tuple(times))
    return RoutingSolution(
        routes=tuple(routes),
        arrival_s=tuple(arrivals),
        start_s=tuple(starts_s),
        end_s=tuple(ends_s),
        dropped=tuple(j for j in range(n_jobs) if j not in served),
        cost=assignment.ObjectiveValue() / 100.0,
        solver="ortools",
        stats={
            "wall_s": elapsed,
            "time_limit_hit": float(elapsed >= time_limit_s * 0.98),
        },
    )
