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

from dataclasses import dataclass, field

from twin.dispatch.base import DispatchState, Plan
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
    reach_km : dict, optional
        Road reach per ground mode from its hub (defaults: robot 2.5, cargo_bike 4).
    every_min : float
        Minutes between in-day re-plans of the free orders (default 30).
    Other parameters: see :class:`~twin.dispatch.planning.PlanningSettings`.
    """

    name: str = "mixed_fleet"
    modes: tuple[str, ...] = Cascade().modes
    reach_km: dict[str, float] = field(default_factory=dict)
    every_min: float = 30.0
    triggers = frozenset({"cutoff", "tick", "vehicle_idle", "disruption"})
    #: Vehicles wait at their hubs for in-day work.
    dynamic = True

    def __post_init__(self) -> None:
        super().__post_init__()
        self.modes = tuple(self.modes)
        if self.every_min <= 0:
            raise ValueError("every_min must be positive")

    @property
    def tick_s(self) -> float:
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
        idle = [v for v in state.vehicles if v.mode != "drone" and not v.planned]
        idle = [v for v in idle if not v.committed]
        on_drones = {v.id for v in drones}
        free = [o for o in orders if o.vehicle_id is None or o.vehicle_id in on_drones]
        if not free or not (drones or idle):
            return Plan(routes={})
        return plan_cascade(state, [*drones, *idle], free, self, cascade)
