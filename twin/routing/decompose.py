"""City-scale routing: cut the jobs into compact parts, solve the parts in parallel.

One routing model of a whole city day grows as N² in memory (its travel
matrices) and faster than that in solver time: a 10,000-order model took most
of an hour, and 50,000 orders did not fit in memory. Cluster-first,
route-second keeps every model near the size the solvers handle well:

* :func:`partition` cuts the jobs into parts of near-equal weight by recursive
  coordinate bisection (each cut across the longer side of the part's bounding
  box, at its weighted median): compact parts, so that routes within a part
  are what routes across the city would be;
* :func:`apportion` shares a hub's vehicles among its parts in proportion to
  their load;
* :func:`solve_each` solves the parts' problems in worker processes, at most
  ``workers`` built and in flight at once, so memory grows with the part size,
  not the city. Each solve stops on its own work budget, so the answer is the
  same with one worker or many.

What the parts cannot hold (jobs dropped where their part's vehicles ran out)
the caller repairs with the vehicles the parts left unused.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from twin.routing.check import unserviceable
from twin.routing.problem import RoutingProblem, RoutingSolution

__all__ = ["SolveTask", "apportion", "partition", "solve_each", "solve_task"]


def partition(xy: np.ndarray, weight: np.ndarray, parts: int) -> np.ndarray:
    """Part label (0 .. parts-1) of each point: ``parts`` compact groups of near-equal weight.

    Deterministic: ties in a coordinate are broken by the point's index.
    """
    n = len(xy)
    labels = np.zeros(n, dtype=np.int64)
    if parts < 1:
        raise ValueError(f"parts must be at least 1, got {parts}")
    if n == 0:
        return labels
    weight = np.maximum(np.asarray(weight, dtype=float), 1e-9)
    stack: list[tuple[np.ndarray, int, int]] = [(np.arange(n), parts, 0)]
    while stack:
        idx, k, first = stack.pop()
        if k == 1 or len(idx) <= 1:
            labels[idx] = first
            continue
        pts = xy[idx]
        axis = int(np.argmax(pts.max(axis=0) - pts.min(axis=0)))
        order = idx[np.lexsort((idx, pts[:, axis]))]
        k_low = k // 2
        share = np.cumsum(weight[order]) / weight[order].sum()
        cut = int(np.searchsorted(share, k_low / k)) + 1
        cut = min(max(cut, 1), len(order) - 1)
        stack.append((order[cut:], k - k_low, first + k_low))
        stack.append((order[:cut], k_low, first))
    return labels


def apportion(loads: Sequence[float], n: int) -> list[int]:
    """Split ``n`` vehicles among parts in proportion to ``loads``, at least one each
    (largest remainders; ties to the earlier part). Needs ``n >= len(loads)``."""
    k = len(loads)
    if n < k:
        raise ValueError(f"{n} vehicles cannot give each of {k} parts one")
    total = float(sum(loads))
    spare = n - k
    quota = [spare * (load / total) if total > 0 else spare / k for load in loads]
    counts = [1 + math.floor(q) for q in quota]
    left = n - sum(counts)
    by_remainder = sorted(range(k), key=lambda i: (-(quota[i] - math.floor(quota[i])), i))
    for i in by_remainder[:left]:
        counts[i] += 1
    return counts


@dataclass(frozen=True)
class SolveTask:
    """One problem to solve: the :func:`twin.routing.solve` arguments, and optionally
    routes to warm-start a second, short search from (the cheaper answer wins)."""

    problem: RoutingProblem
    settings: Mapping[str, Any] = field(default_factory=dict)
    initial_routes: Sequence[Sequence[int]] | None = None


def solve_task(task: SolveTask) -> RoutingSolution:
    """Solve one task (in this process); see :class:`SolveTask`.

    The answer's ``stats`` gain ``cost``, ``dropped`` and ``dropped_servable``: the
    dropped jobs a vehicle could have served on a route of its own. A plan that
    leaves servable orders behind is a shortcut, not a fact, and runs report it.
    """
    from twin.routing import solve

    solution = solve(task.problem, **task.settings)
    if task.initial_routes is not None:
        settings = {**task.settings, "solution_limit": 1}
        warm = solve(task.problem, **settings, initial_routes=task.initial_routes)
        solution = min((warm, solution), key=lambda sol: sol.cost)
    servable = sum(1 for j in solution.dropped if unserviceable(task.problem, j) is None)
    stats = {
        **solution.stats,
        "cost": float(solution.cost),
        "dropped": float(len(solution.dropped)),
        "dropped_servable": float(servable),
    }
    return replace(solution, stats=stats)


def _solve_in_worker(task: SolveTask) -> RoutingSolution:
    """:func:`solve_task` in a pool's worker, with the CPU seconds it took in ``stats``
    (``worker_cpu_s``): a worker is not the caller's child, so the caller's own CPU
    accounting never sees it."""
    started = time.process_time()
    solution = solve_task(task)
    cpu = time.process_time() - started
    return replace(solution, stats={**solution.stats, "worker_cpu_s": cpu})


def solve_each(tasks: Iterable[SolveTask], *, workers: int = 1) -> list[RoutingSolution]:
    """Solve every task, in order; with ``workers`` > 1 in that many worker processes.

    ``tasks`` is consumed lazily: a task (and its matrices) is built only when a
    worker is free for it.
    """
    if workers <= 1:
        return [solve_task(task) for task in tasks]
    from concurrent.futures import Future, ProcessPoolExecutor, wait

    from twin.processes import pool_context

    pending: Iterator[SolveTask] = iter(tasks)
    results: dict[int, RoutingSolution] = {}
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=pool_context(["twin.routing"])
    ) as pool:
        running: dict[Future[RoutingSolution], int] = {}
        submitted = 0
        while True:
            while len(running) < workers:
                task = next(pending, None)
                if task is None:
                    break
                running[pool.submit(_solve_in_worker, task)] = submitted
                submitted += 1
            if not running:
                break
            done, _ = wait(running, return_when="FIRST_COMPLETED")
            for future in done:
                results[running.pop(future)] = future.result()
    return [results[i] for i in range(len(results))]
