"""Truck-and-drone: vans carry a drone, launch it at a stop and recover it there.

The checks read the event log: each sortie starts where its van stands, the
van does not drive on before its drone is back, flights keep out of the
no-fly box, the drone carries one parcel within its payload, and it stays
on board in a storm (the van serves those orders itself).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Polygon

from twin.dispatch import DefaultTraits, Plan, PlanError
from twin.dispatch.planning import servable_today
from twin.errors import ScenarioError
from twin.maps.registry import load_network
from twin.metrics import conservation
from twin.scenario import Scenario, load_scenario
from twin.sim.engine import Simulation
from twin.weather import Weather

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "small_modes.yaml"
H = 3600.0


def _scenario(**update: object) -> Scenario:
    base = load_scenario(SCENARIO, variant="truck_and_drone")
    return base.model_copy(update=update) if update else base


def _run(scenario: Scenario, **kw: object) -> object:
    return Simulation(scenario, load_network(scenario.map.ref), **kw).run()  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def result() -> object:
    return _run(_scenario())


def _details(frame: pd.DataFrame) -> list[dict]:
    return [json.loads(d) if d else {} for d in frame["details"]]


def _launches(events: pd.DataFrame) -> list[tuple[pd.Series, dict]]:
    launches = events[events["kind"] == "launch"]
    return list(zip((row for _, row in launches.iterrows()), _details(launches), strict=True))


def test_each_sortie_starts_and_ends_where_its_van_waits(result: object) -> None:
    events = result.events  # type: ignore[attr-defined]
    launches = _launches(events)
    assert len(launches) > 20
    recovered = events[events["kind"] == "recovered"]
    for row, d in launches:
        van = d["carrier"]
        moves = events[(events["vehicle_id"] == van) & (events["kind"] == "arrive")]
        before = moves[moves["time_s"] <= row["time_s"]]
        assert int(before.iloc[-1]["node"]) == int(row["node"]), "launched away from the van"
        back = recovered[
            (recovered["vehicle_id"] == row["vehicle_id"]) & (recovered["time_s"] >= row["time_s"])
        ].iloc[0]
        assert int(back["node"]) == int(row["node"])
        after = moves[moves["time_s"] > row["time_s"]]
        if len(after):  # the van sets off for its next stop only once the drone is back
            nxt = after.iloc[0]
            drive_s = json.loads(nxt["details"])["drive_s"]  # logged to the millisecond
            assert nxt["time_s"] - drive_s >= back["time_s"] - 1e-3


def test_carried_drones_drop_one_light_safe_drop_parcel_per_sortie(result: object) -> None:
    scenario = _scenario()
    payload = scenario.vehicle_types["drone"].capacity_weight_kg
    events = result.events  # type: ignore[attr-defined]
    orders = result.orders.set_index("order_id")  # type: ignore[attr-defined]
    dropped = events[(events["kind"] == "safe_drop") & events["vehicle_id"].str.endswith("/drone")]
    assert len(dropped) > 20
    assert (orders.loc[dropped["order_id"], "option"] == "safe_drop").all()
    for _, d in _launches(events):
        assert d["parcels"] == 1
        assert d["payload_kg"] <= payload + 1e-9
    # the drone's parcel is the next order on the van's route: delivered by the drone
    drone_attempts = events[
        (events["kind"] == "attempted") & events["vehicle_id"].str.endswith("/drone")
    ]
    assert len(drone_attempts) == len(_launches(events))


def test_van_launched_flights_keep_out_of_the_no_fly_box(result: object) -> None:
    scenario = _scenario()
    zone = np.array(scenario.airspace.no_fly[0].points)
    origin = (float(zone[:, 0].mean()), float(zone[:, 1].mean()))
    kx = 111_320.0 * math.cos(math.radians(origin[0]))

    def xy(points: np.ndarray) -> np.ndarray:
        return np.column_stack(
            ((points[:, 1] - origin[1]) * kx, (points[:, 0] - origin[0]) * 110_540.0)
        )

    box = Polygon(xy(zone))
    events = result.events  # type: ignore[attr-defined]
    flights = events[(events["kind"] == "flight") & events["vehicle_id"].str.endswith("/drone")]
    assert len(flights) > 40
    for d in _details(flights):
        line = LineString(xy(np.array(d["path"])))
        assert line.distance(box) >= 0.9 * scenario.airspace.clearance_m


def test_carried_drones_have_their_own_vehicle_rows_and_costs(result: object) -> None:
    vehicles = result.vehicles  # type: ignore[attr-defined]
    drones = vehicles[vehicles["mode"] == "drone"]
    assert set(drones["vehicle_id"]) <= {f"depot/van-0{k}/drone" for k in (1, 2, 3)}
    assert (drones["km"] > 0).any()
    assert (drones["operating_cost"] > 0).all()
    assert (drones["driver_cost"] == 0).all()


def test_orders_are_conserved_and_runs_repeat(result: object) -> None:
    orders = result.orders  # type: ignore[attr-defined]
    created = result.events[result.events["kind"] == "created"]  # type: ignore[attr-defined]
    assert sum(conservation(orders).values()) == len(created)
    assert _run(_scenario()).log.digest() == result.log.digest()  # type: ignore[attr-defined]


def test_in_a_storm_the_drone_stays_on_board_and_the_van_serves_its_orders() -> None:
    base = _scenario()
    series = ("clear",) * 11 + ("storm",) * 4 + ("clear",)
    scenario = base.model_copy(
        update={"weather": base.weather.model_copy(update={"series": series})}
    )
    events = _run(scenario).events  # type: ignore[attr-defined]
    weather = Weather(scenario.weather, days=scenario.days, rng=np.random.default_rng(0))
    drone = scenario.vehicle_types["drone"]
    for row, _ in _launches(events):
        assert not weather.grounded(
            row["time_s"], max_wind_kph=drone.max_wind_kph, max_rain_mm_h=drone.max_rain_mm_h
        )
    flying = events["kind"].isin(["flight", "arrive"]) & events["vehicle_id"].str.endswith("/drone")
    for t in events.loc[flying.fillna(False), "time_s"]:  # the whole sortie in flyable weather
        assert not weather.grounded(
            t, max_wind_kph=drone.max_wind_kph, max_rain_mm_h=drone.max_rain_mm_h
        ), f"flying at {t / H:.2f} h in {weather.state_name(t)}"
    held = events[(events["kind"] == "grounded") & events["vehicle_id"].str.endswith("/drone")]
    assert len(held) > 0
    day0 = held[held["time_s"] < 24 * H]["time_s"]
    assert ((day0 >= 11 * H) & (day0 < 15 * H)).all()


def _bad_drops(pick: Callable[[tuple[str, ...]], str]) -> object:
    class Policy(DefaultTraits):
        name = "bad_drops"
        triggers = frozenset({"cutoff"})

        def decide(self, state):  # type: ignore[no-untyped-def]
            van = next(v for v in state.vehicles if v.drone is not None)
            light = [
                o
                for o in servable_today(state)
                if o.option == "safe_drop" and o.demand[2] <= 2 and o.demand[1] <= 0.03
            ][:4]
            stops = tuple(o.id for o in light)
            return Plan(routes={van.id: stops}, drone_drops={van.id: frozenset({pick(stops)})})

    return Policy()


def test_a_drop_needs_a_van_stop_to_launch_from() -> None:
    with pytest.raises(PlanError, match=r"bad_drops.*needs a stop of the vehicle before"):
        _run(_scenario(), policy=_bad_drops(lambda stops: stops[0]))


def test_a_drop_beyond_the_drones_range_is_rejected() -> None:
    base = _scenario()
    short = base.vehicle_types["drone"].model_copy(update={"range_km": 0.05})
    scenario = base.model_copy(update={"vehicle_types": {**base.vehicle_types, "drone": short}})
    with pytest.raises(PlanError, match=r"bad_drops.*drone.*range is 0.05 km"):
        _run(scenario, policy=_bad_drops(lambda stops: stops[1]))


def test_only_a_drone_type_can_ride_on_a_van(tmp_path: Path) -> None:
    text = SCENARIO.read_text().replace("    capacity_parcels: 45\n", "    drone: robot\n", 1)
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=r"vehicle_types.van.drone 'robot'.*mode: drone"):
        load_scenario(path)
