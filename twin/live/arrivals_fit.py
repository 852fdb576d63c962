"""The order-arrivals fit: orders per day, the share known at the cutoff, the mixes.

Read from the orders table alone: when orders were placed against the day they
were due, the width of their windows and their delivery options.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from twin.live.history_measures import span_hours
from twin.live.history_schema import History
from twin.scenario import Scenario

__all__ = ["fit_arrivals"]


def _window_kind(hours: float) -> str:
    return "all_day" if hours >= 6 else "four_hour" if hours >= 3 else "two_hour"


def fit_arrivals(history: History, base: Scenario) -> dict[str, Any]:
    """Orders per day, the share known at the cutoff, the day's arrival profile, the mixes.

    The engine's demand day ``d`` has orders known at the cutoff (placed in the 24 h
    before it, due on ``d``) and orders placed after it (due on ``d`` if same-day,
    else ``d + 1``). A known order placed the evening before and a next-day order
    placed then look alike in any record; what tells the two apart is the night:
    only known orders are placed between midnight and the cutoff of the due date.
    So the known share is read from that stretch (scaled to 24 h), the same-day
    share from the orders placed on their due date after the cutoff, and the
    arrival profile from the hours at which those same-day orders came in.
    """
    o = history.orders
    due = o["window_start"].dt.normalize()
    served = np.sort(history.stops["arrived_at"].dt.normalize().unique())
    # The first day lacks the next-day orders placed the day before the history began.
    days_used = served[1:] if len(served) > 2 else served
    in_days = due.isin(days_used) if len(days_used) else pd.Series(True, index=o.index)
    days = max(len(days_used), 1)
    per_day = int(in_days.sum()) / days
    cutoff_h = base.demand.cutoff_h
    created_h = (o["created_at"] - due) / pd.Timedelta(hours=1)
    night = in_days & (created_h >= 0) & (created_h < cutoff_h)
    n = max(int(in_days.sum()), 1)
    known = min(int(night.sum()) * 24.0 / cutoff_h / n, 1.0) if cutoff_h > 0 else 0.0
    # Same-day orders (placed on their due date after the cutoff) show the hours at
    # which the day's orders come in, up to two hours before the day window closes;
    # later hours keep the base profile's shape, scaled to join on.
    hours = np.arange(24)
    open_hours = (hours >= cutoff_h) & (hours < base.demand.day_window_h[1] - 2)
    same = in_days & (created_h >= cutoff_h) & (created_h < base.demand.day_window_h[1] - 2)
    seen = np.bincount(np.floor(created_h[same].to_numpy(float)).astype(int), minlength=24)[:24]
    prior = np.asarray(base.demand.arrival_weights, dtype=float) * (hours >= cutoff_h)
    scale = seen.sum() / prior[open_hours].sum() if prior[open_hours].sum() > 0 else 0.0
    weights = np.where(open_hours, seen, prior * scale).astype(float)
    late = n * (1 - known)
    open_mass = weights[open_hours].sum() / weights.sum() if weights.sum() > 0 else 0.0
    possible = late * open_mass
    same_share = min(int(same.sum()) / float(possible), 1.0) if possible > 0 else 0.0
    width_h = span_hours(o["window_end"] - o["window_start"])
    kinds = width_h.map(_window_kind).value_counts(normalize=True)
    options = o["option"][o["option"] != "locker"].value_counts(normalize=True)
    return {
        "days": days,
        "orders_per_day": round(per_day),
        "share_known_at_cutoff": round(known, 4),
        "arrival_weights": (weights / weights.sum() * 100).round(3).tolist()
        if weights.sum() > 0
        else list(base.demand.arrival_weights),
        "windows": {k: round(float(v), 4) for k, v in kinds.items()},
        "options": {k: round(float(v), 4) for k, v in options.items()},
        "service_levels": {"same_day": round(same_share, 4), "next_day": round(1 - same_share, 4)},
    }
