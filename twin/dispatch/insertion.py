"""``insertion``: put each new order where it costs least, improve the plan now and then.

The morning plan is the routing engine's (as ``static``). An order placed
during the day, or set free by a disruption (a no-show, a breakdown), is
inserted at once at the cheapest feasible place: between two stops of a trip
not yet loaded, or as a new trip from the hub, on any vehicle that still has
capacity, trips and working time for it. The price of a place is the extra
driving time (at the driver's hourly cost) plus the extra lateness (at the
late cost) it causes to the trip's stops. Every ``improve_every_min`` minutes
the vehicles' next trips are re-optimised, warm-started from the current plan
(see :func:`~twin.dispatch.planning.reoptimise_next_trips`).

Only insertion positions next to the order's nearest planned stops are tried
(``neighbours``): far positions are never the cheapest, and this keeps an
insertion to a few milliseconds on a city-sized day.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from twin.constants import HOUR_S
from twin.dispatch.base import UNRESTRICTED_MODES, DispatchState, OrderView, Plan, VehicleView
from twin.dispatch.planning import (
    PlanningSettings,
    break_time_s,
    plan_routes,
    reoptimise_next_trips,
    servable_today,
)

__all__ = ["InsertionPolicy"]


@dataclass
class InsertionPolicy(PlanningSettings):
    """Cheapest feasible insertion of each new order, periodic improvement.

    Parameters
    ----------
    improve_every_min : float
        Minutes between warm-started re-optimisations of the whole plan
        (default 60; 0 turns them off).
    resolve_solution_limit : int
        Improving solutions each re-optimisation may find (default 30).
    neighbours : int
        Planned stops nearest to a new order whose neighbouring positions are
        tried (default 12). Routing parameters: see
        :class:`~twin.dispatch.planning.PlanningSettings`.
    """

    improve_every_min: float = 60.0
    resolve_solution_limit: int = 30
    neighbours: int = 12
    name: str = "insertion"
    dynamic: ClassVar[bool] = True
    triggers: ClassVar[frozenset[str] | None] = frozenset(
        {"cutoff", "new_order", "vehicle_idle", "tick", "disruption"}
    )
    wave_hours: ClassVar[tuple[float, ...]] = ()
    #: Vans and cargo bikes: in-day insertions check capacity and time only, not a
    #: mode's parcel, option or range limits (see :data:`UNRESTRICTED_MODES`).
    modes: ClassVar[frozenset[str] | None] = UNRESTRICTED_MODES
    _times: dict[tuple[int, int], float] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.improve_every_min < 0 or self.neighbours < 1:
            raise ValueError("improve_every_min must be >= 0 and neighbours >= 1")

    @property
    def tick_s(self) -> float | None:
        """Seconds between improvements; None when ``improve_every_min`` is 0 (off)."""
        return self.improve_every_min * 60.0 if self.improve_every_min else None

    def decide(self, state: DispatchState) -> Plan:
        orders = servable_today(state)
        if state.trigger == "cutoff":
            self._times.clear()  # a new day: times of day change, so does the network
            return plan_routes(state, state.vehicles, orders, self)
        if state.trigger == "tick":
            return reoptimise_next_trips(
                state, self.planning(solution_limit=self.resolve_solution_limit)
            )
        free = sorted(
            (o for o in orders if o.vehicle_id is None), key=lambda o: (o.window_end_s, o.id)
        )
        if not free:
            return Plan(routes={})
        trips = {v.id: v.planned_trips() for v in state.vehicles}
        changed: set[str] = set()
        known = {o.id: o for o in state.orders}
        for order in free:
            vid = self._insert(state, order, trips, known)
            if vid is not None:
                changed.add(vid)
        return Plan(routes={v.id: v.route(trips[v.id]) for v in state.vehicles if v.id in changed})

    # -- insertion ----------------------------------------------------------------------
    def _insert(
        self,
        state: DispatchState,
        order: OrderView,
        trips: dict[str, list[list[str]]],
        known: dict[str, OrderView],
    ) -> str | None:
        """Insert ``order`` at its cheapest feasible place (edits ``trips``); return its vehicle."""
        planned_nodes = {known[oid].node for ts in trips.values() for t in ts for oid in t}
        nodes = sorted(planned_nodes | {v.hub_node for v in state.vehicles})
        legs: set[tuple[int, int]] = set()
        for v in state.vehicles:
            for trip in trips[v.id]:
                path = [v.hub_node] + [known[oid].node for oid in trip] + [v.hub_node]
                legs.update(itertools.pairwise(path))
        self._learn(state, order.node, nodes, legs)
        near = set(self._nearest(order.node, planned_nodes))
        best: tuple[float, str, int, int] | None = None  # cost, vehicle, trip, position
        for v in state.vehicles:
            vtrips = trips[v.id]
            candidates: list[tuple[int, int]] = []
            for k, trip in enumerate(vtrips):
                nodes_k = [v.hub_node] + [known[oid].node for oid in trip] + [v.hub_node]
                for p in range(len(trip) + 1):
                    if nodes_k[p] in near or nodes_k[p + 1] in near:
                        candidates.append((k, p))
            if len(vtrips) + (1 if v.committed else 0) < v.max_trips:
                candidates.append((len(vtrips), 0))
            base = self._timeline(state, v, vtrips, known) if candidates else None
            if base is None:
                continue
            base_cost, _ = base
            for k, p in candidates:
                trial = [list(t) for t in vtrips]
                if k == len(trial):
                    trial.append([])
                trial[k].insert(p, order.id)
                if not _fits(v, trial[k], known):
                    continue
                timed = self._timeline(state, v, trial, known)
                if timed is None:
                    continue
                cost = timed[0] - base_cost
                if best is None or cost < best[0] - 1e-9:
                    best = (cost, v.id, k, p)
        if best is None:
            return None
        _, vid, k, p = best
        if k == len(trips[vid]):
            trips[vid].append([])
        trips[vid][k].insert(p, order.id)
        return vid

    def _timeline(
        self,
        state: DispatchState,
        v: VehicleView,
        vtrips: Sequence[Sequence[str]],
        known: dict[str, OrderView],
    ) -> tuple[float, float] | None:
        """(cost, end time) of a vehicle's planned trips; None when past its working day."""
        t = max(v.shift_start_s, v.available_s)
        drive = late = 0.0
        for trip in vtrips:
            t += v.load_setup_s + v.load_per_parcel_s * len(trip)
            here = v.hub_node
            for oid in trip:
                o = known[oid]
                leg = self._times[here, o.node] / v.speed_factor
                drive += leg
                t = max(t + leg, o.window_start_s)
                late += max(0.0, t - o.window_end_s)
                t += o.service_s
                here = o.node
            leg = self._times[here, v.hub_node] / v.speed_factor
            drive += leg
            t += leg
        limit = min(
            v.shift_start_s + v.max_working_s,
            v.shift_end_s + self.planned_overtime_h * HOUR_S,
        ) - break_time_s(v)
        if vtrips and t > limit:
            return None
        return drive / HOUR_S * v.cost_per_h + late / HOUR_S * self.late_cost_per_h, t

    def _nearest(self, node: int, planned: set[int]) -> list[int]:
        if not planned:
            return []
        cand = sorted(planned)
        d = np.array([self._times[node, c] + self._times[c, node] for c in cand])
        k = min(self.neighbours, len(cand))
        idx = np.argpartition(d, k - 1)[:k]
        return [cand[i] for i in idx]

    def _learn(
        self, state: DispatchState, node: int, nodes: list[int], legs: set[tuple[int, int]]
    ) -> None:
        """Fill the travel-time cache: to and from ``node``, and the planned trips' legs."""
        if any((node, n) not in self._times or (n, node) not in self._times for n in nodes):
            fwd = state.travel([node], nodes, state.now_s).time_s[0]
            back = state.travel(nodes, [node], state.now_s).time_s[:, 0]
            for n, a, b in zip(nodes, fwd, back, strict=True):
                self._times[node, n] = float(a)
                self._times[n, node] = float(b)
        missing = sorted(leg for leg in legs if leg not in self._times)
        if missing:
            sources = sorted({a for a, _ in missing})
            targets = sorted({b for _, b in missing})
            m = state.travel(sources, targets, state.now_s).time_s
            row = {a: i for i, a in enumerate(sources)}
            col = {b: j for j, b in enumerate(targets)}
            for a, b in missing:
                self._times[a, b] = float(m[row[a], col[b]])


def _fits(v: VehicleView, trip: Sequence[str], known: dict[str, OrderView]) -> bool:
    load = np.zeros(3)
    for oid in trip:
        load += known[oid].demand
    return bool(np.all(load <= np.asarray(v.capacity) + 1e-9))
