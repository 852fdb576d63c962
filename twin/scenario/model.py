"""The scenario: one frozen tree of every settings section, with the checks that
span sections (fleet entries name known hubs and vehicle types, a carried drone
is a drone, a site study shares a vehicle type of the fleet).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import Field, ValidationError, model_validator

from twin.scenario import edit
from twin.scenario._base import SettingsModel
from twin.scenario.demand import CustomerSettings, DemandSettings
from twin.scenario.environment import (
    AirspaceSettings,
    MapSettings,
    TrafficSettings,
    WeatherSettings,
)
from twin.scenario.operations import (
    CrowdSettings,
    DisruptionSettings,
    DriverSettings,
    FailureSettings,
    FleetEntry,
    Hub,
    LockerSettings,
    ServiceSettings,
    ShiftSettings,
    VehicleType,
)
from twin.scenario.policy import OutputSettings, PolicySettings
from twin.scenario.study import SiteSettings

__all__ = ["Scenario"]


class Scenario(SettingsModel):
    """A whole what-if: map, hubs, fleet, drivers, demand, customers, traffic, policy."""

    name: str = "scenario"
    description: str = ""
    seed: Annotated[int, Field(ge=0)] = 0
    #: Measured days: the days whose KPIs are reported.
    days: Annotated[int, Field(ge=1, le=365)] = 1
    #: Days simulated before the measured ones, whose KPIs are left out: a run that
    #: starts with no backlog is not a steady-state day. ``None`` (default): one
    #: warm-up day for a multi-day run, none for a single day. The warm-up starts on
    #: ``start_date``; the measured days follow it, with the backlog carried over.
    warmup_days: Annotated[int | None, Field(ge=0, le=60)] = None
    start_date: dt.date = dt.date(2026, 3, 2)  # a Monday
    map: MapSettings = MapSettings()
    hubs: tuple[Hub, ...] = (Hub(),)
    vehicle_types: dict[str, VehicleType] = Field(default_factory=lambda: {"van": VehicleType()})
    fleet: tuple[FleetEntry, ...] = (FleetEntry(),)
    drivers: DriverSettings = DriverSettings()
    #: Named shifts (``early``, ``late``, ...) that fleet entries work (``fleet[].shift``);
    #: each changes some of ``drivers``' settings.
    shifts: dict[str, ShiftSettings] = Field(default_factory=dict)
    demand: DemandSettings = DemandSettings()
    customers: CustomerSettings = CustomerSettings()
    service: ServiceSettings = ServiceSettings()
    failures: FailureSettings = FailureSettings()
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

    def driver_settings(self, shift: str | None) -> DriverSettings:
        """The settings of a shift's drivers (``None``: the scenario's ``drivers``)."""
        return self.drivers if shift is None else self.shifts[shift].applied_to(self.drivers)

    def _check_fleet_entries_distinct(self) -> None:
        seen: dict[tuple[str, str, str | None], int] = {}
        for i, entry in enumerate(self.fleet):
            key = (entry.hub, entry.type, entry.shift)
            if key in seen:
                raise ValueError(
                    f"fleet[{i}] has the hub, type and shift of fleet[{seen[key]}] "
                    f"({entry.hub}, {entry.type}, shift {entry.shift}); add the counts, "
                    "or give them different shifts"
                )
            seen[key] = i

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        hub_ids = [h.id for h in self.hubs]
        if len(set(hub_ids)) != len(hub_ids):
            raise ValueError(f"hub ids must be unique, got {hub_ids}")
        if not self.hubs:
            raise ValueError("at least one hub is needed")
        if self.fleet and sum(entry.count for entry in self.fleet) == 0:
            raise ValueError(
                "fleet: every count is 0, so nothing would be delivered; give at least "
                "one vehicle (e.g. {type: van, count: 5, hub: ...})"
            )
        for i, entry in enumerate(self.fleet):
            if entry.type not in self.vehicle_types:
                raise ValueError(
                    f"fleet[{i}].type {entry.type!r} is not among vehicle_types "
                    f"{sorted(self.vehicle_types)}"
                )
            if entry.hub not in hub_ids:
                raise ValueError(f"fleet[{i}].hub {entry.hub!r} is not among hubs {hub_ids}")
            if entry.shift is not None and entry.shift not in self.shifts:
                raise ValueError(
                    f"fleet[{i}].shift {entry.shift!r} is not among shifts "
                    f"{sorted(self.shifts)}; define it under shifts: or leave it out"
                )
        self._check_fleet_entries_distinct()
        for name, shift in self.shifts.items():
            try:
                shift.applied_to(self.drivers)
            except ValidationError as exc:
                reason = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
                raise ValueError(f"shifts.{name}: {reason}") from None
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
    def warmup(self) -> int:
        """Warm-up days of this run (``warmup_days``, or its default)."""
        if self.warmup_days is not None:
            return self.warmup_days
        return 1 if self.days > 1 else 0

    @property
    def simulated_days(self) -> int:
        """Days the simulation plays: the warm-up, then the measured days."""
        return self.warmup + self.days

    @property
    def start_weekday(self) -> int:
        return self.start_date.weekday()

    def variant(self, name: str) -> Scenario:
        """The scenario with variant ``name``'s overrides applied (and validated).

        Kept as a method because it is public API; the derivation itself is
        :func:`twin.scenario.edit.with_variant`, like every other one.
        """
        return edit.with_variant(self, name)
