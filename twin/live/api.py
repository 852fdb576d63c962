"""The live twin's HTTP API (``twin serve``): ingest events, mirror the day, predict.

An operation posts its events (orders, routes, pings, outcomes) to ``POST /events``;
the server stores each one once (:mod:`twin.live.store`), folds it into the live
state (:mod:`twin.live.state`) in store order, and refreshes its Monte Carlo
forecasts in the background. Reads (``/state``, ``/orders``, ``/alerts``, ...)
show the day as the twin knows it. ``docs/reference/live-api.md`` is the contract.

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

import json
import logging
import math
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfoNotFoundError

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles

from twin.errors import TwinError
from twin.live.events import LiveClock
from twin.live.schemas import (
    BODY_TAGS,
    EVENT_TAGS,
    MAX_BATCH_EVENTS,
    Alert,
    EventBatch,
    EventsAccepted,
    EventsBody,
    ForecasterLike,
    Health,
    Kpis,
    Message,
    NetworkOut,
    OrderDetail,
    OrderForecastOut,
    OrderOut,
    OrderStatus,
    PredictionsOut,
    RefreshSummary,
    RouteForecastOut,
    VehicleOut,
    json_num,
)
from twin.live.service import (
    OPEN_STATUSES,
    SILENT_AFTER_S,
    ForecastUnavailableError,
    LiveTwin,
    ServeSettings,
    alerts,
    load_forecaster,
    risky,
)
from twin.live.store import EventStore, IdempotencyConflict
from twin.maps import load_network
from twin.scenario import load_scenario

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

#: Where the dashboard's page and assets live (written by the dashboard's author).
STATIC_DIR = Path(__file__).resolve().parent / "static"


class ServeError(TwinError, ValueError):
    """The server cannot start with the settings given."""


# -- helpers -----------------------------------------------------------------------------
def _clean_loc(loc: Sequence[Any]) -> list[Any]:
    """Drop pydantic's union tags from an error location: ``["body", "events", 3, "lat"]``."""
    out: list[Any] = []
    for i, part in enumerate(loc):
        if i == 1 and out == ["body"] and part in BODY_TAGS:
            continue
        if part in EVENT_TAGS and out and (out[-1] == "body" or isinstance(out[-1], int)):
            continue
        out.append(part)
    return out


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
            forecaster = load_forecaster(scenario, network, settings)
        live = LiveTwin(settings, scenario, network, store, clock, forecaster)
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

    _add_event_routes(app, live, write)
    _add_fleet_routes(app, live, read)
    _add_order_routes(app, live, read)
    _add_prediction_routes(app, live, read, write)
    _add_map_routes(app, live, read)
    _add_pages(app)
    return app


# -- routes, in the order the OpenAPI spec lists them ------------------------------------
# ``read``/``write``: the dependencies and documented auth responses of each kind of route.
def _add_event_routes(app: FastAPI, live: LiveTwin, write: dict[str, Any]) -> None:
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


def _add_fleet_routes(app: FastAPI, live: LiveTwin, read: dict[str, Any]) -> None:
    @app.get("/health", response_model=Health, tags=["reads"])
    def health() -> Health:
        """Liveness, the number of stored events and the state digest (always public)."""
        with live.lock:
            return Health(
                status="ok",
                events=live.last_seq,
                state_digest=live.digest(),
                read_token_required=live.settings.read_token_required,
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
                    if o.status in OPEN_STATUSES
                    and risky(forecast.orders.get(oid), "p_miss_window")
                )
            return Kpis(
                on_time_rate=json_num(k["on_time_rate"]),
                first_attempt_success_rate=json_num(k["first_attempt_success_rate"]),
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
                    lat, lon = float(live.network.lat[v.node]), float(live.network.lon[v.node])
                route = forecast.routes.get(vid) if forecast else None
                out.append(
                    VehicleOut(
                        vehicle_id=vid,
                        driver_id=v.driver_id,
                        hub_id=v.hub_id,
                        status=v.status,
                        lat=lat,
                        lon=lon,
                        seen_s=json_num(v.seen_s),
                        route=list(v.route),
                        delivered=v.delivered,
                        failed=v.failed,
                        p_overtime=route["p_overtime"] if route else None,
                        return_p50_s=route["return_p50_s"] if route else None,
                    )
                )
        return out


def _add_order_routes(app: FastAPI, live: LiveTwin, read: dict[str, Any]) -> None:
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
        f = forecast.orders.get(order_id) if forecast and data["status"] in OPEN_STATUSES else None
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


def _add_prediction_routes(
    app: FastAPI, live: LiveTwin, read: dict[str, Any], write: dict[str, Any]
) -> None:
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
            predicted_late=sum(risky(o, "p_miss_window") for o in f.orders.values()),
            overtime_risk=sum(risky(r, "p_overtime") for r in f.routes.values()),
        )


def _add_map_routes(app: FastAPI, live: LiveTwin, read: dict[str, Any]) -> None:
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


def _add_pages(app: FastAPI) -> None:
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
    live: LiveTwin = request.app.state.live
    token = live.settings.token.encode()
    if not secrets.compare_digest(credentials.credentials.encode(), token):
        raise HTTPException(403, "the bearer token is wrong; use the server's --token")


class _StaticFiles(StaticFiles):
    """StaticFiles that answers 404 (not 500) while the static folder does not exist."""

    async def check_config(self) -> None:
        if self.directory is not None and not Path(self.directory).is_dir():
            return
        await super().check_config()


def _finite_dict(data: dict[str, Any]) -> dict[str, Any]:
    return {k: (json_num(v) if isinstance(v, float) else v) for k, v in data.items()}


def _json_safe(value: Any) -> Any:
    return json_num(value) if isinstance(value, float) else value


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
                    err["msg"] = f"type is {what}; use one of {', '.join(sorted(EVENT_TAGS))}"
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
