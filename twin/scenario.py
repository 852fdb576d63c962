"""Scenario: one YAML file -> one frozen, validated model tree.

Every section has defaults, so an empty section (or a missing one) means "the
defaults". Unknown keys and bad values fail with the file, the field path and a
hint (a close match for a misspelt key); nothing un-validated travels past
:func:`load_scenario`. ``variants:`` holds named overrides that are deep-merged
onto the base scenario and validated the same way. :func:`dump_scenario` writes
the resolved scenario next to every result, so each number traces to its inputs.

Times of day are hours since midnight (``8.5`` = 08:30); durations carry their
unit in the name (``_s``, ``_min``, ``_h``).
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from twin.airspace import AirspaceSettings
from twin.crowd import CrowdSettings
from twin.errors import ScenarioError
from twin.lockers import LockerSettings
from twin.maps.network import ROAD_CLASSES
from twin.modes import CREWED, MODE_DEFAULTS, NEEDS_PRESENCE
from twin.sites import SiteSettings
from twin.traveltime import TrafficSettings
from twin.weather import WeatherSettings

__all__ = [
    "CustomerSettings",
    "DemandSettings",
    "DisruptionSettings",
    "DriverSettings",
    "FleetEntry",
    "HouseholdType",
    "Hub",
    "MapSettings",
    "PolicySettings",
    "Scenario",
    "ServiceSettings",
    "Surge",
    "VehicleType",
    "dump_scenario",
    "json_schema",
    "load_scenario",
]

Hour = Annotated[float, Field(ge=0, le=48)]
Share = Annotated[float, Field(ge=0, le=1)]
Positive = Annotated[float, Field(gt=0)]
NonNeg = Annotated[float, Field(ge=0)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


ServiceLevel = Literal["next_day", "same_day"]
WindowKind = Literal["all_day", "four_hour", "two_hour"]
DeliveryOption = Literal["home", "safe_drop", "signature"]


def _check_shares(shares: Mapping[Any, float], what: str) -> None:
    total = sum(shares.values())
    if shares and abs(total - 1.0) > 1e-6:
        raise ValueError(f"{what} shares must add up to 1 (they add up to {total:g})")


def _default_service_levels() -> dict[ServiceLevel, float]:
    return {"next_day": 0.8, "same_day": 0.2}


def _default_windows() -> dict[WindowKind, float]:
    return {"all_day": 0.6, "four_hour": 0.25, "two_hour": 0.15}


def _default_options() -> dict[DeliveryOption, float]:
    return {"home": 0.2, "safe_drop": 0.7, "signature": 0.1}


class MapSettings(_Model):
    """Which road network, and how far an address may be from it."""

    ref: str = "laredo"
    network_type: str = "drive"
    max_snap_m: Positive = 500.0


class Hub(_Model):
    """A depot or micro-hub. Location may be omitted: it then defaults to the map's
    hub site (synthetic Laredo) or the network's centre, so any map works unchanged."""

    id: str = "hub"
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    docks: Annotated[int, Field(ge=1)] = 4
    load_time_per_parcel_s: NonNeg = 15.0
    load_setup_s: NonNeg = 300.0
    open_h: Hour = 5.0
    close_h: Hour = 23.0

    @model_validator(mode="after")
    def _both_or_neither(self) -> Hub:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give both lat and lon, or neither (to use the map's default site)")
        if self.close_h <= self.open_h:
            raise ValueError("close_h must be after open_h")
        return self


class VehicleType(_Model):
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


class FleetEntry(_Model):
    """``count`` vehicles of ``type`` based at ``hub``."""

    type: str = "van"
    count: Annotated[int, Field(ge=0)] = 25
    hub: str = "hub"


class DriverSettings(_Model):
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
        if self.max_working_h < self.shift_end_h - self.shift_start_h:
            raise ValueError("max_working_h must be at least the shift length")
        if self.max_driving_h is not None and self.max_driving_h > self.max_working_h:
            raise ValueError("max_driving_h cannot exceed max_working_h")
        return self


def _default_arrivals() -> tuple[float, ...]:
    # Orders released during the day (after the morning cutoff), by hour: online
    # shopping peaks late morning and evening.
    return (0, 0, 0, 0, 0, 0, 0, 1, 3, 5, 6, 6, 6, 5, 5, 5, 5, 6, 6, 5, 4, 3, 1, 0)


class Surge(_Model):
    """Extra same-day orders placed between two hours of one day (a flash sale, a storm warning)."""

    day: Annotated[int, Field(ge=0)] = 0
    start_h: Hour = 11.0
    end_h: Hour = 14.0
    #: Poisson mean of the extra orders.
    orders: Annotated[int, Field(ge=1)] = 100

    @model_validator(mode="after")
    def _ordered(self) -> Surge:
        if self.end_h <= self.start_h:
            raise ValueError("end_h must be after start_h")
        return self


class DemandSettings(_Model):
    """How many orders, when they become known, where, how big, with what promise."""

    orders_per_day: Annotated[int, Field(ge=0)] = 1500
    cutoff_h: Hour = 7.0
    share_known_at_cutoff: Share = 0.85
    arrival_weights: tuple[NonNeg, ...] = Field(default_factory=_default_arrivals)
    service_levels: dict[ServiceLevel, Share] = Field(default_factory=_default_service_levels)
    windows: dict[WindowKind, Share] = Field(default_factory=_default_windows)
    options: dict[DeliveryOption, Share] = Field(default_factory=_default_options)
    #: Promised windows, hours of the day: "all day", and the 4-hour and 2-hour slots.
    day_window_h: tuple[Hour, Hour] = (8.0, 18.0)
    slot_starts_4h: tuple[Hour, ...] = (8.0, 11.0, 14.0)
    slot_starts_2h: tuple[Hour, ...] = (8.0, 10.0, 12.0, 14.0, 16.0)
    #: Distinct customers per order of daily demand (repeat customers across days).
    customers_per_daily_order: Positive = 4.0
    volume_m3_median: Positive = 0.02
    volume_m3_sigma: NonNeg = 0.8
    weight_kg_median: Positive = 1.5
    weight_kg_sigma: NonNeg = 0.9
    #: Bursts of extra same-day orders on given days.
    surges: tuple[Surge, ...] = ()
    #: Relative address density by road class of the nearest street.
    density_by_class: dict[str, NonNeg] = Field(
        default_factory=lambda: {
            "residential": 1.0,
            "tertiary": 0.5,
            "secondary": 0.35,
            "primary": 0.15,
            "trunk": 0.02,
            "motorway": 0.0,
            "other": 0.3,
        }
    )

    @model_validator(mode="after")
    def _valid(self) -> DemandSettings:
        _check_shares(self.service_levels, "service_levels")
        _check_shares(self.windows, "windows")
        _check_shares(self.options, "options")
        if len(self.arrival_weights) != 24:
            raise ValueError("arrival_weights needs 24 hourly values")
        if self.share_known_at_cutoff < 1 and sum(self.arrival_weights) <= 0:
            raise ValueError("arrival_weights must not all be 0 when orders arrive in the day")
        return self


class HouseholdType(_Model):
    """A kind of household: who is at home when, and how they answer the door."""

    name: str
    share: Share
    at_home_by_hour: tuple[Share, ...]
    answer_door: Share = 0.95
    locker_preference: Share = 0.1

    @model_validator(mode="after")
    def _hours(self) -> HouseholdType:
        if len(self.at_home_by_hour) != 24:
            raise ValueError("at_home_by_hour needs 24 hourly probabilities")
        return self


def _default_households() -> tuple[HouseholdType, ...]:
    # Share of households with someone at home, by hour. Illustrative defaults in
    # the range reported for US urban households; calibrate from failed attempts.
    working: tuple[float, ...] = (0.95,) * 7 + (0.7, 0.5, 0.45, 0.42, 0.42, 0.45, 0.42)
    working += (0.42, 0.45, 0.55, 0.75, 0.85, 0.9, 0.92, 0.95, 0.95, 0.95)
    family: tuple[float, ...] = (0.97,) * 7 + (0.8, 0.7, 0.68, 0.68, 0.7, 0.72, 0.7, 0.72)
    family += (0.78, 0.85) + (0.9,) * 7
    retired: tuple[float, ...] = (0.98,) * 8 + (0.9, 0.85, 0.82, 0.82, 0.85, 0.85, 0.85)
    retired += (0.88, 0.9) + (0.95,) * 7
    return (
        HouseholdType(name="working", share=0.45, at_home_by_hour=working, answer_door=0.92),
        HouseholdType(name="family", share=0.4, at_home_by_hour=family, answer_door=0.95),
        HouseholdType(name="retired", share=0.15, at_home_by_hour=retired, answer_door=0.97),
    )


class CustomerSettings(_Model):
    """The customers (Mesa agents): household mix and how satisfaction moves."""

    households: tuple[HouseholdType, ...] = Field(default_factory=_default_households)
    initial_satisfaction: Annotated[float, Field(ge=1, le=5)] = 4.0
    lateness_penalty_per_h: NonNeg = 0.5
    failed_attempt_penalty: NonNeg = 0.8
    eta_error_penalty_per_h: NonNeg = 0.4
    on_time_reward: NonNeg = 0.15
    #: Share of the gap to the initial level recovered each day (memory of past service).
    daily_recovery: Share = 0.2

    @model_validator(mode="after")
    def _shares(self) -> CustomerSettings:
        _check_shares({h.name: h.share for h in self.households}, "households")
        return self


class ServiceSettings(_Model):
    """Time at each stop and what happens after a failed attempt."""

    parking_s_mean: NonNeg = 60.0
    walk_s_mean: NonNeg = 45.0
    handover_s_mean: NonNeg = 60.0
    service_cv: NonNeg = 0.5
    signature_extra_s: NonNeg = 45.0
    max_attempts: Annotated[int, Field(ge=1)] = 3
    eta_update_stops_before: Annotated[int, Field(ge=1)] = 3


class DisruptionSettings(_Model):
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


class PolicySettings(_Model):
    """Dispatch policy by name, with its own parameters."""

    name: str = "static"
    time_limit_s: Positive = 10.0
    params: dict[str, Any] = Field(default_factory=dict)


class OutputSettings(_Model):
    dir: str = "out"
    event_log_format: Literal["parquet", "csv"] = "parquet"


class Scenario(_Model):
    """A whole what-if: map, hubs, fleet, drivers, demand, customers, traffic, policy."""

    name: str = "scenario"
    description: str = ""
    seed: Annotated[int, Field(ge=0)] = 0
    days: Annotated[int, Field(ge=1, le=365)] = 1
    start_date: dt.date = dt.date(2026, 3, 2)  # a Monday
    map: MapSettings = MapSettings()
    hubs: tuple[Hub, ...] = (Hub(),)
    vehicle_types: dict[str, VehicleType] = Field(default_factory=lambda: {"van": VehicleType()})
    fleet: tuple[FleetEntry, ...] = (FleetEntry(),)
    drivers: DriverSettings = DriverSettings()
    demand: DemandSettings = DemandSettings()
    customers: CustomerSettings = CustomerSettings()
    service: ServiceSettings = ServiceSettings()
    traffic: TrafficSettings = TrafficSettings()
    disruptions: DisruptionSettings = DisruptionSettings()
    weather: WeatherSettings = WeatherSettings()
    lockers: LockerSettings = LockerSettings()
    airspace: AirspaceSettings = AirspaceSettings()
    crowd: CrowdSettings = CrowdSettings()
    #: A network-design study (``twin sites``): candidate sites and the model's settings.
    sites: SiteSettings | None = None
    policy: PolicySettings = PolicySettings()
    outputs: OutputSettings = OutputSettings()
    variants: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        hub_ids = [h.id for h in self.hubs]
        if len(set(hub_ids)) != len(hub_ids):
            raise ValueError(f"hub ids must be unique, got {hub_ids}")
        if not self.hubs:
            raise ValueError("at least one hub is needed")
        for i, entry in enumerate(self.fleet):
            if entry.type not in self.vehicle_types:
                raise ValueError(
                    f"fleet[{i}].type {entry.type!r} is not among vehicle_types "
                    f"{sorted(self.vehicle_types)}"
                )
            if entry.hub not in hub_ids:
                raise ValueError(f"fleet[{i}].hub {entry.hub!r} is not among hubs {hub_ids}")
        if self.sites is not None:
            fleet_types = [e.type for e in self.fleet]
            wanted = self.sites.fleet_type or (fleet_types[0] if fleet_types else None)
            if wanted not in fleet_types:
                raise ValueError(
                    f"sites.fleet_type {wanted!r} must be a type in the fleet "
                    f"{sorted(set(fleet_types))}: its vehicles are shared among the sites"
                )
        for name, vtype in self.vehicle_types.items():
            if vtype.drone is None:
                continue
            carried = self.vehicle_types.get(vtype.drone)
            if carried is None or carried.mode != "drone":
                raise ValueError(
                    f"vehicle_types.{name}.drone {vtype.drone!r} must name a vehicle type "
                    f"with mode: drone; drone types here: "
                    f"{sorted(n for n, t in self.vehicle_types.items() if t.mode == 'drone')}"
                )
            if vtype.mode not in ("van", "autonomous_van"):
                raise ValueError(
                    f"vehicle_types.{name}.drone: only vans and autonomous vans carry a "
                    f"drone, not a {vtype.mode}"
                )
        return self

    @property
    def start_weekday(self) -> int:
        return self.start_date.weekday()

    def variant(self, name: str) -> Scenario:
        """The scenario with variant ``name``'s overrides applied (and validated)."""
        if name not in self.variants:
            raise ScenarioError(
                f"Scenario {self.name!r} has no variant {name!r}; variants are "
                f"{sorted(self.variants) or 'none'}."
            )
        base = self.model_dump(mode="json", exclude={"variants"})
        merged = _deep_merge(base, self.variants[name])
        merged["name"] = f"{self.name}[{name}]"
        return _validate(merged, source=f"variant {name!r} of {self.name!r}")


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _fields_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """Field names allowed at ``loc`` (for 'did you mean' hints on unknown keys)."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int) or current is None:
            continue
        info = getattr(current, "model_fields", {}).get(part)
        if info is None:
            return []
        annotation = info.annotation
        args = getattr(annotation, "__args__", ())
        current = next(
            (a for a in (annotation, *args) if isinstance(a, type) and issubclass(a, BaseModel)),
            None,
        )
    return sorted(getattr(current, "model_fields", {})) if current else []


def _format_error(error: Any) -> str:
    loc = tuple(error["loc"])
    path = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[")
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        allowed = _fields_at(Scenario, loc)
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"allowed keys: {', '.join(allowed)}"
        return f"{path or '(top level)'}: unknown key; {hint}"
    message = message.removeprefix("Value error, ")
    return f"{path or '(top level)'}: {message}"


def _validate(raw: Any, *, source: str) -> Scenario:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ScenarioError(
            f"{source}: the file must be a YAML mapping of sections (map:, fleet:, ...)."
        )
    # An empty section means its defaults; an optional study (sites:) stays absent.
    keep_none = ("description", "sites")
    raw = {k: ({} if v is None and k not in keep_none else v) for k, v in raw.items()}
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        lines = [_format_error(e) for e in exc.errors()]
        plural = "s" if len(lines) > 1 else ""
        head = f"{source} is not a valid scenario ({len(lines)} problem{plural}):"
        raise ScenarioError("\n  ".join([head, *lines])) from None


def load_scenario(path: str | Path, *, variant: str | None = None) -> Scenario:
    """Read and validate a scenario file (optionally one of its variants)."""
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"Scenario file {path} does not exist; check the path.")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None)
        context = getattr(exc, "context_mark", None)
        started = f", in what starts at line {context.line + 1}" if context else ""
        why = f" ({problem}{started})" if problem else ""
        raise ScenarioError(
            f"{path} is not valid YAML{where}{why}; fix the syntax there."
        ) from None
    scenario = _validate(raw, source=str(path))
    if "name" not in (raw or {}):
        scenario = scenario.model_copy(update={"name": path.stem})
    return scenario.variant(variant) if variant else scenario


def dump_scenario(scenario: Scenario, path: str | Path) -> None:
    """Write the fully resolved scenario (every default spelled out) as YAML."""
    data = scenario.model_dump(mode="json")
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    Path(path).write_text(text, encoding="utf-8")


def json_schema() -> dict[str, Any]:
    """JSON Schema of scenario files, for editor autocompletion (`twin schema`)."""
    schema = Scenario.model_json_schema()
    schema["title"] = "twin scenario"
    return schema
