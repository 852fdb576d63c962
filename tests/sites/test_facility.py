"""Facility location: CP-SAT finds the optimum that brute-force enumeration finds."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import numpy as np
import pytest

from twin.sites.facility import FacilityProblem, evaluate, solve


def _instance(seed: int, *, m: int = 5, n: int = 7, share: float = 0.0) -> FacilityProblem:
    rng = np.random.default_rng(seed)
    sites = rng.uniform(0, 10, size=(m, 2))
    points = rng.uniform(0, 10, size=(n, 2))
    dist = np.linalg.norm(sites[:, None, :] - points[None, :, :], axis=2)
    cost = np.round(dist * 0.75, 2)
    cost[rng.random((m, n)) < 0.1] = math.inf  # some sites cannot reach some points
    cost[0, :] = np.round(dist[0] * 0.75, 2)  # the existing site reaches everyone
    demand = rng.integers(1, 9, size=n).astype(float)
    return FacilityProblem(
        demand=demand,
        cost=cost,
        fixed_cost=rng.integers(5, 30, size=m).astype(float),
        capacity=np.where(rng.random(m) < 0.5, rng.integers(8, 25, size=m), np.inf).astype(float),
        existing=np.arange(m) == 0,
        within=(dist <= 4.0).astype(float),
        service_share=share,
    )


def _brute_force(p: FacilityProblem, k: int) -> float:
    """Least total cost over every choice of k new sites and every assignment."""
    best = math.inf
    new = [j for j in range(p.n_sites) if not p.existing[j]]
    cols = np.arange(p.n_points)
    for chosen in itertools.combinations(new, k):
        opened = [j for j in range(p.n_sites) if p.existing[j]] + list(chosen)
        assignments = np.array(list(itertools.product(opened, repeat=p.n_points)))
        cost = (p.demand * p.cost[assignments, cols]).sum(axis=1)
        ok = np.isfinite(cost)
        for j in opened:
            share = p.load[j] if p.load is not None else 1.0
            load = (p.demand * share * (assignments == j)).sum(axis=1)
            ok &= load <= p.capacity[j] + 1e-9
        if p.within is not None and p.service_share > 0:
            served = (p.demand * p.within[assignments, cols]).sum(axis=1)
            ok &= served >= p.service_share * p.demand.sum() - 1e-9
        if ok.any():
            best = min(best, float(cost[ok].min()) + float(p.fixed_cost[opened].sum()))
    return best


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("share", [0.0, 0.6])
def test_cp_sat_finds_the_brute_force_optimum(seed: int, share: float) -> None:
    problem = _instance(seed, share=share)
    for k in (0, 1, 2, 3):
        expected = _brute_force(problem, k)
        found = solve(problem, k, time_limit_s=20)
        if math.isinf(expected):
            assert found.status == "infeasible"
            continue
        assert found.status == "optimal"
        assert found.total_cost == pytest.approx(expected, abs=1e-6)
        # the reported figures are those of the returned assignment
        again = evaluate(problem, found.open_sites, found.assignment)
        assert again["fixed_cost"] + again["delivery_cost"] == pytest.approx(found.total_cost)
        assert len([j for j in found.open_sites if not problem.existing[j]]) == k
        assert set(found.assignment.tolist()) <= set(found.open_sites)
        if share:
            assert found.service_share >= share - 1e-9


@pytest.mark.parametrize("seed", range(4))
def test_a_partial_load_counts_only_that_share_against_capacity(seed: int) -> None:
    """Locker-like sites: only a share of an assigned point's demand fills the site."""
    rng = np.random.default_rng(100 + seed)
    problem = _instance(seed)
    problem = replace(
        problem,
        capacity=np.where(problem.existing, np.inf, rng.integers(3, 9, size=problem.n_sites)),
        load=np.round(rng.uniform(0.2, 1.0, size=problem.cost.shape), 1),
    )
    for k in (1, 2):
        expected = _brute_force(problem, k)
        found = solve(problem, k, time_limit_s=20)
        if math.isinf(expected):
            assert found.status == "infeasible"
            continue
        assert found.total_cost == pytest.approx(expected, abs=1e-6)
        assert problem.load is not None
        for j in found.open_sites:
            members = found.assignment == j
            filled = float((problem.demand * problem.load[j])[members].sum())
            assert filled <= problem.capacity[j] + 1e-9


def test_p_median_without_capacities_assigns_each_point_to_its_cheapest_open_site() -> None:
    p = _instance(3)
    p = replace(p, fixed_cost=np.zeros(p.n_sites), capacity=np.full(p.n_sites, np.inf), within=None)
    found = solve(p, 2)
    opened = list(found.open_sites)
    cheapest = np.array(opened)[np.argmin(p.cost[opened], axis=0)]
    np.testing.assert_array_equal(found.assignment, cheapest)


def test_more_sites_never_cost_more_to_deliver_from() -> None:
    p = _instance(4)
    p = replace(p, fixed_cost=np.zeros(p.n_sites), within=None)
    costs = [solve(p, k).delivery_cost for k in range(p.n_sites)]
    assert all(b <= a + 1e-9 for a, b in itertools.pairwise(costs))


def test_k_beyond_the_candidates_is_an_error() -> None:
    with pytest.raises(ValueError, match="k=9: there are 4 candidate sites"):
        solve(_instance(0), 9)


def test_the_search_stops_on_its_work_budget_and_flags_only_a_clock_stop() -> None:
    p = _instance(3)
    budgeted = [solve(p, 2, work_limit=5.0) for _ in range(2)]
    assert budgeted[0].open_sites == budgeted[1].open_sites
    assert not budgeted[0].clock_stopped
    # A cap far below any search: the clock, not the budget, ends it, and says so.
    capped = solve(p, 2, work_limit=5.0, time_limit_s=1e-9)
    assert capped.status != "optimal"
    assert capped.clock_stopped
