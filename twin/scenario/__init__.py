"""Scenario: one YAML file -> one frozen, validated model tree.

Every section has defaults, so an empty section (or a missing one) means "the
defaults". Unknown keys and bad values fail with the file, the field path and a
hint (a close match for a misspelt key); nothing un-validated travels past
:func:`load_scenario`. ``variants:`` holds named overrides that are deep-merged
onto the base scenario and validated the same way (:mod:`twin.scenario.edit`,
the one way to derive a scenario). :func:`dump_scenario` writes the resolved
scenario next to every result, so each number traces to its inputs.

Times of day are hours since midnight (``8.5`` = 08:30); durations carry their
unit in the name (``_s``, ``_min``, ``_h``).

This package is the contract between the parts of twin: it holds every
settings class and imports no domain module (only :mod:`twin.errors`,
:mod:`twin.constants` and :mod:`twin.modes`), so reading a scenario loads no
solver, no Mesa and no SimPy. Sections: :mod:`~twin.scenario.environment`,
:mod:`~twin.scenario.operations`, :mod:`~twin.scenario.demand`,
:mod:`~twin.scenario.policy`, :mod:`~twin.scenario.study`.
"""

from __future__ import annotations

from twin.scenario._base import describe_errors
from twin.scenario.demand import CustomerSettings, DemandSettings, HouseholdType, Surge
from twin.scenario.environment import (
    AirspaceSettings,
    MapSettings,
    TrafficSettings,
    WeatherSettings,
)
from twin.scenario.io import dump_scenario, json_schema, load_scenario
from twin.scenario.model import Scenario
from twin.scenario.operations import (
    CrowdSettings,
    DisruptionSettings,
    DriverSettings,
    FailureSettings,
    FleetEntry,
    Hub,
    LockerSettings,
    ServiceSettings,
    VehicleType,
)
from twin.scenario.policy import OutputSettings, PolicySettings
from twin.scenario.study import SiteSettings

__all__ = [
    "AirspaceSettings",
    "CrowdSettings",
    "CustomerSettings",
    "DemandSettings",
    "DisruptionSettings",
    "DriverSettings",
    "FailureSettings",
    "FleetEntry",
    "HouseholdType",
    "Hub",
    "LockerSettings",
    "MapSettings",
    "OutputSettings",
    "PolicySettings",
    "Scenario",
    "ServiceSettings",
    "SiteSettings",
    "Surge",
    "TrafficSettings",
    "VehicleType",
    "WeatherSettings",
    "describe_errors",
    "dump_scenario",
    "json_schema",
    "load_scenario",
]
