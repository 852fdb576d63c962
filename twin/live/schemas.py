"""The live API's request and response models, and the forecaster's interface.

The pydantic models here are the JSON bodies of ``twin serve`` (:mod:`twin.live.api`):
their names and fields are the OpenAPI spec's components, so renaming one changes the
contract in ``docs/reference/live-api.md``. The ``*Like`` protocols are what the server needs from
:mod:`twin.live.forecast`, which it imports lazily (the live extra may be missing).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from twin.live.events import LiveEvent
from twin.live.state import LiveState

__all__ = [
    "BODY_TAGS",
    "EVENT_TAGS",
    "MAX_BATCH_EVENTS",
    "Alert",
    "EventBatch",
    "EventsAccepted",
    "EventsBody",
    "ForecastLike",
    "ForecasterLike",
    "Health",
    "HubOut",
    "Kpis",
    "Message",
    "NetworkOut",
    "OrderDetail",
    "OrderForecastLike",
    "OrderForecastOut",
    "OrderOut",
    "OrderStatus",
    "PredictionsOut",
    "RefreshSummary",
    "RouteForecastLike",
    "RouteForecastOut",
    "VehicleOut",
    "json_num",
]

#: Largest ``{"events": [...]}`` batch accepted in one request.
MAX_BATCH_EVENTS = 5000
OrderStatus = Literal["open", "routed", "delivered", "failed", "cancelled"]


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
#: The body union's tags and the event union's ``type`` values: the API drops them
#: from validation-error locations and names them in its messages.
BODY_TAGS = {"event", "batch"}
EVENT_TAGS = {
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


def json_num(x: Any) -> float | None:
    """A JSON-safe number: None for missing or non-finite values.

    Public because both the routes and the forecast views fill response fields with it.
    """
    if x is None:
        return None
    value = float(x)
    return value if math.isfinite(value) else None
