"""The live twin's HTTP API (``twin serve``): ingest events, mirror the day, predict.

An operation posts its events (orders, routes, pings, outcomes) to ``POST /events``;
the server stores each one once (:mod:`twin.live.store`), folds it into the live
state (:mod:`twin.live.state`) in store order, and refreshes its Monte Carlo
forecasts in the background. Reads (``/state``, ``/orders``, ``/alerts``, ...)
show the day as the twin knows it. ``docs/live.md`` is the contract.

Design choices that the tests pin down:

- The state is only ever the fold of the store in ``seq`` order: storing and
  applying happen under one lock, and start-up replays the store, so a restarted
  server has the digest of one that never stopped.
- Nothing a sender can put in a request yields a 500: the body is validated by
  the event models, coordinates and times are checked before anything is
  stored, and every :class:`~twin.errors.TwinError` becomes a 4xx with its sentence.
- Forecasts never block ingestion: they run in one background thread, on a copy
  of the state taken under the lock.
- No endpoint takes a path; the server writes only inside its data folder.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import logging
import math
import secrets
import threading
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol
from zoneinfo import ZoneInfoNotFoundError

import numpy as np
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from twin.errors import TwinError
from twin.live.events import LiveClock, LiveEvent, RouteAssigned
from twin.live.state import LiveState
from twin.live.store import EventStore, IdempotencyConflict, StoredEvent
from twin.maps import load_network
from twin.maps.network import OSM_ATTRIBUTION, ROAD_CLASSES, RoadNetwork
from twin.scenario import Scenario, load_scenario

__all__ = [
    "MAX_BATCH_EVENTS",
    "SILENT_AFTER_S",
    "EventBatch",
    "ServeError",
    "ServeSettings",
    "create_app",
    "serve",
]

log = logging.getLogger("twin.live")

#: Largest ``{"events": [...]}`` batch accepted in one request.
MAX_BATCH_EVENTS = 5000
#: An on-duty vehicle not seen for this long (event time) raises an alert.
SILENT_AFTER_S = 15 * 60.0
#: Forecast risks at or above this are alerts (and count as ``predicted_late``).
RISK_ALERT = 0.5
#: Where the dashboard's page and assets live (written by the dashboard's author).
STATIC_DIR = Path(__file__).resolve().parent / "static"
_OPEN = ("open", "routed")
OrderStatus = Literal["open", "routed", "delivered", "failed", "cancelled"]


class ServeError(TwinError, ValueError):
    """The server cannot start with the settings given."""


@dataclass(frozen=True)
class ServeSettings:
    """What ``twin serve`` needs; the CLI fills it from its options.

    Parameters
    ----------
    scenario : Path
        Scenario file: map, hubs, fleet defaults and day 0's date.
    data_dir : Path
        The only folder the server writes to (event store).
    token : str
        Bearer token for writes (and reads with ``read_token_required``).
    read_token_required : bool
        Reads need the token too (default: reads are public).
    database_url : str, optional
        SQLAlchemy URL of the event store (default ``sqlite:///<data_dir>/events.sqlite``).
    samples : int
        Monte Carlo samples per forecast.
    timezone : str
        IANA zone of the operation: event times with an offset are converted to it.
    seed : int
        Seed of the forecasts (same events and seed, same forecast).
    forecast_interval_s : float
        Least time between the starts of two background forecasts (ingestion
        keeps the CPU in between); ``POST /predictions/refresh`` is not limited.
    """

    scenario: Path
    data_dir: Path
    token: str
    read_token_required: bool = False
    database_url: str | None = None
    samples: int = 50
    timezone: str = "America/Chicago"
    seed: int = 0
    forecast_interval_s: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "scenario", Path(self.scenario))
        object.__setattr__(self, "data_dir", Path(self.data_dir))


# -- the forecaster's interface (twin/live/forecast.py) ----------------------------------
class OrderForecastLike(Protocol):
    @property
    def order_id(self) -> str: ...
    @property
    def vehicle_id(self) -> str | None: ...
    @property
    def eta_p10_s(self) -> float: ...
    @property
    def eta_p50_s(self) -> float: ...
    @property
    def eta_p90_s(self) -> float: ...
    @property
    def p_miss_window(self) -> float: ...


class RouteForecastLike(Protocol):
    @property
    def vehicle_id(self) -> str: ...
    @property
    def stops_left(self) -> int: ...
    @property
    def return_p50_s(self) -> float: ...
    @property
    def return_p90_s(self) -> float: ...
    @property
    def p_overtime(self) -> float: ...


class ForecastLike(Protocol):
    @property
    def as_of_s(self) -> float: ...
    @property
    def elapsed_s(self) -> float: ...
    @property
    def samples(self) -> int: ...
    @property
    def orders(self) -> Mapping[str, OrderForecastLike]: ...
    @property
    def routes(self) -> Mapping[str, RouteForecastLike]: ...


class ForecasterLike(Protocol):
    """What the server needs from :class:`twin.live.forecast.Forecaster`."""

    def predict(self, state: LiveState) -> ForecastLike: ...


# -- request and response models ---------------------------------------------------------
class EventBatch(BaseModel):
    """Several events in one request; stored all or none."""

    model_config = ConfigDict(extra="forbid")

    events: Annotated[list[LiveEvent], Field(max_length=MAX_BATCH_EVENTS)]


def _body_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        return "batch" if "events" in value else "event"
    if isinstance(value, EventBatch):
        return "batch"
    return "event" if isinstance(value, BaseModel) else None


EventsBody = Annotated[
    Annotated[LiveEvent, Tag("event")] | Annotated[EventBatch, Tag("batch")],
    Discriminator(_body_kind),
]
_BODY_TAGS = {"event", "batch"}
_EVENT_TAGS = {
    "order_created",
    "order_cancelled",
    "route_assigned",
    "gps_ping",
    "stop_outcome",
    "driver_status",
}


class Message(BaseModel):
    detail: str


class EventsAccepted(BaseModel):
    accepted: int
    duplicates: int
    last_seq: int


class Health(BaseModel):
    status: Literal["ok"]
    events: int
    state_digest: str
    read_token_required: bool


class Kpis(BaseModel):
    on_time_rate: float | None
    first_attempt_success_rate: float | None
    open_orders: int
    predicted_late: int | None
    now: str | None


class OrderOut(BaseModel):
    order_id: str
    lat: float
    lon: float
    node: int
    created_s: float
    window_start_s: float
    window_end_s: float
    option: str
    parcels: int
    status: str
    vehicle_id: str | None
    attempts: int
    arrived_s: float | None
    delivered_s: float | None
    delivered_on_time: bool | None
    first_attempt_ok: bool | None


class OrderDetail(OrderOut):
    eta_p10_s: float | None
    eta_p50_s: float | None
    eta_p90_s: float | None
    eta_p10: str | None
    eta_p50: str | None
    eta_p90: str | None
    p_miss_window: float | None


class VehicleOut(BaseModel):
    vehicle_id: str
    driver_id: str | None
    hub_id: str
    status: str
    lat: float | None
    lon: float | None
    seen_s: float | None
    route: list[str]
    delivered: int
    failed: int
    p_overtime: float | None
    return_p50_s: float | None


class OrderForecastOut(BaseModel):
    order_id: str
    vehicle_id: str | None
    eta_p10_s: float | None
    eta_p50_s: float | None
    eta_p90_s: float | None
    p_miss_window: float | None


class RouteForecastOut(BaseModel):
    vehicle_id: str
    stops_left: int
    return_p50_s: float | None
    return_p90_s: float | None
    p_overtime: float | None


class PredictionsOut(BaseModel):
    as_of_seq: int | None
    as_of_s: float | None
    elapsed_s: float | None
    samples: int | None
    orders: list[OrderForecastOut]
    routes: list[RouteForecastOut]


class RefreshSummary(BaseModel):
    as_of_seq: int
    as_of_s: float | None
    elapsed_s: float | None
    samples: int
    orders: int
    routes: int
    predicted_late: int
    overtime_risk: int


class Alert(BaseModel):
    severity: Literal["critical", "warning", "info"]
    kind: str
    message: str
    order_id: str | None
    vehicle_id: str | None
    time_s: float | None


class HubOut(BaseModel):
    hub_id: str
    node: int
    lat: float
    lon: float


class NetworkOut(BaseModel):
    name: str
    synthetic: bool
    bbox: list[float]
    classes: dict[str, list[list[float]]]
    hubs: list[HubOut]
    attribution: str


# -- forecasts ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _ForecastView:
    """A forecast turned into plain data once, so reads never touch the forecaster's objects."""

    as_of_seq: int
    as_of_s: float | None
    elapsed_s: float | None
    samples: int
    orders: dict[str, dict[str, Any]]
    routes: dict[str, dict[str, Any]]

    @classmethod
    def of(cls, forecast: ForecastLike, seq: int) -> _ForecastView:
        orders = {
            str(k): {
                "order_id": str(f.order_id),
                "vehicle_id": None if f.vehicle_id is None else str(f.vehicle_id),
                "eta_p10_s": _num(f.eta_p10_s),
                "eta_p50_s": _num(f.eta_p50_s),
                "eta_p90_s": _num(f.eta_p90_s),
                "p_miss_window": _num(f.p_miss_window),
            }
            for k, f in forecast.orders.items()
        }
        routes = {
            str(k): {
                "vehicle_id": str(r.vehicle_id),
                "stops_left": int(r.stops_left),
                "return_p50_s": _num(r.return_p50_s),
                "return_p90_s": _num(r.return_p90_s),
                "p_overtime": _num(r.p_overtime),
            }
            for k, r in forecast.routes.items()
        }
        return cls(
            seq,
            _num(forecast.as_of_s),
            _num(forecast.elapsed_s),
            int(forecast.samples),
            orders,
            routes,
        )


class _Predictions:
    """Runs forecasts one at a time, in a background thread, on copies of the state."""

    def __init__(
        self, live: _LiveTwin, forecaster: ForecasterLike | None, *, min_interval_s: float
    ) -> None:
        self.live = live
        self.forecaster = forecaster
        self.min_interval_s = min_interval_s
        self._last_start = -math.inf
        self._last_failure: str | None = None
        self.latest: _ForecastView | None = None
        self.error: str | None = None
        self._predict_lock = threading.Lock()
        # ``_pending``: events arrived since the last forecast began; ``_running``: one runs.
        self._cond = threading.Condition()
        self._pending = False
        self._running = False
        self._stopped = False
        self._thread: threading.Thread | None = None

    def request(self) -> None:
        """Ask for a forecast of the current state; returns at once."""
        if self.forecaster is None:
            return
        with self._cond:
            if self._stopped:
                return
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="twin-forecast", daemon=True)
                self._thread.start()
            self._pending = True
            self._cond.notify_all()

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until no forecast is pending or running (for tests and the load experiment)."""
        with self._cond:
            return self._cond.wait_for(lambda: not (self._pending or self._running), timeout_s)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._stopped)
                if self._stopped:
                    return
                # At most one forecast start per interval: under a steady feed the copy
                # and the forecast would otherwise run back to back, taking the lock and
                # the GIL from ingestion.
                gap_s = self._last_start + self.min_interval_s - time.monotonic()
                if gap_s > 0 and self._cond.wait_for(lambda: self._stopped, gap_s):
                    return
                # Events arriving while this forecast runs set ``_pending`` again: one more run.
                self._pending, self._running = False, True
                self._last_start = time.monotonic()
            try:
                self.refresh(skip_if_current=True)
            except Exception as exc:
                message = f"{type(exc).__name__}: {exc}"
                if message != self._last_failure:  # a traceback once, not per event
                    log.exception("background forecast failed; keeping the previous one")
                self._last_failure = message
            else:
                self._last_failure = None
            finally:
                with self._cond:
                    self._running = False
                    self._cond.notify_all()

    def refresh(self, *, skip_if_current: bool = False) -> _ForecastView:
        """Forecast the state as it is now (waits for a running forecast first)."""
        if self.forecaster is None:
            raise ForecastUnavailableError(
                "forecasts are unavailable: twin.live.forecast could not be loaded; "
                "install twin with its live extra."
            )
        with self._predict_lock:
            state, seq = self.live.state_copy()
            latest = self.latest
            if skip_if_current and latest is not None and latest.as_of_seq == seq:
                return latest
            started = time.perf_counter()
            try:
                forecast = self.forecaster.predict(state)
            except Exception as exc:
                self.error = f"{type(exc).__name__}: {exc}"
                raise
            view = _ForecastView.of(forecast, seq)
            self.latest, self.error = view, None
            log.info(
                "forecast of seq %d: %d orders, %d routes in %.2f s",
                seq,
                len(view.orders),
                len(view.routes),
                time.perf_counter() - started,
            )
            return view

    def stop(self) -> None:
        """Stop the background thread (a forecast in progress finishes first)."""
        with self._cond:
            self._stopped, self._pending = True, False
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=60)


class ForecastUnavailableError(TwinError, RuntimeError):
    """No forecaster is available in this installation."""


# -- the live twin: store + state under one lock ----------------------------------------
class _LiveTwin:
    def __init__(
        self,
        settings: ServeSettings,
        scenario: Scenario,
        network: RoadNetwork,
        store: EventStore,
        clock: LiveClock,
        forecaster: ForecasterLike | None,
    ) -> None:
        self.settings = settings
        self.scenario = scenario
        self.network = network
        self.store = store
        self.clock = clock
        self.lock = threading.Lock()
        self.state = LiveState(scenario, network, clock)
        self.last_seq = 0
        self._digest: str | None = None
        for record in store.records():
            self.state.apply(record.event)
            self.last_seq = record.seq
        self.predictions = _Predictions(
            self, forecaster, min_interval_s=settings.forecast_interval_s
        )
        self._network_json: bytes | None = None

    # writes
    def ingest(self, events: Sequence[Any]) -> EventsAccepted:
        with self.lock:
            result, new = self.store.append_new(events)
            self._apply(new)
            self.last_seq = max(self.last_seq, result.last_seq)
        if new:
            self.predictions.request()
        return EventsAccepted(
            accepted=result.accepted, duplicates=result.duplicates, last_seq=result.last_seq
        )

    def _apply(self, new: list[StoredEvent]) -> None:
        for record in new:
            self.state.apply(record.event)
            self.last_seq = record.seq
        if new:
            self._digest = None

    # reads
    def digest(self) -> str:
        """State digest, computed at most once per change (call under the lock)."""
        if self._digest is None:
            self._digest = self.state.digest()
        return self._digest

    def state_copy(self) -> tuple[LiveState, int]:
        with self.lock:
            return self.state.copy(), self.last_seq

    def iso(self, time_s: float | None) -> str | None:
        if time_s is None or not math.isfinite(time_s):
            return None
        try:
            return self.clock.datetime(time_s).isoformat()
        except (OverflowError, ValueError):
            return None

    def admission_errors(self, events: Sequence[Any], *, batch: bool) -> list[dict[str, Any]]:
        """Stateless checks beyond the models: times the clock can place, points on the map."""
        errors: list[dict[str, Any]] = []
        for i, event in enumerate(events):
            loc: list[str | int] = ["body", "events", i] if batch else ["body"]
            for name in type(event).model_fields:
                value = getattr(event, name)
                if isinstance(value, dt.datetime):
                    try:
                        self.clock.seconds(value)
                    except (OverflowError, ValueError):
                        errors.append(
                            {
                                "type": "value_error",
                                "loc": [*loc, name],
                                "msg": f"{name} {value.isoformat()} cannot be converted to the "
                                f"twin's time zone ({self.settings.timezone}); send a time "
                                "within years 2 to 9998",
                                "input": value.isoformat(),
                            }
                        )
            problem = self.state.location_problem(event)
            if problem is not None:
                name = "hub_id" if isinstance(event, RouteAssigned) else "lat"
                errors.append(
                    {
                        "type": "value_error",
                        "loc": [*loc, name],
                        "msg": problem,
                        "input": getattr(event, name),
                    }
                )
        return errors

    def network_json(self) -> bytes:
        if self._network_json is None:
            payload = NetworkOut.model_validate(network_payload(self.network, self.state.hub_nodes))
            self._network_json = payload.model_dump_json().encode()
        return self._network_json

    def close(self) -> None:
        self.predictions.stop()
        self.store.close()


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


# -- helpers -----------------------------------------------------------------------------
def _num(x: Any) -> float | None:
    """A JSON-safe number: None for missing or non-finite values."""
    if x is None:
        return None
    value = float(x)
    return value if math.isfinite(value) else None


def _clean_loc(loc: Sequence[Any]) -> list[Any]:
    """Drop pydantic's union tags from an error location: ``["body", "events", 3, "lat"]``."""
    out: list[Any] = []
    for i, part in enumerate(loc):
        if i == 1 and out == ["body"] and part in _BODY_TAGS:
            continue
        if part in _EVENT_TAGS and out and (out[-1] == "body" or isinstance(out[-1], int)):
            continue
        out.append(part)
    return out


def _load_forecaster(
    scenario: Scenario, network: RoadNetwork, settings: ServeSettings
) -> ForecasterLike | None:
    try:
        module = importlib.import_module("twin.live.forecast")
    except ModuleNotFoundError as exc:
        if exc.name != "twin.live.forecast":
            raise
        log.warning("twin.live.forecast is not available: serving without predictions")
        return None
    forecaster: ForecasterLike = module.Forecaster(
        scenario, network, samples=settings.samples, seed=settings.seed
    )
    return forecaster


# -- the app -----------------------------------------------------------------------------
def create_app(settings: ServeSettings, *, forecaster: ForecasterLike | None = None) -> FastAPI:
    """Build the API: load the scenario and map, open the store, replay it into the state.

    Parameters
    ----------
    settings : ServeSettings
    forecaster : optional
        Anything with ``predict(state) -> Forecast`` (tests pass a fake); default:
        :class:`twin.live.forecast.Forecaster` on the scenario and map.

    Raises
    ------
    TwinError
        For a bad scenario, map, time zone, token or store URL: before serving anything.
    """
    if not settings.token:
        raise ServeError("--token is empty; give the bearer token senders will use.")
    if settings.samples < 1:
        raise ServeError(f"--samples {settings.samples} must be at least 1.")
    if not settings.forecast_interval_s >= 0:
        raise ServeError(
            f"forecast_interval_s {settings.forecast_interval_s} must be 0 or more seconds."
        )
    scenario = load_scenario(settings.scenario)
    network = load_network(scenario.map.ref, network_type=scenario.map.network_type)
    try:
        clock = LiveClock(scenario.start_date, timezone=settings.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ServeError(
            f"--timezone {settings.timezone!r} is not an IANA time zone; use e.g. America/Chicago."
        ) from exc
    store = EventStore(settings.data_dir, settings.database_url)
    try:
        if forecaster is None:
            forecaster = _load_forecaster(scenario, network, settings)
        live = _LiveTwin(settings, scenario, network, store, clock, forecaster)
    except BaseException:
        store.close()
        raise
    log.info("replayed %d stored events; state %s", live.last_seq, live.digest()[:12])

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if live.last_seq:
            live.predictions.request()
        yield
        live.close()

    app = FastAPI(
        title="twin live",
        summary="Digital twin of a last-mile delivery day: ingest events, mirror, predict.",
        version="1",
        lifespan=lifespan,
    )
    app.state.live = live
    # The network payload is most of a dashboard's first load (0.7 MB for Laredo).
    app.add_middleware(GZipMiddleware, minimum_size=4096)
    _add_error_handlers(app)

    auth_responses: dict[int | str, dict[str, Any]] = {
        401: {"model": Message, "description": "No bearer token."},
        403: {"model": Message, "description": "Wrong bearer token."},
    }
    write: dict[str, Any] = {
        "dependencies": [Depends(require_token)],
        "responses": dict(auth_responses),
    }
    read: dict[str, Any] = (
        {"dependencies": [Depends(require_token)], "responses": dict(auth_responses)}
        if settings.read_token_required
        else {"dependencies": [], "responses": {}}
    )

    @app.post(
        "/events",
        response_model=EventsAccepted,
        dependencies=write["dependencies"],
        responses={
            **write["responses"],
            400: {"model": Message, "description": "The body is not UTF-8 JSON text."},
            409: {"model": Message, "description": "An event_id resent with other content."},
        },
        tags=["events"],
    )
    def post_events(body: EventsBody) -> EventsAccepted:
        """Store and apply one event or a batch (all or nothing; resends are duplicates)."""
        batch = isinstance(body, EventBatch)
        events: list[Any] = list(body.events) if isinstance(body, EventBatch) else [body]
        errors = live.admission_errors(events, batch=batch)
        if errors:
            raise RequestValidationError(errors)
        return live.ingest(events)

    @app.get("/health", response_model=Health, tags=["reads"])
    def health() -> Health:
        """Liveness, the number of stored events and the state digest (always public)."""
        with live.lock:
            return Health(
                status="ok",
                events=live.last_seq,
                state_digest=live.digest(),
                read_token_required=settings.read_token_required,
            )

    @app.get("/state", response_model=dict[str, Any], tags=["reads"], **read)
    def get_state() -> dict[str, Any]:
        """Today so far: ``LiveState.kpis()`` with ``now`` and ``state_digest``."""
        with live.lock:
            out = dict(live.state.kpis())
            out["now"] = live.iso(out.get("now_s"))
            out["state_digest"] = live.digest()
            out["events"] = live.last_seq
        return jsonable_encoder({k: _json_safe(v) for k, v in out.items()})

    @app.get("/kpis", response_model=Kpis, tags=["reads"], **read)
    def get_kpis() -> Kpis:
        """The dashboard's tiles."""
        forecast = live.predictions.latest
        with live.lock:
            k = live.state.kpis()
            predicted_late = None
            if forecast is not None:
                predicted_late = sum(
                    1
                    for oid, o in live.state.orders.items()
                    if o.status in _OPEN and _risky(forecast.orders.get(oid), "p_miss_window")
                )
            return Kpis(
                on_time_rate=_num(k["on_time_rate"]),
                first_attempt_success_rate=_num(k["first_attempt_success_rate"]),
                open_orders=int(k["open_orders"]),
                predicted_late=predicted_late,
                now=live.iso(k["now_s"]),
            )

    @app.get("/vehicles", response_model=list[VehicleOut], tags=["reads"], **read)
    def get_vehicles() -> list[VehicleOut]:
        """Every vehicle the events mention, with its position and forecast risks."""
        forecast = live.predictions.latest
        out = []
        with live.lock:
            for vid in sorted(live.state.vehicles):
                v = live.state.vehicles[vid]
                lat, lon = v.lat, v.lon
                if lat is None and v.node is not None:
                    lat, lon = float(network.lat[v.node]), float(network.lon[v.node])
                route = forecast.routes.get(vid) if forecast else None
                out.append(
                    VehicleOut(
                        vehicle_id=vid,
                        driver_id=v.driver_id,
                        hub_id=v.hub_id,
                        status=v.status,
                        lat=lat,
                        lon=lon,
                        seen_s=_num(v.seen_s),
                        route=list(v.route),
                        delivered=v.delivered,
                        failed=v.failed,
                        p_overtime=route["p_overtime"] if route else None,
                        return_p50_s=route["return_p50_s"] if route else None,
                    )
                )
        return out

    @app.get("/orders", response_model=list[OrderOut], tags=["reads"], **read)
    def search_orders(
        q: Annotated[str, Query(max_length=128, description="Part of the order id.")] = "",
        status: Annotated[OrderStatus | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[OrderOut]:
        """Orders whose id contains ``q`` (case-insensitive), newest first."""
        needle = q.casefold()
        with live.lock:
            found = [
                o
                for o in live.state.orders.values()
                if needle in o.order_id.casefold() and (status is None or o.status == status)
            ]
            found.sort(key=lambda o: (o.created_s, o.order_id), reverse=True)
            return [OrderOut(**_finite_dict(asdict(o))) for o in found[:limit]]

    @app.get(
        "/orders/{order_id}",
        response_model=OrderDetail,
        responses={**read["responses"], 404: {"model": Message, "description": "Unknown order."}},
        tags=["reads"],
        dependencies=read["dependencies"],
    )
    def get_order(order_id: Annotated[str, PathParam(max_length=128)]) -> OrderDetail:
        """One order with its forecast ETA (p10/p50/p90) and window-miss risk."""
        forecast = live.predictions.latest
        with live.lock:
            order = live.state.orders.get(order_id)
            if order is None:
                raise HTTPException(
                    404, f"order {order_id!r} is unknown; search with GET /orders?q=..."
                )
            data = _finite_dict(asdict(order))
        f = forecast.orders.get(order_id) if forecast and data["status"] in _OPEN else None
        etas: dict[str, Any] = {
            key: (f[key] if f else None)
            for key in ("eta_p10_s", "eta_p50_s", "eta_p90_s", "p_miss_window")
        }
        return OrderDetail(
            **data,
            **etas,
            eta_p10=live.iso(etas["eta_p10_s"]),
            eta_p50=live.iso(etas["eta_p50_s"]),
            eta_p90=live.iso(etas["eta_p90_s"]),
        )

    @app.get("/predictions", response_model=PredictionsOut, tags=["predictions"], **read)
    def get_predictions() -> PredictionsOut:
        """The latest forecast (empty until the first one has run)."""
        f = live.predictions.latest
        if f is None:
            return PredictionsOut(
                as_of_seq=None, as_of_s=None, elapsed_s=None, samples=None, orders=[], routes=[]
            )
        return PredictionsOut(
            as_of_seq=f.as_of_seq,
            as_of_s=f.as_of_s,
            elapsed_s=f.elapsed_s,
            samples=f.samples,
            orders=[OrderForecastOut(**f.orders[k]) for k in sorted(f.orders)],
            routes=[RouteForecastOut(**f.routes[k]) for k in sorted(f.routes)],
        )

    @app.post(
        "/predictions/refresh",
        response_model=RefreshSummary,
        dependencies=write["dependencies"],
        responses={
            **write["responses"],
            503: {"model": Message, "description": "No forecaster in this installation."},
        },
        tags=["predictions"],
    )
    def refresh_predictions() -> RefreshSummary:
        """Forecast the current state now and summarise it."""
        f = live.predictions.refresh()
        return RefreshSummary(
            as_of_seq=f.as_of_seq,
            as_of_s=f.as_of_s,
            elapsed_s=f.elapsed_s,
            samples=f.samples,
            orders=len(f.orders),
            routes=len(f.routes),
            predicted_late=sum(_risky(o, "p_miss_window") for o in f.orders.values()),
            overtime_risk=sum(_risky(r, "p_overtime") for r in f.routes.values()),
        )

    @app.get("/alerts", response_model=list[Alert], tags=["reads"], **read)
    def get_alerts() -> list[Alert]:
        """What needs attention: anomalies, predicted misses, overtime risk, silence."""
        forecast = live.predictions.latest
        with live.lock:
            return alerts(live.state, forecast)

    @app.get(
        "/network",
        response_model=NetworkOut,
        response_class=Response,
        responses={**read["responses"], 200: {"content": {"application/json": {}}}},
        dependencies=read["dependencies"],
        tags=["reads"],
    )
    def get_network() -> Response:
        """The road network as polylines per road class, the hubs and the map's credit line."""
        return Response(live.network_json(), media_type="application/json")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/dashboard")

    @app.get("/dashboard", include_in_schema=False, response_model=None)
    def dashboard() -> FileResponse | JSONResponse:
        page = STATIC_DIR / "dashboard.html"
        if not page.is_file():
            return JSONResponse(
                {"detail": "the dashboard page (twin/live/static/dashboard.html) is not installed"},
                status_code=404,
            )
        return FileResponse(page, media_type="text/html")

    app.mount("/static", _StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
    return app


_BEARER = HTTPBearer(auto_error=False, description="The server's --token.")


def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
) -> None:
    """401 without a bearer token, 403 with a wrong one (compared in constant time)."""
    if credentials is None or not credentials.credentials:
        raise HTTPException(
            401,
            "this endpoint needs the header Authorization: Bearer <token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    live: _LiveTwin = request.app.state.live
    token = live.settings.token.encode()
    if not secrets.compare_digest(credentials.credentials.encode(), token):
        raise HTTPException(403, "the bearer token is wrong; use the server's --token")


class _StaticFiles(StaticFiles):
    """StaticFiles that answers 404 (not 500) while the static folder does not exist."""

    async def check_config(self) -> None:
        if self.directory is not None and not Path(self.directory).is_dir():
            return
        await super().check_config()


def _risky(item: Mapping[str, Any] | None, key: str) -> bool:
    value = item.get(key) if item else None
    return value is not None and value >= RISK_ALERT


def _finite_dict(data: dict[str, Any]) -> dict[str, Any]:
    return {k: (_num(v) if isinstance(v, float) else v) for k, v in data.items()}


def _json_safe(value: Any) -> Any:
    return _num(value) if isinstance(value, float) else value


_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


def alerts(state: LiveState, forecast: _ForecastView | None) -> list[Alert]:
    """The alerts for a state and its latest forecast, most severe first."""
    out: list[Alert] = []
    now_s = state.now_s if math.isfinite(state.now_s) else None
    for a in state.anomalies:
        out.append(
            Alert(
                severity="warning",
                kind="anomaly",
                message=f"{a['what']} (event {a['event_id']})",
                order_id=None,
                vehicle_id=None,
                time_s=_num(a["time_s"]),
            )
        )
    for oid in sorted(state.orders):
        o = state.orders[oid]
        f = forecast.orders.get(oid) if forecast else None
        if o.status in _OPEN and f is not None and _risky(f, "p_miss_window"):
            p = f["p_miss_window"]
            out.append(
                Alert(
                    severity="critical" if p >= 0.8 else "warning",
                    kind="predicted_miss",
                    message=f"order {oid} will likely miss its window (risk {p:.0%})",
                    order_id=oid,
                    vehicle_id=o.vehicle_id,
                    time_s=f["eta_p50_s"],
                )
            )
        if o.status == "open" and now_s is not None and now_s > o.window_end_s:
            out.append(
                Alert(
                    severity="warning",
                    kind="unrouted_past_window",
                    message=f"order {oid} is on no route and its window has closed",
                    order_id=oid,
                    vehicle_id=None,
                    time_s=_num(o.window_end_s),
                )
            )
    for vid in sorted(state.vehicles):
        v = state.vehicles[vid]
        r = forecast.routes.get(vid) if forecast else None
        if r is not None and _risky(r, "p_overtime"):
            out.append(
                Alert(
                    severity="warning",
                    kind="overtime_risk",
                    message=f"vehicle {vid} will likely work overtime "
                    f"(risk {r['p_overtime']:.0%}, {r['stops_left']} stops left)",
                    order_id=None,
                    vehicle_id=vid,
                    time_s=r["return_p50_s"],
                )
            )
        last_s = v.seen_s if v.seen_s is not None else v.on_duty_s
        if (
            v.status == "on_duty"
            and now_s is not None
            and last_s is not None
            and now_s - last_s >= SILENT_AFTER_S
        ):
            out.append(
                Alert(
                    severity="warning",
                    kind="vehicle_silent",
                    message=f"vehicle {vid} is on duty and has not been seen for "
                    f"{(now_s - last_s) / 60:.0f} min",
                    order_id=None,
                    vehicle_id=vid,
                    time_s=_num(last_s),
                )
            )
    out.sort(key=lambda a: (_SEVERITY_ORDER[a.severity], -(a.time_s or 0.0)))
    return out


class _AsciiJSON(JSONResponse):
    """JSON with non-ASCII escaped: error bodies echo the sender's input, which may hold
    lone surrogates that cannot be encoded as UTF-8 (a 500 otherwise)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(
            _finite_json(content), ensure_ascii=True, allow_nan=False, separators=(",", ":")
        ).encode("ascii")


def _finite_json(value: Any) -> Any:
    """Echoed input may hold inf/nan (``1e999``), which JSON cannot carry: send them as text."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_json(v) for v in value]
    return value


def _add_error_handlers(app: FastAPI) -> None:
    async def validation(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = []
        for err in exc.errors():
            err = dict(err)
            err["loc"] = _clean_loc(err.get("loc", ()))
            err.pop("url", None)
            if isinstance(err.get("ctx"), dict):
                err["ctx"] = {
                    k: str(v) if isinstance(v, Exception) else v for k, v in err["ctx"].items()
                }
            kind = err.get("type")
            if kind in ("union_tag_not_found", "union_tag_invalid"):
                if err.get("ctx", {}).get("discriminator") == "'type'":
                    err["loc"] = [*err["loc"], "type"]
                    what = "missing" if kind == "union_tag_not_found" else "unknown"
                    err["msg"] = f"type is {what}; use one of {', '.join(sorted(_EVENT_TAGS))}"
                else:
                    err["msg"] = 'the body must be one event object or {"events": [...]}'
            errors.append(err)
        return _AsciiJSON({"detail": jsonable_encoder(errors)}, status_code=422)

    async def conflict(_request: Request, exc: Exception) -> JSONResponse:
        return _AsciiJSON({"detail": str(exc)}, status_code=409)

    async def unavailable(_request: Request, exc: Exception) -> JSONResponse:
        return _AsciiJSON({"detail": str(exc)}, status_code=503)

    async def twin_error(_request: Request, exc: Exception) -> JSONResponse:
        return _AsciiJSON({"detail": str(exc)}, status_code=400)

    async def overflow(_request: Request, exc: Exception) -> JSONResponse:
        # A date near year 1 or 9999 with an offset overflows when converted (in the
        # event models' own checks too); it is the sender's input, so a 422.
        return _AsciiJSON(
            {
                "detail": [
                    {
                        "type": "value_error",
                        "loc": ["body"],
                        "msg": f"a date or time in the request is out of range ({exc}); "
                        "send times within years 2 to 9998",
                    }
                ]
            },
            status_code=422,
        )

    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(IdempotencyConflict, conflict)
    app.add_exception_handler(ForecastUnavailableError, unavailable)
    app.add_exception_handler(TwinError, twin_error)
    app.add_exception_handler(OverflowError, overflow)


def serve(
    settings: ServeSettings,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    log_level: str = "info",
    access_log: bool = True,
) -> None:
    """Build the app and serve it with uvicorn until interrupted.

    Raises
    ------
    TwinError
        If the app cannot be built (see :func:`create_app`), before listening.
    """
    import uvicorn

    app = create_app(settings)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=access_log)
