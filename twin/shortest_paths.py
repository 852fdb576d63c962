"""Point-to-point fastest paths in microseconds: the only module that imports routingkit_cch.

A simulated day asks for thousands of single legs (the next stop, "can I still
get back to the hub in time?", the arrival estimates of a trip). A full
Dijkstra search answers each in about a millisecond on a city map because it
settles the whole graph; a customizable contraction hierarchy (CCH, RoutingKit)
answers it in tens of microseconds. The hierarchy has three phases, and twin
pays each where it belongs:

* **Order and contraction** depend on the road topology only: computed once per
  network (:func:`hierarchy_of`, a fraction of a second on the Laredo map).
* **Customization** binds one set of edge weights (one time bucket, school
  hours, closures in force): a few milliseconds, once per bucket state.
* **Queries** then cost microseconds each and return the path's arcs.

Weights are integer centiseconds per edge, the same rounding as the travel-time
matrices of :mod:`twin.traveltime`, so a leg's time equals the matrix entry for
the same pair exactly. Where several paths tie on time, the hierarchy may pick
a different one from the matrix search (which prefers the shorter); both are
fastest paths.
"""

from __future__ import annotations

import weakref

import numpy as np
import routingkit_cch as rk

from twin.maps.network import RoadNetwork

__all__ = ["INF_TICKS", "Hierarchy", "PointQueries", "hierarchy_of"]

#: RoutingKit's infinite weight: an edge with it is never used.
INF_TICKS = 2**31 - 1


class Hierarchy:
    """The weight-independent part of a CCH over one network's edge arrays."""

    def __init__(self, network: RoadNetwork) -> None:
        tail = network.edge_u.tolist()
        head = network.edge_v.tolist()
        # Inertial nested dissection: the order RoutingKit recommends for road
        # networks with coordinates (deterministic for the same input).
        order = rk.compute_order_inertial(
            network.n_nodes, tail, head, network.lat.tolist(), network.lon.tolist()
        )
        self.n_edges = network.n_edges
        self.cch = rk.CCH(order, tail, head, False)


_HIERARCHIES: weakref.WeakKeyDictionary[RoadNetwork, Hierarchy] = weakref.WeakKeyDictionary()


def hierarchy_of(network: RoadNetwork) -> Hierarchy:
    """The network's hierarchy, built on first use and kept as long as the network."""
    found = _HIERARCHIES.get(network)
    if found is None:
        found = _HIERARCHIES[network] = Hierarchy(network)
    return found


class PointQueries:
    """Fastest paths under one set of edge weights.

    Parameters
    ----------
    hierarchy : Hierarchy
    ticks : numpy.ndarray
        Integer centiseconds per edge (edge-array order); :data:`INF_TICKS` closes
        an edge.
    """

    def __init__(self, hierarchy: Hierarchy, ticks: np.ndarray) -> None:
        if len(ticks) != hierarchy.n_edges:
            raise ValueError(f"{len(ticks)} edge weights for {hierarchy.n_edges} edges")
        self._metric = rk.CCHMetric(hierarchy.cch, ticks.astype(np.int64).tolist())

    def path(self, origin: int, destination: int) -> tuple[int | None, list[int]]:
        """``(centiseconds, edge positions along the path)``; ``(None, [])`` if unreachable.

        ``origin`` and ``destination`` are node positions in the network's arrays.
        """
        # A query object per call (about 3 µs): RoutingKit's queries are bound to the
        # thread that made them (using or dropping one on another thread panics),
        # and a network's queries are shared by threads (the live server's workers).
        # The metric is not bound to a thread.
        query = rk.CCHQuery(self._metric)
        result = query.run(origin, destination)
        ticks, arcs = result.distance, result.arc_path
        del result, query  # RoutingKit refuses a new query while a result is alive
        return ticks, arcs
