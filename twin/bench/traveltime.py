"""Travel-time matrix benchmark: twin's CSR/csgraph matrix against naive networkx.

``twin bench traveltime --map austin --n 1000`` builds an n x n matrix of expected
travel times *and* path lengths between random routable nodes at 08:00, and in
the same run times the naive networkx equivalent: per-source Dijkstra on the
OSMnx MultiDiGraph, times only, with the same weights (set before the clock
starts). networkx runs on a sample of sources and is extrapolated linearly (each
source is an independent search). A plain-DiGraph networkx variant is reported
too, for context. The sampled rows are compared with twin's (max abs diff; twin
rounds edge times to 0.01 s, see :mod:`twin.traveltime`).
"""

from __future__ import annotations

import platform
import resource
import time
import tracemalloc
from typing import Any

import networkx as nx
import numpy as np

from twin.maps import load_network
from twin.traveltime import TravelTimes

__all__ = ["run"]


def run(
    *,
    map_ref: str = "austin",
    n: int = 1000,
    nx_sample: int = 40,
    seed: int = 0,
    depart_s: float = 8 * 3600.0,
) -> dict[str, Any]:
    """Measure and return the figures (seconds, ratio, memory) as a dict."""
    t0 = time.perf_counter()
    network = load_network(map_ref)
    load_s = time.perf_counter() - t0
    rng = np.random.default_rng(seed)
    n = min(n, network.n_nodes)
    nodes = network.node_ids[rng.choice(network.n_nodes, size=n, replace=False)]

    tt = TravelTimes(network)
    t0 = time.perf_counter()
    matrix = tt.matrix(nodes, nodes, depart_s=depart_s, with_length=True)
    twin_s = time.perf_counter() - t0

    # Memory in a separate cold run, so tracing does not slow the timed one.
    tracemalloc.start()
    TravelTimes(network).matrix(nodes, nodes, depart_s=depart_s, with_length=True)
    _, peak_bytes = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    # The naive equivalent: networkx's per-source Dijkstra on the OSMnx MultiDiGraph,
    # with the same bucket weights written onto the edges beforehand (not timed).
    weights = tt.edge_times(depart_s)
    graph = network.graph.copy()
    pair_weight = {
        (int(network.node_ids[u]), int(network.node_ids[v])): float(w)
        for u, v, w in zip(network.edge_u, network.edge_v, weights, strict=True)
    }
    for u, v, data in graph.edges(data=True):
        data["bucket_time"] = pair_weight[(u, v)]  # parallel edges share the fastest time
    sample = rng.choice(n, size=min(nx_sample, n), replace=False)
    t0 = time.perf_counter()
    rows = [
        nx.single_source_dijkstra_path_length(graph, int(nodes[i]), weight="bucket_time")
        for i in sample
    ]
    nx_s = (time.perf_counter() - t0) * n / len(sample)
    max_err = 0.0
    for i, dist in zip(sample, rows, strict=True):
        ref = np.array([dist.get(int(j), np.inf) for j in nodes])
        max_err = max(max_err, float(np.max(np.abs(ref - matrix.time_s[i]))))
    # A faster variant for context: a plain DiGraph with one weight per node pair.
    digraph = nx.DiGraph()
    digraph.add_weighted_edges_from((u, v, w) for (u, v), w in pair_weight.items())
    t0 = time.perf_counter()
    for i in sample:
        nx.single_source_dijkstra_path_length(digraph, int(nodes[i]), weight="weight")
    nx_digraph_s = (time.perf_counter() - t0) * n / len(sample)
    return {
        "map": network.meta.name,
        "nodes": network.n_nodes,
        "edges": network.n_edges,
        "n": n,
        "map_load_s": round(load_s, 3),
        "twin_matrix_s": round(twin_s, 4),
        "networkx_s": round(nx_s, 3),
        "networkx_extrapolated_from_sources": len(sample),
        "speedup_vs_networkx": round(nx_s / twin_s, 1),
        "networkx_digraph_s": round(nx_digraph_s, 3),
        "speedup_vs_networkx_digraph": round(nx_digraph_s / twin_s, 1),
        "max_abs_diff_s": max_err,
        "twin_peak_traced_mb": round(peak_bytes / 2**20, 1),
        "process_max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "target": {"speedup_vs_networkx": ">= 20", "twin_matrix_s": "< 1.5"},
        "machine": f"{platform.machine()} {platform.python_version()}",
    }
