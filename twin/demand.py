"""Orders: how many, when they become known, where, how big, with what promise.

Each day draws from its own ``demand`` stream (``RandomStreams.for_day``), so a
policy that changes what happens on day 1 never changes day 2's orders.

Model of a day ``d`` (``orders_per_day`` is the Poisson mean):

* a share ``share_known_at_cutoff`` of the orders was placed before the morning
  cutoff (in the 24 hours before it) and is due on day ``d``;
* the rest are placed after the cutoff, by the hourly ``arrival_weights``; a
  ``same_day`` order is due on day ``d`` (its window starts at least two hours
  after it is placed), a ``next_day`` order on day ``d + 1``;
* addresses belong to customers (repeat customers across days), placed on
  serviceable nodes with weights by the road class of the street;
* volume and weight are lognormal; window kind and delivery option follow the
  scenario's shares.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from twin.constants import DAY_S, HOUR_S, ROAD_CLASSES
from twin.maps.network import RoadNetwork
from twin.scenario import DemandSettings

__all__ = ["Order", "address_weights", "generate_orders", "surge_orders"]


@dataclass(frozen=True, slots=True)
class Order:
    """One parcel to deliver. Times are seconds since the start of day 0."""

    id: str
    due_day: int
    created_s: float
    customer: int
    node: int
    lat: float
    lon: float
    volume_m3: float
    weight_kg: float
    service_level: str
    window: str
    window_start_s: float
    window_end_s: float
    option: str
    #: Locker site the parcel goes to (chosen by the customer); None: their door.
    locker: str | None = None


def address_weights(network: RoadNetwork, settings: DemandSettings) -> np.ndarray:
    """Relative chance that an address lies at each node (by its best street class)."""
    weight_of_class = np.array(
        [
            settings.density_by_class.get(c, settings.density_by_class.get("other", 0.0))
            for c in ROAD_CLASSES
        ]
    )
    per_edge = weight_of_class[network.edge_class]
    weights = np.zeros(network.n_nodes)
    np.maximum.at(weights, network.edge_u, per_edge)
    np.maximum.at(weights, network.edge_v, per_edge)
    return weights


def _pick(rng: np.random.Generator, shares: Mapping[Any, float], n: int) -> np.ndarray:
    names = list(shares)
    p = np.array([shares[k] for k in names], dtype=float)
    return np.array(names, dtype=object)[rng.choice(len(names), size=n, p=p / p.sum())]


def generate_orders(
    day: int,
    settings: DemandSettings,
    network: RoadNetwork,
    customer_nodes: np.ndarray,
    rng: np.random.Generator,
) -> list[Order]:
    """The orders placed for (or on) ``day``, in order of creation time.

    Parameters
    ----------
    day : int
        Simulation day (0-based).
    settings : DemandSettings
    network : RoadNetwork
    customer_nodes : numpy.ndarray
        Node of each customer (index = customer id).
    rng : numpy.random.Generator
        The day's ``demand`` stream.
    """
    n = int(rng.poisson(settings.orders_per_day)) if settings.orders_per_day > 0 else 0
    if n == 0 or len(customer_nodes) == 0:
        return []
    base = day * DAY_S
    cutoff = base + settings.cutoff_h * HOUR_S
    known = rng.random(n) < settings.share_known_at_cutoff
    created = np.where(known, cutoff - rng.random(n) * DAY_S, 0.0)
    weights = np.asarray(settings.arrival_weights, dtype=float)
    late_hours = np.arange(24) >= settings.cutoff_h
    w = weights * late_hours
    if w.sum() <= 0:
        w = late_hours.astype(float)
    hours = rng.choice(24, size=n, p=w / w.sum())
    created = np.where(known, created, base + (hours + rng.random(n)) * HOUR_S)
    same_day = _pick(rng, settings.service_levels, n) == "same_day"
    due = np.where(known | same_day, day, day + 1)
    kinds = _pick(rng, settings.windows, n)
    options = _pick(rng, settings.options, n)
    customers = rng.integers(0, len(customer_nodes), size=n)
    volume = settings.volume_m3_median * rng.lognormal(0.0, settings.volume_m3_sigma, n)
    weight = settings.weight_kg_median * rng.lognormal(0.0, settings.weight_kg_sigma, n)
    slot_draw = rng.random(n)

    orders: list[Order] = []
    for i in np.argsort(created, kind="stable"):
        due_base = due[i] * DAY_S
        start, end = _window(settings, str(kinds[i]), float(slot_draw[i]))
        kind = str(kinds[i])
        if due[i] == day and not known[i] and start * HOUR_S < created[i] + 2 * HOUR_S - due_base:
            due_base, start, end = _rest_of_day(settings, float(created[i]), due_base)
            kind = "all_day"
        orders.append(
            _order(
                f"d{day}-o{len(orders):05d}",
                network,
                int(customer_nodes[customers[i]]),
                customer=int(customers[i]),
                created_s=float(created[i]),
                due_base=due_base,
                window_h=(start, end),
                volume_m3=float(volume[i]),
                weight_kg=float(weight[i]),
                service_level="same_day" if same_day[i] and not known[i] else "next_day",
                window=kind,
                option=str(options[i]),
            )
        )
    return orders


def surge_orders(
    day: int,
    settings: DemandSettings,
    network: RoadNetwork,
    customer_nodes: np.ndarray,
    rng: np.random.Generator,
) -> list[Order]:
    """The extra same-day orders of ``day``'s surges (``settings.surges``).

    Drawn from their own stream (``surge``), so a scenario with a surge has the
    same regular orders as one without. Each is promised for the rest of the
    day, from two hours after it is placed; too late for today means tomorrow.
    """
    orders: list[Order] = []
    for surge in settings.surges:
        if surge.day != day or len(customer_nodes) == 0:
            continue
        n = int(rng.poisson(surge.orders))
        created = (
            day * DAY_S + (surge.start_h + rng.random(n) * (surge.end_h - surge.start_h)) * HOUR_S
        )
        options = _pick(rng, settings.options, n)
        customers = rng.integers(0, len(customer_nodes), size=n)
        volume = settings.volume_m3_median * rng.lognormal(0.0, settings.volume_m3_sigma, n)
        weight = settings.weight_kg_median * rng.lognormal(0.0, settings.weight_kg_sigma, n)
        for i in np.argsort(created, kind="stable"):
            due_base, start, end = _rest_of_day(settings, float(created[i]), day * DAY_S)
            orders.append(
                _order(
                    f"d{day}-s{len(orders):05d}",
                    network,
                    int(customer_nodes[customers[i]]),
                    customer=int(customers[i]),
                    created_s=float(created[i]),
                    due_base=due_base,
                    window_h=(start, end),
                    volume_m3=float(volume[i]),
                    weight_kg=float(weight[i]),
                    service_level="same_day",
                    window="all_day",
                    option=str(options[i]),
                )
            )
    return orders


def _rest_of_day(
    settings: DemandSettings, created_s: float, due_base: float
) -> tuple[float, float, float]:
    """An order placed in the day: (due day start, window start h, end h) from 2 h after
    placing until the end of the delivery day; too late for that means tomorrow, all day."""
    start = max((created_s + 2 * HOUR_S - due_base) / HOUR_S, settings.day_window_h[0])
    end = settings.day_window_h[1]
    if start >= end:
        due_base += DAY_S
        start, end = settings.day_window_h
    return due_base, start, end


def _order(
    order_id: str,
    network: RoadNetwork,
    node: int,
    *,
    customer: int,
    created_s: float,
    due_base: float,
    window_h: tuple[float, float],
    volume_m3: float,
    weight_kg: float,
    service_level: str,
    window: str,
    option: str,
) -> Order:
    idx = network.index(node)[0]
    return Order(
        id=order_id,
        due_day=int(due_base // DAY_S),
        created_s=created_s,
        customer=customer,
        node=node,
        lat=float(network.lat[idx]),
        lon=float(network.lon[idx]),
        volume_m3=volume_m3,
        weight_kg=weight_kg,
        service_level=service_level,
        window=window,
        window_start_s=float(due_base + window_h[0] * HOUR_S),
        window_end_s=float(due_base + window_h[1] * HOUR_S),
        option=option,
    )


def _window(settings: DemandSettings, kind: str, u: float) -> tuple[float, float]:
    """(start_h, end_h) of a promised window of ``kind``, slot chosen by ``u`` in [0, 1)."""
    if kind == "four_hour":
        start = settings.slot_starts_4h[int(u * len(settings.slot_starts_4h))]
        return start, start + 4.0
    if kind == "two_hour":
        start = settings.slot_starts_2h[int(u * len(settings.slot_starts_2h))]
        return start, start + 2.0
    return settings.day_window_h
