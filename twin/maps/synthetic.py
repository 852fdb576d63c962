"""Generated road networks: a grid city, and the Laredo border city of :mod:`twin.maps.laredo`.

Both generators are deterministic (same arguments, same graph, node for node) and
produce the same OSMnx-style attributes as real extracts, so everything downstream
treats them alike. Their metadata says ``synthetic=True`` and their attribution
says "synthetic", so no report can pass them off as survey data.
"""

from __future__ import annotations

import networkx as nx

from twin.maps._builder import SYNTHETIC_ATTRIBUTION, GraphBuilder, finish_graph, synthetic_meta
from twin.maps.laredo import laredo_border_city
from twin.maps.network import (
    LocalProjection,
    MapMeta,
)

__all__ = ["SYNTHETIC_ATTRIBUTION", "grid_city", "laredo_border_city"]


def grid_city(
    *,
    rows: int = 20,
    cols: int = 20,
    spacing_m: float = 200.0,
    origin: tuple[float, float] = (27.55, -99.50),
    arterial_every: int = 5,
) -> tuple[nx.MultiDiGraph, MapMeta]:
    """A rectangular two-way street grid with an arterial every few blocks.

    Parameters
    ----------
    rows, cols : int, optional
        Number of intersections north-south and east-west (default 20 x 20);
        ``rows=1`` gives a single two-way street, handy for hand-checked tests.
    spacing_m : float, optional
        Block length (default 200 m).
    origin : tuple, optional
        ``(lat, lon)`` of the south-west corner.
    arterial_every : int, optional
        Every n-th street is a faster ``secondary`` road (default 5).
    """
    if rows < 1 or cols < 2 or rows * cols < 2:
        raise ValueError("grid_city needs at least 1 row and 2 columns")
    b = GraphBuilder(LocalProjection(*origin))
    ids = [[b.node(i * spacing_m, j * spacing_m) for j in range(rows)] for i in range(cols)]
    for j in range(rows):
        way = b.way()
        hwy = "secondary" if j % arterial_every == 0 else "residential"
        for i in range(cols - 1):
            b.road(ids[i][j], ids[i + 1][j], highway=hwy, name=f"Street {j + 1}", way=way)
    for i in range(cols):
        way = b.way()
        hwy = "secondary" if i % arterial_every == 0 else "residential"
        for j in range(rows - 1):
            b.road(ids[i][j], ids[i][j + 1], highway=hwy, name=f"Avenue {i + 1}", way=way)
    meta = synthetic_meta(
        f"grid-{rows}x{cols}",
        f"synthetic:grid?rows={rows}&cols={cols}&spacing_m={spacing_m}",
        f"Synthetic {rows}x{cols} street grid, {spacing_m:g} m blocks",
    )
    return finish_graph(b.graph), meta
