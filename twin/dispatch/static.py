"""``static``: one plan a day, at the morning cutoff, with the routing engine.

Every order known at the cutoff is routed at once (capacity in parcels, volume
and weight; promised windows, late arrivals penalised; the driver's shift, the
working-day limit, hours of service, breaks, multi-trip reloads at the hub, and
optionally a workload-balance term); orders that arrive later wait for the next
day's plan. This is what most operations did before dynamic dispatch, and the
baseline the dynamic policies are measured against.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from twin.dispatch.base import GROUND_MODES, DispatchState, Plan
from twin.dispatch.planning import PlanningSettings, plan_routes, servable_today

__all__ = ["StaticPolicy"]


@dataclass
class StaticPolicy(PlanningSettings):
    """Plan all pending orders once per day at the cutoff trigger.

    Parameters: see :class:`~twin.dispatch.planning.PlanningSettings`.
    """

    name: str = "static"
    #: Vehicles clock off when their one plan of the day is done.
    dynamic: ClassVar[bool] = False
    #: Asked only for the morning plan.
    triggers: ClassVar[frozenset[str] | None] = frozenset({"cutoff"})
    tick_s: ClassVar[float | None] = None
    wave_hours: ClassVar[tuple[float, ...]] = ()
    #: One routing problem per plan: ground vehicles that share one travel profile
    #: (the road's, if any vehicle moves on it); never drones.
    modes: ClassVar[frozenset[str] | None] = GROUND_MODES

    def decide(self, state: DispatchState) -> Plan:
        if state.trigger != "cutoff":
            return Plan(routes={})
        vehicles = [v for v in state.vehicles if not v.committed]
        return plan_routes(state, vehicles, servable_today(state), self)
