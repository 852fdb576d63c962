"""``waves``: plan at several cut-offs a day, as many depots run their dispatch.

At the morning cutoff and at each later wave (``wave_hours``) every order not
yet loaded is planned again from scratch with the routing engine; between
waves nothing changes, so an order placed at 11:05 waits for the 14:00 wave.
Vehicles wait at the hub between waves (``dynamic``), so a later wave can send
them out again (this needs ``vehicle_types.*.max_trips`` above 1).

Hubs may run their own waves (``hub_wave_hours``): at a hub's wave only that
hub's vehicles are planned again, with the orders not yet planned and those
planned on its vehicles; the other hubs' plans stand until their own waves.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from twin.constants import DAY_S, HOUR_S
from twin.dispatch.base import GROUND_MODES, DispatchState, Plan
from twin.dispatch.planning import PlanningSettings, plan_routes, servable_today
from twin.errors import ScenarioError

__all__ = ["WavesPolicy"]


@dataclass
class WavesPolicy(PlanningSettings):
    """Re-plan everything not loaded at the cutoff and at each wave hour.

    Parameters
    ----------
    wave_hours : sequence of float
        Hours of the day of the waves after the morning cutoff (default 10:00,
        12:00, 14:00), for every hub without waves of its own.
    hub_wave_hours : mapping of hub id to sequence of float, optional
        A hub's own wave hours, e.g. ``{north: [12.0], south: [13.0, 16.0]}``.
        Routing parameters: see :class:`~twin.dispatch.planning.PlanningSettings`.
    """

    wave_hours: tuple[float, ...] = field(default=(10.0, 12.0, 14.0))
    hub_wave_hours: Mapping[str, Sequence[float]] = field(default_factory=dict)
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
        self.shared_waves = _hours(self.wave_hours, "wave_hours")
        self.hub_wave_hours = {
            str(hub): _hours(hours, f"hub_wave_hours.{hub}")
            for hub, hours in dict(self.hub_wave_hours).items()
        }
        # The engine's ``wave`` triggers: every hour at which some hub has a wave.
        self.wave_hours = tuple(sorted(set(self.shared_waves).union(*self.hub_wave_hours.values())))

    def decide(self, state: DispatchState) -> Plan:
        if not self.hub_wave_hours:
            return plan_routes(state, state.vehicles, servable_today(state), self)
        unknown = sorted(set(self.hub_wave_hours) - set(state.hubs))
        if unknown:
            raise ScenarioError(
                f"policy.params.hub_wave_hours names {unknown}, which are not hubs of the "
                f"scenario {sorted(state.hubs)}; use the hubs' ids"
            )
        if state.trigger != "wave":
            return plan_routes(state, state.vehicles, servable_today(state), self)
        hour = (state.now_s % DAY_S) / HOUR_S
        waving = {
            hub
            for hub in state.hubs
            if any(math.isclose(hour, h, abs_tol=1e-6) for h in self._waves_of(hub))
        }
        if not waving:  # the shared hours, and every hub has its own: nothing changes
            return Plan(routes={})
        vehicles = [v for v in state.vehicles if v.hub in waving]
        ids = {v.id for v in vehicles}
        orders = [o for o in servable_today(state) if o.vehicle_id is None or o.vehicle_id in ids]
        return plan_routes(state, vehicles, orders, self)

    def _waves_of(self, hub: str) -> tuple[float, ...]:
        return tuple(self.hub_wave_hours.get(hub, self.shared_waves))


def _hours(values: Sequence[float], name: str) -> tuple[float, ...]:
    hours = tuple(sorted(float(h) for h in values))
    if any(not 0 <= h < 24 for h in hours):
        raise ValueError(f"{name} must be hours of the day in [0, 24), got {hours}")
    return hours
