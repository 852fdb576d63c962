"""The presence fit: by hour (and area), the share of first attempts that met someone.

Home and signature attempts count (a safe drop needs nobody). Failures for
other reasons than absence (no access, a full locker) say nothing about
presence and are left out, and so are re-attempts: a re-attempt goes back to a
door nobody answered, and where households differ (some are rarely in) those
doors are answered less often than the population's, so counting them would
pull the fitted presence down.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from twin.customers import answer_probability
from twin.live.history_measures import ABSENCE_REASONS, stop_dwell
from twin.live.history_schema import History
from twin.scenario import Scenario

__all__ = ["MIN_ATTEMPTS_PER_HOUR", "effective_presence", "fit_presence"]

#: Fewer attempts than these in an hour and it keeps the base scenario's value.
MIN_ATTEMPTS_PER_HOUR = 20


def _wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (math.nan, math.nan)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (centre - half, centre + half)


def effective_presence(base: Scenario) -> np.ndarray:
    """The population's chance, by hour, that an attempt meets someone who answers."""
    return answer_probability(base.customers, np.arange(24))


def fit_presence(history: History, base: Scenario) -> dict[str, Any]:
    """Share of first attempts that met someone, by hour of arrival, overall and by area.

    Hours with fewer than :data:`MIN_ATTEMPTS_PER_HOUR` attempts keep the base
    scenario's value in ``at_home_by_hour`` (marked ``from_base``).
    """
    stops = stop_dwell(history)
    stops = stops[stops["option"].isin(["home", "signature"])]
    if "attempt" in stops:
        stops = stops[stops["attempt"] == 1]
    stops = stops[(stops["outcome"] == "delivered") | stops["reason"].isin(ABSENCE_REASONS)]
    hour = stops["arrived_at"].dt.hour.to_numpy()
    met = (stops["outcome"] == "delivered").to_numpy()
    prior = effective_presence(base)
    by_hour, fitted = [], prior.copy()
    for h in range(24):
        sel = hour == h
        n, k = int(sel.sum()), int(met[sel].sum())
        lo, hi = _wilson(k, n)
        enough = n >= MIN_ATTEMPTS_PER_HOUR
        if enough:
            fitted[h] = k / n
        by_hour.append(
            {
                "hour": h,
                "attempts": n,
                "met": k,
                "rate": k / n if n else None,
                "ci": [lo, hi] if n else None,
                "from_base": not enough,
            }
        )
    by_area = []
    for area, g in stops.groupby("area", sort=True):
        n, k = len(g), int((g["outcome"] == "delivered").sum())
        by_area.append({"area": area, "attempts": n, "rate": k / n, "ci": list(_wilson(k, n))})
    return {"by_hour": by_hour, "by_area": by_area, "at_home_by_hour": fitted.round(4).tolist()}
