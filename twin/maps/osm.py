"""OpenStreetMap edge of twin: the only module that imports osmnx and osmium.

Three ways in, one graph out:

* :func:`read_osm_file` reads a local extract (``.osm``, ``.osm.bz2``, ``.osm.gz``,
  ``.osm.pbf``). osmium streams the file and keeps only the ways that pass OSMnx's
  own Overpass filter for the network type, so a raw extract (with buildings,
  footways, parking aisles) gives the same graph OSMnx would download. We chose
  osmium over pyrosm for PBF: it is maintained by OSM core developers, ships
  wheels, streams with low memory, and reads XML and PBF through one API, so both
  formats share a single code path.
* :func:`fetch_graph` runs an online OSMnx query (place name, bbox, polygon). The
  Overpass and Nominatim endpoints can be pointed elsewhere (``TWIN_OVERPASS_URL``,
  ``TWIN_NOMINATIM_URL``), which is how the tests exercise it against a local
  stand-in server.
* :func:`save_graphml` / :func:`load_graphml` cache built graphs with twin's
  metadata inside, so later runs are offline and fast.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from twin.errors import MapError
from twin.maps.network import MapMeta, PointOfInterest

__all__ = [
    "OSM_SUFFIXES",
    "fetch_graph",
    "load_graphml",
    "read_osm_file",
    "save_graphml",
]

OSM_SUFFIXES = (".osm", ".osm.bz2", ".osm.gz", ".osm.pbf", ".pbf", ".xml", ".xml.bz2")

#: Typical speeds (km/h) for road classes that carry no ``maxspeed`` anywhere in the
#: extract; OSMnx uses the class mean of tagged edges where there is one.
DEFAULT_SPEEDS_KPH: dict[str, float] = {
    "motorway": 105.0,
    "motorway_link": 60.0,
    "trunk": 90.0,
    "trunk_link": 50.0,
    "primary": 65.0,
    "primary_link": 45.0,
    "secondary": 55.0,
    "secondary_link": 40.0,
    "tertiary": 45.0,
    "tertiary_link": 35.0,
    "residential": 40.0,
    "unclassified": 40.0,
    "living_street": 15.0,
    "road": 40.0,
    "service": 20.0,
}
FALLBACK_SPEED_KPH = 40.0

_CLAUSE = re.compile(r'\["(?P<key>[^"]+)"(?:(?P<op>!?~)"(?P<regex>[^"]*)")?\]')


def _network_filter(network_type: str) -> list[tuple[str, str | None, re.Pattern[str] | None]]:
    """OSMnx's Overpass way filter for ``network_type``, as (key, op, regex) clauses.

    Reusing OSMnx's definition keeps local files and online queries consistent.
    Overpass matches regexes unanchored, so :func:`re.search` is the right test.
    """
    from osmnx import _overpass

    try:
        text = _overpass._get_network_filter(network_type)
    except ValueError:
        raise MapError(
            f"Unknown network_type {network_type!r}; use one of "
            "'drive', 'drive_service', 'walk', 'bike', 'all', 'all_public'."
        ) from None
    clauses = []
    for match in _CLAUSE.finditer(text):
        regex = match.group("regex")
        clauses.append(
            (match.group("key"), match.group("op"), re.compile(regex) if regex else None)
        )
    return clauses


def _way_passes(tags: dict[str, str], clauses: list[Any]) -> bool:
    for key, op, regex in clauses:
        value = tags.get(key)
        if op is None:
            if value is None:
                return False
        elif op == "~":
            if value is None or not regex.search(value):
                return False
        elif value is not None and regex.search(value):  # op == "!~"
            return False
    return True


def _check_suffix(path: Path) -> None:
    name = path.name.lower()
    if not name.endswith(OSM_SUFFIXES):
        raise MapError(
            f"{path} does not look like an OpenStreetMap extract; give a file ending in "
            f"{', '.join(OSM_SUFFIXES)} (or a .graphml from twin's cache)."
        )


def _filter_to_xml(path: Path, out: Path, network_type: str) -> tuple[int, list[PointOfInterest]]:
    """Write the routable ways of ``path`` (and their nodes) to OSM XML ``out``.

    Returns the number of ways kept and the schools found (``amenity=school`` nodes
    and way centroids), which drive school-zone slowdowns.
    """
    import osmium

    clauses = _network_filter(network_type)
    keep_ways: set[int] = set()
    keep_nodes: set[int] = set()
    schools: list[PointOfInterest] = []
    try:
        processor = osmium.FileProcessor(str(path)).with_locations()
        for obj in processor:
            if obj.is_node():
                if obj.tags.get("amenity") == "school" and obj.location.valid():
                    schools.append(_school(obj.tags, obj.location.lat, obj.location.lon))
            elif obj.is_way():
                tags = dict(obj.tags)
                if tags.get("amenity") == "school":
                    locs = [(n.lat, n.lon) for n in obj.nodes if n.location.valid()]
                    if locs:
                        lat, lon = np.mean(locs, axis=0)
                        schools.append(_school(obj.tags, float(lat), float(lon)))
                if _way_passes(tags, clauses):
                    keep_ways.add(obj.id)
                    keep_nodes.update(n.ref for n in obj.nodes)
        if not keep_ways:
            return 0, schools
        with osmium.SimpleWriter(str(out)) as writer:
            for obj in osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY):
                if (obj.is_node() and obj.id in keep_nodes) or (
                    obj.is_way() and obj.id in keep_ways
                ):
                    writer.add(obj)
    except RuntimeError as exc:
        raise MapError(
            f"{path} could not be read as OpenStreetMap data ({_first_line(exc)}); "
            "give an .osm, .osm.bz2 or .osm.pbf extract."
        ) from None
    return len(keep_ways), schools


def _school(tags: Any, lat: float, lon: float) -> PointOfInterest:
    return PointOfInterest(name=str(tags.get("name", "school")), kind="school", lat=lat, lon=lon)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def read_osm_file(
    path: str | Path, *, network_type: str = "drive", name: str | None = None
) -> tuple[nx.MultiDiGraph, MapMeta]:
    """Build the road graph of a local OSM extract.

    Parameters
    ----------
    path : str or Path
        ``.osm``/``.osm.bz2``/``.osm.gz`` XML or ``.osm.pbf``.
    network_type : str, optional
        OSMnx network type whose way filter is applied (default ``"drive"``).
    name : str, optional
        Display name (default: the file name without suffixes).
    """
    import osmnx as ox

    path = Path(path)
    if not path.is_file():
        raise MapError(f"OSM file {path} does not exist; check the path.")
    _check_suffix(path)
    if path.stat().st_size == 0:
        raise MapError(f"OSM file {path} is empty; give a non-empty extract.")
    with tempfile.TemporaryDirectory(prefix="twin-osm-") as tmp:
        xml = Path(tmp) / "filtered.osm"
        n_ways, schools = _filter_to_xml(path, xml, network_type)
        if n_ways == 0:
            raise MapError(
                f"OSM file {path} contains no roads usable for network_type "
                f"{network_type!r}; give an extract that covers a road network."
            )
        bidirectional = network_type in ox.settings.bidirectional_network_types
        with _quiet_osmnx():
            graph = ox.graph_from_xml(xml, bidirectional=bidirectional, retain_all=True)
    graph = _add_speeds(graph)
    display = name or path.name.split(".")[0]
    meta = MapMeta(
        name=display,
        source=f"osm-file:{path.resolve()}",
        synthetic=False,
        network_type=network_type,
        description=f"OpenStreetMap extract {path.name}",
        pois=tuple(schools),
    )
    return graph, meta


def _add_speeds(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    import osmnx as ox

    graph = ox.add_edge_speeds(graph, hwy_speeds=DEFAULT_SPEEDS_KPH, fallback=FALLBACK_SPEED_KPH)
    graph = ox.add_edge_travel_times(graph)
    for _, data in graph.nodes(data=True):
        data["lat"], data["lon"] = data["y"], data["x"]
    return graph


@contextlib.contextmanager
def _quiet_osmnx() -> Iterator[None]:
    """OSMnx logs and warns freely; twin reports through its own errors instead."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@contextlib.contextmanager
def _endpoints(overpass_url: str | None, nominatim_url: str | None) -> Iterator[None]:
    """Point OSMnx at the given (or environment) endpoints, restoring settings after."""
    import osmnx as ox

    s = ox.settings
    saved = (s.overpass_url, s.nominatim_url, s.overpass_rate_limit, s.use_cache, s.log_console)
    overpass_url = overpass_url or os.environ.get("TWIN_OVERPASS_URL")
    nominatim_url = nominatim_url or os.environ.get("TWIN_NOMINATIM_URL")
    try:
        if overpass_url:
            s.overpass_url = overpass_url.rstrip("/")
            # Rate-limit probing asks /status, which stand-ins and mirrors may lack.
            s.overpass_rate_limit = False
        if nominatim_url:
            s.nominatim_url = nominatim_url.rstrip("/") + "/"
        s.use_cache = False  # twin caches whole graphs itself
        s.log_console = False
        yield
    finally:
        (s.overpass_url, s.nominatim_url, s.overpass_rate_limit, s.use_cache, s.log_console) = saved


def fetch_graph(
    *,
    place: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    polygon_wkt: str | None = None,
    network_type: str = "drive",
    overpass_url: str | None = None,
    nominatim_url: str | None = None,
) -> nx.MultiDiGraph:
    """Download a road graph with OSMnx (exactly one of place, bbox, polygon).

    Parameters
    ----------
    place : str, optional
        Place name geocoded by Nominatim, e.g. ``"Laredo, Texas, USA"``.
    bbox : tuple, optional
        ``(west, south, east, north)`` in degrees.
    polygon_wkt : str, optional
        Polygon in WKT (EPSG:4326).
    overpass_url, nominatim_url : str, optional
        Endpoints; default to ``TWIN_OVERPASS_URL`` / ``TWIN_NOMINATIM_URL`` or OSMnx's.
    """
    import osmnx as ox
    import requests
    import shapely
    from osmnx._errors import InsufficientResponseError

    given = [q for q in (place, bbox, polygon_wkt) if q is not None]
    if len(given) != 1:
        raise MapError("Give exactly one of a place name, a bbox or a polygon to fetch.")
    what = (
        f"place {place!r}"
        if place is not None
        else f"bbox {bbox}"
        if bbox is not None
        else "the polygon"
    )
    with _endpoints(overpass_url, nominatim_url), _quiet_osmnx():
        try:
            if place is not None:
                graph = ox.graph_from_place(place, network_type=network_type, retain_all=True)
            elif bbox is not None:
                west, south, east, north = bbox
                if not (west < east and south < north):
                    raise MapError(
                        f"bbox {bbox} is not (west, south, east, north) with west < east "
                        "and south < north; reorder the numbers."
                    )
                graph = ox.graph_from_bbox(bbox, network_type=network_type, retain_all=True)
            else:
                try:
                    polygon = shapely.from_wkt(polygon_wkt)
                except shapely.errors.GEOSException:
                    raise MapError(
                        "The polygon is not valid WKT; give e.g. 'POLYGON((...))'."
                    ) from None
                graph = ox.graph_from_polygon(polygon, network_type=network_type, retain_all=True)
        except InsufficientResponseError:
            raise MapError(
                f"OpenStreetMap returned no roads for {what}; check the spelling or widen the area."
            ) from None
        except (TypeError, ValueError) as exc:
            if isinstance(exc, MapError):
                raise
            raise MapError(f"Could not fetch {what}: {_first_line(exc)}.") from None
        except requests.exceptions.RequestException as exc:
            raise MapError(
                f"Could not reach the OpenStreetMap servers for {what} ({_first_line(exc)}); "
                "check the network or set TWIN_OVERPASS_URL / TWIN_NOMINATIM_URL."
            ) from None
    return _add_speeds(graph)


_EDGE_DTYPES: dict[str, Any] = {"commercial_only": lambda s: s == "True"}
_NODE_DTYPES: dict[str, Any] = {"lat": float, "lon": float}


def save_graphml(graph: nx.MultiDiGraph, meta: MapMeta, path: Path) -> None:
    """Write ``graph`` with twin's metadata embedded as a graph attribute."""
    import osmnx as ox

    graph = graph.copy()
    graph.graph["twin_meta"] = meta.to_json()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    ox.save_graphml(graph, tmp)
    tmp.replace(path)  # atomic: a killed run never leaves a half-written cache


def load_graphml(path: Path) -> tuple[nx.MultiDiGraph, MapMeta]:
    """Read a GraphML written by twin (or plain OSMnx) back into a graph and metadata."""
    import osmnx as ox

    if not path.is_file():
        raise MapError(f"GraphML file {path} does not exist; check the path.")
    try:
        with _quiet_osmnx():
            graph = ox.load_graphml(path, node_dtypes=_NODE_DTYPES, edge_dtypes=_EDGE_DTYPES)
    except Exception as exc:
        raise MapError(
            f"{path} could not be read as GraphML ({_first_line(exc)}); give a GraphML "
            "written by OSMnx or twin."
        ) from None
    if "twin_meta" in graph.graph:
        meta = MapMeta.from_json(graph.graph.pop("twin_meta"))
    else:
        meta = MapMeta(
            name=path.name.split(".")[0],
            source=f"graphml:{path.resolve()}",
            synthetic=False,
            description=f"GraphML {path.name}",
        )
    for _, data in graph.nodes(data=True):
        data.setdefault("lat", data["y"])
        data.setdefault("lon", data["x"])
    for _, _, data in graph.edges(data=True):
        if "travel_time" not in data:
            raise MapError(
                f"GraphML {path} has edges without travel_time; build it with OSMnx's "
                "add_edge_speeds and add_edge_travel_times."
            )
    return graph, meta
