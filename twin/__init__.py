"""twin: a discrete-event digital twin of last-mile delivery on real road networks.

The public API is small and listed in ``__all__``; everything else is internal.
"""

from twin.dispatch import DispatchPolicy, DispatchState, Plan
from twin.errors import MapError, ScenarioError, TwinError, UnreachableError
from twin.experiment import compare, load_store, run_replications, sweep
from twin.maps import RoadNetwork, fetch_map, grid_city, laredo_border_city, list_maps, load_network
from twin.metrics import kpis
from twin.rng import RandomStreams
from twin.scenario import Scenario, load_scenario
from twin.sim import SimResult, Simulation
from twin.traveltime import Closure, TrafficSettings, TravelTimes

__version__ = "0.1.0"

__all__ = [
    "Closure",
    "DispatchPolicy",
    "DispatchState",
    "MapError",
    "Plan",
    "RandomStreams",
    "RoadNetwork",
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
    "sweep",
]
