"""The live API on the grid city: auth, ingestion, idempotency, atomic batches,
restart rebuild, reads, predictions and alerts (a fake forecaster stands in)."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from twin.errors import TwinError
from twin.live import api as api_module
from twin.live.api import ServeError, ServeSettings, create_app
from twin.live.events import LiveClock, parse_event
from twin.live.forecast import Forecast, OrderForecast, RouteForecast
from twin.live.geometry import network_payload
from twin.live.state import LiveState
from twin.live.store import EventStore, StoreError
from twin.maps.network import ROAD_CLASSES

with warnings.catch_warnings():
    # Starlette 1.x asks for httpx2 behind its TestClient; the project installs httpx,
    # with which the client works the same. Only the import warns.
    warnings.simplefilter("ignore", UserWarning)
    from fastapi.testclient import TestClient

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "small_grid.yaml"
TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# Points on the grid city (it spans lat 27.550-27.570, lon -99.500 to -99.478).
A = (27.5540, -99.4960)
B = (27.5620, -99.4840)


# -- a fake forecaster --------------------------------------------------------------------
@dataclass
class FakeForecaster:
    """Stop k of a route is due 10 min * k from now; orders named *late* will miss,
    vehicles named *ot* will work overtime."""

    seen: list[LiveState] = field(default_factory=list)
    release: threading.Event | None = None

    def predict(self, state: LiveState) -> Forecast:
        if self.release is not None:
            self.release.wait(10)
        self.seen.append(state)
        now = state.now_s
        orders = {}
        routes = {}
        for vid, v in state.vehicles.items():
            for k, oid in enumerate(v.route, start=1):
                eta = now + 600.0 * k
                late = 0.9 if "late" in oid else 0.1
                orders[oid] = OrderForecast(oid, vid, eta - 60, eta, eta + 60, late)
            end = now + 600.0 * (len(v.route) + 1)
            routes[vid] = RouteForecast(
                vid, len(v.route), end, end + 300, 0.7 if "ot" in vid else 0.0
            )
        return Forecast(now, 0.01, 5, orders, routes)


# -- events -------------------------------------------------------------------------------
def order(event_id: str, order_id: str, *, at: str = "07:00", pt=A, window=("09:00", "11:00")):
    return {
        "event_id": event_id,
        "type": "order_created",
        "time": f"2026-03-02T{at}:00",
        "order_id": order_id,
        "lat": pt[0],
        "lon": pt[1],
        "window_start": f"2026-03-02T{window[0]}:00",
        "window_end": f"2026-03-02T{window[1]}:00",
    }


def route(event_id: str, vehicle_id: str, order_ids: list[str], *, at: str = "08:00"):
    return {
        "event_id": event_id,
        "type": "route_assigned",
        "time": f"2026-03-02T{at}:00",
        "vehicle_id": vehicle_id,
        "driver_id": "d1",
        "order_ids": order_ids,
    }


def ping(event_id: str, vehicle_id: str, *, at: str = "08:05", pt=B):
    return {
        "event_id": event_id,
        "type": "gps_ping",
        "time": f"2026-03-02T{at}:00",
        "vehicle_id": vehicle_id,
        "lat": pt[0],
        "lon": pt[1],
    }


def outcome(event_id: str, vehicle_id: str, order_id: str, *, at: str = "09:30", ok=True):
    return {
        "event_id": event_id,
        "type": "stop_outcome",
        "time": f"2026-03-02T{at}:00",
        "vehicle_id": vehicle_id,
        "order_id": order_id,
        "outcome": "delivered" if ok else "failed",
    }


DAY = [
    order("e1", "ORD-1", at="07:00"),
    order("e2", "ord-2", at="07:10", pt=B),
    order("e3", "late-3", at="07:20"),
    order("e4", "x-4", at="07:30", window=("07:40", "08:10")),
    route("e5", "van-1", ["ORD-1", "late-3"]),
    route("e6", "van-ot", ["ord-2"]),
    ping("e7", "van-1"),
    outcome("e8", "van-1", "ORD-1", at="09:30"),
    outcome("e9", "van-1", "nope", at="09:31"),  # unknown order: an anomaly, still stored
]


# -- fixtures -----------------------------------------------------------------------------
def settings(data_dir: Path, **kw: Any) -> ServeSettings:
    return ServeSettings(scenario=SCENARIO, data_dir=data_dir, token=TOKEN, **kw)


@pytest.fixture
def forecaster() -> FakeForecaster:
    return FakeForecaster()


@pytest.fixture
def client(tmp_path: Path, forecaster: FakeForecaster) -> Iterator[TestClient]:
    app = create_app(settings(tmp_path / "data"), forecaster=forecaster)
    with TestClient(app) as c:
        yield c


def post(client: TestClient, body: Any, **kw: Any):
    return client.post("/events", json=body, headers=kw.pop("headers", AUTH), **kw)


def stored(client: TestClient) -> int:
    return client.get("/health").json()["events"]


# -- auth ---------------------------------------------------------------------------------
def test_writes_need_the_token(client: TestClient) -> None:
    missing = client.post("/events", json=DAY[0])
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in missing.json()["detail"]
    wrong = client.post("/events", json=DAY[0], headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    basic = client.post("/events", json=DAY[0], headers={"Authorization": "Basic abc"})
    assert basic.status_code == 401
    assert client.post("/predictions/refresh").status_code == 401
    assert stored(client) == 0


def test_reads_are_public_by_default(client: TestClient) -> None:
    for path in ("/state", "/kpis", "/vehicles", "/orders", "/predictions", "/alerts"):
        assert client.get(path).status_code == 200, path


def test_read_token_mode(tmp_path: Path, forecaster: FakeForecaster) -> None:
    app = create_app(settings(tmp_path, read_token_required=True), forecaster=forecaster)
    with TestClient(app) as c:
        for path in ("/state", "/kpis", "/vehicles", "/orders", "/alerts", "/network"):
            assert c.get(path).status_code == 401, path
            assert c.get(path, headers={"Authorization": "Bearer x"}).status_code == 403
            assert c.get(path, headers=AUTH).status_code == 200
        health = c.get("/health")
        assert health.status_code == 200
        assert health.json()["read_token_required"] is True


# -- ingestion ----------------------------------------------------------------------------
def test_single_event_and_batch(client: TestClient) -> None:
    one = post(client, DAY[0])
    assert one.status_code == 200
    assert one.json() == {"accepted": 1, "duplicates": 0, "last_seq": 1}
    batch = post(client, {"events": DAY[1:]})
    assert batch.status_code == 200
    assert batch.json() == {"accepted": len(DAY) - 1, "duplicates": 0, "last_seq": len(DAY)}
    state = client.get("/state").json()
    assert state["orders"] == 4
    assert state["orders_delivered"] == 1
    assert state["events"] == len(DAY)
    assert state["now"] == "2026-03-02T09:31:00"
    vehicles = {v["vehicle_id"]: v for v in client.get("/vehicles").json()}
    assert vehicles["van-1"]["route"] == ["late-3"]
    assert vehicles["van-1"]["delivered"] == 1
    assert vehicles["van-ot"]["lat"] is not None  # placed at its hub until it pings


def test_resend_is_idempotent(client: TestClient) -> None:
    post(client, {"events": DAY})
    digest = client.get("/health").json()["state_digest"]
    again = post(client, {"events": DAY})
    assert again.json() == {"accepted": 0, "duplicates": len(DAY), "last_seq": len(DAY)}
    mixed = post(client, {"events": [DAY[0], ping("e10", "van-1", at="09:40")]})
    assert mixed.json() == {"accepted": 1, "duplicates": 1, "last_seq": len(DAY) + 1}
    assert post(client, DAY[0]).json()["duplicates"] == 1
    health = client.get("/health").json()
    assert health["events"] == len(DAY) + 1
    assert health["state_digest"] != digest  # the new ping moved van-1 ...
    post(client, {"events": DAY})
    assert client.get("/health").json() == health  # ... and the resends changed nothing


def test_same_id_other_content_is_409_and_stores_nothing(client: TestClient) -> None:
    post(client, DAY[0])
    before = client.get("/health").json()
    changed = dict(DAY[0], lat=A[0] + 0.001)
    r = post(client, {"events": [DAY[1], changed]})
    assert r.status_code == 409
    assert "e1" in r.json()["detail"]
    assert client.get("/health").json() == before


def test_batch_with_one_invalid_event_is_refused_whole(client: TestClient) -> None:
    bad = dict(DAY[2], lat=95.0)
    r = post(client, {"events": [DAY[0], DAY[1], bad, DAY[3]]})
    assert r.status_code == 422
    locs = [e["loc"] for e in r.json()["detail"]]
    assert locs == [["body", "events", 2, "lat"]]
    missing = {k: v for k, v in DAY[1].items() if k != "order_id"}
    r = post(client, {"events": [DAY[0], missing]})
    assert [e["loc"] for e in r.json()["detail"]] == [["body", "events", 1, "order_id"]]
    assert stored(client) == 0


def test_off_map_points_are_refused_naming_lat_lon(client: TestClient) -> None:
    far = dict(DAY[0], lat=27.70)  # about 15 km north of the grid
    r = post(client, far)
    assert r.status_code == 422
    (err,) = r.json()["detail"]
    assert err["loc"] == ["body", "lat"]
    assert "lat/lon" in err["msg"]
    r = post(client, {"events": [DAY[0], ping("p", "van-1", pt=(27.56, -99.30))]})
    assert r.status_code == 422
    (err,) = r.json()["detail"]
    assert err["loc"] == ["body", "events", 1, "lat"]
    assert "from the nearest road" in err["msg"]
    hub = dict(route("r", "van-1", []), hub_id="nowhere")
    r = post(client, hub)
    assert r.json()["detail"][0]["loc"] == ["body", "hub_id"]
    assert stored(client) == 0


def test_times_out_of_range_are_422(client: TestClient) -> None:
    early = dict(DAY[0], time="0001-01-01T00:30:00+05:00")
    r = post(client, early)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "time"]
    window = dict(DAY[0], window_start="0001-01-01T00:00:00+05:00")
    assert post(client, window).status_code == 422
    assert stored(client) == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("time", 1772460000),  # a Unix timestamp
        ("time", "1772460000"),
        ("time", "2026-03-02"),  # a date without a time
        ("window_end", "2026-03-02T11:00:00\n"),
        ("parcels", "2"),
        ("parcels", 2.0),
        ("parcels", True),
        ("lat", str(A[0])),
    ],
)
def test_values_the_spec_forbids_are_422_at_their_field(
    client: TestClient, field: str, value: Any
) -> None:
    r = post(client, dict(DAY[0], **{field: value}))
    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["detail"]] == [["body", field]]
    assert stored(client) == 0


def test_times_with_and_without_offset_are_accepted(client: TestClient) -> None:
    # Minutes only, a space for the T, and an offset without a colon are ISO 8601 too.
    assert post(client, dict(DAY[0], time="2026-03-02 07:00")).status_code == 200
    assert post(client, dict(DAY[1], time="2026-03-02T13:00:00.5+0000")).status_code == 200
    assert stored(client) == 2


@pytest.mark.parametrize(
    "body",
    [
        b"{garbage",
        b"",
        b"null",
        b"[]",
        b'"x"',
        b"{}",
        b'{"events": 5}',
        b'{"events": [{}]}',
        b'{"events": [null]}',
        b'{"type": "gps_ping"}',
        b'{"type": "teleport", "event_id": "x", "time": "2026-03-02T08:00:00"}',
        b'{"a": "\\udcff"}',
        b"\xff\xfe\x00",
        b'{"event_id": "e", "type": "gps_ping", "time": "yesterday", "lat": 1e999}',
    ],
)
def test_garbage_is_a_422_not_a_500(client: TestClient, body: bytes) -> None:
    r = client.post("/events", content=body, headers={**AUTH, "content-type": "application/json"})
    # 422 with the field, or 400 for bytes that are not UTF-8 at all.
    assert r.status_code == (400 if body.startswith(b"\xff") else 422)
    assert r.json()["detail"]
    assert stored(client) == 0


def test_missing_type_and_unknown_type_name_the_field(client: TestClient) -> None:
    r = post(client, {"events": [{"event_id": "x", "time": "2026-03-02T08:00:00"}]})
    assert r.json()["detail"][0]["loc"] == ["body", "events", 0, "type"]
    r = post(client, {"event_id": "x", "type": "teleport", "time": "2026-03-02T08:00:00"})
    assert r.json()["detail"][0]["loc"][:2] == ["body", "type"]


def test_batch_limit(client: TestClient) -> None:
    many = [ping(f"p{i}", "van-1") for i in range(api_module.MAX_BATCH_EVENTS + 1)]
    r = post(client, {"events": many})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "events"]


# -- restart ------------------------------------------------------------------------------
def test_restart_rebuilds_the_same_state(tmp_path: Path, forecaster: FakeForecaster) -> None:
    data = tmp_path / "data"
    with TestClient(create_app(settings(data), forecaster=forecaster)) as first:
        for event in DAY[:4]:
            post(first, event)
        post(first, {"events": DAY[4:]})
        before = first.get("/health").json()
        orders = first.get("/orders").json()
    with TestClient(create_app(settings(data), forecaster=forecaster)) as second:
        assert second.get("/health").json() == before
        assert second.get("/orders").json() == orders
        assert post(second, {"events": DAY}).json()["duplicates"] == len(DAY)
    # ... and equal to folding the store in-process.
    app = create_app(settings(data), forecaster=forecaster)
    live = app.state.live
    fold = LiveState(live.scenario, live.network, LiveClock(live.scenario.start_date))
    with EventStore(data) as store:
        for event in store.events():
            fold.apply(event)
    assert fold.digest() == before["state_digest"]
    live.close()


# -- reads --------------------------------------------------------------------------------
def test_orders_search_and_404(client: TestClient) -> None:
    post(client, {"events": DAY})
    ids = [o["order_id"] for o in client.get("/orders").json()]
    assert ids == ["x-4", "late-3", "ord-2", "ORD-1"]  # newest first
    found = client.get("/orders", params={"q": "ord"}).json()
    assert [o["order_id"] for o in found] == ["ord-2", "ORD-1"]  # case-insensitive
    delivered = client.get("/orders", params={"status": "delivered"}).json()
    assert [o["order_id"] for o in delivered] == ["ORD-1"]
    assert len(client.get("/orders", params={"limit": 1}).json()) == 1
    assert client.get("/orders", params={"status": "lost"}).status_code == 422
    assert client.get("/orders", params={"limit": 0}).status_code == 422
    one = client.get("/orders/ORD-1").json()
    assert one["status"] == "delivered"
    assert one["delivered_on_time"] is True
    missing = client.get("/orders/ORD-999")
    assert missing.status_code == 404
    assert "ORD-999" in missing.json()["detail"]


def test_predictions_etas_kpis_and_alerts(client: TestClient) -> None:
    post(client, {"events": DAY})
    summary = client.post("/predictions/refresh", headers=AUTH)
    assert summary.status_code == 200
    s = summary.json()
    assert s["as_of_seq"] == len(DAY)
    assert s["orders"] == 2  # late-3 on van-1, ord-2 on van-ot
    assert s["predicted_late"] == 1
    assert s["overtime_risk"] == 1
    pred = client.get("/predictions").json()
    assert [o["order_id"] for o in pred["orders"]] == ["late-3", "ord-2"]
    late = client.get("/orders/late-3").json()
    assert late["eta_p50_s"] == pytest.approx(9 * 3600 + 31 * 60 + 600)
    assert late["eta_p50"] == "2026-03-02T09:41:00"
    assert late["p_miss_window"] == pytest.approx(0.9)
    assert client.get("/orders/ORD-1").json()["eta_p50_s"] is None  # delivered: no ETA
    assert client.get("/kpis").json()["predicted_late"] == 1
    vehicles = {v["vehicle_id"]: v for v in client.get("/vehicles").json()}
    assert vehicles["van-ot"]["p_overtime"] == pytest.approx(0.7)
    kinds = {(a["kind"], a["order_id"] or a["vehicle_id"]) for a in client.get("/alerts").json()}
    assert ("predicted_miss", "late-3") in kinds
    assert ("overtime_risk", "van-ot") in kinds
    assert ("unrouted_past_window", "x-4") in kinds  # window closed 08:10, never routed
    assert ("vehicle_silent", "van-ot") in kinds  # on duty since 08:00, silent until 09:31
    assert ("vehicle_silent", "van-1") not in kinds  # seen at its 09:30 stop
    assert any(
        a["kind"] == "anomaly" and "nope" in a["message"] for a in client.get("/alerts").json()
    )
    assert ("predicted_miss", "ord-2") not in kinds


def test_forecasts_run_in_the_background_on_a_copy(
    client: TestClient, forecaster: FakeForecaster
) -> None:
    post(client, {"events": DAY[:5]})
    live = client.app.state.live
    assert live.predictions.wait_idle(10)
    assert client.get("/predictions").json()["as_of_seq"] == 5
    assert forecaster.seen
    assert all(s is not live.state for s in forecaster.seen)
    # A slow forecast never holds up ingestion.
    forecaster.release = threading.Event()
    post(client, DAY[5])
    assert post(client, DAY[6]).status_code == 200
    assert stored(client) == 7
    forecaster.release.set()
    assert live.predictions.wait_idle(10)
    assert client.get("/predictions").json()["as_of_seq"] == 7


def test_state_copy_is_independent(client: TestClient) -> None:
    post(client, {"events": DAY})
    live = client.app.state.live
    copy = live.state.copy()
    assert copy.digest() == live.state.digest()
    copy.apply(parse_event(outcome("c1", "van-1", "late-3", at="10:00")))
    copy.vehicles["van-ot"].route.append("zzz")
    assert copy.digest() != live.state.digest()
    assert live.state.orders["late-3"].status == "routed"
    assert live.state.vehicles["van-ot"].route == ["ord-2"]


def test_network_polylines(client: TestClient) -> None:
    net = client.get("/network").json()
    west, south, east, north = net["bbox"]
    assert set(net["classes"]) <= set(ROAD_CLASSES)
    assert net["classes"]
    n_points = 0
    for lines in net["classes"].values():
        for line in lines:
            assert len(line) >= 4
            assert len(line) % 2 == 0
            assert all(round(x, 5) == x for x in line)
            assert all(west <= x <= east for x in line[0::2])
            assert all(south <= y <= north for y in line[1::2])
            n_points += len(line) // 2
    # Chained polylines: fewer points than two per road segment.
    live = client.app.state.live
    assert n_points < live.network.n_edges
    assert [h["hub_id"] for h in net["hubs"]] == ["depot"]
    assert net["attribution"] == live.network.meta.attribution
    assert net["synthetic"] is True


def test_osm_maps_credit_openstreetmap(client: TestClient) -> None:
    from dataclasses import replace

    live = client.app.state.live
    network = live.network
    real = replace(network.meta, synthetic=False, attribution="Roads of Laredo")
    original = network.meta
    network.meta = real
    try:
        payload = network_payload(network, live.state.hub_nodes)
    finally:
        network.meta = original
    assert "© OpenStreetMap contributors" in payload["attribution"]
    assert "Roads of Laredo" in payload["attribution"]


def test_dashboard_page_and_redirect(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = client.get("/", follow_redirects=False)
    assert root.status_code in (302, 307)
    assert root.headers["location"] == "/dashboard"
    monkeypatch.setattr(api_module, "STATIC_DIR", tmp_path / "nothing")
    missing = client.get("/dashboard")
    assert missing.status_code == 404
    assert "dashboard.html" in missing.json()["detail"]
    static = tmp_path / "static"
    static.mkdir()
    (static / "dashboard.html").write_text("<html>twin</html>")
    monkeypatch.setattr(api_module, "STATIC_DIR", static)
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "twin" in page.text


def test_static_files_404_when_missing(client: TestClient) -> None:
    assert client.get("/static/no-such-file.js").status_code == 404


def test_refresh_without_a_forecaster_is_503(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api_module, "load_forecaster", lambda *a: None)
    with TestClient(create_app(settings(tmp_path))) as c:
        r = c.post("/predictions/refresh", headers=AUTH)
        assert r.status_code == 503
        assert "forecast" in r.json()["detail"]
        assert c.get("/predictions").json()["as_of_seq"] is None


# -- start-up errors ----------------------------------------------------------------------
def test_database_url_outside_the_data_dir_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'other' / 'events.sqlite'}"
    with pytest.raises(StoreError, match="outside the data folder"):
        create_app(settings(tmp_path / "data", database_url=url), forecaster=FakeForecaster())
    assert not (tmp_path / "other" / "events.sqlite").exists()


def test_database_url_inside_the_data_dir_is_used(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'mine.db'}"
    app = create_app(settings(tmp_path, database_url=url), forecaster=FakeForecaster())
    with TestClient(app) as c:
        post(c, DAY[0])
    assert (tmp_path / "mine.db").is_file()
    assert not (tmp_path / "events.sqlite").exists()


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"timezone": "Mars/Olympus"}, "--timezone"),
        ({"token": ""}, "--token"),
        ({"samples": 0}, "--samples"),
        ({"scenario": Path("no/such.yaml")}, "does not exist"),
    ],
)
def test_bad_settings_are_twin_errors(tmp_path: Path, change: dict, match: str) -> None:
    base = {"scenario": SCENARIO, "data_dir": tmp_path, "token": TOKEN}
    with pytest.raises(TwinError, match=match):
        create_app(ServeSettings(**{**base, **change}), forecaster=FakeForecaster())


def test_serve_error_is_a_twin_error() -> None:
    assert issubclass(ServeError, TwinError)


def test_real_forecaster_through_the_api(tmp_path: Path) -> None:
    pytest.importorskip("twin.live.forecast")
    with TestClient(create_app(settings(tmp_path, samples=10))) as c:
        post(c, {"events": DAY})
        r = c.post("/predictions/refresh", headers=AUTH)
        assert r.status_code == 200
        assert r.json()["samples"] == 10
        assert r.json()["as_of_seq"] == len(DAY)
        pred = c.get("/predictions").json()
        assert {f["vehicle_id"] for f in pred["routes"]} >= {"van-1", "van-ot"}
        late = c.get("/orders/late-3").json()
        assert late["eta_p10_s"] <= late["eta_p50_s"] <= late["eta_p90_s"]
        assert 0.0 <= late["p_miss_window"] <= 1.0
        for path in ("/kpis", "/vehicles", "/alerts"):
            assert c.get(path).status_code == 200, path


def test_large_reads_are_compressed(client: TestClient) -> None:
    r = client.get("/network", headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"
    assert r.json()["classes"]
    assert "content-encoding" not in client.get("/health").headers  # small: sent as is
