"""A history as live events: what an operation would have sent the twin during its day.

``twin replay`` and the forecast tests feed these to the live API, so a recorded
or simulated day can be watched (or forecast) as it unfolds. Kept apart from the
schema (:mod:`twin.live.history_schema`): it turns a validated history into the
live event vocabulary of :mod:`twin.live.events`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import pandas as pd

from twin.live.history_schema import History

__all__ = ["history_events"]

#: Order of events that share a time: an order exists before a route lists it, a
#: vehicle is on duty before it moves, it arrives before the outcome is known.
_RANK = {
    "order_created": 0,
    "driver_status": 1,
    "route_assigned": 2,
    "gps_ping": 3,
    "stop_outcome": 4,
    "order_cancelled": 5,
}


def _iso(t: Any) -> str:
    return pd.Timestamp(t).isoformat()


def history_events(history: History) -> list[dict[str, Any]]:
    """The live events an operation would have sent during this history, in time order.

    Each vehicle goes on duty at its first ping (or 15 min before its first stop)
    and off duty at its last ping; its breaks are sent as ``on_break`` and back
    ``on_duty``, so that a forecast does not schedule a break already taken.
    Routes are what the vehicle went on to do: a ``route_assigned`` when it goes
    on duty, listing its stops in the order they were made among the orders known
    then, and again whenever an order it will serve is placed (a re-optimised
    route). Where the stops give their ``trip``, a route names the first stop of
    each later trip in ``reload_before``. Event ids are stable, so a replay sent
    twice is applied once.
    """
    out: list[tuple[pd.Timestamp, int, dict[str, Any]]] = []

    def add(t: Any, event: dict[str, Any]) -> None:
        event["time"] = _iso(t)
        out.append((pd.Timestamp(t), _RANK[event["type"]], event))

    created = dict(zip(history.orders["order_id"], history.orders["created_at"], strict=True))
    order_rows: Iterable[Any] = history.orders.itertuples(index=False)
    for row in order_rows:
        add(
            row.created_at,
            {
                "event_id": f"order-{row.order_id}",
                "type": "order_created",
                "order_id": row.order_id,
                "lat": float(row.lat),
                "lon": float(row.lon),
                "window_start": _iso(row.window_start),
                "window_end": _iso(row.window_end),
                "option": row.option if row.option != "locker" else "home",
                "parcels": int(row.parcels),
            },
        )
    stops = history.stops.sort_values(["vehicle_id", "arrived_at"], kind="stable")
    stops = stops.assign(day=stops["arrived_at"].dt.normalize())
    pings = history.pings.sort_values(["vehicle_id", "time"], kind="stable")
    ping_day = pings["time"].dt.normalize()
    for (vid, day), own in stops.groupby(["vehicle_id", "day"], sort=True):
        seen = pings[(pings["vehicle_id"] == vid) & (ping_day == day)]["time"]
        tag = f"{vid}-{pd.Timestamp(str(day)).date().isoformat()}"
        first_stop = own["arrived_at"].min()
        on = min(seen.min(), first_stop) if len(seen) else first_stop - pd.Timedelta(minutes=15)
        off = max(seen.max(), own["departed_at"].max()) if len(seen) else own["departed_at"].max()
        add(on, {"event_id": f"duty-{tag}-on", "type": "driver_status",
                 "vehicle_id": vid, "status": "on_duty"})  # fmt: skip
        add(off, {"event_id": f"duty-{tag}-off", "type": "driver_status",
                  "vehicle_id": vid, "status": "off_duty"})  # fmt: skip
        trips_of = own["trip"] if "trip" in own else pd.Series(0, index=own.index)
        sequence = list(zip(own["order_id"], own["arrived_at"], trips_of, strict=True))
        moments = sorted({on, *(created[o] for o, _, _ in sequence if created[o] > on)})
        for k, moment in enumerate(moments):
            remaining = [(o, n) for o, a, n in sequence if a >= moment and created[o] <= moment]
            if not remaining:
                continue
            event = {"event_id": f"route-{tag}-{k}", "type": "route_assigned",
                     "vehicle_id": vid, "order_ids": [o for o, _ in remaining]}  # fmt: skip
            # A later trip starts with a reload at the hub. The vehicle is on the trip
            # of its last stop so far (the first trip before any), and 0 is "not given".
            trip = max([n for _, a, n in sequence if a < moment] or [1])
            reloads = []
            for o, n in remaining:
                if n > trip:
                    reloads.append(o)
                trip = max(trip, n)
            if reloads:
                event["reload_before"] = reloads
            add(moment, event)
        stop_rows: Iterable[Any] = own.itertuples(index=False)
        for row in stop_rows:
            add(
                row.departed_at,
                {
                    "event_id": f"outcome-{row.order_id}-{row.attempt}",
                    "type": "stop_outcome",
                    "vehicle_id": vid,
                    "order_id": row.order_id,
                    "outcome": row.outcome,
                    "arrived_at": _iso(row.arrived_at),
                    "reason": str(row.reason)[:200],
                },
            )
    for k, (bvid, start, end) in enumerate(
        history.breaks[["vehicle_id", "start_at", "end_at"]].itertuples(index=False)
    ):
        add(start, {"event_id": f"break-{bvid}-{k}-start", "type": "driver_status",
                    "vehicle_id": str(bvid), "status": "on_break"})  # fmt: skip
        add(end, {"event_id": f"break-{bvid}-{k}-end", "type": "driver_status",
                  "vehicle_id": str(bvid), "status": "on_duty"})  # fmt: skip
    counts: defaultdict[str, int] = defaultdict(int)
    for pvid, t, lat, lon in pings[["vehicle_id", "time", "lat", "lon"]].itertuples(index=False):
        counts[str(pvid)] += 1
        add(t, {"event_id": f"ping-{pvid}-{counts[str(pvid)]}", "type": "gps_ping",
                "vehicle_id": str(pvid), "lat": float(lat), "lon": float(lon)})  # fmt: skip
    out.sort(key=lambda x: (x[0], x[1]))
    return [e for _, _, e in out]
