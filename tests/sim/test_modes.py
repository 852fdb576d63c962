"""Every mode in one run: the modes' limits hold in the event log, checked independently.

The checks read the event log and the scenario only (the geometry with
shapely directly, not through :mod:`twin.airspace`), so an engine that broke
a rule would be caught even if the airspace code agreed with it.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Polygon

from twin.dispatch import DefaultTraits, Plan, PlanError
from twin.dispatch.planning import servable_today
from twin.maps.registry import load_network
from twin.metrics import conservation, kpis
from twin.scenario import Scenario, load_scenario
from twin.sim.engine import Simulation
from twin.weather import Weather

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "small_modes.yaml"
H = 3600.0


def _run(scenario: Scenario, **kw: object) -> object:
    return Simulation(scenario, load_network(scenario.map.ref), **kw).run()  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def clear() -> object:
    return _run(load_scenario(SCENARIO))


@pytest.fixture(scope="module")
def storm() -> object:
    return _run(load_scenario(SCENARIO, variant="storm"))


def _details(frame: pd.DataFrame) -> list[dict]:
    return [json.loads(d) if d else {} for d in frame["details"]]


def _modes(result: object) -> dict[str, str]:
    """Mode of every vehicle that worked (idle fleet vehicles are in the table too)."""
    vehicles = result.vehicles  # type: ignore[attr-defined]
    vehicles = vehicles[vehicles["status"] == "worked"]
    return dict(zip(vehicles["vehicle_id"], vehicles["mode"], strict=False))


def _xy(lat: np.ndarray, lon: np.ndarray, origin: tuple[float, float]) -> np.ndarray:
    kx = 111_320.0 * math.cos(math.radians(origin[0]))
    return np.column_stack(((lon - origin[1]) * kx, (lat - origin[0]) * 110_540.0))


def test_every_mode_delivers(clear: object) -> None:
    events = clear.events  # type: ignore[attr-defined]
    modes = _modes(clear)
    handed = events[events["kind"].isin(["delivered", "in_locker"])]
    by_mode = handed["vehicle_id"].map(modes).value_counts()
    for mode in ("van", "autonomous_van", "cargo_bike", "robot", "drone"):
        assert by_mode.get(mode, 0) > 0, f"no {mode} delivered anything: {by_mode.to_dict()}"
    assert (events["kind"] == "in_locker").sum() > 0
    assert (events["kind"] == "redirected").sum() > 0


def test_no_flight_crosses_a_no_fly_polygon(clear: object) -> None:
    scenario = load_scenario(SCENARIO)
    events = clear.events  # type: ignore[attr-defined]
    flights = events[events["kind"] == "flight"]
    assert len(flights) > 20
    zone = scenario.airspace.no_fly[0]
    pts = np.array(zone.points)
    origin = (float(pts[:, 0].mean()), float(pts[:, 1].mean()))
    polygon = Polygon(_xy(pts[:, 0], pts[:, 1], origin))
    detours = 0
    for d in _details(flights):
        path = np.array(d["path"])
        line = LineString(_xy(path[:, 0], path[:, 1], origin))
        assert not line.intersects(polygon), d["path"]
        # The clearance ring is a polygon (chords at the corners): within 10 %.
        assert line.distance(polygon) >= 0.9 * scenario.airspace.clearance_m, d["path"]
        detours += len(path) > 2
    assert detours > 0, "no flight needed to go around the zone: the test checks nothing"


def test_no_drone_carries_more_than_its_payload(clear: object) -> None:
    scenario = load_scenario(SCENARIO)
    payload = scenario.vehicle_types["drone"].capacity_weight_kg
    events = clear.events  # type: ignore[attr-defined]
    weight = clear.orders.set_index("order_id")["weight_kg"]  # type: ignore[attr-defined]
    modes = _modes(clear)
    drone_events = events[events["vehicle_id"].map(modes) == "drone"]
    launches = 0
    loaded: dict[str, list[str]] = defaultdict(list)
    for (_, row), d in zip(drone_events.iterrows(), _details(drone_events), strict=True):
        vid = row["vehicle_id"]
        if row["kind"] == "load_start":
            loaded[vid] = []
        elif row["kind"] == "loaded":
            loaded[vid].append(row["order_id"])
        elif row["kind"] == "launch":
            launches += 1
            carried = float(weight[loaded[vid]].sum())
            assert carried <= payload + 1e-9
            assert d["payload_kg"] == pytest.approx(carried, abs=1e-3)
    assert launches > 10


def test_no_robot_or_autonomous_van_leaves_a_parcel_without_someone_present(
    clear: object,
) -> None:
    events = clear.events  # type: ignore[attr-defined]
    modes = _modes(clear)
    mode = events["vehicle_id"].map(modes)
    needs_presence = mode.isin(["robot", "autonomous_van"])
    assert (needs_presence & (events["kind"] == "delivered")).sum() > 20
    assert not (needs_presence & (events["kind"] == "safe_drop")).any()
    pods = _details(events[needs_presence & (events["kind"] == "pod")])
    assert {d["pod"] for d in pods} <= {"scan", "signature"}
    # and they did meet absent customers, and brought those parcels back
    absent = events[needs_presence & (events["kind"] == "customer_absent")]
    assert len(absent) > 0


def test_no_locker_holds_more_than_its_compartments(clear: object) -> None:
    scenario = load_scenario(SCENARIO)
    capacity = {s.id: s.compartments for s in scenario.lockers.sites}
    events = clear.events  # type: ignore[attr-defined]
    held: dict[tuple[str, str], int] = defaultdict(int)
    where: dict[str, tuple[str, str]] = {}
    peak = 0
    for (_, row), d in zip(events.iterrows(), _details(events), strict=True):
        if row["kind"] == "in_locker":
            key = (d["locker"], d["compartment"])
            held[key] += 1
            where[row["order_id"]] = key
            assert held[key] <= capacity[key[0]][key[1]], key
            peak = max(peak, held[key])
        elif row["kind"] in ("picked_up", "expired"):
            held[where.pop(row["order_id"])] -= 1
    assert peak > 0


def test_locker_full_is_a_failed_attempt_not_an_overflow() -> None:
    base = load_scenario(SCENARIO)
    site = base.lockers.sites[0].model_copy(update={"compartments": {"small": 1, "medium": 1}})
    tight = base.model_copy(update={"lockers": base.lockers.model_copy(update={"sites": (site,)})})
    result = _run(tight)
    events = result.events  # type: ignore[attr-defined]
    failed = _details(events[events["kind"] == "failed"])
    assert any(d.get("reason") == "locker_full" for d in failed)


def test_grounded_drones_fly_no_sorties() -> None:
    base = load_scenario(SCENARIO)
    # Clear morning, storm from 11:00 to 15:00 on day 0, clear again after.
    series = ("clear",) * 11 + ("storm",) * 4 + ("clear",)
    scenario = base.model_copy(
        update={"weather": base.weather.model_copy(update={"series": series})}
    )
    result = _run(scenario)
    events = result.events  # type: ignore[attr-defined]
    weather = Weather(scenario.weather, days=scenario.days, rng=np.random.default_rng(0))
    drone = scenario.vehicle_types["drone"]
    launches = events[events["kind"] == "launch"]["time_s"].to_numpy()
    assert len(launches) > 5
    for t in launches:
        assert not weather.grounded(
            t, max_wind_kph=drone.max_wind_kph, max_rain_mm_h=drone.max_rain_mm_h
        ), f"launch at {t / H:.2f} h in {weather.state_name(t)}"
    day0 = launches[launches < 24 * H]
    assert ((day0 < 11 * H) | (day0 >= 15 * H)).all()
    assert (day0 >= 15 * H).any(), "drones should fly again after the storm"
    # The whole sortie, not just the take-off: no leg starts or ends in the storm.
    drones = set(result.vehicles.loc[result.vehicles["mode"] == "drone", "vehicle_id"])  # type: ignore[attr-defined]
    legs = events[events["kind"].isin(["flight", "arrive"]) & events["vehicle_id"].isin(drones)]
    assert len(legs) > 10
    for t in legs["time_s"]:
        assert not weather.grounded(
            t, max_wind_kph=drone.max_wind_kph, max_rain_mm_h=drone.max_rain_mm_h
        ), f"flying at {t / H:.2f} h in {weather.state_name(t)}"


def test_a_storm_day_changes_drone_share_and_on_time(clear: object, storm: object) -> None:
    k_clear = kpis(clear.orders, clear.vehicles, clear.events)  # type: ignore[attr-defined]
    k_storm = kpis(storm.orders, storm.vehicles, storm.events)  # type: ignore[attr-defined]
    assert k_clear["share_drone"] > 0.15
    assert k_storm.get("share_drone", 0.0) == 0.0
    assert k_storm["on_time_rate"] < k_clear["on_time_rate"] - 0.01


def test_orders_are_conserved_and_runs_repeat_exactly(clear: object) -> None:
    orders = clear.orders  # type: ignore[attr-defined]
    events = clear.events  # type: ignore[attr-defined]
    created = events[events["kind"] == "created"]["order_id"]
    assert created.is_unique
    assert set(created) == set(orders[orders["released"]]["order_id"])
    assert sum(conservation(orders).values()) == len(created)
    finals = orders[orders["released"]]["final_state"]
    ok = {"delivered", "picked_up", "returned_to_sender", "cancelled", "unreachable"}
    assert finals.isin(ok | {"open_at_horizon"}).all(), finals.value_counts()
    again = _run(load_scenario(SCENARIO))
    assert again.log.digest() == clear.log.digest()  # type: ignore[attr-defined]


class _GreedyDronePolicy(DefaultTraits):
    """A bad policy: every pending order to the first drone, heaviest first."""

    name = "greedy_drone"
    triggers = frozenset({"cutoff"})

    def decide(self, state):  # type: ignore[no-untyped-def]
        drone = next(v for v in state.vehicles if v.mode == "drone")
        heavy = max(servable_today(state), key=lambda o: o.demand[2])
        return Plan(routes={drone.id: (heavy.id,)})


def test_the_engine_rejects_a_parcel_over_a_drones_payload() -> None:
    scenario = load_scenario(SCENARIO)
    with pytest.raises(PlanError, match=r"greedy_drone.*drone.*payload"):
        _run(scenario, policy=_GreedyDronePolicy())


class _RobotFarAway(DefaultTraits):
    """A bad policy: the farthest order on a robot."""

    name = "robot_far_away"
    triggers = frozenset({"cutoff"})

    def decide(self, state):  # type: ignore[no-untyped-def]
        robot = next(v for v in state.vehicles if v.mode == "robot")
        small = [o for o in servable_today(state) if o.demand[1] <= 0.04 and o.demand[2] <= 25]
        m = state.travel_for(robot)([robot.hub_node], [o.node for o in small], state.now_s)
        far = small[int(np.argmax(np.where(np.isfinite(m.length_m[0]), m.length_m[0], 0)))]
        return Plan(routes={robot.id: tuple(o.id for o in small if o.node == far.node)[:1]})


def test_the_engine_rejects_a_robot_trip_beyond_its_range() -> None:
    base = load_scenario(SCENARIO)
    robot = base.vehicle_types["robot"].model_copy(update={"range_km": 0.5})
    scenario = base.model_copy(update={"vehicle_types": {**base.vehicle_types, "robot": robot}})
    with pytest.raises(PlanError, match=r"robot_far_away.*range is 0.5 km"):
        _run(scenario, policy=_RobotFarAway())


def test_laredo_drones_stay_out_of_the_airport_and_mexico() -> None:
    """On the Laredo map: the airport is avoided and no flight crosses the Rio Grande."""
    scenario = load_scenario(SCENARIO).model_copy(
        update={
            "name": "laredo_drones_small",
            "days": 1,
            "map": load_scenario(SCENARIO).map.model_copy(update={"ref": "laredo"}),
            "lockers": load_scenario(SCENARIO).lockers.model_copy(update={"sites": ()}),
        }
    )
    net = load_network("laredo")
    result = Simulation(scenario, net).run()
    events = result.events
    flights = _details(events[events["kind"] == "flight"])
    assert len(flights) > 10
    airport = next(z for z in net.meta.zones if z.kind == "airport")
    ring = np.array(airport.ring)
    origin = (float(ring[:, 0].mean()), float(ring[:, 1].mean()))
    airport_poly = Polygon(_xy(ring[:, 0], ring[:, 1], origin))
    border = np.array(net.meta.border)
    river = LineString(_xy(border[:, 0], border[:, 1], origin))
    for d in flights:
        path = np.array(d["path"])
        line = LineString(_xy(path[:, 0], path[:, 1], origin))
        assert not line.intersects(airport_poly)
        assert not line.intersects(river)
    assert sum(conservation(result.orders).values()) == (events["kind"] == "created").sum()


def test_crowd_couriers_take_the_overflow_and_are_paid_per_delivery() -> None:
    scenario = load_scenario(SCENARIO, variant="short_handed")
    result = _run(scenario)
    events = result.events  # type: ignore[attr-defined]
    offers = events[events["kind"] == "crowd_offer"]
    answers = [d["accepted"] for d in _details(offers)]
    assert any(answers), "no courier accepted anything"
    assert not all(answers), "every offer accepted: the couriers' choice is not exercised"
    vehicles = result.vehicles  # type: ignore[attr-defined]
    crowd = vehicles[vehicles["mode"] == "crowd"]
    assert len(crowd) == sum(answers)
    delivered = events[events["kind"].isin(["delivered", "in_locker"])]
    n = int(delivered["vehicle_id"].isin(set(crowd["vehicle_id"])).sum())
    assert n > 0
    # paid per delivery plus per km of each offered route
    pay = scenario.crowd.pay_per_delivery * n
    assert pay <= crowd["operating_cost"].sum() <= pay + scenario.crowd.pay_per_km * 50 * len(crowd)
    assert (crowd["driver_cost"] == 0).all()
    assert (crowd["stops_attempted"] <= scenario.crowd.max_parcels).all()
    # a courier who does not attempt a parcel brings it back; it is not lost
    no_attempts = events[events["kind"] == "no_attempt"]
    skips = no_attempts[no_attempts["details"].str.contains('"courier_skipped"')]
    skipped = set(skips["order_id"])
    assert skipped
    finals = result.orders.set_index("order_id")["final_state"]  # type: ignore[attr-defined]
    assert finals[list(skipped)].isin(["delivered", "picked_up", "open_at_horizon"]).all()
    again = _run(scenario)
    assert again.log.digest() == result.log.digest()  # type: ignore[attr-defined]


@pytest.mark.parametrize("policy", ["zones", "insertion", "nearest_vehicle"])
def test_a_policy_is_shown_only_the_modes_it_plans(policy: str) -> None:
    # These policies check capacity and time only. Given the whole five-mode fleet they
    # once handed robots and drones parcels too big for them, and the run died with a
    # PlanError; now they see vans and cargo bikes, and the rest stay at the hub.
    base = load_scenario(SCENARIO)
    scenario = Scenario.model_validate(
        {**base.model_dump(), "days": 1, "policy": {"name": policy, "params": {}}}
    )
    result = _run(scenario)
    assert set(_modes(result).values()) <= {"van", "cargo_bike"}
    assert len(_modes(result)) > 0
    idle_modes = {"autonomous_van", "robot", "drone"}
    idle = sum(e.count for e in scenario.fleet if scenario.vehicle_types[e.type].mode in idle_modes)
    (warning,) = [w for w in result.warnings if w["code"] == "vehicles_not_planned"]  # type: ignore[attr-defined]
    assert warning["count"] == idle
    assert "autonomous_van, drone, robot" in warning["message"]
    assert policy in warning["message"]


def test_a_policy_that_plans_every_mode_leaves_no_warning(clear: object) -> None:
    assert not [w for w in clear.warnings if w["code"] == "vehicles_not_planned"]  # type: ignore[attr-defined]


def test_insertion_with_bikes_beside_vans_never_gives_an_order_twice() -> None:
    # insertion puts new orders on cargo bikes too, but its periodic re-plan routes one
    # travel profile (the vans): orders already on a bike must stay the bike's. This
    # raised PlanError ("gave order ... to both ...cargo_bike-01 and ...van-04") on
    # laredo_mixed_fleet.
    from pathlib import Path

    from twin.maps import load_network
    from twin.scenario import load_scenario
    from twin.scenario.edit import derive
    from twin.sim import Simulation

    root = Path(__file__).resolve().parents[2]
    scenario = derive(
        load_scenario(root / "scenarios" / "laredo_mixed_fleet.yaml"),
        {
            "days": 1,
            "warmup_days": 0,
            "demand": {"orders_per_day": 900},
            "policy": {"name": "insertion", "params": {}},
        },
    )
    result = Simulation(scenario, load_network(scenario.map.ref)).run()
    by_bike = result.events[
        (result.events["kind"] == "delivered")
        & result.events["vehicle_id"].astype(str).str.contains("cargo_bike")
    ]
    assert len(by_bike) > 0
