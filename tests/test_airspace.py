"""Drone airspace: straight flights, detours around no-fly zones, refusals at barriers."""

from __future__ import annotations

import itertools
import math

import pytest
import shapely
from shapely.geometry import LineString, Polygon

from twin.airspace import Airspace, NoFlyZone
from twin.maps import load_network

LAT0, LON0 = 27.5, -99.5
KX = 111_320.0 * math.cos(math.radians(LAT0))
KY = 110_540.0


def ll(x_m: float, y_m: float) -> tuple[float, float]:
    """(lat, lon) of a point x_m east and y_m north of the origin."""
    return (LAT0 + y_m / KY, LON0 + x_m / KX)


def square(cx: float, cy: float, half: float) -> NoFlyZone:
    corners = [(cx - half, cy - half), (cx + half, cy - half), (cx + half, cy + half),
               (cx - half, cy + half)]  # fmt: skip
    return NoFlyZone("box", "user", tuple(ll(x, y) for x, y in corners))


def test_open_sky_is_a_straight_line() -> None:
    space = Airspace([], origin=(LAT0, LON0))
    path = space.path(ll(0, 0), ll(3000, 4000))
    assert path is not None
    assert path.straight
    assert path.length_m == pytest.approx(5000.0, rel=1e-6)


def test_a_zone_in_the_way_is_flown_around_with_clearance() -> None:
    clearance = 50.0
    zone = square(1000, 0, 200)
    space = Airspace([zone], clearance_m=clearance, origin=(LAT0, LON0))
    path = space.path(ll(0, 0), ll(2000, 0))
    assert path is not None
    assert not path.straight
    assert space.is_legal(path.waypoints)
    # Geometric check in metres: no leg comes closer than the clearance to the box.
    box = Polygon([(800, -200), (1200, -200), (1200, 200), (800, 200)])
    xy = [((lon - LON0) * KX, (lat - LAT0) * KY) for lat, lon in path.waypoints]
    for a, b in itertools.pairwise(xy):
        assert LineString([a, b]).distance(box) >= clearance - 1.0
    # The shortest path keeping the clearance runs along the box's top edge, 250 m off
    # the line: 2 x hypot(800, 250) + 400. The grown corners' small extra margin
    # (2 % of the clearance plus 1 m) may add a few metres, never less.
    shortest = 2 * math.hypot(800, 200 + clearance) + 400
    assert shortest - 1e-6 <= path.length_m <= shortest + 5.0


def test_a_target_inside_a_zone_is_refused() -> None:
    space = Airspace([square(1000, 0, 200)], origin=(LAT0, LON0))
    assert space.path(ll(0, 0), ll(1000, 0)) is None


def test_a_barrier_cannot_be_crossed() -> None:
    border = NoFlyZone("river", "border", (ll(-5000, 500), ll(5000, 500)), barrier=True)
    space = Airspace([border], origin=(LAT0, LON0))
    assert space.path(ll(0, 0), ll(0, 1000)) is None
    same_side = space.path(ll(-1000, 0), ll(1000, 0))
    assert same_side is not None
    assert same_side.straight


def test_is_legal_rejects_a_path_through_a_zone() -> None:
    space = Airspace([square(1000, 0, 200)], origin=(LAT0, LON0))
    assert not space.is_legal([ll(0, 0), ll(2000, 0)])
    assert space.is_legal([ll(0, 1000), ll(2000, 1000)])


def test_laredo_airspace_avoids_the_airport_and_stays_in_the_us() -> None:
    net = load_network("laredo")
    space = Airspace.from_map(net.meta)
    kinds = {z.kind for z in space.zones}
    assert kinds == {"airport", "border"}
    airport = next(z for z in space.zones if z.kind == "airport")
    ring = Polygon([(lon, lat) for lat, lon in airport.points])
    west, south, east, north = ring.bounds
    mid_lat = (south + north) / 2
    # West of the airfield to east of it, on the same (US) side: around, not across.
    start, target = (mid_lat, west - 0.01), (mid_lat, east + 0.01)
    path = space.path(start, target)
    assert path is not None
    assert not path.straight
    line = shapely.LineString([(lon, lat) for lat, lon in path.waypoints])
    assert not line.crosses(ring)
    assert not line.within(ring)
    # Across the Rio Grande into Nuevo Laredo: refused.
    hub = next(p for p in net.meta.pois if p.kind == "hub_site")
    nuevo_laredo = (27.47, -99.53)
    assert space.path((hub.lat, hub.lon), nuevo_laredo) is None
