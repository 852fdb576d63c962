"""The event store: idempotent appends, atomic batches, order, and the data-folder rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from twin.errors import TwinError
from twin.live.events import body_digest, parse_event
from twin.live.store import EventStore, IdempotencyConflict, StoreError


def ping(event_id: str, *, lat: float = 27.56, minute: int = 0) -> Any:
    return parse_event(
        {
            "event_id": event_id,
            "type": "gps_ping",
            "time": f"2026-03-02T08:{minute:02d}:00",
            "vehicle_id": "van-1",
            "lat": lat,
            "lon": -99.49,
        }
    )


def order(event_id: str, order_id: str) -> Any:
    return parse_event(
        {
            "event_id": event_id,
            "type": "order_created",
            "time": "2026-03-02T07:00:00-06:00",
            "order_id": order_id,
            "lat": 27.555,
            "lon": -99.48,
            "window_start": "2026-03-02T09:00:00",
            "window_end": "2026-03-02T11:00:00",
            "option": "signature",
            "parcels": 2,
        }
    )


@pytest.fixture
def store(tmp_path: Path):
    with EventStore(tmp_path / "data") as s:
        yield s


def test_append_stores_in_order_and_round_trips(store: EventStore) -> None:
    events = [order("e1", "o1"), ping("e2"), ping("e3", minute=5)]
    result = store.append(events)
    assert result.accepted == 3
    assert result.duplicates == 0
    assert result.last_seq == 3
    back = list(store.events())
    assert [e.event_id for e in back] == ["e1", "e2", "e3"]
    # Parsed back, each event has the content (and so the digest) it was stored with.
    assert [body_digest(e) for e in back] == [body_digest(e) for e in events]
    assert back[0] == events[0]
    assert store.count() == 3


def test_resent_events_are_duplicates_not_stored_again(store: EventStore) -> None:
    store.append([ping("e1"), ping("e2")])
    result = store.append([ping("e2"), ping("e3"), ping("e1")])
    assert result.accepted == 1
    assert result.duplicates == 2
    assert result.last_seq == 3
    assert [r.event_id for r in store.records()] == ["e1", "e2", "e3"]


def test_duplicates_inside_one_batch(store: EventStore) -> None:
    result, new = store.append_new([ping("a"), ping("a"), ping("b")])
    assert (result.accepted, result.duplicates) == (2, 1)
    assert [(s.seq, s.event_id) for s in new] == [(1, "a"), (2, "b")]


def test_conflicting_resend_stores_nothing_from_the_call(store: EventStore) -> None:
    store.append([ping("e1")])
    with pytest.raises(IdempotencyConflict, match="e1"):
        store.append([ping("e2"), ping("e1", lat=27.561)])
    assert store.count() == 1
    with pytest.raises(IdempotencyConflict, match="x"):
        store.append([ping("x"), ping("x", minute=1)])
    assert store.count() == 1
    assert issubclass(IdempotencyConflict, TwinError)


def test_events_after_seq_and_paging(store: EventStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("twin.live.store._PAGE_ROWS", 3)
    store.append([ping(f"p{i}", minute=i) for i in range(10)])
    assert [e.event_id for e in store.events()] == [f"p{i}" for i in range(10)]
    assert [r.seq for r in store.records(after_seq=7)] == [8, 9, 10]
    assert store.last_seq() == 10


def test_reopening_keeps_the_events(tmp_path: Path) -> None:
    with EventStore(tmp_path) as first:
        first.append([ping("e1"), order("e2", "o1")])
    with EventStore(tmp_path) as again:
        assert [e.event_id for e in again.events()] == ["e1", "e2"]
        assert again.append([ping("e1")]).duplicates == 1
    assert (tmp_path / "events.sqlite").is_file()


def test_sqlite_uses_wal(store: EventStore) -> None:
    with store.engine.connect() as conn:
        mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
    assert mode == "wal"


def test_sqlite_file_outside_the_data_folder_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere" / "events.sqlite"
    with pytest.raises(StoreError, match="outside the data folder"):
        EventStore(tmp_path / "data", f"sqlite:///{outside}")
    with pytest.raises(StoreError, match="outside the data folder"):
        EventStore(tmp_path / "data", f"sqlite:///{tmp_path}/data/../x.sqlite")
    assert not outside.exists()


def test_sqlite_file_inside_the_data_folder_and_memory_are_allowed(tmp_path: Path) -> None:
    with EventStore(tmp_path, f"sqlite:///{tmp_path}/sub.sqlite") as s:
        s.append([ping("e1")])
    assert (tmp_path / "sub.sqlite").is_file()
    with EventStore(tmp_path, "sqlite://") as memory:
        memory.append([ping("e1")])
        assert memory.count() == 1


def test_unparsable_url_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="not a SQLAlchemy URL"):
        EventStore(tmp_path, "not a url")


def test_a_stored_event_that_no_longer_parses_is_a_clear_error(store: EventStore) -> None:
    store.append([ping("e1")])
    with store.engine.begin() as conn:
        conn.exec_driver_sql('UPDATE events SET body = \'{"type": "teleport"}\'')
    with pytest.raises(StoreError, match="seq 1"):
        list(store.events())
