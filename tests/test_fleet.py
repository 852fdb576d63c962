"""The operating rules of twin.fleet: hand-computed values, and scalar and array forms agreeing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twin.fleet import (
    break_due,
    break_due_array,
    break_s,
    build_fleet,
    draw_service_array,
    draw_service_s,
    expected_service_s,
    handover_mean_s,
    load_time_s,
    lognormal_params,
    max_driving_s,
    past_working_day,
    safe_drop_mean_s,
    shift_bounds_s,
    shift_cost,
    shift_cost_array,
    stop_overhead_s,
    working_day_end_s,
)
from twin.scenario import DriverSettings, Hub, Scenario, ServiceSettings, VehicleType

H = 3600.0
SERVICE = ServiceSettings(
    parking_s_mean=60, walk_s_mean=30, handover_s_mean=80, signature_extra_s=40, service_cv=0.5
)
DRIVERS = DriverSettings(
    shift_start_h=8,
    shift_end_h=16,
    break_after_h=4,
    break_min=30,
    max_working_h=10,
    max_driving_h=6,
    cost_per_hour=20,
    overtime_cost_per_hour=30,
)
VAN = VehicleType(mode="van", fixed_cost_per_day=50, cost_per_km=0.5, co2_kg_per_km=0.2)
ROBOT = VehicleType(
    mode="robot",
    stop_overhead_s=20,
    handover_extra_s=15,
    fixed_cost_per_day=10,
    cost_per_km=0.1,
    supervision_cost_per_h=6,
)
HUB = Hub(load_setup_s=300, load_time_per_parcel_s=15)


def _scenario(**kw) -> Scenario:
    data = {
        "map": {"ref": "grid-1x5"},
        "service": SERVICE.model_dump(),
        "drivers": DRIVERS.model_dump(),
        "lockers": {"deposit_s": 25},
    }
    data.update(kw)
    return Scenario.model_validate(data)


# -- loading ---------------------------------------------------------------------------
def test_load_time_is_setup_plus_parcels_and_a_drone_has_no_setup():
    assert load_time_s(HUB, VAN, 10) == 300 + 15 * 10
    assert load_time_s(HUB, VehicleType(mode="drone"), 1) == 15


# -- stops -----------------------------------------------------------------------------
def test_expected_service_by_option_mode_and_locker():
    sc = _scenario()
    # parking + walk there and back + handover (+ signature)
    assert expected_service_s(sc, "home") == 60 + 2 * 30 + 80
    assert expected_service_s(sc, "signature") == 60 + 2 * 30 + 80 + 40
    assert expected_service_s(sc, "home", VAN) == 200
    # a robot's own overhead replaces parking and walking; the curb handover is extra
    assert expected_service_s(sc, "home", ROBOT) == 20 + 80 + 15
    assert expected_service_s(sc, "signature", ROBOT) == 20 + 80 + 40 + 15
    # at a locker: getting there and the deposit, no handover
    assert expected_service_s(sc, "home", locker=True) == 120 + 25


def test_stop_parts_sum_to_the_expected_stop():
    sc = _scenario()
    for option in ("home", "signature"):
        for vtype in (VAN, ROBOT):
            parts = stop_overhead_s(SERVICE, vtype) + handover_mean_s(SERVICE, option, vtype)
            assert parts == pytest.approx(expected_service_s(sc, option, vtype))
    assert stop_overhead_s(SERVICE) == 120
    assert handover_mean_s(SERVICE, "signature", ROBOT) == 80 + 40 + 15
    assert safe_drop_mean_s(SERVICE) == 40


def test_service_draws_degenerate_cases_draw_nothing():
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    assert draw_service_s(rng, 0.0, 0.5) == 0.0
    assert draw_service_s(rng, 70.0, 0.0) == 70.0
    assert rng.bit_generator.state == state  # the stream did not move
    assert np.array_equal(draw_service_array(rng, 0.0, 4, mu=0.0, sigma=0.5), np.zeros(4))


def test_service_draws_scalar_and_array_have_the_same_law():
    mu, sigma = lognormal_params(0.5)
    assert mu == pytest.approx(-math.log1p(0.25) / 2)
    assert sigma == pytest.approx(math.sqrt(math.log1p(0.25)))
    rng = np.random.default_rng(1)
    scalar = np.array([draw_service_s(rng, 60.0, 0.5) for _ in range(20_000)])
    array = draw_service_array(np.random.default_rng(2), 60.0, 20_000, mu=mu, sigma=sigma)
    for x in (scalar, array):
        assert x.mean() == pytest.approx(60.0, rel=0.02)
        assert x.std() / x.mean() == pytest.approx(0.5, rel=0.05)


# -- breaks and the working day --------------------------------------------------------
def test_break_due_after_four_hours_on_duty_for_crewed_vehicles_only():
    duty = 8 * H
    assert break_s(DRIVERS) == 1800.0
    assert not break_due(11 * H, 0.5 * H, duty, DRIVERS, crewed=True)  # 3.5 h
    assert not break_due(11.5 * H, 0.5 * H, duty, DRIVERS, crewed=True)  # exactly 4 h
    assert break_due(11.5 * H, 0.5 * H + 1, duty, DRIVERS, crewed=True)
    assert not break_due(11.5 * H, H, duty, DRIVERS, crewed=False)
    no_breaks = DRIVERS.model_copy(update={"break_min": 0.0})
    assert not break_due(20 * H, H, duty, no_breaks, crewed=True)


def test_break_due_array_agrees_with_scalar():
    start = np.array([11 * H, 11.5 * H, 11.5 * H, 12 * H, 9 * H])
    drive = np.array([0.5 * H, 0.5 * H, 0.5 * H + 1, 10.0, 100.0])
    duty = np.array([8 * H, 8 * H, 8 * H, 8 * H, 4 * H])
    mask = np.array([True, True, True, False, True])
    for crewed in (True, False):
        expected = [
            break_due(float(s), float(d), float(u), DRIVERS, crewed=crewed)
            for s, d, u in zip(start, drive, duty, strict=True)
        ]
        got = break_due_array(start, drive, duty, DRIVERS, crewed=crewed)
        assert got.tolist() == expected
        masked = break_due_array(start, drive, duty, DRIVERS, crewed=crewed, mask=mask)
        assert masked.tolist() == [e and m for e, m in zip(expected, mask, strict=True)]
    assert break_due_array(start, drive, duty, DRIVERS, crewed=True).tolist() == [
        False,
        False,
        True,
        True,
        True,
    ]


def test_shift_and_working_day_limits():
    assert shift_bounds_s(0, DRIVERS) == (8 * H, 16 * H)
    assert shift_bounds_s(2, DRIVERS) == (2 * 86_400 + 8 * H, 2 * 86_400 + 16 * H)
    assert working_day_end_s(8.5 * H, DRIVERS) == 18.5 * H
    assert max_driving_s(DRIVERS, crewed=True) == 6 * H
    assert max_driving_s(DRIVERS, crewed=False) == math.inf
    no_limit = DRIVERS.model_copy(update={"max_driving_h": None})
    assert max_driving_s(no_limit, crewed=True) == math.inf


def test_past_working_day_scalar_and_array_agree():
    limit = 18 * H
    # 17:00 + 20 min drive + 5 min stop + 30 min back = 17:55: fine; 40 min back: too late
    assert not past_working_day(17 * H, 1200.0, 300.0, 1800.0, limit)
    assert past_working_day(17 * H, 1200.0, 300.0, 2400.0, limit)
    assert not past_working_day(17 * H, 1200.0, 300.0, 2100.0, limit)  # exactly on the limit
    now = np.array([17 * H, 17 * H, 17 * H, 16 * H])
    back = np.array([1800.0, 2400.0, 2100.0, np.inf])
    got = past_working_day(now, 1200.0, 300.0, back, limit)
    assert got.tolist() == [
        past_working_day(float(t), 1200.0, 300.0, float(b), limit)
        for t, b in zip(now, back, strict=True)
    ]
    assert got.tolist() == [False, True, False, True]


# -- cost ------------------------------------------------------------------------------
def test_shift_cost_of_a_crewed_van_with_overtime():
    # 8:00 to 17:30 = 9.5 h paid, on an 8 h contract (8-16): 8 h of wages, 1.5 h overtime.
    cost = shift_cost(DRIVERS, VAN, started_s=8 * H, ended_s=17.5 * H, km=40)
    assert cost.overtime_s == 1.5 * H
    assert cost.driver_cost == pytest.approx(8 * 20 + 1.5 * 30)
    assert cost.operating_cost == 0.0
    assert cost.fixed_cost == 50
    assert cost.distance_cost == pytest.approx(40 * 0.5)


def test_shift_cost_early_end_and_uncrewed_supervision():
    early = shift_cost(DRIVERS, VAN, started_s=8 * H, ended_s=12 * H, km=0)
    assert early.overtime_s == 0.0
    assert early.driver_cost == pytest.approx(4 * 20)
    robot = shift_cost(DRIVERS, ROBOT, started_s=9 * H, ended_s=17 * H, km=10)
    assert robot.driver_cost == 0.0  # nobody to pay: remote supervision instead
    assert robot.operating_cost == pytest.approx(8 * 6)
    assert robot.distance_cost == pytest.approx(1.0)


def test_shift_cost_of_a_crowd_courier_is_its_pay():
    cost = shift_cost(DRIVERS, VAN, started_s=10 * H, ended_s=20 * H, km=5, crowd_pay=17.5)
    assert (cost.overtime_s, cost.driver_cost, cost.operating_cost) == (0.0, 0.0, 17.5)


def test_overtime_is_time_past_the_contract_not_the_clock_past_the_shift_end():
    # Sent out at 10:00, back at 17:30: 7.5 h paid on an 8 h contract. The shift's end
    # (16:00) has passed, but the driver has not worked longer than the contract.
    late = shift_cost(DRIVERS, VAN, started_s=10 * H, ended_s=17.5 * H, km=0)
    assert late.overtime_s == 0.0
    assert late.driver_cost == pytest.approx(7.5 * 20)


@pytest.mark.parametrize("vtype", [VAN, ROBOT])
def test_shift_cost_array_agrees_with_scalar(vtype):
    started = np.array([8 * H, 8 * H, 9 * H, 8.25 * H])
    ended = np.array([17.5 * H, 12 * H, 17 * H, 16 * H])
    km = np.array([40.0, 0.0, 10.0, 33.3])
    arrays = shift_cost_array(DRIVERS, vtype, started_s=started, ended_s=ended, km=km)
    for i in range(4):
        one = shift_cost(
            DRIVERS,
            vtype,
            started_s=float(started[i]),
            ended_s=float(ended[i]),
            km=float(km[i]),
        )
        assert arrays.overtime_s[i] == one.overtime_s
        assert arrays.driver_cost[i] == one.driver_cost
        assert arrays.operating_cost[i] == one.operating_cost
        assert arrays.distance_cost[i] == one.distance_cost
        assert arrays.fixed_cost == one.fixed_cost


# -- the fleet -------------------------------------------------------------------------
def test_build_fleet_numbers_vehicles_per_hub_and_type():
    sc = _scenario(
        vehicle_types={"van": {"mode": "van"}, "bot": {"mode": "robot"}},
        fleet=[
            {"type": "van", "count": 2, "hub": "hub"},
            {"type": "bot", "count": 1, "hub": "hub"},
        ],
    )
    fleet = build_fleet(sc, {"hub": 7})
    assert [v.id for v in fleet] == ["hub/van-01", "hub/van-02", "hub/bot-01"]
    assert fleet[0].driver_id == "driver:hub/van-01"
    assert {v.hub_node for v in fleet} == {7}
    assert fleet[2].type.mode == "robot"
