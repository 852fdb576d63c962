"""Map names, snapping of addresses to the routable component."""

from __future__ import annotations

import numpy as np
import pytest

from twin.errors import MapError
from twin.maps import RoadNetwork, list_maps, load_network


def test_list_has_embedded_and_shared_names():
    names = {e.name: e for e in list_maps()}
    assert {"laredo", "grid", "austin", "san-antonio", "aguascalientes"} <= set(names)
    assert names["laredo"].available


def test_grid_names():
    net = load_network("grid-4x5")
    assert net.n_nodes == 20


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(MapError, match=r"neither a known name \(laredo, grid"):
        load_network("atlantis")


def test_missing_shared_dir_is_explained(monkeypatch: pytest.MonkeyPatch, tmp_path):
    monkeypatch.setenv("TWIN_SHARED_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(MapError, match="TWIN_SHARED_DIR"):
        load_network("austin")


def test_snap_reports_far_points(laredo: RoadNetwork):
    # Downtown Laredo snaps within a block; a point in the Gulf of Mexico is too far.
    snap = laredo.snap([27.506, 26.0], [-99.505, -97.0], max_distance_m=300)
    assert snap.distance_m[0] < 150
    assert snap.too_far.tolist() == [False, True]
    assert snap.n_too_far == 1
    assert snap.node[0] in laredo.graph


def test_snap_matches_brute_force(small_grid: RoadNetwork):
    rng = np.random.default_rng(3)
    lat = rng.uniform(small_grid.lat.min(), small_grid.lat.max(), 50)
    lon = rng.uniform(small_grid.lon.min(), small_grid.lon.max(), 50)
    snap = small_grid.snap(lat, lon)
    xy = small_grid.node_xy
    pts = small_grid.project(lat, lon)
    brute = np.linalg.norm(pts[:, None, :] - xy[None], axis=2).argmin(axis=1)
    assert (snap.node == small_grid.node_ids[brute]).all()


def test_largest_strong_component_excludes_one_way_trap():
    import networkx as nx

    from twin.maps import grid_city

    g, meta = grid_city(rows=3, cols=3, spacing_m=100.0)
    # A node reachable only one way cannot be routed back from: it is dropped.
    g.add_node(99, x=g.nodes[1]["x"] + 0.01, y=g.nodes[1]["y"], lat=0, lon=0)
    g.add_edge(1, 99, length=100.0, travel_time=10.0, highway="residential")
    net = RoadNetwork(g, meta)
    assert 99 not in net.graph
    assert net.n_nodes_loaded == 10
    assert net.routable_share == pytest.approx(0.9)
    assert nx.is_strongly_connected(net.graph)


def test_empty_graph_is_a_clear_error():
    import networkx as nx

    from twin.maps import MapMeta

    with pytest.raises(MapError, match="has no roads"):
        RoadNetwork(nx.MultiDiGraph(), MapMeta(name="empty", source="test", synthetic=True))


def test_user_registry_names(tmp_path, monkeypatch: pytest.MonkeyPatch):
    from twin.maps import grid_city
    from twin.maps.osm import save_graphml

    save_graphml(*grid_city(rows=3, cols=3), tmp_path / "mine.graphml")
    registry = tmp_path / "registry.yaml"
    registry.write_text("maps:\n  mine:\n    path: mine.graphml\n    description: my grid\n")
    monkeypatch.setenv("TWIN_MAP_REGISTRY", str(registry))
    assert any(e.name == "mine" and e.available for e in list_maps())
    assert load_network("mine").n_nodes == 9
    registry.write_text("maps:\n  broken: {description: no path}\n")
    with pytest.raises(MapError, match="needs a 'path:' field"):
        list_maps()


def _same_graph(a: RoadNetwork, b: RoadNetwork) -> bool:
    return (
        list(a.graph.nodes(data=True)) == list(b.graph.nodes(data=True))
        and list(a.graph.edges(keys=True, data=True)) == list(b.graph.edges(keys=True, data=True))
        and a.meta == b.meta
    )


def test_synthetic_maps_are_cached_and_read_back_identical(tmp_path, monkeypatch):
    monkeypatch.setenv("TWIN_CACHE_DIR", str(tmp_path))
    built = load_network("grid-4x5")
    files = list((tmp_path / "synthetic").glob("grid-4x5-*.pickle"))
    assert len(files) == 1
    cached = load_network("grid-4x5")
    assert _same_graph(built, cached)
    assert _same_graph(built, load_network("grid-4x5", use_cache=False))


def test_a_damaged_synthetic_cache_file_is_built_over(tmp_path, monkeypatch):
    monkeypatch.setenv("TWIN_CACHE_DIR", str(tmp_path))
    fresh = load_network("grid-3x3", use_cache=False)
    load_network("grid-3x3")
    (path,) = (tmp_path / "synthetic").glob("grid-3x3-*.pickle")
    path.write_bytes(b"not a pickle")
    assert _same_graph(load_network("grid-3x3"), fresh)
    assert path.read_bytes() != b"not a pickle"


def test_path_coords_follow_edges_and_bridge_gaps(small_grid: RoadNetwork):
    a, b, c = (int(n) for n in small_grid.node_ids[:3])
    assert small_grid.graph.has_edge(a, b)
    assert small_grid.graph.has_edge(b, c)
    far = int(small_grid.node_ids[-1])
    assert not small_grid.graph.has_edge(c, far)
    coords = small_grid.path_coords([a, b, c, far])
    assert len(coords) == 4  # straight edges: one point per node, the gap a segment
    assert coords[-1] == (small_grid.graph.nodes[far]["y"], small_grid.graph.nodes[far]["x"])
    assert small_grid.path_coords([a]) == [coords[0]]
