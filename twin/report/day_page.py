"""The animated day: one offline HTML page that replays a simulated day from its event log.

A time slider (and a play button) moves the clock; vehicles move along the roads
they drove, stops change colour as parcels go out and are delivered or fail,
and the tiles count what has happened by then. Everything is in the page (the
data as JSON, the drawing code, the styles): no server, no CDN, so it opens from
a file and can be mailed.

What the page draws is read off the run, not re-simulated:

* a vehicle's position: each ``arrive`` event ends one leg, whose road path is the
  route's ``legs`` entry (the two are logged together, in the same order); the
  leg starts ``drive_s`` before the arrival, and the vehicle moves along its path
  at a constant speed over the leg. Between legs it stands where it is (a stop,
  the hub). Drones fly straight lines (``flight`` events) and are not drawn;
  their stops are.
* a stop's status: ``out_for_delivery`` (on board), then the hand-over
  (``delivered`` or ``in_locker``) or a ``failed`` attempt;
* the tiles: delivered, failed attempts, delivered on time (hand-over by the
  window's end), vehicles on the road (between ``depart`` and ``return_to_hub``).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from twin.constants import DAY_S
from twin.live.geometry import network_payload
from twin.maps.network import RoadNetwork

__all__ = ["day_data", "write_day_page"]

_STATIC = Path(__file__).with_name("static")
#: Stop outcome codes in the page's data.
_PENDING, _DELIVERED, _FAILED = 0, 1, 2


def _details(text: Any) -> dict[str, Any]:
    return json.loads(text) if isinstance(text, str) and text else {}


def _vehicle_legs(route: dict[str, Any], arrivals: pd.DataFrame, network: RoadNetwork) -> list:
    """``[t0, t1, [lon, lat, lon, lat, ...]]`` per leg driven (arrivals in log order)."""
    legs = []
    ends = zip(arrivals["time_s"], arrivals["details"], strict=True)
    for leg, (t1, details) in zip(route.get("legs", []), ends, strict=False):
        nodes = np.asarray(leg, dtype=np.int64)
        if len(nodes) < 2:
            continue
        idx = network.index(nodes)
        coords = np.column_stack((network.lon[idx], network.lat[idx])).round(5).ravel()
        t0 = float(t1) - float(_details(details).get("drive_s", 0.0))
        legs.append([round(t0, 1), round(float(t1), 1), coords.tolist()])
    return legs


def _stops(events: pd.DataFrame, orders: pd.DataFrame) -> list[list[float | None]]:
    """``[lon, lat, t_out, t_done, outcome, window_end]`` per order taken out that day."""
    out = events[events["kind"] == "out_for_delivery"].drop_duplicates("order_id")
    done = events[events["kind"].isin(["delivered", "in_locker"])].drop_duplicates("order_id")
    failed = events[events["kind"] == "failed"].drop_duplicates("order_id")
    stops = out[["order_id", "time_s"]].merge(
        orders[["order_id", "lon", "lat", "window_end_s"]], on="order_id"
    )
    t_done = stops["order_id"].map(done.set_index("order_id")["time_s"])
    t_failed = stops["order_id"].map(failed.set_index("order_id")["time_s"])
    outcome = np.where(t_done.notna(), _DELIVERED, np.where(t_failed.notna(), _FAILED, _PENDING))
    t_end = t_done.fillna(t_failed)
    return [
        [
            round(float(lon), 5),
            round(float(lat), 5),
            round(float(t_out), 1),
            None if np.isnan(t) else round(float(t), 1),
            int(code),
            round(float(end), 1),
        ]
        for lon, lat, t_out, t, code, end in zip(
            stops["lon"],
            stops["lat"],
            stops["time_s"],
            t_end.to_numpy(dtype=float),
            outcome,
            stops["window_end_s"],
            strict=True,
        )
    ]


def day_data(result: Any, network: RoadNetwork, *, day: int) -> dict[str, Any]:
    """Everything the page draws for ``day`` of one replication, JSON-ready."""
    events = result.events[result.events["day"] == day]
    payload = network_payload(network, result.hubs)
    moves = events[events["kind"].isin(["arrive", "depart", "return_to_hub"])]
    by_vehicle = {str(v): frame for v, frame in moves.groupby("vehicle_id")}
    vehicles = []
    for route in result.routes:
        vid = str(route["vehicle_id"])
        if route["day"] != day or vid not in by_vehicle:
            continue
        mine = by_vehicle[vid]
        departs = mine.loc[mine["kind"] == "depart", "time_s"].tolist()
        returns = mine.loc[mine["kind"] == "return_to_hub", "time_s"].tolist()
        vehicles.append(
            {
                "id": vid,
                "legs": _vehicle_legs(route, mine[mine["kind"] == "arrive"], network),
                "out": [[round(a, 1), round(b, 1)] for a, b in zip(departs, returns, strict=False)]
                + ([[round(departs[-1], 1), None]] if len(departs) > len(returns) else []),
            }
        )
    # The slider starts with the day's first vehicle event (the morning plan), not
    # with orders placed after midnight.
    working = events.loc[events["vehicle_id"].notna(), "time_s"]
    start = float(working.min()) if len(working) else day * DAY_S
    end = float(events["time_s"].max()) if len(events) else (day + 1) * DAY_S
    date = result.scenario.start_date + dt.timedelta(days=day)
    return {
        "title": result.scenario.name,
        "day": day,
        "date": date.isoformat(),
        "day_start_s": day * DAY_S,
        "start_s": round(start, 1),
        "end_s": round(end, 1),
        "bbox": payload["bbox"],
        "roads": [line for lines in payload["classes"].values() for line in lines],
        "hubs": payload["hubs"],
        "attribution": payload["attribution"],
        "synthetic": payload["synthetic"],
        "vehicles": vehicles,
        "stops": _stops(events, result.orders),
    }


def write_day_page(result: Any, network: RoadNetwork, out_dir: Path, *, day: int) -> Path:
    """Write ``day.html``: the animated ``day`` of ``result``; return its path."""
    data = json.dumps(day_data(result, network, day=day), separators=(",", ":"))
    page = (_STATIC / "day.html").read_text(encoding="utf-8")
    page = page.replace("/*STYLE*/", (_STATIC / "day.css").read_text(encoding="utf-8"))
    page = page.replace("/*SCRIPT*/", (_STATIC / "day.js").read_text(encoding="utf-8"))
    # "</" would end the script element early; JSON allows "<\/" for it.
    page = page.replace("/*DATA*/null", data.replace("</", "<\\/"))
    path = out_dir / "day.html"
    path.write_text(page, encoding="utf-8")
    return path
