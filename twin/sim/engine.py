"""The SimPy engine: one environment, one clock, all state; processes are plain generators.

:class:`Simulation` builds everything a run needs from a scenario and a road
network (hubs snapped to the network, the serviceable area, customers, every
day's orders, the fleet), then plays the days out:

* ``_release_orders`` makes each order known at its creation time (a
  ``new_order`` trigger during the day), and ``_day_ahead_notices`` tells
  customers their window the evening before;
* ``_customer_clock`` steps the Mesa customer model every hour;
* ``_days`` asks the dispatch policy for the morning plan at each cutoff;
  ``_scheduled_triggers`` adds the policy's ticks and waves,
  ``_road_closures`` and ``_cancellations`` play the scenario's disruptions;
* ``_dispatch`` builds the policy's read-only state, validates the plan and
  hands each vehicle its new trips (only what is not loaded yet changes),
  starting a ``_vehicle_day`` process for a vehicle given its first work;
* ``_vehicle_day`` loads at the hub (docks are a SimPy resource, so queues
  form), drives leg by leg with time-dependent, noisy travel times, takes breaks
  by the rule, parks, walks, attempts the delivery, records proof of delivery or
  the failure, sends ETA notices, returns to the hub where failed parcels are
  re-queued or returned to the sender, reloads for its next trip, and, under a
  dynamic policy, waits at the hub for more work until the end of the shift. A
  driver may not show up and a vehicle may break down (``vehicle_idle`` and
  ``disruption`` triggers tell the policy).

Randomness comes from named streams (:mod:`twin.rng`). Draws tied to an order
(service times, whether the door is answered) come from a generator keyed by the
order and attempt, so they are the same under any policy: common random numbers.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import simpy

from twin.airspace import Airspace, FlightPath
from twin.crowd import CourierView, CrowdModel
from twin.customers import CustomerModel
from twin.demand import Order, address_weights, generate_orders, surge_orders
from twin.dispatch import (
    RELOAD,
    DispatchPolicy,
    DispatchState,
    OrderView,
    PlanError,
    VehicleView,
    make_policy,
    new_trips,
    validate_plan,
)
from twin.errors import ScenarioError
from twin.events import TERMINAL, EventLog
from twin.fleet import Vehicle, build_fleet
from twin.lockers import LockerBank
from twin.maps.modal import mode_network
from twin.maps.network import RoadNetwork
from twin.rng import RandomStreams
from twin.scenario import Hub, Scenario, VehicleType
from twin.traveltime import TravelMatrix, TravelTimes, lognormal_params
from twin.weather import Weather

__all__ = [
    "SimResult",
    "Simulation",
    "expected_service_s",
    "load_time_s",
    "make_movers",
    "place_hubs",
]

DAY_S = 86_400.0
#: Vehicle type name (and mode in the vehicles table) of crowdsourced couriers.
CROWD = "crowd"
H = 3600.0
DISPATCHABLE = frozenset({"created", "unassigned", "reattempt"})
ORDER_COLUMNS = (
    "order_id", "due_day", "created_s", "node", "lat", "lon", "customer", "window",
    "window_start_s", "window_end_s", "option", "service_level", "volume_m3", "weight_kg",
    "released", "final_state", "attempts", "delivered_s", "eta_announced_s", "arrival_s",
    "satisfaction",
)  # fmt: skip
VEHICLE_COLUMNS = (
    "day", "vehicle_id", "driver_id", "type", "mode", "hub", "start_s", "end_s", "working_h",
    "shift_h", "overtime_h", "driving_h", "km", "trips", "stops_planned", "stops_attempted",
    "breaks",
    "fixed_cost", "distance_cost", "driver_cost", "operating_cost", "co2_kg",
)  # fmt: skip


@dataclass
class SimResult:
    """Everything a run produced: the event log and the derived tables."""

    scenario: Scenario
    log: EventLog
    orders: pd.DataFrame
    vehicles: pd.DataFrame
    hubs: dict[str, int]
    routes: list[dict[str, Any]] = field(default_factory=list)
    planning_s: float = 0.0
    simulation_s: float = 0.0
    n_unserviceable_nodes: int = 0

    @property
    def events(self) -> pd.DataFrame:
        return self.log.to_frame()


@dataclass
class _VehicleDay:
    """The engine's state of one vehicle within the current day.

    ``trips`` are planned but not loaded (the dispatcher may replace them);
    ``onboard`` is loaded and not yet attempted, the next stop first (committed);
    ``back`` holds parcels to hand in at the hub (failed, cancelled, not reached).
    """

    hub_node: int
    status: str = "off"  # off | scheduled | working | idle | done | absent | broken
    trips: list[list[Order]] = field(default_factory=list)
    onboard: list[Order] = field(default_factory=list)
    back: list[Order] = field(default_factory=list)
    #: Redirected parcels to deposit on the way back: (order, locker site, compartment size).
    to_locker: list[tuple[Order, str, str]] = field(default_factory=list)
    started_s: float = math.nan
    duty_from_s: float = math.nan
    trips_done: int = 0
    driving_s: float = 0.0
    on_road: bool = False
    eta_back_s: float = 0.0
    planned_breaks: list[float] = field(default_factory=list)
    wake: simpy.Event | None = None
    no_show: bool = False
    breakdown_s: float = math.inf
    here: int = -1
    #: Truck-and-drone: orders of the plan its drone drops (launched at the stop before).
    drops: frozenset[str] = frozenset()
    #: A carried drone: when its battery is swapped and it may fly again.
    ready_s: float = -math.inf

    def __post_init__(self) -> None:
        self.here = self.hub_node

    def new_day(self, *, no_show: bool, breakdown_s: float) -> None:
        self.status, self.here = "off", self.hub_node
        self.trips, self.onboard, self.back, self.planned_breaks = [], [], [], []
        self.to_locker = []
        self.started_s = self.duty_from_s = math.nan
        self.trips_done, self.driving_s, self.on_road = 0, 0.0, False
        self.no_show, self.breakdown_s = no_show, breakdown_s

    def carry_back(self, *orders: Order) -> None:
        """These parcels (default: all on board) will not be handed over on this trip."""
        for order in orders or tuple(self.onboard):
            self.onboard.remove(order)
            self.back.append(order)

    def drop_planned(self, order_id: str) -> None:
        self.trips = [kept for t in self.trips if (kept := [o for o in t if o.id != order_id])]


def _day_log(planned: int = 0) -> dict[str, Any]:
    """A vehicle's running totals for its row of the vehicles table."""
    return {"km": 0.0, "breaks": 0, "served": 0, "planned": planned}


def _lognormal(rng: np.random.Generator, mean: float, cv: float) -> float:
    if mean <= 0:
        return 0.0
    if cv <= 0:
        return mean
    return float(mean * rng.lognormal(*lognormal_params(cv)))


def _travel_function(mover: TravelTimes, weather: Weather) -> Callable[..., TravelMatrix]:
    """What policies see of a mover: expected travel times under the forecast weather."""

    def travel(sources: list[int], targets: list[int], depart_s: float) -> TravelMatrix:
        return _forecast(mover.matrix(sources, targets, depart_s=depart_s), weather)

    return travel


def _forecast(m: TravelMatrix, weather: Weather) -> TravelMatrix:
    """Expected times scaled by the weather's road factor at departure (the weather
    series is the forecast everyone plans with; rain slows every ground mode)."""
    factor = weather.road_factor(m.depart_s)
    return m if factor == 1.0 else replace(m, time_s=m.time_s * factor)


def make_movers(
    scenario: Scenario, network: RoadNetwork, travel: TravelTimes
) -> dict[str, TravelTimes]:
    """Travel times per vehicle type: vans share the road's (``travel``); robots walk and
    bikes ride on their own networks at their own pace; autonomous vans keep to their
    road classes. Drones fly (no entry). Types that move alike share one object.

    A function, not a method, so that the live forecast moves vehicles exactly as
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


def load_time_s(hub: Hub, vtype: VehicleType, parcels: int) -> float:
    """Time to load a trip's parcels at ``hub`` (once at a dock; the dock wait is extra)."""
    if vtype.mode == "drone":  # one parcel into the drone's box at the pad
        return hub.load_time_per_parcel_s * parcels
    return hub.load_setup_s + hub.load_time_per_parcel_s * parcels


def expected_service_s(
    scenario: Scenario, option: str, vtype: VehicleType | None = None, *, locker: bool = False
) -> float:
    """Expected time at a stop: getting to the door (or locker) and the handover.

    A vehicle type's ``stop_overhead_s`` replaces parking and walking; its
    ``handover_extra_s`` is added (the customer comes out to the curb). A
    function of the scenario alone, so planners, the engine and the live
    forecast use one definition.
    """
    s = scenario.service
    if vtype is not None and vtype.stop_overhead_s is not None:
        overhead = vtype.stop_overhead_s
    else:
        overhead = s.parking_s_mean + 2 * s.walk_s_mean
    if locker:
        return overhead + scenario.lockers.deposit_s
    extra = s.signature_extra_s if option == "signature" else 0.0
    if vtype is not None:
        extra += vtype.handover_extra_s
    return overhead + s.handover_s_mean + extra


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


class Simulation:
    """One replication of a scenario.

    Parameters
    ----------
    scenario : Scenario
    network : RoadNetwork
    policy : DispatchPolicy, optional
        Defaults to the scenario's ``policy`` section.
    replication : int, optional
        Replication index (independent random streams, same seed).
    orders : sequence of Order, optional
        Play these orders instead of generating demand from the scenario.
    on_event : callable, optional
        Observer called with every event (progress bars, streaming).
    """

    def __init__(
        self,
        scenario: Scenario,
        network: RoadNetwork,
        *,
        policy: DispatchPolicy | None = None,
        replication: int = 0,
        orders: Sequence[Order] | None = None,
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.scenario = scenario
        self.network = network
        self.replication = replication
        self.streams = RandomStreams(scenario.seed, replication=replication)
        self.policy = policy or make_policy(
            scenario.policy.name,
            time_limit_s=scenario.policy.time_limit_s,
            **scenario.policy.params,
        )
        self.env = simpy.Environment()
        self.weather = Weather(scenario.weather, days=scenario.days, rng=self.streams["weather"])
        self.log = EventLog(on_event)
        self.travel = TravelTimes(network, scenario.traffic, start_weekday=scenario.start_weekday)
        self.movers = self._make_movers()
        self.airspace = self._make_airspace()
        self.hub_nodes = self._place_hubs()
        self.lockers = self._make_lockers()
        self.serviceable = self._serviceable_nodes()
        self._serviceable_ids = set(network.node_ids[self.serviceable].tolist())
        self.orders: dict[str, Order] = {}
        if orders is None:
            self.customers = self._make_customers()
            for day in range(scenario.days):
                for order in generate_orders(
                    day,
                    scenario.demand,
                    network,
                    self.customers.node,
                    self.streams.for_day("demand", day),
                ) + surge_orders(
                    day,
                    scenario.demand,
                    network,
                    self.customers.node,
                    self.streams.for_day("surge", day),
                ):
                    self.orders[order.id] = order
        else:
            # Given orders (a CSV, a live feed, a test): one customer per distinct customer id.
            ids = sorted({o.customer for o in orders})
            row = {c: i for i, c in enumerate(ids)}
            node_of = {o.customer: o.node for o in orders}
            self.customers = CustomerModel(
                scenario.customers, [node_of[c] for c in ids], rng=self.streams["presence"]
            )
            for o in orders:
                self.orders[o.id] = replace(o, customer=row[o.customer])
        self._choose_lockers()
        self.attempts = dict.fromkeys(self.orders, 0)
        self.released: set[str] = set()
        self.fleet = build_fleet(scenario, self.hub_nodes)
        self.busy_until = {v.id: -math.inf for v in self.fleet}
        self._vehicle_by_id = {v.id: v for v in self.fleet}
        #: Truck-and-drone: the drone each carrier has on board (by carrier id).
        self.drone_of = {
            v.id: Vehicle(
                id=f"{v.id}/drone",
                driver_id="",
                type_name=v.type.drone,
                type=scenario.vehicle_types[v.type.drone],
                hub=v.hub,
                hub_node=v.hub_node,
            )
            for v in self.fleet
            if v.type.drone is not None
        }
        # Policies see each type's own travel where it differs from the road's.
        # (one function per mover: policies group vehicles that move alike by it).
        functions = {id(m): _travel_function(m, self.weather) for m in self.movers.values()}
        self._mode_travel: dict[str, Callable[..., TravelMatrix]] = {
            name: functions[id(mover)]
            for name, mover in self.movers.items()
            if mover is not self.travel
        }
        self.vs = {v.id: _VehicleDay(hub_node=v.hub_node) for v in self.fleet}
        self._triggers: frozenset[str] | None = getattr(self.policy, "triggers", None)
        self._holds_idle = bool(getattr(self.policy, "dynamic", False))
        self._draw_disruptions()
        self.docks = {h.id: simpy.Resource(self.env, capacity=h.docks) for h in scenario.hubs}
        self.hub_settings = {h.id: h for h in scenario.hubs}
        self.eta_announced: dict[str, float] = {}
        self.arrival: dict[str, float] = {}
        self.delivered_s: dict[str, float] = {}
        self.vehicle_days: list[dict[str, Any]] = []
        self.routes: list[dict[str, Any]] = []
        self.planning_s = 0.0
        self._travel_rng = self.streams["travel"]
        self.crowd = self._make_crowd()
        self._flights: dict[tuple[int, int], FlightPath | None] = {}
        #: A carried drone's day: its log and the nodes it flew to (by drone id).
        self._sortie_logs: dict[str, tuple[dict[str, Any], list[int]]] = {}

    # -- set-up ---------------------------------------------------------------
    def _place_hubs(self) -> dict[str, int]:
        return place_hubs(self.scenario, self.network)

    def _make_movers(self) -> dict[str, TravelTimes]:
        return make_movers(self.scenario, self.network, self.travel)

    def _make_airspace(self) -> Airspace | None:
        if not any(t.mode == "drone" for t in self.scenario.vehicle_types.values()):
            return None
        return Airspace.from_map(self.network.meta, settings=self.scenario.airspace)

    def _make_lockers(self) -> LockerBank:
        settings = self.scenario.lockers
        nodes = []
        for i, site in enumerate(settings.sites):
            snap = self.network.snap(
                site.lat, site.lon, max_distance_m=self.scenario.map.max_snap_m
            )
            if snap.too_far[0]:
                raise ScenarioError(
                    f"lockers.sites[{i}] ({site.id!r}) at ({site.lat:.5f}, {site.lon:.5f}) is "
                    f"{snap.distance_m[0]:.0f} m from the nearest road of map "
                    f"{self.network.meta.name!r} (limit map.max_snap_m = "
                    f"{self.scenario.map.max_snap_m:g}); move the site onto the map."
                )
            nodes.append(int(snap.node[0]))
        xy = self.network.project(
            np.array([s.lat for s in settings.sites]), np.array([s.lon for s in settings.sites])
        )
        return LockerBank(settings, xy, nodes)

    def _make_crowd(self) -> CrowdModel | None:
        """Crowd couriers (Mesa agents) start from addresses anywhere in the served area."""
        settings = self.scenario.crowd
        if settings.couriers_per_day <= 0:
            return None
        nodes = self.network.node_ids[self.serviceable].tolist()
        self.movers[CROWD] = self.travel
        crowd_type = VehicleType(
            mode="van",
            capacity_parcels=settings.max_parcels,
            capacity_volume_m3=1.5,
            capacity_weight_kg=300.0,
            speed_factor=settings.speed_factor,
            fixed_cost_per_day=0.0,
            cost_per_km=0.0,
            co2_kg_per_km=settings.co2_kg_per_km,
        )
        self._crowd_type = crowd_type
        return CrowdModel(settings, nodes, days=self.scenario.days, rng=self.streams["crowd"])

    def _choose_lockers(self) -> None:
        """Each customer agent decides, order by order, whether to use a nearby locker.

        Drawn from the order's own stream, so every policy sees the same choices.
        A chosen order's delivery point becomes the locker.
        """
        if not self.lockers:
            return
        settings = self.scenario.lockers
        ids = sorted(self.orders)
        xy = self.network.project(
            np.array([self.orders[i].lat for i in ids]), np.array([self.orders[i].lon for i in ids])
        )
        for k, oid in enumerate(ids):
            order = self.orders[oid]
            if self.lockers.size_for(order.volume_m3) is None:
                continue
            near = self.lockers.nearest(xy[k], settings.max_distance_km)
            if not near:
                continue
            distance_km, site = near[0]
            rng = self._order_rng(oid, 0, purpose="locker")
            if self.customers.choose_locker(
                order.customer,
                distance_km,
                rng,
                half_distance_km=settings.half_distance_km,
                max_distance_km=settings.max_distance_km,
            ):
                node = self.lockers.node[site]
                i = self.network.index(node)[0]
                self.orders[oid] = replace(
                    order,
                    node=node,
                    lat=float(self.network.lat[i]),
                    lon=float(self.network.lon[i]),
                    option="locker",
                    locker=site,
                )

    def _serviceable_nodes(self) -> np.ndarray:
        """Nodes a vehicle can reach from a hub and come back from, at noon of day 0."""
        hubs = sorted(set(self.hub_nodes.values()))
        ids = self.network.node_ids.tolist()
        noon = 12 * H
        out_t = self.travel.matrix(hubs, ids, depart_s=noon, with_length=False).time_s
        back_t = self.travel.matrix(ids, hubs, depart_s=noon, with_length=False).time_s
        ok = (np.isfinite(out_t) & np.isfinite(back_t.T)).any(axis=0)
        return np.flatnonzero(ok)

    def _make_customers(self) -> CustomerModel:
        weights = address_weights(self.network, self.scenario.demand)[self.serviceable]
        if weights.sum() <= 0:
            weights = np.ones(len(self.serviceable))
        n = max(
            1,
            round(
                self.scenario.demand.orders_per_day * self.scenario.demand.customers_per_daily_order
            ),
        )
        rng = self.streams["customers"]
        picks = rng.choice(len(self.serviceable), size=n, p=weights / weights.sum())
        nodes = self.network.node_ids[self.serviceable[picks]]
        return CustomerModel(self.scenario.customers, nodes, rng=self.streams["presence"])

    def _draw_disruptions(self) -> None:
        """Who does not show up, which vehicle breaks down when, which orders are cancelled.

        Drawn up front from their own streams, in a fixed order, so every policy
        faces the same disruptions (common random numbers).
        """
        dis = self.scenario.disruptions
        d = self.scenario.drivers
        self.no_show: dict[tuple[int, str], bool] = {}
        self.breakdown_s: dict[tuple[int, str], float] = {}
        for day in range(self.scenario.days):
            rng = self.streams.for_day("disruptions", day)
            absent = rng.random(len(self.fleet)) < dis.no_show_prob
            broken = rng.random(len(self.fleet)) < dis.breakdown_prob
            when = (
                day * DAY_S
                + (
                    d.shift_start_h
                    + rng.random(len(self.fleet)) * (d.shift_end_h - d.shift_start_h)
                )
                * H
            )
            for k, v in enumerate(self.fleet):
                self.no_show[day, v.id] = bool(absent[k])
                self.breakdown_s[day, v.id] = float(when[k]) if broken[k] else math.inf
        self.cancel_at: list[tuple[float, str]] = []
        if dis.cancel_share > 0:
            for oid in sorted(self.orders):
                order = self.orders[oid]
                u = self._order_rng(oid, 0, purpose="cancel").random(2)
                if u[0] < dis.cancel_share:
                    t = order.created_s + u[1] * max(0.0, order.window_end_s - order.created_s)
                    self.cancel_at.append((max(t, 0.0), oid))
            self.cancel_at.sort()
        self.cancel_requested: set[str] = set()

    def _order_rng(self, order_id: str, attempt: int, purpose: str = "") -> np.random.Generator:
        """Draws tied to one order attempt: identical under every policy (CRN)."""
        label = f"{order_id}/{attempt}" + (f"/{purpose}" if purpose else "")
        digest = hashlib.sha256(label.encode()).digest()
        key = int.from_bytes(digest[:8], "little")
        return np.random.default_rng([self.scenario.seed, self.replication, key])

    # -- helpers ------------------------------------------------------------------
    def _now(self) -> float:
        return float(self.env.now)

    def _day(self) -> int:
        return int(self._now() // DAY_S)

    def _event(self, kind: str, **kw: Any) -> None:
        self.log.append(self._now(), kind, day=self._day(), **kw)

    def _order_event(self, kind: str, order: Order, **kw: Any) -> None:
        self._event(kind, order_id=order.id, node=order.node, lat=order.lat, lon=order.lon, **kw)

    def _state(self, oid: str) -> str:
        return self.log.states.state[oid]

    def expected_service_s(self, order: Order, vtype: VehicleType | None = None) -> float:
        """Expected time at a stop (:func:`expected_service_s` for this order)."""
        return expected_service_s(
            self.scenario, order.option, vtype, locker=order.locker is not None
        )

    def _mover(self, vehicle: Vehicle) -> TravelTimes:
        return self.movers[vehicle.type_name]

    def _travel(self, sources: list[int], targets: list[int], depart_s: float) -> TravelMatrix:
        return _forecast(self.travel.matrix(sources, targets, depart_s=depart_s), self.weather)

    # -- processes ------------------------------------------------------------------
    def _release_orders(self) -> Any:
        for order in sorted(self.orders.values(), key=lambda o: (o.created_s, o.id)):
            wait = max(order.created_s, 0.0) - self._now()
            if wait > 0:
                yield self.env.timeout(wait)
            self.released.add(order.id)
            self._order_event(
                "created",
                order,
                placed_s=round(order.created_s, 3),
                due_day=order.due_day,
                window=order.window,
                window_start_s=order.window_start_s,
                window_end_s=order.window_end_s,
                option=order.option,
                service_level=order.service_level,
                customer=order.customer,
            )
            if (
                order.due_day * DAY_S - 4 * H < order.created_s
                and order.due_day < self.scenario.days
            ):
                self._order_event(
                    "notify_window",
                    order,
                    window_start_s=order.window_start_s,
                    window_end_s=order.window_end_s,
                )
            if order.node not in self._serviceable_ids:
                # Reported, never silently dropped: no hub's vehicles can reach this
                # address and come back under the traffic rules.
                self._order_event("unreachable", order, reason="address not routable from a hub")
            elif self._now() > self.scenario.demand.cutoff_h * H:
                self._dispatch("new_order")

    def _day_ahead_notices(self) -> Any:
        """Tell each customer their delivery window the evening before (20:00), or at
        once for orders placed later than that."""
        for day in range(self.scenario.days):
            notice = day * DAY_S - 4 * H
            if notice > self._now():
                yield self.env.timeout(notice - self._now())
            for oid in sorted(self.released):
                order = self.orders[oid]
                if (
                    order.due_day == day
                    and order.created_s <= notice
                    and self._state(oid) not in TERMINAL
                ):
                    self._order_event(
                        "notify_window",
                        order,
                        window_start_s=order.window_start_s,
                        window_end_s=order.window_end_s,
                    )

    def _customer_clock(self) -> Any:
        for day in range(self.scenario.days):
            self.customers.start_day(day)
            for _ in range(23):
                yield self.env.timeout(H)
                self.customers.step()
            yield self.env.timeout(H)
            self.customers.end_day()

    def _days(self) -> Any:
        for day in range(self.scenario.days):
            cutoff = day * DAY_S + self.scenario.demand.cutoff_h * H
            yield self.env.timeout(max(0.0, cutoff - self._now()))
            for v in self.fleet:
                # Uncrewed vehicles have nobody to miss a shift; drones do not break down
                # on the road (a fault aborts a sortie, not modelled yet).
                self.vs[v.id].new_day(
                    no_show=self.no_show[day, v.id] and v.type.crewed,
                    breakdown_s=self.breakdown_s[day, v.id] if v.type.mode != "drone" else math.inf,
                )
            self._dispatch("cutoff")

    def _scheduled_triggers(self) -> Any:
        """The policy's periodic ``tick`` and its ``wave`` times, in each operating day."""
        tick_s = getattr(self.policy, "tick_s", None)
        waves_h = tuple(getattr(self.policy, "wave_hours", ()))
        d = self.scenario.drivers
        for day in range(self.scenario.days):
            # Ticks run while vehicles are out: before the shift the morning plan is fresh.
            first = day * DAY_S + max(self.scenario.demand.cutoff_h, d.shift_start_h) * H
            last = day * DAY_S + d.shift_end_h * H
            times = {day * DAY_S + h * H: "wave" for h in waves_h}
            if tick_s:
                t = first + tick_s
                while t < last:
                    times.setdefault(t, "tick")
                    t += tick_s
            for t in sorted(times):
                if t <= day * DAY_S + self.scenario.demand.cutoff_h * H:
                    continue
                yield self.env.timeout(t - self._now())
                self._dispatch(times[t])

    def _road_closures(self) -> Any:
        """Closures that start or end during the run are disruptions the policy hears about."""
        horizon = self.scenario.days * DAY_S
        changes = sorted(
            [(c.start_s, "road_closed", c.name) for c in self.scenario.traffic.closures]
            + [(c.end_s, "road_reopened", c.name) for c in self.scenario.traffic.closures]
        )
        for t, kind, name in changes:
            if not 0 < t < horizon:
                continue
            yield self.env.timeout(t - self._now())
            self._event(kind, closure=name)
            self._dispatch("disruption")

    def _cancellations(self) -> Any:
        for t, oid in self.cancel_at:
            yield self.env.timeout(max(0.0, t - self._now()))
            self._cancel(self.orders[oid])

    def _cancel(self, order: Order) -> None:
        """The customer cancels: at once if the parcel is still at the hub, else when it is back."""
        holder = next(
            (vid for vid, vs in self.vs.items() if order in vs.onboard or order in vs.back), None
        )
        if holder is not None:
            self.cancel_requested.add(order.id)
            self._order_event("cancel_request", order, vehicle_id=holder)
        elif self._state(order.id) in ("created", "unassigned", "reattempt", "assigned"):
            for vs in self.vs.values():
                vs.drop_planned(order.id)
            self._order_event("cancelled", order, reason="customer")

    # -- dispatch -------------------------------------------------------------------
    def _vehicle_view(self, v: Vehicle, vs: _VehicleDay, now: float, day: int) -> VehicleView:
        d = self.scenario.drivers
        hub = self.hub_settings[v.hub]
        started = vs.status not in ("off", "scheduled")
        crewed = v.type.crewed
        driving_left = None
        if d.max_driving_h is not None and crewed:
            driving_left = max(0.0, d.max_driving_h * H - vs.driving_s)
        return VehicleView(
            id=v.id,
            type=v.type_name,
            mode=v.type.mode,
            hub=v.hub,
            hub_node=v.hub_node,
            node=v.hub_node,
            available_s=max(now, self.busy_until[v.id], vs.eta_back_s if vs.on_road else now),
            capacity=v.capacity,
            committed=tuple(o.id for o in vs.onboard),
            shift_start_s=vs.started_s if started else day * DAY_S + d.shift_start_h * H,
            shift_end_s=day * DAY_S + d.shift_end_h * H,
            max_working_s=d.max_working_h * H,
            break_after_s=d.break_after_h * H,
            break_s=d.break_min * 60.0 if crewed else 0.0,
            fixed_cost=v.type.fixed_cost_per_day,
            cost_per_km=v.type.cost_per_km,
            cost_per_h=d.cost_per_hour if crewed else v.type.supervision_cost_per_h,
            overtime_cost_per_h=(
                d.overtime_cost_per_hour if crewed else v.type.supervision_cost_per_h
            ),
            speed_factor=v.type.speed_factor,
            load_setup_s=hub.load_setup_s,
            load_per_parcel_s=hub.load_time_per_parcel_s,
            max_driving_s=driving_left,
            max_trips=v.type.max_trips - vs.trips_done + (1 if vs.onboard else 0),
            planned=tuple(
                oid
                for k, trip in enumerate(vs.trips)
                for oid in ([RELOAD] if k else []) + [o.id for o in trip]
            ),
            started=started,
            spec=v.type,
            drone=self.drone_of[v.id].type if v.id in self.drone_of else None,
        )

    def _available(self, vehicle: Vehicle, vs: _VehicleDay, now: float, day: int) -> bool:
        """Can the dispatcher still give this vehicle work today?"""
        d = self.scenario.drivers
        if vs.status in ("done", "absent", "broken"):
            return False
        if self.busy_until[vehicle.id] > day * DAY_S + d.shift_end_h * H:
            return False
        if vs.status == "off":
            # Nobody starts a shift after it has ended, and a no-show is known from shift start.
            if now >= day * DAY_S + d.shift_end_h * H:
                return False
            return not (vs.no_show and now >= day * DAY_S + d.shift_start_h * H)
        return True

    def _order_view(
        self, o: Order, vehicle_id: str | None, day: int, shift_start: float
    ) -> OrderView:
        return OrderView(
            id=o.id,
            node=o.node,
            lat=o.lat,
            lon=o.lon,
            demand=(1.0, o.volume_m3, o.weight_kg),
            window_start_s=max(o.window_start_s, shift_start)
            if o.due_day <= day
            else o.window_start_s,
            window_end_s=o.window_end_s,
            service_s=self.expected_service_s(o),
            option=o.option,
            attempts=self.attempts[o.id],
            due_day=o.due_day,
            created_s=o.created_s,
            vehicle_id=vehicle_id,
            last_attempt_s=self.arrival.get(o.id),
        )

    def _dispatch(self, trigger: str) -> None:
        """Ask the policy for a plan (if it listens to ``trigger``), check it, carry it out."""
        if self._triggers is not None and trigger not in self._triggers:
            return
        now = self._now()
        day = self._day()
        if trigger != "cutoff" and now < day * DAY_S + self.scenario.demand.cutoff_h * H:
            return  # before today's morning plan there is nothing to re-plan
        shift_start = day * DAY_S + self.scenario.drivers.shift_start_h * H
        planned_on = {o.id: vid for vid, vs in self.vs.items() for t in vs.trips for o in t}
        pending = [
            self.orders[oid]
            for oid in sorted(self.released)
            if self._state(oid) in DISPATCHABLE or oid in planned_on
        ]
        views = tuple(
            self._vehicle_view(v, self.vs[v.id], now, day)
            for v in self.fleet
            if self._available(v, self.vs[v.id], now, day)
        )
        state = DispatchState(
            now_s=now,
            day=day,
            trigger=trigger,
            orders=tuple(
                self._order_view(o, planned_on.get(o.id), day, shift_start) for o in pending
            ),
            vehicles=views,
            hubs=dict(self.hub_nodes),
            travel=self._travel,
            mode_travel=self._mode_travel,
            flight_m=self._flight_m if self.airspace is not None else None,
            clear_sky_from=self._clear_sky_for if self.airspace is not None else None,
            couriers=self.crowd.online(now) if self.crowd is not None else (),
            van_sortie_m=self._van_sortie_m if self.drone_of else None,
        )
        started = time.perf_counter()
        plan = self.policy.decide(state)
        self.planning_s += time.perf_counter() - started
        validate_plan(self.policy.name, state, plan)
        self._check_routes(plan, views)
        routed = {
            oid: vid
            for vid, stops in plan.routes.items()
            for oid in stops[len(self.vs[vid].onboard) :]
            if oid != RELOAD
        }
        n_routes = sum(1 for vid in plan.routes if routed and vid in routed.values())
        if trigger == "cutoff" or n_routes:
            # A solver stopped by its clock makes the run depend on the machine: say so.
            clock = {"time_limit_hit": 1} if plan.stats.get("time_limit_hit") else {}
            self._event(
                "plan",
                policy=self.policy.name,
                trigger=trigger,
                n_orders=len(pending),
                n_routes=n_routes,
                **clock,
            )
        by_id = {v.id: v for v in self.fleet}
        view_of = {v.id: v for v in views}
        for vid, stops in sorted(plan.routes.items()):
            vs = self.vs[vid]
            trips = new_trips(view_of[vid], stops)
            for trip in trips:
                for oid in trip:
                    if planned_on.get(oid) != vid:
                        self._order_event("assigned", self.orders[oid], vehicle_id=vid)
            vs.trips = [[self.orders[oid] for oid in trip] for trip in trips]
            onboard = {o.id for o in vs.onboard}
            vs.drops = frozenset(vs.drops & onboard) | plan.drone_drops.get(vid, frozenset())
            if vid in plan.breaks_s:
                vs.planned_breaks = sorted(plan.breaks_s[vid])
            if not vs.trips:
                continue
            if vs.status == "off":
                vs.status = "scheduled"
                self.env.process(self._vehicle_day(by_id[vid], day))
            elif vs.wake is not None and not vs.wake.triggered:
                vs.wake.succeed()
        for cid, bundle in sorted(plan.offers.items()):
            if self._offer(state, cid, [self.orders[oid] for oid in bundle]):
                routed.update(dict.fromkeys(bundle, cid))
        for order in pending:
            if order.id in routed:
                continue
            if planned_on.get(order.id) in plan.routes or self._state(order.id) == "created":
                self._order_event("unassigned", order)

    # -- crowdsourced couriers ---------------------------------------------------------
    def _offer(self, state: DispatchState, courier_id: str, bundle: list[Order]) -> bool:
        """Offer a bundle; the courier agent decides. Accepted: the courier's run starts."""
        assert self.crowd is not None
        courier = next(c for c in state.couriers if c.id == courier_id)
        ids = sorted(self.hub_nodes)
        to_hubs = self.travel.matrix(
            [courier.node], [self.hub_nodes[h] for h in ids], depart_s=self._now()
        )
        assert to_hubs.length_m is not None
        k = int(np.argmin(to_hubs.time_s[0]))
        hub_id, hub_node = ids[k], self.hub_nodes[ids[k]]
        pickup_s, pickup_m = float(to_hubs.time_s[0, k]), float(to_hubs.length_m[0, k])
        route = [hub_node, *(o.node for o in bundle), hub_node]
        m = self.travel.matrix(route[:-1], route[1:], depart_s=self._now())
        assert m.length_m is not None
        route_km = float(np.trace(m.length_m)) / 1000.0
        route_h = (float(np.trace(m.time_s)) + sum(self.expected_service_s(o) for o in bundle)) / H
        if not math.isfinite(route_km + pickup_s):
            return False
        accepted = self.crowd.offer(
            courier_id,
            n_parcels=len(bundle),
            route_km=route_km,
            route_h=route_h,
            pickup_km=pickup_m / 1000.0,
            t_s=self._now(),
        )
        self._event(
            "crowd_offer",
            vehicle_id=courier_id,
            node=courier.node,
            parcels=len(bundle),
            pay=round(self.crowd.pay(len(bundle), route_km), 2),
            accepted=accepted,
        )
        if accepted:
            for order in bundle:
                self._order_event("assigned", order, vehicle_id=courier_id)
            self.env.process(self._courier_run(courier, hub_id, hub_node, bundle, route_km))
        return accepted

    def _courier_attempts(self, vehicle: Vehicle, order: Order) -> bool:
        assert self.crowd is not None
        rng = self._order_rng(order.id, self.attempts[order.id] + 1, purpose="crowd")
        if self.crowd.reliable(vehicle.id, order.id, rng):
            return True
        self._order_event("courier_skipped", order, vehicle_id=vehicle.id)
        return False

    def _courier_run(
        self, courier: CourierView, hub_id: str, hub_node: int, bundle: list[Order], route_km: float
    ) -> Any:
        """Drive to the hub, pick up, deliver (skipping what the courier does not attempt),
        bring back what was not delivered, get paid per delivery."""
        assert self.crowd is not None
        vehicle = Vehicle(
            id=courier.id,
            driver_id=courier.id,
            type_name=CROWD,
            type=self._crowd_type,
            hub=hub_id,
            hub_node=hub_node,
        )
        vs = self.vs[courier.id] = _VehicleDay(hub_node=hub_node)
        vs.here = courier.node
        vs.status = "working"
        vs.started_s = vs.duty_from_s = self._now()
        self._event("shift_start", vehicle_id=courier.id, driver_id=courier.id, node=courier.node)
        day_log = _day_log(planned=len(bundle))
        nodes = [courier.node]
        if vs.here != hub_node:
            yield from self._drive(vehicle, vs.here, hub_node, day_log)
            vs.here = hub_node
            nodes.append(hub_node)
        where = self._where(hub_node)
        vs.onboard = list(bundle)
        vs.on_road = True
        yield from self._load(vehicle, bundle, where)
        stopped = yield from self._deliver_trip(vehicle, vs, bundle, day_log, nodes)
        yield from self._deposit_redirected(vehicle, vs, day_log, nodes)
        if vs.back and vs.here != hub_node:  # undelivered parcels go back to the hub
            yield from self._drive(vehicle, vs.here, hub_node, day_log)
            vs.here = hub_node
            nodes.append(hub_node)
        vs.on_road = False
        if vs.back:
            self._back_at_hub(vehicle, where, stopped or "done")
        delivered = sum(1 for o in bundle if o.id in self.delivered_s)
        vs.status = "done"
        vs.trips_done = 1
        self.crowd.release(courier.id)
        self._end_shift(
            vehicle, vs, self._day(), day_log, nodes, crowd_pay=self.crowd.pay(delivered, route_km)
        )

    def _check_routes(self, plan: Any, views: Sequence[VehicleView]) -> None:
        """Limits that depend on the route: drone sorties legal and within range, robot
        trips within range, every leg possible on the vehicle's own road classes."""
        by_id = {v.id: v for v in self.fleet}
        for view in views:
            if view.id not in plan.routes:
                continue
            vehicle = by_id[view.id]
            vtype = vehicle.type
            name = self.policy.name
            for trip in new_trips(view, plan.routes[view.id]):
                stops = [self.orders[oid].node for oid in trip]
                if vtype.mode == "drone":
                    length = self.sortie_m(vehicle, stops)
                    if not math.isfinite(length):
                        raise PlanError(
                            f"policy {name!r} sends drone {view.id!r} on a sortie {trip} with "
                            "no legal flight path (a no-fly zone or the border is in the way)"
                        )
                elif vtype.road_classes is None and vtype.range_km is None:
                    continue
                else:
                    route = [vehicle.hub_node, *stops, vehicle.hub_node]
                    m = self._mover(vehicle).matrix(route[:-1], route[1:], depart_s=self._now())
                    assert m.length_m is not None
                    length = float(np.trace(m.length_m))
                    if not math.isfinite(length):
                        raise PlanError(
                            f"policy {name!r} sends {vtype.mode} {view.id!r} on a trip {trip} "
                            f"it cannot make on its road classes {list(vtype.road_classes or [])}"
                        )
                if vtype.range_km is not None and length > vtype.range_km * 1000.0 + 1e-6:
                    raise PlanError(
                        f"policy {name!r} sends {vtype.mode} {view.id!r} on a trip {trip} of "
                        f"{length / 1000:.1f} km; its range is {vtype.range_km:g} km"
                    )

        view_of = {v.id: v for v in views}
        for vid, drops in plan.drone_drops.items():
            drone = self.drone_of[vid]
            range_m = drone.type.range_km * 1000.0 if drone.type.range_km else math.inf
            for trip in new_trips(view_of[vid], plan.routes[vid]):
                for launch, oid in itertools.pairwise(trip):
                    if oid not in drops:
                        continue
                    length = self._van_sortie_m(
                        vid, self.orders[launch].node, self.orders[oid].node
                    )
                    if not length <= range_m + 1e-6:
                        raise PlanError(
                            f"policy {self.policy.name!r} sends {vid!r}'s drone from the stop of "
                            f"order {launch!r} to order {oid!r}: "
                            + (
                                "no legal flight path"
                                if math.isinf(length)
                                else f"{length / 1000:.1f} km there and back; its range is "
                                f"{range_m / 1000:g} km"
                            )
                        )

    def _van_sortie_m(self, vehicle_id: str, launch: int, drop: int) -> float:
        """Legal flight length of a carried drone from ``launch`` to ``drop`` and back."""
        drone = self.drone_of[vehicle_id]
        out, _ = self._flight(drone, launch, drop)
        back, _ = self._flight(drone, drop, launch)
        return math.inf if out is None or back is None else out.length_m + back.length_m

    def _flight_m(self, vehicle_id: str, stops: Sequence[int]) -> float:
        return self.sortie_m(self._vehicle_by_id[vehicle_id], stops)

    def _clear_sky_for(self, vehicle_id: str, t_s: float) -> float:
        return self._clear_sky_from(self._vehicle_by_id[vehicle_id], t_s)

    def _expected_legs(
        self, vehicle: Vehicle, start_node: int, stops: list[Order], depart: float
    ) -> list[float]:
        """Expected time of each leg of a route (start -> stop 1 -> stop 2 ...) at ``depart``.

        Computed once per route; ETA updates reuse it instead of new shortest paths.
        """
        if not stops:
            return []
        nodes = [start_node] + [o.node for o in stops]
        if vehicle.type.mode == "drone":
            return [self._flight(vehicle, a, b)[1] for a, b in itertools.pairwise(nodes)]
        # The van drives from the last stop it serves itself (its drone's drops are flown).
        drops = self.vs[vehicle.id].drops if vehicle.id in self.drone_of else frozenset()
        dropped = [o.id in drops and k > 0 for k, o in enumerate(stops)]
        origins, last = [], start_node
        for k, order in enumerate(stops):
            origins.append(last)
            if not dropped[k]:
                last = order.node
        targets = [o.node for o in stops]
        m = _forecast(
            self._mover(vehicle).matrix(origins, targets, depart_s=depart, with_length=False),
            self.weather,
        ).time_s
        legs = [float(m[i, i]) / vehicle.type.speed_factor for i in range(len(stops))]
        for k in (k for k, flown in enumerate(dropped) if flown):
            legs[k : k + 2] = self._drop_legs(vehicle, stops, k, legs)
        return legs

    def _drop_legs(
        self, van: Vehicle, stops: list[Order], k: int, legs: list[float]
    ) -> list[float]:
        """Legs ``k`` and ``k + 1`` as :meth:`_etas` reads them when the van's drone drops
        stop ``k``: launched on arrival at stop ``k - 1``, it drops after take-off and the
        flight out; the van leaves ``k - 1`` when both its own stop is done and the drone
        is back, then drives on (``legs[k + 1]`` is that drive, from ``k - 1``)."""
        drone = self.drone_of[van.id]
        launch, drop = stops[k - 1].node, stops[k].node
        out = drone.type.takeoff_landing_s / 2 + self._flight(drone, launch, drop)[1]
        back = self._flight(drone, drop, launch)[1] + drone.type.takeoff_landing_s / 2
        served_before = self.expected_service_s(stops[k - 1], van.type)
        dropped = self.expected_service_s(stops[k], drone.type)
        first = out - served_before
        if k + 1 == len(stops):
            return [first]
        return [first, max(served_before - out - dropped, back) + legs[k + 1]]

    def _etas(
        self, vehicle: Vehicle, legs: list[float], stops: list[Order], depart: float
    ) -> list[float]:
        """Expected arrival at each stop, driving ``legs`` and serving each stop in turn."""
        etas, t = [], depart
        for leg_s, order in zip(legs, stops, strict=True):
            t = max(t + leg_s, order.window_start_s)
            etas.append(t)
            t += self.expected_service_s(order, vehicle.type)
        return etas

    def _back_leg_s(self, vehicle: Vehicle, node: int, depart_s: float) -> float:
        """Expected time from ``node`` back to the vehicle's hub."""
        if vehicle.type.mode == "drone":
            return self._flight(vehicle, node, vehicle.hub_node)[1]
        m = self._mover(vehicle).matrix([node], [vehicle.hub_node], depart_s=depart_s)
        return float(_forecast(m, self.weather).time_s[0, 0]) / vehicle.type.speed_factor

    def _vehicle_day(self, vehicle: Vehicle, day: int) -> Any:
        """Drive one vehicle's day: load, deliver trip by trip, reload, wait for work.

        The process starts when the vehicle is first given work on ``day`` and
        runs its trips from ``vs.trips``, which the dispatcher may replace at any
        time (only what is not loaded). Before every leg the driver checks the
        working-day and driving limits (can the stop be served and the hub still
        be reached in time?) and stops early if not; parcels not delivered go
        back to the hub and planned trips are released. Breaks are taken when
        planned and whenever the next leg would pass the duty-time rule. A
        breakdown ends the day where the vehicle is; its parcels are brought
        back to the hub after the recovery time. With a dynamic policy an idle
        vehicle waits at the hub for more work until the end of its shift.
        """
        sc = self.scenario
        d = sc.drivers
        vs = self.vs[vehicle.id]
        shift_start = day * DAY_S + d.shift_start_h * H
        shift_end = day * DAY_S + d.shift_end_h * H
        vid, drv = vehicle.id, vehicle.driver_id
        hub_node = vehicle.hub_node
        where = self._where(hub_node)
        if shift_start > self._now():
            yield self.env.timeout(shift_start - self._now())
        if not vs.trips:
            # Re-planned away before the shift began: ask once more, else stay off.
            self._dispatch("vehicle_idle")
            if not vs.trips:
                vs.status = "off"
                return
        if vs.no_show:
            vs.status = "absent"
            self._event("no_show", vehicle_id=vid, driver_id=drv, **where)
            self._release_trips(vs)
            self._dispatch("disruption")
            return
        vs.status = "working"
        vs.started_s = vs.duty_from_s = self._now()
        self._event("shift_start", vehicle_id=vid, driver_id=drv, **where)
        day_log = _day_log()
        drone = self.drone_of.get(vid)
        if drone is not None:  # its drone rides along all day
            dvs = self.vs[drone.id] = _VehicleDay(hub_node=hub_node, status="working")
            dvs.started_s = self._now()
            self._sortie_logs[drone.id] = (_day_log(), [])
            self._event("shift_start", vehicle_id=drone.id, driver_id="", carrier=vid, **where)
        nodes = [hub_node]
        stopped = ""
        while not stopped:
            if not vs.trips:
                vs.status = "idle"
                self._dispatch("vehicle_idle")
                if not vs.trips and self._holds_idle and self._now() < shift_end:
                    vs.wake = self.env.event()
                    yield vs.wake | self.env.timeout(shift_end - self._now())
                    vs.wake = None
                if not vs.trips:
                    break
                vs.status = "working"
            if vehicle.type.mode == "drone":
                hold = self._launch_at(vehicle, vs.trips[0]) - self._now()
                if hold > 0:  # a drop before the window opens is not a delivery: wait
                    yield self.env.timeout(min(hold, max(shift_end - self._now(), 0.0)))
                    if self._now() >= shift_end:
                        break
                    continue
                clear = self._clear_sky_from(vehicle, self._now())
                if clear > self._now():
                    # Grounded: hold the launch until the weather allows, if still today.
                    self._event(
                        "grounded",
                        vehicle_id=vid,
                        **where,
                        weather=self.weather.state_name(self._now()),
                        until_s=round(min(clear, shift_end), 3),
                    )
                    if clear >= shift_end:
                        break
                    yield self.env.timeout(clear - self._now())
                    continue  # the plan may have changed meanwhile
            trip = vs.trips.pop(0)
            vs.trips_done += 1
            day_log["planned"] += len(trip)
            vs.onboard = list(trip)
            vs.on_road = True
            vs.eta_back_s = self._expected_return(vehicle, trip, self._now())
            yield from self._load(vehicle, trip, where)
            if vehicle.type.mode == "drone":
                yield from self._fly_trip(vehicle, vs, trip, day_log, nodes)
            else:
                stopped = yield from self._deliver_trip(vehicle, vs, trip, day_log, nodes)
            if stopped == "breakdown":
                vs.status = "broken"  # out for the day: no plan may count on it
                self._release_trips(vs)
                self._dispatch("disruption")
                yield self.env.timeout(sc.disruptions.recovery_h * H)
                for order, site, size in vs.to_locker:  # the recovery crew drops them off
                    self._put_in_locker(order, vehicle, site, size)
                vs.to_locker = []
                self._back_at_hub(vehicle, where, stopped)
                self._dispatch("disruption")
                break
            yield from self._deposit_redirected(vehicle, vs, day_log, nodes)
            if vs.here != hub_node:
                yield from self._drive(vehicle, vs.here, hub_node, day_log)
                vs.here = hub_node
                nodes.append(hub_node)
            vs.on_road = False
            self._back_at_hub(vehicle, where, stopped or ("reload" if vs.trips else "done"))
            if stopped:
                self._release_trips(vs)
            elif vehicle.type.mode == "drone":
                yield self.env.timeout(vehicle.type.swap_s)  # battery swap before the next sortie
        vs.status = "broken" if stopped == "breakdown" else "done"
        self._release_trips(vs)
        self._end_shift(vehicle, vs, day, day_log, nodes)
        if drone is not None:
            self._end_shift(drone, self.vs[drone.id], day, *self._sortie_logs[drone.id])

    def _announce(self, vehicle: Vehicle, vs: _VehicleDay, trip: list[Order]) -> Any:
        """Trip leaves: parcels out for delivery, ETAs sent; returns (legs, etas)."""
        vid, drv = vehicle.id, vehicle.driver_id
        legs = self._expected_legs(vehicle, vehicle.hub_node, trip, self._now())
        etas = self._etas(vehicle, legs, trip, self._now())
        for order, eta in zip(trip, etas, strict=True):
            self._order_event("out_for_delivery", order, vehicle_id=vid, driver_id=drv)
            self.eta_announced[order.id] = eta
            self._order_event("notify_eta", order, vehicle_id=vid, eta_s=round(eta, 3))
        vs.eta_back_s = self._expected_return(vehicle, trip, self._now(), legs=legs, etas=etas)
        return legs, etas

    def _deliver_trip(
        self,
        vehicle: Vehicle,
        vs: _VehicleDay,
        trip: list[Order],
        day_log: dict[str, Any],
        nodes: list[int],
    ) -> Any:
        """Serve the parcels on board in order; return why the trip stopped early ("" if not).

        Before each leg: can the stop be served and the hub reached within the
        working day, the driving limit (crewed modes) and the trip range (robots)?
        """
        sc = self.scenario
        d = sc.drivers
        vtype = vehicle.type
        limit = vs.started_s + d.max_working_h * H
        max_driving = (
            d.max_driving_h * H if d.max_driving_h is not None and vtype.crewed else math.inf
        )
        range_m = vtype.range_km * 1000.0 if vtype.range_km is not None else math.inf
        mover = self._mover(vehicle)
        speed = vtype.speed_factor
        vid, drv = vehicle.id, vehicle.driver_id
        hub_node = vehicle.hub_node
        legs, etas = self._announce(vehicle, vs, trip)
        trip_m = 0.0
        flown: set[str] = set()
        for i, order in enumerate(trip):
            if order.id in flown:  # its drone took it from the stop before
                continue
            if self._now() >= vs.breakdown_s:
                self._event("breakdown", vehicle_id=vid, driver_id=drv, node=vs.here)
                vs.carry_back()
                return "breakdown"
            if order.id in self.cancel_requested:
                vs.carry_back(order)
                continue
            if vehicle.type_name == CROWD and not self._courier_attempts(vehicle, order):
                vs.carry_back(order)  # a less reliable courier: the parcel comes back
                continue
            leg = mover.leg(vs.here, order.node, depart_s=self._now())
            weather = self.weather.road_factor(self._now())
            expected_drive = leg.travel_time_s / speed * weather
            home = mover.matrix([order.node], [hub_node], depart_s=self._now())
            assert home.length_m is not None
            back = home.time_s[0, 0] / speed * weather
            stopped = ""
            if self._now() + expected_drive + self.expected_service_s(order, vtype) + back > limit:
                stopped = "working_day_limit"
            elif vs.driving_s + expected_drive + back > max_driving:
                stopped = "driving_limit"
            elif trip_m + leg.length_m + home.length_m[0, 0] > range_m:
                stopped = "range_limit"
            if stopped:
                vs.carry_back()
                return stopped
            yield from self._drive(vehicle, vs.here, order.node, day_log, leg=leg, order=order)
            trip_m += leg.length_m
            vs.here = order.node
            nodes.append(vs.here)
            # Running late or early moves the expected return by as much.
            vs.eta_back_s += self._now() - etas[i]
            etas[i] = self._now()
            if self._now() < order.window_start_s:
                yield self.env.timeout(order.window_start_s - self._now())
            if order.id in self.cancel_requested:  # cancelled while the driver was on the way
                vs.carry_back(order)
                continue
            k = i + sc.service.eta_update_stops_before
            if k < len(trip):
                upcoming = self._etas(
                    vehicle, legs[i + 1 : k + 1], trip[i + 1 : k + 1], self._now()
                )
                self._order_event(
                    "update_eta", trip[k], vehicle_id=vid, eta_s=round(upcoming[-1], 3)
                )
            sortie = self._launch_from(vehicle, vs, trip, i)
            if sortie is not None:
                flown.add(trip[i + 1].id)
            yield from self._attempt(order, vehicle)
            vs.onboard.remove(order)
            day_log["served"] += 1
            if self._state(order.id) == "failed":
                vs.back.append(order)
            if sortie is not None:
                yield sortie  # the drone comes back to the van before it drives on
        return ""

    # -- truck-and-drone --------------------------------------------------------------
    def _launch_from(self, van: Vehicle, vs: _VehicleDay, trip: list[Order], i: int) -> Any:
        """Launch the van's drone from stop ``i`` to the next order if the plan says so
        and it can fly now: weather, battery swapped, range, no drop before the window.
        Returns the sortie's process, or None (then the van serves that order itself)."""
        if i + 1 >= len(trip) or trip[i + 1].id not in vs.drops:
            return None
        order = trip[i + 1]
        drone = self.drone_of[van.id]
        dvs = self.vs[drone.id]
        now = self._now()
        if order.id in self.cancel_requested or now < dvs.ready_s:
            return None
        clear = self._clear_sky_from(drone, now)
        if clear > now:
            self._event(
                "grounded",
                vehicle_id=drone.id,
                carrier=van.id,
                **self._where(vs.here),
                weather=self.weather.state_name(now),
                until_s=round(clear, 3) if math.isfinite(clear) else None,
            )
            return None
        vtype = drone.type
        range_m = vtype.range_km * 1000.0 if vtype.range_km is not None else math.inf
        if not self._van_sortie_m(van.id, vs.here, order.node) <= range_m:
            return None
        _, out_s = self._flight(drone, vs.here, order.node)
        if now + vtype.takeoff_landing_s / 2 + out_s < order.window_start_s:
            return None
        vs.onboard.remove(order)
        return self.env.process(self._van_sortie(van, drone, order, vs.here))

    def _van_sortie(self, van: Vehicle, drone: Vehicle, order: Order, launch: int) -> Any:
        """Take off from the van, drop the parcel, fly back and land on the van; the
        battery is swapped (``swap_s``) before the next launch."""
        vtype = drone.type
        dvs = self.vs[drone.id]
        log, nodes = self._sortie_logs[drone.id]
        dvs.trips_done += 1
        log["planned"] += 1
        self._event(
            "launch",
            vehicle_id=drone.id,
            carrier=van.id,
            **self._where(launch),
            payload_kg=round(order.weight_kg, 3),
            parcels=1,
        )
        yield self.env.timeout(vtype.takeoff_landing_s / 2)
        yield from self._fly(drone, launch, order.node, order.weight_kg, log, order=order)
        nodes.append(order.node)
        yield from self._attempt(order, drone)
        log["served"] += 1
        failed = self._state(order.id) == "failed"
        yield from self._fly(drone, order.node, launch, order.weight_kg if failed else 0.0, log)
        nodes.append(launch)
        yield self.env.timeout(vtype.takeoff_landing_s / 2)
        self._event("recovered", vehicle_id=drone.id, carrier=van.id, node=launch)
        dvs.ready_s = self._now() + vtype.swap_s
        if failed:
            self.vs[van.id].back.append(order)

    # -- drones -----------------------------------------------------------------------
    def _flight(self, vehicle: Vehicle, a: int, b: int) -> tuple[FlightPath | None, float]:
        """Shortest legal flight between two nodes and its duration at cruise speed
        (``(None, inf)`` if no legal path: inside a no-fly zone or across the border)."""
        key = (a, b)
        path = self._flights.get(key)
        if key not in self._flights:
            assert self.airspace is not None
            ia, ib = self.network.index([a, b])
            net = self.network
            path = self.airspace.path(
                (float(net.lat[ia]), float(net.lon[ia])), (float(net.lat[ib]), float(net.lon[ib]))
            )
            self._flights[key] = path
        if path is None:
            return None, math.inf
        assert vehicle.type.speed_kph is not None
        return path, path.length_m / (vehicle.type.speed_kph / 3.6)

    def sortie_m(self, vehicle: Vehicle, stops: Sequence[int]) -> float:
        """Flight length of a sortie from the hub over ``stops`` and back (inf if illegal)."""
        route = [vehicle.hub_node, *stops, vehicle.hub_node]
        total = 0.0
        for a, b in itertools.pairwise(route):
            path, _ = self._flight(vehicle, a, b)
            if path is None:
                return math.inf
            total += path.length_m
        return total

    def _launch_at(self, vehicle: Vehicle, trip: list[Order]) -> float:
        """The latest launch that still reaches the first drop no earlier than its window."""
        first = trip[0]
        _, out_s = self._flight(vehicle, vehicle.hub_node, first.node)
        lead = self._load_time_s(vehicle, len(trip)) + vehicle.type.takeoff_landing_s / 2
        return first.window_start_s - lead - out_s

    def _clear_sky_from(self, vehicle: Vehicle, t_s: float) -> float:
        """The first time from ``t_s`` this drone may fly (inf if not within the run)."""
        vtype = vehicle.type
        horizon = self.scenario.days * DAY_S
        t = t_s
        while t < horizon:
            if not self.weather.grounded(
                t, max_wind_kph=vtype.max_wind_kph, max_rain_mm_h=vtype.max_rain_mm_h
            ):
                return t
            t = (math.floor(t / H) + 1) * H
        return math.inf

    def _fly_trip(
        self,
        vehicle: Vehicle,
        vs: _VehicleDay,
        trip: list[Order],
        day_log: dict[str, Any],
        nodes: list[int],
    ) -> Any:
        """One sortie: take off, fly to each drop point around no-fly zones, lower the
        parcel, fly back and land. Launched only in flyable weather (checked by the caller)."""
        vtype = vehicle.type
        vid = vehicle.id
        self._announce(vehicle, vs, trip)
        payload = sum(o.weight_kg for o in trip)
        self._event(
            "launch",
            vehicle_id=vid,
            **self._where(vehicle.hub_node),
            payload_kg=round(payload, 3),
            parcels=len(trip),
        )
        yield self.env.timeout(vtype.takeoff_landing_s / 2)
        for order in trip:
            if order.id in self.cancel_requested:
                vs.carry_back(order)
                continue
            yield from self._fly(vehicle, vs.here, order.node, payload, day_log, order=order)
            vs.here = order.node
            nodes.append(vs.here)
            yield from self._attempt(order, vehicle)
            payload -= order.weight_kg
            vs.onboard.remove(order)
            day_log["served"] += 1
            if self._state(order.id) == "failed":
                vs.back.append(order)
        yield from self._fly(vehicle, vs.here, vehicle.hub_node, max(payload, 0.0), day_log)
        yield self.env.timeout(vtype.takeoff_landing_s / 2)
        vs.here = vehicle.hub_node
        nodes.append(vs.here)

    def _fly(
        self,
        vehicle: Vehicle,
        a: int,
        b: int,
        payload_kg: float,
        day_log: dict[str, Any],
        order: Order | None = None,
    ) -> Any:
        """One flight leg, logged with its waypoints (the no-fly check reads them)."""
        path, flight_s = self._flight(vehicle, a, b)
        if path is None:  # plans are checked for legal sorties before they are accepted
            raise PlanError(f"drone {vehicle.id}: no legal flight from node {a} to node {b}")
        end = path.waypoints[-1]
        self._event(
            "flight",
            vehicle_id=vehicle.id,
            node=b,
            lat=end[0],
            lon=end[1],
            path=[[round(p[0], 7), round(p[1], 7)] for p in path.waypoints],
            length_m=round(path.length_m, 1),
            payload_kg=round(payload_kg, 3),
        )
        yield self.env.timeout(flight_s)
        day_log["km"] += path.length_m / 1000.0
        self.vs[vehicle.id].driving_s += flight_s
        if order is not None:
            self._order_event("arrive", order, vehicle_id=vehicle.id, leg_m=round(path.length_m, 1))
        else:
            self._event("arrive", vehicle_id=vehicle.id, node=b, leg_m=round(path.length_m, 1))

    def _expected_return(
        self,
        vehicle: Vehicle,
        trip: list[Order],
        depart_s: float,
        *,
        legs: list[float] | None = None,
        etas: list[float] | None = None,
    ) -> float:
        """When the vehicle is expected back at its hub after ``trip`` (loading included
        unless the legs from departure are given)."""
        if legs is None or etas is None:
            depart_s += self._load_time_s(vehicle, len(trip))
            legs = self._expected_legs(vehicle, vehicle.hub_node, trip, depart_s)
            etas = self._etas(vehicle, legs, trip, depart_s)
        last = trip[-1]
        done = etas[-1] + self.expected_service_s(last, vehicle.type)
        return done + self._back_leg_s(vehicle, last.node, etas[-1])

    def _load_time_s(self, vehicle: Vehicle, parcels: int) -> float:
        return load_time_s(self.hub_settings[vehicle.hub], vehicle.type, parcels)

    def _where(self, node: int) -> dict[str, Any]:
        i = self.network.index(node)[0]
        return {
            "node": node,
            "lat": float(self.network.lat[i]),
            "lon": float(self.network.lon[i]),
        }

    def _release_trips(self, vs: _VehicleDay) -> None:
        """Planned trips the vehicle will not make: free for another plan."""
        for trip in vs.trips:
            for order in trip:
                self._order_event("unassigned", order)
        vs.trips = []

    def _end_shift(
        self,
        vehicle: Vehicle,
        vs: _VehicleDay,
        day: int,
        day_log: dict[str, Any],
        nodes: list[int],
        *,
        crowd_pay: float | None = None,
    ) -> None:
        """Log the end of a vehicle's day and its row of the vehicles table.

        A crowd courier (``crowd_pay`` given) has no shift of its own beyond the
        bundle and is paid for the bundle, not by the hour.
        """
        d = self.scenario.drivers
        vid = vehicle.id
        started, ended = vs.started_s, self._now()
        if crowd_pay is None:
            shift_start = day * DAY_S + d.shift_start_h * H
            shift_end = day * DAY_S + d.shift_end_h * H
        else:
            shift_start, shift_end = started, ended
        overtime = max(0.0, ended - shift_end)
        self._event(
            "shift_end",
            vehicle_id=vid,
            driver_id=vehicle.driver_id,
            **self._where(vehicle.hub_node),
            working_s=round(ended - started, 3),
            overtime_s=round(overtime, 3),
            driving_s=round(vs.driving_s, 3),
        )
        vtype = vehicle.type
        if crowd_pay is not None:
            driver_cost, operating_cost = 0.0, crowd_pay
        else:
            wages = min(ended - started, shift_end - started) / H * d.cost_per_hour
            wages += overtime / H * d.overtime_cost_per_hour
            driver_cost = wages if vtype.crewed else 0.0
            operating_cost = (ended - started) / H * vtype.supervision_cost_per_h
        km = day_log["km"]
        self.vehicle_days.append(
            {
                "day": day,
                "vehicle_id": vid,
                "driver_id": vehicle.driver_id,
                "type": vehicle.type_name,
                "mode": CROWD if crowd_pay is not None else vtype.mode,
                "hub": vehicle.hub,
                "start_s": started,
                "end_s": ended,
                "working_h": (ended - started) / H,
                "shift_h": (shift_end - shift_start) / H,
                "overtime_h": overtime / H,
                "driving_h": vs.driving_s / H,
                "km": km,
                "trips": vs.trips_done,
                "stops_planned": day_log["planned"],
                "stops_attempted": day_log["served"],
                "breaks": day_log["breaks"],
                "fixed_cost": vtype.fixed_cost_per_day,
                "distance_cost": km * vtype.cost_per_km,
                "driver_cost": driver_cost,
                "operating_cost": operating_cost,
                "co2_kg": km * vtype.co2_kg_per_km,
            }
        )
        self.routes.append({"day": day, "vehicle_id": vid, "nodes": nodes})
        self.busy_until[vid] = ended

    def _load(self, vehicle: Vehicle, trip: list[Order], where: dict[str, Any]) -> Any:
        """Wait for a dock (drones load at their own pad), load the trip's parcels, depart."""
        vid, drv = vehicle.id, vehicle.driver_id
        dock = None if vehicle.type.mode == "drone" else self.docks[vehicle.hub].request()
        queued = self._now()
        if dock is not None:
            yield dock
        self._event(
            "load_start",
            vehicle_id=vid,
            driver_id=drv,
            **where,
            dock_wait_s=round(self._now() - queued, 3),
            parcels=len(trip),
        )
        yield self.env.timeout(self._load_time_s(vehicle, len(trip)))
        for order in trip:
            self._order_event("loaded", order, vehicle_id=vid, driver_id=drv)
        if dock is not None:
            self.docks[vehicle.hub].release(dock)
        self._event("depart", vehicle_id=vid, driver_id=drv, **where)

    def _drive(
        self,
        vehicle: Vehicle,
        source: int,
        target: int,
        day_log: dict[str, Any],
        leg: Any = None,
        order: Order | None = None,
    ) -> Any:
        """Drive one leg (taking a break first if one is due) and log the arrival."""
        d = self.scenario.drivers
        vid, drv = vehicle.id, vehicle.driver_id
        mover = self._mover(vehicle)
        if leg is None:
            leg = mover.leg(source, target, depart_s=self._now())
        drive_s = (
            mover.sample(leg, self._travel_rng)
            / vehicle.type.speed_factor
            * self.weather.road_factor(self._now())
        )
        vs = self.vs[vid]
        planned = vs.planned_breaks
        due_by_plan = bool(planned) and self._now() + drive_s > planned[0]
        due_by_rule = (
            vehicle.type.crewed
            and d.break_min > 0
            and self._now() + drive_s - vs.duty_from_s > d.break_after_h * H
        )
        if due_by_plan or due_by_rule:
            if due_by_plan:
                planned.pop(0)
            self._event(
                "break_start", vehicle_id=vid, driver_id=drv, node=source, planned=due_by_plan
            )
            yield self.env.timeout(d.break_min * 60.0)
            self._event("break_end", vehicle_id=vid, driver_id=drv, node=source)
            vs.duty_from_s = self._now()
            day_log["breaks"] += 1
        yield self.env.timeout(drive_s)
        day_log["km"] += leg.length_m / 1000.0
        vs.driving_s += drive_s
        if order is not None:
            self._order_event(
                "arrive",
                order,
                vehicle_id=vid,
                driver_id=drv,
                leg_m=round(leg.length_m, 1),
                drive_s=round(drive_s, 3),
            )
        else:
            self._event(
                "arrive",
                vehicle_id=vid,
                driver_id=drv,
                node=target,
                leg_m=round(leg.length_m, 1),
                drive_s=round(drive_s, 3),
            )

    def _back_at_hub(self, vehicle: Vehicle, where: dict[str, Any], reason: str) -> None:
        """Hand the parcels carried back to the hub: re-attempt later or return to sender."""
        vs = self.vs[vehicle.id]
        back, vs.back = vs.back, []
        self._event(
            "return_to_hub",
            vehicle_id=vehicle.id,
            driver_id=vehicle.driver_id,
            **where,
            parcels_back=len(back),
            reason=reason,
        )
        for order in back:
            self._order_event("returned_to_hub", order, vehicle_id=vehicle.id)
            if order.id in self.cancel_requested:
                self._order_event("cancelled", order, reason="customer")
            elif self.attempts[order.id] >= self.scenario.service.max_attempts:
                self._order_event("returned_to_sender", order, attempts=self.attempts[order.id])
            else:
                self._order_event("reattempt", order, attempts=self.attempts[order.id])

    def _attempt(self, order: Order, vehicle: Vehicle) -> Any:
        """Get to the door (or locker), try to hand the parcel over, record the outcome.

        Vans park and walk; other modes have their own stop overhead. Safe drops
        need no one at home, except from modes that cannot leave a parcel (a
        robot, an autonomous van). A drone only lowers parcels. After a failed
        attempt the customer may accept a redirection to a nearby locker.
        """
        s = self.scenario.service
        vtype = vehicle.type
        self.attempts[order.id] += 1
        attempt = self.attempts[order.id]
        rng = self._order_rng(order.id, attempt)
        if vtype.stop_overhead_s is None:
            yield self.env.timeout(
                _lognormal(rng, s.parking_s_mean, s.service_cv)
                + _lognormal(rng, s.walk_s_mean, s.service_cv)
            )
        else:
            yield self.env.timeout(_lognormal(rng, vtype.stop_overhead_s, s.service_cv))
        arrival = self._now()
        self.arrival[order.id] = arrival
        vid = vehicle.id
        self._order_event(
            "attempted", order, vehicle_id=vid, driver_id=vehicle.driver_id, attempt=attempt
        )
        row = order.customer
        lateness_h = max(0.0, arrival - order.window_end_s) / H
        eta_error_h = abs(arrival - self.eta_announced.get(order.id, arrival)) / H
        if order.locker is not None:
            yield from self._deposit(order, vehicle, rng)
            return
        if vtype.mode == "drone":
            present = False  # nobody needs to be there: the parcel is lowered
        else:
            present = self.customers.attempt(
                row, rng, stay_home_share=self.weather.state(arrival).stay_home_share
            )
        if present:
            extra = s.signature_extra_s if order.option == "signature" else 0.0
            extra += vtype.handover_extra_s
            yield self.env.timeout(_lognormal(rng, s.handover_s_mean + extra, s.service_cv))
            pod = "signature" if order.option == "signature" else "scan"
            self._order_event("delivered", order, vehicle_id=vid, attempt=attempt)
            self._order_event("pod", order, vehicle_id=vid, pod=pod)
            self.delivered_s[order.id] = arrival
            self.customers.record_outcome(
                row, delivered=True, lateness_h=lateness_h, eta_error_h=eta_error_h
            )
        elif order.option == "safe_drop" and not vtype.needs_presence:
            if vtype.mode != "drone":  # a drone's drop time is its stop overhead
                yield self.env.timeout(_lognormal(rng, 0.5 * s.handover_s_mean, s.service_cv))
            self._order_event("safe_drop", order, vehicle_id=vid)
            self._order_event("delivered", order, vehicle_id=vid, attempt=attempt)
            self._order_event("pod", order, vehicle_id=vid, pod="photo")
            self.delivered_s[order.id] = arrival
            self.customers.record_outcome(
                row, delivered=True, lateness_h=lateness_h, eta_error_h=eta_error_h
            )
        else:
            self._order_event("customer_absent", order, vehicle_id=vid)
            self._order_event(
                "failed", order, vehicle_id=vid, attempt=attempt, reason="customer_absent"
            )
            self.customers.record_outcome(row, delivered=False, eta_error_h=eta_error_h)
            self._offer_redirect(order, vehicle, rng)
        if vtype.stop_overhead_s is None:
            yield self.env.timeout(_lognormal(rng, s.walk_s_mean, s.service_cv))

    # -- lockers ----------------------------------------------------------------------
    def _deposit(self, order: Order, vehicle: Vehicle, rng: np.random.Generator) -> Any:
        """Put a parcel the customer sent to a locker into the smallest free compartment."""
        assert order.locker is not None
        size = self.lockers.free_size(order.locker, order.volume_m3)
        if size is None:
            self._order_event(
                "failed",
                order,
                vehicle_id=vehicle.id,
                attempt=self.attempts[order.id],
                reason="locker_full",
            )
            self.customers.record_outcome(order.customer, delivered=False)
            return
        self.lockers.take(order.locker, size)  # the door opens: the compartment is ours
        yield self.env.timeout(
            _lognormal(rng, self.scenario.lockers.deposit_s, self.scenario.service.service_cv)
        )
        self._put_in_locker(order, vehicle, order.locker, size)

    def _offer_redirect(self, order: Order, vehicle: Vehicle, rng: np.random.Generator) -> None:
        """Nobody answered: offer the customer the nearest locker with room (reserved now)."""
        settings = self.scenario.lockers
        if not self.lockers or vehicle.type.mode not in ("van", "cargo_bike", "autonomous_van"):
            return
        if rng.random() >= settings.redirect_share:
            return  # the customer prefers another attempt at home
        xy = self.network.node_xy[self.network.index(order.node)[0]]
        mover = self._mover(vehicle)
        for _, site in self.lockers.nearest(xy, settings.redirect_radius_km):
            size = self.lockers.free_size(site, order.volume_m3)
            node = self.lockers.node[site]
            if size is None:
                continue
            there = mover.matrix([order.node], [node], depart_s=self._now(), with_length=False)
            if not np.isfinite(there.time_s[0, 0]):
                continue
            self.lockers.take(site, size)
            self._order_event("redirected", order, vehicle_id=vehicle.id, locker=site)
            self.vs[vehicle.id].to_locker.append((order, site, size))
            return

    def _deposit_redirected(
        self, vehicle: Vehicle, vs: _VehicleDay, day_log: dict[str, Any], nodes: list[int]
    ) -> Any:
        """On the way back, drop redirected parcels at their lockers (compartments reserved)."""
        while vs.to_locker:
            site = vs.to_locker[0][1]
            here = [item for item in vs.to_locker if item[1] == site]
            node = self.lockers.node[site]
            if vs.here != node:
                yield from self._drive(vehicle, vs.here, node, day_log)
                vs.here = node
                nodes.append(node)
            for order, _, size in here:
                yield self.env.timeout(self.scenario.lockers.deposit_s)
                self._put_in_locker(order, vehicle, site, size)
            vs.to_locker = [item for item in vs.to_locker if item[1] != site]

    def _put_in_locker(self, order: Order, vehicle: Vehicle, site: str, size: str) -> None:
        self._order_event(
            "in_locker",
            order,
            vehicle_id=vehicle.id,
            locker=site,
            compartment=size,
            used=self.lockers.used[site][size],  # type: ignore[index]
        )
        now = self._now()
        self.delivered_s[order.id] = now
        self.customers.record_outcome(
            order.customer, delivered=True, lateness_h=max(0.0, now - order.window_end_s) / H
        )
        self.env.process(self._locker_dwell(order, site, size))

    def _locker_dwell(self, order: Order, site: str, size: str) -> Any:
        """The customer collects the parcel after a while, or it expires and goes back."""
        settings = self.scenario.lockers
        delay = self.lockers.pickup_delay_s(self._order_rng(order.id, 0, purpose="pickup"))
        expiry = settings.expiry_h * H
        yield self.env.timeout(min(delay, expiry))
        self.lockers.free(site, size)  # type: ignore[arg-type]
        if delay < expiry:
            self._order_event("picked_up", order, locker=site)
            return
        self._order_event("expired", order, locker=site)
        self._order_event("returned_to_hub", order, reason="locker_expired")
        self._order_event("returned_to_sender", order, attempts=self.attempts[order.id])

    # -- run ------------------------------------------------------------------------
    def run(self) -> SimResult:
        """Play all days out and return the log and tables."""
        started = time.perf_counter()
        horizon = self.scenario.days * DAY_S
        self.env.process(self._release_orders())
        self.env.process(self._day_ahead_notices())
        self.env.process(self._customer_clock())
        self.env.process(self._days())
        self.env.process(self._scheduled_triggers())
        self.env.process(self._road_closures())
        if self.cancel_at:
            self.env.process(self._cancellations())
        self.env.run(until=horizon)
        for oid in sorted(self.released):
            if self._state(oid) not in TERMINAL:
                self._order_event("open_at_horizon", self.orders[oid], last_state=self._state(oid))
        return SimResult(
            scenario=self.scenario,
            log=self.log,
            orders=self._orders_table(),
            vehicles=pd.DataFrame(self.vehicle_days, columns=VEHICLE_COLUMNS),
            hubs=dict(self.hub_nodes),
            routes=self.routes,
            planning_s=self.planning_s,
            simulation_s=time.perf_counter() - started - self.planning_s,
            n_unserviceable_nodes=self.network.n_nodes - len(self.serviceable),
        )

    def _orders_table(self) -> pd.DataFrame:
        rows = []
        for oid, o in self.orders.items():
            rows.append(
                {
                    "order_id": oid,
                    "due_day": o.due_day,
                    "created_s": o.created_s,
                    "node": o.node,
                    "lat": o.lat,
                    "lon": o.lon,
                    "customer": o.customer,
                    "window": o.window,
                    "window_start_s": o.window_start_s,
                    "window_end_s": o.window_end_s,
                    "option": o.option,
                    "service_level": o.service_level,
                    "volume_m3": o.volume_m3,
                    "weight_kg": o.weight_kg,
                    "released": oid in self.released,
                    "final_state": self.log.states.state.get(oid, "not_released"),
                    "attempts": self.attempts[oid],
                    "delivered_s": self.delivered_s.get(oid, math.nan),
                    "eta_announced_s": self.eta_announced.get(oid, math.nan),
                    "arrival_s": self.arrival.get(oid, math.nan),
                    "satisfaction": float(self.customers.satisfaction[o.customer]),
                }
            )
        return pd.DataFrame(rows, columns=ORDER_COLUMNS)
