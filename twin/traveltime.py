"""Time-of-day travel times on a road network: congestion, hotspots, borders, closures, noise.

The model has two layers:

* **Expected times** (what a planner or a routing solver sees). Per time bucket
  (default 15 min) every edge gets ``free_flow * congestion[class, hour] *
  weather``, slowed further near bridge approaches and, in school hours, in school
  zones; border-crossing edges add the *mean* wait for the hour and direction.
  Closed edges drop out. Matrices over these weights come from
  ``scipy.sparse.csgraph.dijkstra`` on CSR arrays (many sources at once), cached
  per (bucket state, source); single legs and lists of legs come from a
  contraction hierarchy customised per bucket state (:mod:`twin.shortest_paths`,
  microseconds a query). Never from networkx loops.
* **Realised times** (what the simulation plays out). :meth:`TravelTimes.sample`
  scales the driving part of a leg by lognormal noise and replaces each expected
  border wait with a gamma-distributed draw, using a named RNG stream.

A leg's time is evaluated with the weights of its departure bucket: legs are
short compared with buckets, and this keeps matrices consistent with what the
simulation charges.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from twin.constants import DAY_S
from twin.errors import MapError, UnreachableError
from twin.maps.network import ROAD_CLASSES, RoadNetwork
from twin.path_rows import RowCache, TimeLengthEncoding
from twin.scenario.environment import (
    BorderSettings,
    Closure,
    CongestionSettings,
    NoiseSettings,
    SchoolZoneSettings,
    TrafficSettings,
)
from twin.shortest_paths import INF_TICKS, PointQueries, hierarchy_of

# Settings classes in __all__ are the scenario's (twin.scenario is the contract),
# re-exported here under the names they always had.
__all__ = [
    "BorderSettings",
    "Closure",
    "CongestionSettings",
    "Leg",
    "NoiseSettings",
    "PairTimes",
    "SchoolZoneSettings",
    "TrafficSettings",
    "TravelMatrix",
    "TravelTimes",
    "join_paths",
    "lognormal_params",
]

_MIN_EDGE_S = 1e-3  # csgraph keeps explicit zeros, but a strictly positive floor is safer


def lognormal_params(cv: float) -> tuple[float, float]:
    """``(mu, sigma)`` of the lognormal with mean 1 and coefficient of variation ``cv``.

    One definition for every multiplicative noise of the model (leg noise here,
    service times in the engine, the forecast's samples), so that they agree.
    """
    sigma2 = math.log1p(cv * cv)
    return -sigma2 / 2.0, math.sqrt(sigma2)


@dataclass(frozen=True)
class TravelMatrix:
    """Expected travel times (s) and path lengths (m) from sources (rows) to targets."""

    sources: np.ndarray
    targets: np.ndarray
    time_s: np.ndarray
    length_m: np.ndarray | None
    depart_s: float


@dataclass(frozen=True)
class PairTimes:
    """Expected times (s) and path lengths (m) of legs ``origins[k] -> targets[k]``."""

    origins: np.ndarray
    targets: np.ndarray
    time_s: np.ndarray
    length_m: np.ndarray
    depart_s: float


@dataclass(frozen=True)
class Leg:
    """The expected fastest path between two nodes at a departure time."""

    origin: int
    destination: int
    depart_s: float
    travel_time_s: float
    length_m: float
    nodes: tuple[int, ...]
    #: ``(crossing index, northbound, expected wait s)`` for each border crossed.
    crossings: tuple[tuple[int, bool, float], ...] = ()

    @property
    def wait_s(self) -> float:
        return sum(c[2] for c in self.crossings)


def join_paths(paths: Iterable[Sequence[int]]) -> list[int]:
    """Node ids of paths driven one after another, joined where one ends and the next
    starts (a leg starts where the vehicle stands, so the joint appears once)."""
    nodes: list[int] = []
    for path in paths:
        nodes.extend(path[1:] if nodes and path and nodes[-1] == path[0] else path)
    return nodes


class TravelTimes:
    """Time-dependent travel times on one network.

    Parameters
    ----------
    network : RoadNetwork
    settings : TrafficSettings, optional
        Defaults give AM/PM peaks, border waits, school zones and 15 % leg noise.
    start_weekday : int, optional
        Weekday of simulation day 0 (0 = Monday, default), for school days.
    cache_mb : float, optional
        Memory bound of the shortest-path row cache (default 256 MB).
    road_classes : collection of str, optional
        Only these road classes may be used (a robot's sidewalks, an autonomous
        van's operating domain); None (default): all.
    speed_kph : float, optional
        Move at this fixed speed whatever the traffic (a bike, a robot): congestion
        and school zones do not apply; border waits still do. None (default):
        the road's time-dependent speeds.
    addresses : RoadNetwork, optional
        The network whose node ids callers pass (the drive network orders and
        hubs are snapped to) when ``network`` is another mode's (walk, bike):
        each address is linked to its nearest node here, and the straight
        distance between them is covered at ``speed_kph`` at both ends of a
        trip. None (default): ids are nodes of ``network``.
    """

    def __init__(
        self,
        network: RoadNetwork,
        settings: TrafficSettings | None = None,
        *,
        start_weekday: int = 0,
        cache_mb: float = 256.0,
        road_classes: Collection[str] | None = None,
        speed_kph: float | None = None,
        addresses: RoadNetwork | None = None,
    ) -> None:
        self.network = network
        self.addresses = network if addresses is None else addresses
        self._link_pos: np.ndarray | None = None
        self._access_m = np.zeros(0)
        if self.addresses is not network:
            if speed_kph is None:
                raise ValueError("travel on a linked network needs a fixed speed_kph")
            snap = network.snap(self.addresses.lat, self.addresses.lon, max_distance_m=math.inf)
            self._link_pos = network.index(snap.node)
            self._access_m = snap.distance_m
        self.settings = settings or TrafficSettings()
        self.start_weekday = start_weekday
        self.bucket_s = self.settings.bucket_min * 60.0
        self._congestion = self.settings.congestion.table()
        net = network
        mid_xy = (net.node_xy[net.edge_u] + net.node_xy[net.edge_v]) / 2.0
        self._approach = self._near_points(
            mid_xy,
            [(c.lat, c.lon) for c in net.meta.crossings],
            self.settings.border.approach_radius_m,
        ) & (net.edge_crossing < 0)
        zones = self.settings.school_zones
        self._school = (
            self._near_points(mid_xy, [(s.lat, s.lon) for s in net.meta.schools], zones.radius_m)
            if zones.enabled
            else np.zeros(net.n_edges, dtype=bool)
        )
        self._school_floor_s = net.edge_length_m / (zones.speed_kph / 3.6)
        border = self.settings.border
        self._wait_s = (
            np.array([border.southbound_wait_min, border.northbound_wait_min], dtype=float) * 60.0
        )
        barred = np.zeros(net.n_edges, dtype=bool)
        on_crossing = net.edge_crossing >= 0
        if not border.crossing_allowed:
            barred |= on_crossing
        elif not border.commercial_only_allowed:
            commercial = np.array([c.commercial_only for c in net.meta.crossings] + [False])
            barred |= commercial[net.edge_crossing]  # index -1 hits the False sentinel
        if road_classes is not None:
            allowed = np.isin(np.asarray(ROAD_CLASSES), list(road_classes))
            barred |= ~allowed[net.edge_class]
        self._barred = barred
        self.speed_kph = speed_kph
        self._closures: list[tuple[Closure, np.ndarray]] = [
            (c, self._closure_mask(c)) for c in self.settings.closures
        ]
        self._weights: dict[tuple[object, ...], np.ndarray] = {}
        self._rows = RowCache(int(cache_mb * 2**20))
        self._graphs: dict[tuple[object, ...], Any] = {}
        self._point_queries: dict[tuple[object, ...], PointQueries] = {}
        self._enc = TimeLengthEncoding(network.edge_length_m)
        # Reverse (transposed) CSR layout, for one-to-many queries towards few targets.
        order = np.lexsort((net.edge_u, net.edge_v))
        self._rev_order = order
        self._rev_indices = net.edge_u[order]
        self._rev_indptr = np.zeros(net.n_nodes + 1, dtype=np.int32)
        np.cumsum(np.bincount(net.edge_v, minlength=net.n_nodes), out=self._rev_indptr[1:])

    # -- static masks ---------------------------------------------------------
    def _near_points(
        self, xy: np.ndarray, points: Sequence[tuple[float, float]], radius_m: float
    ) -> np.ndarray:
        if not points or radius_m <= 0:
            return np.zeros(len(xy), dtype=bool)
        pts = self.network.project(
            np.array([p[0] for p in points]), np.array([p[1] for p in points])
        )
        dist, _ = cKDTree(pts).query(xy)
        return np.asarray(dist <= radius_m)

    def _closure_mask(self, closure: Closure) -> np.ndarray:
        net = self.network
        if closure.crossing is not None:
            names = [c.name for c in net.meta.crossings]
            matches = [i for i, n in enumerate(names) if closure.crossing.lower() in n.lower()]
            if not matches:
                raise MapError(
                    f"Closure {closure.name!r}: map {net.meta.name!r} has no border crossing "
                    f"matching {closure.crossing!r}; crossings are {names or 'none'}."
                )
            mask = np.isin(net.edge_crossing, matches)
        elif closure.road is not None:
            text = closure.road.lower()
            mask = np.array([text in name.lower() for name in net.edge_name], dtype=bool)
        elif closure.edges is not None:
            u = net.index([e[0] for e in closure.edges])
            v = net.index([e[1] for e in closure.edges])
            pos = net.edge_positions(u, v)
            ok = (pos < net.n_edges) & (net.edge_u[np.minimum(pos, net.n_edges - 1)] == u)
            ok &= net.edge_v[np.minimum(pos, net.n_edges - 1)] == v
            if not ok.all():
                bad = [closure.edges[i] for i in np.flatnonzero(~ok)]
                raise MapError(f"Closure {closure.name!r}: no road from node to node for {bad}.")
            mask = np.zeros(net.n_edges, dtype=bool)
            mask[pos] = True
        else:
            assert closure.near is not None
            lat, lon, radius = closure.near
            centre = net.project(np.array([lat]), np.array([lon]))[0]
            inside = np.linalg.norm(net.node_xy - centre, axis=1) <= radius
            mask = inside[net.edge_u] | inside[net.edge_v]
        if not mask.any():
            raise MapError(
                f"Closure {closure.name!r} matches no road on map {net.meta.name!r}; "
                "check the road name, crossing or coordinates."
            )
        return mask

    # -- dynamic closures -------------------------------------------------------
    def close(self, closure: Closure) -> None:
        """Add a closure during a run (a disruption); caches for affected times refresh."""
        self._closures.append((closure, self._closure_mask(closure)))

    def closures_at(self, t_s: float) -> tuple[int, ...]:
        """Indices of the closures in force at ``t_s``."""
        return tuple(i for i, (c, _) in enumerate(self._closures) if c.start_s <= t_s < c.end_s)

    # -- edge weights -----------------------------------------------------------
    def _bucket_hour(self, t_s: float) -> tuple[int, float]:
        """Bucket of the day containing ``t_s`` and the hour of its midpoint."""
        bucket_of_day = int((t_s % DAY_S) // self.bucket_s)
        return bucket_of_day, ((bucket_of_day + 0.5) * self.bucket_s) / 3600.0

    def _state(self, t_s: float) -> tuple[object, ...]:
        """Everything the edge weights at ``t_s`` depend on; the cache key."""
        bucket_of_day, hour = self._bucket_hour(t_s)
        zones = self.settings.school_zones
        school = False
        if zones.enabled and self._school.any():
            weekday = (self.start_weekday + int(t_s // DAY_S)) % 7
            school_day = weekday < 5 or not zones.weekdays_only
            school = school_day and any(a <= hour < b for a, b in zones.periods_h)
        return (bucket_of_day, school, self.closures_at(t_s))

    def edge_times(self, t_s: float) -> np.ndarray:
        """Expected seconds per edge (edge-array order) at ``t_s``; ``inf`` = closed."""
        state = self._state(t_s)
        cached = self._weights.get(state)
        if cached is not None:
            return cached
        _, school, closed = state
        assert isinstance(closed, tuple)
        net = self.network
        _, hour = self._bucket_hour(t_s)
        if self.speed_kph is not None:
            w = net.edge_length_m / (self.speed_kph / 3.6) * self.settings.weather_factor
            school = False
        else:
            mult = self._hourly_interp(self._congestion, hour)  # per class
            w = net.edge_free_flow_s * mult[net.edge_class] * self.settings.weather_factor
            w = np.where(
                self._approach,
                w
                * self._hourly_interp(np.asarray([self.settings.border.approach_hourly]), hour)[0],
                w,
            )
        if school:
            w = np.where(self._school, np.maximum(w, self._school_floor_s), w)
        crossing = net.edge_crossing >= 0
        if crossing.any():
            waits = self._hourly_interp(self._wait_s, hour)  # [south, north]
            w = w + np.where(crossing, waits[net.edge_northbound.astype(int)], 0.0)
        w = np.maximum(w, _MIN_EDGE_S)
        blocked = self._barred.copy()
        for i in closed:
            blocked |= self._closures[i][1]
        w[blocked] = np.inf
        w.setflags(write=False)
        if len(self._weights) > 512:
            self._weights.clear()
        self._weights[state] = w
        return w

    @staticmethod
    def _hourly_interp(table: np.ndarray, hour: float) -> np.ndarray:
        """Linear interpolation between hourly values (given at each hour's midpoint)."""
        pos = (hour - 0.5) % 24.0
        lo = math.floor(pos)
        frac = pos - lo
        result: np.ndarray = table[:, lo] * (1 - frac) + table[:, (lo + 1) % 24] * frac
        return result

    def expected_wait_s(self, crossing: int, *, northbound: bool, t_s: float) -> float:
        """Mean border wait (s) at a crossing in the time bucket of ``t_s``."""
        del crossing  # every crossing shares the profile for now
        _, hour = self._bucket_hour(t_s)
        return float(self._hourly_interp(self._wait_s, hour)[int(northbound)])

    # -- shortest paths ---------------------------------------------------------
    # Matrices: one Dijkstra per source gives both the time and the length of each
    # fastest path (twin.path_rows explains the encoding).
    def _graph(self, state: tuple[object, ...], t_s: float, reverse: bool) -> Any:
        import scipy.sparse as sp

        key = (state, reverse)
        graph = self._graphs.get(key)
        if graph is None:
            enc = self._enc.encode(self.edge_times(t_s))
            net = self.network
            if reverse:  # transpose layout: searches towards a node instead of from it
                graph = sp.csr_matrix(
                    (enc[self._rev_order], self._rev_indices, self._rev_indptr),
                    shape=(net.n_nodes,) * 2,
                )
            else:
                graph = net.csr(enc)
            if len(self._graphs) > 64:
                self._graphs.clear()
            self._graphs[key] = graph
        return graph

    def _rows_for(self, idx: np.ndarray, t_s: float, reverse: bool) -> list[np.ndarray]:
        """Encoded distance rows from (or, reversed, towards) each node index.

        Rows stay encoded in the cache; callers decode only the columns they need.
        """
        state = self._state(t_s)
        # Hold every cached row now: computing the missing ones may evict them.
        rows: dict[int, np.ndarray] = {}
        for i in dict.fromkeys(idx.tolist()):
            cached = self._rows.get((state, i, reverse))
            if cached is not None:
                rows[i] = cached
        missing = np.array(
            [i for i in dict.fromkeys(idx.tolist()) if i not in rows], dtype=np.int64
        )
        if len(missing):
            graph = self._graph(state, t_s, reverse)
            for start in range(0, len(missing), 256):
                chunk = missing[start : start + 256]
                raw = dijkstra(graph, indices=chunk)
                for k, src in enumerate(chunk.tolist()):
                    rows[src] = raw[k]
                    self._rows.put((state, src, reverse), raw[k])
        return [rows[i] for i in idx.tolist()]

    def matrix(
        self,
        sources: Iterable[int],
        targets: Iterable[int] | None = None,
        *,
        depart_s: float,
        with_length: bool = True,
    ) -> TravelMatrix:
        """Expected travel times (and path lengths) between node sets.

        Parameters
        ----------
        sources, targets : iterable of int
            OSM node ids (targets default to the sources).
        depart_s : float
            Departure time, seconds since the start of day 0; picks the bucket.
        with_length : bool, optional
            Also return the length (m) of each fastest path (default True).

        Returns
        -------
        TravelMatrix
            ``time_s[i, j]`` is ``inf`` where no path exists (closures, barred crossings).
        """
        src = np.asarray(list(sources), dtype=np.int64)
        tgt = src if targets is None else np.asarray(list(targets), dtype=np.int64)
        (si, s_access), (ti, t_access) = self._positions(src), self._positions(tgt)
        # Search from whichever side is smaller (reverse searches run on the transpose);
        # on a tie, from the side whose rows are cached, e.g. "back to the hub" from
        # every stop reuses the hub's one reverse row instead of a search per stop.
        n_src, n_tgt = len(np.unique(si)), len(np.unique(ti))
        if n_src != n_tgt:
            reverse = n_tgt < n_src
        else:
            state = self._state(depart_s)
            cached_fwd = sum(self._rows.get((state, int(i), False)) is not None for i in si)
            cached_rev = sum(self._rows.get((state, int(i), True)) is not None for i in ti)
            reverse = cached_rev > cached_fwd
        rows = self._rows_for(ti if reverse else si, depart_s, reverse)
        cols = si if reverse else ti
        raw = np.stack([row[cols] for row in rows]) if rows else np.zeros((0, len(cols)))
        time_s, length_m = self._enc.decode(raw.T if reverse else raw)
        if self._link_pos is not None:
            access = np.where(src[:, None] == tgt[None, :], 0.0, s_access[:, None] + t_access)
            time_s = time_s + access / self._access_speed
            length_m = length_m + access
        return TravelMatrix(
            sources=src,
            targets=tgt,
            time_s=np.ascontiguousarray(time_s),
            length_m=np.ascontiguousarray(length_m) if with_length else None,
            depart_s=depart_s,
        )

    @property
    def _access_speed(self) -> float:
        """Metres per second between an address and its linked node."""
        return (self.speed_kph or math.inf) / 3.6

    def _positions(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions in ``network`` of address node ids, and the distance (m) to each."""
        if self._link_pos is None:
            return self.network.index(ids), np.zeros(len(ids))
        at = self.addresses.index(ids)
        return self._link_pos[at], self._access_m[at]

    def _points(self, t_s: float) -> PointQueries:
        """Point-to-point queries under the weights at ``t_s`` (customised once per state)."""
        state = self._state(t_s)
        found = self._point_queries.get(state)
        if found is None:
            w = self.edge_times(t_s)
            with np.errstate(invalid="ignore"):
                ticks = np.where(np.isfinite(w), np.maximum(np.rint(w * 100.0), 1.0), INF_TICKS)
            if len(self._point_queries) > 64:
                self._point_queries.clear()
            found = self._point_queries[state] = PointQueries(hierarchy_of(self.network), ticks)
        return found

    def _path(
        self, origin: int, destination: int, depart_s: float
    ) -> tuple[float, list[int], float]:
        """``(seconds, edge positions, access metres)`` of the fastest path; seconds are
        ``inf`` where no path exists. Access metres (a linked network's ends) are not
        in the seconds."""
        pos, access = self._positions(np.array([origin, destination], dtype=np.int64))
        access_m = float(access.sum()) if origin != destination else 0.0
        ticks, arcs = self._points(depart_s).path(int(pos[0]), int(pos[1]))
        return (math.inf if ticks is None else ticks / 100.0), arcs, access_m

    def pairwise(
        self,
        origins: Sequence[int],
        targets: Sequence[int],
        *,
        depart_s: float,
    ) -> PairTimes:
        """Expected time and length of each leg ``origins[k] -> targets[k]``.

        The legs of a route, "back to the hub from here": what a full matrix would
        give on its diagonal, at the cost of one point query per leg.
        """
        if len(origins) != len(targets):
            raise ValueError(f"{len(origins)} origins for {len(targets)} targets")
        time_s = np.empty(len(origins))
        length_m = np.empty(len(origins))
        for k, (o, d) in enumerate(zip(origins, targets, strict=True)):
            seconds, arcs, access_m = self._path(int(o), int(d), depart_s)
            time_s[k] = seconds + access_m / self._access_speed
            length_m[k] = (
                float(self.network.edge_length_m[arcs].sum()) + access_m
                if math.isfinite(seconds)
                else math.inf
            )
        return PairTimes(
            origins=np.asarray(origins, dtype=np.int64),
            targets=np.asarray(targets, dtype=np.int64),
            time_s=time_s,
            length_m=length_m,
            depart_s=depart_s,
        )

    def leg(self, origin: int, destination: int, *, depart_s: float) -> Leg:
        """Fastest path from ``origin`` to ``destination`` leaving at ``depart_s``.

        Raises
        ------
        UnreachableError
            If closures or crossing rules leave no path.
        """
        net = self.network
        seconds, arcs, access_m = self._path(origin, destination, depart_s)
        if not math.isfinite(seconds):
            closed = [self._closures[i][0].name for i in self.closures_at(depart_s)]
            why = f" (closures in force: {', '.join(closed)})" if closed else ""
            raise UnreachableError(
                f"No route from node {origin} to node {destination} at t={depart_s:.0f} s"
                f"{why}; lift a closure or allow the crossing."
            )
        edges = np.asarray(arcs, dtype=np.int64)
        start = int(self._positions(np.array([origin], dtype=np.int64))[0][0])
        path = [start, *net.edge_v[edges].tolist()]
        crossings = tuple(
            (
                int(net.edge_crossing[p]),
                bool(net.edge_northbound[p]),
                self.expected_wait_s(
                    int(net.edge_crossing[p]), northbound=bool(net.edge_northbound[p]), t_s=depart_s
                ),
            )
            for p in edges[net.edge_crossing[edges] >= 0].tolist()
        )
        return Leg(
            origin=origin,
            destination=destination,
            depart_s=depart_s,
            travel_time_s=seconds + access_m / self._access_speed,
            length_m=float(net.edge_length_m[edges].sum()) + access_m,
            nodes=tuple(int(net.node_ids[i]) for i in path),
            crossings=crossings,
        )

    def sample(self, leg: Leg, rng: np.random.Generator) -> float:
        """Realised duration (s) of a leg: noisy driving plus random border waits
        (:meth:`sample_parts`, summed)."""
        driving, waits = self.sample_parts(leg, rng)
        return driving + waits

    def sample_parts(self, leg: Leg, rng: np.random.Generator) -> tuple[float, float]:
        """Realised driving and border waiting (s) of a leg, drawn apart so that the
        waits can be logged and checked against their configured distribution.

        Expected waits inside ``leg.travel_time_s`` are replaced with gamma draws of
        the same mean and the configured CV; the rest is scaled by lognormal noise
        with mean 1.
        """
        driving = max(leg.travel_time_s - leg.wait_s, 0.0)
        cv = self.settings.noise.cv
        if cv > 0 and driving > 0:
            driving *= float(rng.lognormal(*lognormal_params(cv)))
        wait_cv = self.settings.border.wait_cv
        waits = 0.0
        for _, _, mean in leg.crossings:
            if mean <= 0:
                continue
            if wait_cv == 0:
                waits += mean
            else:
                shape = 1.0 / (wait_cv * wait_cv)
                waits += float(rng.gamma(shape, mean / shape))
        return driving, waits

    def path_coords(self, leg: Leg) -> list[tuple[float, float]]:
        """``(lat, lon)`` points along a leg (:meth:`RoadNetwork.path_coords`)."""
        return self.network.path_coords(leg.nodes)
