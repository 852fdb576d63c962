"""The stylized Laredo / Nuevo Laredo border city, a deterministic generated map.

Its metadata says ``synthetic=True`` and its attribution says "synthetic", so no
report can pass it off as survey data.

The border city is built from public geographic facts and is *stylized*: the
street grids are invented, the skeleton is not. Facts used (coordinates from the
Wikipedia articles of each structure, retrieved 2026):

* the Rio Grande is the border, Laredo (Texas) on the north/east bank and Nuevo
  Laredo (Tamaulipas) on the south/west bank;
* Gateway to the Americas International Bridge (Bridge 1, downtown, ~27.4997 N,
  99.5074 W), Juárez–Lincoln International Bridge (Bridge 2, 27.50022 N,
  99.50281 W, southern end of I-35), World Trade International Bridge (Bridge 4,
  27.597291 N, 99.537119 W, commercial vehicles only) and Laredo–Colombia
  Solidarity International Bridge (Bridge 3, 27.699716 N, 99.745646 W, far to the
  north-west, reached by FM 1472 / Mines Road);
* I-35 runs north from the Juárez–Lincoln bridge; Loop 20 (Bob Bullock Loop) runs
  from the World Trade Bridge east to I-35 and down the east side of the city;
  US-59 (Saunders St) runs east from I-35; US-83 runs south-east along the river;
  Mexican Federal Highway 85 starts at the Gateway bridge, 85D at the World Trade
  Bridge;
* Laredo International Airport (27.54389 N, 99.46167 W, about 727 ha) lies
  north-east of downtown.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import networkx as nx
import numpy as np
import shapely
from scipy.spatial import cKDTree

from twin.maps._builder import GraphBuilder, finish_graph, synthetic_meta
from twin.maps.laredo_layout import (
    AIRPORT,
    BRIDGES,
    HIGHWAYS,
    HUB_SITE,
    ORIGIN,
    RIO_GRANDE,
    SCHOOLS,
    District,
    tile_districts,
)
from twin.maps.network import (
    BorderCrossing,
    LocalProjection,
    MapMeta,
    PointOfInterest,
    Zone,
)

__all__ = ["laredo_border_city"]


def _polyline_m(proj: LocalProjection, pts: tuple[tuple[float, float], ...]) -> np.ndarray:
    arr = np.asarray(pts, dtype=float)
    return proj.xy(arr[:, 0], arr[:, 1])


def _river_side(points: np.ndarray, river: np.ndarray) -> np.ndarray:
    """+1 for points left of the river's flow (north-east bank, the US), -1 for right."""
    a, b = river[:-1], river[1:]
    d = b - a
    rel = points[:, None, :] - a[None, :, :]
    t = np.clip((rel * d).sum(-1) / (d * d).sum(-1), 0.0, 1.0)
    nearest = a[None] + t[..., None] * d[None]
    dist = np.linalg.norm(points[:, None, :] - nearest, axis=-1)
    seg = dist.argmin(axis=1)
    rows = np.arange(len(points))
    cross = d[seg, 0] * rel[rows, seg, 1] - d[seg, 1] * rel[rows, seg, 0]
    return np.where(cross > 0, 1, -1)


def _river_distance(points: np.ndarray, river_line: shapely.LineString) -> np.ndarray:
    return np.asarray(shapely.distance(shapely.points(points), river_line), dtype=float)


def _densify(points: np.ndarray, step_m: float) -> np.ndarray:
    out = [points[0]]
    for p, q in itertools.pairwise(points):
        n = max(1, round(float(np.linalg.norm(q - p)) / step_m))
        out.extend(p + (q - p) * k / n for k in range(1, n + 1))
    return np.asarray(out)


def _offset(points: np.ndarray, dist_m: float) -> np.ndarray:
    """Polyline shifted sideways by ``dist_m`` (positive: to the left of its direction)."""
    tangents = np.gradient(points, axis=0)
    tangents /= np.linalg.norm(tangents, axis=1, keepdims=True)
    normals = np.column_stack((-tangents[:, 1], tangents[:, 0]))
    return points + normals * dist_m


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def laredo_border_city(*, seed: int = 1848) -> tuple[nx.MultiDiGraph, MapMeta]:
    """The stylized Laredo (TX) / Nuevo Laredo (Tamps.) border city.

    Parameters
    ----------
    seed : int, optional
        Seed of the street-layout irregularities (jitter, missing links,
        cul-de-sacs). The default gives the shipped map; other seeds give
        other cities with the same skeleton.

    Returns
    -------
    graph, meta
        An OSMnx-style graph (about 6,000 nodes, every node strongly connected)
        and its metadata: the four crossings, schools, the airport zone and the
        border line.
    """
    rng = np.random.default_rng(seed)
    proj = LocalProjection(*ORIGIN)
    b = GraphBuilder(proj)
    river = _polyline_m(proj, RIO_GRANDE)
    river_line = shapely.LineString(river)
    name, a_lat, a_lon, a_w, a_h = AIRPORT
    a_xy = proj.xy(np.array([a_lat]), np.array([a_lon]))[0]
    airport = shapely.box(
        a_xy[0] - a_w / 2, a_xy[1] - a_h / 2, a_xy[0] + a_w / 2, a_xy[1] + a_h / 2
    )
    country_side = {"US": 1, "MX": -1}
    node_country: dict[int, str] = {}
    residential_nodes: list[int] = []

    # 1. District street grids.
    for dist in tile_districts(rng):
        _build_district(
            b, dist, rng, river, river_line, airport, country_side, node_country, residential_nodes
        )

    # 2. Connectors between neighbouring districts (edge nodes to nearest foreign node).
    _connect_districts(b, node_country)

    # 3. Highways, merged where they meet, linked to the street grid.
    _build_highways(b, proj, river, node_country, country_side)

    # 4. Remove any non-bridge road that would cross the river or the airfield.
    _remove_forbidden_edges(b, river_line, airport)

    # 5. The four international bridges.
    crossings = []
    for bname, lat, lon, commercial_only, hwy, ref in BRIDGES:
        crossings.append(BorderCrossing(bname, lat, lon, commercial_only))
        _build_bridge(b, bname, lat, lon, commercial_only, hwy, ref, river, node_country)

    # 6. Keep the largest strongly connected part, so every address is reachable.
    graph = b.graph
    scc = max(nx.strongly_connected_components(graph), key=len)
    graph.remove_nodes_from([n for n in list(graph.nodes) if n not in scc])
    finish_graph(graph)

    # 7. Features: schools in residential areas, the airport, the border.
    schools = _schools(graph, [n for n in residential_nodes if n in scc], node_country, rng)
    hub = PointOfInterest(HUB_SITE[0], "hub_site", HUB_SITE[1], HUB_SITE[2])
    ring_x, ring_y = airport.exterior.coords.xy
    ring_lat, ring_lon = proj.latlon(np.asarray(ring_x), np.asarray(ring_y))
    airport_zone = Zone(
        name,
        "airport",
        tuple((float(la), float(lo)) for la, lo in zip(ring_lat, ring_lon, strict=True)),
    )
    meta = synthetic_meta(
        "laredo",
        f"synthetic:laredo?seed={seed}",
        "Stylized Laredo TX / Nuevo Laredo border city: real bridge, highway and "
        "airport locations, invented street grids (synthetic, not survey data)",
        crossings=tuple(crossings),
        pois=(hub, *schools),
        zones=(airport_zone,),
        border=tuple((float(la), float(lo)) for la, lo in RIO_GRANDE),
    )
    return graph, meta


def _build_highways(
    b: GraphBuilder,
    proj: LocalProjection,
    river: np.ndarray,
    node_country: dict[int, str],
    country_side: dict[str, int],
) -> None:
    """The highways of :data:`HIGHWAYS` and the two river roads, merged where they meet."""
    hwy_nodes: list[int] = []
    for hname, ref, hwy, pts, link_every in HIGHWAYS:
        line = _densify(_polyline_m(proj, pts), 350.0)
        hwy_nodes += _build_highway(
            b, hname, ref, hwy, line, link_every, node_country, country_side, river, hwy_nodes
        )
    # FM 1472 (Mines Road) and the Mexican road to Colombia run along the river.
    upstream = river[1:6][::-1]  # from the World Trade bridge up to Colombia
    for country, hname, ref, sign in (
        ("US", "Mines Road", "FM 1472", 1),
        ("MX", "Carretera a Colombia", "NL 1", -1),
    ):
        line = _densify(_offset(_densify(upstream, 500.0), -sign * 700.0), 450.0)
        hwy_nodes += _build_highway(
            b,
            hname,
            ref,
            "primary",
            line,
            1,
            node_country,
            country_side,
            river,
            hwy_nodes,
            country=country,
        )


def _schools(
    graph: nx.MultiDiGraph,
    candidates: list[int],
    node_country: dict[int, str],
    rng: np.random.Generator,
) -> list[PointOfInterest]:
    """:data:`SCHOOLS` schools at distinct residential nodes, named by their side of the river."""
    picks = sorted(rng.choice(len(candidates), size=SCHOOLS, replace=False))
    schools = []
    for k, i in enumerate(picks, start=1):
        node = graph.nodes[candidates[i]]
        kind = "Escuela" if node_country[candidates[i]] == "MX" else "School"
        schools.append(PointOfInterest(f"{kind} {k} (synthetic)", "school", node["y"], node["x"]))
    return schools


def _build_district(
    b: GraphBuilder,
    dist: District,
    rng: np.random.Generator,
    river: np.ndarray,
    river_line: shapely.LineString,
    airport: shapely.Polygon,
    country_side: dict[str, int],
    node_country: dict[int, str],
    residential_nodes: list[int],
) -> None:
    nx_ = int(dist.width_m // dist.spacing_m) + 1
    ny_ = int(dist.height_m // dist.spacing_m) + 1
    center = b.proj.xy(np.array([dist.lat]), np.array([dist.lon]))[0]
    ii, jj = np.meshgrid(np.arange(nx_), np.arange(ny_), indexing="ij")
    local = np.column_stack(
        (
            (ii.ravel() - (nx_ - 1) / 2) * dist.spacing_m,
            (jj.ravel() - (ny_ - 1) / 2) * dist.spacing_m,
        )
    )
    if dist.kind in ("residential", "suburban"):
        local += rng.uniform(-0.06, 0.06, local.shape) * dist.spacing_m
    theta = math.radians(dist.rotation_deg)
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    pts = local @ rot.T + center

    keep = _river_side(pts, river) == country_side[dist.country]
    keep &= _river_distance(pts, river_line) > 120.0
    keep &= ~shapely.contains(airport.buffer(60.0), shapely.points(pts))
    if b.xy:
        tree = cKDTree(np.asarray(b.xy))
        d, _ = tree.query(pts)
        keep &= d > 0.5 * dist.spacing_m
    ids = np.zeros(len(pts), dtype=np.int64)
    for pos in np.flatnonzero(keep).tolist():
        ids[pos] = b.node(float(pts[pos, 0]), float(pts[pos, 1]))
        node_country[int(ids[pos])] = dist.country
        if dist.kind in ("residential", "suburban"):
            residential_nodes.append(int(ids[pos]))
    grid = ids.reshape(nx_, ny_)

    mx = dist.country == "MX"
    arterial_every = {"downtown": 4, "residential": 6, "suburban": 5, "industrial": 3}[dist.kind]
    drop = {"downtown": 0.0, "residential": 0.08, "suburban": 0.14, "industrial": 0.05}[dist.kind]
    street_hwy = "residential" if dist.kind != "industrial" else "tertiary"
    street_speed = 35.0 if dist.kind == "downtown" else None

    def street_name(horizontal: bool, k: int) -> str:
        if mx:
            return f"Calle {k + 1}, {dist.name}" if horizontal else f"Avenida {k + 1}, {dist.name}"
        return f"{_ordinal(k + 1)} St ({dist.name})" if horizontal else f"{dist.name} Ave {k + 1}"

    for horizontal in (True, False):
        lines = range(ny_) if horizontal else range(nx_)
        for k in lines:
            way = b.way()
            arterial = k % arterial_every == 0
            hwy = "secondary" if arterial else street_hwy
            # Downtown one-way pairs: alternate directions on the minor east-west streets;
            # north-south streets stay two-way, so the grid stays strongly connected.
            oneway = dist.kind == "downtown" and horizontal and not arterial
            steps = range(nx_ - 1) if horizontal else range(ny_ - 1)
            for s in steps:
                a, c = (grid[s, k], grid[s + 1, k]) if horizontal else (grid[k, s], grid[k, s + 1])
                if not a or not c or (not arterial and rng.random() < drop):
                    continue
                if oneway and k % 2:
                    a, c = c, a
                b.road(
                    int(a),
                    int(c),
                    highway=hwy,
                    name=street_name(horizontal, k),
                    way=way,
                    oneway=oneway,
                    speed_kph=None if arterial else street_speed,
                )

    # Cul-de-sacs into block interiors, from a block's south-west corner.
    if dist.kind in ("residential", "suburban"):
        diag = (rot @ np.array([1.0, 1.0])) * dist.spacing_m
        for i in range(nx_ - 1):
            for j in range(ny_ - 1):
                corner = int(grid[i, j])
                if not corner or rng.random() > 0.18:
                    continue
                x0, y0 = b.xy[corner - 1]
                way = b.way()
                cname = f"Privada {i}-{j}, {dist.name}" if mx else f"{dist.name} Ct {i}-{j}"
                prev = corner
                for frac in (0.3, 0.5):
                    nid = b.node(x0 + diag[0] * frac, y0 + diag[1] * frac)
                    node_country[nid] = dist.country
                    residential_nodes.append(nid)
                    b.road(prev, nid, highway="residential", name=cname, way=way)
                    prev = nid


def _connect_districts(b: GraphBuilder, node_country: dict[int, str]) -> None:
    """Link nodes at district edges to the nearest node of a neighbouring district."""
    xy = np.asarray(b.xy)
    ids = np.arange(1, len(xy) + 1)
    # Before this step each district is its own component, so "another component"
    # means "a neighbouring district" (or a piece of one cut off by the river).
    comp_of = {}
    for k, comp in enumerate(nx.weakly_connected_components(b.graph)):
        for n in comp:
            comp_of[n] = k
    comp = np.array([comp_of.get(int(i), -1) for i in ids])
    tree = cKDTree(xy)
    seen: set[tuple[int, int]] = set()
    degree = np.array([b.graph.out_degree(int(i)) for i in ids])
    for idx in np.flatnonzero(degree <= 3).tolist():
        near = tree.query_ball_point(xy[idx], r=420.0)
        best, best_d = -1, math.inf
        for j in near:
            if comp[j] == comp[idx] or node_country[int(ids[j])] != node_country[int(ids[idx])]:
                continue
            d = float(np.linalg.norm(xy[j] - xy[idx]))
            if d < best_d:
                best, best_d = j, d
        if best >= 0:
            pair = (min(idx, best), max(idx, best))
            if pair not in seen:
                seen.add(pair)
                b.road(int(ids[idx]), int(ids[best]), highway="tertiary", name="Connector")


def _build_highway(
    b: GraphBuilder,
    name: str,
    ref: str,
    highway: str,
    line: np.ndarray,
    link_every: int,
    node_country: dict[int, str],
    country_side: dict[str, int],
    river: np.ndarray,
    existing_highway_nodes: list[int],
    *,
    country: str | None = None,
) -> list[int]:
    """Lay a highway along ``line``, merging with earlier highways and linking to streets."""
    street_ids = np.array(sorted(node_country))
    street_xy = np.asarray([b.xy[i - 1] for i in street_ids])
    tree = cKDTree(street_xy)
    hwy_xy = (
        np.asarray([b.xy[i - 1] for i in existing_highway_nodes])
        if existing_highway_nodes
        else None
    )
    sides = _river_side(line, river)
    created: list[int] = []
    prev: int | None = None
    way = b.way()
    for k, p in enumerate(line):
        side_country = country or ("US" if sides[k] > 0 else "MX")
        node = None
        if hwy_xy is not None:
            d = np.linalg.norm(hwy_xy - p, axis=1)
            if d.min() < 150.0:
                node = existing_highway_nodes[int(d.argmin())]  # interchange with that highway
        if node is None:
            node = b.node(float(p[0]), float(p[1]))
            node_country[node] = side_country
            created.append(node)
            if k % link_every == 0:
                dists, nearest = tree.query(p, k=3)
                for d_m, j in zip(np.atleast_1d(dists), np.atleast_1d(nearest), strict=True):
                    sid = int(street_ids[j])
                    if d_m < 450.0 and node_country[sid] == side_country:
                        link = "motorway_link" if highway == "motorway" else "tertiary"
                        b.road(node, sid, highway=link, name=f"{name} access")
                        break
        if prev is not None and prev != node:
            b.road(prev, node, highway=highway, name=name, ref=ref, way=way)
        prev = node
    return created


def _remove_forbidden_edges(
    b: GraphBuilder, river_line: shapely.LineString, airport: shapely.Polygon
) -> None:
    edges = list(b.graph.edges(keys=True))
    xy = np.asarray(b.xy)
    segs = np.stack([xy[[u - 1 for u, _, _ in edges]], xy[[v - 1 for _, v, _ in edges]]], axis=1)
    lines = shapely.linestrings(segs)
    bad = shapely.intersects(lines, river_line) | shapely.intersects(lines, airport)
    b.graph.remove_edges_from([e for e, is_bad in zip(edges, bad, strict=True) if is_bad])


def _build_bridge(
    b: GraphBuilder,
    name: str,
    lat: float,
    lon: float,
    commercial_only: bool,
    highway: str,
    ref: str,
    river: np.ndarray,
    node_country: dict[int, str],
) -> None:
    p = b.proj.xy(np.array([lat]), np.array([lon]))[0]
    seg = int(np.argmin(np.linalg.norm((river[:-1] + river[1:]) / 2 - p, axis=1)))
    tangent = river[seg + 1] - river[seg]
    tangent /= np.linalg.norm(tangent)
    left = np.array([-tangent[1], tangent[0]])  # towards the US bank
    us_end = b.node(*(p + left * 170.0))
    mx_end = b.node(*(p - left * 170.0))
    node_country[us_end], node_country[mx_end] = "US", "MX"
    attrs: dict[str, Any] = {
        "bridge": "yes",
        "border_crossing": name,
        "commercial_only": commercial_only,
    }
    if ref:
        attrs["ref"] = ref
    b.road(
        mx_end,
        us_end,
        highway=highway,
        name=name,
        oneway=True,
        speed_kph=30.0,
        crossing_direction="northbound",
        **attrs,
    )
    b.road(
        us_end,
        mx_end,
        highway=highway,
        name=name,
        oneway=True,
        speed_kph=30.0,
        crossing_direction="southbound",
        **attrs,
    )
    xy = np.asarray(b.xy)
    for end, country in ((us_end, "US"), (mx_end, "MX")):
        candidates = [
            n
            for n in b.graph.nodes
            if n not in (us_end, mx_end)
            and node_country.get(n) == country
            and b.graph.out_degree(n) > 0
        ]
        cxy = xy[np.asarray(candidates) - 1]
        d = np.linalg.norm(cxy - xy[end - 1], axis=1)
        for j in np.argsort(d)[:2]:
            if d[j] < 1500.0:
                b.road(end, candidates[int(j)], highway="primary", name=f"{name} approach")
