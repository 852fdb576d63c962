"""Route solvers behind one function, with every answer checked independently.

``solve(problem, backend="ortools" | "pyvrp" | "auto", time_limit_s=..., seed=...)``.
OR-Tools (the default) expresses every constraint of :class:`RoutingProblem`;
PyVRP (optional extra) is stronger on the classic VRPTW families and raises
:class:`UnsupportedConstraintError` for what it cannot express; ``"auto"`` picks
PyVRP when it is installed and can express the problem, OR-Tools otherwise.

After solving, time-dependent problems are re-timed with the bucket of each
actual departure (the solvers plan on the buckets' upper envelope, so the plan
stays feasible), costs are recomputed by :func:`evaluate_costs`, dropped jobs
get reasons, and :func:`check_solution` must find nothing: a violation raises,
because an infeasible plan must never reach the simulation silently.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import replace

from twin.routing.check import check_solution, drop_reasons, evaluate_costs, retime
from twin.routing.problem import (
    RELOAD,
    Job,
    RoutingProblem,
    RoutingSolution,
    SolverTimeLimitError,
    UnsupportedConstraintError,
    VehicleSpec,
)

__all__ = [
    "BACKENDS",
    "RELOAD",
    "Job",
    "RoutingProblem",
    "RoutingSolution",
    "SolverTimeLimitError",
    "UnsupportedConstraintError",
    "VehicleSpec",
    "binding_releases",
    "check_solution",
    "evaluate_costs",
    "pyvrp_available",
    "solve",
]

BACKENDS = ("ortools", "pyvrp", "auto")


def pyvrp_available() -> bool:
    """True when the optional PyVRP backend is installed."""
    return importlib.util.find_spec("pyvrp") is not None


def solve(
    problem: RoutingProblem,
    *,
    backend: str = "ortools",
    time_limit_s: float = 10.0,
    seed: int = 0,
    solution_limit: int | None = None,
    iterations: int | None = None,
    metaheuristic: str | None = None,
    initial_routes: Sequence[Sequence[int]] | None = None,
) -> RoutingSolution:
    """Solve a routing problem and verify the answer independently.

    ``solution_limit`` and ``metaheuristic`` tune OR-Tools; ``iterations`` and
    ``seed`` tune PyVRP (an iteration cap makes its result machine-independent).
    ``initial_routes`` (job indices per vehicle, :data:`RELOAD` between trips)
    warm-starts either backend from a previous plan.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown routing backend {backend!r}; choose one of {BACKENDS}")
    if not problem.jobs or not problem.vehicles:
        return finish(problem, _nothing_to_route(problem))
    released = binding_releases(problem)
    if backend == "auto":
        backend = "ortools"
        if pyvrp_available():
            from twin.routing.pyvrp import unsupported

            if not unsupported(problem):
                backend = "pyvrp"
    if backend == "pyvrp":
        if not pyvrp_available():
            raise UnsupportedConstraintError(
                "the pyvrp backend is not installed: pip install 'twin[pyvrp]'"
            )
        from twin.routing.pyvrp import solve_pyvrp

        solution = solve_pyvrp(
            problem,
            time_limit_s=time_limit_s,
            iterations=iterations,
            seed=seed,
            initial_routes=initial_routes,
        )
    else:
        if released:
            raise UnsupportedConstraintError(
                f"{released} jobs have release times (orders planned before they exist); "
                "only backend='pyvrp' routes them"
            )
        from twin.routing.ortools import solve_ortools

        try:
            solution = solve_ortools(
                problem,
                time_limit_s=time_limit_s,
                solution_limit=solution_limit,
                metaheuristic=metaheuristic,
                initial_routes=initial_routes,
            )
        except SolverTimeLimitError:
            if any(j.drop_penalty is None for j in problem.jobs):
                raise
            # Nothing planned, and said so: the caller's warnings report the capped
            # solve and the servable jobs it dropped, instead of a traceback.
            empty = _nothing_to_route(problem)
            solution = replace(empty, solver="ortools", stats={"time_limit_hit": 1.0})
    return finish(problem, solution)


def binding_releases(problem: RoutingProblem) -> int:
    """Jobs whose release is later than every vehicle's start: the ones it constrains."""
    earliest = min((v.shift_start_s for v in problem.vehicles), default=0.0)
    return sum(1 for j in problem.jobs if j.release_s > earliest)


def _nothing_to_route(problem: RoutingProblem) -> RoutingSolution:
    """No jobs or no vehicles: every job dropped (none may be required)."""
    if any(j.drop_penalty is None for j in problem.jobs):
        raise RuntimeError("required jobs but no vehicles to serve them")
    idle = tuple(() for _ in problem.vehicles)
    return RoutingSolution(
        routes=idle,
        arrival_s=idle,
        start_s=tuple(v.shift_start_s for v in problem.vehicles),
        end_s=tuple(v.shift_start_s for v in problem.vehicles),
        dropped=tuple(range(len(problem.jobs))),
        cost=0.0,
        solver="none",
    )


def finish(problem: RoutingProblem, solution: RoutingSolution) -> RoutingSolution:
    """Re-time, cost, explain drops and check a backend's raw solution."""
    if problem.time_dependent and not any(v.breaks for v in problem.vehicles):
        timed = [
            retime(problem, v, route, start)
            for v, (route, start) in enumerate(zip(solution.routes, solution.start_s, strict=True))
        ]
        solution = replace(
            solution,
            arrival_s=tuple(t for t, _ in timed),
            end_s=tuple(
                end if route else start
                for (_, end), route, start in zip(
                    timed, solution.routes, solution.start_s, strict=True
                )
            ),
        )
    if not solution.breaks:
        solution = replace(solution, breaks=tuple(() for _ in problem.vehicles))
    violations = check_solution(problem, solution)
    if violations:
        raise RuntimeError(
            f"{solution.solver} returned an infeasible solution (a bug in twin's model "
            f"of it): " + "; ".join(violations[:5])
        )
    costs = evaluate_costs(problem, solution)
    return replace(
        solution,
        cost=costs["total"],
        costs=costs,
        stats={**solution.stats, "solver_objective": solution.cost},
        dropped_reasons=drop_reasons(problem, solution.dropped),
    )
