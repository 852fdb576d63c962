"""The live twin behind the API: the event store and the live state under one lock.

Design choices that the tests pin down:

- The state is only ever the fold of the store in ``seq`` order: storing and
  applying happen under one lock, and start-up replays the store, so a restarted
  server has the digest of one that never stopped.
- Forecasts never block ingestion: they run in one background thread, on a copy
  of the state taken under the lock.

:mod:`twin.live.api` builds one :class:`LiveTwin` per app and serves it over HTTP.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twin.errors import TwinError
from twin.live.events import LiveClock, RouteAssigned
from twin.live.geometry import network_payload
from twin.live.schemas import (
    Alert,
    EventsAccepted,
    ForecasterLike,
    ForecastLike,
    NetworkOut,
    json_num,
)
from twin.live.state import LiveState
from twin.live.store import EventStore, StoredEvent
from twin.maps.network import RoadNetwork
from twin.scenario import Scenario

__all__ = [
    "OPEN_STATUSES",
    "RISK_ALERT",
    "SILENT_AFTER_S",
    "ForecastUnavailableError",
    "ForecastView",
    "LiveTwin",
    "Predictions",
    "ServeSettings",
    "alerts",
    "load_forecaster",
    "risky",
]


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


log = logging.getLogger("twin.live")

#: An on-duty vehicle not seen for this long (event time) raises an alert.
SILENT_AFTER_S = 15 * 60.0
#: Forecast risks at or above this are alerts (and count as ``predicted_late``).
RISK_ALERT = 0.5
#: Order statuses that are still to be delivered.
OPEN_STATUSES = ("open", "routed")


# -- forecasts ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ForecastView:
    """A forecast turned into plain data once, so reads never touch the forecaster's objects.

    Public because the API's read routes (:mod:`twin.live.api`) read it directly.

    Attributes
    ----------
    as_of_seq : int
        Store ``seq`` of the last event in the forecast state.
    orders, routes : dict
        Per order id and per vehicle id, the JSON-ready fields of the forecast.
    """

    as_of_seq: int
    as_of_s: float | None
    elapsed_s: float | None
    samples: int
    orders: dict[str, dict[str, Any]]
    routes: dict[str, dict[str, Any]]

    @classmethod
    def of(cls, forecast: ForecastLike, seq: int) -> ForecastView:
        orders = {
            str(k): {
                "order_id": str(f.order_id),
                "vehicle_id": None if f.vehicle_id is None else str(f.vehicle_id),
                "eta_p10_s": json_num(f.eta_p10_s),
                "eta_p50_s": json_num(f.eta_p50_s),
                "eta_p90_s": json_num(f.eta_p90_s),
                "p_miss_window": json_num(f.p_miss_window),
            }
            for k, f in forecast.orders.items()
        }
        routes = {
            str(k): {
                "vehicle_id": str(r.vehicle_id),
                "stops_left": int(r.stops_left),
                "return_p50_s": json_num(r.return_p50_s),
                "return_p90_s": json_num(r.return_p90_s),
                "p_overtime": json_num(r.p_overtime),
            }
            for k, r in forecast.routes.items()
        }
        return cls(
            seq,
            json_num(forecast.as_of_s),
            json_num(forecast.elapsed_s),
            int(forecast.samples),
            orders,
            routes,
        )


class Predictions:
    """Runs forecasts one at a time, in a background thread, on copies of the state.

    Public because :mod:`twin.live.api` reads ``latest`` and calls ``refresh``, and the
    tests and the load experiment call ``wait_idle`` through ``app.state.live.predictions``.

    Parameters
    ----------
    live : LiveTwin
        The twin whose state is forecast.
    forecaster : ForecasterLike or None
        None: forecasts are unavailable (``refresh`` raises, ``request`` does nothing).
    min_interval_s : float
        Least time between the starts of two background forecasts.
    """

    def __init__(
        self, live: LiveTwin, forecaster: ForecasterLike | None, *, min_interval_s: float
    ) -> None:
        self.live = live
        self.forecaster = forecaster
        self.min_interval_s = min_interval_s
        self._last_start = -math.inf
        self._last_failure: str | None = None
        self.latest: ForecastView | None = None
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

    def refresh(self, *, skip_if_current: bool = False) -> ForecastView:
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
            view = ForecastView.of(forecast, seq)
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
class LiveTwin:
    """The event store and the live state, kept in step under one lock.

    Public because :mod:`twin.live.api` builds one per app (``app.state.live``) and its
    routes read the state through it; the HTTP layer holds no state of its own.

    Parameters
    ----------
    settings : ServeSettings
    scenario : Scenario
    network : RoadNetwork
    store : EventStore
        Replayed into the state in ``seq`` order on construction.
    clock : LiveClock
    forecaster : ForecasterLike or None
        Passed to :class:`Predictions`.
    """

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
        self.predictions = Predictions(
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


def load_forecaster(
    scenario: Scenario, network: RoadNetwork, settings: ServeSettings
) -> ForecasterLike | None:
    """The default forecaster, or None when :mod:`twin.live.forecast` is not installed.

    Public because :func:`twin.live.api.create_app` calls it when no forecaster is given.
    """
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


def risky(item: Mapping[str, Any] | None, key: str) -> bool:
    """Whether ``item[key]`` is a risk at or above :data:`RISK_ALERT` (also used by routes)."""
    value = item.get(key) if item else None
    return value is not None and value >= RISK_ALERT


_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


def alerts(state: LiveState, forecast: ForecastView | None) -> list[Alert]:
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
                time_s=json_num(a["time_s"]),
            )
        )
    for oid in sorted(state.orders):
        o = state.orders[oid]
        f = forecast.orders.get(oid) if forecast else None
        if o.status in OPEN_STATUSES and f is not None and risky(f, "p_miss_window"):
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
                    time_s=json_num(o.window_end_s),
                )
            )
    for vid in sorted(state.vehicles):
        v = state.vehicles[vid]
        r = forecast.routes.get(vid) if forecast else None
        if r is not None and risky(r, "p_overtime"):
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
                    time_s=json_num(last_s),
                )
            )
    out.sort(key=lambda a: (_SEVERITY_ORDER[a.severity], -(a.time_s or 0.0)))
    return out
