"""The history schema: every bad row reported by line, round trips, simulated export."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from twin.cli import app
from twin.live.events import LiveClock, parse_event
from twin.live.history import (
    HistoryError,
    history_events,
    history_from_result,
    read_history,
    write_history,
)
from twin.live.state import LiveState
from twin.maps import load_network
from twin.scenario import load_scenario
from twin.sim import Simulation

ORDERS = """order_id,created_at,lat,lon,window_start,window_end,option
o1,2026-03-01T18:00:00,27.5,-99.5,2026-03-02T08:00:00,2026-03-02T18:00:00,home
o2,2026-03-01T19:00:00,27.6,-99.4,2026-03-02T10:00:00,2026-03-02T12:00:00,signature
"""
STOPS = """vehicle_id,order_id,attempt,arrived_at,departed_at,outcome,reason
v1,o1,1,2026-03-02T09:00:00,2026-03-02T09:04:00,delivered,
v1,o2,1,2026-03-02T10:10:00,2026-03-02T10:13:00,failed,customer_absent
"""


def _write(folder: Path, orders: str = ORDERS, stops: str = STOPS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "orders.csv").write_text(orders)
    (folder / "stops.csv").write_text(stops)
    return folder


def test_reads_a_valid_history(tmp_path: Path):
    h = read_history(_write(tmp_path))
    assert list(h.orders["order_id"]) == ["o1", "o2"]
    assert h.orders["option"].tolist() == ["home", "signature"]
    assert h.orders["area"].tolist() == ["all", "all"]  # optional column, default
    assert h.stops["departed_at"].iloc[0] == pd.Timestamp("2026-03-02T09:04:00")
    assert h.start_date.isoformat() == "2026-03-02"
    assert h.pings.empty


def test_every_bad_row_is_reported_with_its_line(tmp_path: Path):
    orders = ORDERS + "o3,yesterday,127.5,-99.4,2026-03-02T10:00:00,2026-03-02T09:00:00,drone\n"
    orders += "o1,2026-03-01T19:00:00,27.6,-99.4,2026-03-02T10:00:00,2026-03-02T12:00:00,home\n"
    stops = STOPS + "v1,o9,0,2026-03-02T11:00:00,2026-03-02T10:00:00,maybe,\n"
    with pytest.raises(HistoryError) as info:
        read_history(_write(tmp_path, orders, stops))
    problems = info.value.problems
    text = "\n".join(problems)
    assert "orders.csv line 4: created_at 'yesterday' is not an ISO 8601 time" in text
    assert "orders.csv line 4: lat '127.5' is outside [-90, 90]" in text
    assert "orders.csv line 4: option 'drone' is not one of" in text
    assert "stops.csv line 4: attempt '0' is outside [1, 100]" in text
    assert "stops.csv line 4: outcome 'maybe' is not one of delivered, failed" in text
    assert str(info.value).startswith(f"History {tmp_path} has {len(problems)} problem(s)")


def test_links_between_rows_and_tables_are_checked(tmp_path: Path):
    orders = ORDERS + "o3,2026-03-01T19:00:00,27.6,-99.4,2026-03-02T12:00:00,2026-03-02T10:00:00,\n"
    orders += "o1,2026-03-01T19:00:00,27.6,-99.4,2026-03-02T10:00:00,2026-03-02T12:00:00,home\n"
    stops = STOPS + "v1,o9,1,2026-03-02T11:00:00,2026-03-02T10:00:00,failed,\n"
    with pytest.raises(HistoryError) as info:
        read_history(_write(tmp_path, orders, stops))
    text = "\n".join(info.value.problems)
    assert "orders.csv line 4: window_end is not after window_start" in text
    assert "orders.csv line 5: order_id repeats an earlier row" in text
    assert "stops.csv line 4: departed_at is before arrived_at" in text
    assert "stops.csv line 4: order_id 'o9' is not in the orders table" in text


def test_missing_tables_and_columns(tmp_path: Path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "orders.csv").write_text(ORDERS)
    with pytest.raises(HistoryError, match=r"stops.csv \(or .parquet\) is missing"):
        read_history(tmp_path / "a")
    bad = ORDERS.replace(",window_end,", ",end,")
    with pytest.raises(HistoryError, match=r"orders\.csv: missing column 'window_end'; add it"):
        read_history(_write(tmp_path / "b", bad))


def test_offsets_are_converted_to_local_time(tmp_path: Path):
    stops = STOPS.replace("2026-03-02T09:00:00", "2026-03-02T15:00:00Z")
    h = read_history(_write(tmp_path, stops=stops))  # Laredo is UTC-6 in March
    assert h.stops["arrived_at"].iloc[0] == pd.Timestamp("2026-03-02T09:00:00")


def test_parquet_rows_are_reported_by_row(tmp_path: Path):
    good = read_history(_write(tmp_path / "csv"))
    write_history(good, tmp_path / "pq", fmt="parquet")
    assert read_history(tmp_path / "pq").orders.equals(good.orders)
    frame = pd.read_parquet(tmp_path / "pq" / "stops.parquet")
    frame.loc[1, "outcome"] = "lost"
    frame.to_parquet(tmp_path / "pq" / "stops.parquet")
    with pytest.raises(HistoryError, match=r"stops\.parquet row 2: outcome 'lost'"):
        read_history(tmp_path / "pq")


def test_simulated_day_round_trips_and_replays_into_the_same_state(tmp_path: Path):
    scenario = load_scenario("scenarios/small_grid.yaml")
    network = load_network(scenario.map.ref, network_type=scenario.map.network_type)
    result = Simulation(scenario, network).run()
    history = history_from_result(result)
    events = result.events
    attempts = int((events["kind"] == "attempted").sum())
    assert len(history.stops) == attempts
    assert (history.stops["departed_at"] >= history.stops["arrived_at"]).all()
    delivered = int((events["kind"] == "delivered").sum())
    assert int((history.stops["outcome"] == "delivered").sum()) == delivered
    again = read_history(write_history(history, tmp_path / "h"))
    assert len(again.stops) == len(history.stops)
    live = history_events(again)
    assert len({e["event_id"] for e in live}) == len(live)
    state = LiveState(scenario, network, LiveClock(scenario.start_date))
    for e in live:
        state.apply(parse_event(e))
    assert not state.anomalies
    assert state.kpis()["orders_delivered"] == delivered


TRIPS = """vehicle_id,order_id,attempt,arrived_at,departed_at,outcome,reason,trip
v1,o1,1,2026-03-02T09:00:00,2026-03-02T09:04:00,delivered,,1
v1,o2,1,2026-03-02T10:10:00,2026-03-02T10:13:00,failed,customer_absent,2
v1,o3,1,2026-03-02T11:00:00,2026-03-02T11:03:00,delivered,,2
"""
ORDERS3 = ORDERS + "o3,2026-03-01T19:00:00,27.6,-99.4,2026-03-02T08:00:00,2026-03-02T18:00:00,\n"


def test_trips_are_read_and_start_each_later_trip_with_a_reload(tmp_path: Path):
    h = read_history(_write(tmp_path / "a", ORDERS3, TRIPS))
    assert h.stops["trip"].tolist() == [1, 2, 2]
    routes = [e for e in history_events(h) if e["type"] == "route_assigned"]
    assert routes[0]["order_ids"] == ["o1", "o2", "o3"]
    assert routes[0]["reload_before"] == ["o2"]
    # Without trips (an optional column) no reload is claimed, and 0 is written empty.
    no_trip = "".join(line.rsplit(",", 1)[0] + "\n" for line in TRIPS.splitlines())
    plain = read_history(_write(tmp_path / "b", ORDERS3, no_trip))
    assert plain.stops["trip"].tolist() == [0, 0, 0]
    assert all("reload_before" not in e for e in history_events(plain))
    again = read_history(write_history(plain, tmp_path / "c"))
    assert again.stops["trip"].tolist() == [0, 0, 0]


def test_trips_numbered_out_of_driving_order_are_reported(tmp_path: Path):
    bad = TRIPS.replace("delivered,,2", "delivered,,1")
    with pytest.raises(HistoryError) as info:
        read_history(_write(tmp_path, ORDERS3, bad))
    (problem,) = info.value.problems
    assert problem.startswith("stops.csv line 4: trip 1 comes after a stop of trip 2")


def test_simulated_trips_follow_the_engine_departures():
    scenario = load_scenario("scenarios/small_grid.yaml").model_copy(update={"days": 1})
    network = load_network(scenario.map.ref, network_type=scenario.map.network_type)
    result = Simulation(scenario, network).run()
    stops = history_from_result(result).stops
    departs = result.events[result.events["kind"] == "depart"].groupby("vehicle_id").size()
    trips = stops.groupby("vehicle_id")["trip"].max()
    assert (trips <= departs[trips.index]).all()
    assert (stops.groupby("vehicle_id")["trip"].min() == 1).all()
    steps = stops.sort_values("arrived_at").groupby("vehicle_id")["trip"].diff().dropna()
    assert (steps >= 0).all()


def test_cli_reports_bad_history_without_traceback(tmp_path: Path):
    folder = _write(tmp_path, stops=STOPS.replace("delivered", "deliverd"))
    result = CliRunner().invoke(
        app, ["calibrate", str(folder), "--scenario", "scenarios/small_grid.yaml"]
    )
    assert result.exit_code == 2
    assert "stops.csv line 2: outcome 'deliverd'" in result.output
    assert "Traceback" not in result.output


def test_cli_calibrates_a_simulated_history(tmp_path: Path):
    runner = CliRunner()
    made = runner.invoke(
        app, ["history", "scenarios/small_grid.yaml", "--out", str(tmp_path / "h")]
    )
    assert made.exit_code == 0, made.output
    done = runner.invoke(
        app,
        ["calibrate", str(tmp_path / "h"), "--scenario", "scenarios/small_grid.yaml",
         "--replications", "2", "--out", str(tmp_path / "cal")],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    calibrated = load_scenario(tmp_path / "cal" / "calibrated.yaml")
    assert calibrated.name == "small_grid_calibrated"
    assert (tmp_path / "cal" / "validation.json").exists()
    assert "Validation" in (tmp_path / "cal" / "report.html").read_text()
