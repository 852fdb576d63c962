"""Travel times: exact on known graphs, and every traffic effect in the expected direction."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
from pydantic import ValidationError

from twin.errors import MapError, UnreachableError
from twin.maps import RoadNetwork, grid_city
from twin.traveltime import (
    BorderSettings,
    Closure,
    CongestionSettings,
    NoiseSettings,
    SchoolZoneSettings,
    TrafficSettings,
    TravelTimes,
)

H = 3600.0
FLAT = CongestionSettings(
    hourly={
        c: (1.0,) * 24
        for c in ("motorway", "trunk", "primary", "secondary", "tertiary", "residential", "other")
    }
)


def _line(n: int = 5, spacing_m: float = 100.0) -> RoadNetwork:
    """A two-way street of n nodes: every answer can be computed by hand."""
    return RoadNetwork(*grid_city(rows=1 + 1, cols=n, spacing_m=spacing_m))


def test_matrix_matches_hand_computation_on_a_grid():
    net = RoadNetwork(*grid_city(rows=2, cols=5, spacing_m=100.0))
    tt = TravelTimes(
        net, TrafficSettings(congestion=FLAT, school_zones=SchoolZoneSettings(enabled=False))
    )
    sw, se = 1, 9  # south-west corner and the node 4 blocks east of it on the south street
    m = tt.matrix([sw], [se], depart_s=3 * H)
    street = next(d for _, _, d in net.graph.edges(data=True) if d["name"] == "Street 1")
    expected = 4 * 100.0 / (street["speed_kph"] / 3.6)
    assert m.time_s[0, 0] == pytest.approx(expected, abs=0.05)
    assert m.length_m[0, 0] == pytest.approx(400.0, abs=1.0)


def test_matrix_equals_networkx_dijkstra(laredo: RoadNetwork):
    tt = TravelTimes(laredo)
    rng = np.random.default_rng(7)
    nodes = laredo.node_ids[rng.choice(laredo.n_nodes, 30, replace=False)]
    m = tt.matrix(nodes, nodes, depart_s=8 * H)
    w = tt.edge_times(8 * H)
    g = nx.DiGraph()
    for u, v, weight, length in zip(
        laredo.edge_u, laredo.edge_v, w, laredo.edge_length_m, strict=True
    ):
        g.add_edge(int(u), int(v), w=weight, length=length)
    idx = laredo.index(nodes)
    for row in range(3):
        dist, paths = nx.single_source_dijkstra(g, int(idx[row]), weight="w")
        ref_t = np.array([dist[int(j)] for j in idx])
        ref_l = np.array(
            [
                sum(
                    g[a][b]["length"]
                    for a, b in zip(paths[int(j)], paths[int(j)][1:], strict=False)
                )
                for j in idx
            ]
        )
        # twin rounds edge times to 0.01 s and lengths to 0.1 m (lexicographic encoding).
        assert np.allclose(m.time_s[row], ref_t, atol=0.5)
        assert np.allclose(m.length_m[row], ref_l, atol=5.0)
    # Few targets use the reverse search; the answer must not change.
    few = tt.matrix(nodes, nodes[:2], depart_s=8 * H)
    assert np.allclose(few.time_s, m.time_s[:, :2])
    assert np.allclose(few.length_m, m.length_m[:, :2])


def test_leg_agrees_with_matrix_and_path_is_connected(laredo: RoadNetwork):
    tt = TravelTimes(laredo)
    a, b = (int(n) for n in laredo.node_ids[[10, 9000]])
    leg = tt.leg(a, b, depart_s=9 * H)
    assert leg.travel_time_s == pytest.approx(tt.matrix([a], [b], depart_s=9 * H).time_s[0, 0])
    assert leg.nodes[0] == a
    assert leg.nodes[-1] == b
    assert all(laredo.graph.has_edge(u, v) for u, v in zip(leg.nodes, leg.nodes[1:], strict=False))
    coords = tt.path_coords(leg)
    assert len(coords) >= len(leg.nodes)


@pytest.mark.parametrize("hour", [3.0, 8.25, 17.5])
def test_point_queries_agree_with_the_matrix_search(laredo: RoadNetwork, hour: float):
    """Legs come from a contraction hierarchy, matrices from Dijkstra: same times to the
    centisecond; where paths tie on time the matrix keeps the shorter one."""
    tt = TravelTimes(laredo)
    rng = np.random.default_rng(int(hour * 4))
    origins = laredo.node_ids[rng.integers(0, laredo.n_nodes, 150)].tolist()
    targets = laredo.node_ids[rng.integers(0, laredo.n_nodes, 150)].tolist()
    m = tt.matrix(origins, targets, depart_s=hour * H)
    pairs = tt.pairwise(origins, targets, depart_s=hour * H)
    assert np.array_equal(pairs.time_s, np.diag(m.time_s))
    for k, (o, d) in enumerate(zip(origins, targets, strict=True)):
        leg = tt.leg(o, d, depart_s=hour * H)
        assert leg.travel_time_s == pairs.time_s[k]
        assert leg.length_m == pytest.approx(pairs.length_m[k])
        rounding_m = 0.5 * tt._enc.unit * len(leg.nodes)  # the matrix rounds per edge
        assert m.length_m[k, k] <= leg.length_m + rounding_m


def test_pairwise_is_inf_where_no_path_exists(laredo: RoadNetwork):
    us, mx = _us_mx(laredo)
    sealed = TravelTimes(laredo, TrafficSettings(border=BorderSettings(crossing_allowed=False)))
    pairs = sealed.pairwise([us, us], [mx, us], depart_s=10 * H)
    assert math.isinf(pairs.time_s[0])
    assert math.isinf(pairs.length_m[0])
    assert pairs.time_s[1] == 0.0
    assert pairs.length_m[1] == 0.0
    with pytest.raises(ValueError, match="2 origins for 1 targets"):
        sealed.pairwise([us, us], [mx], depart_s=10 * H)


def test_peak_is_slower_than_night(laredo: RoadNetwork):
    tt = TravelTimes(laredo)
    nodes = laredo.node_ids[:: laredo.n_nodes // 40]
    night = tt.matrix(nodes, depart_s=3 * H).time_s
    am = tt.matrix(nodes, depart_s=8 * H).time_s
    pm = tt.matrix(nodes, depart_s=17.5 * H).time_s
    off = ~np.eye(len(nodes), dtype=bool)
    assert (am[off] >= night[off] - 1e-6).all()
    assert am[off].mean() > 1.1 * night[off].mean()
    assert pm[off].mean() > 1.1 * night[off].mean()


def test_same_day_periodicity(laredo: RoadNetwork):
    tt = TravelTimes(laredo, TrafficSettings(school_zones=SchoolZoneSettings(weekdays_only=False)))
    nodes = laredo.node_ids[:50:5]
    assert np.array_equal(
        tt.matrix(nodes, depart_s=8 * H).time_s, tt.matrix(nodes, depart_s=8 * H + 86400).time_s
    )


def _us_mx(laredo: RoadNetwork) -> tuple[int, int]:
    us = int(laredo.snap(27.55, -99.49).node[0])
    mx = int(laredo.snap(27.45, -99.52).node[0])
    return us, mx


def test_border_waits_northbound_slower_and_hourly(laredo: RoadNetwork):
    tt = TravelTimes(laredo, TrafficSettings(congestion=FLAT))
    us, mx = _us_mx(laredo)
    north_peak = tt.leg(mx, us, depart_s=7.5 * H)
    south_peak = tt.leg(us, mx, depart_s=7.5 * H)
    north_night = tt.leg(mx, us, depart_s=2.5 * H)
    assert north_peak.crossings
    assert north_peak.crossings[0][1] is True
    assert south_peak.crossings
    assert south_peak.crossings[0][1] is False
    assert north_peak.wait_s > south_peak.wait_s
    assert north_peak.travel_time_s > south_peak.travel_time_s
    assert north_peak.wait_s > north_night.wait_s


def test_border_waits_are_stochastic_with_configured_mean(laredo: RoadNetwork):
    settings = TrafficSettings(noise=NoiseSettings(cv=0.0), border=BorderSettings(wait_cv=0.5))
    tt = TravelTimes(laredo, settings)
    us, mx = _us_mx(laredo)
    leg = tt.leg(mx, us, depart_s=8 * H)
    rng = np.random.default_rng(0)
    draws = np.array([tt.sample(leg, rng) for _ in range(4000)])
    driving = leg.travel_time_s - leg.wait_s
    waits = draws - driving
    assert waits.mean() == pytest.approx(leg.wait_s, rel=0.05)
    assert waits.std() / waits.mean() == pytest.approx(0.5, rel=0.1)


def test_leg_noise_has_mean_one_and_configured_cv(small_grid: RoadNetwork):
    tt = TravelTimes(small_grid, TrafficSettings(noise=NoiseSettings(cv=0.2)))
    leg = tt.leg(1, 36, depart_s=12 * H)
    rng = np.random.default_rng(1)
    ratio = np.array([tt.sample(leg, rng) for _ in range(5000)]) / leg.travel_time_s
    assert ratio.mean() == pytest.approx(1.0, abs=0.01)
    assert ratio.std() == pytest.approx(0.2, rel=0.08)
    # Same seed, same draws: the stream alone decides.
    a = [tt.sample(leg, np.random.default_rng(5)) for _ in range(3)]
    b = [tt.sample(leg, np.random.default_rng(5)) for _ in range(3)]
    assert a == b


def test_school_zone_slows_only_in_school_hours_on_weekdays(laredo: RoadNetwork):
    school = laredo.meta.schools[0]
    tt = TravelTimes(laredo, TrafficSettings(congestion=FLAT))
    node = int(laredo.snap(school.lat, school.lon).node[0])
    far = int(laredo.node_ids[0])
    saturday = 5 * 86400
    monday_school = tt.matrix([far], [node], depart_s=7.25 * H).time_s[0, 0]
    saturday_school = tt.matrix([far], [node], depart_s=saturday + 7.25 * H).time_s[0, 0]
    monday_noon = tt.matrix([far], [node], depart_s=12.25 * H).time_s[0, 0]
    saturday_noon = tt.matrix([far], [node], depart_s=saturday + 12.25 * H).time_s[0, 0]
    assert monday_school > saturday_school
    assert monday_noon == pytest.approx(saturday_noon)


def test_commercial_only_crossing_barred_by_default(laredo: RoadNetwork):
    wtb = [i for i, c in enumerate(laredo.meta.crossings) if c.commercial_only]
    on_wtb = np.isin(laredo.edge_crossing, wtb)
    assert np.isinf(TravelTimes(laredo).edge_times(H)[on_wtb]).all()
    allowed = TravelTimes(
        laredo, TrafficSettings(border=BorderSettings(commercial_only_allowed=True))
    )
    assert np.isfinite(allowed.edge_times(H)[on_wtb]).all()


def test_bridge_closure_reroutes_then_all_closed_is_unreachable(laredo: RoadNetwork):
    us, mx = _us_mx(laredo)
    base = TravelTimes(laredo, TrafficSettings(congestion=FLAT))
    leg = base.leg(us, mx, depart_s=10 * H)
    used = laredo.meta.crossings[leg.crossings[0][0]].name
    closed = TravelTimes(
        laredo,
        TrafficSettings(
            congestion=FLAT,
            closures=(Closure(name="bridge works", crossing=used, start_s=9 * H, end_s=12 * H),),
        ),
    )
    detour = closed.leg(us, mx, depart_s=10 * H)
    assert laredo.meta.crossings[detour.crossings[0][0]].name != used
    assert detour.travel_time_s > leg.travel_time_s
    # The closure is lifted at its end time.
    after = closed.leg(us, mx, depart_s=13 * H)
    assert after.travel_time_s == pytest.approx(base.leg(us, mx, depart_s=13 * H).travel_time_s)
    # No crossing allowed at all: the other country is unreachable, clearly.
    sealed = TravelTimes(laredo, TrafficSettings(border=BorderSettings(crossing_allowed=False)))
    assert math.isinf(sealed.matrix([us], [mx], depart_s=10 * H).time_s[0, 0])
    with pytest.raises(UnreachableError, match="No route from node"):
        sealed.leg(us, mx, depart_s=10 * H)


def test_dynamic_closure_invalidates_cached_rows(small_grid: RoadNetwork):
    tt = TravelTimes(small_grid, TrafficSettings(congestion=FLAT))
    before = tt.matrix([1], [31], depart_s=H).time_s[0, 0]  # along Street 1
    tt.close(Closure(name="flood", road="Street 1", start_s=0.5 * H, end_s=2 * H))
    during = tt.matrix([1], [31], depart_s=H).time_s[0, 0]
    assert during > before  # Street 1 closed: detour via Street 2
    assert tt.leg(1, 31, depart_s=H).travel_time_s == during
    assert tt.leg(1, 31, depart_s=3 * H).travel_time_s == pytest.approx(before)
    assert tt.matrix([1], [31], depart_s=3 * H).time_s[0, 0] == pytest.approx(before)


def test_a_matrix_larger_than_the_row_cache_keeps_the_rows_it_found(small_grid: RoadNetwork):
    # Room for about 4 rows: the rows cached by the first call are evicted while the
    # second computes its missing ones, and must still be in its answer.
    tt = TravelTimes(small_grid, cache_mb=4 * small_grid.n_nodes * 8 / 2**20)
    nodes = small_grid.node_ids[:20].tolist()
    tt.matrix(nodes[:3], nodes[:3], depart_s=H)
    m = tt.matrix(nodes, nodes, depart_s=H)  # forward: 3 rows cached, 17 to compute
    fresh = TravelTimes(small_grid).matrix(nodes, nodes, depart_s=H)
    assert np.array_equal(m.time_s, fresh.time_s)


def test_closure_errors_name_the_problem(small_grid: RoadNetwork, laredo: RoadNetwork):
    with pytest.raises(ValidationError, match="exactly one of"):
        Closure(name="x", road="a", crossing="b")
    with pytest.raises(ValidationError, match="ends before it starts"):
        Closure(name="x", road="a", start_s=10, end_s=5)
    with pytest.raises(MapError, match="no border crossing"):
        TravelTimes(small_grid, TrafficSettings(closures=(Closure(crossing="Gateway"),)))
    with pytest.raises(MapError, match="matches no road"):
        TravelTimes(laredo, TrafficSettings(closures=(Closure(road="Champs-Élysées"),)))


def test_settings_validation_messages():
    with pytest.raises(ValidationError, match="24 hourly values"):
        CongestionSettings(hourly={"primary": (1.0, 2.0)})
    with pytest.raises(ValidationError, match="unknown road class"):
        CongestionSettings(hourly={"autobahn": (1.0,) * 24})
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        TrafficSettings.model_validate({"bucket_minutes": 10})


def test_join_paths_writes_each_joint_once():
    from twin.traveltime import join_paths

    assert join_paths([(1, 2, 3), (3, 4), (4,), (9, 8)]) == [1, 2, 3, 4, 9, 8]
    assert join_paths([]) == []


def test_point_queries_answer_on_any_thread(small_grid):
    """The live server's worker threads share a network's queries: RoutingKit binds a
    query object to its thread, so one made on one thread must not be used on another."""
    import threading

    from twin.shortest_paths import PointQueries, hierarchy_of

    queries = PointQueries(hierarchy_of(small_grid), np.full(small_grid.n_edges, 100))
    here = queries.path(0, small_grid.n_nodes - 1)
    seen: list[object] = []
    worker = threading.Thread(target=lambda: seen.append(queries.path(0, small_grid.n_nodes - 1)))
    worker.start()
    worker.join()
    assert seen == [here]
