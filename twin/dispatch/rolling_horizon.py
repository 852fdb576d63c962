"""``rolling_horizon``: re-optimise every few minutes, starting from the current plan.

At the morning cutoff the day is planned as by ``static``. Then every
``every_min`` minutes (and at once after a disruption: a no-show, a breakdown,
a road closing) all orders not yet loaded, new ones included, are re-planned
with the routing engine, warm-started from the plan in force, so each
re-optimisation only has to improve on what the vehicles are already doing.
Loaded parcels stay where they are (committed).
"""

from __future__ import annotations

from dataclasses import dataclass

from twin.dispatch.base import DispatchState, Plan
from twin.dispatch.planning import PlanningSettings, plan_routes, servable_today

__all__ = ["RollingHorizonPolicy"]


@dataclass
class RollingHorizonPolicy(PlanningSettings):
    """Periodic warm-started re-optimisation of everything not committed.

    Parameters
    ----------
    every_min : float
        Minutes between re-optimisations (default 30).
    resolve_solution_limit : int
        Improving solutions the local search may find in a re-optimisation
        (default 30; the morning plan uses ``solution_limit``). The warm start
        is already a good plan, so a short search is enough and keeps each
        re-plan fast. Routing parameters: see
        :class:`~twin.dispatch.planning.PlanningSettings`.
    """

    every_min: float = 30.0
    resolve_solution_limit: int = 30
    name: str = "rolling_horizon"
    dynamic = True
    triggers = frozenset({"cutoff", "tick", "disruption"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.every_min <= 0:
            raise ValueError(f"every_min must be positive, got {self.every_min}")

    @property
    def tick_s(self) -> float:
        return self.every_min * 60.0

    def decide(self, state: DispatchState) -> Plan:
        orders = servable_today(state)
        if state.trigger == "cutoff":
            return plan_routes(state, state.vehicles, orders, self)
        if not orders:
            return Plan(routes={})
        settings = self.planning(solution_limit=self.resolve_solution_limit)
        return plan_routes(
            state, state.vehicles, orders, settings, warm_start=True, next_trip_only=True
        )
