"""A simulated run as history: the engine's event log in the history schema.

This is how calibration is tested against known truth (simulate under hidden
parameters, calibrate, compare) and how a simulated day is replayed into the
live API (:func:`twin.live.history_feed.history_events`). It reads the log as a
real operation would have logged its day, so it has its own module apart from
the schema it writes (:mod:`twin.live.history_schema`).
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from twin.constants import DAY_S
from twin.live.events import LiveClock
from twin.live.history_schema import History

if TYPE_CHECKING:
    from twin.sim import SimResult

__all__ = ["history_from_result"]

#: Engine events after which a vehicle is no longer at the stop it arrived at.
_MOVES = frozenset({"arrive", "break_start", "return_to_hub", "breakdown"})
#: An attempt's verdicts as the stops table's outcomes (a locker counts as delivered).
_DONE_KINDS = {"delivered": "delivered", "in_locker": "delivered", "failed": "failed"}
_EVENT_COLUMNS = ["time_s", "kind", "order_id", "vehicle_id", "driver_id", "lat", "lon", "details"]


def _details(text: Any) -> dict[str, Any]:
    """An event's ``details`` JSON as a dict (empty when the event has none)."""
    return json.loads(text) if isinstance(text, str) and text else {}


def history_from_result(result: SimResult) -> History:
    """A simulated run in the history schema, as a real operation would have logged it.

    Arrival is the engine's ``arrive`` at the stop; departure is when the vehicle
    next moves (the next arrival minus its drive, or the start of a break); the
    outcome is the attempt's (a parcel put in a locker counts as delivered).
    Pings are the vehicle's positions at its logged moves.
    """
    clock = LiveClock(result.scenario.start_date)
    to_time = np.vectorize(clock.datetime, otypes=[object])
    orders = _orders_table(result.orders, to_time)
    stops, pings, breaks = _records(result.events)
    return History(
        orders=orders,
        stops=_stops_table(stops, to_time),
        pings=_pings_table(pings, to_time),
        breaks=_breaks_table(breaks, to_time),
    )


def _orders_table(o: pd.DataFrame, to_time: np.vectorize) -> pd.DataFrame:
    """The released orders (an order never released was never placed)."""
    o = o[o["released"].astype(bool)] if "released" in o else o
    return pd.DataFrame(
        {
            "order_id": o["order_id"].astype(str),
            "created_at": pd.to_datetime(to_time(o["created_s"].to_numpy(float))),
            "lat": o["lat"].astype(float),
            "lon": o["lon"].astype(float),
            "window_start": pd.to_datetime(to_time(o["window_start_s"].to_numpy(float))),
            "window_end": pd.to_datetime(to_time(o["window_end_s"].to_numpy(float))),
            "option": o["option"].astype(str),
            "area": "all",
            "parcels": 1,
        }
    ).reset_index(drop=True)


def _records(
    events: pd.DataFrame,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Stops, pings and breaks (times in engine seconds) read from the event log in order.

    A stop stays open from its ``arrive`` until the vehicle next moves (a break
    taken while waiting for the window is not a move); only a stop with an outcome
    is a stop of the history (an arrival that ended in a breakdown before the
    attempt is not).
    """
    stops: list[dict[str, Any]] = []
    pings: list[dict[str, Any]] = []
    breaks: list[dict[str, Any]] = []
    open_stop: dict[str, dict[str, Any]] = {}
    open_break: dict[str, float] = {}
    #: Trips started (departures from the hub) per vehicle and day.
    trips: dict[tuple[str, int], int] = defaultdict(int)
    for t, kind, oid, vid, drv, lat, lon, details in events[_EVENT_COLUMNS].itertuples(index=False):
        if not isinstance(vid, str):
            continue
        stop = open_stop.get(vid)
        # A break before the attempt is taken at the stop (waiting for its window): the
        # vehicle has not moved on, so the stop stays open; the break is in ``breaks``.
        waiting = kind == "break_start" and stop is not None and "outcome" not in stop
        if kind in _MOVES and stop is not None and not waiting:
            d = _details(details)
            left = t - float(d.get("drive_s", 0.0)) if kind == "arrive" else t
            stop["departed_s"] = max(left, stop["arrived_s"])
            if "outcome" in stop:
                stops.append(stop)
            open_stop.pop(vid)
        if kind == "depart":
            trips[vid, int(t // DAY_S)] += 1
        if kind == "arrive" and isinstance(oid, str):
            open_stop[vid] = {
                "vehicle_id": vid,
                "order_id": oid,
                "arrived_s": t,
                "driver_id": drv if isinstance(drv, str) else "",
                "trip": max(trips[vid, int(t // DAY_S)], 1),
            }
        elif kind == "attempted" and stop is not None and stop["order_id"] == oid:
            stop["attempt"] = int(_details(details).get("attempt", 1))
        elif kind in _DONE_KINDS and stop is not None and stop["order_id"] == oid:
            if "outcome" not in stop:  # an attempt's first verdict (failed, then in_locker)
                stop["outcome"] = _DONE_KINDS[kind]
                stop["reason"] = str(_details(details).get("reason", ""))
            stop["last_s"] = t
        elif kind == "break_start":
            open_break[vid] = t
        elif kind == "break_end" and vid in open_break:
            breaks.append({"vehicle_id": vid, "start_s": open_break.pop(vid), "end_s": t})
        if kind in _MOVES | {"shift_start", "depart"} and not pd.isna(lat):
            pings.append({"vehicle_id": vid, "time_s": t, "lat": lat, "lon": lon})
    for stop in open_stop.values():  # the horizon fell after the last stop
        if "outcome" in stop:
            stop["departed_s"] = stop.get("last_s", stop["arrived_s"])
            stops.append(stop)
    return stops, pings, breaks


def _stops_table(stops: list[dict[str, Any]], to_time: np.vectorize) -> pd.DataFrame:
    """The stops in the schema's columns; a field the log did not give takes its default
    (first attempt, first trip), as a real operation's export would leave it."""
    stop_frame = pd.DataFrame(stops)
    if stop_frame.empty:
        stop_frame = pd.DataFrame(columns=["vehicle_id", "order_id", "arrived_s", "departed_s"])
    return pd.DataFrame(
        {
            "vehicle_id": stop_frame["vehicle_id"].astype(str),
            "order_id": stop_frame["order_id"].astype(str),
            "attempt": stop_frame.get("attempt", pd.Series(1, index=stop_frame.index))
            .fillna(1)
            .astype(int),
            "arrived_at": pd.to_datetime(to_time(stop_frame["arrived_s"].to_numpy(float))),
            "departed_at": pd.to_datetime(to_time(stop_frame["departed_s"].to_numpy(float))),
            "outcome": stop_frame.get("outcome", pd.Series(dtype=str)).astype(str),
            "reason": stop_frame.get("reason", pd.Series(dtype=str)).fillna("").astype(str),
            "driver_id": stop_frame.get("driver_id", pd.Series(dtype=str)).astype(str),
            "trip": stop_frame.get("trip", pd.Series(1, index=stop_frame.index))
            .fillna(1)
            .astype(int),
        }
    )


def _pings_table(pings: list[dict[str, Any]], to_time: np.vectorize) -> pd.DataFrame:
    """The pings in the schema's columns (the columns exist even when there is none)."""
    ping_frame = pd.DataFrame(pings, columns=["vehicle_id", "time_s", "lat", "lon"])
    return pd.DataFrame(
        {
            "vehicle_id": ping_frame["vehicle_id"].astype(str),
            "time": pd.to_datetime(to_time(ping_frame["time_s"].to_numpy(float))),
            "lat": ping_frame["lat"].astype(float),
            "lon": ping_frame["lon"].astype(float),
        }
    )


def _breaks_table(breaks: list[dict[str, Any]], to_time: np.vectorize) -> pd.DataFrame:
    """The breaks in the schema's columns (the columns exist even when there is none)."""
    break_frame = pd.DataFrame(breaks, columns=["vehicle_id", "start_s", "end_s"])
    return pd.DataFrame(
        {
            "vehicle_id": break_frame["vehicle_id"].astype(str),
            "start_at": pd.to_datetime(to_time(break_frame["start_s"].to_numpy(float))),
            "end_at": pd.to_datetime(to_time(break_frame["end_s"].to_numpy(float))),
        }
    )
