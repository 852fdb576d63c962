"""Road networks: load by name or path, fetch online, generate synthetic cities."""

from twin.maps.network import (
    OSM_ATTRIBUTION,
    ROAD_CLASSES,
    BorderCrossing,
    MapMeta,
    PointOfInterest,
    RoadNetwork,
    SnapResult,
    Zone,
)
from twin.maps.registry import MapEntry, cache_dir, fetch_map, list_maps, load_network, shared_dir
from twin.maps.synthetic import grid_city, laredo_border_city

__all__ = [
    "OSM_ATTRIBUTION",
    "ROAD_CLASSES",
    "BorderCrossing",
    "MapEntry",
    "MapMeta",
    "PointOfInterest",
    "RoadNetwork",
    "SnapResult",
    "Zone",
    "cache_dir",
    "fetch_map",
    "grid_city",
    "laredo_border_city",
    "list_maps",
    "load_network",
    "shared_dir",
]
