"""The live events an operation sends to the twin (``POST /events``).

Each event is one fact from the field: an order placed or cancelled, the
routes the operator's planner gave the drivers, a GPS ping, the outcome of a
stop, a driver's status. Every event carries an ``event_id`` chosen by the
sender: it is the idempotency key, so an event sent twice (a retry after a
timeout) is applied once. Times are ISO 8601; a time without an offset is the
operation's local time, one with an offset is converted to the twin's time
zone (:class:`LiveClock`).

These models are the contract between the API, the event store, the live
state and the replay tool; ``docs/reference/live-api.md`` documents them for senders.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    TypeAdapter,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from twin.errors import time_zone

__all__ = [
    "DriverStatus",
    "GpsPing",
    "LiveClock",
    "LiveEvent",
    "OrderCancelled",
    "OrderCreated",
    "RouteAssigned",
    "StopOutcome",
    "body_digest",
    "parse_event",
]

Id = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-/]+$")]
# Numbers are strict: a JSON number, never a numeric string or a boolean, so the
# models take exactly what the OpenAPI spec allows (an integer is a valid number).
Lat = Annotated[float, Strict(), Field(ge=-90, le=90, allow_inf_nan=False)]
Lon = Annotated[float, Strict(), Field(ge=-180, le=180, allow_inf_nan=False)]
Count = Annotated[int, Strict(), Field(ge=1, le=1000)]
Speed = Annotated[float, Strict(), Field(ge=0, le=300, allow_inf_nan=False)]

#: An ISO 8601 date and time, with or without a UTC offset (without one it is the
#: operation's local time, which RFC 3339's ``date-time`` format would not allow).
TIME_PATTERN = (
    r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt ]"
    r"([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,9})?)?"
    r"([Zz]|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])?$"
)
_TIME_RE = re.compile(TIME_PATTERN)


def _time_text(value: Any) -> Any:
    """Let through a datetime or an ISO 8601 string; refuse what pydantic would coerce.

    Pydantic's lax mode reads a Unix timestamp (number or numeric string) or a bare
    date as a datetime. The spec promises a date-and-time string, so those are errors.
    """
    if isinstance(value, dt.datetime) or (isinstance(value, str) and _TIME_RE.fullmatch(value)):
        return value
    raise ValueError(
        "must be an ISO 8601 date and time such as 2026-03-02T09:30:00 (local time) "
        "or 2026-03-02T09:30:00-06:00"
    )


Time = Annotated[
    dt.datetime,
    BeforeValidator(_time_text),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": TIME_PATTERN,
            "description": "ISO 8601 date and time; without an offset it is local time.",
        }
    ),
]


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Chosen by the sender, unique per event: the idempotency key.
    event_id: Id
    #: When it happened (not when it was sent).
    time: Time


class OrderCreated(_Event):
    """A new order: where it goes and the window promised to the customer."""

    type: Literal["order_created"] = "order_created"
    order_id: Id
    lat: Lat
    lon: Lon
    window_start: Time
    window_end: Time
    option: Literal["home", "safe_drop", "signature"] = "home"
    parcels: Count = 1

    @model_validator(mode="after")
    def _window(self) -> OrderCreated:
        if _naive(self.window_end) <= _naive(self.window_start):
            raise ValueError("window_end must be after window_start")
        return self


class OrderCancelled(_Event):
    """The customer or the shipper cancelled an order that is not yet delivered."""

    type: Literal["order_cancelled"] = "order_cancelled"
    order_id: Id
    reason: Annotated[str, Field(max_length=200)] = ""


class RouteAssigned(_Event):
    """A vehicle's remaining stops, in order, from the operator's planner.

    Replaces whatever remained of that vehicle's route: a re-optimised route is
    simply a new ``route_assigned``. ``hub_id`` is where the route ends (default:
    the scenario's first hub). A route of several trips names in
    ``reload_before`` the orders before which the vehicle goes back to its hub to
    load the next trip (the first order too, if it must reload before it).
    """

    type: Literal["route_assigned"] = "route_assigned"
    vehicle_id: Id
    driver_id: Id | None = None
    order_ids: Annotated[list[Id], Field(max_length=2000)]
    hub_id: Id | None = None
    reload_before: Annotated[list[Id], Field(max_length=2000)] = []

    @field_validator("order_ids")
    @classmethod
    def _distinct(cls, order_ids: list[str]) -> list[str]:
        if len(set(order_ids)) != len(order_ids):
            raise ValueError("order_ids lists an order twice")
        return order_ids

    @field_validator("reload_before")
    @classmethod
    def _on_the_route(cls, reload_before: list[str], info: ValidationInfo) -> list[str]:
        stray = sorted(set(reload_before) - set(info.data.get("order_ids", reload_before)))
        if stray:
            raise ValueError(f"names {stray[:3]}, not in order_ids; list only orders of this route")
        return reload_before


class GpsPing(_Event):
    """Where a vehicle is."""

    type: Literal["gps_ping"] = "gps_ping"
    vehicle_id: Id
    lat: Lat
    lon: Lon
    speed_kph: Speed | None = None


class StopOutcome(_Event):
    """A delivery attempt ended: handed over (or safe-dropped), or failed."""

    type: Literal["stop_outcome"] = "stop_outcome"
    vehicle_id: Id
    order_id: Id
    outcome: Literal["delivered", "failed"]
    #: When the vehicle reached the stop; ``time`` is when the attempt ended.
    arrived_at: Time | None = None
    reason: Annotated[str, Field(max_length=200)] = ""


class DriverStatus(_Event):
    """A driver starts or ends the shift, or takes a break."""

    type: Literal["driver_status"] = "driver_status"
    vehicle_id: Id
    driver_id: Id | None = None
    status: Literal["on_duty", "on_break", "off_duty"]
    #: When the shift is planned to end (overtime risk is measured against it).
    shift_end: Time | None = None


LiveEvent = Annotated[
    OrderCreated | OrderCancelled | RouteAssigned | GpsPing | StopOutcome | DriverStatus,
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(LiveEvent)


def parse_event(data: Any) -> Any:
    """Validate one event (a mapping) into its model; raises pydantic's ValidationError."""
    return _ADAPTER.validate_python(data)


def body_digest(event: BaseModel) -> str:
    """Digest of an event's content: a resent event must match what was stored."""
    text = json.dumps(event.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _naive(t: dt.datetime) -> dt.datetime:
    return t.astimezone(dt.UTC).replace(tzinfo=None) if t.tzinfo else t


class LiveClock:
    """Turns event times into the engine's clock: seconds since midnight of day 0.

    Parameters
    ----------
    start_date : datetime.date
        Day 0 of the operation (the scenario's ``start_date``).
    timezone : str, optional
        IANA zone of the operation (default ``America/Chicago``, Laredo's). Times
        sent with an offset are converted to it; times without one are local.
    """

    def __init__(self, start_date: dt.date, *, timezone: str = "America/Chicago") -> None:
        self.start_date = start_date
        self.zone = time_zone(timezone)
        self._midnight = dt.datetime.combine(start_date, dt.time())

    def seconds(self, t: dt.datetime) -> float:
        """Seconds since midnight of day 0 (local wall-clock time)."""
        if t.tzinfo is not None:
            t = t.astimezone(self.zone).replace(tzinfo=None)
        return (t - self._midnight).total_seconds()

    def datetime(self, time_s: float) -> dt.datetime:
        """The local wall-clock time ``time_s`` seconds after midnight of day 0."""
        return self._midnight + dt.timedelta(seconds=float(time_s))
