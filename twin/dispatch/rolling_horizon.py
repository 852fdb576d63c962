"""``rolling_horizon``: re-optimise every few minutes, starting from the current plan.

At the morning cutoff the day is planned as by ``static``. Then every
``every_min`` minutes (and at once after a disruption: a no-show, a breakdown,
a road closing) each vehicle's next trip is re-optimised together with every
order nobody has yet (new ones, ones freed by a disruption), warm-started from
the plan in force, so each re-optimisation only has to improve on what the
vehicles are about to do. Later trips follow as planned; loaded parcels stay
where they are (committed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from twin.dispatch.base import GROUND_MODES, DispatchState, Plan
from twin.dispatch.planning import (
    PlanningSettings,
    plan_routes,
    reoptimise_next_trips,
    servable_today,
)

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
    dynamic: ClassVar[bool] = True
    triggers: ClassVar[frozenset[str] | None] = frozenset({"cutoff", "tick", "disruption"})
    wave_hours: ClassVar[tuple[float, ...]] = ()
    #: As :class:`~twin.dispatch.static.StaticPolicy`: one routing problem per plan.
    modes: ClassVar[frozenset[str] | None] = GROUND_MODES

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.every_min <= 0:
            raise ValueError(f"every_min must be positive, got {self.every_min}")

    @property
    def tick_s(self) -> float:
        """Seconds between re-optimisations: ``every_min`` minutes."""
        return self.every_min * 60.0

    def decide(self, state: DispatchState) -> Plan:
        if state.trigger == "cutoff":
            return plan_routes(state, state.vehicles, servable_today(state), self)
        return reoptimise_next_trips(
            state, self.planning(solution_limit=self.resolve_solution_limit)
        )
