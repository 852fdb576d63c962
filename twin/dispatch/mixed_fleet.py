"""``mixed_fleet``: each order to the mode that suits it, routes per mode on the routing engine.

At the morning cutoff every order is offered to the modes in the cascade's
order (by default drones for light safe-drop parcels with a legal sortie,
robots and cargo bikes for short trips near their hubs, autonomous vans
within their operating domain, vans for the rest: :mod:`twin.dispatch.modal`).
During the day, every ``every_min`` minutes and whenever a vehicle is idle
or something goes wrong, orders that nobody carries yet (placed during the
day, released by a grounded drone or a stopped vehicle, re-attempts) are
planned on the vehicles free to take them: the drones (their sorties not yet
flown are re-scheduled with the new orders) and the other vehicles idle at
their hubs. Plans in force on the road are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar

import numpy as np

from twin.dispatch.base import DispatchState, OrderView, Plan
from twin.dispatch.modal import Cascade, plan_cascade
from twin.dispatch.planning import PlanningSettings, servable_today

__all__ = ["MixedFleetPolicy"]


@dataclass
class MixedFleetPolicy(PlanningSettings):
    """Mode-aware dispatch for a mixed fleet.

    Parameters
    ----------
    modes : sequence of str
        Order in which modes are offered the orders (see :class:`Cascade`).
        Also the policy's ``modes`` trait: a mode left out is never planned.
    reach_km : dict, optional
        Road reach per ground mode from its hub (defaults: robot 2.5, cargo_bike 4).
    every_min : float
        Minutes between in-day re-plans of the free orders (default 30).
    crowd_bundle : int
        Most parcels offered to one crowdsourced courier (default 5). Orders due
        today that no vehicle can take are offered to the couriers online.
    Other parameters: see :class:`~twin.dispatch.planning.PlanningSettings`.
    """

    name: str = "mixed_fleet"
    modes: tuple[str, ...] = Cascade().modes
    reach_km: dict[str, float] = field(default_factory=dict)
    every_min: float = 30.0
    #: Most parcels offered to one crowd courier at a time.
    crowd_bundle: int = 5
    triggers: ClassVar[frozenset[str] | None] = frozenset(
        {"cutoff", "tick", "vehicle_idle", "disruption"}
    )
    #: Vehicles wait at their hubs for in-day work.
    dynamic: ClassVar[bool] = True
    wave_hours: ClassVar[tuple[float, ...]] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        self.modes = tuple(self.modes)
        if self.every_min <= 0:
            raise ValueError("every_min must be positive")

    @property
    def tick_s(self) -> float:
        """Seconds between in-day re-plans: ``every_min`` minutes."""
        return self.every_min * 60.0

    def decide(self, state: DispatchState) -> Plan:
        cascade = Cascade(modes=self.modes, reach_km=self.reach_km)
        orders = servable_today(state)
        if state.trigger == "cutoff":
            vehicles = [v for v in state.vehicles if not v.committed]
            return plan_cascade(state, vehicles, orders, self, cascade)
        # In the day: drones re-schedule their sorties not yet flown together with
        # the free orders; other modes take free orders only when idle at the hub.
        drones = [v for v in state.vehicles if v.mode == "drone"]
        idle = [
            v for v in state.vehicles if v.mode != "drone" and not v.planned and not v.committed
        ]
        on_drones = {v.id for v in drones}
        free = [o for o in orders if o.vehicle_id is None or o.vehicle_id in on_drones]
        if not free:
            return Plan(routes={})
        plan = plan_cascade(state, [*drones, *idle], free, self, cascade)
        taken = {oid for stops in plan.routes.values() for oid in stops}
        overflow = [o for o in free if o.id not in taken and o.vehicle_id is None]
        return replace(plan, offers=self._bundles(state, overflow))

    def _bundles(self, state: DispatchState, orders: list[OrderView]) -> dict[str, tuple[str, ...]]:
        """Overflow for the crowd: each online courier is offered a compact bundle of
        today's most urgent leftovers: the most urgent one, then its nearest neighbours."""
        left = sorted(
            (o for o in orders if o.due_day <= state.day and o.option != "locker"),
            key=lambda o: (o.window_end_s, o.id),
        )
        offers: dict[str, tuple[str, ...]] = {}
        for courier in state.couriers:
            if not left:
                break
            size = min(self.crowd_bundle, courier.max_parcels)
            # seed with the most urgent order, then grow by nearest neighbours
            bundle = [left.pop(0)]
            while left and len(bundle) < size:
                m = state.travel([bundle[-1].node], [o.node for o in left], state.now_s)
                k = int(np.argmin(m.time_s[0]))
                if not np.isfinite(m.time_s[0, k]):
                    break
                bundle.append(left.pop(k))
            offers[courier.id] = tuple(o.id for o in bundle)
        return offers
