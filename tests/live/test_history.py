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
from twin.sim.engine import Simulation

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
