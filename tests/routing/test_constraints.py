"""Each routing constraint on a small instance whose right answer is known by hand.

Locations lie on a straight street: location ``i`` is ``i`` km from location 0
and one minute's drive per km. Every solution also passes through ``solve``'s
independent checker, so a backend that ignored a constraint would fail there.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from twin.routing import (
    RELOAD,
    Job,
    RoutingProblem,
    RoutingSolution,
    UnsupportedConstraintError,
    VehicleSpec,
    check_solution,
    pyvrp_available,
    solve,
)

N = 12
KM = np.abs(np.subtract.outer(np.arange(N), np.arange(N))).astype(float)
MIN = 60.0
DAY = 10 * 3600.0

needs_pyvrp = pytest.mark.skipif(not pyvrp_available(), reason="pyvrp extra not installed")
BOTH = ["ortools", pytest.param("pyvrp", marks=needs_pyvrp)]


def job(name: str, loc: int, demand=(1.0,), **kw) -> Job:
    base = dict(tw_start_s=0.0, tw_end_s=DAY, service_s=0.0, drop_penalty=None, hard_window=True)
    base.update(kw)
    return Job(id=name, location=loc, demand=tuple(demand), **base)  # type: ignore[arg-type]


def van(name: str, capacity=(10.0,), depot: int = 0, **kw) -> VehicleSpec:
    base = dict(
        shift_start_s=0.0, shift_end_s=DAY, max_working_s=DAY, cost_per_km=1.0, cost_per_h=0.0
    )
    base.update(kw)
    return VehicleSpec(
        id=name,
        start_location=depot,
        end_location=depot,
        capacity=tuple(capacity),
        **base,  # type: ignore[arg-type]
    )


def problem(vehicles, jobs, duration=None, **kw) -> RoutingProblem:
    return RoutingProblem(
        duration_s=KM * MIN if duration is None else duration,
        distance_m=KM * 1000.0,
        vehicles=tuple(vehicles),
        jobs=tuple(jobs),
        **kw,
    )


def run(p: RoutingProblem, backend: str, **kw) -> RoutingSolution:
    if backend == "ortools":
        kw.setdefault("time_limit_s", 10.0)  # a safety cap: greedy descent stops by itself
    else:
        kw.setdefault("iterations", 300)
    return solve(p, backend=backend, **kw)


def vehicle_of(sol: RoutingSolution, j: int) -> int:
    return next(v for v, r in enumerate(sol.routes) if j in r)


@pytest.mark.parametrize("backend", BOTH)
def test_capacity_in_every_dimension(backend: str) -> None:
    # Parcels allow all three on one van; weight (second dimension) does not.
    jobs = [job("a", 1, (1, 6)), job("b", 2, (1, 6)), job("c", 3, (1, 1))]
    sol = run(problem([van("v1", (5, 10)), van("v2", (5, 10))], jobs), backend)
    assert vehicle_of(sol, 0) != vehicle_of(sol, 1)
    assert not sol.dropped


@pytest.mark.parametrize("backend", BOTH)
def test_hard_window_unreachable_job_is_dropped_with_a_reason(backend: str) -> None:
    jobs = [job("near", 2), job("far", 5, tw_end_s=4 * MIN, drop_penalty=1e6)]
    sol = run(problem([van("v")], jobs), backend)
    assert sol.dropped == (1,)
    assert "window" in sol.dropped_reasons[1]
    assert sol.costs["drops"] == pytest.approx(1e6)


def test_soft_window_serves_late_at_its_cost() -> None:
    jobs = [job("far", 5, tw_end_s=4 * MIN, hard_window=False)]
    p = problem([van("v")], jobs, late_cost_per_h=60.0)
    sol = run(p, "ortools")
    assert sol.arrival_s[0] == (5 * MIN,)
    assert sol.costs["lateness"] == pytest.approx(1 * MIN / 3600 * 60.0)  # one minute late
    if pyvrp_available():
        with pytest.raises(UnsupportedConstraintError, match="soft time windows"):
            solve(p, backend="pyvrp")
        assert solve(p, backend="auto").solver == "ortools"


@pytest.mark.parametrize("backend", BOTH)
def test_heterogeneous_fleet_uses_the_cheap_van_and_the_fast_one_when_needed(backend) -> None:
    jobs = [job("a", 3), job("b", 4)]
    sol = run(
        problem([van("dear", cost_per_km=10.0), van("cheap", cost_per_km=1.0)], jobs), backend
    )
    assert sol.routes[0] == ()
    assert sorted(sol.routes[1]) == [0, 1]
    assert sol.costs["distance"] == pytest.approx(8.0)
    # Only a vehicle twice as fast reaches location 6 by minute 4.
    fast = [van("slow", cost_per_km=1.0), van("fast", cost_per_km=5.0, speed_factor=2.0)]
    sol = run(problem(fast, [job("x", 6, tw_end_s=4 * MIN)]), backend)
    assert sol.routes == ((), (0,))
    assert sol.arrival_s[1][0] <= 4 * MIN


@pytest.mark.parametrize("backend", BOTH)
def test_several_depots_serve_their_own_side(backend: str) -> None:
    jobs = [job("w1", 1), job("w2", 2), job("e1", 9), job("e2", 10)]
    sol = run(problem([van("west", depot=0), van("east", depot=11)], jobs), backend)
    assert sorted(sol.routes[0]) == [0, 1]
    assert sorted(sol.routes[1]) == [2, 3]
    assert sol.costs["distance_m"] == pytest.approx(4000 + 4000)


@pytest.mark.parametrize("backend", BOTH)
def test_multi_trip_reloads_at_the_depot(backend: str) -> None:
    jobs = [job(f"j{i}", i) for i in (1, 2, 3, 4)]
    one_trip = [van("v", (2.0,), reload_s=5 * MIN)]
    sol = run(problem(one_trip, [replace(j, drop_penalty=1e4) for j in jobs]), backend)
    assert len(sol.dropped) == 2
    two_trips = [van("v", (2.0,), max_trips=2, reload_s=5 * MIN)]
    sol = run(problem(two_trips, jobs), backend)
    assert sol.routes[0].count(RELOAD) == 1
    assert not sol.dropped
    assert [sorted(t) for t in sol.trips(0)] in ([[0, 1], [2, 3]], [[2, 3], [0, 1]])
    # 2 + 2 + 4 + 4 km of driving and the reload in between.
    assert sol.end_s[0] - sol.start_s[0] == pytest.approx(12 * MIN + 5 * MIN)


def test_break_is_taken_inside_its_window_and_delays_the_route() -> None:
    # Stop a must be served by minute 5, so the route is under way when the break is due.
    jobs = [job("a", 2, service_s=10 * MIN, tw_end_s=5 * MIN), job("b", 4, service_s=10 * MIN)]
    plain = run(problem([van("v")], jobs), "ortools")
    rest = [van("v", breaks=((5 * MIN, 20 * MIN, 30 * MIN),))]
    sol = run(problem(rest, jobs), "ortools")
    ((start, duration),) = sol.breaks[0]
    assert max(5 * MIN, sol.start_s[0]) <= start <= 20 * MIN
    assert duration == 30 * MIN
    work = sol.end_s[0] - sol.start_s[0]
    assert work == pytest.approx(plain.end_s[0] - plain.start_s[0] + 30 * MIN)
    if pyvrp_available():
        with pytest.raises(UnsupportedConstraintError, match="breaks"):
            solve(problem(rest, jobs), backend="pyvrp")


def test_driving_limit_caps_what_one_shift_can_reach() -> None:
    jobs = [job("a", 3, drop_penalty=1e5), job("b", 9, drop_penalty=1e5)]
    limited = [van("v", max_driving_s=10 * MIN)]
    sol = run(problem(limited, jobs), "ortools")
    assert sol.routes[0] == (0,)
    assert sol.dropped == (1,)
    assert sol.costs["driving_s"] <= 10 * MIN
    # The duty limit alone (driving plus service and waiting) bounds the shift the same way.
    duty = [van("v", max_working_s=10 * MIN)]
    assert run(problem(duty, jobs), "ortools").dropped == (1,)


@pytest.mark.parametrize("backend", BOTH)
def test_pickup_and_delivery_pair_rides_one_vehicle_pickup_first(backend: str) -> None:
    jobs = [
        Job("p", 5, (0.0,), 0, DAY, 0, None, pickup=(1.0,), hard_window=True),
        Job("d", 2, (1.0,), 0, DAY, 0, None, hard_window=True),
    ]
    sol = run(problem([van("v1", (1.0,)), van("v2", (1.0,))], jobs, pairs=((0, 1),)), backend)
    v = vehicle_of(sol, 0)
    assert sol.routes[v] == (0, 1)
    assert sol.costs["distance_m"] == pytest.approx(10_000)


@pytest.mark.parametrize("backend", BOTH)
def test_customer_return_is_collected_after_the_deliveries_free_room(backend: str) -> None:
    # Van holds 2; it leaves with 2 parcels, so the return at location 1 (on the
    # way out) can only be collected after a delivery.
    jobs = [
        job("d1", 3),
        job("d2", 4),
        Job("r", 1, (0.0,), 0, DAY, 0, None, pickup=(1.0,), hard_window=True),
    ]
    sol = run(problem([van("v", (2.0,))], jobs), backend)
    route = sol.routes[0]
    assert route.index(2) > min(route.index(0), route.index(1))


@pytest.mark.parametrize("backend", BOTH)
def test_optional_jobs_are_dropped_only_when_cheaper(backend: str) -> None:
    jobs = [job("cheap", 8, drop_penalty=5.0), job("dear", 9, drop_penalty=500.0)]
    sol = run(problem([van("v")], jobs), backend)
    # Serving location 9 costs 18; once there, location 8 is on the way.
    assert sol.dropped == ()
    sol = run(problem([van("v")], [job("cheap", 8, drop_penalty=5.0)]), backend)
    assert sol.dropped == (0,)
    assert "drop penalty" in sol.dropped_reasons[0]


def test_required_jobs_that_cannot_fit_raise() -> None:
    jobs = [job("a", 1, (3.0,)), job("b", 2, (3.0,))]
    with pytest.raises(RuntimeError, match="no feasible solution"):
        solve(problem([van("v", (4.0,))], jobs), backend="ortools", time_limit_s=1.0)


def test_workload_balance_shortens_the_longest_day() -> None:
    jobs = [job(f"j{i}", i, service_s=30 * MIN) for i in (1, 2, 3, 4)]
    fleet = [van("v1"), van("v2")]
    plain = run(problem(fleet, jobs), "ortools")
    balanced = run(problem(fleet, jobs, balance_cost_per_h=1000.0), "ortools")
    assert plain.n_routes == 1
    assert balanced.n_routes == 2

    def longest(s: RoutingSolution) -> float:
        return max(e - b for b, e, r in zip(s.start_s, s.end_s, s.routes, strict=True) if r)

    assert longest(balanced) < longest(plain)
    assert balanced.costs["balance"] > 0


@pytest.mark.parametrize("backend", BOTH)
def test_time_dependent_legs_take_their_departure_buckets_time(backend: str) -> None:
    # Before t=600 s a km takes a minute; afterwards two minutes (rush hour). Stop a
    # must be reached by minute 12 (on the envelope: leave by minute 2), which also
    # forces the order a, b.
    buckets = np.stack([KM * MIN, KM * 2 * MIN])
    jobs = [job("a", 5, service_s=2 * MIN, tw_end_s=12 * MIN), job("b", 8, tw_end_s=30 * MIN)]
    p = problem([van("v")], jobs, duration=buckets, bucket_s=600.0)
    sol = run(p, backend)
    assert sol.routes[0] == (0, 1)
    start = sol.start_s[0]
    assert start <= 2 * MIN
    # Leg 1 departs in bucket 0 (5 min); leg 2 departs at start + 7 min < 600 s (3 min);
    # the way back departs after 600 s (8 km at 2 min).
    assert sol.arrival_s[0] == pytest.approx((start + 5 * MIN, start + 10 * MIN))
    assert sol.end_s[0] == pytest.approx(start + 10 * MIN + 16 * MIN)


@pytest.mark.parametrize("backend", BOTH)
def test_warm_start_from_a_previous_plan(backend: str) -> None:
    jobs = [job(f"j{i}", i) for i in range(1, 9)]
    p = problem([van("v1", (4.0,)), van("v2", (4.0,))], jobs)
    first = run(p, backend)
    again = run(p, backend, initial_routes=first.routes)
    assert again.stats["warm_start"] == 1.0
    assert again.cost <= first.cost + 1e-9


def test_skills_send_the_job_to_a_capable_vehicle() -> None:
    jobs = [job("cold", 1, skills=frozenset({"fridge"})), job("dry", 6)]
    fleet = [
        van("plain", cost_per_km=1.0),
        van("reefer", cost_per_km=9.0, skills=frozenset({"fridge"})),
    ]
    sol = run(problem(fleet, jobs), "ortools")
    assert vehicle_of(sol, 0) == 1
    assert vehicle_of(sol, 1) == 0
    bare = [van("plain")]
    sol = run(problem(bare, [replace(jobs[0], drop_penalty=1.0)]), "ortools")
    assert "skills" in sol.dropped_reasons[0]


@needs_pyvrp
def test_a_released_job_rides_a_trip_that_leaves_after_its_release() -> None:
    # j1 exists from the start; j2, next to it, only from 30 min. One trip: it leaves
    # at 30 min with both. Two trips allowed: still one trip, leaving at 30 min (the
    # solver's empty first trip, waiting at the depot, is not reported).
    jobs = [job("j1", 1), job("j2", 2, release_s=30 * MIN)]
    for trips in (1, 2):
        p = problem([van("v", max_trips=trips)], jobs)
        sol = run(p, "pyvrp")
        assert not sol.dropped
        assert sol.routes[0] in ((0, 1), (1, 0))
        assert sol.start_s[0] == pytest.approx(30 * MIN)
        assert not check_solution(p, sol)
    with pytest.raises(UnsupportedConstraintError, match="release times"):
        solve(problem([van("v")], jobs), backend="ortools")


def test_checker_refuses_a_trip_that_leaves_before_a_release() -> None:
    p = problem([van("v")], [job("j", 1, release_s=10 * MIN)])
    early = RoutingSolution(
        routes=((0,),),
        arrival_s=((1 * MIN,),),
        start_s=(0.0,),
        end_s=(2 * MIN,),
        dropped=(),
        cost=0.0,
        solver="hand",
    )
    assert "before its release at 600.0" in " ".join(check_solution(p, early))


def test_checker_reports_each_kind_of_violation() -> None:
    jobs = [
        job("a", 2, tw_end_s=1 * MIN),
        Job("p", 5, (0.0,), 0, DAY, 0, None, pickup=(1.0,), hard_window=True),
        Job("d", 3, (1.0,), 0, DAY, 0, None, hard_window=True),
    ]
    p = problem([van("v", (0.5,), max_driving_s=5 * MIN)], jobs, pairs=((1, 2),))
    bad = RoutingSolution(
        routes=((0, 2, 1),),
        arrival_s=((2 * MIN, 3 * MIN, 5 * MIN),),
        start_s=(0.0,),
        end_s=(8 * MIN,),
        dropped=(),
        cost=0.0,
        solver="hand",
    )
    found = " | ".join(check_solution(p, bad))
    for words in (
        "after its hard window",
        "delivered before picked up",
        "over capacity",
        "over its limit",
        "plan says",
    ):
        assert words in found
    missing = replace(bad, routes=((0,),), arrival_s=((2 * MIN,),))
    assert "neither routed nor dropped" in " ".join(check_solution(p, missing))


@pytest.mark.parametrize("backend", BOTH)
def test_nothing_to_route(backend: str) -> None:
    empty = run(problem([van("v")], []), backend)
    assert empty.routes == ((),)
    assert empty.cost == 0.0
    optional = [job("a", 1, drop_penalty=7.0)]
    no_fleet = run(problem([], optional), backend)
    assert no_fleet.dropped == (0,)
    assert no_fleet.costs["drops"] == pytest.approx(7.0)
    with pytest.raises(RuntimeError, match="required jobs but no vehicles"):
        run(problem([], [job("a", 1)]), backend)
