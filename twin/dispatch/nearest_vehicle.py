"""``nearest_vehicle``: the myopic baseline — each order to the vehicle closest to it now.

Orders are taken one at a time (earliest window first). Each goes to the end
of the plan of the vehicle whose last planned stop (or hub, if it has none) is
the fewest minutes away, if that trip has room and the driver can still be back
before the end of the shift; otherwise to a new trip from the hub, or to the
next-nearest vehicle. Nothing is ever re-sequenced. This is what a dispatcher
with a map and no optimiser does; every smarter policy should beat it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from twin.dispatch.base import UNRESTRICTED_MODES, DispatchState, Plan
from twin.dispatch.planning import servable_today

__all__ = ["NearestVehiclePolicy"]


@dataclass
class NearestVehiclePolicy:
    """Append each order to the nearest vehicle's plan; no optimisation."""

    name: str = "nearest_vehicle"
    dynamic: ClassVar[bool] = True
    triggers: ClassVar[frozenset[str] | None] = frozenset(
        {"cutoff", "new_order", "vehicle_idle", "disruption"}
    )
    tick_s: ClassVar[float | None] = None
    wave_hours: ClassVar[tuple[float, ...]] = ()
    #: Vans and cargo bikes: the nearest vehicle is chosen by capacity and time only,
    #: not by a mode's parcel, option or range limits (see :data:`UNRESTRICTED_MODES`).
    modes: ClassVar[frozenset[str] | None] = UNRESTRICTED_MODES
    #: Where and when each vehicle's plan ends, as this policy built it (it only appends).
    _ends: dict[str, tuple[int, float]] = field(default_factory=dict, init=False, repr=False)

    def decide(self, state: DispatchState) -> Plan:
        free = sorted(
            (o for o in servable_today(state) if o.vehicle_id is None),
            key=lambda o: (o.window_start_s, o.created_s, o.id),
        )
        if not free or not state.vehicles:
            return Plan(routes={})
        known = {o.id: o for o in state.orders}
        trips = {v.id: v.planned_trips() for v in state.vehicles}
        ends = {}
        for v in state.vehicles:
            start = (v.hub_node, max(v.available_s, v.shift_start_s) + v.load_setup_s)
            ends[v.id] = self._ends.get(v.id, start) if trips[v.id] else start
        changed: set[str] = set()
        hubs = sorted({v.hub_node for v in state.vehicles})
        for order in free:
            tails = sorted({node for node, _ in ends.values()} | set(hubs))
            to_order = dict(
                zip(tails, state.travel(tails, [order.node], state.now_s).time_s[:, 0], strict=True)
            )
            back = dict(
                zip(hubs, state.travel([order.node], hubs, state.now_s).time_s[0], strict=True)
            )
            options = []
            for v in state.vehicles:
                node, _ = ends[v.id]
                last = trips[v.id][-1] if trips[v.id] else []
                load = np.sum([known[oid].demand for oid in last], axis=0) if last else np.zeros(3)
                fits = bool(np.all(load + order.demand <= np.asarray(v.capacity) + 1e-9))
                if last and fits:
                    options.append((float(to_order[node]), v.id, False))
                elif len(trips[v.id]) + (1 if v.committed else 0) < v.max_trips:
                    options.append((float(to_order[v.hub_node]), v.id, True))
            by_id = {v.id: v for v in state.vehicles}
            for leg, vid, new_trip in sorted(options):
                v = by_id[vid]
                node, t = ends[vid]
                if new_trip and trips[vid]:
                    home = state.travel([node], [v.hub_node], t).time_s[0, 0]
                    t += home / v.speed_factor + v.load_setup_s
                arrive = max(t + leg / v.speed_factor, order.window_start_s)
                done = arrive + order.service_s
                if done + back[v.hub_node] / v.speed_factor > v.shift_end_s:
                    continue
                if new_trip:
                    trips[vid].append([])
                trips[vid][-1].append(order.id)
                known[order.id] = order
                ends[vid] = (order.node, done)
                changed.add(vid)
                break
        self._ends.update({vid: ends[vid] for vid in changed})
        return Plan(routes={v.id: v.route(trips[v.id]) for v in state.vehicles if v.id in changed})
