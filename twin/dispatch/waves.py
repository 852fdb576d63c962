"""``waves``: plan at several cut-offs a day, as many depots run their dispatch.

At the morning cutoff and at each later wave (``wave_hours``) every order not
yet loaded is planned again from scratch with the routing engine; between
waves nothing changes, so an order placed at 11:05 waits for the 14:00 wave.
Vehicles wait at the hub between waves (``dynamic``), so a later wave can send
them out again (this needs ``vehicle_types.*.max_trips`` above 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from twin.dispatch.base import GROUND_MODES, DispatchState, Plan
from twin.dispatch.planning import PlanningSettings, plan_routes, servable_today

__all__ = ["WavesPolicy"]


@dataclass
class WavesPolicy(PlanningSettings):
    """Re-plan everything not loaded at the cutoff and at each wave hour.

    Parameters
    ----------
    wave_hours : sequence of float
        Hours of the day of the waves after the morning cutoff (default 10:00,
        12:00, 14:00). Routing parameters: see
        :class:`~twin.dispatch.planning.PlanningSettings`.
    """

    wave_hours: tuple[float, ...] = field(default=(10.0, 12.0, 14.0))
    time_limit_s: float = 30.0
    name: str = "waves"
    #: Vehicles wait at the hub between waves.
    dynamic: ClassVar[bool] = True
    triggers: ClassVar[frozenset[str] | None] = frozenset({"cutoff", "wave"})
    tick_s: ClassVar[float | None] = None
    #: As :class:`~twin.dispatch.static.StaticPolicy`: one routing problem per plan.
    modes: ClassVar[frozenset[str] | None] = GROUND_MODES

    def __post_init__(self) -> None:
        super().__post_init__()
        self.wave_hours = tuple(sorted(float(h) for h in self.wave_hours))
        if any(not 0 <= h < 24 for h in self.wave_hours):
            raise ValueError(
                f"wave_hours must be hours of the day in [0, 24), got {self.wave_hours}"
            )

    def decide(self, state: DispatchState) -> Plan:
        return plan_routes(state, state.vehicles, servable_today(state), self)
