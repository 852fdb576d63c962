"""The fleet fit: the vehicles the history shows at work, as a floor under the fleet."""

from __future__ import annotations

import math
from typing import Any

from twin.live.history_schema import History
from twin.scenario import Scenario

__all__ = ["fit_fleet"]


def fit_fleet(history: History, base: Scenario) -> dict[str, Any]:
    """The fleet the history shows at work: a floor under the scenario's fleet.

    A planner may leave vehicles at the hub, so a day with fewer vehicles out than
    the base fleet says nothing about its size. More vehicles out on the busiest
    day than the base fleet has means the base is too small: every fleet entry is
    scaled up (rounding up) so that the total covers the busiest day. Without
    this a calibrated day would be run with fewer vans than history had and its
    on-time rate and stops per van would differ for that reason alone.
    """
    stops = history.stops
    per_day = stops.groupby(stops["arrived_at"].dt.normalize())["vehicle_id"].nunique()
    busiest = int(per_day.max()) if len(per_day) else 0
    base_total = sum(entry.count for entry in base.fleet)
    scale = busiest / base_total if base_total and busiest > base_total else 1.0
    counts = [math.ceil(entry.count * scale - 1e-9) for entry in base.fleet]
    return {
        "vehicles_busiest_day": busiest,
        "vehicles_per_day": [int(n) for n in per_day.to_numpy()],
        "base_fleet": base_total,
        "fleet": sum(counts),
        "counts": counts,
    }
