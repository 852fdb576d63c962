"""The engine's mutable state: each vehicle's day, each order's progress, the tables.

Everything a run changes lives here (the world it plays in does not change but
for the customer agents and the lockers, see :mod:`twin.world`); the processes
(:mod:`twin.sim.vehicles` and the others) read and write it through the engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import simpy

from twin.airspace import FlightPath
from twin.demand import Order
from twin.fleet import Vehicle
from twin.world import World

__all__ = ["SimState", "VehicleDay", "new_day_log"]


@dataclass
class VehicleDay:
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


def new_day_log(planned: int = 0) -> dict[str, Any]:
    """A vehicle's running totals for its row of the vehicles table, and the road
    legs it drove (``legs``: each leg's node ids; ``trip_starts``: the index of each
    trip's first leg) for the route map and the exported routes."""
    return {
        "km": 0.0,
        "breaks": 0,
        "served": 0,
        "planned": planned,
        "at_stops_s": 0.0,
        "loading_s": 0.0,
        "break_s": 0.0,
        "legs": [],
        "trip_starts": [],
    }


@dataclass
class SimState:
    """What changes during a run (see the module docstring)."""

    #: Per vehicle id (fleet, carried drones, crowd couriers): its day.
    vs: dict[str, VehicleDay]
    #: Loading docks per hub: a SimPy resource, so queues form.
    docks: dict[str, simpy.Resource]
    attempts: dict[str, int]
    #: When each vehicle's last day ended (no new work before then).
    busy_until: dict[str, float]
    vehicle_by_id: dict[str, Vehicle]
    released: set[str] = field(default_factory=set)
    cancel_requested: set[str] = field(default_factory=set)
    eta_announced: dict[str, float] = field(default_factory=dict)
    arrival: dict[str, float] = field(default_factory=dict)
    delivered_s: dict[str, float] = field(default_factory=dict)
    #: Refused or damaged at the door: back to the sender once at the hub.
    to_sender: set[str] = field(default_factory=set)
    #: Stops reached per order (attempted or not): the blocked-street draws.
    visits: dict[str, int] = field(default_factory=dict)
    #: Rows of the vehicles table and each vehicle day's route, as they end.
    vehicle_days: list[dict[str, Any]] = field(default_factory=list)
    routes: list[dict[str, Any]] = field(default_factory=list)
    #: Wall-clock seconds spent in the policy (reported, never used by the model).
    planning_s: float = 0.0
    #: CPU seconds spent in the policy, its worker processes included (reported, as above).
    planning_cpu_s: float = 0.0
    #: Of which in worker processes (not counted by this process's own CPU clock).
    planning_worker_cpu_s: float = 0.0
    #: Plans asked of the policy, and how many its solver's clock cut short.
    plans: int = 0
    plans_capped: int = 0
    #: Plans cut into parts (city scale), and the most parts of any of them.
    plans_in_parts: int = 0
    most_parts: int = 0
    #: Over the morning plans: servable orders left unrouted, and vehicles given no route.
    morning_dropped_servable: int = 0
    morning_idle_vehicles: int = 0
    #: Legal flight paths between node pairs, computed once each.
    flights: dict[tuple[int, int], FlightPath | None] = field(default_factory=dict)
    #: A carried drone's day: its log and the nodes it flew to (by drone id).
    sortie_logs: dict[str, tuple[dict[str, Any], list[int]]] = field(default_factory=dict)

    @classmethod
    def start(cls, world: World, env: simpy.Environment) -> SimState:
        """The state at the start of a run of ``world`` on ``env``."""
        return cls(
            vs={v.id: VehicleDay(hub_node=v.hub_node) for v in world.fleet},
            docks={h.id: simpy.Resource(env, capacity=h.docks) for h in world.scenario.hubs},
            attempts=dict.fromkeys(world.orders, 0),
            visits=dict.fromkeys(world.orders, 0),
            busy_until={v.id: -math.inf for v in world.fleet},
            vehicle_by_id={v.id: v for v in world.fleet},
        )
