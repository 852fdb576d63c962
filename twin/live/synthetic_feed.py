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
    per_stop = pings_per_leg + 1
    # Events per wave: per vehicle one route, one order and ``per_stop`` events per stop,
    # plus one cancelled order per wave; the first wave also puts drivers on duty.
    wave_events = vehicles * (1 + stops_per_route * (1 + per_stop)) + 2
    n_waves = max(1, -(-n_events // wave_events))
    feed = _Feed(
        network,
        dt.datetime.combine(start_date, dt.time(7, 0)),
        np.random.default_rng(seed),
        prefix=prefix,
        pings_per_leg=pings_per_leg,
        failed_share=failed_share,
    )
    wave_s = day_span_h * 3600.0 / n_waves
    positions = {v: feed.node_point()[2] for v in range(vehicles)}
    for v in range(vehicles):
        feed.add(
            0.0,
            {
                "type": "driver_status",
                "vehicle_id": f"van-{v + 1}",
                "driver_id": f"drv-{v + 1}",
                "status": "on_duty",
                "shift_end": feed.iso(day_span_h * 3600.0 + 1800.0),
            },
        )
    for w in range(n_waves):
        base = w * wave_s
        step = wave_s / (2 + stops_per_route * (1 + per_stop))
        for v in range(vehicles):
            vid = f"van-{v + 1}"
            orders = [feed.new_order(base, step, wave_s) for _ in range(stops_per_route)]
            t = base + step
            feed.add(
                t,
                {"type": "route_assigned", "vehicle_id": vid, "order_ids": [o for o, _ in orders]},
            )
            for oid, node in orders:
                t = feed.serve(vid, oid, positions[v], node, t, step)
                positions[v] = node
        feed.cancelled_order(base, step)
    feed.drafts.sort(key=lambda d: (d[0], d[1]))
    events = []
    for k, (t_s, _, body) in enumerate(feed.drafts[:n_events], start=1):
        events.append({"event_id": f"{prefix}-{k:07d}", "time": feed.iso(t_s), **body})
    return events


class _Feed:
    """The feed being drafted: events with their times, and the one generator they draw from.

    The draws happen in a fixed order (the feed's order of events), so the same
    arguments give the same feed.
    """

    def __init__(
        self,
        network: RoadNetwork,
        t0: dt.datetime,
        rng: np.random.Generator,
        *,
        prefix: str,
        pings_per_leg: int,
        failed_share: float,
    ) -> None:
        self.network = network
        self.t0 = t0
        self.rng = rng
        self.prefix = prefix
        self.pings_per_leg = pings_per_leg
        self.failed_share = failed_share
        self.drafts: list[tuple[float, int, dict[str, Any]]] = []  # (time_s, tiebreak, event)
        self.order_no = 0

    def add(self, t_s: float, body: dict[str, Any]) -> None:
        self.drafts.append((t_s, len(self.drafts), body))

    def iso(self, t_s: float) -> str:
        return (self.t0 + dt.timedelta(seconds=round(t_s, 3))).isoformat()

    def node_point(self) -> tuple[float, float, int]:
        k = int(self.rng.integers(self.network.n_nodes))
        return round(float(self.network.lat[k]), 6), round(float(self.network.lon[k]), 6), k

    def new_order(self, base: float, step: float, wave_s: float) -> tuple[str, int]:
        """An order placed early in the wave, with a 2-hour window; returns (id, node)."""
        rng = self.rng
        self.order_no += 1
        oid = f"{self.prefix}-o{self.order_no}"
        lat, lon, node = self.node_point()
        start = base + float(rng.uniform(0.5, 1.5)) * wave_s
        self.add(
            base + float(rng.uniform(0, step)),
            {
                "type": "order_created",
                "order_id": oid,
                "lat": lat,
                "lon": lon,
                "window_start": self.iso(start),
                "window_end": self.iso(start + 7200.0),
                "option": ("home", "safe_drop", "signature")[int(rng.integers(3))],
                "parcels": int(rng.integers(1, 4)),
            },
        )
        return oid, node

    def serve(self, vid: str, oid: str, here: int, there: int, t: float, step: float) -> float:
        """Pings from ``here`` to ``there``, then the stop's outcome; returns the outcome's time."""
        rng, network = self.rng, self.network
        for p in range(1, self.pings_per_leg + 1):
            t += step * float(rng.uniform(0.5, 1.0))
            f = p / (self.pings_per_leg + 1)
            lat = (1 - f) * network.lat[here] + f * network.lat[there]
            lon = (1 - f) * network.lon[here] + f * network.lon[there]
            k = int(network.index(int(network.snap(lat, lon).node[0]))[0])
            self.add(
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
        failed = bool(rng.random() < self.failed_share)
        self.add(
            t,
            {
                "type": "stop_outcome",
                "vehicle_id": vid,
                "order_id": oid,
                "outcome": "failed" if failed else "delivered",
                "arrived_at": self.iso(arrive),
                "reason": "nobody home" if failed else "",
            },
        )
        return t

    def cancelled_order(self, base: float, step: float) -> None:
        """One order per wave that its customer cancels soon after placing it."""
        self.order_no += 1
        lat, lon, _ = self.node_point()
        oid = f"{self.prefix}-o{self.order_no}"
        self.add(
            base,
            {
                "type": "order_created",
                "order_id": oid,
                "lat": lat,
                "lon": lon,
                "window_start": self.iso(base + 3600.0),
                "window_end": self.iso(base + 10800.0),
            },
        )
        self.add(base + step, {"type": "order_cancelled", "order_id": oid, "reason": "customer"})
