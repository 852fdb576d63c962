"""Routing problems and solutions as plain data, independent of any solver.

A :class:`RoutingProblem` holds travel matrices between *locations*, the
vehicles (start/end location, capacity, shift, break, costs) and the jobs (a
location, a demand in several dimensions, a time window, a service time, a drop
penalty). Solvers read it and return a :class:`RoutingSolution`; the engine and
:func:`check_solution` never depend on which solver produced it.

Times are seconds since the start of day 0, distances metres, costs currency units.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Job", "RoutingProblem", "RoutingSolution", "VehicleSpec", "check_solution"]


@dataclass(frozen=True)
class Job:
    """One stop to serve. ``demand`` is (parcels, volume_m3, weight_kg)."""

    id: str
    location: int
    demand: tuple[float, float, float]
    tw_start_s: float
    tw_end_s: float
    service_s: float
    drop_penalty: float = 10_000.0


@dataclass(frozen=True)
class VehicleSpec:
    """A vehicle and its driver's shift for the planning horizon."""

    id: str
    start_location: int
    end_location: int
    capacity: tuple[float, float, float]
    shift_start_s: float
    shift_end_s: float
    #: Hard limit: the route must be back by shift_start_s + max_working_s.
    max_working_s: float
    fixed_cost: float = 0.0
    cost_per_km: float = 0.0
    cost_per_h: float = 0.0
    overtime_cost_per_h: float = 0.0
    speed_factor: float = 1.0
    #: Mandatory breaks: (earliest start, latest start, duration) each, seconds.
    breaks: tuple[tuple[float, float, float], ...] = ()


@dataclass(frozen=True)
class RoutingProblem:
    """Matrices between locations, vehicles and jobs."""

    duration_s: np.ndarray
    distance_m: np.ndarray
    vehicles: tuple[VehicleSpec, ...]
    jobs: tuple[Job, ...]
    #: Penalty per second of arrival after a job's window end (soft windows).
    late_cost_per_h: float = 30.0

    def __post_init__(self) -> None:
        n = self.duration_s.shape[0]
        if self.duration_s.shape != (n, n) or self.distance_m.shape != (n, n):
            raise ValueError("duration_s and distance_m must be square and of equal size")
        for job in self.jobs:
            if not 0 <= job.location < n:
                raise ValueError(f"job {job.id} has location {job.location} outside the matrix")
        if not np.isfinite(self.duration_s).all():
            raise ValueError("duration_s has unreachable pairs; remove those jobs first")


@dataclass(frozen=True)
class RoutingSolution:
    """Routes as job indices per vehicle, with planned times and a cost breakdown."""

    routes: tuple[tuple[int, ...], ...]
    arrival_s: tuple[tuple[float, ...], ...]
    start_s: tuple[float, ...]
    end_s: tuple[float, ...]
    dropped: tuple[int, ...]
    cost: float
    solver: str
    stats: dict[str, float] = field(default_factory=dict)


def check_solution(problem: RoutingProblem, solution: RoutingSolution) -> list[str]:
    """Independent feasibility check; returns the violations (empty = feasible).

    Checks: every job served once or dropped, capacity in every dimension, routes
    end within the hard working limit, arrivals consistent with travel + service
    times (waiting allowed), no service before a window opens. Solvers work in
    whole seconds, so each leg may be off by half a second: the tolerance grows
    by that much per stop.
    """
    problems: list[str] = []
    seen: dict[int, int] = {}
    for v, route in enumerate(solution.routes):
        for j in route:
            if j in seen:
                problems.append(f"job {problem.jobs[j].id} on vehicles {seen[j]} and {v}")
            seen[j] = v
    missing = set(range(len(problem.jobs))) - set(seen) - set(solution.dropped)
    if missing:
        problems.append(f"jobs neither routed nor dropped: {sorted(missing)[:5]}")
    for v, (spec, route) in enumerate(zip(problem.vehicles, solution.routes, strict=True)):
        if not route:
            continue
        load = np.sum([problem.jobs[j].demand for j in route], axis=0)
        if (load > np.asarray(spec.capacity) + 1e-9).any():
            problems.append(f"vehicle {spec.id} over capacity: {load.tolist()} > {spec.capacity}")
        t = solution.start_s[v]
        here = spec.start_location
        for k, (j, planned) in enumerate(zip(route, solution.arrival_s[v], strict=True)):
            job = problem.jobs[j]
            tolerance = 1.0 + 0.5 * (k + 1)
            t = t + problem.duration_s[here, job.location] / spec.speed_factor
            if planned + tolerance < t:
                problems.append(
                    f"vehicle {spec.id} reaches {job.id} at {t:.0f}, plan says {planned:.0f}"
                )
            t = max(planned, t)
            if t + tolerance < job.tw_start_s:
                problems.append(f"vehicle {spec.id} serves {job.id} before its window opens")
            t += job.service_s
            here = job.location
        t += problem.duration_s[here, spec.end_location] / spec.speed_factor
        if t > spec.shift_start_s + spec.max_working_s + 1.0 + 0.5 * len(route):
            problems.append(f"vehicle {spec.id} returns at {t:.0f}, after its working limit")
    return problems
