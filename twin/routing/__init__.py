"""Route solvers behind one function.

``solve(problem, backend="ortools", time_limit_s=..., metaheuristic=...)``;
every solution is checked by :func:`check_solution` before it is returned, and a
violation raises: an infeasible plan must never reach the simulation silently.
"""

from __future__ import annotations

from twin.routing.problem import Job, RoutingProblem, RoutingSolution, VehicleSpec, check_solution

__all__ = ["Job", "RoutingProblem", "RoutingSolution", "VehicleSpec", "check_solution", "solve"]


def solve(
    problem: RoutingProblem,
    *,
    backend: str = "ortools",
    time_limit_s: float = 10.0,
    solution_limit: int | None = None,
    metaheuristic: str | None = None,
) -> RoutingSolution:
    """Solve a routing problem and verify the answer independently."""
    if backend != "ortools":
        raise ValueError(f"unknown routing backend {backend!r}; available: 'ortools'")
    from twin.routing.ortools import solve_ortools

    solution = solve_ortools(
        problem,
        time_limit_s=time_limit_s,
        solution_limit=solution_limit,
        metaheuristic=metaheuristic,
    )
    violations = check_solution(problem, solution)
    if violations:
        raise RuntimeError(
            f"{backend} returned an infeasible solution (a bug): " + "; ".join(violations[:5])
        )
    return solution
