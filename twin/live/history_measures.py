"""What a history's records measure, read one way by every fit and by the validation.

The service-time and presence fits and the validation's KPIs all read a stop's
service time from :func:`stop_dwell`; the travel fit and the mean leg time both
read :func:`driving_legs`. Keeping them in one module is what makes a
calibrated figure and the KPI it is checked against mean the same thing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from twin.constants import HOUR_S
from twin.live.history_schema import History
from twin.live.state import AT_HUB_M

__all__ = [
    "ABSENCE_REASONS",
    "driving_legs",
    "history_days",
    "span_hours",
    "stop_dwell",
]

#: Reasons of a failed attempt that mean nobody answered (an empty reason included).
ABSENCE_REASONS = frozenset({"", "customer_absent", "absent", "not_home", "no_answer"})


def span_hours(span: Any) -> Any:
    """A timedelta Series (or scalar) in hours."""
    return span / pd.Timedelta(hours=1)


def stop_dwell(history: History) -> pd.DataFrame:
    """Each stop with its service time (``dwell_s``) and the order's option and area.

    Service time is departure minus the later of arrival and window start, less
    any break of the driver in between: a vehicle early for a window waits before
    it serves, and neither that wait nor a break taken in it is service.
    """
    stops = history.stops.merge(
        history.orders[["order_id", "option", "area", "window_start"]], on="order_id"
    )
    began = stops[["arrived_at", "window_start"]].max(axis=1)
    dwell = span_hours(stops["departed_at"] - began) * HOUR_S
    dwell = dwell - _break_overlap_s(stops, began, history.breaks)
    return stops.assign(dwell_s=dwell.clip(lower=0.0))


def _break_overlap_s(stops: pd.DataFrame, began: pd.Series, breaks: pd.DataFrame) -> pd.Series:
    """Seconds of each stop's service span (``began`` to departure) its driver spent
    on a break (0 for most stops: breaks are usually taken between stops)."""
    overlap = pd.Series(0.0, index=stops.index)
    if not len(breaks):
        return overlap
    for vid, mine in breaks.groupby("vehicle_id"):
        rows = stops.index[stops["vehicle_id"] == vid]
        if not len(rows):
            continue
        for start, end in zip(mine["start_at"], mine["end_at"], strict=True):
            lo = began[rows].where(began[rows] > start, start)
            hi = stops.loc[rows, "departed_at"].where(stops.loc[rows, "departed_at"] < end, end)
            overlap[rows] += span_hours((hi - lo).clip(lower=pd.Timedelta(0))) * HOUR_S
    return overlap


def driving_legs(history: History, hubs: np.ndarray | None = None) -> pd.DataFrame:
    """Stop-to-stop driving legs of each vehicle's day.

    Left out: legs with a break inside, and legs between two trips, which hold a
    drive back to the hub and a reload. A trip change shows in the stops'
    ``trip`` numbers or, where ``hubs`` (rows of lat, lon) are given, in a ping
    within ``AT_HUB_M`` of a hub during the leg.
    """
    s = history.stops.merge(history.orders[["order_id", "lat", "lon"]], on="order_id")
    if "trip" not in s:
        s["trip"] = 0
    s = s.sort_values(["vehicle_id", "arrived_at"], kind="stable")
    nxt = s.groupby("vehicle_id").shift(-1)
    legs = pd.DataFrame(
        {
            "vehicle_id": s["vehicle_id"],
            "depart": s["departed_at"],
            "arrive": nxt["arrived_at"],
            "lat0": s["lat"],
            "lon0": s["lon"],
            "lat1": nxt["lat"],
            "lon1": nxt["lon"],
            "trip0": s["trip"],
            "trip1": nxt["trip"],
        }
    ).dropna()
    legs = legs[legs["arrive"].dt.normalize() == legs["depart"].dt.normalize()]
    known = (legs["trip0"] > 0) & (legs["trip1"] > 0)
    legs = legs[~known | (legs["trip0"] == legs["trip1"])]
    for b in history.breaks.itertuples(index=False):
        overlap = (
            (legs["vehicle_id"] == b.vehicle_id)
            & (legs["depart"] < b.end_at)
            & (legs["arrive"] > b.start_at)
        )
        legs = legs[~overlap]
    if hubs is not None and len(hubs) and len(history.pings):
        legs = legs[~_via_hub(legs, history.pings, hubs)]
    observed = (legs["arrive"] - legs["depart"]) / pd.Timedelta(seconds=1)
    legs = legs.drop(columns=["trip0", "trip1"])
    return legs.assign(observed_s=observed.to_numpy(float)).reset_index(drop=True)


def _via_hub(legs: pd.DataFrame, pings: pd.DataFrame, hubs: np.ndarray) -> np.ndarray:
    """Whether the vehicle was pinged within ``AT_HUB_M`` of a hub during each leg."""
    lat, lon = pings["lat"].to_numpy(float), pings["lon"].to_numpy(float)
    dy = (lat[:, None] - hubs[None, :, 0]) * 111_320.0
    dx = (lon[:, None] - hubs[None, :, 1]) * 111_320.0 * np.cos(np.radians(hubs[None, :, 0]))
    near = (np.hypot(dx, dy) <= AT_HUB_M).any(axis=1)
    at_hub = pings[near]
    out = np.zeros(len(legs), dtype=bool)
    times = {v: np.sort(g["time"].to_numpy()) for v, g in at_hub.groupby("vehicle_id")}
    for i, (vid, dep, arr) in enumerate(
        zip(legs["vehicle_id"], legs["depart"].to_numpy(), legs["arrive"].to_numpy(), strict=True)
    ):
        t = times.get(vid)
        if t is not None:
            k = np.searchsorted(t, dep, side="right")
            out[i] = k < len(t) and t[k] < arr
    return out


def history_days(history: History) -> int:
    """Days on which the history has stops: its length, as the simulation must match it."""
    return max(int(history.stops["arrived_at"].dt.normalize().nunique()), 1)
