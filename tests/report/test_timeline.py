"""The vehicle timeline reads each trip's states off the event log."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from twin.report.plots import _TIMELINE, timeline_spans

H = 3600.0


def _event(t_h: float, kind: str, order: str | None = None, **details: float) -> dict:
    return {
        "time_s": t_h * H,
        "day": 0,
        "kind": kind,
        "order_id": order,
        "vehicle_id": "hub/van-01",
        "details": json.dumps(details) if details else "",
    }


def _two_trip_day() -> tuple[pd.DataFrame, pd.DataFrame]:
    events = pd.DataFrame(
        [
            _event(8.0, "shift_start"),
            _event(8.0, "load_start"),
            _event(8.25, "depart"),
            _event(8.5, "arrive", "o1", drive_s=0.25 * H),  # early: o1 opens at 9
            _event(9.1, "break_start"),
            _event(9.6, "break_end"),
            _event(10.0, "arrive", drive_s=0.4 * H),  # back at the hub
            _event(10.0, "return_to_hub"),
            _event(11.0, "load_start"),  # an hour at the hub between the trips
            _event(11.2, "depart"),
            _event(11.5, "arrive", "o2", drive_s=0.3 * H),
            _event(12.0, "return_to_hub"),
            _event(12.5, "shift_end"),
        ]
    )
    orders = pd.DataFrame({"order_id": ["o1", "o2"], "window_start_s": [9 * H, 8 * H]})
    return events, orders


def _on_top(spans: pd.DataFrame, t_h: float) -> str:
    """What the timeline shows at ``t_h``: the last span drawn over that instant."""
    rank = {state: i for i, state in enumerate(_TIMELINE)}
    over = spans[(spans["start_s"] <= t_h * H) & (spans["end_s"] > t_h * H)]
    top = max(over.itertuples(), key=lambda s: (s.layer, rank[s.state]))
    return str(top.state)


@pytest.mark.parametrize(
    ("t_h", "state"),
    [
        (8.1, "loading"),
        (8.4, "driving"),
        (8.7, "waiting"),  # for o1's window
        (9.05, "at stops"),
        (9.3, "break"),
        (9.8, "driving"),
        (10.5, "waiting"),  # at the hub between the trips, not loading
        (11.1, "loading"),
        (11.8, "at stops"),
        (12.2, "waiting"),
    ],
)
def test_a_two_trip_day_shows_each_trips_states(t_h: float, state: str) -> None:
    events, orders = _two_trip_day()
    assert _on_top(timeline_spans(events, orders), t_h) == state


def test_a_breakdown_keeps_the_vehicle_out_until_its_last_event() -> None:
    events, orders = _two_trip_day()
    events = events[events["time_s"] < 12 * H]  # no return from the second trip
    spans = timeline_spans(events, orders)
    last = spans[spans["state"] == "at stops"].iloc[-1]
    assert (last["start_s"], last["end_s"]) == (11.2 * H, 11.5 * H)
