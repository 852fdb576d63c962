"""The live state's fold for multi-trip routes: reload markers and the vehicle at its hub."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from twin.live.events import LiveClock, parse_event
from twin.live.state import LiveState
from twin.maps import load_network
from twin.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
H = 3600.0


@pytest.fixture(scope="module")
def setting() -> tuple[Any, Any]:
    sc = load_scenario(ROOT / "scenarios" / "small_grid.yaml")
    return sc, load_network(sc.map.ref, network_type=sc.map.network_type)


@pytest.fixture
def state(setting: tuple[Any, Any]) -> LiveState:
    """Five orders on van-a: two trips, the second starting at o3."""
    sc, net = setting
    clock = LiveClock(sc.start_date)
    s = LiveState(sc, net, clock)
    for k in range(5):
        i = 10 * k + 5
        s.apply(parse_event({
            "event_id": f"o{k}", "type": "order_created", "time": clock.datetime(7 * H),
            "order_id": f"o{k}", "lat": float(net.lat[i]), "lon": float(net.lon[i]),
            "window_start": clock.datetime(8 * H), "window_end": clock.datetime(18 * H),
        }))  # fmt: skip
    s.apply(_event(s, "r", 8 * H, type="route_assigned", vehicle_id="van-a",
                   order_ids=["o0", "o1", "o2", "o3", "o4"], reload_before=["o3"]))  # fmt: skip
    return s


def _event(s: LiveState, event_id: str, at_s: float, **fields: Any) -> Any:
    return parse_event({"event_id": event_id, "time": s.clock.datetime(at_s), **fields})


def _outcome(s: LiveState, order_id: str, at_s: float) -> None:
    s.apply(_event(s, f"out-{order_id}", at_s, type="stop_outcome", vehicle_id="van-a",
                   order_id=order_id, outcome="delivered"))  # fmt: skip


def test_a_served_stop_takes_its_reload_with_it(state: LiveState) -> None:
    v = state.vehicles["van-a"]
    assert v.reload_before == ["o3"]
    for k, oid in enumerate(["o0", "o1", "o2", "o3"]):
        _outcome(state, oid, 9 * H + 600 * k)
    assert v.route == ["o4"]
    assert v.reload_before == []  # it reloaded before o3: o4 is on the same trip


def test_a_cancelled_or_moved_reload_stop_hands_the_reload_to_the_next(state: LiveState) -> None:
    v = state.vehicles["van-a"]
    state.apply(_event(state, "c", 9 * H, type="order_cancelled", order_id="o3"))
    assert v.route == ["o0", "o1", "o2", "o4"]
    assert v.reload_before == ["o4"]  # the second trip still starts at the hub
    state.apply(_event(state, "m", 9.5 * H, type="route_assigned", vehicle_id="van-b",
                       order_ids=["o4"]))  # fmt: skip
    assert v.route == ["o0", "o1", "o2"]
    assert v.reload_before == []  # nothing left after it: no trip to load


def test_off_duty_and_a_new_route_replace_the_reloads(state: LiveState) -> None:
    v = state.vehicles["van-a"]
    state.apply(_event(state, "r2", 9 * H, type="route_assigned", vehicle_id="van-a",
                       order_ids=["o4", "o3"]))  # fmt: skip
    assert v.reload_before == []
    state.apply(_event(state, "r3", 9.1 * H, type="route_assigned", vehicle_id="van-a",
                       order_ids=["o4", "o3"], reload_before=["o3"]))  # fmt: skip
    copy = state.copy()
    state.apply(_event(state, "off", 10 * H, type="driver_status", vehicle_id="van-a",
                       status="off_duty"))  # fmt: skip
    assert (v.route, v.reload_before) == ([], [])
    assert copy.vehicles["van-a"].reload_before == ["o3"]  # the copy is its own


def test_at_hub_since_follows_pings_and_stops(state: LiveState) -> None:
    v = state.vehicles["van-a"]
    net = state.network
    hub = int(net.index(state.hub_nodes[v.hub_id])[0])
    assert v.at_hub_since_s == 8 * H  # went on duty at the hub
    _outcome(state, "o0", 9 * H)
    assert v.at_hub_since_s is None
    for k, at_s in enumerate([10 * H, 10.2 * H]):
        state.apply(_event(state, f"p{k}", at_s, type="gps_ping", vehicle_id="van-a",
                           lat=float(net.lat[hub]) + 0.0005, lon=float(net.lon[hub])))  # fmt: skip
        assert v.at_hub_since_s == 10 * H  # about 55 m away: at the hub, since the first
    o4 = state.orders["o4"]
    state.apply(_event(state, "p-away", 10.5 * H, type="gps_ping", vehicle_id="van-a",
                       lat=o4.lat, lon=o4.lon))  # fmt: skip
    assert v.at_hub_since_s is None


def test_a_reload_before_an_order_off_the_route_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        parse_event({"event_id": "r", "type": "route_assigned", "time": "2026-03-02T08:00",
                     "vehicle_id": "v", "order_ids": ["a", "b"],
                     "reload_before": ["c"]})  # fmt: skip
    (error,) = info.value.errors()
    assert error["loc"][-1] == "reload_before"
    assert "not in order_ids" in error["msg"]
