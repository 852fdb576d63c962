"""Every shipped policy through the engine's checks, and the dynamic behaviour they promise."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from twin.dispatch import (
    POLICIES,
    RELOAD,
    DefaultTraits,
    DispatchState,
    OrderView,
    Plan,
    PlanError,
    VehicleView,
    make_policy,
    validate_plan,
)
from twin.dispatch.zones import balanced_kmeans
from twin.errors import ScenarioError
from twin.maps import load_network
from twin.scenario import Scenario
from twin.sim import SimResult, Simulation
from twin.testing import PolicyCheckError, check_policy, check_scenario

DOCS = Path(__file__).resolve().parents[2] / "docs" / "how-to" / "write-a-policy.md"


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_every_policy_passes_the_engine_checks(name: str) -> None:
    result = check_policy(POLICIES[name])
    assert result.policy == name
    assert result.kpis["delivered"] > 0
    assert set(result.final_states) <= {
        "delivered", "cancelled", "open_at_horizon", "returned_to_sender", "unreachable"
    }  # fmt: skip


def test_the_documented_example_policy_works() -> None:
    code = re.findall(r"```python\n(.*?)```", DOCS.read_text(), flags=re.S)[0]
    namespace: dict[str, object] = {}
    exec(compile(code, str(DOCS), "exec"), namespace)
    result = check_policy(namespace["EarliestDeadlinePolicy"])  # type: ignore[arg-type]
    assert result.kpis["delivered"] > 50


def test_check_policy_catches_a_nondeterministic_policy() -> None:
    class Coin(DefaultTraits):
        """Random without a seed: the second run differs."""

        name = "coin"

        def __init__(self) -> None:
            self.rng = np.random.default_rng()

        def decide(self, state: DispatchState) -> Plan:
            if state.trigger != "cutoff":
                return Plan(routes={})
            orders = [o.id for o in state.orders if self.rng.random() < 0.5][:30]
            v = state.vehicles[0]
            return Plan(routes={v.id: v.route([orders])})

    with pytest.raises(PolicyCheckError, match="not deterministic"):
        check_policy(Coin)


def test_check_policy_reports_a_rejected_plan() -> None:
    class Greedy(DefaultTraits):
        name = "greedy"

        def decide(self, state: DispatchState) -> Plan:
            v = state.vehicles[0] if state.vehicles else None
            if v is None or not state.orders:
                return Plan(routes={})
            return Plan(routes={v.id: v.route([[o.id for o in state.orders]])})

    with pytest.raises(PolicyCheckError, match=r"greedy.*overloads"):
        check_policy(Greedy)


def test_policies_by_import_path_and_bad_names() -> None:
    policy = make_policy("twin.dispatch.zones:ZonesPolicy", replan_every_min=15)
    assert policy.name == "zones"
    with pytest.raises(ScenarioError, match="unknown"):
        make_policy("fastest")
    with pytest.raises(ScenarioError, match="cannot import"):
        make_policy("no_such_module:Policy")
    with pytest.raises(ScenarioError, match="bad parameters"):
        make_policy("rolling_horizon", every_min=0)


# -- plan validation --------------------------------------------------------------------
def _vehicle(**kw: object) -> VehicleView:
    base = dict(
        id="v1", type="van", mode="van", hub="h", hub_node=0, node=0, available_s=0.0,
        capacity=(3.0, 10.0, 100.0), committed=(), shift_start_s=0.0, shift_end_s=36_000.0,
        max_working_s=39_600.0, break_after_s=16_200.0, break_s=1_800.0, fixed_cost=0.0,
        cost_per_km=0.0, cost_per_h=0.0, overtime_cost_per_h=0.0, speed_factor=1.0,
        max_trips=2,
    )  # fmt: skip
    base.update(kw)
    return VehicleView(**base)  # type: ignore[arg-type]


def _order(oid: str, vehicle_id: str | None = None) -> OrderView:
    return OrderView(
        id=oid, node=1, lat=0.0, lon=0.0, demand=(1.0, 0.1, 1.0), window_start_s=0.0,
        window_end_s=36_000.0, service_s=60.0, option="signature", attempts=0, due_day=0,
        created_s=0.0, vehicle_id=vehicle_id,
    )  # fmt: skip


def _state(vehicles: tuple[VehicleView, ...], orders: tuple[OrderView, ...]) -> DispatchState:
    return DispatchState(
        now_s=0.0, day=0, trigger="tick", orders=orders, vehicles=vehicles, hubs={"h": 0},
        travel=lambda s, t, d: None,  # type: ignore[arg-type, return-value]
    )  # fmt: skip


def test_plans_must_keep_committed_stops_first() -> None:
    v = _vehicle(committed=("a", "b"))
    state = _state((v,), (_order("c"),))
    validate_plan("p", state, Plan(routes={"v1": ("a", "b", RELOAD, "c")}))
    validate_plan("p", state, Plan(routes={"v1": ("a", "b", "c")}))  # RELOAD implied
    with pytest.raises(PlanError, match="committed stops"):
        validate_plan("p", state, Plan(routes={"v1": ("b", "a", RELOAD, "c")}))


def test_plans_respect_trips_left_and_capacity_per_trip() -> None:
    v = _vehicle(committed=("a",), max_trips=2)
    orders = tuple(_order(x) for x in "cdefg")
    state = _state((v,), orders)
    with pytest.raises(PlanError, match="2 more today"):
        validate_plan("p", state, Plan(routes={"v1": ("a", RELOAD, "c", RELOAD, "d")}))
    with pytest.raises(PlanError, match="overloads"):
        validate_plan("p", state, Plan(routes={"v1": ("a", RELOAD, "c", "d", "e", "f")}))


def test_an_order_kept_by_another_vehicle_cannot_be_planned_twice() -> None:
    v1 = _vehicle(id="v1")
    v2 = _vehicle(id="v2", planned=("c",))
    state = _state((v1, v2), (_order("c", vehicle_id="v2"),))
    with pytest.raises(PlanError, match="both"):
        validate_plan("p", state, Plan(routes={"v1": ("c",)}))
    validate_plan("p", state, Plan(routes={"v1": ("c",), "v2": ()}))  # moved, not doubled


def test_balanced_kmeans_keeps_clusters_within_capacity() -> None:
    rng = np.random.default_rng(3)
    blobs = [rng.normal(c, 0.3, size=(n, 2)) for c, n in (((0, 0), 60), ((5, 0), 25), ((0, 5), 15))]
    xy = np.vstack(blobs)
    labels, centres = balanced_kmeans(xy, 4, rng=np.random.default_rng(0), slack=0.1)
    sizes = np.bincount(labels, minlength=4)
    assert sizes.max() <= np.ceil(len(xy) / 4 * 1.1)
    assert sizes.sum() == len(xy)
    assert centres.shape == (4, 2)


# -- dynamic behaviour in the engine ------------------------------------------------------
def _run(scenario: Scenario, policy: str, **params: object) -> SimResult:
    network = load_network(scenario.map.ref)
    result = Simulation(scenario, network, policy=make_policy(policy, **params)).run()
    return result


def _sameday_scenario() -> Scenario:
    data = check_scenario().model_dump(mode="json")
    data["disruptions"] = {}
    data["demand"]["surges"] = []
    data["demand"]["service_levels"] = {"same_day": 0.7, "next_day": 0.3}
    data["vehicle_types"]["van"]["capacity_parcels"] = 60
    data["fleet"][0]["count"] = 5
    data["demand"]["orders_per_day"] = 200
    return Scenario.model_validate(data)


@pytest.mark.parametrize(
    ("policy", "params", "share"),
    [
        ("rolling_horizon", {}, 0.75),
        ("insertion", {}, 0.75),
        ("waves", {"wave_hours": [9, 10, 11, 12, 13, 14, 15, 16]}, 0.75),
        # A territory's orders can only go to its own driver: less slack for late orders.
        ("zones", {}, 0.7),
    ],
)
def test_same_day_orders_are_delivered_the_same_day_by_dynamic_policies(
    policy: str, params: dict[str, object], share: float
) -> None:
    scenario = _sameday_scenario()
    dynamic = _run(scenario, policy, **params).orders
    static = _run(scenario, "static").orders
    # Placed during the day and still promised for today (placed too late, they are due tomorrow).
    same_day = (dynamic["service_level"] == "same_day") & (
        dynamic["due_day"] == dynamic["created_s"] // 86_400
    )
    assert same_day.sum() >= 20
    # Capacity allows, so most are at the door the same day (the customer
    # may still be out); static re-plans nothing after the cutoff: none of them.
    tried = (dynamic["arrival_s"] // 86_400 == dynamic["due_day"]) & same_day
    tried_static = (static["arrival_s"] // 86_400 == static["due_day"]) & same_day
    assert tried.sum() >= share * same_day.sum()
    assert tried_static.sum() == 0


@pytest.mark.parametrize("policy", ["rolling_horizon", "insertion", "nearest_vehicle"])
def test_loaded_parcels_stay_with_their_vehicle(policy: str) -> None:
    events = _run(check_scenario(), policy).events
    loaded = events[events["kind"] == "loaded"].groupby("order_id")["vehicle_id"].agg(list)
    later = events[events["kind"].isin(["attempted", "returned_to_hub"])]
    for oid, vid in later[["order_id", "vehicle_id"]].itertuples(index=False):
        assert vid in loaded[oid]


def test_disruptions_are_played_and_orders_freed_by_them_are_served() -> None:
    scenario = check_scenario()
    result = _run(scenario, "insertion")
    ev = result.events
    absent = set(ev.loc[ev["kind"] == "no_show", "vehicle_id"])
    broken = ev.loc[ev["kind"] == "breakdown", ["vehicle_id", "time_s"]]
    assert absent, "the check scenario should have a no-show"
    assert len(broken) >= 1
    # A driver who did not come in never starts a shift; a broken vehicle never drives on.
    started = set(ev.loc[ev["kind"] == "shift_start", "vehicle_id"])
    assert not absent & started
    for vid, t in broken.itertuples(index=False):
        after = ev[(ev["vehicle_id"] == vid) & (ev["time_s"] > t) & (ev["kind"] == "arrive")]
        assert after.empty
    # Orders freed by the no-show were re-planned onto vehicles that did come in.
    freed = ev.loc[(ev["kind"] == "unassigned") & ev["order_id"].notna(), "order_id"]
    delivered_by = ev[(ev["kind"] == "delivered") & ev["order_id"].isin(freed)]
    assert not delivered_by.empty
    assert not set(delivered_by["vehicle_id"]) & absent
    # The on-board parcels of a broken vehicle are back at the hub after the recovery time.
    for vid, t in broken.itertuples(index=False):
        back = ev[
            (ev["kind"] == "returned_to_hub") & (ev["vehicle_id"] == vid) & (ev["time_s"] > t)
        ]
        assert (back["time_s"] >= t + scenario.disruptions.recovery_h * 3600 - 1e-6).all()


def test_cancelled_orders_are_never_delivered_after_the_request() -> None:
    ev = _run(check_scenario(), "rolling_horizon").events
    cancelled = set(ev.loc[ev["kind"] == "cancelled", "order_id"])
    assert cancelled
    requests = ev[ev["kind"] == "cancel_request"]
    for oid, t in requests[["order_id", "time_s"]].itertuples(index=False):
        after = ev[(ev["order_id"] == oid) & (ev["time_s"] >= t)]
        assert "delivered" not in set(after["kind"])
        assert after["kind"].iloc[-1] in ("cancelled", "delivered", "open_at_horizon")
    assert not cancelled & set(ev.loc[ev["kind"] == "delivered", "order_id"])


def test_a_road_closure_is_a_disruption_the_policy_hears() -> None:
    data = _sameday_scenario().model_dump(mode="json")
    data["traffic"]["closures"] = [
        {"name": "works", "start_s": 11 * 3600, "end_s": 13 * 3600, "near": [0.0, 0.0, 1.0]}
    ]
    network = load_network("grid-12x12")
    lat, lon = float(network.lat[0]), float(network.lon[0])
    data["traffic"]["closures"][0]["near"] = [lat, lon, 300.0]
    ev = _run(Scenario.model_validate(data), "rolling_horizon").events
    closed = ev[ev["kind"] == "road_closed"]
    assert list(closed["time_s"]) == [11 * 3600]
    plans = ev[(ev["kind"] == "plan") & (ev["time_s"] == 11 * 3600)]
    assert "disruption" in {json.loads(d)["trigger"] for d in plans["details"]}


def test_a_surge_adds_orders_without_changing_the_regular_ones() -> None:
    base = _sameday_scenario()
    data = base.model_dump(mode="json")
    data["demand"]["surges"] = [{"day": 0, "start_h": 12, "end_h": 13, "orders": 30}]
    surged = Scenario.model_validate(data)
    network = load_network(base.map.ref)
    a = Simulation(base, network).orders
    b = Simulation(surged, network).orders
    extra = sorted(set(b) - set(a))
    assert all(oid.startswith("d0-s") for oid in extra)
    assert 15 <= len(extra) <= 45
    assert all(12 * 3600 <= b[oid].created_s <= 13 * 3600 for oid in extra)
    assert all(a[oid] == b[oid] for oid in a)


def test_insertion_learns_both_directions_of_a_new_order() -> None:
    """Regression: a node known only as the start of earlier legs lacked its reverse times."""
    from twin.dispatch import InsertionPolicy
    from twin.traveltime import TravelMatrix

    def travel(sources: list[int], targets: list[int], depart_s: float) -> TravelMatrix:
        t = np.array([[abs(a - b) * 10.0 + 1 for b in targets] for a in sources])
        return TravelMatrix(
            sources=np.array(sources), targets=np.array(targets), time_s=t, length_m=t,
            depart_s=depart_s,
        )  # fmt: skip

    state = DispatchState(
        now_s=0.0, day=0, trigger="new_order", orders=(), vehicles=(), hubs={"h": 0},
        travel=travel,
    )  # fmt: skip
    policy = InsertionPolicy()
    policy._times.update({(5, 1): 41.0, (5, 2): 31.0})  # forward legs from node 5 only
    policy._learn(state, 5, [1, 2], set())
    assert policy._times[1, 5] == 41.0
    assert policy._times[2, 5] == 31.0
