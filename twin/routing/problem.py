"""Routing problems and solutions as plain data, independent of any solver.

A :class:`RoutingProblem` holds travel matrices between *locations* (one matrix,
or one per departure-time bucket), the vehicles (start/end depot, capacity in
any number of dimensions, shift, hours-of-service limits, breaks, trips, skills,
costs) and the jobs (a location, what is delivered and what is picked up there,
a time window that is hard or soft, a service time, a drop penalty or none).
Pickup-and-delivery pairs carry goods from one job to another on one vehicle.

Solvers read it and return a :class:`RoutingSolution`; the engine and the
independent checker (:mod:`twin.routing.check`) never depend on which solver
produced it.

Times are seconds since the start of day 0, distances metres, costs currency units.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

__all__ = [
    "RELOAD",
    "Job",
    "RoutingProblem",
    "RoutingSolution",
    "SolverTimeLimitError",
    "UnsupportedConstraintError",
    "VehicleSpec",
]

#: Marker in a route: go back to the vehicle's start depot and reload (multi-trip).
RELOAD = -1


class UnsupportedConstraintError(ValueError):
    """A backend cannot express a constraint of the problem (never ignored silently)."""


class SolverTimeLimitError(RuntimeError):
    """The wall-clock safety cap stopped a solver before it found any solution."""


@dataclass(frozen=True)
class Job:
    """One stop to serve.

    ``demand`` is what is delivered here: loaded at the depot, or at the paired
    pickup when this job is the delivery half of a pair. ``pickup`` is what is
    collected here: carried back to the depot (a customer return) or to the
    paired delivery. Both have one entry per capacity dimension.
    """

    id: str
    location: int
    demand: tuple[float, ...]
    tw_start_s: float
    tw_end_s: float
    service_s: float
    #: Cost of not serving the job; ``None`` means it must be served.
    drop_penalty: float | None = 10_000.0
    pickup: tuple[float, ...] = ()
    #: Hard: service may not start after ``tw_end_s``. Soft: late starts cost
    #: ``RoutingProblem.late_cost_per_h``.
    hard_window: bool = False
    #: Skills (or modes) a vehicle needs to serve this job.
    skills: frozenset[str] = frozenset()
    #: Release: the trip that serves the job may not leave the depot earlier (an
    #: order that does not exist yet, planned for when it will). 0: no release.
    release_s: float = 0.0


@dataclass(frozen=True)
class VehicleSpec:
    """A vehicle and its driver's shift for the planning horizon."""

    id: str
    start_location: int
    end_location: int
    capacity: tuple[float, ...]
    shift_start_s: float
    #: Soft end of the shift: later returns cost ``overtime_cost_per_h``.
    shift_end_s: float
    #: Hard duty limit: the route must be back by shift_start_s + max_working_s.
    max_working_s: float
    fixed_cost: float = 0.0
    cost_per_km: float = 0.0
    cost_per_h: float = 0.0
    overtime_cost_per_h: float = 0.0
    #: Travel times are divided by this (a van at 1.0, a slower truck below 1).
    speed_factor: float = 1.0
    #: Mandatory breaks: (earliest start, latest start, duration) each, seconds.
    breaks: tuple[tuple[float, float, float], ...] = ()
    #: Hours of service: most time spent driving on this route (None: no limit).
    max_driving_s: float | None = None
    #: Multi-trip: trips allowed from the start depot; between trips the vehicle
    #: reloads there, which takes ``reload_s``.
    max_trips: int = 1
    reload_s: float = 0.0
    skills: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RoutingProblem:
    """Matrices between locations, vehicles, jobs and the objective's weights.

    ``duration_s`` is (n, n), or (B, n, n) for time-dependent travel: matrix
    ``b`` holds the times of legs that *depart* in ``[b, b + 1) * bucket_s``
    (the last one also holds every later departure).
    """

    duration_s: np.ndarray
    distance_m: np.ndarray
    vehicles: tuple[VehicleSpec, ...]
    jobs: tuple[Job, ...]
    #: Cost per hour of lateness at jobs with soft windows.
    late_cost_per_h: float = 30.0
    #: Pickup-and-delivery pairs: (pickup job index, delivery job index).
    pairs: tuple[tuple[int, int], ...] = ()
    #: Workload balance: cost per hour of the largest workload (driving plus
    #: service time) of any vehicle, so plans that pile work on one driver cost more.
    balance_cost_per_h: float = 0.0
    bucket_s: float = 3600.0

    def __post_init__(self) -> None:
        d = self.duration_s
        n = self.distance_m.shape[0]
        if self.distance_m.shape != (n, n) or d.shape[-2:] != (n, n) or d.ndim not in (2, 3):
            raise ValueError(
                "distance_m must be (n, n) and duration_s (n, n) or (buckets, n, n), "
                f"got {self.distance_m.shape} and {d.shape}"
            )
        if not np.isfinite(d).all() or not np.isfinite(self.distance_m).all():
            raise ValueError("the matrices have unreachable pairs; remove those jobs first")
        if self.bucket_s <= 0:
            raise ValueError("bucket_s must be positive")
        dims = {len(v.capacity) for v in self.vehicles} | {len(j.demand) for j in self.jobs}
        dims |= {len(j.pickup) for j in self.jobs if j.pickup}
        if len(dims) > 1:
            raise ValueError(
                f"capacity, demand and pickup must all have the same number of dimensions, "
                f"got {sorted(dims)}"
            )
        for job in self.jobs:
            if not 0 <= job.location < n:
                raise ValueError(f"job {job.id} has location {job.location} outside the matrix")
            if job.tw_end_s < job.tw_start_s:
                raise ValueError(f"job {job.id}: window ends before it starts")
        for v in self.vehicles:
            for loc in (v.start_location, v.end_location):
                if not 0 <= loc < n:
                    raise ValueError(f"vehicle {v.id} has location {loc} outside the matrix")
            if v.max_trips < 1:
                raise ValueError(f"vehicle {v.id}: max_trips must be at least 1")
            if v.speed_factor <= 0:
                raise ValueError(f"vehicle {v.id}: speed_factor must be positive")
        seen: set[int] = set()
        for p, q in self.pairs:
            if not (0 <= p < len(self.jobs) and 0 <= q < len(self.jobs)) or p == q:
                raise ValueError(f"pair ({p}, {q}) does not name two jobs")
            if p in seen or q in seen:
                raise ValueError(f"job in more than one pair: ({p}, {q})")
            seen |= {p, q}
            pick, drop = self.jobs[p], self.jobs[q]
            if not np.allclose(pick.pickup or 0.0, drop.demand):
                raise ValueError(
                    f"pair {pick.id} -> {drop.id}: the pickup's amount {pick.pickup} must "
                    f"equal the delivery's demand {drop.demand}"
                )
            if (pick.drop_penalty is None) != (drop.drop_penalty is None):
                raise ValueError(f"pair {pick.id} -> {drop.id}: both or neither must be required")

    # -- derived views ---------------------------------------------------------------

    @property
    def n_dims(self) -> int:
        if self.vehicles:
            return len(self.vehicles[0].capacity)
        return len(self.jobs[0].demand) if self.jobs else 0

    @property
    def time_dependent(self) -> bool:
        return self.duration_s.ndim == 3 and self.duration_s.shape[0] > 1

    @cached_property
    def planning_durations(self) -> np.ndarray:
        """One (n, n) matrix to optimise on.

        Time-dependent problems are planned on the upper envelope over the
        buckets: every leg takes at most its planned time whenever it departs,
        so a plan built on it stays feasible (hard windows, duty limits) when
        re-timed with the actual bucket of each departure.
        """
        d = self.duration_s
        return d if d.ndim == 2 else d.max(axis=0)

    def travel_s(self, a: int, b: int, depart_s: float, speed_factor: float = 1.0) -> float:
        """Travel time of the leg a -> b departing at ``depart_s``."""
        d = self.duration_s
        if d.ndim == 2:
            return float(d[a, b]) / speed_factor
        k = min(max(int(depart_s // self.bucket_s), 0), d.shape[0] - 1)
        return float(d[k, a, b]) / speed_factor

    def job_pickup(self, j: int) -> np.ndarray:
        job = self.jobs[j]
        return np.asarray(job.pickup if job.pickup else np.zeros(self.n_dims), dtype=float)

    def paired_deliveries(self) -> set[int]:
        """Jobs whose goods come from a paired pickup, not from the depot."""
        return {q for _, q in self.pairs}

    def has_soft_windows(self) -> bool:
        """True when some job's lateness is a cost rather than a constraint."""
        return any(not j.hard_window for j in self.jobs)


@dataclass(frozen=True)
class RoutingSolution:
    """Routes per vehicle (job indices, :data:`RELOAD` between trips) with a timetable.

    ``arrival_s`` gives the planned start of service at each route entry (for a
    reload: the arrival at the depot). ``breaks`` gives each vehicle's planned
    breaks as (start, duration). ``costs`` is the breakdown computed by the
    independent evaluator; ``dropped_reasons`` says why each dropped job was left.
    """

    routes: tuple[tuple[int, ...], ...]
    arrival_s: tuple[tuple[float, ...], ...]
    start_s: tuple[float, ...]
    end_s: tuple[float, ...]
    dropped: tuple[int, ...]
    cost: float
    solver: str
    stats: dict[str, float] = field(default_factory=dict)
    breaks: tuple[tuple[tuple[float, float], ...], ...] = ()
    costs: dict[str, float] = field(default_factory=dict)
    dropped_reasons: dict[int, str] = field(default_factory=dict)

    def trips(self, v: int) -> list[list[int]]:
        """Vehicle ``v``'s route split at reloads into trips of job indices."""
        out: list[list[int]] = [[]]
        for j in self.routes[v]:
            if j == RELOAD:
                out.append([])
            else:
                out[-1].append(j)
        return [t for t in out if t]

    @property
    def n_routes(self) -> int:
        return sum(1 for r in self.routes if any(j != RELOAD for j in r))
