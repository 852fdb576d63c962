"""The walk and bike networks beside the drive network.

Sidewalk robots move on the walk network and cargo bikes on the bike network,
as OSMnx defines them (``network_type="walk"`` / ``"bike"``): a pedestrian may
use every street but a motorway, in both directions, and footpaths; a cyclist
every street but a motorway, one-way streets one way, and cycleways.

Where the map is an OpenStreetMap file, the network is read from that file with
OSMnx's filter for the type, so footways and cycleways in the extract are used.
Where it is not (a synthetic city, a GraphML or fetched drive map), it is
derived from the drive graph by the same rules: these maps have sidewalks along
their streets but no separate paths.

Orders, hubs and lockers are snapped to the *drive* network; the travel-time
code links each of those nodes to the nearest node of the mode's network
(:class:`twin.traveltime.TravelTimes`, ``addresses=``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final, Literal

import networkx as nx

from twin.errors import MapError
from twin.maps.network import RoadNetwork, road_class

__all__ = ["NETWORK_TYPES", "NetworkType", "derive_network", "mode_network"]

NetworkType = Literal["drive", "walk", "bike"]
NETWORK_TYPES: Final = ("drive", "walk", "bike")

#: Pace used for the derived graph's ``travel_time`` (it only picks the shortest
#: of parallel edges; a mode's own speed drives its travel times).
_PACE_KPH: Final = {"walk": 5.0, "bike": 15.0}


def derive_network(drive: RoadNetwork, network_type: NetworkType) -> RoadNetwork:
    """The walk or bike network of a map that has only its drive graph.

    Walk: every street but motorways (and their links), both ways, as a
    pedestrian uses the sidewalks on either side. Bike: every street but
    motorways, one-way streets one way. Border bridges keep their crossing tags
    (pedestrians and cyclists cross them too, and wait at the border).
    """
    if network_type == "drive":
        return drive
    if network_type not in _PACE_KPH:
        raise MapError(f"Unknown network type {network_type!r}; use one of {NETWORK_TYPES}.")
    pace = _PACE_KPH[network_type] / 3.6
    graph = nx.MultiDiGraph(**drive.graph.graph)
    graph.add_nodes_from(drive.graph.nodes(data=True))
    for u, v, data in drive.graph.edges(data=True):
        if road_class(data.get("highway")) == "motorway":
            continue
        kept = {**data, "travel_time": float(data["length"]) / pace}
        graph.add_edge(u, v, **kept)
        if network_type == "walk" and not drive.graph.has_edge(v, u):
            back = {**kept, "oneway": False, "reversed": True}
            if "geometry" in data:
                back["geometry"] = data["geometry"].reverse()
            graph.add_edge(v, u, **back)
    graph.remove_nodes_from([n for n in list(graph.nodes) if graph.degree(n) == 0])
    description = f"{drive.meta.description} ({network_type} network derived from the streets)"
    meta = replace(drive.meta, network_type=network_type, description=description.strip())
    return RoadNetwork(graph, meta)


def mode_network(drive: RoadNetwork, ref: str, network_type: NetworkType) -> RoadNetwork:
    """The network a mode moves on, over the same area as ``drive`` (built once per map).

    Parameters
    ----------
    drive : RoadNetwork
        The map's drive network (what orders and hubs are snapped to).
    ref : str
        The map reference the drive network was loaded from (scenario ``map.ref``).
    network_type : {"drive", "walk", "bike"}
    """
    if network_type == drive.meta.network_type:
        return drive
    found = drive.companions.get(network_type)
    if found is None:
        if drive.meta.source.startswith("osm-file:"):
            from twin.maps.registry import load_network  # the registry builds on this package

            found = load_network(ref, network_type=network_type)
        else:
            found = derive_network(drive, network_type)
        drive.companions[network_type] = found
    return found
