"""twin validate: the fast checks pass, and each fails when the engine is broken."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from typer.testing import CliRunner

from twin.cli import app
from twin.customers import CustomerModel
from twin.errors import TwinError
from twin.maps import load_network
from twin.scenario import Scenario
from twin.sim import Simulation
from twin.validate import binomial_interval, run_checks
from twin.validate.docks import (
    dock_queue,
    dock_queue_mmc,
    erlang_c,
    erlang_c_wait_s,
    expected_waits,
)
from twin.validate.failures import expected_failure
from twin.validate.forecast import band_coverage


def test_dd_c_batch_waits_by_hand():
    assert expected_waits(5, 2, 600.0).tolist() == [0, 0, 600, 600, 1200]


def test_erlang_c_known_values():
    # One dock (M/M/1): the chance to wait is the utilisation, the wait rho / (mu - lambda).
    assert erlang_c(0.5, 1) == pytest.approx(0.5)
    assert erlang_c_wait_s(0.5 / 600, 600.0, 1) == pytest.approx(0.5 / (1 / 600 - 0.5 / 600))
    # Two docks offered one dock's work: C = (1/2 / (1 - 1/2)) / (1 + 1 + 1) = 1/3.
    assert erlang_c(1.0, 2) == pytest.approx(1 / 3)
    assert erlang_c_wait_s(1 / 600, 600.0, 2) == pytest.approx(600 / 3)
    with pytest.raises(ValueError, match="unstable"):
        erlang_c(3.0, 3)


def _loading_day(cv: float) -> list[float]:
    """Loading times of 60 one-parcel vans at a hub with a dock each (no queue)."""
    scenario = Scenario.model_validate(
        {
            "seed": 5,
            "map": {"ref": "grid-8x8"},
            "hubs": [
                {"id": "hub", "docks": 60, "load_setup_s": 600, "load_time_per_parcel_s": 0}
                | {"load_time_cv": cv}
            ],
            "vehicle_types": {"van": {"capacity_parcels": 1, "max_trips": 1}},
            "fleet": [{"type": "van", "count": 60, "hub": "hub"}],
            "demand": {"orders_per_day": 140, "share_known_at_cutoff": 1.0},
        }
    )
    events = Simulation(scenario, load_network("grid-8x8")).run().events
    start = events[events["kind"] == "load_start"].set_index("vehicle_id")["time_s"]
    depart = events[events["kind"] == "depart"].set_index("vehicle_id")["time_s"]
    return (depart - start.reindex(depart.index)).tolist()


def test_loading_times_spread_as_the_hub_says():
    fixed = _loading_day(0.0)
    assert len(fixed) == 60
    assert fixed == pytest.approx([600.0] * 60)
    varied = np.array(_loading_day(1.0))
    assert len(varied) == 60
    # Exponential about 600 s: the mean within 2.5 standard errors, the spread near 1.
    assert abs(varied.mean() - 600) < 2.5 * 600 / np.sqrt(60)
    assert 0.7 < varied.std(ddof=1) / varied.mean() < 1.3
    assert len(set(varied.round(3))) == 60


def test_wilson_interval_known_values():
    low, high = binomial_interval(10, 100)
    assert low == pytest.approx(0.0552, abs=1e-4)
    assert high == pytest.approx(0.1744, abs=1e-4)
    assert binomial_interval(0, 20)[0] == pytest.approx(0.0, abs=1e-12)


def test_expected_failure_by_hand():
    sc = Scenario.model_validate({"failures": {"damaged_prob": 0.1, "access_problem_prob": 0.2}})
    f = sc.failures
    # Nobody answers a home delivery: it fails whatever happens before the door.
    assert expected_failure(sc, "home", 0.0) == pytest.approx(1.0)
    # Everybody answers: damaged, else access problem, else refused.
    by_hand = 0.1 + 0.9 * 0.2 + 0.9 * 0.8 * f.refusal_prob
    assert expected_failure(sc, "safe_drop", 1.0) == pytest.approx(by_hand)


def test_band_coverage_pools_stops_and_resamples_vehicle_days():
    # Two vehicle-days: 3 of 4 stops inside, then 1 of 2; pooled 4 of 6.
    inside = np.array([True, True, True, False, True, False])
    cluster = np.array(["a", "a", "a", "a", "b", "b"])
    share, low, high = band_coverage(inside, cluster)
    assert share == pytest.approx(4 / 6)
    # Every resample is some mix of the two days: between 1/2 and 3/4.
    assert 0.5 <= low <= share <= high <= 0.75
    assert band_coverage(np.ones(5, dtype=bool), np.arange(5)) == (1.0, 1.0, 1.0)


def test_fast_checks_pass():
    results = run_checks(fast=True)
    assert [r.name for r in results] == [
        "dock_queue",
        "dock_queue_mmc",
        "dock_queue_mmc",
        "first_attempt_failures",
        "border_waits",
        "border_waits",
        "border_waits",
        "calibration.overhead_s",
        "calibration.handover_s",
        "calibration.orders_per_day",
        "forecast_coverage",
        "bhh_tours",
        "bhh_tours",
    ]
    assert all(r.passed for r in results), results
    assert all(r.low <= r.simulated <= r.high for r in results)
    assert all(r.low <= r.expected <= r.high for r in results)


def test_dock_check_fails_when_loading_takes_longer_than_configured(monkeypatch):
    real = Simulation.load_time_s
    monkeypatch.setattr(
        Simulation, "load_time_s", lambda self, vehicle, parcels: 1.1 * real(self, vehicle, parcels)
    )
    assert not dock_queue(fast=True)[0].passed


def test_mmc_check_fails_when_loads_take_twice_as_long(monkeypatch):
    real = Simulation.draw_load_time_s
    monkeypatch.setattr(
        Simulation,
        "draw_load_time_s",
        lambda self, vehicle, parcels: 2 * real(self, vehicle, parcels),
    )
    assert not any(r.passed for r in dock_queue_mmc(fast=True))


def test_border_check_fails_when_waits_lose_their_spread_or_their_hour(monkeypatch):
    from twin.traveltime import TravelTimes
    from twin.validate.border import border_waits

    real = TravelTimes.sample_parts
    # Every wait exactly its mean: the band holds all of them, not 80 %.
    monkeypatch.setattr(
        TravelTimes, "sample_parts", lambda self, leg, rng: (real(self, leg, rng)[0], leg.wait_s)
    )
    band = border_waits(fast=True)[2]
    assert band.simulated == 1.0
    assert not band.passed
    # Waits drawn at half the hour's mean: both directions' means miss 1.
    monkeypatch.setattr(
        TravelTimes,
        "sample_parts",
        lambda self, leg, rng: (lambda d, w: (d, w / 2))(*real(self, leg, rng)),
    )
    results = border_waits(fast=True)
    assert not results[0].passed
    assert not results[1].passed


def test_failure_check_fails_when_everybody_answers(monkeypatch):
    monkeypatch.setattr(CustomerModel, "attempt", lambda self, row, rng, **kw: True)
    result = run_checks(["first_attempt_failures"], fast=True)[0]
    assert not result.passed
    assert result.expected > result.high


def test_calibration_check_fails_when_the_fit_misses(monkeypatch):
    import twin.validate.calibration as check

    real = check.calibrate

    def off(history, base, network):
        fitted = real(history, base, network)
        service = fitted.scenario.service.model_copy(update={"handover_s_mean": 80.0})
        return replace(fitted, scenario=fitted.scenario.model_copy(update={"service": service}))

    monkeypatch.setattr(check, "calibrate", off)
    results = {r.name: r for r in check.calibration_round_trip(fast=True)}
    assert not results["calibration.handover_s"].passed
    assert results["calibration.overhead_s"].passed


def test_forecast_check_fails_when_the_forecast_ignores_the_spread_of_stop_times(monkeypatch):
    import twin.live.forecast_step as step
    import twin.validate.forecast as check

    def no_spread(rng, mean, n, *, mu, sigma):
        return np.full(n, float(mean))

    monkeypatch.setattr(step, "draw_service_array", no_spread)
    monkeypatch.setattr(check, "FAST_DAYS", 2)
    result = check.forecast_coverage(fast=True)[0]
    assert not result.passed
    assert result.high < 0.8  # too narrow a band: too few stops inside it


def test_unknown_check_is_one_clear_error():
    with pytest.raises(TwinError, match="choose from dock_queue"):
        run_checks(["nope"])
    done = CliRunner().invoke(app, ["validate", "--only", "nope"])
    assert done.exit_code == 2
    assert "unknown check(s) nope" in done.output


def test_cli_json_and_exit_status():
    done = CliRunner().invoke(app, ["validate", "--fast", "--only", "dock_queue", "--json"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    (check,) = data["checks"]
    assert check["name"] == "dock_queue"
    assert check["passed"] is True
    assert np.isfinite(check["expected"])


def test_straight_torus_roads_take_the_short_way_round():
    from twin.validate.tours import straight_torus

    net = straight_torus(np.array([[10.0, 10.0], [1990.0, 10.0], [1000.0, 1000.0]]), 2000.0)
    ends = zip(net.node_ids[net.edge_u], net.node_ids[net.edge_v], net.edge_length_m, strict=True)
    lengths = {(int(u), int(v)): float(m) for u, v, m in ends}
    assert lengths[(1, 2)] == pytest.approx(20.0)  # across the seam, not 1,980 m
    assert lengths[(1, 3)] == pytest.approx(990.0 * np.sqrt(2), abs=1e-3)


def test_tour_ratios_of_hand_drawn_days():
    from twin.validate.tours import grid_torus, straight_torus, tour_ratios

    # A 500 m square on straight roads: the tour is its perimeter, 2 km, and
    # sqrt(N A) = sqrt(4 * 2 km * 2 km) = 4 km.
    square = np.array([[0.0, 0.0], [500.0, 0.0], [500.0, 500.0], [0.0, 500.0]])
    ratios = tour_ratios(straight_torus(square, 2000.0), [[1, 2, 3, 4]], 4e6)
    assert ratios.tolist() == pytest.approx([0.5])
    # On a 100 m grid, four corners whose best tour goes around their bounding box:
    # 2 * (500 + 700) m = 2.4 km.
    grid = grid_torus(20, 2000.0)
    corner = lambda i, j: i * 20 + j + 1  # noqa: E731
    day = [corner(0, 0), corner(5, 0), corner(5, 7), corner(2, 5)]
    assert tour_ratios(grid, [day], 4e6).tolist() == pytest.approx([0.6])


def test_a_day_that_leaves_orders_out_is_no_tour():
    from twin.validate.tours import straight_torus, tour_ratios

    # Dropping an order costs nothing: the plan serves none, and a day without
    # them must not pass for a short tour.
    square = np.array([[0.0, 0.0], [500.0, 0.0], [500.0, 500.0], [0.0, 500.0]])
    free = {"name": "static", "params": {"backend": "ortools", "drop_penalty": 0}}
    ratios = tour_ratios(straight_torus(square, 2000.0), [[1, 2, 3, 4]], 4e6, free)
    assert np.isnan(ratios).all()


def test_tour_check_fails_for_a_planner_that_keeps_its_first_routes(monkeypatch):
    import twin.validate.tours as tours

    first = {"name": "static", "params": {"backend": "ortools", "solution_limit": 1}}
    monkeypatch.setattr(tours, "BASELINE_PLANNER", first)
    straight, _ = tours.bhh_tours(fast=True)
    assert not straight.passed
    assert straight.simulated > straight.high  # tours too long, not too short
