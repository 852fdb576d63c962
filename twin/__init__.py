"""twin: a discrete-event digital twin of last-mile delivery on real road networks.

The public API is small and listed in ``__all__``; everything else is internal.
For notebooks, :func:`simulate` runs a scenario and returns a :class:`Run` with
its KPIs, tables and figures (:mod:`twin.api`).
Names are loaded lazily (PEP 562): ``import twin`` or ``import twin.scenario``
loads no solver, no Mesa and no SimPy until a name that needs them is used, so
the command line starts fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers and editors: the same names, eagerly
    from twin.api import Run, simulate
    from twin.dispatch import DispatchPolicy, DispatchState, Plan
    from twin.errors import MapError, ScenarioError, TwinError, UnreachableError
    from twin.experiment import compare, load_store, run_replications, sweep
    from twin.maps import (
        RoadNetwork,
        fetch_map,
        grid_city,
        laredo_border_city,
        list_maps,
        load_network,
    )
    from twin.metrics import kpis
    from twin.rng import RandomStreams
    from twin.scenario import Scenario, load_scenario
    from twin.sim import SimResult, Simulation
    from twin.traveltime import Closure, TrafficSettings, TravelTimes

__version__ = "0.1.0"

#: Where each public name lives; :func:`__getattr__` imports it on first use.
_HOME = {
    "Run": "twin.api",
    "simulate": "twin.api",
    "DispatchPolicy": "twin.dispatch",
    "DispatchState": "twin.dispatch",
    "Plan": "twin.dispatch",
    "MapError": "twin.errors",
    "ScenarioError": "twin.errors",
    "TwinError": "twin.errors",
    "UnreachableError": "twin.errors",
    "compare": "twin.experiment",
    "load_store": "twin.experiment",
    "run_replications": "twin.experiment",
    "sweep": "twin.experiment",
    "RoadNetwork": "twin.maps",
    "fetch_map": "twin.maps",
    "grid_city": "twin.maps",
    "laredo_border_city": "twin.maps",
    "list_maps": "twin.maps",
    "load_network": "twin.maps",
    "kpis": "twin.metrics",
    "RandomStreams": "twin.rng",
    "Scenario": "twin.scenario",
    "load_scenario": "twin.scenario",
    "SimResult": "twin.sim",
    "Simulation": "twin.sim",
    "Closure": "twin.traveltime",
    "TrafficSettings": "twin.traveltime",
    "TravelTimes": "twin.traveltime",
}

__all__ = [
    "Closure",
    "DispatchPolicy",
    "DispatchState",
    "MapError",
    "Plan",
    "RandomStreams",
    "RoadNetwork",
    "Run",
    "Scenario",
    "ScenarioError",
    "SimResult",
    "Simulation",
    "TrafficSettings",
    "TravelTimes",
    "TwinError",
    "UnreachableError",
    "__version__",
    "compare",
    "fetch_map",
    "grid_city",
    "kpis",
    "laredo_border_city",
    "list_maps",
    "load_network",
    "load_scenario",
    "load_store",
    "run_replications",
    "simulate",
    "sweep",
]


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use and cache the name here."""
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'twin' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
