"""A city-scale plan cut into parts: which orders and which vehicles go together.

Each order goes to the hub (among those with vehicles in the plan) that reaches
it soonest; each hub's orders are cut into compact parts of at most
``max_jobs`` orders of near-equal parcel load (:func:`twin.routing.decompose.partition`);
each part gets a share of the hub's vehicles in proportion to its load
(:func:`twin.routing.decompose.apportion`), dealt in turn so that a mixed fleet
is mixed in every part. The result does not depend on anything but the state.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from twin.dispatch.base import DispatchState, OrderView, VehicleView
from twin.routing.decompose import apportion, partition

__all__ = ["split_into_parts"]

Group = tuple[list[VehicleView], list[OrderView]]


def split_into_parts(
    state: DispatchState,
    vehicles: Sequence[VehicleView],
    orders: Sequence[OrderView],
    max_jobs: int,
) -> list[Group]:
    """``(vehicles, orders)`` per part; every order and every vehicle in exactly one."""
    hubs = sorted({v.hub_node for v in vehicles})
    nearest = _nearest_hub(state, hubs, orders, vehicles)
    groups: list[Group] = []
    for hub in hubs:
        fleet = sorted((v for v in vehicles if v.hub_node == hub), key=lambda v: v.id)
        mine = [o for o, h in zip(orders, nearest, strict=True) if h == hub]
        parts = min(math.ceil(len(mine) / max_jobs), len(fleet))
        if parts <= 1:
            groups.append((fleet, mine))
            continue
        labels = partition(_xy(mine), np.array([o.demand[0] for o in mine]), parts)
        loads = np.bincount(labels, weights=[o.demand[0] for o in mine], minlength=parts)
        shares = _deal(fleet, apportion(loads.tolist(), len(fleet)))
        for k in range(parts):
            groups.append(
                (shares[k], [o for o, label in zip(mine, labels, strict=True) if label == k])
            )
    return groups


def _nearest_hub(
    state: DispatchState,
    hubs: list[int],
    orders: Sequence[OrderView],
    vehicles: Sequence[VehicleView],
) -> list[int]:
    """The hub node that reaches each order soonest (one search per hub)."""
    if len(hubs) == 1:
        return [hubs[0]] * len(orders)
    depart = min(max(v.shift_start_s, v.available_s) for v in vehicles)
    m = state.travel(hubs, [o.node for o in orders], depart)
    return [hubs[int(i)] for i in np.argmin(m.time_s, axis=0)]


def _xy(orders: Sequence[OrderView]) -> np.ndarray:
    """Orders' positions in metres on a local flat projection (good to a city's size)."""
    lat = np.array([o.lat for o in orders])
    lon = np.array([o.lon for o in orders])
    lat0 = float(lat.mean())
    x = (lon - lon.mean()) * 111_320.0 * math.cos(math.radians(lat0))
    y = (lat - lat0) * 110_570.0
    return np.column_stack([x, y])


def _deal(fleet: list[VehicleView], counts: list[int]) -> list[list[VehicleView]]:
    """Hand the vehicles out in id order, each to the part furthest below its count."""
    given: list[list[VehicleView]] = [[] for _ in counts]
    for v in fleet:
        k = min(range(len(counts)), key=lambda i: (len(given[i]) - counts[i]) / counts[i])
        given[k].append(v)
    return given
