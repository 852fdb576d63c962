"""twin bench dynamic: the EURO Meets NeurIPS 2022 dynamic rules, their referee, the policies."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from twin.bench._records import BenchInstance
from twin.bench.dynamic import epoch_state, play, run
from twin.bench.epochs import (
    DISPATCH_MARGIN_S,
    EPOCH_S,
    DayOfEpochs,
    DispatchError,
    Epoch,
    Request,
    check_routes,
)
from twin.cli import app
from twin.dispatch.base import OrderView
from twin.dispatch.postpone import PostponePolicy

H = 3600.0


def _frozen(values: list[float] | np.ndarray) -> np.ndarray:
    a = np.asarray(values, dtype=float)
    a.setflags(write=False)
    return a


def _instance(name: str = "tiny") -> BenchInstance:
    """A depot and 6 customers on a line, 10 min apart: nodes 1 and 2 west of the
    depot, 3 to 6 east of it; windows from 2 h to 7 h."""
    n = 7
    pos = np.array([0.0, -1.0, -2.0, 1.0, 2.0, 3.0, 4.0])
    matrix = 600.0 * np.abs(pos[:, None] - pos[None, :])
    return BenchInstance(
        name=name,
        path=Path(f"{name}.txt"),
        format="vrplib",
        coords=_frozen(np.stack([pos, np.zeros(n)], axis=1)),
        demand=_frozen([0, 3, 4, 5, 6, 7, 8]),
        ready=_frozen([0, 2 * H, 2 * H, 3 * H, 3 * H, 4 * H, 4 * H]),
        due=_frozen([9 * H, 3 * H, 5 * H, 4.5 * H, 7 * H, 6 * H, 7 * H]),
        service=_frozen([0, 60, 120, 180, 60, 120, 180]),
        capacity=20.0,
        n_vehicles=6,
        matrix=_frozen(matrix),
    )


def test_epochs_run_from_the_first_to_the_last_window_opening_less_the_margin():
    day = DayOfEpochs(_instance())
    # Windows open from 2 h to 4 h; decisions are made an hour before routes leave.
    assert (day.first, day.final, day.epochs) == (1, 3, 3)


def test_requests_come_from_the_instance_and_only_reachable_ones_are_kept():
    inst = _instance()
    day = DayOfEpochs(inst, seed=4)
    epoch = day.observe()
    assert epoch.index == 1
    assert epoch.dispatch_s == 1 * EPOCH_S + DISPATCH_MARGIN_S
    assert 0 < len(epoch.requests) <= 100
    windows = set(zip(inst.ready[1:], inst.due[1:], strict=True))
    for r in epoch.requests:
        assert 1 <= r.location <= 6
        assert (r.ready_s, r.due_s) in windows
        assert r.demand in inst.demand[1:]
        assert r.service_s in inst.service[1:]
        arrive = max(epoch.dispatch_s + inst.matrix[0, r.location], r.ready_s)
        assert arrive <= r.due_s  # reachable now ...
        assert arrive + r.service_s + inst.matrix[r.location, 0] <= inst.due[0]  # ... and home


def test_must_go_are_the_requests_that_cannot_wait_an_epoch():
    inst = _instance()
    epoch = DayOfEpochs(inst, seed=4).observe()
    for r in epoch.requests:
        later = max(epoch.dispatch_s + EPOCH_S + inst.matrix[0, r.location], r.ready_s)
        assert (r.id in epoch.must_go) == (later > r.due_s)
    # The 3 h window (due at 3 h) cannot wait: routes of the next epoch leave at 3 h.
    assert any(r.due_s == 3 * H for r in epoch.requests)
    assert all(r.id in epoch.must_go for r in epoch.requests if r.due_s == 3 * H)


def test_the_same_seed_and_instance_give_the_same_day_and_another_instance_another():
    a = DayOfEpochs(_instance(), seed=1).observe().requests
    b = DayOfEpochs(_instance(), seed=1).observe().requests
    c = DayOfEpochs(_instance("other"), seed=1).observe().requests
    assert a == b
    assert a != c


def _epoch(last: bool = False) -> Epoch:
    requests = (
        Request("a", 1, 2 * H, 3 * H, 3.0, 60.0, 1),
        Request("b", 2, 2 * H, 5 * H, 4.0, 120.0, 1),
        Request("c", 6, 4 * H, 7 * H, 15.0, 180.0, 1),
    )
    return Epoch(1, H, 2 * H, last, requests, frozenset({"a"}))


def test_the_referee_accepts_a_valid_dispatch_and_names_each_broken_rule():
    inst = _instance()
    assert check_routes(inst, _epoch(), [["a", "b"]]) == []
    assert check_routes(inst, _epoch(), [["a"], ["b", "c"]]) == []

    def broken(routes: list[list[str]], last: bool = False) -> str:
        return "; ".join(check_routes(inst, _epoch(last), routes))

    assert "request x is not open" in broken([["a", "x"]])
    assert "request a dispatched twice" in broken([["a"], ["a"]])
    assert "load 22 above the capacity 20" in broken([["a", "b", "c"]])
    # c first (opens at 4 h), then a is reached long after its window closed at 3 h.
    assert "request a reached at" in broken([["c", "a"]])
    assert "request a must go in epoch 1" in broken([["b"]])
    assert "request c must go in epoch 1" in broken([["a", "b"]], last=True)


def test_a_depot_return_after_closing_is_refused():
    inst = _instance()
    late = Epoch(1, H, 8.95 * H, False, (Request("z", 6, 0, 9 * H, 1.0, 60.0, 1),), frozenset())
    assert "after the depot closes" in "; ".join(check_routes(inst, late, [["z"]]))


def test_a_refused_dispatch_leaves_the_day_unchanged():
    day = DayOfEpochs(_instance(), seed=4)
    epoch = day.observe()
    assert epoch.must_go
    with pytest.raises(DispatchError, match="must go in epoch 1"):
        day.dispatch(epoch, [])
    assert day.observe() is epoch
    assert day.cost == 0.0
    cost = day.dispatch(epoch, [[rid] for rid in sorted(epoch.must_go)])
    assert cost > 0
    assert day.epoch == 2


def test_an_epoch_becomes_the_state_a_twin_policy_decides_on():
    inst = _instance()
    epoch = _epoch()
    state = epoch_state(inst, epoch)
    due = {o.id: o.due_day for o in state.orders}
    assert due == {"a": 1, "b": 2, "c": 2}  # must-go orders are due in the epoch's day
    assert all(v.available_s == epoch.dispatch_s for v in state.vehicles)
    m = state.travel([0, 6], [1, 2], 0.0)
    assert m.time_s.tolist() == [[600.0, 1200.0], [3000.0, 3600.0]]


@pytest.mark.parametrize(
    ("take", "share", "routed"),
    [("due", 0.5, {"a"}), ("all", 0.5, {"a", "b", "c"}), ("prize", 0.0, {"a"})],
)
def test_the_policy_routes_what_its_take_says(take: str, share: float, routed: set[str]):
    state = epoch_state(_instance(), _epoch())
    policy = PostponePolicy(
        take=take, prize_share=share, backend="pyvrp", iterations=50, required=True
    )
    plan = policy.decide(state)
    assert {rid for stops in plan.routes.values() for rid in stops} == routed


def test_a_prize_takes_an_optional_request_that_rides_along_and_leaves_a_lone_one():
    # b (node 2) is 10 min past a (node 1): a 20 min detour on a's route, less than
    # 0.6 of b's 40 min round trip. c (node 6) is alone at the east end: serving it
    # costs its whole round trip, more than 0.6 of it.
    state = epoch_state(_instance(), _epoch())
    policy = PostponePolicy(
        take="prize", prize_share=0.6, backend="pyvrp", iterations=50, required=True
    )
    plan = policy.decide(state)
    routed = {rid for stops in plan.routes.values() for rid in stops}
    assert routed == {"a", "b"}


def test_sampling_postpones_an_order_that_would_ride_with_a_later_one():
    # Every draw of the future has an order at c's node, released at 3 h (c opens at
    # 4 h): c rides with it later. b rides with the must-go a now, west of the depot.
    later = OrderView(
        id="f", node=6, lat=np.nan, lon=np.nan, demand=(5.0, 0.0, 0.0),
        window_start_s=4 * H, window_end_s=7 * H, service_s=60.0, option="home",
        attempts=0, due_day=3, created_s=3 * H,
    )  # fmt: skip
    state = replace(epoch_state(_instance(), _epoch()), future_orders=lambda rng: (later,))
    policy = PostponePolicy(
        take="sample",
        scenarios=2,
        scenario_iterations=50,
        iterations=50,
        backend="pyvrp",
        required=True,
    )
    assert policy.sent_now(state, [state.orders[0]], list(state.orders[1:])) == {"b"}
    plan = policy.decide(state)
    assert {rid for stops in plan.routes.values() for rid in stops} == {"a", "b"}
    # Without a model of the future it decides as ``prize``.
    blind = PostponePolicy(
        take="sample", prize_share=0.6, iterations=50, backend="pyvrp", required=True
    )
    routed = blind.decide(replace(state, future_orders=None)).routes.values()
    assert {rid for stops in routed for rid in stops} == {"a", "b"}


def test_every_policy_plays_a_whole_day_feasibly_and_lazy_sends_more_routes():
    rows = {
        name: play(_instance(), name, budget=50, seed=2) for name in ("greedy", "lazy", "prize")
    }
    assert all(r["feasible"] for r in rows.values()), rows
    assert len({r["requests"] for r in rows.values()}) == 1  # the same requests for every policy
    assert rows["lazy"]["routes"] >= rows["greedy"]["routes"]
    assert all(r["epochs_capped"] == 0 for r in rows.values())


def _shared_folder() -> Path:
    from twin.maps import shared_dir

    shared = shared_dir()
    folder = shared / "benchmarks" / "euro_neurips_2022" if shared else None
    if folder is None or not folder.is_dir():
        pytest.skip("../shared/benchmarks/euro_neurips_2022 is not beside the repository")
    return folder


def test_a_shared_instance_plays_feasibly_and_lazy_costs_most():
    result = run(_shared_folder(), policies=("greedy", "lazy"), budget=50, instances=1)
    p = result["policies"]
    assert all(v["feasible"] == 1 for v in p.values()), result["rows"]
    assert p["greedy"]["vs_greedy_pct"] == 0.0
    assert p["lazy"]["mean_cost"] > p["greedy"]["mean_cost"]


def test_cli_json_keys_and_bad_arguments():
    folder = _shared_folder()
    done = CliRunner().invoke(
        app,
        ["bench", "dynamic", "--from", str(folder), "--instances", "1", "--only", "greedy",
         "--epochs-budget", "30", "--json"],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert set(data["policies"]["greedy"]) >= {
        "mean_cost",
        "vs_greedy_pct",
        "instances",
        "feasible",
    }
    bad = CliRunner().invoke(app, ["bench", "dynamic", "--only", "smart"])
    assert bad.exit_code != 0
    assert "choose from greedy, lazy, prize, sample" in bad.output
