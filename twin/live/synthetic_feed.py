"""A synthetic live feed of any length: orders, routes, pings and outcomes on a map.

The load experiment (``experiments/live_load.py``) and its test need many
realistic events quickly, with ids that never collide, and without running the
simulator: recorded days (:mod:`twin.live.history`) are as long as the day is.
This generator plays waves of a simple operation on any road network: each
vehicle gets a few new orders, a route through them, pings on the way to each
stop and the stop's outcome; now and then an order is cancelled. Every point is
a node of the network, so the API never refuses one as off the map.

The feed is a pure function of its arguments (one seeded generator), so a test
can rebuild exactly what it sent.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from twin.maps.network import RoadNetwork

__all__ = ["synthetic_feed"]


def synthetic_feed(
    network: RoadNetwork,
    start_date: dt.date,
    *,
    n_events: int,
    vehicles: int = 8,
    stops_per_route: int = 6,
    pings_per_leg: int = 3,
    day_span_h: float = 11.0,
    failed_share: float = 0.1,
    seed: int = 0,
    prefix: str = "ev",
) -> list[dict[str, Any]]:
    """``n_events`` live events (JSON-ready dicts) in time order, ids ``{prefix}-0000001``...

    Parameters
    ----------
    network : RoadNetwork
        Orders and pings are placed on its nodes.
    start_date : datetime.date
        Day 0; events start at 07:00 local time and spread over ``day_span_h``
        hours whatever their number (so a long feed is a busy day, not many days).
    n_events : int
        Exact number of events returned (the last wave is cut short).
    vehicles, stops_per_route, pings_per_leg : int
        Shape of each wave: every vehicle gets ``stops_per_route`` new orders,
        and ``pings_per_leg`` pings before each stop.
    failed_share : float
        Share of attempts that fail (the parcel rides back; the order stays failed).
    seed : int
        Seed of the one generator everything is drawn from.
    prefix : str
        Event ids are ``{prefix}-{k:07d}``; order ids ``{prefix}-o{k}``.
    """
    if n_events < 0 or vehicles < 1 or stops_per_route < 1 or pings_per_leg < 0:
        raise ValueError("synthetic_feed: counts must be positive")
    rng = np.random.default_rng(seed)
    per_stop = pings_per_leg + 1
    # Events per wave: per vehicle one route, one order and ``per_stop`` events per stop,
    # plus one cancelled order per wave; the first wave also puts drivers on duty.
    wave_events = vehicles * (1 + stops_per_route * (1 + per_stop)) + 2
    n_waves = max(1, -(-n_events // wave_events))
    wave_s = day_span_h * 3600.0 / n_waves
    t0 = dt.datetime.combine(start_date, dt.time(7, 0))
    drafts: list[tuple[float, int, dict[str, Any]]] = []  # (time_s, tiebreak, event)
    order_no = 0

    def add(t_s: float, body: dict[str, Any]) -> None:
        drafts.append((t_s, len(drafts), body))

    def iso(t_s: float) -> str:
        return (t0 + dt.timedelta(seconds=round(t_s, 3))).isoformat()

    def node_point() -> tuple[float, float, int]:
        k = int(rng.integers(network.n_nodes))
        return round(float(network.lat[k]), 6), round(float(network.lon[k]), 6), k

    positions = {v: node_point()[2] for v in range(vehicles)}
    for v in range(vehicles):
        add(
            0.0,
            {
                "type": "driver_status",
                "vehicle_id": f"van-{v + 1}",
                "driver_id": f"drv-{v + 1}",
                "status": "on_duty",
                "shift_end": iso(day_span_h * 3600.0 + 1800.0),
            },
        )
    for w in range(n_waves):
        base = w * wave_s
        step = wave_s / (2 + stops_per_route * (1 + per_stop))
        for v in range(vehicles):
            vid = f"van-{v + 1}"
            orders = []
            for _ in range(stops_per_route):
                order_no += 1
                oid = f"{prefix}-o{order_no}"
                lat, lon, node = node_point()
                start = base + float(rng.uniform(0.5, 1.5)) * wave_s
                add(
                    base + float(rng.uniform(0, step)),
                    {
                        "type": "order_created",
                        "order_id": oid,
                        "lat": lat,
                        "lon": lon,
                        "window_start": iso(start),
                        "window_end": iso(start + 7200.0),
                        "option": ("home", "safe_drop", "signature")[int(rng.integers(3))],
                        "parcels": int(rng.integers(1, 4)),
                    },
                )
                orders.append((oid, node))
            t = base + step
            add(
                t,
                {"type": "route_assigned", "vehicle_id": vid, "order_ids": [o for o, _ in orders]},
            )
            for oid, node in orders:
                here, there = positions[v], node
                for p in range(1, pings_per_leg + 1):
                    t += step * float(rng.uniform(0.5, 1.0))
                    f = p / (pings_per_leg + 1)
                    lat = (1 - f) * network.lat[here] + f * network.lat[there]
                    lon = (1 - f) * network.lon[here] + f * network.lon[there]
                    k = int(network.index(int(network.snap(lat, lon).node[0]))[0])
                    add(
                        t,
                        {
                            "type": "gps_ping",
                            "vehicle_id": vid,
                            "lat": round(float(network.lat[k]), 6),
                            "lon": round(float(network.lon[k]), 6),
                            "speed_kph": round(float(rng.uniform(10, 50)), 1),
                        },
                    )
                arrive = t + step * float(rng.uniform(0.5, 1.0))
                t = arrive + float(rng.uniform(30, 180))
                failed = bool(rng.random() < failed_share)
                add(
                    t,
                    {
                        "type": "stop_outcome",
                        "vehicle_id": vid,
                        "order_id": oid,
                        "outcome": "failed" if failed else "delivered",
                        "arrived_at": iso(arrive),
                        "reason": "nobody home" if failed else "",
                    },
                )
                positions[v] = node
        order_no += 1
        lat, lon, _ = node_point()
        oid = f"{prefix}-o{order_no}"
        add(
            base,
            {
                "type": "order_created",
                "order_id": oid,
                "lat": lat,
                "lon": lon,
                "window_start": iso(base + 3600.0),
                "window_end": iso(base + 10800.0),
            },
        )
        add(base + step, {"type": "order_cancelled", "order_id": oid, "reason": "customer"})
    drafts.sort(key=lambda d: (d[0], d[1]))
    events = []
    for k, (t_s, _, body) in enumerate(drafts[:n_events], start=1):
        events.append({"event_id": f"{prefix}-{k:07d}", "time": iso(t_s), **body})
    return events
