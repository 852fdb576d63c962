"""Demand clustered into areas: what the site model serves, sampled from the scenario's demand."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from twin.errors import ScenarioError
from twin.maps.network import RoadNetwork
from twin.scenario.study import SiteSettings

if TYPE_CHECKING:
    from twin.demand import Order


@dataclass(frozen=True)
class DemandAreas:
    """Customer areas: expected orders per day, where they are, and who is in them."""

    lat: np.ndarray
    lon: np.ndarray
    orders_per_day: np.ndarray
    #: Delivery nodes and their orders per day, and the area each belongs to.
    nodes: np.ndarray
    node_orders: np.ndarray
    node_area: np.ndarray
    sample_days: int

    @property
    def n(self) -> int:
        return len(self.orders_per_day)


def aggregate_demand(
    orders: Sequence[Order], days: int, network: RoadNetwork, settings: SiteSettings
) -> DemandAreas:
    """Orders per delivery point over ``days`` days (a parcel sent to a locker counts
    at the locker), grouped into at most ``max_areas`` grid cells."""
    if not orders:
        raise ScenarioError("sites: the scenario's demand model places no orders to plan for.")
    nodes, counts = np.unique(
        np.array([o.node for o in orders], dtype=np.int64), return_counts=True
    )
    per_day = counts / days
    idx = network.index(nodes)
    xy = network.node_xy[idx]
    span = np.ptp(xy, axis=0).max() + 1.0
    cell = span / math.sqrt(settings.max_areas)
    while True:
        keys = np.floor(xy / cell).astype(np.int64)
        _, area = np.unique(keys, axis=0, return_inverse=True)
        area = area.ravel()
        if area.max() + 1 <= settings.max_areas:
            break
        cell *= 1.15
    n = int(area.max()) + 1
    weight = np.bincount(area, weights=per_day, minlength=n)
    cx = np.bincount(area, weights=per_day * xy[:, 0], minlength=n) / weight
    cy = np.bincount(area, weights=per_day * xy[:, 1], minlength=n) / weight
    lat, lon = network.projection.latlon(cx, cy)
    return DemandAreas(
        lat=np.asarray(lat),
        lon=np.asarray(lon),
        orders_per_day=weight,
        nodes=nodes,
        node_orders=per_day,
        node_area=area,
        sample_days=days,
    )
