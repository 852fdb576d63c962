"""The road network as polylines, for the dashboard's map (``GET /network``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from twin.maps.network import OSM_ATTRIBUTION, ROAD_CLASSES, RoadNetwork

__all__ = ["network_payload"]


def network_payload(network: RoadNetwork, hub_nodes: Mapping[str, int]) -> dict[str, Any]:
    """The road network as polylines per road class, for drawing.

    Edges are joined into polylines through nodes where exactly two edges of a
    class meet, which cuts the payload several-fold against one line per edge;
    edge geometries (curved OSM roads) are kept when the graph has them.
    """
    lat, lon = network.lat, network.lon
    graph = network.graph
    node_ids = network.node_ids
    seen: set[tuple[int, int]] = set()
    segments: dict[str, list[tuple[int, int, list[tuple[float, float]]]]] = {
        c: [] for c in ROAD_CLASSES
    }
    for i in range(network.n_edges):
        u, v = int(network.edge_u[i]), int(network.edge_v[i])
        pair = (min(u, v), max(u, v))
        if u == v or pair in seen:
            continue
        seen.add(pair)
        coords = [(float(lon[u]), float(lat[u])), (float(lon[v]), float(lat[v]))]
        data = graph.get_edge_data(int(node_ids[u]), int(node_ids[v]), int(network.edge_key[i]))
        geometry = (data or {}).get("geometry")
        if geometry is not None and hasattr(geometry, "coords"):
            points = [(float(x), float(y)) for x, y, *_ in geometry.coords]
            if len(points) >= 2:
                coords = points
        segments[ROAD_CLASSES[int(network.edge_class[i])]].append((u, v, coords))
    classes = {c: _chain(segs) for c, segs in segments.items() if segs}
    hubs = [
        {"hub_id": h, "node": n, "lat": round(float(lat[n]), 5), "lon": round(float(lon[n]), 5)}
        for h, n in hub_nodes.items()
    ]
    meta = network.meta
    attribution = meta.attribution
    if not meta.synthetic and OSM_ATTRIBUTION not in attribution:
        attribution = f"{attribution}; {OSM_ATTRIBUTION}" if attribution else OSM_ATTRIBUTION
    return {
        "name": meta.name,
        "synthetic": bool(meta.synthetic),
        "bbox": [round(float(x), 5) for x in network.bbox],
        "classes": classes,
        "hubs": hubs,
        "attribution": attribution,
    }


def _chain(segments: list[tuple[int, int, list[tuple[float, float]]]]) -> list[list[float]]:
    by_node: dict[int, list[int]] = {}
    for k, (u, v, _) in enumerate(segments):
        by_node.setdefault(u, []).append(k)
        by_node.setdefault(v, []).append(k)
    used = np.zeros(len(segments), dtype=bool)

    def extend(line: list[tuple[float, float]], node: int, k: int) -> None:
        # Walk on from ``node`` while it is a pass-through point of this class.
        while len(by_node[node]) == 2:
            nxt = by_node[node][0] if by_node[node][1] == k else by_node[node][1]
            if used[nxt]:
                return
            used[nxt] = True
            u, v, coords = segments[nxt]
            if u == node:
                line.extend(coords[1:])
                node = v
            else:
                line.extend(reversed(coords[:-1]))
                node = u
            k = nxt

    lines = []
    for k, (u, v, coords) in enumerate(segments):
        if used[k]:
            continue
        used[k] = True
        forward = list(coords)
        extend(forward, v, k)
        backward = list(reversed(coords))
        extend(backward, u, k)
        line = [*reversed(backward), *forward[len(coords) :]]
        flat: list[float] = []
        last: tuple[float, float] | None = None
        for x, y in line:
            point = (round(x, 5), round(y, 5))
            if point != last:
                flat.extend(point)
                last = point
        lines.append(flat)
    return lines
