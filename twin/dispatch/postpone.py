"""``postpone``: send what is due now; decide what else is worth sending now.

Every dispatcher that decides repeatedly (an hourly dispatch, a wave, a day)
faces the same choice: orders that cannot wait for the next decision must go
now; for the others, sending them now saves a separate trip later if they fit
on today's routes, and wastes a trip if they do not, because later orders may
come that they would have fitted with. Three answers, one policy:

- ``take: all`` (greedy): route every open order now.
- ``take: due`` (lazy): route only the orders due now (``due_day`` not after
  the decision's ``day``); the rest wait.
- ``take: prize`` (default): route the due orders, and each other order only
  if serving it now costs less than its prize: ``prize_share`` times the cost
  of a trip from the hub to it and back. A prize-collecting routing problem
  (the router drops an optional order when the detour to serve it costs more
  than its prize) makes the choice with every route in view: an order next to
  a due one rides along; an order alone at the edge of the map waits for
  company. With ``prize_share`` 0 it is ``due``; large, it is ``all``.
- ``take: sample``: ask what is likely to come. In each of ``scenarios`` draws
  of the orders that may still come (``DispatchState.future_orders``, each
  released when it will exist), the open orders and the drawn ones are routed
  together; an order not due now that rides with a drawn order is better sent
  later, with it. Orders that ride with no drawn order in at least
  ``send_share`` of the draws go now, with the due ones. Without a model of
  future demand it decides as ``prize``.

Orders due now are never optional: they are routed at the usual drop penalty
(a fleet too small for all of them leaves some for later, and says so), or,
with ``required``, the plan must hold them all.
The decision moments are the triggers' (the morning cutoff, ticks); the
dispatcher of :mod:`twin.bench.dynamic` plays the EURO Meets NeurIPS 2022 epochs
through this same protocol, with must-go requests due in the epoch's ``day``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from twin.constants import HOUR_S
from twin.dispatch.base import GROUND_MODES, DispatchState, OrderView, Plan
from twin.dispatch.planning import PlanningSettings, plan_routes

__all__ = ["TAKES", "PostponePolicy"]

#: What the policy routes besides the orders due now (see the module docstring).
TAKES = ("all", "due", "prize", "sample")


@dataclass
class PostponePolicy(PlanningSettings):
    """Route the orders due now, and the others as ``take`` says.

    Parameters
    ----------
    take : str
        ``"all"``, ``"due"``, ``"prize"`` (default) or ``"sample"``: see the
        module docstring.
    prize_share : float
        Under ``prize``: an order not yet due is worth this share of a round
        trip from its hub (default 0.5). Routing parameters: see
        :class:`~twin.dispatch.planning.PlanningSettings`.
    every_min : float
        Minutes between decisions (default 60).
    scenarios : int
        Under ``sample``: draws of the future (default 4).
    scenario_iterations : int
        Under ``sample``: PyVRP iterations of each draw's routing (default 250).
    send_share : float
        Under ``sample``: share of the draws in which an order not due must ride
        with no drawn order to be sent now (default 0.25: postponed only when
        nearly every draw has it ride with a later order).
    seed : int
        Under ``sample``: seeds the draws together with the decision's time.
    required : bool
        The orders sent must all be routed: a plan without one is no plan
        (default False: a simulated fleet that cannot serve them all drops some at
        the usual drop penalty, and they wait). A benchmark whose rules demand
        them sets it.
    """

    take: str = "prize"
    prize_share: float = 0.5
    every_min: float = 60.0
    scenarios: int = 4
    scenario_iterations: int = 250
    send_share: float = 0.25
    seed: int = 0
    required: bool = False
    name: str = "postpone"
    dynamic: ClassVar[bool] = True
    triggers: ClassVar[frozenset[str] | None] = frozenset({"cutoff", "tick"})
    wave_hours: ClassVar[tuple[float, ...]] = ()
    modes: ClassVar[frozenset[str] | None] = GROUND_MODES

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.take not in TAKES:
            raise ValueError(f"take must be one of {', '.join(TAKES)}, got {self.take!r}")
        if self.prize_share < 0:
            raise ValueError(f"prize_share must be non-negative, got {self.prize_share}")
        if self.every_min <= 0:
            raise ValueError(f"every_min must be positive, got {self.every_min}")
        if self.scenarios < 1 or self.scenario_iterations < 1:
            raise ValueError("scenarios and scenario_iterations must be at least 1")
        if not 0.0 <= self.send_share <= 1.0:
            raise ValueError(f"send_share must be between 0 and 1, got {self.send_share}")

    @property
    def tick_s(self) -> float:
        """Seconds between decisions: ``every_min`` minutes."""
        return self.every_min * 60.0

    def decide(self, state: DispatchState) -> Plan:
        due = [o for o in state.orders if o.due_day <= state.day]
        later = [o for o in state.orders if o.due_day > state.day]
        if self.take == "due":
            return self._plan(state, due, [])
        if self.take == "all":
            return self._plan(state, due + later, [])
        if self.take == "sample" and state.future_orders is not None and later:
            send = self.sent_now(state, due, later)
            return self._plan(state, due + [o for o in later if o.id in send], [])
        return self._plan(state, due, later)

    def _plan(self, state: DispatchState, sent: list[OrderView], optional: list[OrderView]) -> Plan:
        """Route ``sent`` (required under ``required``, else at the usual drop
        penalty) and ``optional`` at their prizes."""
        prizes: dict[str, float | None] = {o.id: None for o in sent} if self.required else {}
        prizes.update(self.prizes(state, optional))
        return plan_routes(state, state.vehicles, [*sent, *optional], self, prizes=prizes)

    def sent_now(
        self, state: DispatchState, due: list[OrderView], later: list[OrderView]
    ) -> set[str]:
        """The orders not due that ride with no drawn future order in at least
        ``send_share`` of the draws (see the module docstring)."""
        assert state.future_orders is not None
        rng = np.random.default_rng([self.seed, int(state.now_s)])
        alone = dict.fromkeys((o.id for o in later), 0)
        # Drawn orders are released when they will exist, which only PyVRP routes.
        sampling = self.planning(iterations=self.scenario_iterations, backend="pyvrp")
        for _ in range(self.scenarios):
            future = state.future_orders(rng)
            drawn = {o.id for o in future}
            # Everything open is routed as in a plan; a drawn order only where it
            # pays its own round trip (it may never come).
            prizes: dict[str, float | None] = (
                {o.id: None for o in [*due, *later]} if self.required else {}
            )
            prizes.update(self.prizes(state, list(future), share=1.0))
            plan = plan_routes(
                state, state.vehicles, [*due, *later, *future], sampling, prizes=prizes
            )
            for stops in plan.routes.values():
                if drawn.isdisjoint(stops):
                    for oid in stops:
                        if oid in alone:
                            alone[oid] += 1
        need = self.send_share * self.scenarios
        return {oid for oid, n in alone.items() if n >= need}

    def prizes(
        self, state: DispatchState, orders: list[OrderView], *, share: float | None = None
    ) -> dict[str, float]:
        """Each order's prize: ``share`` (default ``prize_share``) of a round trip from
        the nearest hub, priced at the vehicles' cost per km and per hour."""
        if not orders or not state.vehicles:
            return {}
        hubs = sorted(set(state.hubs.values()))
        nodes = [o.node for o in orders]
        out = state.travel(hubs, nodes, state.now_s)
        back = state.travel(nodes, hubs, state.now_s)
        v = state.vehicles[0]
        time_s = (out.time_s + back.time_s.T).min(axis=0)
        length_m = (
            (out.length_m + back.length_m.T).min(axis=0)
            if out.length_m is not None and back.length_m is not None
            else np.zeros(len(orders))
        )
        trip = v.cost_per_km * length_m / 1000.0 + v.cost_per_h * time_s / HOUR_S
        share = self.prize_share if share is None else share
        return {o.id: share * float(c) for o, c in zip(orders, trip, strict=True)}
