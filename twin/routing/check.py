"""Independent checks and evaluation of routing solutions, in real arithmetic.

Solvers work in scaled integers and each has its own model of the problem; the
functions here re-derive everything from the :class:`RoutingProblem` alone, so a
modelling slip in a backend shows up as a violation instead of a plan the
simulation would quietly execute.

- :func:`check_solution` lists every violated constraint (empty = feasible).
- :func:`evaluate_costs` recomputes the objective's parts.
- :func:`retime` recomputes a route's earliest timetable (used for time-dependent
  travel, where solvers plan on the upper envelope of the buckets).
- :func:`drop_reasons` says why each dropped job was left out.
"""

from __future__ import annotations

import numpy as np

from twin.routing.problem import RELOAD, RoutingProblem, RoutingSolution, VehicleSpec

__all__ = ["check_solution", "drop_reasons", "evaluate_costs", "retime", "unserviceable"]

_EPS = 1e-6


def _tol(*values: float) -> float:
    return _EPS * max(1.0, *(abs(v) for v in values))


def _location(problem: RoutingProblem, spec: VehicleSpec, entry: int) -> int:
    return spec.start_location if entry == RELOAD else problem.jobs[entry].location


def _service(problem: RoutingProblem, spec: VehicleSpec, entry: int) -> float:
    return spec.reload_s if entry == RELOAD else problem.jobs[entry].service_s


def check_solution(problem: RoutingProblem, solution: RoutingSolution) -> list[str]:
    """Every constraint the solution violates, as readable sentences."""
    out: list[str] = []
    jobs, vehicles = problem.jobs, problem.vehicles
    if len(solution.routes) != len(vehicles):
        return [f"{len(solution.routes)} routes for {len(vehicles)} vehicles"]
    where: dict[int, tuple[int, int, int]] = {}  # job -> (vehicle, trip, position)
    for v, route in enumerate(solution.routes):
        trip = 0
        for k, j in enumerate(route):
            if j == RELOAD:
                trip += 1
                continue
            if not 0 <= j < len(jobs):
                out.append(f"vehicle {vehicles[v].id} visits unknown job index {j}")
                continue
            if j in where:
                out.append(f"job {jobs[j].id} served twice")
            where[j] = (v, trip, k)
    dropped = set(solution.dropped)
    for j in dropped & set(where):
        out.append(f"job {jobs[j].id} both routed and dropped")
    missing = set(range(len(jobs))) - set(where) - dropped
    if missing:
        out.append(f"jobs neither routed nor dropped: {[jobs[j].id for j in sorted(missing)[:5]]}")
    for j in sorted(dropped):
        if jobs[j].drop_penalty is None:
            out.append(f"required job {jobs[j].id} was dropped")
    for p, q in problem.pairs:
        if (p in where) != (q in where):
            out.append(f"pair {jobs[p].id} -> {jobs[q].id}: only one half is served")
        elif p in where:
            vp, tp, kp = where[p]
            vq, tq, kq = where[q]
            if (vp, tp) != (vq, tq):
                out.append(f"pair {jobs[p].id} -> {jobs[q].id} split across vehicles or trips")
            elif kp > kq:
                out.append(f"pair {jobs[p].id} -> {jobs[q].id}: delivered before picked up")
    for v in range(len(vehicles)):
        if any(j != RELOAD for j in solution.routes[v]):
            out.extend(_check_route(problem, solution, v))
    return out


def _check_route(problem: RoutingProblem, solution: RoutingSolution, v: int) -> list[str]:
    out: list[str] = []
    spec = problem.vehicles[v]
    route, times = solution.routes[v], solution.arrival_s[v]
    if len(times) != len(route):
        return [f"vehicle {spec.id}: {len(times)} times for {len(route)} stops"]
    breaks = sorted(solution.breaks[v]) if solution.breaks else []
    start, end = solution.start_s[v], solution.end_s[v]
    if start + _tol(start) < spec.shift_start_s:
        out.append(
            f"vehicle {spec.id} starts at {start:.1f}, before its shift {spec.shift_start_s}"
        )
    # Skills and trips.
    for j in route:
        if j != RELOAD and not problem.jobs[j].skills <= spec.skills:
            out.append(
                f"vehicle {spec.id} lacks skills {set(problem.jobs[j].skills - spec.skills)}"
            )
    n_trips = 1 + sum(1 for j in route if j == RELOAD)
    if n_trips > spec.max_trips:
        out.append(f"vehicle {spec.id} makes {n_trips} trips, more than {spec.max_trips}")
    trip_jobs: list[list[int]] = [[]]
    for j in route:
        if j == RELOAD:
            trip_jobs.append([])
        else:
            trip_jobs[-1].append(j)
    out += _check_loads(problem, spec, trip_jobs)
    out += _check_releases(problem, spec, route, times, start, trip_jobs)
    # Timetable: travel (bucket of departure), breaks in the gaps, windows, limits.
    here, ready, driving = spec.start_location, start, 0.0
    busy: list[tuple[float, float]] = []
    for entry, at in zip(route, times, strict=True):
        loc = _location(problem, spec, entry)
        leg = problem.travel_s(here, loc, ready, spec.speed_factor)
        driving += leg
        paused = sum(d for b, d in breaks if ready - _tol(ready) <= b < at)
        if at + _tol(at) < ready + leg + paused:
            name = "the depot (reload)" if entry == RELOAD else problem.jobs[entry].id
            out.append(
                f"vehicle {spec.id} reaches {name} at {ready + leg + paused:.1f}, "
                f"plan says {at:.1f}"
            )
        if entry != RELOAD:
            job = problem.jobs[entry]
            if at + _tol(at) < job.tw_start_s:
                out.append(f"vehicle {spec.id} serves {job.id} before its window opens")
            if job.hard_window and at > job.tw_end_s + _tol(job.tw_end_s):
                out.append(
                    f"vehicle {spec.id} serves {job.id} at {at:.1f}, after its hard "
                    f"window closes at {job.tw_end_s:.1f}"
                )
        service = _service(problem, spec, entry)
        busy.append((at, at + service))
        here, ready = loc, at + service
    leg = problem.travel_s(here, spec.end_location, ready, spec.speed_factor)
    driving += leg
    paused = sum(d for b, d in breaks if ready - _tol(ready) <= b < end)
    if end + _tol(end) < ready + leg + paused:
        out.append(f"vehicle {spec.id} returns at {ready + leg + paused:.1f}, plan says {end:.1f}")
    limit = spec.shift_start_s + spec.max_working_s
    if end > limit + _tol(limit):
        out.append(f"vehicle {spec.id} returns at {end:.1f}, after its duty limit {limit:.1f}")
    if spec.max_driving_s is not None and driving > spec.max_driving_s + _tol(driving):
        out.append(
            f"vehicle {spec.id} drives {driving / 3600:.2f} h, over its limit "
            f"{spec.max_driving_s / 3600:.2f} h"
        )
    # Breaks: each required one within its window (unless the route is over before
    # it opens), long enough, and never during a service.
    for k, (earliest, latest, duration) in enumerate(spec.breaks):
        if end <= earliest + _tol(earliest):
            continue
        if k >= len(breaks):
            out.append(f"vehicle {spec.id} misses break {k + 1}")
            continue
        b, d = breaks[k]
        if not earliest - _tol(earliest) <= b <= latest + _tol(latest):
            out.append(f"vehicle {spec.id} break {k + 1} at {b:.1f}, outside its window")
        if b + _tol(b) < start:
            out.append(f"vehicle {spec.id} break {k + 1} at {b:.1f}, before the route starts")
        if d + _tol(d) < duration:
            out.append(f"vehicle {spec.id} break {k + 1} lasts {d:.1f} s < {duration:.1f} s")
        for s0, s1 in busy:
            if b < s1 - _tol(s1) and s0 < b + d - _tol(s0):
                out.append(f"vehicle {spec.id} break {k + 1} overlaps a service")
                break
    return out


def evaluate_costs(problem: RoutingProblem, solution: RoutingSolution) -> dict[str, float]:
    """The objective's parts, recomputed from the problem (currency units).

    ``balance`` prices the largest workload (driving plus service) of any vehicle.
    """
    parts = dict.fromkeys(
        ("fixed", "distance", "time", "overtime", "lateness", "drops", "balance"), 0.0
    )
    distance_m = driving_s = 0.0
    workloads: list[float] = []
    for v, spec in enumerate(problem.vehicles):
        route = solution.routes[v]
        if not any(j != RELOAD for j in route):
            continue
        start, end = solution.start_s[v], solution.end_s[v]
        here, ready = spec.start_location, start
        metres = work = 0.0
        for entry, at in zip(route, solution.arrival_s[v], strict=True):
            loc = _location(problem, spec, entry)
            metres += float(problem.distance_m[here, loc])
            leg = problem.travel_s(here, loc, ready, spec.speed_factor)
            work += leg + _service(problem, spec, entry)
            if entry != RELOAD:
                job = problem.jobs[entry]
                if not job.hard_window:
                    parts["lateness"] += (
                        max(0.0, at - job.tw_end_s) / 3600 * problem.late_cost_per_h
                    )
            here, ready = loc, at + _service(problem, spec, entry)
        metres += float(problem.distance_m[here, spec.end_location])
        work += problem.travel_s(here, spec.end_location, ready, spec.speed_factor)
        driving_s += work - sum(_service(problem, spec, e) for e in route)
        workloads.append(work)
        distance_m += metres
        parts["fixed"] += spec.fixed_cost
        parts["distance"] += metres / 1000.0 * spec.cost_per_km
        parts["time"] += (end - start) / 3600 * spec.cost_per_h
        parts["overtime"] += max(0.0, end - spec.shift_end_s) / 3600 * spec.overtime_cost_per_h
    parts["drops"] = sum(problem.jobs[j].drop_penalty or 0.0 for j in solution.dropped)
    if workloads and problem.balance_cost_per_h:
        parts["balance"] = max(workloads) / 3600 * problem.balance_cost_per_h
    parts["total"] = sum(parts.values())
    parts["distance_m"] = distance_m
    parts["driving_s"] = driving_s
    return parts


def retime(
    problem: RoutingProblem, v: int, route: tuple[int, ...], start_s: float
) -> tuple[tuple[float, ...], float]:
    """Earliest timetable of ``route`` for vehicle ``v`` leaving at ``start_s``.

    Each leg takes the time of the bucket it departs in; service starts when the
    vehicle is there and the window is open. Returns (service starts, return time).
    """
    spec = problem.vehicles[v]
    here, t = spec.start_location, start_s
    starts: list[float] = []
    for entry in route:
        loc = _location(problem, spec, entry)
        t += problem.travel_s(here, loc, t, spec.speed_factor)
        if entry != RELOAD:
            t = max(t, problem.jobs[entry].tw_start_s)
        starts.append(t)
        here, t = loc, t + _service(problem, spec, entry)
    t += problem.travel_s(here, spec.end_location, t, spec.speed_factor)
    return tuple(starts), t


def _check_loads(
    problem: RoutingProblem, spec: VehicleSpec, trip_jobs: list[list[int]]
) -> list[str]:
    """The load along every trip stays within the capacity in every dimension."""
    out = []
    cap = np.asarray(spec.capacity, dtype=float)
    paired = problem.paired_deliveries()
    for t, trip in enumerate(trip_jobs):
        load = sum(
            (np.asarray(problem.jobs[j].demand, float) for j in trip if j not in paired),
            np.zeros(len(cap)),
        )
        peak = load.copy()
        for j in trip:
            load = load + problem.job_pickup(j) - np.asarray(problem.jobs[j].demand, float)
            peak = np.maximum(peak, load)
        if (peak > cap + 1e-9).any():
            out.append(f"vehicle {spec.id} trip {t + 1} over capacity: {peak.tolist()} > {cap}")
    return out


def _check_releases(
    problem: RoutingProblem,
    spec: VehicleSpec,
    route: tuple[int, ...],
    times: tuple[float, ...],
    start: float,
    trip_jobs: list[list[int]],
) -> list[str]:
    """Each trip leaves the depot (at the start, or after a reload) no earlier than
    the jobs it serves are released."""
    leaves = [start]
    for entry, at in zip(route, times, strict=True):
        if entry == RELOAD:
            leaves.append(at + _service(problem, spec, entry))
    return [
        f"vehicle {spec.id} leaves for {problem.jobs[j].id} at {leaves[t]:.1f}, "
        f"before its release at {problem.jobs[j].release_s:.1f}"
        for t, trip in enumerate(trip_jobs)
        for j in trip
        if leaves[t] + _tol(leaves[t]) < problem.jobs[j].release_s
    ]


def unserviceable(problem: RoutingProblem, j: int) -> str | None:
    """Why no vehicle could serve job ``j`` even on a route of its own (None: one could).

    Pickup-and-delivery pairs are judged by each half on its own.
    """
    d = problem.planning_durations
    job = problem.jobs[j]
    able = [v for v in problem.vehicles if job.skills <= v.skills]
    if not able:
        return f"no vehicle has the skills {sorted(job.skills)}"
    size = np.maximum(np.asarray(job.demand, float), problem.job_pickup(j))
    fits = [v for v in able if (size <= np.asarray(v.capacity) + 1e-9).all()]
    if not fits:
        return "larger than the capacity of every vehicle that may serve it"
    for v in fits:
        arrive = max(
            max(v.shift_start_s, job.release_s)
            + d[v.start_location, job.location] / v.speed_factor,
            job.tw_start_s,
        )
        back = arrive + job.service_s + d[job.location, v.end_location] / v.speed_factor
        on_time = arrive <= job.tw_end_s + _tol(job.tw_end_s) or not job.hard_window
        if on_time and back <= v.shift_start_s + v.max_working_s + _tol(back):
            return None
    return "cannot be served within its window and the drivers' duty limits"


def drop_reasons(problem: RoutingProblem, dropped: tuple[int, ...]) -> dict[int, str]:
    """Why each dropped job was left out, in words an operator can act on."""
    return {
        j: unserviceable(problem, j)
        or "serving it would cost more than its drop penalty (fleet time or capacity used up)"
        for j in dropped
    }
