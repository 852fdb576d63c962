"""City-scale decomposition: balanced compact parts, fair vehicle shares, parallel solves
that give the same answer as serial ones."""

from __future__ import annotations

import numpy as np
import pytest

from twin.routing import Job, RoutingProblem, VehicleSpec
from twin.routing.decompose import SolveTask, apportion, partition, solve_each


def test_partition_gives_parts_of_near_equal_weight() -> None:
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 10_000, size=(1_001, 2))
    weight = rng.integers(1, 4, size=1_001).astype(float)
    for parts in (2, 3, 7, 16):
        labels = partition(xy, weight, parts)
        assert sorted(set(labels.tolist())) == list(range(parts))
        loads = np.bincount(labels, weights=weight)
        # Each cut is at a weighted median: a part is off its share by a few points at most.
        assert np.abs(loads - weight.sum() / parts).max() <= 3 * np.log2(parts) * weight.max()


def test_two_parts_are_split_across_the_longer_side() -> None:
    # Two towns 20 km apart along x: the cut falls between them.
    rng = np.random.default_rng(0)
    west = rng.normal([0, 0], 300, size=(50, 2))
    east = rng.normal([20_000, 0], 300, size=(50, 2))
    labels = partition(np.vstack([west, east]), np.ones(100), 2)
    assert len(set(labels[:50].tolist())) == 1
    assert len(set(labels[50:].tolist())) == 1
    assert labels[0] != labels[-1]


def test_partition_is_deterministic_with_ties() -> None:
    xy = np.zeros((40, 2))  # every point in the same place
    first = partition(xy, np.ones(40), 4)
    assert np.array_equal(first, partition(xy, np.ones(40), 4))
    assert np.bincount(first).tolist() == [10, 10, 10, 10]


def test_apportion_is_proportional_with_one_vehicle_each_at_least() -> None:
    assert apportion([100, 100, 100], 9) == [3, 3, 3]
    assert apportion([300, 100, 0], 9) == [6, 2, 1]
    counts = apportion([5.0, 7.0, 11.0, 13.0], 20)
    assert sum(counts) == 20
    assert min(counts) >= 1
    assert counts == sorted(counts)
    with pytest.raises(ValueError, match="3 vehicles cannot give each of 4 parts one"):
        apportion([1, 1, 1, 1], 3)


def _problem(seed: int, n: int = 25) -> RoutingProblem:
    rng = np.random.default_rng(seed)
    xy = np.vstack([[0.0, 0.0], rng.uniform(-3_000, 3_000, size=(n, 2))])
    dist = np.linalg.norm(xy[:, None, :] - xy[None, :, :], axis=2)
    vehicles = tuple(
        VehicleSpec(
            id=f"v{k}",
            start_location=0,
            end_location=0,
            capacity=(10.0, 10.0, 100.0),
            shift_start_s=8 * 3600.0,
            shift_end_s=17 * 3600.0,
            max_working_s=9 * 3600.0,
            cost_per_km=0.5,
            cost_per_h=20.0,
        )
        for k in range(4)
    )
    jobs = tuple(
        Job(
            id=f"j{i}",
            location=i,
            demand=(1.0, 0.1, 1.0),
            tw_start_s=8 * 3600.0,
            tw_end_s=17 * 3600.0,
            service_s=120.0,
            drop_penalty=1e4,
        )
        for i in range(1, n + 1)
    )
    return RoutingProblem(duration_s=dist / 8.0, distance_m=dist, vehicles=vehicles, jobs=jobs)


@pytest.mark.parametrize("backend", ["ortools", "pyvrp"])
def test_parallel_solves_equal_serial_ones(backend: str) -> None:
    settings = {"backend": backend, "iterations": 100, "solution_limit": 50, "time_limit_s": 60}
    tasks = [SolveTask(_problem(seed), settings) for seed in range(3)]
    serial = solve_each(tasks, workers=1)
    parallel = solve_each(iter(tasks), workers=2)
    assert [s.routes for s in parallel] == [s.routes for s in serial]
    assert [s.cost for s in parallel] == [s.cost for s in serial]
    # Workers are not this process's children: they report the CPU they spent.
    assert all(s.stats["worker_cpu_s"] > 0 for s in parallel)
    assert all("worker_cpu_s" not in s.stats for s in serial)
    for solution in serial:
        assert solution.stats["dropped"] == len(solution.dropped)
        assert solution.stats["dropped_servable"] <= solution.stats["dropped"]
