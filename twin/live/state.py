"""The live mirror: the state of today's operation, folded from the events.

:class:`LiveState` is a pure fold: the same events in the same order give the
same state, byte for byte (:meth:`LiveState.digest`). That is what lets the
server rebuild itself after a restart by replaying its event store, and what
the restart test compares.

Applying an event never fails. A real feed arrives late, twice and out of
order: an outcome for an order the twin has not seen, a cancellation after the
delivery. Such events are kept and reported as *anomalies* (shown as alerts),
not rejected, so no fact from the field is lost. What can be rejected up front
without looking at the state (a malformed field, an address off the map) is
rejected by the API before anything is stored (:meth:`LiveState.location_problem`).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from twin.constants import DAY_S, HOUR_S
from twin.fleet import build_fleet
from twin.live.events import (
    DriverStatus,
    GpsPing,
    LiveClock,
    OrderCancelled,
    OrderCreated,
    RouteAssigned,
    StopOutcome,
)
from twin.maps.network import RoadNetwork
from twin.scenario import Scenario
from twin.world import place_hubs

__all__ = ["ORDER_STATUSES", "LiveOrder", "LiveState", "LiveVehicle"]

#: open: known, not on any route; routed: on a vehicle's remaining route;
#: delivered / failed (last attempt failed, parcel rides back) / cancelled: done for today.
ORDER_STATUSES = ("open", "routed", "delivered", "failed", "cancelled")
#: Addresses and pings farther than this from the road network are refused.
MAX_SNAP_M = 1000.0
#: A vehicle seen this close to its hub's node is at the hub (loading, or done).
AT_HUB_M = 150.0
_MAX_ANOMALIES = 500
#: Snapped points remembered between an event's admission and its application.
_MAX_SNAPS = 4096


@dataclass
class LiveOrder:
    order_id: str
    lat: float
    lon: float
    node: int
    created_s: float
    window_start_s: float
    window_end_s: float
    option: str
    parcels: int
    status: str = "open"
    vehicle_id: str | None = None
    attempts: int = 0
    #: Arrival at the stop on the last attempt, and when it was delivered.
    arrived_s: float | None = None
    delivered_s: float | None = None
    delivered_on_time: bool | None = None
    first_attempt_ok: bool | None = None


@dataclass
class LiveVehicle:
    vehicle_id: str
    hub_id: str
    driver_id: str | None = None
    status: str = "unknown"  # unknown | on_duty | on_break | off_duty
    lat: float | None = None
    lon: float | None = None
    node: int | None = None
    #: Time of the last position (ping or stop).
    seen_s: float | None = None
    on_duty_s: float | None = None
    break_start_s: float | None = None
    shift_end_s: float | None = None
    #: Remaining stops, in order: open orders only.
    route: list[str] = field(default_factory=list)
    #: Stops of ``route`` before which the vehicle goes back to the hub to reload.
    reload_before: list[str] = field(default_factory=list)
    #: Since when the vehicle has been seen at its hub (None: away from it).
    at_hub_since_s: float | None = None
    delivered: int = 0
    failed: int = 0


class LiveState:
    """Today's operation as the twin knows it.

    Parameters
    ----------
    scenario : Scenario
        Supplies hubs, the default shift end and day 0's date.
    network : RoadNetwork
        Addresses and pings are snapped to its nodes.
    clock : LiveClock
    """

    def __init__(self, scenario: Scenario, network: RoadNetwork, clock: LiveClock) -> None:
        self.scenario = scenario
        self.network = network
        self.clock = clock
        self.now_s = -math.inf
        self.orders: dict[str, LiveOrder] = {}
        self.vehicles: dict[str, LiveVehicle] = {}
        self.anomalies: list[dict[str, Any]] = []
        self.applied = 0
        self.hub_nodes = place_hubs(scenario, network)
        self.default_hub = scenario.hubs[0].id
        #: Each fleet vehicle's shift (a vehicle the scenario does not know: ``drivers``).
        self.drivers_of = {v.id: v.drivers for v in build_fleet(scenario, self.hub_nodes)}
        self._snaps: dict[tuple[float, float], tuple[int, float]] = {}

    def _snap(self, lat: float, lon: float) -> tuple[int, float]:
        """Nearest node of a point and its distance (m), remembered for a while.

        The server checks a point at admission and folds it right after: one
        k-d tree query serves both. Snapping is a pure function of the point, so
        the memo never changes a result.
        """
        key = (lat, lon)
        hit = self._snaps.get(key)
        if hit is None:
            if len(self._snaps) >= _MAX_SNAPS:
                self._snaps.clear()
            snap = self.network.snap(lat, lon)
            hit = self._snaps[key] = (int(snap.node[0]), float(snap.distance_m[0]))
        return hit

    # -- admission (stateless checks) -------------------------------------------------
    def location_problem(self, event: Any) -> str | None:
        """Why an event's coordinates or hub cannot be used, or None if they can."""
        if isinstance(event, OrderCreated | GpsPing):
            _, distance_m = self._snap(event.lat, event.lon)
            if distance_m > MAX_SNAP_M:
                return (
                    f"lat/lon ({event.lat}, {event.lon}) is {distance_m:.0f} m from the "
                    f"nearest road of the map (limit {MAX_SNAP_M:.0f} m); send a point on the map"
                )
        if (
            isinstance(event, RouteAssigned)
            and event.hub_id is not None
            and event.hub_id not in self.hub_nodes
        ):
            return f"hub_id {event.hub_id!r} is unknown; use one of {sorted(self.hub_nodes)}"
        return None

    # -- the fold ---------------------------------------------------------------------
    def apply(self, event: Any) -> None:
        """Fold one event into the state (never fails; oddities become anomalies)."""
        t = self.clock.seconds(event.time)
        self.now_s = max(self.now_s, t)
        self.applied += 1
        handler = getattr(self, f"_on_{event.type}")
        handler(event, t)

    def _anomaly(self, event: Any, t: float, what: str) -> None:
        if len(self.anomalies) >= _MAX_ANOMALIES:
            self.anomalies.pop(0)
        self.anomalies.append({"time_s": t, "event_id": event.event_id, "what": what})

    def _vehicle(self, vehicle_id: str) -> LiveVehicle:
        v = self.vehicles.get(vehicle_id)
        if v is None:
            v = self.vehicles[vehicle_id] = LiveVehicle(vehicle_id, hub_id=self.default_hub)
        return v

    def _unroute(self, order: LiveOrder, *, served: bool = False) -> None:
        """Take an order off its vehicle's route.

        A reload marked before it goes with a served stop (the vehicle reloaded
        and went on); an order cancelled or moved leaves its reload to the stop
        after it, since the next trip still starts at the hub.
        """
        if order.vehicle_id is not None:
            v = self.vehicles.get(order.vehicle_id)
            if v is not None and order.order_id in v.route:
                i = v.route.index(order.order_id)
                v.route.pop(i)
                if order.order_id in v.reload_before:
                    v.reload_before.remove(order.order_id)
                    if not served and i < len(v.route) and v.route[i] not in v.reload_before:
                        v.reload_before.append(v.route[i])
                        v.reload_before.sort(key=v.route.index)
        order.vehicle_id = None

    def _on_order_created(self, e: OrderCreated, t: float) -> None:
        node, _ = self._snap(e.lat, e.lon)
        ws, we = self.clock.seconds(e.window_start), self.clock.seconds(e.window_end)
        old = self.orders.get(e.order_id)
        if old is not None:
            if old.status in ("delivered", "cancelled"):
                self._anomaly(e, t, f"order {e.order_id} amended after it was {old.status}")
                return
            old.lat, old.lon, old.node = e.lat, e.lon, node
            old.window_start_s, old.window_end_s = ws, we
            old.option, old.parcels = e.option, e.parcels
            return
        self.orders[e.order_id] = LiveOrder(
            e.order_id, e.lat, e.lon, node, t, ws, we, e.option, e.parcels
        )

    def _on_order_cancelled(self, e: OrderCancelled, t: float) -> None:
        order = self.orders.get(e.order_id)
        if order is None:
            self._anomaly(e, t, f"cancellation of unknown order {e.order_id}")
        elif order.status == "delivered":
            self._anomaly(e, t, f"order {e.order_id} cancelled after it was delivered")
        else:
            self._unroute(order)
            order.status = "cancelled"

    def _on_route_assigned(self, e: RouteAssigned, t: float) -> None:
        v = self._vehicle(e.vehicle_id)
        if e.driver_id is not None:
            v.driver_id = e.driver_id
        if e.hub_id is not None:
            v.hub_id = e.hub_id
        for oid in v.route:  # stops dropped from the new route are open again
            self.orders[oid].status, self.orders[oid].vehicle_id = "open", None
        v.route = []
        reloads = set(e.reload_before)
        for oid in e.order_ids:
            order = self.orders.get(oid)
            if order is None:
                self._anomaly(e, t, f"route of {e.vehicle_id} lists unknown order {oid}")
            elif order.status not in ("open", "routed", "failed"):
                self._anomaly(e, t, f"route of {e.vehicle_id} lists {order.status} order {oid}")
            else:
                self._unroute(order)  # moved from another vehicle
                order.status, order.vehicle_id = "routed", e.vehicle_id
                v.route.append(oid)
        v.reload_before = [oid for oid in v.route if oid in reloads]
        if v.status in ("unknown", "off_duty"):
            self._start_duty(v, t)

    def _start_duty(self, v: LiveVehicle, t: float) -> None:
        v.status, v.on_duty_s, v.break_start_s = "on_duty", t, None
        if v.shift_end_s is None or v.shift_end_s < t:
            day_start = math.floor(t / DAY_S) * DAY_S
            drivers = self.drivers_of.get(v.vehicle_id, self.scenario.drivers)
            v.shift_end_s = day_start + drivers.shift_end_h * HOUR_S
        if v.node is None:
            v.node = self.hub_nodes[v.hub_id]
            v.seen_s, v.at_hub_since_s = t, t

    def _near_hub(self, v: LiveVehicle) -> bool:
        """Whether the vehicle's last position is within ``AT_HUB_M`` of its hub."""
        hub = self.hub_nodes.get(v.hub_id)
        if hub is None or v.node is None:
            return False
        if v.node == hub:
            return True
        a, b = self.network.index([v.node, hub])
        xy = self.network.node_xy
        return bool(np.hypot(*(xy[a] - xy[b])) <= AT_HUB_M)

    def _on_gps_ping(self, e: GpsPing, t: float) -> None:
        v = self._vehicle(e.vehicle_id)
        if v.seen_s is not None and t < v.seen_s:
            return  # a late ping: the vehicle has been seen since
        v.lat, v.lon, v.seen_s = e.lat, e.lon, t
        v.node, _ = self._snap(e.lat, e.lon)
        if not self._near_hub(v):
            v.at_hub_since_s = None
        elif v.at_hub_since_s is None:
            v.at_hub_since_s = t

    def _on_stop_outcome(self, e: StopOutcome, t: float) -> None:
        order = self.orders.get(e.order_id)
        if order is None:
            self._anomaly(e, t, f"outcome for unknown order {e.order_id}")
            return
        if order.status in ("delivered", "cancelled"):
            self._anomaly(e, t, f"outcome for order {e.order_id}, already {order.status}")
            return
        v = self._vehicle(e.vehicle_id)
        if v.status in ("unknown", "off_duty"):
            self._start_duty(v, t)
        self._unroute(order, served=True)
        order.attempts += 1
        order.arrived_s = self.clock.seconds(e.arrived_at) if e.arrived_at else t
        if e.outcome == "delivered":
            order.status, order.delivered_s = "delivered", t
            order.delivered_on_time = order.window_start_s <= order.arrived_s <= order.window_end_s
            v.delivered += 1
        else:
            order.status = "failed"
            v.failed += 1
        if order.attempts == 1:
            order.first_attempt_ok = e.outcome == "delivered"
        if v.seen_s is None or t >= v.seen_s:
            v.lat, v.lon, v.node, v.seen_s = order.lat, order.lon, order.node, t
            v.at_hub_since_s = None

    def _on_driver_status(self, e: DriverStatus, t: float) -> None:
        v = self._vehicle(e.vehicle_id)
        if e.driver_id is not None:
            v.driver_id = e.driver_id
        if e.shift_end is not None:
            v.shift_end_s = self.clock.seconds(e.shift_end)
        if e.status == "on_duty":
            if v.status == "on_break":
                v.status, v.break_start_s = "on_duty", None
                v.on_duty_s = t  # the break resets the time driven since one
            elif v.status != "on_duty":  # a repeat (e.g. a new shift_end) changes nothing else
                self._start_duty(v, t)
        elif e.status == "on_break":
            v.status, v.break_start_s = "on_break", t
        else:
            v.status = "off_duty"
            for oid in list(v.route):
                self.orders[oid].status, self.orders[oid].vehicle_id = "open", None
            v.route, v.reload_before = [], []

    def copy(self) -> LiveState:
        """An independent copy of the mutable state, sharing the scenario, network and clock.

        The server forecasts on a copy taken under its lock, so events applied
        while a forecast runs cannot change the state under it; copying the
        network and scenario as well would cost far more and they never change.
        """
        twin = object.__new__(LiveState)
        twin.__dict__.update(self.__dict__)
        twin.orders = {k: replace(o) for k, o in self.orders.items()}
        twin.vehicles = {
            k: replace(v, route=list(v.route), reload_before=list(v.reload_before))
            for k, v in self.vehicles.items()
        }
        twin.anomalies = [dict(a) for a in self.anomalies]
        twin.hub_nodes = dict(self.hub_nodes)
        twin._snaps = {}
        return twin

    # -- views ------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """The whole state as plain JSON-ready data, in a stable order."""
        return {
            "now_s": self.now_s if math.isfinite(self.now_s) else None,
            "applied": self.applied,
            "orders": [asdict(self.orders[k]) for k in sorted(self.orders)],
            "vehicles": [asdict(self.vehicles[k]) for k in sorted(self.vehicles)],
            "anomalies": list(self.anomalies),
        }

    def digest(self) -> str:
        """SHA-256 of :meth:`snapshot`: equal digests, equal states."""
        text = json.dumps(self.snapshot(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def kpis(self) -> dict[str, Any]:
        """Today so far: the tiles an operator watches (prediction tiles come from forecasts)."""
        delivered = [o for o in self.orders.values() if o.status == "delivered"]
        attempted = [o for o in self.orders.values() if o.first_attempt_ok is not None]
        counts = {s: 0 for s in ORDER_STATUSES}
        for o in self.orders.values():
            counts[o.status] += 1
        return {
            "now_s": self.now_s if math.isfinite(self.now_s) else None,
            "orders": len(self.orders),
            **{f"orders_{s}": n for s, n in counts.items()},
            "open_orders": counts["open"] + counts["routed"],
            "on_time_rate": (
                sum(bool(o.delivered_on_time) for o in delivered) / len(delivered)
                if delivered
                else None
            ),
            "first_attempt_success_rate": (
                sum(bool(o.first_attempt_ok) for o in attempted) / len(attempted)
                if attempted
                else None
            ),
            "vehicles_on_duty": sum(
                v.status in ("on_duty", "on_break") for v in self.vehicles.values()
            ),
        }
