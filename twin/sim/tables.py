"""The run's tables: one row per order and one per vehicle day, and the result they make.

Rows of the vehicles table are written as each vehicle day ends
(:func:`vehicle_row`, priced by :func:`twin.fleet.shift_cost`); the orders table
is read off the engine's state when the run ends (:func:`orders_table`).

Every vehicle of the fleet has a row on every simulated day, used or not
(``status``): ``worked``, ``idle`` (no work given) or ``no_show`` (its driver did
not come in). An idle or no-show day of an owned vehicle costs its fixed cost and
nothing else (:func:`unused_row`); drivers are paid only on the days they work.
Crowd couriers appear only on the days they take a bundle.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from twin.constants import HOUR_S
from twin.events import EventLog
from twin.fleet import CROWD, ShiftCost, Vehicle
from twin.metrics import kpis, measured
from twin.scenario import Scenario
from twin.traveltime import join_paths

if TYPE_CHECKING:
    from twin.sim.engine import Simulation

__all__ = [
    "ORDER_COLUMNS",
    "VEHICLE_COLUMNS",
    "VEHICLE_STATUSES",
    "SimResult",
    "orders_table",
    "route_row",
    "unused_row",
    "vehicle_row",
]

ORDER_COLUMNS = (
    "order_id", "due_day", "created_s", "node", "lat", "lon", "customer", "window",
    "window_start_s", "window_end_s", "option", "service_level", "volume_m3", "weight_kg",
    "released", "final_state", "attempts", "delivered_s", "eta_announced_s", "arrival_s",
    "satisfaction",
)  # fmt: skip
VEHICLE_COLUMNS = (
    "day", "vehicle_id", "driver_id", "type", "mode", "hub", "status", "start_s", "end_s",
    "working_h", "shift_h", "overtime_h", "driving_h", "at_stops_h", "loading_h", "break_h",
    "waiting_h", "km", "trips", "stops_planned",
    "stops_attempted",
    "breaks",
    "fixed_cost", "distance_cost", "driver_cost", "overtime_cost", "operating_cost", "co2_kg",
)  # fmt: skip


#: ``status`` of a vehicle day: it worked, was given no work, or its driver stayed away.
VEHICLE_STATUSES = ("worked", "idle", "no_show")


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
    planning_cpu_s: float = 0.0
    #: Of ``planning_cpu_s``, the CPU of worker processes that solved parts of plans.
    planning_worker_cpu_s: float = 0.0
    simulation_s: float = 0.0
    n_unserviceable_nodes: int = 0
    #: Shortcuts and limits the numbers depend on, said out loud: ``{"code", "message",
    #: "count"}`` dicts (a solver stopped by its clock, vehicles no one planned...).
    warnings: list[dict[str, Any]] = field(default_factory=list)

    @functools.cached_property
    def events(self) -> pd.DataFrame:
        """The event log as a table, built once: the log is complete when the run
        returns, and KPIs, digests and reports all read this table."""
        return self.log.to_frame()

    def measured(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """Orders, vehicles and events of the measured days, the warm-up left out
        (:func:`twin.metrics.measured`): what every KPI of the run is computed on."""
        return measured(self.orders, self.vehicles, self.events, warmup_days=self.scenario.warmup)

    def kpis(self) -> dict[str, float]:
        """The run's KPIs over its measured days (:func:`twin.metrics.kpis`)."""
        return kpis(*self.measured())


def vehicle_row(
    vehicle: Vehicle,
    *,
    day: int,
    started_s: float,
    ended_s: float,
    shift_start_s: float,
    shift_end_s: float,
    driving_s: float,
    trips: int,
    day_log: dict[str, Any],
    cost: ShiftCost,
    crowd: bool = False,
) -> dict[str, Any]:
    """One vehicle day's row of the vehicles table (times in hours, costs by component).

    The working day splits into ``driving_h``, ``at_stops_h``, ``loading_h``,
    ``break_h`` and ``waiting_h``, which sum to ``working_h``: waiting is the rest
    of the time on duty (for a window to open, for a dock, for a drone to come
    back, at the hub between trips or before the shift's end)."""
    vtype = vehicle.type
    km = day_log["km"]
    working_s = ended_s - started_s
    busy_s = driving_s + day_log["at_stops_s"] + day_log["loading_s"] + day_log["break_s"]
    return {
        "day": day,
        "vehicle_id": vehicle.id,
        "driver_id": vehicle.driver_id,
        "type": vehicle.type_name,
        "mode": CROWD if crowd else vtype.mode,
        "hub": vehicle.hub,
        "status": "worked",
        "start_s": started_s,
        "end_s": ended_s,
        "working_h": working_s / HOUR_S,
        "shift_h": (shift_end_s - shift_start_s) / HOUR_S,
        "overtime_h": cost.overtime_s / HOUR_S,
        "driving_h": driving_s / HOUR_S,
        # Parking, walking, the hand-over or the failed knock: time at the customers.
        "at_stops_h": day_log["at_stops_s"] / HOUR_S,
        "loading_h": day_log["loading_s"] / HOUR_S,
        "break_h": day_log["break_s"] / HOUR_S,
        "waiting_h": max(working_s - busy_s, 0.0) / HOUR_S,
        "km": km,
        "trips": trips,
        "stops_planned": day_log["planned"],
        "stops_attempted": day_log["served"],
        "breaks": day_log["breaks"],
        "fixed_cost": cost.fixed_cost,
        "distance_cost": cost.distance_cost,
        "driver_cost": cost.driver_cost,
        "overtime_cost": cost.overtime_cost,
        "operating_cost": cost.operating_cost,
        "co2_kg": km * vtype.co2_kg_per_km,
    }


def route_row(
    day: int, vehicle_id: str, nodes: list[int], day_log: dict[str, Any]
) -> dict[str, Any]:
    """One vehicle day's routes as driven: ``nodes`` (the stops visited), ``path`` (the
    road nodes of the whole day), ``trips`` (the road path of each trip) and ``legs``
    (each leg's nodes, in the order of the vehicle's ``arrive`` events)."""
    legs = day_log["legs"]
    bounds = [*(day_log["trip_starts"] or [0]), len(legs)]
    bounds[0] = 0  # a courier's ride to the hub belongs to its one trip
    return {
        "day": day,
        "vehicle_id": vehicle_id,
        "nodes": nodes,
        "path": np.asarray(join_paths(legs), dtype=np.int64),
        "trips": [
            np.asarray(join_paths(legs[a:b]), dtype=np.int64) for a, b in itertools.pairwise(bounds)
        ],
        "legs": legs,
    }


def unused_row(vehicle: Vehicle, *, day: int, status: str, shift_h: float) -> dict[str, Any]:
    """The row of a vehicle day without work (``status`` ``idle`` or ``no_show``): no
    time, no distance, and the fixed cost only if the vehicle is owned."""
    vtype = vehicle.type
    return {
        "day": day,
        "vehicle_id": vehicle.id,
        "driver_id": vehicle.driver_id,
        "type": vehicle.type_name,
        "mode": vtype.mode,
        "hub": vehicle.hub,
        "status": status,
        "start_s": math.nan,
        "end_s": math.nan,
        "working_h": 0.0,
        "shift_h": shift_h,
        "overtime_h": 0.0,
        "driving_h": 0.0,
        "at_stops_h": 0.0,
        "loading_h": 0.0,
        "break_h": 0.0,
        "waiting_h": 0.0,
        "km": 0.0,
        "trips": 0,
        "stops_planned": 0,
        "stops_attempted": 0,
        "breaks": 0,
        "fixed_cost": vtype.fixed_cost_per_day if vehicle.owned else 0.0,
        "distance_cost": 0.0,
        "driver_cost": 0.0,
        "overtime_cost": 0.0,
        "operating_cost": 0.0,
        "co2_kg": 0.0,
    }


def orders_table(sim: Simulation) -> pd.DataFrame:
    """One row per order of the run: what it was and how it ended."""
    rows = []
    for oid, o in sim.world.orders.items():
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
                "released": oid in sim.state.released,
                "final_state": sim.log.states.state.get(oid, "not_released"),
                "attempts": sim.state.attempts[oid],
                "delivered_s": sim.state.delivered_s.get(oid, math.nan),
                "eta_announced_s": sim.state.eta_announced.get(oid, math.nan),
                "arrival_s": sim.state.arrival.get(oid, math.nan),
                "satisfaction": float(sim.world.customers.satisfaction[o.customer]),
            }
        )
    return pd.DataFrame(rows, columns=ORDER_COLUMNS)
