"""twin: a discrete-event digital twin of last-mile delivery on real road networks.

The public API is small and listed in ``__all__``; everything else is internal.
"""

from twin.errors import MapError, ScenarioError, TwinError, UnreachableError
from twin.maps import RoadNetwork, fetch_map, grid_city, laredo_border_city, list_maps, load_network
from twin.traveltime import Closure, TrafficSettings, TravelTimes

__version__ = "0.1.0"

__all__ = [
    "Closure",
    "MapError",
    "RoadNetwork",
    "ScenarioError",
    "TrafficSettings",
    "TravelTimes",
    "TwinError",
    "UnreachableError",
    "__version__",
    "fetch_map",
    "grid_city",
    "laredo_border_city",
    "list_maps",
    "load_network",
]
