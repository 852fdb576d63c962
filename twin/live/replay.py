"""Feed a recorded day into a running twin (``twin replay``).

A recorded day is a list of live events (:func:`twin.live.history.history_events`):
from a history folder, or from a scenario simulated on the spot. :func:`replay`
sends them to ``POST {url}/events`` at ``speed`` times real time, so a day of
operation can be watched on the dashboard in minutes, or pushed through as fast
as the server takes it.

Pacing follows an absolute schedule (event ``k`` is due ``(t_k - t_0) / speed``
seconds after the start), not the sum of the gaps, so time spent in requests
does not accumulate into drift. Events due at the same moment go as one request
(at most ``batch_max`` events); when the sender falls behind, everything already
due goes together. A request that fails in transit or with a server error is
sent again with the same events and ids: the server stores each ``event_id``
once, so a retry after a lost response counts as duplicates, never as a second
delivery. Errors the server will not change its mind about (bad token, invalid
events, an id reused with different content) stop the replay at once.

The module prints nothing: :class:`ReplayStats` says what happened and the CLI
reports it.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from twin.errors import TwinError, time_zone

__all__ = [
    "ReplayError",
    "ReplayStats",
    "load_recorded_day",
    "replay",
    "replay_source",
]

#: The API's limit on events per request (docs/reference/live-api.md).
MAX_BATCH = 5000
#: Statuses worth retrying: the server (or a proxy in front of it) may recover.
_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class ReplayError(TwinError, RuntimeError):
    """The replay cannot go on: bad input, a refused request, or a server that stays down."""


@dataclass(frozen=True)
class ReplayStats:
    """What a replay did.

    ``sent`` counts events the server acknowledged (``accepted + duplicates``);
    ``duplicates`` are events it already held (a second replay of the same day,
    or a retry whose first attempt was stored). ``skipped`` are events after
    ``until``. ``elapsed_s`` is wall-clock time by the replay's ``clock``.
    """

    sent: int
    accepted: int
    duplicates: int
    batches: int
    retries: int
    skipped: int
    elapsed_s: float
    last_seq: int
    #: Time of the first and last event sent (ISO, as in the events), None if none.
    first_time: str | None = None
    last_time: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain data for ``--json`` output."""
        return {
            "sent": self.sent,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "batches": self.batches,
            "retries": self.retries,
            "skipped": self.skipped,
            "elapsed_s": self.elapsed_s,
            "last_seq": self.last_seq,
            "first_time": self.first_time,
            "last_time": self.last_time,
        }


# -- loading a recorded day --------------------------------------------------------------
def load_recorded_day(source: str | Path, *, timezone: str = "America/Chicago") -> list[dict]:
    """The live events of a recorded day, in time order.

    Parameters
    ----------
    source : str or Path
        A history folder (``docs/reference/history.md``), read and validated with
        :func:`~twin.live.history.read_history`; or a scenario YAML file, whose
        days are simulated (replication 0) and exported as a history would have
        logged them. The second is how a demo or a test gets a realistic day
        without real data.
    timezone : str, optional
        Zone of the history's times that carry an offset.

    Raises
    ------
    TwinError
        If ``source`` is neither, or the history or scenario is invalid.
    """
    from twin.live.history import history_events, history_from_result, read_history

    path = Path(source)
    if path.is_dir():
        return history_events(read_history(path, timezone=timezone))
    if path.is_file() and path.suffix.lower() in (".yaml", ".yml"):
        from twin.maps import load_network
        from twin.scenario import load_scenario
        from twin.sim import Simulation

        scenario = load_scenario(path)
        network = load_network(scenario.map.ref, network_type=scenario.map.network_type)
        return history_events(history_from_result(Simulation(scenario, network).run()))
    if not path.exists():
        raise ReplayError(f"{path} does not exist; give a history folder or a scenario .yaml")
    raise ReplayError(
        f"{path} is neither a history folder nor a scenario .yaml file; give one of them"
    )


# -- times -------------------------------------------------------------------------------
def _local(t: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """Naive local wall-clock time: how the server reads a time (``LiveClock``)."""
    return t.astimezone(zone).replace(tzinfo=None) if t.tzinfo is not None else t


def _event_time(event: dict, index: int, zone: ZoneInfo) -> dt.datetime:
    raw = event.get("time") if isinstance(event, dict) else None
    try:
        t = raw if isinstance(raw, dt.datetime) else dt.datetime.fromisoformat(str(raw))
    except ValueError:
        raise ReplayError(
            f"event {index} ({_event_label(event)}) has time {raw!r}, not an ISO 8601 datetime"
        ) from None
    return _local(t, zone)


def _event_label(event: Any) -> str:
    return str(event.get("event_id", "?")) if isinstance(event, dict) else repr(event)[:40]


def _first_service_time(events: Sequence[dict], times: Sequence[dt.datetime]) -> dt.datetime | None:
    """When the first event that is not an order happens (None: orders only)."""
    for event, t in zip(events, times, strict=True):
        if event.get("type") != "order_created":
            return t
    return None


def _service_day(events: Sequence[dict], times: Sequence[dt.datetime]) -> dt.date:
    """The day a bare clock time refers to: the first day anything but an order happens.

    Orders are often placed the day before they are delivered, so the first
    event's date would usually be the wrong day for ``--start 10:00``.
    """
    for event, t in zip(events, times, strict=True):
        if event.get("type") != "order_created":
            return t.date()
    return times[0].date()


def _resolve(
    when: dt.datetime | str | None,
    name: str,
    events: Sequence[dict],
    times: Sequence[dt.datetime],
    zone: ZoneInfo,
) -> dt.datetime | None:
    if when is None:
        return None
    if isinstance(when, dt.datetime):
        return _local(when, zone)
    text = str(when).strip()
    try:
        return _local(dt.datetime.fromisoformat(text), zone)
    except ValueError:
        pass
    try:
        clock_time = dt.time.fromisoformat(text)
    except ValueError:
        raise ReplayError(
            f"{name} {when!r} is not a time; give HH:MM[:SS] (on the first service day) "
            "or an ISO datetime such as 2026-03-02T10:00"
        ) from None
    if not times:
        return None
    return dt.datetime.combine(_service_day(events, times), clock_time.replace(tzinfo=None))


# -- sending -----------------------------------------------------------------------------
@dataclass
class _Sender:
    client: httpx.Client
    endpoint: str
    headers: dict[str, str]
    retries: int
    retry_wait_s: float
    sleep: Callable[[float], None]
    accepted: int = 0
    duplicates: int = 0
    batches: int = 0
    retried: int = 0
    last_seq: int = 0

    def send(self, batch: list[dict]) -> None:
        """POST one batch; retry transient failures with the same body (same event ids)."""
        body = {"events": batch}
        problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self.retried += 1
                self.sleep(min(self.retry_wait_s * 2 ** (attempt - 1), 30.0))
            try:
                response = self.client.post(self.endpoint, json=body, headers=self.headers)
            except httpx.TransportError as exc:  # timeouts, refused or dropped connections
                problem = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code == 200:
                reply = response.json()
                self.accepted += int(reply.get("accepted", 0))
                self.duplicates += int(reply.get("duplicates", 0))
                self.last_seq = int(reply.get("last_seq", self.last_seq))
                self.batches += 1
                return
            problem = f"HTTP {response.status_code}: {_detail(response, batch)}"
            if response.status_code not in _RETRY_STATUS:
                raise ReplayError(
                    f"{self.endpoint} refused the batch of {len(batch)} events starting at "
                    f"{_event_label(batch[0])} ({problem}){_hint(response.status_code)}"
                )
        raise ReplayError(
            f"{self.endpoint} did not take the batch starting at {_event_label(batch[0])} "
            f"after {self.retries + 1} attempts (last: {problem}); check that the twin is "
            "running, then replay again: events already stored count as duplicates"
        )


def _jsonable(event: dict) -> dict:
    """The event as JSON: datetimes (allowed in the input) as ISO text."""
    return {k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in event.items()}


def _detail(response: httpx.Response, batch: list[dict]) -> str:
    """The server's reason, with each invalid event named by its id and field."""
    try:
        detail = response.json().get("detail", response.text)
    except (ValueError, AttributeError):
        detail = response.text
    if isinstance(detail, list):
        parts = []
        for err in detail[:10]:
            loc = list(err.get("loc", [])) if isinstance(err, dict) else []
            where = ".".join(str(x) for x in loc)
            if len(loc) >= 3 and loc[:2] == ["body", "events"] and isinstance(loc[2], int):
                i = loc[2]
                name = _event_label(batch[i]) if 0 <= i < len(batch) else f"#{i}"
                where = f"event {name} " + ".".join(str(x) for x in loc[3:])
            msg = err.get("msg", err) if isinstance(err, dict) else err
            parts.append(f"{where.strip()}: {msg}")
        more = f"; and {len(detail) - 10} more" if len(detail) > 10 else ""
        detail = "; ".join(parts) + more
    text = str(detail)
    return text if len(text) <= 600 else text[:600] + "..."


def _hint(status: int) -> str:
    return {
        401: "; pass the server's write token (--token)",
        403: "; the token is wrong: use the one the server was started with",
        409: "; an event id was already stored with different content (another day's data?)",
        422: "; the events are invalid for this server (wrong scenario or map?)",
    }.get(status, "")


def replay(
    events: Sequence[dict],
    *,
    url: str,
    token: str | None,
    speed: float = 60.0,
    start: dt.datetime | str | None = None,
    until: dt.datetime | str | None = None,
    batch_max: int = 200,
    client: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    retries: int = 5,
    retry_wait_s: float = 0.5,
    timeout_s: float = 30.0,
    timezone: str = "America/Chicago",
    on_batch: Callable[[int, int, str], None] | None = None,
) -> ReplayStats:
    """Send live events to a twin at ``speed`` times real time.

    Parameters
    ----------
    events : sequence of dict
        Live events in time order (:func:`load_recorded_day`). An event earlier
        than one already sent is sent at once, not reordered: a real feed has
        late events and the server must see them as they came.
    url : str
        The twin's base URL, e.g. ``http://127.0.0.1:8000``.
    token : str or None
        The server's write token, sent as ``Authorization: Bearer``.
    speed : float, optional
        Event-time seconds per wall-clock second. 0 or ``inf``: as fast as the
        server answers, in batches of ``batch_max``.
    start, until : datetime or str, optional
        Replay part of the day: events before ``start`` are sent at once (the
        twin catches up to that moment), then the rest is paced from ``start``;
        events after ``until`` are not sent. A string is an ISO datetime, or
        ``HH:MM[:SS]`` on the first service day (the date of the first event that
        is not an order, since orders are often placed the day before). Default
        start: the first event that is not an order, so that the orders placed
        the evening before arrive at once and the pacing begins with the day's
        first route or driver event, not hours earlier.
    batch_max : int, optional
        Most events per request (the API takes at most 5,000).
    client : httpx.Client, optional
        The HTTP client (tests pass one bound to the app); by default one is
        opened with ``timeout_s`` and closed at the end.
    sleep, clock : callable, optional
        Waiting and the monotonic clock; tests pass fakes so pacing is instant.
    retries : int, optional
        Extra attempts for a request that times out, cannot connect or gets a
        5xx/429, with exponential waits from ``retry_wait_s``. Then
        :class:`ReplayError`.
    timezone : str, optional
        Zone that times with an offset are converted to, as the server does.
    on_batch : callable, optional
        Called after each request with (events sent so far, events to send, the
        last sent event's time): the command line's progress.

    Returns
    -------
    ReplayStats

    Raises
    ------
    ReplayError
        Bad arguments or event times, a request the server refuses (401, 403,
        409, 422), or one still failing after ``retries`` retries.
    """
    _check_arguments(speed, batch_max, retries)
    zone = time_zone(timezone)
    times = [_event_time(e, i, zone) for i, e in enumerate(events)]
    start_t, keep = _window(events, times, start, until, zone)
    paced = 0.0 < speed < math.inf

    own_client = client is None
    http = client if client is not None else httpx.Client(timeout=timeout_s)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    sender = _Sender(http, url.rstrip("/") + "/events", headers, retries, retry_wait_s, sleep)
    offsets, reached = _schedule([times[i] for i in keep], start_t, speed, paced)
    began = clock()
    try:
        _send_on_schedule(
            sender,
            events,
            keep,
            offsets,
            reached,
            paced=paced,
            batch_max=batch_max,
            sleep=sleep,
            clock=clock,
            on_batch=on_batch,
        )
    finally:
        if own_client:
            http.close()
    elapsed_s = clock() - began
    return _stats(sender, events, keep, elapsed_s)


def _window(
    events: Sequence[dict],
    times: Sequence[dt.datetime],
    start: dt.datetime | str | None,
    until: dt.datetime | str | None,
    zone: ZoneInfo,
) -> tuple[dt.datetime | None, list[int]]:
    """When the pacing starts (by default the first event that is not an order) and
    the indices of the events to send (none after ``until``)."""
    start_t = _resolve(start, "start", events, times, zone)
    if start is None:
        start_t = _first_service_time(events, times)
    until_t = _resolve(until, "until", events, times, zone)
    if start_t is not None and until_t is not None and until_t < start_t:
        raise ReplayError(f"until ({until_t}) is before start ({start_t})")
    return start_t, [i for i, t in enumerate(times) if until_t is None or t <= until_t]


def _check_arguments(speed: float, batch_max: int, retries: int) -> None:
    """Refuse settings that cannot work before anything is read or sent."""
    if not (isinstance(speed, int | float) and speed >= 0):  # also refuses NaN
        raise ReplayError(f"speed {speed!r} must be >= 0 (0 or inf: as fast as possible)")
    if not 1 <= batch_max <= MAX_BATCH:
        raise ReplayError(f"batch_max {batch_max} must be between 1 and {MAX_BATCH}")
    if retries < 0:
        raise ReplayError(f"retries {retries} must be >= 0")


def _schedule(
    kept_times: list[dt.datetime], start_t: dt.datetime | None, speed: float, paced: bool
) -> tuple[list[float], list[bool]]:
    """Each event's due time, in wall seconds after the paced part begins, and whether
    the paced part has begun by then (False: still catching up to ``start``).

    An event earlier than one before it (a late event) is due with that one, and
    events before ``start`` are due at once. Unpaced, everything is due at once.
    """
    t0 = start_t if start_t is not None else (kept_times[0] if kept_times else None)
    offsets: list[float] = []
    reached: list[bool] = []
    high: dt.datetime | None = None
    for t in kept_times:
        high = t if high is None or t > high else high
        gap = (high - t0).total_seconds() if t0 is not None else 0.0
        offsets.append(max(gap, 0.0) / speed if paced else 0.0)
        reached.append(gap >= 0.0)
    return offsets, reached


def _send_on_schedule(
    sender: _Sender,
    events: Sequence[dict],
    keep: list[int],
    offsets: list[float],
    reached: list[bool],
    *,
    paced: bool,
    batch_max: int,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    on_batch: Callable[[int, int, str], None] | None = None,
) -> None:
    """Send the kept events in batches, each when it is due by the absolute schedule.

    A batch is one moment's events and then later ones already due, up to
    ``batch_max``; the wall time of the paced part's start is taken when the
    catch-up to ``start`` is done.
    """
    wall0: float | None = None  # wall time of t0, set when the catch-up is done
    k = 0
    while k < len(keep):
        if paced and wall0 is None and reached[k]:
            wall0 = clock()
        if wall0 is not None:
            wait = wall0 + offsets[k] - clock()
            if wait > 0:
                sleep(wait)
        # This moment's events, then later ones already due, up to batch_max.
        now = clock()
        end = k + 1
        while (
            end < len(keep)
            and end - k < batch_max
            and (offsets[end] == offsets[k] or (wall0 is not None and wall0 + offsets[end] <= now))
        ):
            end += 1
        batch = [_jsonable(events[i]) for i in keep[k:end]]
        sender.send(batch)
        k = end
        if on_batch is not None:
            on_batch(k, len(keep), str(batch[-1]["time"]))


def _stats(
    sender: _Sender, events: Sequence[dict], keep: list[int], elapsed_s: float
) -> ReplayStats:
    """What the replay did, from the sender's counts and the events it sent."""
    sent_times = [_jsonable(events[i])["time"] for i in keep]
    return ReplayStats(
        sent=sender.accepted + sender.duplicates,
        accepted=sender.accepted,
        duplicates=sender.duplicates,
        batches=sender.batches,
        retries=sender.retried,
        skipped=len(events) - len(keep),
        elapsed_s=elapsed_s,
        last_seq=sender.last_seq,
        first_time=sent_times[0] if sent_times else None,
        last_time=sent_times[-1] if sent_times else None,
    )


def replay_source(
    source: str | Path,
    *,
    url: str,
    token: str | None,
    speed: float = 60.0,
    start: dt.datetime | str | None = None,
    until: dt.datetime | str | None = None,
    batch_max: int = 200,
    timezone: str = "America/Chicago",
    on_batch: Callable[[int, int, str], None] | None = None,
) -> ReplayStats:
    """``twin replay``: load a recorded day (folder or scenario) and send it; see :func:`replay`."""
    events = load_recorded_day(source, timezone=timezone)
    return replay(
        events,
        url=url,
        token=token,
        speed=speed,
        start=start,
        until=until,
        batch_max=batch_max,
        timezone=timezone,
        on_batch=on_batch,
    )
