"""Candidate sites: read from a CSV or GeoJSON file, or generated on the map's major roads."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from twin.errors import ScenarioError
from twin.maps.network import ROAD_CLASSES, RoadNetwork
from twin.scenario.study import SiteSettings
from twin.sites.areas import DemandAreas

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class Candidate:
    """A possible (or existing) site."""

    id: str
    lat: float
    lon: float
    fixed_cost_per_day: float
    capacity_per_day: float = math.inf
    existing: bool = False
    node: int = -1

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "lat": round(self.lat, 6),
            "lon": round(self.lon, 6),
            "existing": self.existing,
            "fixed_cost_per_day": self.fixed_cost_per_day,
            "capacity_per_day": None
            if math.isinf(self.capacity_per_day)
            else self.capacity_per_day,
        }


# -- candidates ----------------------------------------------------------------------------
_LAT = ("lat", "latitude", "y")
_LON = ("lon", "lng", "longitude", "x")
_FIXED = ("fixed_cost_per_day", "fixed_cost")
_CAPACITY = ("capacity_per_day", "capacity")


def read_candidates(path: str | Path, settings: SiteSettings) -> list[Candidate]:
    """Sites from a CSV (columns ``id``, ``lat``, ``lon``, optional ``fixed_cost``
    and ``capacity``) or a GeoJSON FeatureCollection of points (the same names as
    properties). Every problem is a :class:`ScenarioError` naming file and row."""
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"Sites file {path} does not exist; check sites.candidates.")
    if path.suffix.lower() in (".geojson", ".json"):
        rows = _geojson_rows(path)
    elif path.suffix.lower() == ".csv":
        try:
            frame = pd.read_csv(path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise ScenarioError(f"Sites file {path} is not a readable CSV ({exc}).") from None
        frame.columns = [str(c).strip().lower() for c in frame.columns]
        if not any(c in frame for c in _LAT) or not any(c in frame for c in _LON):
            raise ScenarioError(
                f"Sites file {path} has no coordinates: give each site's latitude and "
                f"longitude in columns 'lat' and 'lon' (found {list(frame.columns)})."
            )
        records = frame.to_dict("records")
        rows = [(f"row {k + 2}", {str(c): v for c, v in r.items()}) for k, r in enumerate(records)]
    else:
        raise ScenarioError(f"Sites file {path}: use a .csv or .geojson file.")
    if not rows:
        raise ScenarioError(f"Sites file {path} lists no sites.")
    out = [_candidate(path, where, row, settings, k) for k, (where, row) in enumerate(rows)]
    ids = [c.id for c in out]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ScenarioError(f"Sites file {path}: site ids {dupes} appear more than once.")
    return out


def _geojson_rows(path: Path) -> list[tuple[str, dict[str, Any]]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"Sites file {path} is not valid GeoJSON ({exc}).") from None
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list):
        raise ScenarioError(f"Sites file {path}: expected a GeoJSON FeatureCollection.")
    rows = []
    for k, feature in enumerate(features):
        geometry = (feature or {}).get("geometry") or {}
        props = dict((feature or {}).get("properties") or {})
        coords = geometry.get("coordinates")
        if geometry.get("type") != "Point" or not isinstance(coords, list) or len(coords) < 2:
            raise ScenarioError(
                f"Sites file {path}, feature {k}: needs a Point geometry with coordinates "
                "[lon, lat]."
            )
        props["lon"], props["lat"] = coords[0], coords[1]
        rows.append((f"feature {k}", props))
    return rows


def _pick(row: dict[str, Any], names: Sequence[str]) -> Any:
    for name in names:
        value = row.get(name)
        if value is not None and not (isinstance(value, float) and math.isnan(value)):
            return value
    return None


def _number(path: Path, where: str, name: str, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ScenarioError(
            f"Sites file {path}, {where}: {name} {value!r} is not a number."
        ) from None


def _candidate(
    path: Path, where: str, row: dict[str, Any], settings: SiteSettings, k: int
) -> Candidate:
    site = str(_pick(row, ("id", "name")) or f"site-{k + 1}")
    lat, lon = _pick(row, _LAT), _pick(row, _LON)
    if lat is None or lon is None:
        raise ScenarioError(
            f"Sites file {path}, {where} (site {site!r}): no coordinates; give lat and lon."
        )
    lat_f, lon_f = _number(path, where, "lat", lat), _number(path, where, "lon", lon)
    if not (-90 <= lat_f <= 90 and -180 <= lon_f <= 180):
        raise ScenarioError(
            f"Sites file {path}, {where} (site {site!r}): ({lat_f}, {lon_f}) is not a "
            "latitude/longitude pair; check the column order."
        )
    fixed = _pick(row, _FIXED)
    capacity = _pick(row, _CAPACITY)
    fixed_f = (
        settings.fixed_cost_per_day if fixed is None else _number(path, where, "fixed_cost", fixed)
    )
    cap_default = settings.capacity_per_day or math.inf
    cap_f = cap_default if capacity is None else _number(path, where, "capacity", capacity)
    if fixed_f < 0 or cap_f <= 0:
        raise ScenarioError(
            f"Sites file {path}, {where} (site {site!r}): fixed_cost must be >= 0 and "
            "capacity > 0 orders per day."
        )
    return Candidate(site, lat_f, lon_f, fixed_f, cap_f)


def generate_candidates(
    network: RoadNetwork, areas: DemandAreas, settings: SiteSettings
) -> list[Candidate]:
    """One candidate per grid cell over the demand area, at the node nearest the cell
    centre among those on the allowed road classes (within half a cell)."""
    assert settings.generate is not None
    spacing = settings.generate.spacing_m
    allowed = np.isin(np.asarray(ROAD_CLASSES), list(settings.generate.road_classes))
    on_major = np.zeros(network.n_nodes, dtype=bool)
    major_edges = allowed[network.edge_class]
    on_major[network.edge_u[major_edges]] = True
    on_major[network.edge_v[major_edges]] = True
    if not on_major.any():
        raise ScenarioError(
            f"sites.generate: map {network.meta.name!r} has no roads of classes "
            f"{list(settings.generate.road_classes)}; allow other road classes."
        )
    xy = network.node_xy
    pool = np.flatnonzero(on_major)
    area_xy = network.project(areas.lat, areas.lon)
    lo, hi = area_xy.min(axis=0), area_xy.max(axis=0)
    nx_cells = max(1, int(np.ceil((hi[0] - lo[0]) / spacing)))
    ny_cells = max(1, int(np.ceil((hi[1] - lo[1]) / spacing)))
    out = []
    for r in range(ny_cells):
        for c in range(nx_cells):
            centre = lo + spacing * (np.array([c, r]) + 0.5)
            d = np.linalg.norm(xy[pool] - centre, axis=1)
            best = int(np.argmin(d))
            if d[best] > spacing / 2:
                continue
            i = int(pool[best])
            out.append(
                Candidate(
                    id=f"g{r:02d}-{c:02d}",
                    lat=float(network.lat[i]),
                    lon=float(network.lon[i]),
                    fixed_cost_per_day=settings.fixed_cost_per_day,
                    capacity_per_day=settings.capacity_per_day or math.inf,
                    node=int(network.node_ids[i]),
                )
            )
    return out
