"""The SimPy engine: one environment, one clock, all state; processes are plain generators.

:class:`Simulation` builds everything a run needs from a scenario and a road
network (hubs snapped to the network, the serviceable area, customers, every
day's orders, the fleet), then plays the days out:

* ``_release_orders`` makes each order known at its creation time, and
  ``_day_ahead_notices`` tells customers their window the evening before;
* ``_customer_clock`` steps the Mesa customer model every hour;
* ``_days`` triggers the dispatch policy at each morning cutoff and starts one
  ``_run_route`` process per planned vehicle;
* ``_run_route`` loads at the hub (docks are a SimPy resource, so queues form),
  drives leg by leg with time-dependent, noisy travel times, takes breaks by the
  rule, parks, walks, attempts the delivery, records proof of delivery or the
  failure, sends ETA notices, and returns to the hub where failed parcels are
  re-queued or returned to the sender.

Randomness comes from named streams (:mod:`twin.rng`). Draws tied to an order
(service times, whether the door is answered) come from a generator keyed by the
order and attempt, so they are the same under any policy: common random numbers.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import simpy

from twin.customers import CustomerModel
from twin.demand import Order, address_weights, generate_orders
from twin.dispatch import (
    RELOAD,
    DispatchPolicy,
    DispatchState,
    OrderView,
    Plan,
    VehicleView,
    make_policy,
    validate_plan,
)
from twin.errors import ScenarioError
from twin.events import TERMINAL, EventLog
from twin.fleet import Vehicle, build_fleet
from twin.maps.network import RoadNetwork
from twin.rng import RandomStreams
from twin.scenario import Scenario
from twin.traveltime import TravelMatrix, TravelTimes

__all__ = ["SimResult", "Simulation"]

DAY_S = 86_400.0
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
    "fixed_cost", "distance_cost", "driver_cost", "co2_kg",
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


def _lognormal(rng: np.random.Generator, mean: float, cv: float) -> float:
    if mean <= 0:
        return 0.0
    if cv <= 0:
        return mean
    sigma2 = math.log1p(cv * cv)
    return float(mean * rng.lognormal(-sigma2 / 2.0, math.sqrt(sigma2)))


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
        self.log = EventLog(on_event)
        self.travel = TravelTimes(network, scenario.traffic, start_weekday=scenario.start_weekday)
        self.hub_nodes = self._place_hubs()
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
        self.attempts = dict.fromkeys(self.orders, 0)
        self.released: set[str] = set()
        self.fleet = build_fleet(scenario, self.hub_nodes)
        self.busy_until = {v.id: -math.inf for v in self.fleet}
        self.docks = {h.id: simpy.Resource(self.env, capacity=h.docks) for h in scenario.hubs}
        self.hub_settings = {h.id: h for h in scenario.hubs}
        self.eta_announced: dict[str, float] = {}
        # Per vehicle, while its route runs: on duty since, breaks still planned,
        # parcels to hand back at the hub.
        self._duty_from: dict[str, float] = {}
        self._planned_breaks: dict[str, list[float]] = {}
        self._carried_back: defaultdict[str, list[Order]] = defaultdict(list)
        self.arrival: dict[str, float] = {}
        self.delivered_s: dict[str, float] = {}
        self.vehicle_days: list[dict[str, Any]] = []
        self.routes: list[dict[str, Any]] = []
        self.planning_s = 0.0
        self._travel_rng = self.streams["travel"]

    # -- set-up ---------------------------------------------------------------
    def _place_hubs(self) -> dict[str, int]:
        net = self.network
        nodes = {}
        for hub in self.scenario.hubs:
            lat, lon = hub.lat, hub.lon
            if lat is None or lon is None:
                site = next((p for p in net.meta.pois if p.kind == "hub_site"), None)
                lat, lon = (
                    (site.lat, site.lon)
                    if site
                    else (float(np.median(net.lat)), float(np.median(net.lon)))
                )
            snap = net.snap(lat, lon, max_distance_m=self.scenario.map.max_snap_m)
            if snap.too_far[0]:
                raise ScenarioError(
                    f"hubs: hub {hub.id!r} at ({lat:.5f}, {lon:.5f}) is "
                    f"{snap.distance_m[0]:.0f} m from the nearest road of map "
                    f"{net.meta.name!r} (limit map.max_snap_m = "
                    f"{self.scenario.map.max_snap_m:g}); move the hub onto the map."
                )
            nodes[hub.id] = int(snap.node[0])
        return nodes

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

    def _order_rng(self, order_id: str, attempt: int) -> np.random.Generator:
        """Draws tied to one order attempt: identical under every policy (CRN)."""
        digest = hashlib.sha256(f"{order_id}/{attempt}".encode()).digest()
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

    def expected_service_s(self, order: Order) -> float:
        s = self.scenario.service
        extra = s.signature_extra_s if order.option == "signature" else 0.0
        return s.parking_s_mean + 2 * s.walk_s_mean + s.handover_s_mean + extra

    def _travel(self, sources: list[int], targets: list[int], depart_s: float) -> TravelMatrix:
        return self.travel.matrix(sources, targets, depart_s=depart_s)

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
            self._dispatch("cutoff")

    def _dispatch(self, trigger: str) -> None:
        now = self._now()
        pending = [
            self.orders[oid] for oid in sorted(self.released) if self._state(oid) in DISPATCHABLE
        ]
        d = self.scenario.drivers
        day = self._day()
        shift_start = day * DAY_S + d.shift_start_h * H
        views = tuple(
            VehicleView(
                id=v.id,
                type=v.type_name,
                mode=v.type.mode,
                hub=v.hub,
                hub_node=v.hub_node,
                node=v.hub_node,
                available_s=max(now, self.busy_until[v.id]),
                capacity=v.capacity,
                committed=(),
                shift_start_s=shift_start,
                shift_end_s=day * DAY_S + d.shift_end_h * H,
                max_working_s=d.max_working_h * H,
                break_after_s=d.break_after_h * H,
                break_s=d.break_min * 60.0,
                fixed_cost=v.type.fixed_cost_per_day,
                cost_per_km=v.type.cost_per_km,
                cost_per_h=d.cost_per_hour,
                overtime_cost_per_h=d.overtime_cost_per_hour,
                speed_factor=v.type.speed_factor,
                load_setup_s=self.hub_settings[v.hub].load_setup_s,
                load_per_parcel_s=self.hub_settings[v.hub].load_time_per_parcel_s,
                max_driving_s=None if d.max_driving_h is None else d.max_driving_h * H,
                max_trips=v.type.max_trips,
            )
            for v in self.fleet
            if self.busy_until[v.id] <= now
        )
        state = DispatchState(
            now_s=now,
            day=day,
            trigger=trigger,
            orders=tuple(
                OrderView(
                    id=o.id,
                    node=o.node,
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
                )
                for o in pending
            ),
            vehicles=views,
            hubs=dict(self.hub_nodes),
            travel=self._travel,
        )
        started = time.perf_counter()
        plan = self.policy.decide(state)
        self.planning_s += time.perf_counter() - started
        validate_plan(self.policy.name, state, plan)
        self._event(
            "plan",
            policy=self.policy.name,
            trigger=trigger,
            n_orders=len(pending),
            n_routes=len(plan.routes),
        )
        routed = {oid for stops in plan.routes.values() for oid in stops}
        by_id = {v.id: v for v in self.fleet}
        for vid, stops in sorted(plan.routes.items()):
            vehicle = by_id[vid]
            trips: list[list[Order]] = [[]]
            for oid in stops:
                if oid == RELOAD:
                    trips.append([])
                    continue
                self._order_event("assigned", self.orders[oid], vehicle_id=vid)
                trips[-1].append(self.orders[oid])
            self.busy_until[vid] = math.inf
            self.env.process(self._run_route(vehicle, [t for t in trips if t], plan))
        for order in pending:
            if order.id not in routed and self._state(order.id) == "created":
                self._order_event("unassigned", order)

    def _expected_legs(self, start_node: int, stops: list[Order], depart: float) -> list[float]:
        """Expected time of each leg of a route (start -> stop 1 -> stop 2 ...) at ``depart``.

        Computed once per route; ETA updates reuse it instead of new shortest paths.
        """
        if not stops:
            return []
        nodes = [start_node] + [o.node for o in stops]
        m = self.travel.matrix(nodes[:-1], nodes[1:], depart_s=depart, with_length=False).time_s
        return [float(m[i, i]) for i in range(len(stops))]

    def _etas(self, legs: list[float], stops: list[Order], depart: float) -> list[float]:
        """Expected arrival at each stop, driving ``legs`` and serving each stop in turn."""
        etas, t = [], depart
        for leg_s, order in zip(legs, stops, strict=True):
            t = max(t + leg_s, order.window_start_s)
            etas.append(t)
            t += self.expected_service_s(order)
        return etas

    def _run_route(self, vehicle: Vehicle, trips: list[list[Order]], plan: Plan) -> Any:
        """Drive one vehicle's day: load, deliver trip by trip, reload in between.

        Before every leg the driver checks the working-day limit and the
        hours-of-service driving limit (can the stop be served and the hub still
        be reached in time?) and stops early if not; parcels not yet delivered go
        back to the hub and later trips are released for another plan. Breaks
        are taken when planned and whenever the next leg would pass the
        duty-time rule.
        """
        sc = self.scenario
        d = sc.drivers
        day = self._day()
        shift_start = day * DAY_S + d.shift_start_h * H
        shift_end = day * DAY_S + d.shift_end_h * H
        limit = shift_start + d.max_working_h * H
        max_driving = math.inf if d.max_driving_h is None else d.max_driving_h * H
        speed = vehicle.type.speed_factor
        vid, drv = vehicle.id, vehicle.driver_id
        hub_node = vehicle.hub_node
        hub_lat = float(self.network.lat[self.network.index(hub_node)[0]])
        hub_lon = float(self.network.lon[self.network.index(hub_node)[0]])
        where = {"node": hub_node, "lat": hub_lat, "lon": hub_lon}
        if shift_start > self._now():
            yield self.env.timeout(shift_start - self._now())
        started = self._now()
        self._event("shift_start", vehicle_id=vid, driver_id=drv, **where)

        day_log = {"km": 0.0, "driving": 0.0, "breaks": 0, "served": 0, "trips": 0}
        self._duty_from[vid] = started  # on duty since: shift start, then the last break
        self._planned_breaks[vid] = sorted(plan.breaks_s.get(vid, ()))
        here, stopped = hub_node, ""
        nodes = [hub_node]
        for t, trip in enumerate(trips):
            if stopped:
                for order in trip:  # never loaded: free for another plan
                    self._order_event("unassigned", order)
                continue
            if t > 0:
                yield from self._drive(vehicle, here, hub_node, day_log)
                here = hub_node
                nodes.append(hub_node)
                self._back_at_hub(vehicle, where, "reload")
            yield from self._load(vehicle, trip, where)
            day_log["trips"] += 1
            legs = self._expected_legs(hub_node, trip, self._now())
            etas = self._etas(legs, trip, self._now())
            for order, eta in zip(trip, etas, strict=True):
                self._order_event("out_for_delivery", order, vehicle_id=vid, driver_id=drv)
                self.eta_announced[order.id] = eta
                self._order_event("notify_eta", order, vehicle_id=vid, eta_s=round(eta, 3))
            for i, order in enumerate(trip):
                leg = self.travel.leg(here, order.node, depart_s=self._now())
                expected_drive = leg.travel_time_s / speed
                back = (
                    self.travel.matrix(
                        [order.node], [hub_node], depart_s=self._now(), with_length=False
                    ).time_s[0, 0]
                    / speed
                )
                if self._now() + expected_drive + self.expected_service_s(order) + back > limit:
                    stopped = "working_day_limit"
                elif day_log["driving"] + expected_drive + back > max_driving:
                    stopped = "driving_limit"
                if stopped:
                    self._carried_back[vid].extend(trip[i:])
                    break
                yield from self._drive(vehicle, here, order.node, day_log, leg=leg, order=order)
                here = order.node
                nodes.append(here)
                if self._now() < order.window_start_s:
                    yield self.env.timeout(order.window_start_s - self._now())
                k = i + sc.service.eta_update_stops_before
                if k < len(trip):
                    upcoming = self._etas(legs[i + 1 : k + 1], trip[i + 1 : k + 1], self._now())
                    self._order_event(
                        "update_eta", trip[k], vehicle_id=vid, eta_s=round(upcoming[-1], 3)
                    )
                yield from self._attempt(order, vehicle)
                day_log["served"] += 1
                if self._state(order.id) == "failed":
                    self._carried_back[vid].append(order)

        if here != hub_node:
            yield from self._drive(vehicle, here, hub_node, day_log)
            nodes.append(hub_node)
        self._back_at_hub(vehicle, where, stopped or "done")
        ended = self._now()
        overtime = max(0.0, ended - shift_end)
        self._event(
            "shift_end",
            vehicle_id=vid,
            driver_id=drv,
            **where,
            working_s=round(ended - started, 3),
            overtime_s=round(overtime, 3),
            driving_s=round(day_log["driving"], 3),
        )
        km = day_log["km"]
        self.vehicle_days.append(
            {
                "day": day,
                "vehicle_id": vid,
                "driver_id": drv,
                "type": vehicle.type_name,
                "mode": vehicle.type.mode,
                "hub": vehicle.hub,
                "start_s": started,
                "end_s": ended,
                "working_h": (ended - started) / H,
                "shift_h": (shift_end - shift_start) / H,
                "overtime_h": overtime / H,
                "driving_h": day_log["driving"] / H,
                "km": km,
                "trips": day_log["trips"],
                "stops_planned": sum(len(t) for t in trips),
                "stops_attempted": day_log["served"],
                "breaks": day_log["breaks"],
                "fixed_cost": vehicle.type.fixed_cost_per_day,
                "distance_cost": km * vehicle.type.cost_per_km,
                "driver_cost": min(ended - started, shift_end - started) / H * d.cost_per_hour
                + overtime / H * d.overtime_cost_per_hour,
                "co2_kg": km * vehicle.type.co2_kg_per_km,
            }
        )
        self.routes.append({"day": day, "vehicle_id": vid, "nodes": nodes})
        self.busy_until[vid] = ended

    def _load(self, vehicle: Vehicle, trip: list[Order], where: dict[str, Any]) -> Any:
        """Wait for a dock, load the trip's parcels, depart."""
        hub = self.hub_settings[vehicle.hub]
        vid, drv = vehicle.id, vehicle.driver_id
        with self.docks[vehicle.hub].request() as dock:
            queued = self._now()
            yield dock
            self._event(
                "load_start",
                vehicle_id=vid,
                driver_id=drv,
                **where,
                dock_wait_s=round(self._now() - queued, 3),
                parcels=len(trip),
            )
            yield self.env.timeout(hub.load_setup_s + hub.load_time_per_parcel_s * len(trip))
            for order in trip:
                self._order_event("loaded", order, vehicle_id=vid, driver_id=drv)
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
        if leg is None:
            leg = self.travel.leg(source, target, depart_s=self._now())
        drive_s = self.travel.sample(leg, self._travel_rng) / vehicle.type.speed_factor
        planned = self._planned_breaks[vid]
        due_by_plan = bool(planned) and self._now() + drive_s > planned[0]
        due_by_rule = (
            d.break_min > 0 and self._now() + drive_s - self._duty_from[vid] > d.break_after_h * H
        )
        if due_by_plan or due_by_rule:
            if due_by_plan:
                planned.pop(0)
            self._event(
                "break_start", vehicle_id=vid, driver_id=drv, node=source, planned=due_by_plan
            )
            yield self.env.timeout(d.break_min * 60.0)
            self._event("break_end", vehicle_id=vid, driver_id=drv, node=source)
            self._duty_from[vid] = self._now()
            day_log["breaks"] += 1
        yield self.env.timeout(drive_s)
        day_log["km"] += leg.length_m / 1000.0
        day_log["driving"] += drive_s
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
        back = self._carried_back.pop(vehicle.id, [])
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
            if self.attempts[order.id] >= self.scenario.service.max_attempts:
                self._order_event("returned_to_sender", order, attempts=self.attempts[order.id])
            else:
                self._order_event("reattempt", order, attempts=self.attempts[order.id])

    def _attempt(self, order: Order, vehicle: Vehicle) -> Any:
        s = self.scenario.service
        self.attempts[order.id] += 1
        attempt = self.attempts[order.id]
        rng = self._order_rng(order.id, attempt)
        yield self.env.timeout(
            _lognormal(rng, s.parking_s_mean, s.service_cv)
            + _lognormal(rng, s.walk_s_mean, s.service_cv)
        )
        arrival = self._now()
        self.arrival[order.id] = arrival
        vid = vehicle.id
        self._order_event(
            "attempted", order, vehicle_id=vid, driver_id=vehicle.driver_id, attempt=attempt
        )
        row = order.customer
        present = self.customers.attempt(row, rng)
        lateness_h = max(0.0, arrival - order.window_end_s) / H
        eta_error_h = abs(arrival - self.eta_announced.get(order.id, arrival)) / H
        if present:
            extra = s.signature_extra_s if order.option == "signature" else 0.0
            yield self.env.timeout(_lognormal(rng, s.handover_s_mean + extra, s.service_cv))
            pod = "signature" if order.option == "signature" else "scan"
            self._order_event("delivered", order, vehicle_id=vid, attempt=attempt)
            self._order_event("pod", order, vehicle_id=vid, pod=pod)
            self.delivered_s[order.id] = arrival
            self.customers.record_outcome(
                row, delivered=True, lateness_h=lateness_h, eta_error_h=eta_error_h
            )
        elif order.option == "safe_drop":
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
        yield self.env.timeout(_lognormal(rng, s.walk_s_mean, s.service_cv))

    # -- run ------------------------------------------------------------------------
    def run(self) -> SimResult:
        """Play all days out and return the log and tables."""
        started = time.perf_counter()
        horizon = self.scenario.days * DAY_S
        self.env.process(self._release_orders())
        self.env.process(self._day_ahead_notices())
        self.env.process(self._customer_clock())
        self.env.process(self._days())
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
