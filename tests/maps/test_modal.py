"""Walk and bike networks: derived from the streets, read from OSM files, linked to addresses."""

from __future__ import annotations

import math
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from twin.maps import MapMeta, RoadNetwork, load_network
from twin.maps.modal import derive_network, mode_network
from twin.maps.network import LocalProjection, road_class
from twin.traveltime import TrafficSettings, TravelTimes

STILL = TrafficSettings(noise={"cv": 0.0})


def _one_way_triangle() -> RoadNetwork:
    """Three corners joined by one-way streets a -> b -> c -> a, 300 m each, and a
    motorway spur d <-> a; drivers from b to a must go round by c."""
    proj = LocalProjection(27.5, -99.5)
    xy = {1: (0.0, 0.0), 2: (300.0, 0.0), 3: (150.0, 259.8), 4: (-300.0, 0.0)}
    g = nx.MultiDiGraph(crs="EPSG:4326")
    for n, (x, y) in xy.items():
        lat, lon = proj.latlon(np.array([x]), np.array([y]))
        g.add_node(n, y=float(lat[0]), x=float(lon[0]))
    for u, v, hwy in ((1, 2, "residential"), (2, 3, "residential"), (3, 1, "residential")):
        g.add_edge(u, v, length=300.0, highway=hwy, travel_time=300.0 / 8.3, oneway=True)
    for u, v in ((4, 1), (1, 4)):
        g.add_edge(u, v, length=300.0, highway="motorway", travel_time=300.0 / 25.0, oneway=True)
    return RoadNetwork(g, MapMeta(name="triangle", source="test", synthetic=True))


def test_walk_network_goes_both_ways_and_not_on_motorways():
    drive = _one_way_triangle()
    walk = derive_network(drive, "walk")
    assert walk.meta.network_type == "walk"
    g = walk.graph
    assert set(g.nodes) == {1, 2, 3}  # the motorway spur's end is not walkable
    assert all(road_class(d["highway"]) != "motorway" for _, _, d in g.edges(data=True))
    for u, v in ((1, 2), (2, 3), (3, 1)):
        assert g.has_edge(u, v)
        assert g.has_edge(v, u)


def test_bike_network_keeps_one_way_streets_one_way():
    bike = derive_network(_one_way_triangle(), "bike")
    assert bike.graph.has_edge(2, 3)
    assert not bike.graph.has_edge(3, 2)
    assert 4 not in bike.graph


def test_walking_against_a_one_way_street_takes_the_direct_sidewalk():
    drive = _one_way_triangle()
    walk = mode_network(drive, "triangle", "walk")
    assert mode_network(drive, "triangle", "walk") is walk  # built once per map
    robot = TravelTimes(walk, STILL, speed_kph=6.0, addresses=drive)
    van = TravelTimes(drive, STILL, speed_kph=6.0)
    m = robot.matrix([2], [1], depart_s=9 * 3600.0)
    assert m.length_m is not None
    assert m.length_m[0, 0] == pytest.approx(300.0)
    assert m.time_s[0, 0] == pytest.approx(300.0 / (6.0 / 3.6))
    assert van.matrix([2], [1], depart_s=9 * 3600.0).time_s[0, 0] == pytest.approx(
        600.0 / (6.0 / 3.6)
    )
    leg = robot.leg(2, 1, depart_s=9 * 3600.0)
    assert leg.nodes == (2, 1)
    assert leg.length_m == pytest.approx(300.0)


def test_addresses_off_the_walk_network_walk_the_straight_distance_to_it():
    drive = _one_way_triangle()
    robot = TravelTimes(mode_network(drive, "t", "walk"), STILL, speed_kph=6.0, addresses=drive)
    m = robot.matrix([4, 4], [2, 4], depart_s=0.0)
    assert m.length_m is not None
    # node 4 (on the motorway only) is 300 m from its nearest walkable node, 1
    assert m.length_m[0, 0] == pytest.approx(600.0, rel=1e-4)
    assert m.time_s[0, 0] == pytest.approx(600.0 / (6.0 / 3.6), rel=1e-4)
    assert m.length_m[1, 1] == 0.0  # an address to itself costs nothing
    leg = robot.leg(4, 2, depart_s=0.0)
    assert leg.length_m == pytest.approx(600.0, rel=1e-4)
    assert robot.path_coords(leg)  # drawn on the walk network's own nodes


def test_linked_travel_needs_a_pace():
    drive = _one_way_triangle()
    with pytest.raises(ValueError, match="speed_kph"):
        TravelTimes(derive_network(drive, "walk"), STILL, addresses=drive)


def test_laredo_sidewalks_connect_every_address(laredo: RoadNetwork):
    walk = derive_network(laredo, "walk")
    robot = TravelTimes(walk, STILL, speed_kph=6.0, addresses=laredo)
    sample = laredo.node_ids[:: max(1, laredo.n_nodes // 40)]
    m = robot.matrix(sample, sample, depart_s=10 * 3600.0)
    assert np.isfinite(m.time_s).all()
    # two ways on every sidewalk: the walk network is symmetric, so is a walk between addresses
    assert m.length_m is not None
    np.testing.assert_allclose(m.length_m, m.length_m.T, rtol=1e-9, atol=1e-6)


def test_osm_walk_network_is_read_from_the_file(shared_maps: Path):
    drive = load_network("aguascalientes")
    walk = mode_network(drive, "aguascalientes", "walk")
    assert walk.meta.network_type == "walk"
    assert walk.meta.source == drive.meta.source
    # OSMnx's walk network is bidirectional: every edge has its reverse
    g = walk.graph
    assert all(g.has_edge(v, u) for u, v in g.edges())
    robot = TravelTimes(walk, STILL, speed_kph=6.0, addresses=drive)
    some = drive.node_ids[:20]
    assert math.isfinite(float(robot.matrix(some, some, depart_s=0.0).time_s.max()))
