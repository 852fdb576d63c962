"""Capacitated facility location with a service constraint, solved by OR-Tools CP-SAT.

The problem (one per ``k``): choose ``k`` new sites among the candidates (sites
marked ``existing`` are open anyway and not counted), and assign every demand
point to exactly one open site (single sourcing: an area is served from one
building), so as to minimise

    sum_j fixed_cost[j] * open[j]  +  sum_ij demand[i] * cost[j, i] * assign[j, i]

subject to each site's capacity (orders per day; optionally only a share of a
point's demand loads its site, as at a parcel locker) and a service constraint: at
least ``service_share`` of all demand is assigned to a site from which it lies
within the service time (``within[j, i]`` is the share of point ``i``'s demand
within that time of site ``j``; demand points are usually clusters of
customers, hence a share rather than a yes/no).

This is the p-median problem when capacities are infinite and fixed costs
equal, and the capacitated facility location problem otherwise. CP-SAT needs
integers: money is scaled to cents and demand to thousandths of an order,
which is far below any figure a planner reads. One search worker and a fixed
seed make the solution repeatable.

This module is the edge to OR-Tools' CP-SAT: it knows nothing of maps or
scenarios (:mod:`twin.sites` builds the problem).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from ortools.sat.python import cp_model

__all__ = ["FacilityProblem", "FacilitySolution", "evaluate", "solve"]

_MONEY = 100  # cents
_ORDERS = 1000  # thousandths of an order


@dataclass(frozen=True)
class FacilityProblem:
    """Sites ``j`` (rows) and demand points ``i`` (columns).

    Parameters
    ----------
    demand : (n,) array
        Orders per day at each demand point.
    cost : (m, n) array
        Cost ($) per order of serving point ``i`` from site ``j``; ``inf`` where
        the site cannot reach the point.
    fixed_cost : (m,) array
        Cost per day of having the site open ($).
    capacity : (m,) array
        Orders per day a site can handle (``inf``: no limit).
    existing : (m,) bool array
        Sites open whatever ``k`` is (a hub already operating).
    within : (m, n) array, optional
        Share of point ``i``'s demand within the service time of site ``j``.
    service_share : float
        Least share of all demand that must be served within the service time.
    load : (m, n) array, optional
        Share of point ``i``'s demand that counts against site ``j``'s capacity
        when ``i`` is assigned to ``j`` (default: all of it). A parcel locker
        holds only the parcels customers choose to send there.
    """

    demand: np.ndarray
    cost: np.ndarray
    fixed_cost: np.ndarray
    capacity: np.ndarray
    existing: np.ndarray
    within: np.ndarray | None = None
    service_share: float = 0.0
    load: np.ndarray | None = None

    @property
    def n_sites(self) -> int:
        return len(self.fixed_cost)

    @property
    def n_points(self) -> int:
        return len(self.demand)


@dataclass(frozen=True)
class FacilitySolution:
    """The sites opened for one ``k`` and the assignment of demand to them."""

    k: int
    status: str  # optimal | feasible | infeasible | unknown
    open_sites: tuple[int, ...] = ()
    assignment: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    fixed_cost: float = math.nan
    delivery_cost: float = math.nan
    service_share: float = math.nan
    #: Proven lower bound on the total cost (equal to it when optimal).
    bound: float = math.nan
    #: The wall-clock safety cap, not the work budget, ended the search: this
    #: answer may differ on a faster or a quieter machine.
    clock_stopped: bool = False

    @property
    def total_cost(self) -> float:
        return self.fixed_cost + self.delivery_cost

    @property
    def feasible(self) -> bool:
        return self.status in ("optimal", "feasible")


def evaluate(
    problem: FacilityProblem, open_sites: tuple[int, ...], assignment: np.ndarray
) -> dict[str, float]:
    """Fixed cost, delivery cost and service share of a given solution."""
    p = problem
    cols = np.arange(p.n_points)
    fixed = float(p.fixed_cost[list(open_sites)].sum()) if open_sites else 0.0
    delivery = float((p.demand * p.cost[assignment, cols]).sum())
    share = (
        float((p.demand * p.within[assignment, cols]).sum() / p.demand.sum())
        if p.within is not None and p.demand.sum() > 0
        else math.nan
    )
    return {"fixed_cost": fixed, "delivery_cost": delivery, "service_share": share}


def solve(
    problem: FacilityProblem,
    k: int,
    *,
    work_limit: float = 60.0,
    time_limit_s: float = 600.0,
    seed: int = 0,
) -> FacilitySolution:
    """Open ``k`` new sites (besides the existing ones) at least total cost.

    The search stops on its work budget: ``work_limit`` is CP-SAT's
    deterministic time (a count of work, in units of roughly a second on a
    desktop machine) with one search worker, so the same problem gets the same
    answer on any machine under any load. ``time_limit_s`` is a safety net
    only; when it ends the search first, the solution says so
    (``clock_stopped``).

    Returns a solution with ``status`` "infeasible" (and nothing open) when no
    choice of ``k`` sites can serve all demand within capacity and the service
    constraint; "feasible" when a limit stopped the proof of optimality.
    """
    p = problem
    new = np.flatnonzero(~p.existing)
    if not 0 <= k <= len(new):
        raise ValueError(f"k={k}: there are {len(new)} candidate sites besides the existing ones")
    model = cp_model.CpModel()
    is_open = [
        model.new_constant(1) if p.existing[j] else model.new_bool_var(f"open{j}")
        for j in range(p.n_sites)
    ]
    model.add(sum(is_open[j] for j in new) == k)
    demand = np.round(p.demand * _ORDERS).astype(np.int64)
    x: dict[tuple[int, int], cp_model.IntVar] = {}
    for i in range(p.n_points):
        options = [j for j in range(p.n_sites) if math.isfinite(p.cost[j, i])]
        if not options:
            return FacilitySolution(k=k, status="infeasible")
        for j in options:
            x[j, i] = model.new_bool_var(f"x{j}_{i}")
            model.add_implication(x[j, i], is_open[j])
        model.add_exactly_one(x[j, i] for j in options)
    served_by: dict[int, list[tuple[int, cp_model.IntVar]]] = {}
    for (j, i), v in x.items():
        served_by.setdefault(j, []).append((i, v))
    for j, pairs in served_by.items():
        if math.isfinite(p.capacity[j]):
            share = p.load[j] if p.load is not None else np.ones(p.n_points)
            load = sum(round(p.demand[i] * share[i] * _ORDERS) * v for i, v in pairs)
            model.add(load <= math.floor(p.capacity[j] * _ORDERS))
    if p.within is not None and p.service_share > 0:
        served = sum(round(p.demand[i] * p.within[j, i] * _ORDERS) * v for (j, i), v in x.items())
        model.add(served >= math.ceil(p.service_share * int(demand.sum())))
    fixed = [round(p.fixed_cost[j] * _MONEY) for j in range(p.n_sites)]
    model.minimize(
        sum(fixed[j] * is_open[j] for j in new)
        + sum(round(p.demand[i] * p.cost[j, i] * _MONEY) * v for (j, i), v in x.items())
    )
    solver = cp_model.CpSolver()
    solver.parameters.max_deterministic_time = work_limit
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_search_workers = 1
    solver.parameters.random_seed = seed
    code = solver.solve(model)
    statuses: dict[object, str] = {
        cp_model.OPTIMAL: "optimal",
        cp_model.FEASIBLE: "feasible",
        cp_model.INFEASIBLE: "infeasible",
    }
    status = statuses.get(code, "unknown")
    clock_stopped = code != cp_model.OPTIMAL and solver.wall_time >= 0.98 * time_limit_s
    if status not in ("optimal", "feasible"):
        return FacilitySolution(k=k, status=status, clock_stopped=clock_stopped)
    opened = tuple(j for j in range(p.n_sites) if solver.value(is_open[j]))
    assignment = np.full(p.n_points, -1, dtype=np.int64)
    for (j, i), v in x.items():
        if solver.value(v):
            assignment[i] = j
    existing_fixed = float(p.fixed_cost[p.existing].sum())
    figures = evaluate(p, opened, assignment)
    return FacilitySolution(
        k=k,
        status=status,
        open_sites=opened,
        assignment=assignment,
        fixed_cost=figures["fixed_cost"],
        delivery_cost=figures["delivery_cost"],
        service_share=figures["service_share"],
        bound=solver.best_objective_bound / _MONEY + existing_fixed,
        clock_stopped=clock_stopped,
    )
