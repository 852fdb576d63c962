"""Vehicles, and the operating rules of a working day as pure functions.

A vehicle is driven by one driver (same id suffix) and based at one hub. The
rules are written here once and read by the engine (:mod:`twin.sim`), the live
forecast (:mod:`twin.live.forecast`, on NumPy arrays of samples) and the
calibration (:mod:`twin.live.calibrate`, which inverts the stop model), so the
three cannot drift apart:

* **loading**: a setup per trip at a dock plus a time per parcel
  (:func:`load_time_s`);
* **a stop**: getting to the door (parking, walking there and back, or a mode's
  own overhead), the handover, a signature; each part lognormal with one CV
  (:func:`expected_service_s`, :func:`stop_overhead_s`, :func:`handover_mean_s`,
  :func:`draw_service_s`, :func:`draw_service_array`);
* **breaks**: a break of ``break_min`` is taken before a leg that would take
  time on duty since the shift start or the last break past ``break_after_h``
  (:func:`break_due`, :func:`break_due_array`, :func:`break_s`);
* **the working day** may not exceed ``max_working_h``: the driver heads back
  instead of starting a stop that would overrun it (:func:`working_day_end_s`,
  :func:`past_working_day`);
* **a shift's cost**: wages to the end of the shift, overtime past it, distance,
  the fixed day cost, supervision of uncrewed vehicles, or a crowd courier's pay
  (:func:`shift_cost`, :func:`shift_cost_array`).

Each function keeps the exact order of floating-point operations the engine has
always used, so that results do not move by a rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from twin.constants import DAY_S, HOUR_S
from twin.scenario import DriverSettings, Hub, Scenario, ServiceSettings, VehicleType
from twin.traveltime import lognormal_params

__all__ = [
    "CROWD",
    "ShiftCost",
    "Vehicle",
    "break_due",
    "break_due_array",
    "break_s",
    "build_fleet",
    "contracted_shift_s",
    "draw_service_array",
    "draw_service_s",
    "expected_service_s",
    "handover_mean_s",
    "load_time_s",
    "lognormal_params",
    "max_driving_s",
    "past_working_day",
    "safe_drop_mean_s",
    "shift_bounds_s",
    "shift_cost",
    "shift_cost_array",
    "stop_overhead_s",
    "working_day_end_s",
]

#: Vehicle type name (and mode in the vehicles table) of crowdsourced couriers.
CROWD = "crowd"


@dataclass(frozen=True)
class Vehicle:
    """One vehicle of the fleet, with its driver, home hub and shift."""

    id: str
    driver_id: str
    type_name: str
    type: VehicleType
    hub: str
    hub_node: int
    #: Its drivers' shift, break rule, limits and pay (``Scenario.driver_settings``).
    drivers: DriverSettings
    #: Costs its fixed cost on idle days too (``FleetEntry.owned``).
    owned: bool = True
    #: The named shift it works ("" for the scenario's ``drivers``).
    shift: str = ""

    @property
    def capacity(self) -> tuple[float, float, float]:
        t = self.type
        return (float(t.capacity_parcels), t.capacity_volume_m3, t.capacity_weight_kg)


def build_fleet(scenario: Scenario, hub_nodes: dict[str, int]) -> list[Vehicle]:
    """All vehicles of the scenario, numbered per hub, type and shift (``hub/van-01``,
    ``hub/van-late-01`` for a vehicle of shift ``late``)."""
    vehicles = []
    for entry in scenario.fleet:
        drivers = scenario.driver_settings(entry.shift)
        for k in range(entry.count):
            shift = f"{entry.shift}-" if entry.shift else ""
            vid = f"{entry.hub}/{entry.type}-{shift}{k + 1:02d}"
            vehicles.append(
                Vehicle(
                    id=vid,
                    driver_id=f"driver:{vid}",
                    type_name=entry.type,
                    type=scenario.vehicle_types[entry.type],
                    hub=entry.hub,
                    hub_node=hub_nodes[entry.hub],
                    drivers=drivers,
                    owned=entry.owned,
                    shift=entry.shift or "",
                )
            )
    return vehicles


# -- loading ---------------------------------------------------------------------------
def load_time_s(hub: Hub, vtype: VehicleType, parcels: int) -> float:
    """Time to load a trip's parcels at ``hub`` (once at a dock; the dock wait is extra).

    A drone has no dock setup: one parcel goes into its box at the pad.
    """
    if vtype.mode == "drone":
        return hub.load_time_per_parcel_s * parcels
    return hub.load_setup_s + hub.load_time_per_parcel_s * parcels


# -- stops -----------------------------------------------------------------------------
def stop_overhead_s(service: ServiceSettings, vtype: VehicleType | None = None) -> float:
    """Expected time to get to the door and back: parking and two walks, or the vehicle
    type's own ``stop_overhead_s`` (a robot or a drone does not park)."""
    if vtype is not None and vtype.stop_overhead_s is not None:
        return vtype.stop_overhead_s
    return service.parking_s_mean + 2 * service.walk_s_mean


def handover_mean_s(service: ServiceSettings, option: str, vtype: VehicleType) -> float:
    """Mean handover when someone answers: a signature takes longer, and some modes
    make the customer come out to the curb (``handover_extra_s``)."""
    extra = (service.signature_extra_s if option == "signature" else 0.0) + vtype.handover_extra_s
    return service.handover_s_mean + extra


def safe_drop_mean_s(service: ServiceSettings) -> float:
    """Mean time to leave a parcel when nobody answers: half a handover (a photo, no talk)."""
    return 0.5 * service.handover_s_mean


def expected_service_s(
    scenario: Scenario, option: str, vtype: VehicleType | None = None, *, locker: bool = False
) -> float:
    """Expected time at a stop: getting to the door (or locker) and the handover.

    A vehicle type's ``stop_overhead_s`` replaces parking and walking; its
    ``handover_extra_s`` is added (the customer comes out to the curb). A
    function of the scenario alone, so planners, the engine and the live
    forecast use one definition.
    """
    s = scenario.service
    overhead = stop_overhead_s(s, vtype)
    if locker:
        return overhead + scenario.lockers.deposit_s
    extra = s.signature_extra_s if option == "signature" else 0.0
    if vtype is not None:
        extra += vtype.handover_extra_s
    return overhead + s.handover_s_mean + extra


def draw_service_s(rng: np.random.Generator, mean: float, cv: float) -> float:
    """One part of a stop, lognormal with ``mean`` and ``cv`` (no draw if degenerate:
    the stream then stays where it was, which the engine's traces depend on)."""
    if mean <= 0:
        return 0.0
    if cv <= 0:
        return mean
    return float(mean * rng.lognormal(*lognormal_params(cv)))


def draw_service_array(
    rng: np.random.Generator, mean: float, n: int, *, mu: float, sigma: float
) -> np.ndarray:
    """``n`` independent draws of one part of a stop: :func:`draw_service_s` for samples.

    ``mu`` and ``sigma`` are :func:`lognormal_params` of the service CV, computed once by
    the caller (the forecast draws thousands of these per refresh).
    """
    if mean <= 0:
        return np.zeros(n)
    return mean * np.exp(mu + sigma * rng.standard_normal(n))


# -- breaks ----------------------------------------------------------------------------
def break_s(drivers: DriverSettings) -> float:
    """Length of one break."""
    return drivers.break_min * 60.0


def break_due(
    start_s: float, drive_s: float, duty_from_s: float, drivers: DriverSettings, *, crewed: bool
) -> bool:
    """Would a leg driven from ``start_s`` for ``drive_s`` pass the duty-time rule?

    Time on duty counts from ``duty_from_s`` (the shift start or the end of the
    last break). Only crewed vehicles take breaks.
    """
    return (
        crewed
        and drivers.break_min > 0
        and start_s + drive_s - duty_from_s > drivers.break_after_h * HOUR_S
    )


def break_due_array(
    start_s: np.ndarray,
    drive_s: np.ndarray,
    duty_from_s: np.ndarray,
    drivers: DriverSettings,
    *,
    crewed: bool,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """:func:`break_due` for arrays of samples (False outside ``mask``, if given)."""
    n = np.shape(start_s + drive_s - duty_from_s)
    if not (crewed and drivers.break_min > 0):
        return np.zeros(n, dtype=bool)
    due = start_s + drive_s - duty_from_s > drivers.break_after_h * HOUR_S
    return np.asarray(due if mask is None else mask & due)


# -- the working day -------------------------------------------------------------------
def shift_bounds_s(day: int, drivers: DriverSettings) -> tuple[float, float]:
    """Start and end of the shift on ``day`` (seconds since the start of day 0)."""
    return day * DAY_S + drivers.shift_start_h * HOUR_S, day * DAY_S + drivers.shift_end_h * HOUR_S


def working_day_end_s(started_s: Any, drivers: DriverSettings) -> Any:
    """Latest return to the hub for a working day that started at ``started_s``."""
    return started_s + drivers.max_working_h * HOUR_S


def max_driving_s(drivers: DriverSettings, *, crewed: bool) -> float:
    """Driving time allowed in a day (inf without a limit or without a driver)."""
    if drivers.max_driving_h is not None and crewed:
        return drivers.max_driving_h * HOUR_S
    return math.inf


def past_working_day(now_s: Any, drive_s: Any, service_s: Any, back_s: Any, limit_s: Any) -> Any:
    """Would driving to the next stop, serving it and driving back to the hub (expected
    times) end after ``limit_s``? Then the driver heads back instead.

    Written with plain operators, so it takes floats (the engine) or arrays of
    samples (the forecast) alike.
    """
    return now_s + drive_s + service_s + back_s > limit_s


# -- cost ------------------------------------------------------------------------------
class ShiftCost(NamedTuple):
    """A vehicle day's cost by component (currency units), as the vehicles table has them.

    Floats from :func:`shift_cost`; arrays (one entry per day) from
    :func:`shift_cost_array`, hence the loose annotations.
    """

    overtime_s: Any
    fixed_cost: float
    distance_cost: Any
    #: Wages for the whole paid time, overtime pay included (``overtime_cost``).
    driver_cost: Any
    operating_cost: Any
    #: The part of ``driver_cost`` paid at the overtime rate.
    overtime_cost: Any = 0.0


def shift_cost(
    drivers: DriverSettings,
    vtype: VehicleType,
    *,
    started_s: float,
    ended_s: float,
    km: float,
    crowd_pay: float | None = None,
) -> ShiftCost:
    """Price one vehicle day.

    A crewed vehicle pays its driver's wage for the paid time (shift start to
    end, ``ended_s - started_s``) up to the contracted shift length
    (``drivers.shift_end_h - shift_start_h``) and the overtime rate beyond it:
    overtime is time worked past the contract, not the clock past the shift's
    end, so a van sent out late and back late has no overtime if its day was no
    longer than the contract. An uncrewed vehicle pays remote supervision for
    all its working time. A crowd courier (``crowd_pay`` given) is paid for the
    bundle, not by the hour, and has no overtime.
    """
    worked = ended_s - started_s
    if crowd_pay is not None:
        overtime, driver_cost, operating_cost = 0.0, 0.0, crowd_pay
    else:
        overtime = max(0.0, worked - contracted_shift_s(drivers))
        wages = (worked - overtime) / HOUR_S * drivers.cost_per_hour
        wages += overtime / HOUR_S * drivers.overtime_cost_per_hour
        driver_cost = wages if vtype.crewed else 0.0
        operating_cost = worked / HOUR_S * vtype.supervision_cost_per_h
    overtime_cost = overtime / HOUR_S * drivers.overtime_cost_per_hour if vtype.crewed else 0.0
    return ShiftCost(
        overtime_s=overtime,
        fixed_cost=vtype.fixed_cost_per_day,
        distance_cost=km * vtype.cost_per_km,
        driver_cost=driver_cost,
        operating_cost=operating_cost,
        overtime_cost=overtime_cost,
    )


def contracted_shift_s(drivers: DriverSettings) -> float:
    """The contracted shift length: what a day's wage pays before overtime."""
    return (drivers.shift_end_h - drivers.shift_start_h) * HOUR_S


def shift_cost_array(
    drivers: DriverSettings,
    vtype: VehicleType,
    *,
    started_s: np.ndarray,
    ended_s: np.ndarray,
    km: np.ndarray,
) -> ShiftCost:
    """:func:`shift_cost` of many days of one vehicle type (arrays; no crowd pay)."""
    worked = ended_s - started_s
    overtime = np.maximum(0.0, worked - contracted_shift_s(drivers))
    wages = (worked - overtime) / HOUR_S * drivers.cost_per_hour
    wages = wages + overtime / HOUR_S * drivers.overtime_cost_per_hour
    return ShiftCost(
        overtime_s=overtime,
        fixed_cost=vtype.fixed_cost_per_day,
        distance_cost=km * vtype.cost_per_km,
        driver_cost=wages if vtype.crewed else np.zeros_like(wages),
        operating_cost=worked / HOUR_S * vtype.supervision_cost_per_h,
        overtime_cost=overtime / HOUR_S * drivers.overtime_cost_per_hour
        if vtype.crewed
        else np.zeros_like(wages),
    )
