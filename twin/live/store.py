"""The event store: every accepted live event, once, in the order it was accepted.

The store is the twin's memory. The live state is a fold of the stored events in
``seq`` order (:mod:`twin.live.state`), so a server that restarts replays its
store and comes back with the same state, and a sender that retries after a
timeout cannot make an event count twice: ``event_id`` is unique, and a resent
event whose content matches what was stored is acknowledged as a duplicate.

It sits on SQLAlchemy Core so any database SQLAlchemy speaks will do; the default
is a SQLite file in the server's data folder, in WAL mode with
``synchronous=NORMAL`` (a committed append survives a killed process; only a power
cut can lose the last few, and the sender's retry brings them back).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import sqlalchemy as sa
from pydantic import BaseModel, ValidationError
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from twin.errors import TwinError
from twin.live.events import body_digest, parse_event

__all__ = [
    "AppendResult",
    "EventStore",
    "IdempotencyConflict",
    "StoreError",
    "StoredEvent",
    "canonical_body",
    "default_database_url",
]

#: Rows read per query when iterating the store (bounded memory on replay).
_PAGE_ROWS = 2000
#: Event ids looked up per ``IN`` query (well under every database's parameter limit).
_LOOKUP_CHUNK = 500

_METADATA = sa.MetaData()
EVENTS = sa.Table(
    "events",
    _METADATA,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(128), nullable=False, unique=True),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("time", sa.String(64), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sqlite_autoincrement=True,
)


class StoreError(TwinError, ValueError):
    """The event store cannot be opened as asked (bad URL, file outside the data folder)."""


class IdempotencyConflict(TwinError, ValueError):  # noqa: N818 (the name the API contract uses)
    """An ``event_id`` was sent again with different content."""


class AppendResult(NamedTuple):
    """What :meth:`EventStore.append` did with a call's events."""

    #: Events stored by this call.
    accepted: int
    #: Events acknowledged without storing: their ``event_id`` was already stored
    #: (or appeared earlier in the same call) with the same content.
    duplicates: int
    #: The store's highest ``seq`` after the call (0 for an empty store).
    last_seq: int


@dataclass(frozen=True)
class StoredEvent:
    """One stored event with its place in the store's order."""

    seq: int
    event_id: str
    event: Any


def canonical_body(event: BaseModel) -> str:
    """The event as canonical JSON: the text stored and the text :func:`body_digest` hashes."""
    return json.dumps(event.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def default_database_url(data_dir: str | Path) -> str:
    """``sqlite:///<data_dir>/events.sqlite``: the store a server uses unless told otherwise."""
    return f"sqlite:///{Path(data_dir).resolve() / 'events.sqlite'}"


class EventStore:
    """Append-only store of live events, keyed by ``event_id``.

    Parameters
    ----------
    data_dir : str or Path
        The server's data folder (created if missing). A SQLite database must lie
        inside it: the server reads and writes nothing elsewhere.
    database_url : str, optional
        Any SQLAlchemy URL (default: :func:`default_database_url`). ``sqlite://``
        (in memory) is allowed, for tests.

    Raises
    ------
    StoreError
        For an unparsable URL, a SQLite file outside ``data_dir``, or a database
        that cannot be opened.
    """

    def __init__(self, data_dir: str | Path, database_url: str | None = None) -> None:
        self.data_dir = Path(data_dir).resolve()
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"data folder {self.data_dir} cannot be created ({exc.strerror}); "
                "choose a writable --data folder."
            ) from exc
        url_text = database_url or default_database_url(self.data_dir)
        self.url = _checked_url(url_text, self.data_dir)
        self.engine = _make_engine(self.url)
        try:
            _METADATA.create_all(self.engine)
        except SQLAlchemyError as exc:
            self.engine.dispose()
            raise StoreError(
                f"database {self.url.render_as_string(hide_password=True)} cannot be opened "
                f"({type(exc).__name__}); check --database-url."
            ) from exc

    # -- writing ------------------------------------------------------------------------
    def append(self, events: Sequence[Any]) -> AppendResult:
        """Store the events that are new, in order, in one transaction.

        Returns
        -------
        AppendResult
            ``(accepted, duplicates, last_seq)``.

        Raises
        ------
        IdempotencyConflict
            If an ``event_id`` is already stored (or repeated in ``events``) with
            different content; nothing from the call is stored then.
        """
        return self.append_new(events)[0]

    def append_new(self, events: Sequence[Any]) -> tuple[AppendResult, list[StoredEvent]]:
        """:meth:`append`, also returning the newly stored events in ``seq`` order.

        The API applies exactly these to its live state, so the state sees each
        event once and in the store's order.
        """
        try:
            return self._append(events)
        except IntegrityError:
            # Another writer stored one of these ids between our lookup and insert:
            # the retry sees it and classifies it as a duplicate or a conflict.
            return self._append(events)

    def _append(self, events: Sequence[Any]) -> tuple[AppendResult, list[StoredEvent]]:
        rows: list[dict[str, Any]] = []
        new_events: list[Any] = []
        seen: dict[str, str] = {}  # event_id -> digest, within this call
        duplicates = 0
        with self.engine.begin() as conn:
            stored = self._stored_digests(conn, [_event_id(e) for e in events])
            for event in events:
                event_id = _event_id(event)
                body = canonical_body(event)
                digest = body_digest(event)
                known = stored.get(event_id, seen.get(event_id))
                if known is not None:
                    if known != digest:
                        raise IdempotencyConflict(
                            f"event_id {event_id!r} was already sent with different content; "
                            "resend the original event or give the new one a new event_id."
                        )
                    duplicates += 1
                    continue
                seen[event_id] = digest
                rows.append(
                    {
                        "event_id": event_id,
                        "type": str(event.type),
                        "time": event.time.isoformat(),
                        "body": body,
                        "digest": digest,
                    }
                )
                new_events.append(event)
            if rows:
                conn.execute(EVENTS.insert(), rows)
            seqs = self._seqs(conn, [r["event_id"] for r in rows])
            last_seq = int(conn.execute(sa.select(sa.func.max(EVENTS.c.seq))).scalar() or 0)
        stored_events = sorted(
            (StoredEvent(seqs[_event_id(e)], _event_id(e), e) for e in new_events),
            key=lambda s: s.seq,
        )
        return AppendResult(len(rows), duplicates, last_seq), stored_events

    @staticmethod
    def _stored_digests(conn: sa.Connection, event_ids: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        unique = sorted(set(event_ids))
        for i in range(0, len(unique), _LOOKUP_CHUNK):
            chunk = unique[i : i + _LOOKUP_CHUNK]
            query = sa.select(EVENTS.c.event_id, EVENTS.c.digest).where(
                EVENTS.c.event_id.in_(chunk)
            )
            found.update({row.event_id: row.digest for row in conn.execute(query)})
        return found

    @staticmethod
    def _seqs(conn: sa.Connection, event_ids: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for i in range(0, len(event_ids), _LOOKUP_CHUNK):
            chunk = event_ids[i : i + _LOOKUP_CHUNK]
            query = sa.select(EVENTS.c.event_id, EVENTS.c.seq).where(EVENTS.c.event_id.in_(chunk))
            found.update({row.event_id: int(row.seq) for row in conn.execute(query)})
        return found

    # -- reading ------------------------------------------------------------------------
    def records(self, after_seq: int = 0) -> Iterator[StoredEvent]:
        """Stored events with ``seq > after_seq``, in ``seq`` order, read page by page."""
        last = after_seq
        while True:
            query = (
                sa.select(EVENTS.c.seq, EVENTS.c.event_id, EVENTS.c.body)
                .where(EVENTS.c.seq > last)
                .order_by(EVENTS.c.seq)
                .limit(_PAGE_ROWS)
            )
            with self.engine.connect() as conn:
                page = conn.execute(query).all()
            for row in page:
                try:
                    event = parse_event(json.loads(row.body))
                except (ValueError, ValidationError) as exc:
                    raise StoreError(
                        f"stored event seq {row.seq} ({row.event_id!r}) no longer reads as a "
                        "live event; the store was written by an incompatible twin version: "
                        "serve it with that version or start a new --data folder."
                    ) from exc
                yield StoredEvent(int(row.seq), row.event_id, event)
            if len(page) < _PAGE_ROWS:
                return
            last = int(page[-1].seq)

    def events(self, after_seq: int = 0) -> Iterator[Any]:
        """The stored events (event models) with ``seq > after_seq``, in ``seq`` order."""
        for record in self.records(after_seq):
            yield record.event

    def count(self) -> int:
        """Number of stored events."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(EVENTS)).scalar() or 0)

    def last_seq(self) -> int:
        """The highest ``seq`` stored (0 for an empty store)."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(EVENTS.c.seq))).scalar() or 0)

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _event_id(event: Any) -> str:
    return str(event.event_id)


def _checked_url(text: str, data_dir: Path) -> URL:
    try:
        url = make_url(text)
    except (ArgumentError, ValueError) as exc:
        raise StoreError(
            f"--database-url {text!r} is not a SQLAlchemy URL; use e.g. "
            f"sqlite:///{data_dir / 'events.sqlite'} or postgresql://user@host/db."
        ) from exc
    if url.get_backend_name() != "sqlite":
        return url
    database = url.database or ""
    if database in ("", ":memory:") or url.query.get("mode") == "memory":
        return url
    if database.startswith("file:"):
        database = database.removeprefix("file:").split("?", 1)[0]
    path = Path(database).expanduser().resolve()
    if not path.is_relative_to(data_dir):
        raise StoreError(
            f"--database-url points at {path}, outside the data folder {data_dir}; "
            "put the SQLite file inside --data (or leave --database-url out)."
        )
    return url


def _make_engine(url: URL) -> Engine:
    if url.get_backend_name() != "sqlite":
        try:
            return sa.create_engine(url, pool_pre_ping=True)
        except (ArgumentError, ImportError) as exc:
            raise StoreError(
                f"database URL {url.render_as_string(hide_password=True)} cannot be used "
                f"({exc}); install its driver or check --database-url."
            ) from exc
    in_memory = (url.database or "") in ("", ":memory:")
    if in_memory:
        # One shared connection: otherwise every pooled connection is its own empty database.
        engine = sa.create_engine(
            url, poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    else:
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine
