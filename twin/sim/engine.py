"""The SimPy engine: one environment, one clock, all state; processes are plain generators.

:class:`Simulation` builds the world a run plays in (:func:`twin.world.build_world`:
hubs, the served area, customers, every day's orders, the fleet, weather and
disruptions) and the run's state (:mod:`twin.sim.state`), then plays the days out
with the processes of its actors, each a plain generator function in its own
module taking the engine as first argument:

* :mod:`twin.sim.orders` makes each order known at its creation time, tells
  customers their window the evening before, steps the Mesa customer model every
  hour and plays the customers' cancellations;
* :mod:`twin.sim.dispatcher` asks the dispatch policy for a plan at each cutoff,
  tick, wave and disruption, validates it and hands out the trips;
* :mod:`twin.sim.vehicles` drives each vehicle's day (load, drive, break, stop,
  return, reload, end of shift), with :mod:`twin.sim.stops` (the attempt at the
  door), :mod:`twin.sim.drones` (sorties, truck-and-drone), :mod:`twin.sim.lockers`
  (deposits and dwell), :mod:`twin.sim.crowd` (crowd couriers) and
  :mod:`twin.sim.etas` (the ETAs customers are sent);
* :mod:`twin.sim.tables` turns the state into the result's tables.

Randomness comes from named streams (:mod:`twin.rng`). Draws tied to an order
(service times, whether the door is answered) come from a generator keyed by the
order and attempt, so they are the same under any policy: common random numbers.
The operating rules (loading, stop times, breaks, the working day, shift cost)
are :mod:`twin.fleet`'s, shared with the live forecast.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import simpy

from twin.constants import DAY_S, HOUR_S
from twin.demand import Order
from twin.dispatch import DispatchPolicy, build_policy, traits_of
from twin.events import TERMINAL, EventLog
from twin.fleet import Vehicle, contracted_shift_s, expected_service_s, load_time_s
from twin.maps.network import RoadNetwork
from twin.rng import RandomStreams
from twin.scenario import Scenario, VehicleType
from twin.sim import dispatcher, orders
from twin.sim.observers import EventCallback, SimObserver
from twin.sim.state import SimState
from twin.sim.tables import VEHICLE_COLUMNS, SimResult, orders_table, unused_row
from twin.traveltime import TravelMatrix, TravelTimes
from twin.world import build_world, forecast_matrix, make_movers, place_hubs

__all__ = [
    "SimResult",
    "Simulation",
    "expected_service_s",
    "load_time_s",
    "make_movers",
    "place_hubs",
]


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
        Called with every event (progress bars, streaming); the same as an
        observer with only ``on_event``.
    observers : iterable of observers, optional
        Objects with any of the hooks ``on_event(event)``, ``on_tick(now_s)`` and
        ``on_end(result)`` (see :class:`twin.sim.observers.Observer`).
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
        observers: Iterable[SimObserver] = (),
    ) -> None:
        self.scenario = scenario
        self.network = network
        self.replication = replication
        self.streams = RandomStreams(scenario.seed, replication=replication)
        self.policy = policy or build_policy(scenario.policy)
        self.traits = traits_of(self.policy)
        self.env = simpy.Environment()
        self.observers: list[Any] = ([EventCallback(on_event)] if on_event else []) + list(
            observers
        )
        self.log = EventLog()
        for observer in self.observers:
            if hasattr(observer, "on_event"):
                self.log.subscribe(observer.on_event)
        self.world = build_world(scenario, network, self.streams, orders=orders)
        self.state = SimState.start(self.world, self.env)
        self.travel_rng = self.streams["travel"]
        self.mode_travel = dispatcher.mode_travel(self.world)
        #: The vehicles the policy plans: those of the modes it declares. What the run
        #: must say out loud (vehicles no one plans; the plans' own warnings are added
        #: at the end) goes to :attr:`SimResult.warnings`.
        self.planned_fleet, self.warnings = dispatcher.planned_fleet(self)

    # -- the world, under the names it has always had -----------------------------------
    @property
    def orders(self) -> dict[str, Order]:
        """Every order of the run, by id."""
        return self.world.orders

    @property
    def travel(self) -> TravelTimes:
        """The road's travel times (vans and crowd couriers)."""
        return self.world.travel

    @property
    def hub_nodes(self) -> dict[str, int]:
        return self.world.hub_nodes

    @property
    def fleet(self) -> list[Vehicle]:
        return self.world.fleet

    # -- what every actor uses -----------------------------------------------------------
    def now(self) -> float:
        return float(self.env.now)

    def day(self) -> int:
        return int(self.now() // DAY_S)

    def event(self, kind: str, **kw: Any) -> None:
        self.log.append(self.now(), kind, day=self.day(), **kw)

    def order_event(self, kind: str, order: Order, **kw: Any) -> None:
        self.event(kind, order_id=order.id, node=order.node, lat=order.lat, lon=order.lon, **kw)

    def order_state(self, oid: str) -> str:
        return self.log.states.state[oid]

    def order_rng(self, order_id: str, attempt: int, purpose: str = "") -> np.random.Generator:
        """Draws tied to one order attempt: identical under every policy (CRN)."""
        return self.world.order_rng(order_id, attempt, purpose)

    def where(self, node: int) -> dict[str, Any]:
        """A node and its coordinates, as events carry them."""
        i = self.network.index(node)[0]
        return {
            "node": node,
            "lat": float(self.network.lat[i]),
            "lon": float(self.network.lon[i]),
        }

    def expected_service_s(self, order: Order, vtype: VehicleType | None = None) -> float:
        """Expected time at a stop (:func:`twin.fleet.expected_service_s` for this order)."""
        return expected_service_s(
            self.scenario, order.option, vtype, locker=order.locker is not None
        )

    def load_time_s(self, vehicle: Vehicle, parcels: int) -> float:
        """The expected time to load ``parcels`` (what plans and ETAs assume)."""
        return load_time_s(self.world.hub_settings[vehicle.hub], vehicle.type, parcels)

    def draw_load_time_s(self, vehicle: Vehicle, parcels: int) -> float:
        """How long this loading takes: the expected time, or with the hub's
        ``load_time_cv`` a gamma draw about it from the ``loading`` stream (drawn only
        then, so hubs without spread leave every other stream as it was)."""
        mean = self.load_time_s(vehicle, parcels)
        cv = self.world.hub_settings[vehicle.hub].load_time_cv
        if cv <= 0 or mean <= 0:
            return mean
        shape = 1.0 / cv**2
        return float(self.streams["loading"].gamma(shape, mean / shape))

    def mover(self, vehicle: Vehicle) -> TravelTimes:
        return self.world.movers[vehicle.type_name]

    def expected_travel(
        self, sources: list[int], targets: list[int], depart_s: float
    ) -> TravelMatrix:
        """Road travel times as policies see them: expected, under the forecast weather."""
        return forecast_matrix(
            self.world.travel.matrix(sources, targets, depart_s=depart_s), self.world.weather
        )

    def dispatch(self, trigger: str) -> None:
        """Ask the policy for a plan on ``trigger`` (:func:`twin.sim.dispatcher.dispatch`)."""
        dispatcher.dispatch(self, trigger)

    def tick(self) -> None:
        """Tell the observers the simulated hour has passed."""
        for observer in self.observers:
            if hasattr(observer, "on_tick"):
                observer.on_tick(self.now())

    def _vehicles_table(self) -> pd.DataFrame:
        """Every fleet vehicle (carried drones included) on every day, in (day, vehicle)
        order: the rows of the days they worked and an unused row for the others."""
        worked = {(row["day"], row["vehicle_id"]) for row in self.state.vehicle_days}
        rows = list(self.state.vehicle_days)  # crowd couriers' bundles among them
        fleet = [*self.world.fleet, *self.world.drone_of.values()]
        for day in range(self.scenario.simulated_days):
            for v in fleet:
                if (day, v.id) in worked:
                    continue
                away = v.type.crewed and self.world.no_show.get((day, v.id), False)
                status = "no_show" if away else "idle"
                shift_h = contracted_shift_s(v.drivers) / HOUR_S
                rows.append(unused_row(v, day=day, status=status, shift_h=shift_h))
        frame = pd.DataFrame(rows, columns=VEHICLE_COLUMNS)
        return frame.sort_values(["day", "vehicle_id"], kind="stable", ignore_index=True)

    # -- run -----------------------------------------------------------------------------
    def run(self) -> SimResult:
        """Play all days out and return the log and tables."""
        started = time.perf_counter()
        horizon = self.scenario.simulated_days * DAY_S
        self.env.process(orders.release_orders(self))
        self.env.process(orders.day_ahead_notices(self))
        self.env.process(orders.customer_clock(self))
        self.env.process(dispatcher.cutoffs(self))
        self.env.process(dispatcher.scheduled_triggers(self))
        self.env.process(dispatcher.road_closures(self))
        if self.world.cancel_at:
            self.env.process(orders.cancellations(self))
        self.env.run(until=horizon)
        for oid in sorted(self.state.released):
            if self.order_state(oid) not in TERMINAL:
                self.order_event(
                    "open_at_horizon", self.world.orders[oid], last_state=self.order_state(oid)
                )
        result = SimResult(
            scenario=self.scenario,
            log=self.log,
            orders=orders_table(self),
            vehicles=self._vehicles_table(),
            hubs=dict(self.world.hub_nodes),
            routes=self.state.routes,
            planning_s=self.state.planning_s,
            planning_cpu_s=self.state.planning_cpu_s,
            planning_worker_cpu_s=self.state.planning_worker_cpu_s,
            simulation_s=time.perf_counter() - started - self.state.planning_s,
            n_unserviceable_nodes=self.network.n_nodes - len(self.world.serviceable),
            warnings=[*self.warnings, *dispatcher.plan_warnings(self)],
        )
        for observer in self.observers:
            if hasattr(observer, "on_end"):
                observer.on_end(result)
        return result
