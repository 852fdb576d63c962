"""Scaled integers for solvers that only take whole numbers (OR-Tools, PyVRP).

Times are multiplied by a power of ten that keeps them exact when the data
allow it (Solomon DIMACS data are whole tenths) and otherwise keeps the rounding
error per leg below 0.1 %. Travel and service times round *up* and window ends
and duty limits round *down*, so a schedule that is feasible for the solver is
feasible in real arithmetic too. Costs are integers in 1/``COST_SCALE`` units.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from twin.routing.problem import RoutingProblem

__all__ = ["COST_SCALE", "ceil_int", "floor_int", "load_scales", "time_scale"]

COST_SCALE = 100_000


def _integral(values: np.ndarray, scale: int) -> bool:
    scaled = values * scale
    return bool(np.allclose(scaled, np.rint(scaled), rtol=0.0, atol=1e-6))


def time_scale(problem: RoutingProblem) -> int:
    """Units per second the solver works in (1, 10, 100 or 1000)."""
    d = problem.planning_durations
    parts = [d.ravel()]
    parts.append(np.asarray([j.service_s for j in problem.jobs], dtype=float))
    windows = np.asarray([(j.tw_start_s, j.tw_end_s) for j in problem.jobs], dtype=float)
    parts.append(windows[np.isfinite(windows)] if windows.size else np.zeros(0))
    values = np.concatenate(parts)
    for scale in (1, 10, 100, 1000):
        if _integral(values, scale):
            return scale
    positive = d[d > 0]
    typical = float(np.median(positive)) if positive.size else 1.0
    return int(min(1000, max(1, 10 ** math.ceil(math.log10(1000.0 / typical)))))


def ceil_int(x: float | Sequence[float] | np.ndarray, scale: float) -> np.ndarray:
    """``ceil(x * scale)``, ignoring float noise just above a whole number."""
    return np.ceil(np.asarray(x, dtype=float) * scale - 1e-6).astype(np.int64)


def floor_int(x: float | Sequence[float] | np.ndarray, scale: float) -> np.ndarray:
    """``floor(x * scale)``, ignoring float noise just below a whole number."""
    return np.floor(np.asarray(x, dtype=float) * scale + 1e-6).astype(np.int64)


def load_scales(problem: RoutingProblem) -> list[int]:
    """Units per load unit in each capacity dimension: 1 for whole numbers, else 1000."""
    scales = []
    for d in range(problem.n_dims):
        values = [v.capacity[d] for v in problem.vehicles] + [j.demand[d] for j in problem.jobs]
        values += [j.pickup[d] for j in problem.jobs if j.pickup]
        scales.append(1 if _integral(np.asarray(values, dtype=float), 1) else 1000)
    return scales
