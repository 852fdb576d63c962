"""Settings of the operation: hubs, vehicle types, the fleet, drivers and their
shifts, service at the stop, lockers, crowdsourced couriers and disruptions.

The rules that read these settings (loading, breaks, hours of service, locker
occupancy, courier decisions) live with the runtime in :mod:`twin.fleet`,
:mod:`twin.lockers` and :mod:`twin.crowd`; here are only the validated figures.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from twin.constants import ROAD_CLASSES
from twin.modes import CREWED, MODE_DEFAULTS, NEEDS_PRESENCE
from twin.scenario._base import Hour, NonNeg, Positive, SettingsModel, Share

__all__ = [
    "SIZES",
    "CrowdSettings",
    "DisruptionSettings",
    "DriverSettings",
    "FailureSettings",
    "FleetEntry",
    "Hub",
    "LockerSettings",
    "LockerSite",
    "ServiceSettings",
    "ShiftSettings",
    "Size",
    "VehicleType",
]


class Hub(SettingsModel):
    """A depot or micro-hub. Location may be omitted: it then defaults to the map's
    hub site (synthetic Laredo) or the network's centre, so any map works unchanged."""

    id: str = "hub"
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    docks: Annotated[int, Field(ge=1)] = 4
    load_time_per_parcel_s: NonNeg = 15.0
    load_setup_s: NonNeg = 300.0
    #: Spread of each loading's duration, as a coefficient of variation (standard
    #: deviation / mean): 0 loads every trip in exactly its expected time; above 0 the
    #: time is gamma-distributed about it (1 = exponential, as queueing models assume).
    load_time_cv: Annotated[float, Field(ge=0, le=3)] = 0.0
    open_h: Hour = 5.0
    close_h: Hour = 23.0

    @model_validator(mode="after")
    def _both_or_neither(self) -> Hub:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give both lat and lon, or neither (to use the map's default site)")
        if self.close_h <= self.open_h:
            raise ValueError("close_h must be after open_h")
        return self


class VehicleType(SettingsModel):
    """Capacity, speed, limits and costs of one kind of vehicle.

    ``mode`` selects the rules that apply (:mod:`twin.modes`) and the defaults of
    the fields not given: ``{mode: drone}`` alone is a complete drone.
    """

    mode: Literal["van", "cargo_bike", "autonomous_van", "robot", "drone"] = "van"
    capacity_parcels: Annotated[int, Field(ge=1)] = 120
    capacity_volume_m3: Positive = 9.0
    #: Payload, for a drone.
    capacity_weight_kg: Positive = 900.0
    #: Largest single parcel (a robot's bay, a drone's box); None: the whole volume.
    max_parcel_volume_m3: Positive | None = None
    #: Multiplier on road travel times' speed (vans, autonomous vans).
    speed_factor: Positive = 1.0
    #: Fixed speed, whatever the traffic: a bike's or robot's pace, a drone's cruise.
    speed_kph: Positive | None = None
    #: The network it moves on (:mod:`twin.maps.modal`): robots walk, bikes ride.
    network: Literal["drive", "walk", "bike"] = "drive"
    #: Road classes this vehicle may use (None: all). Robots: streets with sidewalks.
    road_classes: tuple[str, ...] | None = None
    #: Longest trip (robot) or sortie (drone), in km; None: no limit.
    range_km: Positive | None = None
    #: Multi-trip: trips (sorties) a vehicle may make per day, reloading at its hub.
    max_trips: Annotated[int, Field(ge=1)] = 1
    fixed_cost_per_day: NonNeg = 55.0
    cost_per_km: NonNeg = 0.32
    co2_kg_per_km: NonNeg = 0.24
    #: Remote supervision per operating hour (uncrewed modes).
    supervision_cost_per_h: NonNeg = 0.0
    #: Time at a stop before the handover, replacing parking and walking (None: service's).
    stop_overhead_s: NonNeg | None = None
    #: Extra handover time (the customer walks out to the curb or the robot).
    handover_extra_s: NonNeg = 0.0
    #: Drones: take-off plus landing per sortie, battery swap between sorties, limits.
    takeoff_landing_s: NonNeg = 60.0
    swap_s: NonNeg = 180.0
    max_wind_kph: NonNeg = 35.0
    max_rain_mm_h: NonNeg = 2.5
    #: Truck-and-drone: the drone type (a name in ``vehicle_types``) this vehicle
    #: carries. The drone is launched at one of the vehicle's stops to a nearby
    #: customer and recovered there before the vehicle drives on.
    drone: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _mode_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("mode", "van") in MODE_DEFAULTS:
            return {**MODE_DEFAULTS[data.get("mode", "van")], **data}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> VehicleType:
        if self.road_classes is not None:
            unknown = sorted(set(self.road_classes) - set(ROAD_CLASSES))
            if unknown:
                raise ValueError(
                    f"road_classes {unknown} unknown; use some of {', '.join(ROAD_CLASSES)}"
                )
        if self.mode == "drone" and self.speed_kph is None:
            raise ValueError("a drone needs speed_kph (its cruise speed)")
        if self.network != "drive" and self.speed_kph is None:
            raise ValueError(
                f"network {self.network!r} needs speed_kph (the pace on foot paths or bike lanes)"
            )
        return self

    @property
    def crewed(self) -> bool:
        """Has a paid driver or rider (wage, breaks, hours of service)."""
        return self.mode in CREWED

    @property
    def needs_presence(self) -> bool:
        return self.mode in NEEDS_PRESENCE


class FleetEntry(SettingsModel):
    """``count`` vehicles of ``type`` based at ``hub``."""

    type: str = "van"
    count: Annotated[int, Field(ge=0)] = 25
    hub: str = "hub"
    #: Owned (or leased long-term): each vehicle costs its type's ``fixed_cost_per_day``
    #: every day, used or not. False: hired by the day, paid only on days it works.
    owned: bool = True
    #: The shift its drivers work: a key of the scenario's ``shifts`` (None: the
    #: ``drivers`` settings). Vehicles of one hub and type on two shifts are two
    #: entries; their ids name the shift (``hub/van-early-01``).
    shift: str | None = None


#: Shortest and longest shift a scenario may set: shorter is a typo (minutes for
#: hours), longer breaks any hours-of-service rule (US FMCSA allows 14 h on duty).
MIN_SHIFT_H = 1.0
MAX_SHIFT_H = 16.0


class DriverSettings(SettingsModel):
    """Shifts, the break rule, the longest working day and pay.

    The break rule counts time on duty (driving, stops, loading) since the shift
    start or the last break: in city delivery most of the day is spent at stops,
    so a driving-time rule would almost never trigger.
    """

    shift_start_h: Hour = 8.0
    shift_end_h: Hour = 18.0
    break_after_h: Positive = 4.5
    break_min: NonNeg = 30.0
    max_working_h: Positive = 11.0
    #: Hours of service: most driving per shift (None: only the working-day limit).
    max_driving_h: Positive | None = None
    cost_per_hour: NonNeg = 22.0
    overtime_cost_per_hour: NonNeg = 33.0

    @model_validator(mode="after")
    def _ordered(self) -> DriverSettings:
        if self.shift_end_h <= self.shift_start_h:
            raise ValueError("shift_end_h must be after shift_start_h")
        length = self.shift_end_h - self.shift_start_h
        if not MIN_SHIFT_H <= length <= MAX_SHIFT_H:
            raise ValueError(
                f"a shift of {length:g} h (shift_start_h {self.shift_start_h:g} to "
                f"shift_end_h {self.shift_end_h:g}) is not a working day; give one of "
                f"{MIN_SHIFT_H:g} to {MAX_SHIFT_H:g} h"
            )
        if self.max_working_h < self.shift_end_h - self.shift_start_h:
            raise ValueError("max_working_h must be at least the shift length")
        if self.max_driving_h is not None and self.max_driving_h > self.max_working_h:
            raise ValueError("max_driving_h cannot exceed max_working_h")
        return self


class ShiftSettings(SettingsModel):
    """One named shift: what it changes of the scenario's ``drivers`` settings (its
    start and end, break rule, working-day and driving limits, pay). Fields left out
    are the ``drivers`` ones; the shift as a whole must be a valid
    :class:`DriverSettings` (checked when the scenario loads)."""

    shift_start_h: Hour | None = None
    shift_end_h: Hour | None = None
    break_after_h: Positive | None = None
    break_min: NonNeg | None = None
    max_working_h: Positive | None = None
    max_driving_h: Positive | None = None
    cost_per_hour: NonNeg | None = None
    overtime_cost_per_hour: NonNeg | None = None

    def applied_to(self, drivers: DriverSettings) -> DriverSettings:
        """``drivers`` with this shift's fields in place of theirs (validated)."""
        changes = self.model_dump(exclude_none=True)
        return DriverSettings.model_validate({**drivers.model_dump(), **changes})


class ServiceSettings(SettingsModel):
    """Time at each stop and what happens after a failed attempt."""

    parking_s_mean: NonNeg = 60.0
    walk_s_mean: NonNeg = 45.0
    handover_s_mean: NonNeg = 60.0
    service_cv: NonNeg = 0.5
    signature_extra_s: NonNeg = 45.0
    max_attempts: Annotated[int, Field(ge=1)] = 3
    eta_update_stops_before: Annotated[int, Field(ge=1)] = 3


class FailureSettings(SettingsModel):
    """Why an attempt at the door fails, beyond the customer being out, and why a
    stop is not attempted at all (docs/background/validation.md gives the sources of the defaults).

    Customer absence is the customer model's (:mod:`twin.customers`: who is at home,
    who answers). The chances here are per attempt, drawn from the attempt's own
    random stream (common random numbers: every policy meets the same failures).
    ``refused`` and ``damaged`` parcels go back to the sender; the others wait for
    the next attempt. A courier who cannot reach a stop makes *no attempt*: the
    parcel is planned again and counted in none of the attempt KPIs.
    """

    #: The address cannot be found or the building not entered (gate, entry code,
    #: no answer at the lobby); any delivery option. Address problems are reported
    #: as the cause of up to a quarter of failed deliveries (Loqate 2021).
    access_problem_prob: Share = 0.01
    #: The customer is at home and refuses the parcel (wrong item, changed mind).
    refusal_prob: Share = 0.003
    #: The parcel is found damaged at the door and refused (about 0.5 % of parcels
    #: arrive with damaged contents: StellaService 2013).
    damaged_prob: Share = 0.003
    #: A safe-drop parcel with nobody at home and no safe place to leave it (no
    #: porch, exposed to theft or rain): the driver takes it back.
    no_safe_place_prob: Share = 0.015
    #: A safe-dropped parcel is stolen before the customer takes it in (about 1.2 %
    #: of US parcels, from SafeWise's 260 million stolen and Pitney Bowes' 21.2 billion
    #: shipped in 2022). Still a delivery for the carrier; the customer is unhappy.
    theft_prob: Share = 0.01
    #: The street to a stop is blocked (works, police, flooding): no attempt. No
    #: published rate found; off by default.
    road_blocked_prob: Share = 0.0


class DisruptionSettings(SettingsModel):
    """What goes wrong: cancellations, drivers who do not come in, breakdowns.

    Road closures and incidents belong to ``traffic.closures``; a surge of
    orders to ``demand.surges``. Each draw comes from its own random stream, so
    every policy faces the same disruptions (common random numbers).
    """

    #: Share of orders whose customer asks to cancel, at a uniform time between
    #: placing the order and the end of its window (no effect once delivered; a
    #: parcel on board rides back to the hub).
    cancel_share: Share = 0.0
    #: Chance a driver does not come in, per driver and day; known at shift start.
    no_show_prob: Share = 0.0
    #: Chance a vehicle breaks down during a day (at a uniform time of its shift).
    breakdown_prob: Share = 0.0
    #: Time until a broken-down vehicle's parcels are back at the hub.
    recovery_h: Positive = 1.0


Size = Literal["small", "medium", "large"]
SIZES: tuple[Size, ...] = ("small", "medium", "large")


def _default_compartments() -> dict[Size, int]:
    return {"small": 40, "medium": 24, "large": 8}


class LockerSite(SettingsModel):
    """One locker bank or staffed pickup point."""

    id: str
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    compartments: dict[Size, Annotated[int, Field(ge=0)]] = Field(
        default_factory=_default_compartments
    )


def _default_volumes() -> dict[Size, float]:
    return {"small": 0.02, "medium": 0.06, "large": 0.15}


class LockerSettings(SettingsModel):
    """The scenario's lockers and how customers use them (none by default)."""

    sites: tuple[LockerSite, ...] = ()
    #: Largest parcel volume each compartment size takes.
    compartment_volume_m3: dict[Size, Annotated[float, Field(gt=0)]] = Field(
        default_factory=_default_volumes
    )
    #: Customers only consider a locker this close to home (straight line).
    max_distance_km: Annotated[float, Field(gt=0)] = 2.0
    #: The chance of choosing it halves every ``half_distance_km`` further away.
    half_distance_km: Annotated[float, Field(gt=0)] = 0.8
    #: Share of customers who accept a redirection to a locker after a failed attempt.
    redirect_share: Annotated[float, Field(ge=0, le=1)] = 0.5
    #: A driver redirects only to a site this close to the customer's address.
    redirect_radius_km: Annotated[float, Field(gt=0)] = 3.0
    pickup_delay_h_median: Annotated[float, Field(gt=0)] = 14.0
    pickup_delay_sigma: Annotated[float, Field(ge=0)] = 0.9
    #: Parcels not collected by then go back to the hub and the sender.
    expiry_h: Annotated[float, Field(gt=0)] = 72.0
    #: Time to put one parcel into a compartment.
    deposit_s: Annotated[float, Field(ge=0)] = 20.0

    @model_validator(mode="after")
    def _valid(self) -> LockerSettings:
        ids = [s.id for s in self.sites]
        if len(set(ids)) != len(ids):
            raise ValueError(f"locker site ids must be unique, got {ids}")
        vols = [self.compartment_volume_m3.get(z, math.nan) for z in SIZES]
        if any(math.isnan(v) for v in vols) or vols != sorted(vols):
            raise ValueError(
                "compartment_volume_m3 needs small <= medium <= large, all three given"
            )
        return self


class CrowdSettings(SettingsModel):
    """Crowdsourced couriers of a run. The default (``couriers_per_day: 0``) is no crowd."""

    #: Poisson mean of the number of couriers who come online each day.
    couriers_per_day: Annotated[int, Field(ge=0)] = 0
    #: Hours of the day (from, to) within which couriers log on.
    online_hours: tuple[float, float] = (10.0, 20.0)
    #: Mean online session length (h); lognormal, see the module docstring.
    session_h_mean: Annotated[float, Field(gt=0)] = 3.0
    #: What the platform pays per parcel of a bundle ($).
    pay_per_delivery: Annotated[float, Field(ge=0)] = 6.0
    #: Plus this per km of the offered route ($).
    pay_per_km: Annotated[float, Field(ge=0)] = 0.5
    #: Mean hourly earning a courier wants before accepting ($/h).
    reservation_wage_per_h: Annotated[float, Field(gt=0)] = 18.0
    #: Lognormal sigma of reservation wages across couriers.
    wage_sigma: Annotated[float, Field(ge=0)] = 0.3
    #: Mean of how far (km) couriers are willing to drive to the hub to pick up.
    max_detour_km: Annotated[float, Field(gt=0)] = 6.0
    #: Most parcels a courier takes in one bundle.
    max_parcels: Annotated[int, Field(ge=1)] = 8
    #: Chance a parcel given to a courier is attempted as planned (else brought back).
    reliability: Annotated[float, Field(ge=0, le=1)] = 0.93
    #: Multiplier on road speed for their car, as for fleet vehicles.
    speed_factor: Annotated[float, Field(gt=0)] = 1.0
    #: Emissions of their private car.
    co2_kg_per_km: Annotated[float, Field(ge=0)] = 0.2

    @field_validator("online_hours")
    @classmethod
    def _ordered_hours(cls, v: tuple[float, float]) -> tuple[float, float]:
        start, end = v
        if not 0 <= start < end <= 24:
            raise ValueError(
                "online_hours must be (from, to) with 0 <= from < to <= 24, "
                f"got ({start:g}, {end:g})"
            )
        return v
