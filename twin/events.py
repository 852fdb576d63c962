"""The append-only event log, and the order lifecycle it records.

Every fact of a run is one event: ``time_s`` (seconds since the start of day 0),
``day``, ``kind``, ``order_id``, ``vehicle_id``, ``driver_id``, ``node``, ``lat``,
``lon`` and a small ``details`` mapping. KPIs, reports, the live API and
calibration all read this one log (as a pandas DataFrame).

Order events whose kind is a lifecycle *state* move the order into that state;
:class:`OrderStates` checks every move against :data:`TRANSITIONS`, so an illegal
move is caught where it happens, as a bug, not discovered later in a KPI. Every
order is in exactly one state at every time and ends terminal or
``open_at_horizon``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "INFO_KINDS",
    "STATES",
    "TERMINAL",
    "TRANSITIONS",
    "EventLog",
    "LifecycleError",
    "OrderStates",
]

#: Allowed moves of the order lifecycle (DESIGN.md, "Order lifecycle").
TRANSITIONS: dict[str, frozenset[str]] = {
    "created": frozenset({"assigned", "unassigned", "cancelled", "unreachable", "open_at_horizon"}),
    "unassigned": frozenset({"assigned", "cancelled", "open_at_horizon"}),
    # assigned -> assigned: re-planned onto another vehicle before loading.
    "assigned": frozenset({"assigned", "unassigned", "loaded", "cancelled", "open_at_horizon"}),
    "loaded": frozenset({"out_for_delivery", "open_at_horizon"}),
    "out_for_delivery": frozenset({"attempted", "returned_to_hub", "open_at_horizon"}),
    # attempted -> open_at_horizon: the run's horizon can fall during an attempt.
    # attempted -> in_locker: the customer chose a locker and the parcel went in.
    "attempted": frozenset({"delivered", "failed", "in_locker", "open_at_horizon"}),
    "failed": frozenset({"returned_to_hub", "redirected", "open_at_horizon"}),
    "returned_to_hub": frozenset(
        {"reattempt", "returned_to_sender", "cancelled", "open_at_horizon"}
    ),
    "reattempt": frozenset({"assigned", "cancelled", "open_at_horizon"}),
    "redirected": frozenset({"in_locker", "open_at_horizon"}),
    "in_locker": frozenset({"picked_up", "expired", "open_at_horizon"}),
    "expired": frozenset({"returned_to_hub", "open_at_horizon"}),
    "delivered": frozenset(),
    "picked_up": frozenset(),
    "returned_to_sender": frozenset(),
    "cancelled": frozenset(),
    "unreachable": frozenset(),
    "open_at_horizon": frozenset(),
}
STATES = frozenset(TRANSITIONS)
#: Final states: the order's story is over. ``unreachable`` = address not routable.
TERMINAL = frozenset({"delivered", "picked_up", "returned_to_sender", "cancelled", "unreachable"})
#: Events that record facts without moving an order (vehicles, drivers, notices).
INFO_KINDS = frozenset(
    {
        "shift_start",
        "shift_end",
        "plan",
        "load_start",
        "depart",
        "arrive",
        "break_start",
        "break_end",
        "return_to_hub",
        "pod",
        "notify_window",
        "notify_eta",
        "update_eta",
        "safe_drop",
        "customer_absent",
        "cancel_request",
        "no_show",
        "breakdown",
        "road_closed",
        "road_reopened",
        "launch",
        "recovered",
        "flight",
        "grounded",
        "crowd_offer",
        "no_attempt",
        "stolen",
    }
)

_COLUMNS = ("time_s", "day", "kind", "order_id", "vehicle_id", "driver_id", "node", "lat", "lon")
_EVENT_KEYS = (*_COLUMNS, "details")


class LifecycleError(RuntimeError):
    """An order moved in a way the lifecycle forbids: a bug in the engine or a policy."""


class OrderStates:
    """Current lifecycle state of every order, enforcing :data:`TRANSITIONS`."""

    def __init__(self) -> None:
        self.state: dict[str, str] = {}

    def move(self, order_id: str, new: str, time_s: float) -> None:
        old = self.state.get(order_id)
        if old is None:
            if new != "created":
                raise LifecycleError(f"order {order_id} must be created before {new!r}")
        elif new not in TRANSITIONS[old]:
            raise LifecycleError(
                f"order {order_id}: illegal move {old!r} -> {new!r} at t={time_s:.0f} s"
            )
        self.state[order_id] = new

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.state.values():
            out[s] = out.get(s, 0) + 1
        return out


class EventLog:
    """Append-only, columnar event store with observers.

    Parameters
    ----------
    on_event : callable, optional
        Called with each event dict as it is appended (progress bars, live
        streaming); observers must not change the event.
    """

    def __init__(self, on_event: Callable[[dict[str, Any]], None] | None = None) -> None:
        # One tuple per event, in _COLUMNS order then the details: a single list append
        # is the cheapest record Python has, and the log is appended to a dozen times
        # per simulated stop. Details stay as the caller's mapping until the log is
        # read; their JSON is written then, once (see _details_text).
        self._rows: list[tuple[Any, ...]] = []
        self._encoded: list[str] = []
        self.states = OrderStates()
        self._observers = [on_event] if on_event else []

    def subscribe(self, observer: Callable[[dict[str, Any]], None]) -> None:
        self._observers.append(observer)

    def __len__(self) -> int:
        return len(self._rows)

    def append(
        self,
        time_s: float,
        kind: str,
        *,
        day: int,
        order_id: str | None = None,
        vehicle_id: str | None = None,
        driver_id: str | None = None,
        node: int | None = None,
        lat: float = math.nan,
        lon: float = math.nan,
        **details: Any,
    ) -> None:
        """Record one event; order state kinds also move the order's lifecycle.

        The ``details`` are kept as given and written as JSON when the log is read,
        so their values must not be changed after the call (the engine passes values
        it builds for the event).
        """
        if kind in STATES:
            if order_id is None:
                raise LifecycleError(f"state event {kind!r} needs an order_id")
            self.states.move(order_id, kind, time_s)
        elif kind not in INFO_KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        recorded: dict[str, Any] | str = details
        if self._observers:
            recorded = _encode_details(details)
        row = (time_s, day, kind, order_id, vehicle_id, driver_id, node, lat, lon, recorded)
        self._rows.append(row)
        if self._observers:
            event = dict(zip(_EVENT_KEYS, row, strict=True))
            event.update(time_s=float(time_s), day=int(day), lat=float(lat), lon=float(lon))
            for observer in self._observers:
                observer(event)

    def _details_text(self) -> list[str]:
        """The details column as JSON text, encoding the rows appended since last asked."""
        text = self._encoded
        for row in self._rows[len(text) :]:
            details = row[-1]
            text.append(details if isinstance(details, str) else _encode_details(details))
        return text

    def to_frame(self) -> pd.DataFrame:
        """The log as a tidy DataFrame (one row per event, in append order)."""
        n = len(self._rows)
        columns: list[Any] = list(zip(*self._rows, strict=True))[:-1] if n else [()] * 9
        data: dict[str, Any] = dict(zip(_COLUMNS, columns, strict=True))
        for col in ("time_s", "lat", "lon"):
            data[col] = np.fromiter(data[col], dtype=np.float64, count=n)
        data["day"] = np.fromiter(data["day"], dtype=np.int64, count=n)
        data["node"] = pd.array(list(data["node"]), dtype="Int64")
        data["details"] = self._details_text()[:n]
        frame = pd.DataFrame(data)
        for col in ("kind", "order_id", "vehicle_id", "driver_id", "details"):
            frame[col] = frame[col].astype("string")
        return frame

    def save(self, path: str | Path, *, fmt: str = "parquet") -> Path:
        """Write the log as Parquet (default) or CSV; returns the path written."""
        path = Path(path)
        frame = self.to_frame()
        if fmt == "parquet":
            frame.to_parquet(path, index=False)
        elif fmt == "csv":
            frame.to_csv(path, index=False)
        else:
            raise ValueError(f"unknown event log format {fmt!r}; use 'parquet' or 'csv'")
        return path

    def digest(self) -> str:
        """SHA-256 of the log's canonical CSV text: equal digests = identical logs."""
        text = self.to_frame().to_csv(index=False, float_format="%.6f")
        return hashlib.sha256(text.encode()).hexdigest()


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


#: The details' JSON, as ``json.dumps(details, sort_keys=True, default=_jsonable)``
#: writes it; one encoder for the run, since ``json.dumps`` with options builds a
#: new one per call.
_DETAILS = json.JSONEncoder(sort_keys=True, default=_jsonable)
#: The same text from CPython's C encoder, built once: ``JSONEncoder.encode`` builds
#: it again on every call, half of what encoding one event's details costs. Its
#: arguments are those ``_DETAILS`` passes, less the check for a container that
#: holds itself (details are numbers, strings and lists the engine builds); None
#: where the C speed-ups are missing.
_C_MAKE_ENCODER = getattr(json.encoder, "c_make_encoder", None)
_C_DETAILS = (
    _C_MAKE_ENCODER(
        None,
        _jsonable,
        json.encoder.encode_basestring_ascii,
        None,
        _DETAILS.key_separator,
        _DETAILS.item_separator,
        True,
        False,
        True,
    )
    if _C_MAKE_ENCODER is not None
    else None
)


def _encode_details(details: dict[str, Any]) -> str:
    """``details`` as the log's JSON text ("" for none)."""
    if not details:
        return ""
    if _C_DETAILS is None:
        return _DETAILS.encode(details)
    return "".join(_C_DETAILS(details, 0))
