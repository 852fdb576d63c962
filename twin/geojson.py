"""A run's routes, stops and sites as GeoJSON, for GIS tools (QGIS, geopandas, kepler.gl).

``twin run`` writes two tables beside the event log that the export needs and
the other files lack: ``routes_r<k>.parquet`` (each trip's road path as
driven: the simulated legs joined, node ids and their coordinates) and
``sites.parquet`` (hubs, parcel lockers, the map's border crossings).
:func:`write_geojson` turns a run folder into three RFC 7946 FeatureCollections:

* ``routes.geojson``: one LineString per vehicle trip (``vehicle_id``, ``trip``,
  ``day``, ``date``, ``km``, ``departed``/``returned`` local times, ``stops``);
* ``stops.geojson``: one Point per released order of the measured days
  (``order_id``, ``status`` = its final state, window, arrival and hand-over
  times, ``attempts``, ``vehicle_id`` of its last attempt);
* ``sites.geojson``: one Point per hub, locker and border crossing (``kind``).

Coordinates are WGS 84 longitude, latitude (RFC 7946 allows no other CRS).
Times are ISO 8601 local times of the scenario's calendar (``start_date`` is
day 0; the simulation has no time zone), with the seconds since day 0 beside
them. Features carry the map's attribution in each collection's ``attribution``
member, as every map twin draws does.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from twin.errors import TwinError

__all__ = ["routes_table", "sites_table", "write_geojson"]


def routes_table(result: Any, network: Any, *, replication: int = 0) -> pd.DataFrame:
    """One row per vehicle trip of a run: its road path as node ids and coordinates."""
    rows = []
    for route in result.routes:
        for k, path in enumerate(route.get("trips") or [route["path"]], 1):
            idx = network.index(path) if len(path) else np.array([], dtype=np.int64)
            rows.append(
                {
                    "replication": replication,
                    "day": int(route["day"]),
                    "vehicle_id": str(route["vehicle_id"]),
                    "trip": k,
                    "nodes": [int(n) for n in path],
                    "lon": network.lon[idx].astype(float).tolist(),
                    "lat": network.lat[idx].astype(float).tolist(),
                }
            )
    return pd.DataFrame(
        rows, columns=["replication", "day", "vehicle_id", "trip", "nodes", "lon", "lat"]
    )


def sites_table(result: Any, network: Any) -> pd.DataFrame:
    """Hubs (at their routable node), parcel lockers and the map's border crossings."""
    rows = []
    for hub, node in result.hubs.items():
        i = int(network.index([node])[0])
        rows.append(
            {
                "kind": "hub",
                "id": hub,
                "name": hub,
                "lat": float(network.lat[i]),
                "lon": float(network.lon[i]),
            }
        )
    for site in result.scenario.lockers.sites:
        rows.append(
            {"kind": "locker", "id": site.id, "name": site.id, "lat": site.lat, "lon": site.lon}
        )
    for crossing in network.meta.crossings:
        rows.append(
            {
                "kind": "border_crossing",
                "id": crossing.name,
                "name": crossing.name,
                "lat": crossing.lat,
                "lon": crossing.lon,
            }
        )
    return pd.DataFrame(rows, columns=["kind", "id", "name", "lat", "lon"])


# -- the export ------------------------------------------------------------------------------------
def _clock(start: dt.date, seconds: float) -> str | None:
    """Seconds since day 0 as an ISO 8601 local time, or None when not a time."""
    if seconds is None or not math.isfinite(seconds):
        return None
    base = dt.datetime.combine(start, dt.time())
    return (base + dt.timedelta(seconds=round(float(seconds)))).isoformat()


def _seconds(value: Any) -> float | None:
    return float(value) if value is not None and math.isfinite(float(value)) else None


def _collection(features: list[dict[str, Any]], attribution: str) -> dict[str, Any]:
    return {"type": "FeatureCollection", "attribution": attribution, "features": features}


def _feature(geometry: dict[str, Any], properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def _route_features(
    routes: pd.DataFrame, events: pd.DataFrame, start: dt.date
) -> list[dict[str, Any]]:
    """LineStrings of the trips (a drone's or an unmoved vehicle's trip has no road path)."""
    mine = events[events["kind"].isin(["depart", "return_to_hub", "attempted"])]
    by_vehicle = {str(v): frame for v, frame in mine.groupby("vehicle_id")}
    features = []
    for r in routes.to_dict("records"):
        if len(r["nodes"]) < 2:
            continue
        lon, lat = np.asarray(r["lon"], dtype=float), np.asarray(r["lat"], dtype=float)
        coords = np.round(np.column_stack((lon, lat)), 7).tolist()
        ev = by_vehicle.get(r["vehicle_id"], mine.iloc[0:0])
        ev = ev[ev["day"] == r["day"]]
        trip = int(r["trip"])
        departs = ev.loc[ev["kind"] == "depart", "time_s"].tolist()
        returns = ev.loc[ev["kind"] == "return_to_hub", "time_s"].tolist()
        left = departs[trip - 1] if trip <= len(departs) else math.nan
        back = returns[trip - 1] if trip <= len(returns) else math.nan
        stops = ev[(ev["kind"] == "attempted") & (ev["time_s"] >= left)]
        if math.isfinite(back):
            stops = stops[stops["time_s"] <= back]
        km = float(np.sum(_haversine_m(lat, lon))) / 1000.0
        features.append(
            _feature(
                {"type": "LineString", "coordinates": coords},
                {
                    "vehicle_id": r["vehicle_id"],
                    "trip": trip,
                    "day": int(r["day"]),
                    "date": (start + dt.timedelta(days=int(r["day"]))).isoformat(),
                    "km": round(km, 3),
                    "departed": _clock(start, left),
                    "returned": _clock(start, back),
                    "stops": len(stops),
                },
            )
        )
    return features


def _haversine_m(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Great-circle length of each segment of a polyline (metres)."""
    p, q = np.radians(lat), np.radians(lon)
    a = np.sin(np.diff(p) / 2) ** 2 + np.cos(p[:-1]) * np.cos(p[1:]) * np.sin(np.diff(q) / 2) ** 2
    return 2 * 6_371_008.8 * np.arcsin(np.sqrt(a))


def _stop_features(
    orders: pd.DataFrame, events: pd.DataFrame, start: dt.date
) -> list[dict[str, Any]]:
    """Points of the released orders with their final status and times."""
    tried = events[events["kind"] == "attempted"].drop_duplicates("order_id", keep="last")
    vehicle = dict(zip(tried["order_id"], tried["vehicle_id"], strict=True))
    features = []
    for o in orders[orders["released"]].to_dict("records"):
        times = {
            "window_start": o["window_start_s"],
            "window_end": o["window_end_s"],
            "arrival": o["arrival_s"],
            "delivered": o["delivered_s"],
        }
        properties: dict[str, Any] = {
            "order_id": o["order_id"],
            "status": o["final_state"],
            "due_day": int(o["due_day"]),
            "attempts": int(o["attempts"]),
            "vehicle_id": vehicle.get(o["order_id"]),
            "option": o["option"],
        }
        for name, seconds in times.items():
            properties[name] = _clock(start, seconds)
            properties[f"{name}_s"] = _seconds(seconds)
        features.append(
            _feature({"type": "Point", "coordinates": [o["lon"], o["lat"]]}, properties)
        )
    return features


def _site_features(sites: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        _feature(
            {"type": "Point", "coordinates": [s["lon"], s["lat"]]},
            {"kind": s["kind"], "id": s["id"], "name": s["name"]},
        )
        for s in sites.to_dict("records")
    ]


def write_geojson(run_dir: Path, out_dir: Path, *, replication: int = 0) -> dict[str, Path]:
    """Write ``routes``, ``stops`` and ``sites`` GeoJSON of one replication of the run
    in ``run_dir`` (a ``twin run`` output folder) to ``out_dir``; return the paths."""
    needed = {
        "scenario": run_dir / "scenario.resolved.yaml",
        "routes": run_dir / f"routes_r{replication}.parquet",
        "sites": run_dir / "sites.parquet",
        "orders": run_dir / f"orders_r{replication}.parquet",
        "summary": run_dir / "kpis.json",
        "events": run_dir / f"events_r{replication}.parquet",
    }
    missing = [str(p.name) for p in needed.values() if not p.is_file()]
    if missing:
        raise TwinError(
            f"{run_dir} is not a twin run folder with replication {replication} "
            f"(missing {', '.join(missing)}); run `twin run SCENARIO --out {run_dir}` first "
            "(runs before twin wrote routes and sites must be run again)."
        )
    scenario = yaml.safe_load(needed["scenario"].read_text(encoding="utf-8"))
    start = dt.date.fromisoformat(str(scenario["start_date"]))
    summary = json.loads((run_dir / "kpis.json").read_text(encoding="utf-8"))
    attribution = str(summary.get("map_attribution", ""))
    warmup = int(summary.get("warmup_days") or 0)
    events = pd.read_parquet(needed["events"])
    orders = pd.read_parquet(needed["orders"])
    routes = pd.read_parquet(needed["routes"])
    layers = {
        "routes": _route_features(routes[routes["day"] >= warmup], events, start),
        "stops": _stop_features(orders[orders["due_day"] >= warmup], events, start),
        "sites": _site_features(pd.read_parquet(needed["sites"])),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, features in layers.items():
        paths[name] = out_dir / f"{name}.geojson"
        paths[name].write_text(
            json.dumps(_collection(features, attribution), ensure_ascii=False), encoding="utf-8"
        )
    return paths
