"""Delivery modes in KPIs and reports: per-mode numbers by hand, mode charts, the report section.

Everything runs on small hand-made tables (no simulation): the numbers are
chosen so that each expected value can be checked with pencil and paper.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from twin.experiment import ReplicationSet
from twin.maps.network import OSM_ATTRIBUTION, RoadNetwork
from twin.maps.registry import load_network
from twin.metrics import handovers, kpis, kpis_by_mode
from twin.report.html import write_report
from twin.report.plots import plot_flights, plot_mode_mix_by_hour
from twin.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parents[2]
H = 3600.0
#: Points inside the synthetic Laredo map (lat, lon), clear of its airport.
HUB = (27.52, -99.50)
NORTH = (27.60, -99.48)
EAST = (27.55, -99.45)


@pytest.fixture(scope="module")
def laredo() -> RoadNetwork:
    return load_network("laredo")


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return load_scenario(ROOT / "scenarios" / "small_grid.yaml")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# -- hand-made tables ------------------------------------------------------------------------
def _orders(rows: list[dict[str, Any]]) -> pd.DataFrame:
    defaults = {
        "released": True,
        "attempts": 1,
        "delivered_s": math.nan,
        "window_start_s": 8 * H,
        "window_end_s": 12 * H,
        "eta_announced_s": math.nan,
        "arrival_s": math.nan,
        "satisfaction": 4.0,
        "lat": HUB[0],
        "lon": HUB[1],
    }
    frame = pd.DataFrame([{**defaults, **row} for row in rows])
    frame["customer"] = range(len(frame))
    return frame


def _vehicles(rows: list[dict[str, Any]]) -> pd.DataFrame:
    defaults = {
        "day": 0,
        "driver_cost": 0.0,
        "distance_cost": 0.0,
        "fixed_cost": 0.0,
        "co2_kg": 0.0,
        "km": 0.0,
        "working_h": 1.0,
        "shift_h": 8.0,
        "overtime_h": 0.0,
        "hub": "hub",
        "trips": 1,
        "stops_attempted": 1,
        # The working hour's split, as the engine's table has it (sums to working_h).
        "driving_h": 0.5,
        "at_stops_h": 0.25,
        "loading_h": 0.1,
        "waiting_h": 0.1,
        "break_h": 0.05,
    }
    return pd.DataFrame([{**defaults, **row} for row in rows])


def _events(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """An event log with the columns and dtypes of ``EventLog.to_frame``."""
    full = []
    for row in rows:
        details = row.get("details")
        full.append(
            {
                "time_s": float(row.get("time_s", 10 * H)),
                "day": int(row.get("day", 0)),
                "kind": row["kind"],
                "order_id": row.get("order_id"),
                "vehicle_id": row.get("vehicle_id"),
                "driver_id": None,
                "node": None,
                "lat": float(row.get("lat", math.nan)),
                "lon": float(row.get("lon", math.nan)),
                "details": json.dumps(details) if details else "",
            }
        )
    frame = pd.DataFrame(
        full,
        columns=[
            "time_s",
            "day",
            "kind",
            "order_id",
            "vehicle_id",
            "driver_id",
            "node",
            "lat",
            "lon",
            "details",
        ],
    )
    frame["node"] = frame["node"].astype("Int64")
    for col in ("kind", "order_id", "vehicle_id", "driver_id", "details"):
        frame[col] = frame[col].astype("string")
    return frame


def _delivery(order: str, vehicle: str, time_s: float, kind: str = "delivered") -> list[dict]:
    return [
        {"kind": "attempted", "order_id": order, "vehicle_id": vehicle, "time_s": time_s},
        {"kind": kind, "order_id": order, "vehicle_id": vehicle, "time_s": time_s},
    ]


def _flight(path: list[tuple[float, float]], *, day: int = 0) -> dict[str, Any]:
    return {
        "kind": "flight",
        "vehicle_id": "hub/drone-1",
        "day": day,
        "time_s": day * 86400.0 + 10 * H,
        "lat": path[-1][0],
        "lon": path[-1][1],
        "details": {"path": [list(p) for p in path], "length_m": 1000.0, "payload_kg": 1.2},
    }


@pytest.fixture
def van_and_drone() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """3 van deliveries for 30 in van costs, 1 drone delivery for 2 (0.5 of it operating)."""
    orders = _orders(
        [
            {"order_id": f"o{i}", "final_state": "delivered", "delivered_s": 10 * H}
            for i in range(1, 5)
        ]
    )
    vehicles = _vehicles(
        [
            {
                "vehicle_id": "hub/van-1",
                "mode": "van",
                "fixed_cost": 20.0,
                "distance_cost": 4.0,
                "driver_cost": 6.0,
                "co2_kg": 9.0,
                "km": 30.0,
                "operating_cost": 0.0,
            },
            {
                "vehicle_id": "hub/drone-1",
                "mode": "drone",
                "fixed_cost": 1.0,
                "distance_cost": 0.5,
                "co2_kg": 0.1,
                "km": 4.0,
                "operating_cost": 0.5,
            },
        ]
    )
    events = _events(
        [
            *_delivery("o1", "hub/van-1", 9 * H),
            *_delivery("o2", "hub/van-1", 10 * H),
            *_delivery("o3", "hub/van-1", 11 * H),
            *_delivery("o4", "hub/drone-1", 10.5 * H),
        ]
    )
    return orders, vehicles, events


@pytest.fixture
def lockers() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Door delivery, failed-then-locker, a crowd courier's locker deposit, a failure.

    o1: van delivers at the door, on time.
    o2: van fails at the door, later deposits it in a locker after the window;
        the customer picks it up (final state ``picked_up``).
    o3: crowd courier deposits it in a locker on time, not yet collected at the
        horizon (final state ``open_at_horizon``: only the events show the deposit).
    o4: crowd courier fails; returned to sender.
    o5: never released.
    """
    orders = _orders(
        [
            {"order_id": "o1", "final_state": "delivered", "delivered_s": 10 * H},
            {"order_id": "o2", "final_state": "picked_up", "delivered_s": 14 * H},
            {
                "order_id": "o3",
                "final_state": "open_at_horizon",
                "delivered_s": 9 * H,
                "attempts": 0,
            },
            {"order_id": "o4", "final_state": "returned_to_sender"},
            {"order_id": "o5", "final_state": "not_released", "released": False, "attempts": 0},
        ]
    )
    vehicles = _vehicles(
        [
            {"vehicle_id": "hub/van-1", "mode": "van", "fixed_cost": 60.0, "driver_cost": 40.0},
            {"vehicle_id": "crowd-7", "mode": "crowd", "operating_cost": 6.0},
        ]
    )
    events = _events(
        [
            *_delivery("o1", "hub/van-1", 10 * H),
            {"kind": "attempted", "order_id": "o2", "vehicle_id": "hub/van-1", "time_s": 9 * H},
            {"kind": "failed", "order_id": "o2", "vehicle_id": "hub/van-1", "time_s": 9 * H},
            {"kind": "redirected", "order_id": "o2", "time_s": 13 * H},
            {"kind": "in_locker", "order_id": "o2", "vehicle_id": "hub/van-1", "time_s": 14 * H},
            {"kind": "picked_up", "order_id": "o2", "time_s": 18 * H},
            {"kind": "in_locker", "order_id": "o3", "vehicle_id": "crowd-7", "time_s": 9 * H},
            {"kind": "attempted", "order_id": "o4", "vehicle_id": "crowd-7", "time_s": 11 * H},
            {"kind": "failed", "order_id": "o4", "vehicle_id": "crowd-7", "time_s": 11 * H},
        ]
    )
    return orders, vehicles, events


# -- metrics ---------------------------------------------------------------------------------
def test_cost_per_delivery_by_mode_by_hand(van_and_drone):
    table = kpis_by_mode(*van_and_drone)
    assert list(table.index) == ["van", "drone"]
    assert table.loc["van", "deliveries"] == 3
    assert table.loc["drone", "deliveries"] == 1
    assert table.loc["van", "cost_per_delivery"] == pytest.approx(10.0)
    assert table.loc["drone", "cost_per_delivery"] == pytest.approx(2.0)
    assert table.loc["van", "share"] == pytest.approx(0.75)
    assert table.loc["drone", "share"] == pytest.approx(0.25)
    assert table.loc["van", "co2_kg_per_delivery"] == pytest.approx(3.0)
    assert table.loc["drone", "km_per_delivery"] == pytest.approx(4.0)
    assert table.loc["van", "on_time_rate"] == pytest.approx(1.0)
    assert table.loc["van", "failed_attempts"] == 0
    assert table.loc["van", "failed_delivery_rate"] == pytest.approx(0.0)


def test_run_cost_per_delivery_includes_operating_cost(van_and_drone):
    k = kpis(*van_and_drone)
    assert k["delivered"] == 4
    assert k["cost_per_delivery"] == pytest.approx(32.0 / 4)
    assert k["share_van"] == pytest.approx(0.75)
    assert k["share_drone"] == pytest.approx(0.25)


def test_missing_operating_cost_column_counts_as_zero(van_and_drone):
    orders, vehicles, events = van_and_drone
    older = vehicles.drop(columns="operating_cost")
    assert kpis(orders, older, events)["cost_per_delivery"] == pytest.approx(31.5 / 4)
    table = kpis_by_mode(orders, older, events)
    assert table.loc["drone", "cost_per_delivery"] == pytest.approx(1.5)
    assert table.loc["van", "cost_per_delivery"] == pytest.approx(10.0)


def test_locker_deposits_count_as_deliveries(lockers):
    k = kpis(*lockers)
    # o1 at the door, o2 (picked up) and o3 (in the locker at the horizon).
    assert k["delivered"] == 3
    assert k["orders_released"] == 4
    assert k["on_time_rate"] == pytest.approx(2 / 3)  # o2 deposited after its window
    # First-attempt successes o1 and o3 among the 4 attempted or handed-over orders.
    assert k["first_attempt_success_rate"] == pytest.approx(2 / 4)
    assert k["failed_delivery_rate"] == pytest.approx(2 / 3)  # 2 failed of 3 attempts
    assert k["cost_per_delivery"] == pytest.approx(106.0 / 3)
    assert k["share_van"] == pytest.approx(2 / 3)
    assert k["share_crowd"] == pytest.approx(1 / 3)


def test_kpis_by_mode_with_lockers_and_crowd(lockers):
    table = kpis_by_mode(*lockers)
    assert list(table.index) == ["van", "crowd"]
    van, crowd = table.loc["van"], table.loc["crowd"]
    assert van["deliveries"] == 2
    assert van["cost_per_delivery"] == pytest.approx(50.0)
    assert van["on_time_rate"] == pytest.approx(0.5)
    assert van["attempts"] == 2
    assert van["failed_attempts"] == 1
    assert van["failed_delivery_rate"] == pytest.approx(0.5)
    assert crowd["deliveries"] == 1
    assert crowd["cost_per_delivery"] == pytest.approx(6.0)
    assert crowd["on_time_rate"] == pytest.approx(1.0)
    assert crowd["failed_delivery_rate"] == pytest.approx(1.0)
    assert table["share"].sum() == pytest.approx(1.0)


def test_handovers_keep_the_first_one_per_order(lockers):
    events = lockers[2]
    again = pd.concat([events, _events(_delivery("o3", "hub/van-1", 30 * H))], ignore_index=True)
    first = handovers(again).set_index("order_id")
    assert sorted(first.index) == ["o1", "o2", "o3"]
    assert first.loc["o3", "vehicle_id"] == "crowd-7"
    assert first.loc["o2", "kind"] == "in_locker"


def test_mode_without_deliveries_has_undefined_rates(van_and_drone):
    orders, vehicles, events = van_and_drone
    bike = _vehicles([{"vehicle_id": "mh/bike-1", "mode": "cargo_bike", "fixed_cost": 18.0}])
    table = kpis_by_mode(orders, pd.concat([vehicles, bike], ignore_index=True), events)
    assert list(table.index) == ["van", "cargo_bike", "drone"]
    assert table.loc["cargo_bike", "deliveries"] == 0
    assert table.loc["cargo_bike", "cost"] == pytest.approx(18.0)
    assert math.isnan(table.loc["cargo_bike", "cost_per_delivery"])
    assert math.isnan(table.loc["cargo_bike", "on_time_rate"])


# -- plots -----------------------------------------------------------------------------------
def _texts(ax: Any) -> list[str]:
    return [t.get_text() for t in ax.figure.findobj(matplotlib.text.Text)]


def test_mode_mix_stacks_handovers_by_hour_and_mode(lockers, van_and_drone):
    _, vehicles, events = van_and_drone
    ax = plot_mode_mix_by_hour(events, vehicles)
    heights = {c.get_label(): [p.get_height() for p in c.patches] for c in ax.containers}
    assert set(heights) == {"van", "drone"}
    assert heights["van"][9] == 1
    assert heights["van"][10] == 1
    assert heights["van"][11] == 1
    assert heights["drone"][10] == 1
    assert sum(heights["van"]) == 3
    # Locker deposits are hand-overs too: o2 at 14 h by the van, o3 at 9 h by the crowd.
    ax = plot_mode_mix_by_hour(lockers[2], lockers[1])
    heights = {c.get_label(): [p.get_height() for p in c.patches] for c in ax.containers}
    assert heights["van"][14] == 1
    assert heights["crowd"][9] == 1
    assert sum(heights["van"]) + sum(heights["crowd"]) == 3


def test_flight_map_draws_every_flight_of_the_day(laredo):
    bent = [HUB, (27.57, -99.52), NORTH]
    events = _events(
        [
            {"kind": "launch", "vehicle_id": "hub/drone-1", "lat": HUB[0], "lon": HUB[1]},
            _flight(bent),
            _flight([NORTH, HUB]),
            _flight([HUB, EAST]),
            _flight([HUB, EAST], day=1),
        ]
    )
    ax = plot_flights(events, laredo, day=0)
    flights = [line for line in ax.lines if line.get_gid() == "flight"]
    assert len(flights) == 3
    assert len(flights[0].get_xdata()) == 3  # the bend is drawn, not a straight line
    assert list(flights[0].get_ydata()) == pytest.approx([p[0] for p in bent])
    texts = _texts(ax)
    assert laredo.meta.attribution in texts
    assert "Laredo International Airport" in texts
    assert "international border" in ax.get_legend_handles_labels()[1]
    assert len([line for line in plot_flights(events, laredo, day=1).lines if line.get_gid()]) == 1


def test_flight_map_of_osm_data_credits_openstreetmap(laredo):
    osm = copy.copy(laredo)
    osm.meta = dataclasses.replace(laredo.meta, synthetic=False, attribution=OSM_ATTRIBUTION)
    ax = plot_flights(_events([_flight([HUB, EAST])]), osm)
    assert "© OpenStreetMap contributors" in _texts(ax)


# -- the report ------------------------------------------------------------------------------
@dataclass
class _FakeResult:
    """The attributes of a SimResult that write_report reads."""

    scenario: Scenario
    orders: pd.DataFrame
    vehicles: pd.DataFrame
    events: pd.DataFrame
    routes: list[dict[str, Any]] = field(default_factory=list)
    hubs: dict[str, int] = field(default_factory=dict)
    warnings: list[dict[str, Any]] = field(default_factory=list)

    def measured(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        return self.orders, self.vehicles, self.events  # hand-built: one day, no warm-up


def _result_set(scenario: Scenario, tables: list[tuple]) -> ReplicationSet:
    results = [_FakeResult(scenario, *t) for t in tables]
    return ReplicationSet(
        scenario=scenario,
        results=results,  # type: ignore[arg-type]
        per_run=[kpis(r.orders, r.vehicles, r.events) for r in results],
    )


def _vans_only(van_and_drone):
    orders, vehicles, events = van_and_drone
    vans = vehicles[vehicles["mode"] == "van"]
    return orders, vans, events[events["vehicle_id"] != "hub/drone-1"]


def test_vans_only_report_has_no_modes_section(van_and_drone, scenario, laredo, tmp_path):
    path = write_report(_result_set(scenario, [_vans_only(van_and_drone)]), laredo, tmp_path)
    page = path.read_text(encoding="utf-8")
    assert "Delivery modes" not in page
    assert 'id="modes"' not in page
    assert not (tmp_path / "figures" / "mode_mix.png").exists()
    assert not (tmp_path / "figures" / "drone_flights.png").exists()


def test_mixed_modes_report_has_the_modes_section(van_and_drone, scenario, laredo, tmp_path):
    orders, vehicles, events = van_and_drone
    flown = pd.concat([events, _events([_flight([HUB, EAST])])], ignore_index=True)
    tables = [(orders, vehicles, flown), van_and_drone]
    path = write_report(_result_set(scenario, tables), laredo, tmp_path)
    page = path.read_text(encoding="utf-8")
    assert "<h2>Delivery modes</h2>" in page
    assert 'id="modes"' in page
    assert 'id="modes-mean"' in page  # two replications
    assert "<td>drone</td><td>1</td><td>1</td>" in page  # drone: 1 vehicle-day, 1 delivery
    assert 'alt="drone flight map"' in page
    assert (tmp_path / "figures" / "mode_mix.png").exists()
    assert (tmp_path / "figures" / "drone_flights.png").exists()


def test_single_mode_drone_flights_still_get_the_section(scenario, laredo, tmp_path):
    orders = _orders([{"order_id": "o1", "final_state": "delivered", "delivered_s": 10 * H}])
    vehicles = _vehicles([{"vehicle_id": "hub/drone-1", "mode": "drone", "fixed_cost": 2.0}])
    events = _events([*_delivery("o1", "hub/drone-1", 10 * H), _flight([HUB, EAST])])
    path = write_report(_result_set(scenario, [(orders, vehicles, events)]), laredo, tmp_path)
    page = path.read_text(encoding="utf-8")
    assert "<h2>Delivery modes</h2>" in page
    assert 'id="modes-mean"' not in page  # one replication: no mean table
    assert 'alt="drone flight map"' in page
