"""The shared vocabulary: units of time and the road classes every part names.

Kept free of imports so that any module (the scenario, the engine, a policy,
the live twin) can use it without loading anything else.
"""

from __future__ import annotations

__all__ = ["DAY_S", "HOUR_S", "ROAD_CLASSES"]

#: Seconds in an hour and in a day: simulation time is seconds since the start of day 0.
HOUR_S = 3600.0
DAY_S = 86_400.0

#: Road classes that congestion profiles, densities and vehicle limits are defined
#: for, most important first (OSM highway tags are mapped onto these by the maps).
ROAD_CLASSES: tuple[str, ...] = (
    "motorway",
    "trunk",
    "primary",
    "secondary",
    "tertiary",
    "residential",
    "other",
)
