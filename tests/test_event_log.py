"""The event log's record: what is appended is what is read, whenever it is read."""

from __future__ import annotations

import json
import math

import pytest

from twin.events import EventLog, LifecycleError


def _day(log: EventLog) -> None:
    log.append(10, "created", day=0, order_id="o1", node=7, lat=27.5, lon=-99.5, slot="am")
    log.append(20.5, "shift_start", day=0, vehicle_id="v1", driver_id="d1")
    log.append(30, "assigned", day=0, order_id="o1", vehicle_id="v1", stops=[3, 1], eta_s=31.25)


def test_the_table_holds_what_was_appended_with_details_as_sorted_json():
    log = EventLog()
    _day(log)
    frame = log.to_frame()
    assert list(frame.columns) == [
        "time_s", "day", "kind", "order_id", "vehicle_id", "driver_id", "node", "lat", "lon",
        "details",
    ]  # fmt: skip
    assert frame["time_s"].tolist() == [10.0, 20.5, 30.0]
    assert str(frame["time_s"].dtype) == "float64"
    assert str(frame["day"].dtype) == "int64"
    assert frame["node"].tolist()[0] == 7
    assert frame["node"].isna().tolist() == [False, True, True]
    assert str(frame["node"].dtype) == "Int64"
    assert math.isnan(frame["lat"].iloc[1])
    assert frame["lon"].iloc[0] == -99.5
    assert frame["details"].tolist() == [
        '{"slot": "am"}',
        "",
        '{"eta_s": 31.25, "stops": [3, 1]}',
    ]


def test_reading_twice_and_appending_after_a_read_give_the_same_log_as_reading_once():
    once, twice = EventLog(), EventLog()
    _day(once)
    _day(twice)
    first = twice.to_frame()
    twice.append(40, "loaded", day=0, order_id="o1", vehicle_id="v1", bay=2)
    once.append(40, "loaded", day=0, order_id="o1", vehicle_id="v1", bay=2)
    assert len(first) == 3
    assert len(twice) == 4
    assert twice.digest() == once.digest()
    assert twice.to_frame()["details"].iloc[-1] == '{"bay": 2}'


def test_observers_see_each_event_as_it_is_logged_with_its_details_as_json():
    seen: list[dict[str, object]] = []
    log = EventLog(on_event=seen.append)
    _day(log)
    assert [e["kind"] for e in seen] == ["created", "shift_start", "assigned"]
    assert json.loads(str(seen[2]["details"])) == {"eta_s": 31.25, "stops": [3, 1]}
    assert seen[0]["time_s"] == 10.0
    assert isinstance(seen[0]["time_s"], float)
    # A log with observers reads back the same as one without.
    quiet = EventLog()
    _day(quiet)
    assert log.digest() == quiet.digest()


def test_an_empty_log_is_an_empty_table_with_the_columns():
    frame = EventLog().to_frame()
    assert len(frame) == 0
    assert "details" in frame.columns


def test_illegal_moves_and_unknown_kinds_are_refused_when_appended():
    log = EventLog()
    with pytest.raises(LifecycleError, match="must be created before 'loaded'"):
        log.append(0, "loaded", day=0, order_id="o9")
    with pytest.raises(ValueError, match="unknown event kind 'teleport'"):
        log.append(0, "teleport", day=0)
    assert len(log) == 0


def test_details_text_is_what_json_dumps_writes_for_awkward_values():
    import numpy as np

    from twin.events import _encode_details

    awkward = {
        "z": np.int64(3),
        "a": np.float64(0.1),
        "nan": math.nan,
        "name": "Juárez–Lincoln",
        "path": [[27.5, -99.5], [27.6, -99.4]],
        "none": None,
        "flag": True,
        "other": object,
    }
    expected = json.dumps(
        awkward, sort_keys=True, default=lambda v: v.item() if hasattr(v, "item") else str(v)
    )
    assert _encode_details(awkward) == expected
    assert _encode_details({}) == ""
