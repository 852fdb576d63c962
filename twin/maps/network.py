"""The road network every other part of twin routes on.

A :class:`RoadNetwork` wraps an OSMnx-compatible ``MultiDiGraph`` restricted to its
largest strongly connected component (so every node can reach every other one), and
keeps compact edge arrays beside it, sorted by tail node so they *are* a CSR
adjacency structure. Travel-time code builds ``scipy.sparse`` matrices from these
arrays without ever touching the graph again.

The graph keeps OSMnx attribute names so OSMnx and networkx functions work on it
unchanged: edge ``length`` is metres, ``travel_time`` seconds, ``speed_kph`` km/h.
twin's own arrays carry the unit in the name (``edge_length_m``,
``edge_free_flow_s``).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from twin.constants import ROAD_CLASSES  # re-exported: twin.maps.network.ROAD_CLASSES
from twin.errors import MapError

__all__ = [
    "OSM_ATTRIBUTION",
    "ROAD_CLASSES",
    "BorderCrossing",
    "LocalProjection",
    "MapMeta",
    "PointOfInterest",
    "RoadNetwork",
    "SnapResult",
    "Zone",
    "road_class",
]

OSM_ATTRIBUTION = "© OpenStreetMap contributors"
OSM_LICENSE = "ODbL 1.0 (https://www.openstreetmap.org/copyright)"

_CLASS_CODE = {name: code for code, name in enumerate(ROAD_CLASSES)}
_RESIDENTIAL_LIKE = {"residential", "living_street", "unclassified", "road"}

EARTH_RADIUS_M = 6_371_008.8


def road_class(highway: Any) -> str:
    """Map an OSM ``highway`` value (string or OSMnx list) to one of :data:`ROAD_CLASSES`.

    After OSMnx simplification an edge may carry several highway values; the most
    important one decides, because it dominates the speed and congestion of the edge.
    """
    values = highway if isinstance(highway, list | tuple) else [highway]
    best = len(ROAD_CLASSES) - 1
    for value in values:
        name = str(value).removesuffix("_link")
        if name in _RESIDENTIAL_LIKE:
            name = "residential"
        best = min(best, _CLASS_CODE.get(name, best))
    return ROAD_CLASSES[best]


@dataclass(frozen=True)
class BorderCrossing:
    """An international crossing: a bridge whose edges carry border waits.

    ``commercial_only`` crossings (e.g. the World Trade Bridge) are closed to
    ordinary delivery vehicles unless traffic settings allow them.
    """

    name: str
    lat: float
    lon: float
    commercial_only: bool = False


@dataclass(frozen=True)
class PointOfInterest:
    """A named point that affects operations, e.g. a school (school zones)."""

    name: str
    kind: str
    lat: float
    lon: float


@dataclass(frozen=True)
class Zone:
    """A named polygon (``(lat, lon)`` ring), e.g. an airport or a no-fly zone."""

    name: str
    kind: str
    ring: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class MapMeta:
    """Where a network came from and what it contains beyond the roads.

    Parameters
    ----------
    name : str
        Short name shown to users.
    source : str
        How it was obtained, e.g. ``"osm-file:/path/x.osm.bz2"`` or ``"synthetic:laredo"``.
    synthetic : bool
        True for generated maps; reports must label them so nobody takes them for
        survey data.
    attribution, license : str
        Credit line every map output carries, and the data licence.
    """

    name: str
    source: str
    synthetic: bool
    attribution: str = OSM_ATTRIBUTION
    license: str = OSM_LICENSE
    crs: str = "EPSG:4326"
    network_type: str = "drive"
    description: str = ""
    crossings: tuple[BorderCrossing, ...] = ()
    pois: tuple[PointOfInterest, ...] = ()
    zones: tuple[Zone, ...] = ()
    #: Polyline ``(lat, lon)`` of an international border, if the map has one.
    border: tuple[tuple[float, float], ...] = ()

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> MapMeta:
        raw = json.loads(text)
        raw["crossings"] = tuple(BorderCrossing(**c) for c in raw.get("crossings", ()))
        raw["pois"] = tuple(PointOfInterest(**p) for p in raw.get("pois", ()))
        raw["zones"] = tuple(
            Zone(z["name"], z["kind"], tuple(tuple(p) for p in z["ring"]))
            for z in raw.get("zones", ())
        )
        raw["border"] = tuple(tuple(p) for p in raw.get("border", ()))
        return cls(**raw)

    @property
    def schools(self) -> tuple[PointOfInterest, ...]:
        return tuple(p for p in self.pois if p.kind == "school")


@dataclass(frozen=True)
class SnapResult:
    """Addresses snapped to the routable network.

    ``node`` is the nearest routable node of every point, ``distance_m`` the
    straight-line distance to it, and ``too_far`` marks points farther than the
    allowed distance: they are reported, never silently moved.
    """

    node: np.ndarray
    distance_m: np.ndarray
    too_far: np.ndarray
    max_distance_m: float

    @property
    def n_too_far(self) -> int:
        return int(self.too_far.sum())


@dataclass
class LocalProjection:
    """Local equirectangular projection in metres around ``(lat0, lon0)``.

    Accurate to well under 0.5 % across a metropolitan area, which is all that
    snapping, hotspot radii and synthetic map building need; it avoids pyproj on
    hot paths.
    """

    lat0: float
    lon0: float
    kx: float = field(init=False)
    ky: float = field(init=False)

    def __post_init__(self) -> None:
        self.ky = math.pi / 180.0 * EARTH_RADIUS_M
        self.kx = self.ky * math.cos(math.radians(self.lat0))

    def xy(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Columns x (east, m) and y (north, m)."""
        lat = np.asarray(lat, dtype=float)
        lon = np.asarray(lon, dtype=float)
        return np.column_stack(((lon - self.lon0) * self.kx, (lat - self.lat0) * self.ky))

    def latlon(self, x_m: np.ndarray, y_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Inverse of :meth:`xy`: latitudes and longitudes in degrees."""
        return (
            self.lat0 + np.asarray(y_m, dtype=float) / self.ky,
            self.lon0 + np.asarray(x_m, dtype=float) / self.kx,
        )


class RoadNetwork:
    """A routable road network: graph, metadata and CSR edge arrays.

    Parameters
    ----------
    graph : networkx.MultiDiGraph
        OSMnx-style graph in EPSG:4326 with node ``x``/``y`` and edge ``length``,
        ``highway`` and ``travel_time``. It is restricted here to its largest
        strongly connected component.
    meta : MapMeta
        Provenance and features (crossings, schools, zones).
    """

    def __init__(self, graph: nx.MultiDiGraph, meta: MapMeta) -> None:
        if graph.number_of_nodes() == 0 or graph.number_of_edges() == 0:
            raise MapError(
                f"Map {meta.name!r} ({meta.source}) has no roads of type "
                f"{meta.network_type!r}; give an extract that contains a road network."
            )
        self.meta = meta
        self.n_nodes_loaded = graph.number_of_nodes()
        self.n_edges_loaded = graph.number_of_edges()
        self.graph = _largest_strong_component(graph)
        self.graph.graph.setdefault("crs", meta.crs)
        self._build_arrays()
        self.projection = LocalProjection(float(self.lat.mean()), float(self.lon.mean()))
        self._kdtree: cKDTree | None = None
        #: Networks of other modes over the same area (walk, bike), built on first
        #: use by :func:`twin.maps.modal.mode_network` and kept with the map.
        self.companions: dict[str, RoadNetwork] = {}

    # -- construction -------------------------------------------------------
    def _build_arrays(self) -> None:
        g = self.graph
        self.node_ids = np.fromiter(sorted(g.nodes), dtype=np.int64, count=g.number_of_nodes())
        self._index = {int(n): i for i, n in enumerate(self.node_ids)}
        self.lat = np.array([g.nodes[int(n)]["y"] for n in self.node_ids], dtype=np.float64)
        self.lon = np.array([g.nodes[int(n)]["x"] for n in self.node_ids], dtype=np.float64)
        crossing_index = {c.name: i for i, c in enumerate(self.meta.crossings)}

        # One entry per directed node pair: parallel edges collapse to the fastest,
        # which is the one any shortest-path search would use.
        best: dict[tuple[int, int], tuple[float, int, dict[str, Any]]] = {}
        for u, v, key, data in g.edges(keys=True, data=True):
            pair = (self._index[u], self._index[v])
            tt = float(data["travel_time"])
            if pair not in best or tt < best[pair][0]:
                best[pair] = (tt, key, data)
        pairs = sorted(best)
        m = len(pairs)
        self.edge_u = np.fromiter((p[0] for p in pairs), dtype=np.int32, count=m)
        self.edge_v = np.fromiter((p[1] for p in pairs), dtype=np.int32, count=m)
        self.edge_key = np.fromiter((best[p][1] for p in pairs), dtype=np.int64, count=m)
        datas = [best[p][2] for p in pairs]
        self.edge_length_m = np.array([float(d["length"]) for d in datas])
        self.edge_free_flow_s = np.array([best[p][0] for p in pairs])
        self.edge_class = np.array(
            [_CLASS_CODE[road_class(d.get("highway"))] for d in datas], dtype=np.int8
        )
        self.edge_crossing = np.array(
            [crossing_index.get(str(d.get("border_crossing", "")), -1) for d in datas],
            dtype=np.int16,
        )
        self.edge_northbound = np.array(
            [d.get("crossing_direction") == "northbound" for d in datas], dtype=bool
        )
        self.edge_name = [str(d.get("name", "")) for d in datas]
        self.indptr = np.zeros(self.n_nodes + 1, dtype=np.int32)
        np.cumsum(np.bincount(self.edge_u, minlength=self.n_nodes), out=self.indptr[1:])
        # Sorted (u, v) keys allow vectorised edge lookup by node pair.
        self._pair_keys = self.edge_u.astype(np.int64) * self.n_nodes + self.edge_v

    # -- basic facts --------------------------------------------------------
    @property
    def n_nodes(self) -> int:
        return len(self.node_ids)

    @property
    def n_edges(self) -> int:
        return len(self.edge_u)

    @property
    def routable_share(self) -> float:
        """Share of the loaded nodes that lie in the routable component."""
        return self.n_nodes / self.n_nodes_loaded

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """``(west, south, east, north)`` in degrees."""
        return (
            float(self.lon.min()),
            float(self.lat.min()),
            float(self.lon.max()),
            float(self.lat.max()),
        )

    def index(self, nodes: int | Iterable[int]) -> np.ndarray:
        """Array positions of OSM node ids; raises MapError for ids not in the network."""
        ids = [nodes] if isinstance(nodes, int | np.integer) else list(nodes)
        try:
            return np.array([self._index[int(n)] for n in ids], dtype=np.int64)
        except KeyError as exc:
            raise MapError(
                f"Node {exc.args[0]} is not in the routable part of map {self.meta.name!r}; "
                "snap the address with RoadNetwork.snap() first."
            ) from None

    def edge_positions(self, u_idx: np.ndarray, v_idx: np.ndarray) -> np.ndarray:
        """Positions in the edge arrays of the edges ``u_idx[i] -> v_idx[i]``."""
        keys = np.asarray(u_idx, dtype=np.int64) * self.n_nodes + np.asarray(v_idx)
        return np.searchsorted(self._pair_keys, keys)

    def csr(self, weights: np.ndarray) -> sp.csr_matrix:
        """CSR adjacency matrix with the given per-edge weights (edge-array order)."""
        return sp.csr_matrix((weights, self.edge_v, self.indptr), shape=(self.n_nodes,) * 2)

    def path_coords(self, nodes: Iterable[int]) -> list[tuple[float, float]]:
        """``(lat, lon)`` points along a path of node ids, following edge geometry where
        the map has it (of parallel edges, the fastest). Two consecutive nodes with no
        edge between them (where a path joins legs that do not meet) are joined by a
        straight segment. A one-node path is its point."""
        g = self.graph
        ids = [int(n) for n in nodes]
        coords: list[tuple[float, float]] = []
        for u, v in itertools.pairwise(ids):
            if u == v:
                continue
            edges = g[u].get(v)
            data = min(edges.values(), key=lambda d: d["travel_time"]) if edges else {}
            geom = data.get("geometry")
            if geom is not None:
                pts = [(float(y), float(x)) for x, y in geom.coords]
            else:
                pts = [(g.nodes[u]["y"], g.nodes[u]["x"]), (g.nodes[v]["y"], g.nodes[v]["x"])]
            coords.extend(pts if not coords else pts[1:])
        if not coords and ids:
            node = g.nodes[ids[0]]
            coords.append((node["y"], node["x"]))
        return coords

    def project(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Local planar coordinates in metres (columns x, y)."""
        return self.projection.xy(lat, lon)

    @property
    def node_xy(self) -> np.ndarray:
        return self.project(self.lat, self.lon)

    # -- snapping -----------------------------------------------------------
    def snap(
        self,
        lat: float | Sequence[float] | np.ndarray,
        lon: float | Sequence[float] | np.ndarray,
        *,
        max_distance_m: float = 500.0,
    ) -> SnapResult:
        """Snap points to their nearest routable node.

        Parameters
        ----------
        lat, lon : float or array-like
            Coordinates in degrees.
        max_distance_m : float, optional
            Points farther than this from every routable node are flagged in
            ``too_far`` (default 500 m). Their nearest node is still returned so the
            caller can report where they would have gone.
        """
        lat_a = np.atleast_1d(np.asarray(lat, dtype=float))
        lon_a = np.atleast_1d(np.asarray(lon, dtype=float))
        if lat_a.shape != lon_a.shape:
            raise MapError("snap(): lat and lon must have the same length.")
        if self._kdtree is None:
            self._kdtree = cKDTree(self.node_xy)
        dist, pos = self._kdtree.query(self.project(lat_a, lon_a))
        return SnapResult(
            node=self.node_ids[pos],
            distance_m=np.asarray(dist, dtype=float),
            too_far=np.asarray(dist) > max_distance_m,
            max_distance_m=max_distance_m,
        )

    # -- reporting ----------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """Facts for ``twin maps info``: sizes, extent, provenance, crossings."""
        west, south, east, north = self.bbox
        bridges = sum(1 for _, _, d in self.graph.edges(data=True) if _is_bridge(d))
        highway_counts: dict[str, int] = {}
        for code in self.edge_class:
            name = ROAD_CLASSES[code]
            highway_counts[name] = highway_counts.get(name, 0) + 1
        m = self.meta
        return {
            "name": m.name,
            "source": m.source,
            "synthetic": m.synthetic,
            "description": m.description,
            "network_type": m.network_type,
            "nodes_loaded": self.n_nodes_loaded,
            "edges_loaded": self.n_edges_loaded,
            "nodes": self.n_nodes,
            "edges": self.graph.number_of_edges(),
            "routable_node_share": round(self.routable_share, 6),
            "bbox": {"west": west, "south": south, "east": east, "north": north},
            "crs": m.crs,
            "edge_length_km": round(float(self.edge_length_m.sum()) / 1000.0, 1),
            "bridge_edges": bridges,
            "border_crossings": [
                {"name": c.name, "lat": c.lat, "lon": c.lon, "commercial_only": c.commercial_only}
                for c in m.crossings
            ],
            "n_border_crossings": len(m.crossings),
            "schools": len(m.schools),
            "zones": [{"name": z.name, "kind": z.kind} for z in m.zones],
            "road_classes": highway_counts,
            "attribution": m.attribution,
            "license": m.license,
        }


def _is_bridge(data: dict[str, Any]) -> bool:
    value = data.get("bridge")
    values = value if isinstance(value, list) else [value]
    return any(v not in (None, "no", "", False) for v in values)


def _largest_strong_component(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """Copy of the largest strongly connected component (scipy, not networkx: faster)."""
    nodes = list(graph.nodes)
    index = {n: i for i, n in enumerate(nodes)}
    u = np.fromiter((index[a] for a, _ in graph.edges()), dtype=np.int64)
    v = np.fromiter((index[b] for _, b in graph.edges()), dtype=np.int64)
    adj = sp.csr_matrix((np.ones(len(u)), (u, v)), shape=(len(nodes),) * 2)
    _, labels = connected_components(adj, directed=True, connection="strong")
    largest = np.bincount(labels).argmax()
    keep = [nodes[i] for i in np.flatnonzero(labels == largest)]
    if len(keep) == len(nodes):
        return graph.copy()
    return graph.subgraph(keep).copy()
