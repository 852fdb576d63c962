"""The world a run plays in, built once from a scenario, a network and the run's streams.

:func:`build_world` places the hubs on the network, finds the area vehicles can
serve, sets up how each vehicle type moves (:func:`make_movers`), the airspace
and the locker bank, draws the customers (Mesa agents) and every day's orders
(surges included, then each customer's locker choice), builds the fleet, the
weather, and draws the disruptions (no-shows, breakdowns, cancellations) up front.

Every piece draws from its own named stream (:mod:`twin.rng`) or from a generator
keyed by one order (:func:`order_rng`), so the world is the same under any
dispatch policy (common random numbers), and the same twice from the same seed.
The engine plays it; the site study reads its orders and travel times; the live
twin takes the pieces it needs (:func:`place_hubs`, :func:`make_movers`).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import numpy as np

from twin.airspace import Airspace
from twin.constants import DAY_S, HOUR_S
from twin.crowd import CrowdModel
from twin.customers import CustomerModel
from twin.demand import Order, address_weights, generate_orders, surge_orders
from twin.errors import ScenarioError
from twin.fleet import CROWD, Vehicle, build_fleet
from twin.lockers import LockerBank
from twin.maps.modal import mode_network
from twin.maps.network import RoadNetwork
from twin.rng import RandomStreams
from twin.scenario import Hub, Scenario, VehicleType
from twin.traveltime import PairTimes, TravelMatrix, TravelTimes
from twin.weather import Weather

__all__ = [
    "World",
    "build_world",
    "forecast_matrix",
    "make_movers",
    "make_weather",
    "order_rng",
    "place_hubs",
    "serviceable_nodes",
]


@dataclass
class World:
    """Everything a run needs that is not its clock or its state.

    Mutable inside (the customer agents learn, locker compartments fill during a
    run), so build one world per run.
    """

    scenario: Scenario
    network: RoadNetwork
    streams: RandomStreams
    weather: Weather
    travel: TravelTimes
    #: Travel times per vehicle type name (drones fly: no entry; crowd couriers drive).
    movers: dict[str, TravelTimes]
    airspace: Airspace | None
    hub_nodes: dict[str, int]
    hub_settings: dict[str, Hub]
    lockers: LockerBank
    #: Positions (in network order) of the nodes a vehicle can reach and come back from.
    serviceable: np.ndarray
    serviceable_ids: set[int]
    customers: CustomerModel
    #: Every order of the run, by id (locker choices applied).
    orders: dict[str, Order]
    fleet: list[Vehicle]
    #: Truck-and-drone: the drone each carrier has on board (by carrier id).
    drone_of: dict[str, Vehicle]
    #: Whether the driver of a vehicle misses the day, and when it breaks down (by day, id).
    no_show: dict[tuple[int, str], bool]
    breakdown_s: dict[tuple[int, str], float]
    #: Cancellations: (time, order id), in time order.
    cancel_at: list[tuple[float, str]]
    crowd: CrowdModel | None = None
    crowd_type: VehicleType | None = None

    def order_rng(self, order_id: str, attempt: int, purpose: str = "") -> np.random.Generator:
        """Draws tied to one order attempt (:func:`order_rng` for this run)."""
        return order_rng(
            self.scenario.seed, self.streams.replication, order_id, attempt, purpose=purpose
        )


def order_rng(
    seed: int, replication: int, order_id: str, attempt: int, *, purpose: str = ""
) -> np.random.Generator:
    """Draws tied to one order attempt: identical under every policy (CRN)."""
    label = f"{order_id}/{attempt}" + (f"/{purpose}" if purpose else "")
    digest = hashlib.sha256(label.encode()).digest()
    key = int.from_bytes(digest[:8], "little")
    return np.random.default_rng([seed, replication, key])


#: A matrix of times or a list of legs: both carry ``time_s`` and ``depart_s``.
_Times = TypeVar("_Times", TravelMatrix, PairTimes)


def forecast_matrix(m: _Times, weather: Weather) -> _Times:
    """Expected times scaled by the weather's road factor at departure (the weather
    series is the forecast everyone plans with; rain slows every ground mode)."""
    factor = weather.road_factor(m.depart_s)
    return m if factor == 1.0 else replace(m, time_s=m.time_s * factor)


def make_weather(scenario: Scenario, streams: RandomStreams) -> Weather:
    """The run's weather: the scenario's series, or one generated from the ``weather``
    stream (the forecast everyone plans with, and the sky the run has)."""
    return Weather(scenario.weather, days=scenario.simulated_days, rng=streams["weather"])


def make_movers(
    scenario: Scenario, network: RoadNetwork, travel: TravelTimes
) -> dict[str, TravelTimes]:
    """Travel times per vehicle type: vans share the road's (``travel``); robots walk and
    bikes ride on their own networks at their own pace; autonomous vans keep to their
    road classes. Drones fly (no entry). Types that move alike share one object.

    A function of the scenario, so that the live forecast moves vehicles exactly as
    the engine does.
    """
    sc = scenario
    movers: dict[str, TravelTimes] = {}
    shared: dict[tuple[Any, ...], TravelTimes] = {}
    for name, vtype in sc.vehicle_types.items():
        if vtype.mode == "drone":
            continue
        speed = vtype.speed_kph
        profile = (vtype.network, vtype.road_classes, speed)
        if profile == ("drive", None, None):
            movers[name] = travel
            continue
        if profile not in shared:
            shared[profile] = TravelTimes(
                mode_network(network, sc.map.ref, vtype.network),
                sc.traffic,
                start_weekday=sc.start_weekday,
                road_classes=vtype.road_classes,
                speed_kph=speed,
                addresses=network,
            )
        movers[name] = shared[profile]
    return movers


def place_hubs(scenario: Scenario, network: RoadNetwork) -> dict[str, int]:
    """The network node of every hub; a hub without coordinates goes to the map's hub site
    (or the network's centre). Raises ScenarioError for a hub off the map."""
    net = network
    nodes = {}
    for hub in scenario.hubs:
        lat, lon = hub.lat, hub.lon
        if lat is None or lon is None:
            site = next((p for p in net.meta.pois if p.kind == "hub_site"), None)
            lat, lon = (
                (site.lat, site.lon)
                if site
                else (float(np.median(net.lat)), float(np.median(net.lon)))
            )
        snap = net.snap(lat, lon, max_distance_m=scenario.map.max_snap_m)
        if snap.too_far[0]:
            raise ScenarioError(
                f"hubs: hub {hub.id!r} at ({lat:.5f}, {lon:.5f}) is "
                f"{snap.distance_m[0]:.0f} m from the nearest road of map "
                f"{net.meta.name!r} (limit map.max_snap_m = "
                f"{scenario.map.max_snap_m:g}); move the hub onto the map."
            )
        nodes[hub.id] = int(snap.node[0])
    return nodes


def serviceable_nodes(travel: TravelTimes, hub_nodes: dict[str, int]) -> np.ndarray:
    """Nodes a vehicle can reach from a hub and come back from, at noon of day 0."""
    hubs = sorted(set(hub_nodes.values()))
    ids = travel.network.node_ids.tolist()
    noon = 12 * HOUR_S
    out_t = travel.matrix(hubs, ids, depart_s=noon, with_length=False).time_s
    back_t = travel.matrix(ids, hubs, depart_s=noon, with_length=False).time_s
    ok = (np.isfinite(out_t) & np.isfinite(back_t.T)).any(axis=0)
    return np.flatnonzero(ok)


def _airspace(scenario: Scenario, network: RoadNetwork) -> Airspace | None:
    """The map's airspace, if any vehicle type flies."""
    if not any(t.mode == "drone" for t in scenario.vehicle_types.values()):
        return None
    return Airspace.from_map(network.meta, settings=scenario.airspace)


def _lockers(scenario: Scenario, network: RoadNetwork) -> LockerBank:
    """The locker bank, each site snapped to the network (too far off the map: an error)."""
    settings = scenario.lockers
    nodes = []
    for i, site in enumerate(settings.sites):
        snap = network.snap(site.lat, site.lon, max_distance_m=scenario.map.max_snap_m)
        if snap.too_far[0]:
            raise ScenarioError(
                f"lockers.sites[{i}] ({site.id!r}) at ({site.lat:.5f}, {site.lon:.5f}) is "
                f"{snap.distance_m[0]:.0f} m from the nearest road of map "
                f"{network.meta.name!r} (limit map.max_snap_m = "
                f"{scenario.map.max_snap_m:g}); move the site onto the map."
            )
        nodes.append(int(snap.node[0]))
    xy = network.project(
        np.array([s.lat for s in settings.sites]), np.array([s.lon for s in settings.sites])
    )
    return LockerBank(settings, xy, nodes)


def _customers(
    scenario: Scenario, network: RoadNetwork, serviceable: np.ndarray, streams: RandomStreams
) -> CustomerModel:
    """Customers live at addresses drawn by the demand's weights within the served area."""
    weights = address_weights(network, scenario.demand)[serviceable]
    if weights.sum() <= 0:
        weights = np.ones(len(serviceable))
    n = max(1, round(scenario.demand.orders_per_day * scenario.demand.customers_per_daily_order))
    picks = streams["customers"].choice(len(serviceable), size=n, p=weights / weights.sum())
    nodes = network.node_ids[serviceable[picks]]
    return CustomerModel(scenario.customers, nodes, rng=streams["presence"])


def _demand(
    scenario: Scenario,
    network: RoadNetwork,
    serviceable: np.ndarray,
    streams: RandomStreams,
    orders: Sequence[Order] | None,
) -> tuple[CustomerModel, dict[str, Order]]:
    """The customers and every day's orders (generated, or the given ones)."""
    out: dict[str, Order] = {}
    if orders is None:
        customers = _customers(scenario, network, serviceable, streams)
        for day in range(scenario.simulated_days):
            for order in generate_orders(
                day, scenario.demand, network, customers.node, streams.for_day("demand", day)
            ) + surge_orders(
                day, scenario.demand, network, customers.node, streams.for_day("surge", day)
            ):
                out[order.id] = order
        return customers, out
    # Given orders (a CSV, a live feed, a test): one customer per distinct customer id.
    ids = sorted({o.customer for o in orders})
    row = {c: i for i, c in enumerate(ids)}
    node_of = {o.customer: o.node for o in orders}
    customers = CustomerModel(
        scenario.customers, [node_of[c] for c in ids], rng=streams["presence"]
    )
    for o in orders:
        out[o.id] = replace(o, customer=row[o.customer])
    return customers, out


def _choose_lockers(world: World) -> None:
    """Each customer agent decides, order by order, whether to use a nearby locker.

    Drawn from the order's own stream, so every policy sees the same choices.
    A chosen order's delivery point becomes the locker.
    """
    if not world.lockers:
        return
    settings = world.scenario.lockers
    net, orders = world.network, world.orders
    ids = sorted(orders)
    xy = net.project(np.array([orders[i].lat for i in ids]), np.array([orders[i].lon for i in ids]))
    for k, oid in enumerate(ids):
        order = orders[oid]
        if world.lockers.size_for(order.volume_m3) is None:
            continue
        near = world.lockers.nearest(xy[k], settings.max_distance_km)
        if not near:
            continue
        distance_km, site = near[0]
        rng = world.order_rng(oid, 0, purpose="locker")
        if world.customers.choose_locker(
            order.customer,
            distance_km,
            rng,
            half_distance_km=settings.half_distance_km,
            max_distance_km=settings.max_distance_km,
        ):
            node = world.lockers.node[site]
            i = net.index(node)[0]
            orders[oid] = replace(
                order,
                node=node,
                lat=float(net.lat[i]),
                lon=float(net.lon[i]),
                option="locker",
                locker=site,
            )


def _carried_drones(scenario: Scenario, fleet: list[Vehicle]) -> dict[str, Vehicle]:
    """Truck-and-drone: one drone rides on each vehicle whose type names one."""
    return {
        v.id: Vehicle(
            id=f"{v.id}/drone",
            driver_id="",
            type_name=v.type.drone,
            type=scenario.vehicle_types[v.type.drone],
            hub=v.hub,
            hub_node=v.hub_node,
            drivers=v.drivers,
            owned=v.owned,
            shift=v.shift,
        )
        for v in fleet
        if v.type.drone is not None
    }


def _draw_disruptions(world: World) -> None:
    """Who does not show up, which vehicle breaks down when, which orders are cancelled.

    Drawn up front from their own streams, in a fixed order, so every policy
    faces the same disruptions (common random numbers).
    """
    sc, fleet = world.scenario, world.fleet
    dis = sc.disruptions
    starts = np.array([v.drivers.shift_start_h for v in fleet])
    lengths = np.array([v.drivers.shift_end_h - v.drivers.shift_start_h for v in fleet])
    for day in range(sc.simulated_days):
        rng = world.streams.for_day("disruptions", day)
        absent = rng.random(len(fleet)) < dis.no_show_prob
        broken = rng.random(len(fleet)) < dis.breakdown_prob
        # A breakdown falls somewhere in the vehicle's own shift.
        when = day * DAY_S + (starts + rng.random(len(fleet)) * lengths) * HOUR_S
        for k, v in enumerate(fleet):
            world.no_show[day, v.id] = bool(absent[k])
            world.breakdown_s[day, v.id] = float(when[k]) if broken[k] else math.inf
    if dis.cancel_share > 0:
        for oid in sorted(world.orders):
            order = world.orders[oid]
            u = world.order_rng(oid, 0, purpose="cancel").random(2)
            if u[0] < dis.cancel_share:
                t = order.created_s + u[1] * max(0.0, order.window_end_s - order.created_s)
                world.cancel_at.append((max(t, 0.0), oid))
        world.cancel_at.sort()


def _crowd(world: World) -> None:
    """Crowd couriers (Mesa agents) start from addresses anywhere in the served area."""
    settings = world.scenario.crowd
    if settings.couriers_per_day <= 0:
        return
    nodes = world.network.node_ids[world.serviceable].tolist()
    world.movers[CROWD] = world.travel
    world.crowd_type = VehicleType(
        mode="van",
        capacity_parcels=settings.max_parcels,
        capacity_volume_m3=1.5,
        capacity_weight_kg=300.0,
        speed_factor=settings.speed_factor,
        fixed_cost_per_day=0.0,
        cost_per_km=0.0,
        co2_kg_per_km=settings.co2_kg_per_km,
    )
    world.crowd = CrowdModel(
        settings, nodes, days=world.scenario.simulated_days, rng=world.streams["crowd"]
    )


def build_world(
    scenario: Scenario,
    network: RoadNetwork,
    streams: RandomStreams,
    *,
    orders: Sequence[Order] | None = None,
) -> World:
    """Build the world of one run (see the module docstring).

    Parameters
    ----------
    scenario : Scenario
    network : RoadNetwork
    streams : RandomStreams
        The run's streams (seed and replication); each piece draws from its own.
    orders : sequence of Order, optional
        Play these orders instead of generating demand from the scenario (one
        customer agent per distinct customer id).

    Raises
    ------
    ScenarioError
        If a hub or a locker site is too far from the map's roads.
    """
    weather = make_weather(scenario, streams)
    travel = TravelTimes(network, scenario.traffic, start_weekday=scenario.start_weekday)
    movers = make_movers(scenario, network, travel)
    airspace = _airspace(scenario, network)
    hub_nodes = place_hubs(scenario, network)
    lockers = _lockers(scenario, network)
    serviceable = serviceable_nodes(travel, hub_nodes)
    customers, by_id = _demand(scenario, network, serviceable, streams, orders)
    fleet = build_fleet(scenario, hub_nodes)
    world = World(
        scenario=scenario,
        network=network,
        streams=streams,
        weather=weather,
        travel=travel,
        movers=movers,
        airspace=airspace,
        hub_nodes=hub_nodes,
        hub_settings={h.id: h for h in scenario.hubs},
        lockers=lockers,
        serviceable=serviceable,
        serviceable_ids=set(network.node_ids[serviceable].tolist()),
        customers=customers,
        orders=by_id,
        fleet=fleet,
        drone_of={},
        no_show={},
        breakdown_s={},
        cancel_at=[],
    )
    _choose_lockers(world)
    world.drone_of = _carried_drones(scenario, fleet)
    _draw_disruptions(world)
    _crowd(world)
    return world
