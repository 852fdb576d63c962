"""Where drones may fly: no-fly zones and the shortest legal flight between two points.

Drones fly straight lines at cruise altitude, so their "network" is the plane
minus the no-fly zones. Zones are polygons (an airport, a prison, any area a
user gives) that a flight must keep ``clearance_m`` away from, and barriers:
lines a flight may not cross at all (an international border: a delivery drone
launched in Laredo may not cross the Rio Grande into Mexico).

The shortest legal path between two points avoiding polygons runs straight or
bends only at polygon corners, so it is found exactly on the visibility graph
of the start, the end and the corners of the zones grown by the clearance
(Lozano-Pérez & Wesley's classic construction), with Dijkstra on top. When no
legal path exists (the target is inside a zone, or across a barrier) the
answer is ``None``: the engine then refuses the sortie rather than fly it.

Geometry is done in a local metric projection (equirectangular around the
zones' centre): at city scale its distance error is far below a drone's
positioning error.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import shapely
from shapely.geometry import LineString, Polygon
from shapely.prepared import prep

from twin.maps.network import MapMeta
from twin.scenario.environment import AirspaceSettings, NoFlyArea

# Settings classes in __all__ are the scenario's (twin.scenario is the contract),
# re-exported here under the names they always had.
__all__ = ["Airspace", "AirspaceSettings", "FlightPath", "NoFlyArea", "NoFlyZone"]

_M_PER_DEG_LAT = 110_540.0
_M_PER_DEG_LON = 111_320.0

LatLon = tuple[float, float]
XY = tuple[float, float]


@dataclass(frozen=True)
class NoFlyZone:
    """A polygon to keep clear of, or (``barrier=True``) a line not to cross; ``(lat, lon)``."""

    name: str
    kind: str
    points: tuple[LatLon, ...]
    barrier: bool = False


@dataclass(frozen=True)
class FlightPath:
    """A legal flight: waypoints from launch to target and its length."""

    waypoints: tuple[LatLon, ...]
    length_m: float

    @property
    def straight(self) -> bool:
        return len(self.waypoints) == 2


class Airspace:
    """No-fly zones and barriers in a local metric frame; legal shortest flights.

    Parameters
    ----------
    zones : iterable of NoFlyZone
    clearance_m : float, optional
        Distance a flight keeps from every zone polygon (default 50 m).
    origin : (lat, lon), optional
        Centre of the local projection (default: the zones' mean point).
    """

    def __init__(
        self,
        zones: Iterable[NoFlyZone],
        *,
        clearance_m: float = 50.0,
        origin: LatLon | None = None,
    ) -> None:
        self.zones = tuple(zones)
        if clearance_m < 0:
            raise ValueError(f"clearance_m must be >= 0, got {clearance_m}")
        self.clearance_m = float(clearance_m)
        points = [p for z in self.zones for p in z.points]
        if origin is None:
            origin = (
                (sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points))
                if points
                else (0.0, 0.0)
            )
        self.origin = origin
        self._kx = _M_PER_DEG_LON * math.cos(math.radians(origin[0]))
        polygons: list[Polygon] = []
        barriers: list[LineString] = []
        for z in self.zones:
            xy = [self._xy(p) for p in z.points]
            if z.barrier:
                if len(xy) < 2:
                    raise ValueError(f"no-fly barrier {z.name!r} needs at least 2 points")
                barriers.append(LineString(xy))
            else:
                if len(xy) < 3:
                    raise ValueError(f"no-fly zone {z.name!r} needs at least 3 points")
                polygon = Polygon(xy)
                if not polygon.is_valid:
                    polygon = polygon.buffer(0)
                polygons.append(polygon)
        # Keep-out areas: each zone grown by the clearance. Waypoints sit on a slightly
        # larger ring so that a path touching a keep-out boundary is legal.
        self._keep_out = [p.buffer(self.clearance_m, quad_segs=2) for p in polygons]
        self._forbidden = shapely.union_all(self._keep_out) if self._keep_out else None
        self._forbidden_prep = prep(self._forbidden) if self._forbidden is not None else None
        self._barriers = shapely.union_all(barriers) if barriers else None
        self._corners = [
            c
            for p in polygons
            for c in p.buffer(self.clearance_m * 1.02 + 1.0, quad_segs=2).exterior.coords[:-1]
        ]

    @classmethod
    def from_map(
        cls,
        meta: MapMeta,
        *,
        extra: Sequence[NoFlyZone] = (),
        clearance_m: float = 50.0,
        avoid_kinds: Sequence[str] = ("airport",),
        settings: AirspaceSettings | None = None,
    ) -> Airspace:
        """The airspace of a map: its border (a barrier), its airports, and ``extra`` zones."""
        if settings is not None:
            extra = [
                *extra,
                *(NoFlyZone(a.name, "user", tuple(a.points)) for a in settings.no_fly),
            ]
            clearance_m, avoid_kinds = settings.clearance_m, settings.avoid_kinds
        zones = [
            NoFlyZone(z.name, z.kind, tuple(z.ring)) for z in meta.zones if z.kind in avoid_kinds
        ]
        if meta.border:
            zones.append(NoFlyZone("international border", "border", tuple(meta.border), True))
        return cls([*zones, *extra], clearance_m=clearance_m)

    # -- geometry ----------------------------------------------------------------------
    def _xy(self, p: LatLon) -> tuple[float, float]:
        return ((p[1] - self.origin[1]) * self._kx, (p[0] - self.origin[0]) * _M_PER_DEG_LAT)

    def _latlon(self, xy: tuple[float, float]) -> LatLon:
        return (self.origin[0] + xy[1] / _M_PER_DEG_LAT, self.origin[1] + xy[0] / self._kx)

    def _segment_ok(self, a: tuple[float, float], b: tuple[float, float]) -> bool:
        segment = LineString([a, b])
        if self._barriers is not None and segment.intersects(self._barriers):
            return False
        if self._forbidden is None:
            return True
        # Touching a keep-out boundary is fine; passing through its interior is not.
        return not self._forbidden.intersection(segment).length > 1e-6

    def is_legal(self, waypoints: Sequence[LatLon]) -> bool:
        """True when no leg of the path enters a keep-out area or crosses a barrier."""
        xy = [self._xy(p) for p in waypoints]
        if any(self._inside(p) for p in xy):
            return False
        return all(self._segment_ok(a, b) for a, b in itertools.pairwise(xy))

    def _inside(self, p: tuple[float, float]) -> bool:
        return self._forbidden_prep is not None and self._forbidden_prep.contains(shapely.Point(p))

    # -- paths ------------------------------------------------------------------------------
    def path(self, start: LatLon, target: LatLon) -> FlightPath | None:
        """Shortest legal flight from ``start`` to ``target``, or None when there is none."""
        a, b = self._xy(start), self._xy(target)
        if self._inside(a) or self._inside(b):
            return None
        if self._segment_ok(a, b):
            return FlightPath((start, target), math.dist(a, b))
        nodes = [a, b, *(c for c in self._corners if not self._inside(c))]
        found = _dijkstra(nodes, self._segment_ok)
        if found is None:
            return None
        order, length = found
        waypoints = (start, *(self._latlon(nodes[i]) for i in order[1:-1]), target)
        return FlightPath(waypoints, length)


def _dijkstra(
    nodes: list[tuple[float, float]], check: Callable[[XY, XY], bool]
) -> tuple[list[int], float] | None:
    """Shortest path from node 0 to node 1 on the visibility graph.

    Edges are tested only when they would improve a label, so most of the
    quadratic number of segment tests is never made.
    """
    n = len(nodes)
    best = [math.inf] * n
    prev = [-1] * n
    best[0] = 0.0
    heap = [(0.0, 0)]
    done = [False] * n
    while heap:
        d, i = heapq.heappop(heap)
        if done[i]:
            continue
        done[i] = True
        if i == 1:
            break
        for j in range(n):
            if done[j] or j == i:
                continue
            step = math.dist(nodes[i], nodes[j])
            if d + step < best[j] and check(nodes[i], nodes[j]):
                best[j] = d + step
                prev[j] = i
                heapq.heappush(heap, (best[j], j))
    if not math.isfinite(best[1]):
        return None
    order = [1]
    while order[-1] != 0:
        order.append(prev[order[-1]])
    return order[::-1], best[1]
