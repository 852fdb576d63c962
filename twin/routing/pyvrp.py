"""PyVRP backend (optional extra ``twin[pyvrp]``): the only module that imports pyvrp.

PyVRP's iterated local search is state of the art on the classic VRPTW
benchmarks, so twin uses it where it can express the whole problem: hard time
windows, capacity in several dimensions, heterogeneous fleets (one routing
profile per speed factor), several depots, multi-trip with reloads, deliveries
with returns (client pickups), pickup-and-delivery pairs (shipments), optional
jobs (prizes), fixed, distance, time and overtime costs, and warm starts.

What it cannot express raises :class:`UnsupportedConstraintError` naming the
constraint: soft time windows, driver breaks, driving-time limits, skills and
the workload-balance term (use ``backend="ortools"`` for those).

Stopping: ``time_limit_s`` of wall time, or ``iterations`` for a run that gives
the same answer on any machine.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import astuple

import numpy as np
import pyvrp
from pyvrp import stop as pyvrp_stop

from twin.routing.check import unserviceable
from twin.routing.problem import (
    RELOAD,
    RoutingProblem,
    RoutingSolution,
    UnsupportedConstraintError,
    VehicleSpec,
)
from twin.routing.scaling import COST_SCALE, ceil_int, floor_int, load_scales, time_scale

__all__ = ["solve_pyvrp", "unsupported"]


def unsupported(problem: RoutingProblem) -> list[str]:
    """The constraints of ``problem`` this backend cannot express (empty = all fine)."""
    found = []
    limit = max((v.shift_start_s + v.max_working_s for v in problem.vehicles), default=0.0)
    if any(not j.hard_window and j.tw_end_s < limit for j in problem.jobs):
        found.append("soft time windows (make them hard or use backend='ortools')")
    if any(v.breaks for v in problem.vehicles):
        found.append("driver breaks (use backend='ortools')")
    if any(v.max_driving_s is not None for v in problem.vehicles):
        found.append("driving-time limits (use backend='ortools')")
    if any(j.skills for j in problem.jobs):
        found.append("skills (use backend='ortools')")
    if problem.balance_cost_per_h > 0:
        found.append("the workload-balance term (use backend='ortools')")
    if problem.pairs and any(v.max_trips > 1 for v in problem.vehicles):
        found.append("pickup-and-delivery pairs with multi-trip vehicles")
    if any(problem.jobs[j].release_s > 0 for pair in problem.pairs for j in pair):
        found.append("release times on pickup-and-delivery pairs")
    return found


def _type_key(spec: VehicleSpec) -> tuple[object, ...]:
    fields = astuple(spec)
    return fields[1:]  # everything but the id


def solve_pyvrp(
    problem: RoutingProblem,
    *,
    time_limit_s: float = 10.0,
    iterations: int | None = None,
    seed: int = 0,
    initial_routes: Sequence[Sequence[int]] | None = None,
) -> RoutingSolution:
    """Solve ``problem`` with PyVRP; see the module docstring for what is modelled."""
    problems = unsupported(problem)
    if problems:
        raise UnsupportedConstraintError("pyvrp backend cannot express: " + "; ".join(problems))
    jobs, vehicles = problem.jobs, problem.vehicles
    started = time.perf_counter()
    ts = time_scale(problem)
    scales = load_scales(problem)
    n = problem.distance_m.shape[0]
    dist = problem.distance_m
    ds = next((s for s in (1, 10, 100) if np.allclose(dist * s, np.rint(dist * s))), 1000)
    dist_int = np.rint(dist * ds).astype(np.int64)
    durations = problem.planning_durations

    # Depots: one per start/end location, plus a reload depot (with the reload time)
    # per multi-trip vehicle type.
    depot_locs = sorted({v.start_location for v in vehicles} | {v.end_location for v in vehicles})
    depots = [pyvrp.Depot(location=loc) for loc in depot_locs]
    depot_of = {loc: i for i, loc in enumerate(depot_locs)}

    speeds = sorted({v.speed_factor for v in vehicles})
    vehicle_types, members = _vehicle_types(problem, depots, depot_of, speeds, scales, ds, ts)
    clients, client_job, shipments, shipment_pair = _jobs(problem, scales, ts)
    data = pyvrp.ProblemData(
        locations=[pyvrp.Location(x=0.0, y=0.0) for _ in range(n)],
        clients=clients,
        depots=depots,
        vehicle_types=vehicle_types,
        distance_matrices=[dist_int for _ in speeds],
        duration_matrices=[ceil_int(durations / s, ts) for s in speeds],  # type: ignore[misc]
        shipments=shipments,
    )
    stop: pyvrp_stop.StoppingCriterion = pyvrp_stop.MaxRuntime(time_limit_s)
    if iterations is not None:
        stop = pyvrp_stop.MultipleCriteria([pyvrp_stop.MaxIterations(iterations), stop])
    warm = None
    if initial_routes is not None:
        warm = _warm_start(data, initial_routes, members, client_job)
    # Costs are in 1/COST_SCALE units, so PyVRP's default cap on its penalty weights
    # is too low to push the search back to feasibility: lift it, but not so far that
    # penalty x violation can overflow 64-bit costs.
    params = pyvrp.SolveParams(penalty=pyvrp.PenaltyParams(max_penalty=1e9))
    result = pyvrp.solve(
        data,
        stop=stop,
        seed=seed,
        collect_stats=False,
        display=False,
        params=params,
        initial_solution=warm,
    )
    elapsed = time.perf_counter() - started
    best = result.best
    if not best.is_feasible():
        raise RuntimeError(
            "PyVRP found no feasible solution within the limit: the required jobs may not "
            "fit the fleet's capacity, windows and duty limits"
        )
    routes, arrivals, starts, ends, served = _read_routes(
        problem, best, members, client_job, shipment_pair, ts
    )
    return RoutingSolution(
        routes=tuple(routes),
        arrival_s=tuple(arrivals),
        start_s=tuple(starts),
        end_s=tuple(ends),
        dropped=tuple(j for j in range(len(jobs)) if j not in served),
        cost=float(best.distance_cost()) / COST_SCALE,
        solver="pyvrp",
        stats={
            "wall_s": elapsed,
            "iterations": float(result.num_iterations),
            # Stopped by the clock, not the iteration budget: the run must say so.
            "time_limit_hit": float(iterations is None or result.num_iterations < iterations),
            "time_scale": float(ts),
            "warm_start": float(warm is not None),
        },
    )


def _vehicle_types(
    problem: RoutingProblem,
    depots: list[pyvrp.Depot],
    depot_of: dict[int, int],
    speeds: list[float],
    scales: list[int],
    ds: int,
    ts: int,
) -> tuple[list[pyvrp.VehicleType], list[list[int]]]:
    """PyVRP vehicle types (identical specs share one; a profile per speed factor).

    A multi-trip type gets a reload depot of its own, appended to ``depots``.
    Returns the types and, per type, the indices of its vehicles.
    """
    vehicles = problem.vehicles
    profile_of = {s: i for i, s in enumerate(speeds)}
    types: dict[tuple[object, ...], list[int]] = {}
    for v, spec in enumerate(vehicles):
        types.setdefault(_type_key(spec), []).append(v)
    vehicle_types, members = [], []
    for indices in types.values():
        spec = vehicles[indices[0]]
        reload_depots: list[int] = []
        if spec.max_trips > 1:
            reload_depots = [len(depots)]
            depots.append(
                pyvrp.Depot(
                    location=spec.start_location,
                    service_duration=int(ceil_int(spec.reload_s, ts)),
                )
            )
        shift = spec.shift_end_s - spec.shift_start_s
        limit = spec.max_working_s
        # A vehicle leaves at its shift start, unless jobs released later may make it
        # wait at the depot (then it may leave any time it can still be back in time).
        waits = any(j.release_s > spec.shift_start_s for j in problem.jobs)
        start_late = spec.shift_start_s + (limit if waits else 0.0)
        scale_cost = COST_SCALE / 3600.0 / ts
        vehicle_types.append(
            pyvrp.VehicleType(
                num_available=len(indices),
                capacity=_amounts(spec.capacity, scales, floor=True),
                start_depot=depot_of[spec.start_location],
                end_depot=depot_of[spec.end_location],
                fixed_cost=round(spec.fixed_cost * COST_SCALE),
                tw_early=int(ceil_int(spec.shift_start_s, ts)),
                tw_late=int(floor_int(spec.shift_start_s + limit, ts)),
                start_late=int(floor_int(start_late, ts))
                if waits
                else int(ceil_int(start_late, ts)),
                shift_duration=int(floor_int(min(shift, limit), ts)),
                max_overtime=int(floor_int(max(0.0, limit - shift), ts)),
                unit_distance_cost=round(spec.cost_per_km / 1000.0 / ds * COST_SCALE),
                unit_duration_cost=round(spec.cost_per_h * scale_cost),
                unit_overtime_cost=round(spec.overtime_cost_per_h * scale_cost),
                profile=profile_of[spec.speed_factor],
                reload_depots=reload_depots,
                max_reloads=spec.max_trips - 1,
                name=",".join(vehicles[v].id for v in indices),
            )
        )
        members.append(indices)

    return vehicle_types, members


def _jobs(
    problem: RoutingProblem, scales: list[int], ts: int
) -> tuple[list[pyvrp.Client], list[int], list[pyvrp.Shipment], list[tuple[int, int]]]:
    """Clients (single jobs) and shipments (pickup-and-delivery pairs), each with its job(s)."""
    jobs = problem.jobs
    # Optional jobs no vehicle could serve even alone are left out up front: their
    # prizes would otherwise lure the search into infeasible regions it may not leave.
    hopeless = {
        j
        for j, job in enumerate(jobs)
        if job.drop_penalty is not None and unserviceable(problem, j)
    }
    for p, q in problem.pairs:
        if p in hopeless or q in hopeless:
            hopeless |= {p, q}
    paired = {j for pair in problem.pairs for j in pair}
    clients, client_job = [], []
    for j, job in enumerate(jobs):
        if j in paired or j in hopeless:
            continue
        clients.append(
            pyvrp.Client(
                location=job.location,
                delivery=_amounts(job.demand, scales),
                pickup=_amounts(job.pickup or (0.0,) * problem.n_dims, scales),
                service_duration=int(ceil_int(job.service_s, ts)),
                tw_early=int(ceil_int(job.tw_start_s, ts)),
                tw_late=_tw_late(job.tw_end_s, ts),
                release_time=int(ceil_int(job.release_s, ts)),
                prize=0 if job.drop_penalty is None else round(job.drop_penalty * COST_SCALE),
                required=job.drop_penalty is None,
                name=job.id,
            )
        )
        client_job.append(j)
    shipments, shipment_pair = [], []
    for p, q in problem.pairs:
        if p in hopeless:
            continue
        shipment_pair.append((p, q))
        pick, drop = jobs[p], jobs[q]
        shipments.append(
            pyvrp.Shipment(
                pickup_location=pick.location,
                delivery_location=drop.location,
                pickup_tw_early=int(ceil_int(pick.tw_start_s, ts)),
                pickup_tw_late=_tw_late(pick.tw_end_s, ts),
                pickup_service_duration=int(ceil_int(pick.service_s, ts)),
                delivery_tw_early=int(ceil_int(drop.tw_start_s, ts)),
                delivery_tw_late=_tw_late(drop.tw_end_s, ts),
                delivery_service_duration=int(ceil_int(drop.service_s, ts)),
                amount=_amounts(drop.demand, scales),
                prize=0
                if pick.drop_penalty is None
                else round((pick.drop_penalty + (drop.drop_penalty or 0.0)) * COST_SCALE),
                required=pick.drop_penalty is None,
                name=f"{pick.id}->{drop.id}",
            )
        )
    return clients, client_job, shipments, shipment_pair


def _read_routes(
    problem: RoutingProblem,
    best: pyvrp.Solution,
    members: list[list[int]],
    client_job: list[int],
    shipment_pair: list[tuple[int, int]],
    ts: int,
) -> tuple[list[tuple[int, ...]], list[tuple[float, ...]], list[float], list[float], set[int]]:
    """Routes, arrival times, start and end times per vehicle, and the jobs served."""
    vehicles = problem.vehicles
    routes: list[tuple[int, ...]] = [() for _ in vehicles]
    arrivals: list[tuple[float, ...]] = [() for _ in vehicles]
    starts = [v.shift_start_s for v in vehicles]
    ends = [v.shift_start_s for v in vehicles]
    used = [0] * len(members)
    served: set[int] = set()
    for route in best.routes():
        t = route.vehicle_type()
        v = members[t][used[t]]
        used[t] += 1
        stops, times = [], []
        for act in route.schedule():
            if act.is_depot():
                if 0 < act.trip < route.num_trips():
                    stops.append(RELOAD)
                    times.append(act.start_time / ts)
                continue
            if act.is_client():
                j = client_job[act.idx]
            else:
                p, q = shipment_pair[act.idx]
                j = p if act.is_pickup() else q
            stops.append(j)
            times.append(act.start_time / ts)
            served.add(j)
        start = route.start_time() / ts
        # A trip with no stops (a vehicle that waits at the depot for a released job
        # is given an empty first trip) is no trip: the vehicle leaves after it.
        while stops and stops[0] == RELOAD:
            start = times[0] + vehicles[v].reload_s
            del stops[0], times[0]
        for k in range(len(stops) - 1, 0, -1):
            if stops[k] == RELOAD and stops[k - 1] == RELOAD:
                del stops[k - 1], times[k - 1]
        routes[v], arrivals[v] = tuple(stops), tuple(times)
        starts[v], ends[v] = start, route.end_time() / ts
    return routes, arrivals, starts, ends, served


def _amounts(values: Sequence[float], scales: list[int], floor: bool = False) -> list[int]:
    """Loads as integers in each dimension's scale (see :func:`load_scales`)."""
    rounder = floor_int if floor else ceil_int
    return [int(rounder(x, s)) for x, s in zip(values, scales, strict=True)]


def _tw_late(tw_end_s: float, ts: int) -> int:
    if not np.isfinite(tw_end_s) or tw_end_s * ts > 2**60:
        return int(np.iinfo(np.int64).max)
    return int(floor_int(tw_end_s, ts))


def _warm_start(
    data: pyvrp.ProblemData,
    routes: Sequence[Sequence[int]],
    members: list[list[int]],
    client_job: list[int],
) -> pyvrp.Solution | None:
    """A previous plan as a PyVRP solution.

    None (a cold start) when it cannot be expressed this simply: routes with
    reloads or pickup-and-delivery pairs, or jobs screened out as unserviceable.
    """
    client_of = {j: c for c, j in enumerate(client_job)}
    built = []
    for t, indices in enumerate(members):
        for v in indices:
            route = list(routes[v]) if v < len(routes) else []
            if not route:
                continue
            if any(j not in client_of for j in route):
                return None
            built.append(pyvrp.Route(data, [client_of[j] for j in route], t))
    try:
        return pyvrp.Solution(data, built)
    except (RuntimeError, ValueError):
        return None
