"""Settings of a network-design study (the scenario's ``sites:`` section).

The study itself (candidates, demand areas, the facility model, simulation of
each answer) is :mod:`twin.sites`; a scenario only says what to study.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from twin.constants import ROAD_CLASSES
from twin.scenario._base import SettingsModel

__all__ = ["GenerateSettings", "SiteSettings"]


class GenerateSettings(SettingsModel):
    """Candidate sites from the map: one per grid cell, on a major road."""

    spacing_m: Annotated[float, Field(gt=0)] = 1500.0
    road_classes: tuple[str, ...] = ("primary", "secondary", "tertiary")

    @model_validator(mode="after")
    def _known(self) -> GenerateSettings:
        unknown = sorted(set(self.road_classes) - set(ROAD_CLASSES))
        if unknown:
            raise ValueError(f"road_classes {unknown} unknown; use some of {ROAD_CLASSES}")
        return self


class SiteSettings(SettingsModel):
    """The scenario's ``sites:`` section: a network-design study.

    Either ``candidates`` (a file, relative to the scenario file) or
    ``generate`` gives the candidate sites.
    """

    kind: Literal["mfc", "microhub", "locker"] = "mfc"
    candidates: str | None = None
    generate: GenerateSettings | None = None
    #: Defaults for candidates without their own figures (generated ones).
    fixed_cost_per_day: Annotated[float, Field(ge=0)] = 350.0
    capacity_per_day: Annotated[float, Field(gt=0)] | None = None
    #: The scenario's hubs are open in every configuration (their cost is sunk).
    existing_hubs: bool = True
    #: Demand: days sampled from the demand model, and most customer areas.
    sample_days: Annotated[int, Field(ge=1, le=365)] = 20
    max_areas: Annotated[int, Field(ge=2, le=2000)] = 250
    #: Travel times for the model are those of a van leaving at this hour.
    depart_h: Annotated[float, Field(ge=0, lt=24)] = 10.0
    #: Service constraint: this share of demand within ``service_min`` of its site
    #: (lockers: within the customers' walking limit, ``lockers.max_distance_km``).
    service_min: Annotated[float, Field(gt=0)] = 20.0
    service_share: Annotated[float, Field(ge=0, le=1)] = 0.0
    #: Stops sharing one stem trip (default: the day's orders per vehicle, at most
    #: a vehicle's capacity).
    stops_per_trip: Annotated[float, Field(gt=0)] | None = None
    #: The vehicle type split among the open sites (default: the fleet's first).
    fleet_type: str | None = None
    #: Lockers: what a doorstep delivery costs (the van's stop and the drive between
    #: stops) and what a parcel costs at a locker (deposit, the locker stop shared);
    #: each parcel a customer sends to a locker saves the difference.
    doorstep_cost_per_order: Annotated[float, Field(ge=0)] = 2.0
    locker_cost_per_order: Annotated[float, Field(ge=0)] = 0.4
    #: Lockers: share of doorstep attempts that fail (nobody home); a driver may
    #: redirect those parcels to a locker instead of trying again another day.
    failed_share: Annotated[float, Field(ge=0, le=1)] = 0.13
    #: The site model's work budget per k: CP-SAT deterministic time (about a second
    #: of a desktop machine per unit), so answers never depend on the machine.
    work_limit: Annotated[float, Field(gt=0)] = 30.0
    #: A wall-clock safety net only; a search it stops is flagged ``clock_stopped``.
    time_limit_s: Annotated[float, Field(gt=0)] = 600.0

    @model_validator(mode="after")
    def _one_source(self) -> SiteSettings:
        if (self.candidates is None) == (self.generate is None):
            raise ValueError(
                "give the candidate sites either as a file (candidates: sites.csv) or "
                "generated from the map (generate: {spacing_m: 1500}), not both or neither"
            )
        return self
