"""``zones``: a fixed territory per driver, each territory's route optimised on its own.

Many real operations work this way: drivers learn their streets and customers
see the same driver. On the first morning the orders' locations are split into
one territory per vehicle by balanced k-means (every territory gets about the
same number of orders); the territories then stay fixed for the whole run. Each
order goes to the territory with the nearest centre, and each vehicle's trips
are optimised with the routing engine over its own territory's orders only.
During the day a territory is re-planned when its orders change (new orders,
cancellations) every ``replan_every_min`` minutes; when its driver is missing
(a no-show, a breakdown, a day already over) the nearest territory with a
driver takes its orders.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from twin.dispatch.base import (
    RELOAD,
    UNRESTRICTED_MODES,
    DispatchState,
    OrderView,
    Plan,
)
from twin.dispatch.planning import PlanningSettings, plan_routes, servable_today

__all__ = ["ZonesPolicy", "balanced_kmeans"]


@dataclass
class ZonesPolicy(PlanningSettings):
    """Fixed balanced territories, one per vehicle, routed separately.

    Parameters
    ----------
    replan_every_min : float
        Minutes between checks for territories whose orders changed (default 30).
    balance_slack : float
        A territory may hold this much more than an equal share of the first
        morning's orders (default 0.1).
    seed : int
        Seed of the clustering's initial centres (default 0). Routing
        parameters: see :class:`~twin.dispatch.planning.PlanningSettings`.
    """

    replan_every_min: float = 30.0
    balance_slack: float = 0.1
    seed: int = 0
    time_limit_s: float = 10.0
    name: str = "zones"
    dynamic: ClassVar[bool] = True
    triggers: ClassVar[frozenset[str] | None] = frozenset({"cutoff", "tick", "disruption"})
    wave_hours: ClassVar[tuple[float, ...]] = ()
    #: Vans and cargo bikes: a territory's orders all go to its vehicle, whatever a
    #: mode's parcel, option or range limits (see :data:`UNRESTRICTED_MODES`).
    modes: ClassVar[frozenset[str] | None] = UNRESTRICTED_MODES
    #: Territory centres (x, y in km) and the vehicle owning each.
    centres_km: np.ndarray | None = field(default=None, init=False, repr=False)
    owners: list[str] = field(default_factory=list, init=False, repr=False)
    _origin: tuple[float, float] = field(default=(0.0, 0.0), init=False, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.replan_every_min <= 0 or self.balance_slack < 0:
            raise ValueError("replan_every_min must be positive and balance_slack >= 0")

    @property
    def tick_s(self) -> float:
        """Seconds between checks for changed territories: ``replan_every_min`` minutes."""
        return self.replan_every_min * 60.0

    def decide(self, state: DispatchState) -> Plan:
        orders = servable_today(state)
        if self.centres_km is None:
            if state.trigger != "cutoff" or not orders or not state.vehicles:
                return Plan(routes={})
            self._draw_territories(state, orders)
        assert self.centres_km is not None
        available = {v.id: v for v in state.vehicles}
        owner = self._cover(available)
        wanted: dict[str, list[OrderView]] = {vid: [] for vid in available}
        if orders:
            zone = self._zone_of(orders)
            for o, z in zip(orders, zone, strict=True):
                if owner[z] is not None:
                    wanted[owner[z]].append(o)
        routes: dict[str, tuple[str, ...]] = {}
        stats: dict[str, float] = {}
        for vid in sorted(available):
            v = available[vid]
            has = {oid for oid in v.planned if oid != RELOAD}
            if state.trigger != "cutoff" and has == {o.id for o in wanted[vid]}:
                continue
            plan = plan_routes(state, [v], wanted[vid], self)
            routes.update(plan.routes)
            # Summed over the territories, like every count a plan reports (a capped
            # solve in any territory must still be seen by the engine).
            for key, value in plan.stats.items():
                stats[key] = stats.get(key, 0.0) + value
        return Plan(routes=routes, stats=stats)

    # -- territories -------------------------------------------------------------------
    def _xy(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        lat0, lon0 = self._origin
        x = (lon - lon0) * 111.32 * math.cos(math.radians(lat0))
        y = (lat - lat0) * 110.57
        return np.column_stack([x, y])

    def _draw_territories(self, state: DispatchState, orders: list[OrderView]) -> None:
        lat = np.array([o.lat for o in orders])
        lon = np.array([o.lon for o in orders])
        self._origin = (float(lat.mean()), float(lon.mean()))
        xy = self._xy(lat, lon)
        vehicles = sorted(v.id for v in state.vehicles)
        k = min(len(vehicles), len(orders))
        _, centres = balanced_kmeans(
            xy, k, rng=np.random.default_rng(self.seed), slack=self.balance_slack
        )
        # Owners by angle around the centre of demand: neighbouring vehicle ids get
        # neighbouring territories, which makes maps of the territories readable.
        angle = np.arctan2(centres[:, 1], centres[:, 0])
        self.centres_km = centres[np.argsort(angle, kind="stable")]
        self.owners = vehicles[:k]

    def _zone_of(self, orders: list[OrderView]) -> np.ndarray:
        assert self.centres_km is not None
        xy = self._xy(np.array([o.lat for o in orders]), np.array([o.lon for o in orders]))
        d = ((xy[:, None, :] - self.centres_km[None, :, :]) ** 2).sum(axis=2)
        return np.argmin(d, axis=1)

    def _cover(self, available: Mapping[str, object]) -> list[str | None]:
        """The vehicle serving each territory today: its owner, else the nearest present one."""
        assert self.centres_km is not None
        present = [z for z, vid in enumerate(self.owners) if vid in available]
        cover: list[str | None] = []
        for z, vid in enumerate(self.owners):
            if vid in available or not present:
                cover.append(vid if vid in available else None)
                continue
            d = ((self.centres_km[present] - self.centres_km[z]) ** 2).sum(axis=1)
            cover.append(self.owners[present[int(np.argmin(d))]])
        return cover


def balanced_kmeans(
    xy: np.ndarray, k: int, *, rng: np.random.Generator, slack: float = 0.1, iterations: int = 25
) -> tuple[np.ndarray, np.ndarray]:
    """Cluster points into ``k`` groups of nearly equal size; return (labels, centres).

    Lloyd's iterations with a capacitated assignment step: no cluster may take
    more than ``ceil(n / k * (1 + slack))`` points, and points whose best and
    second-best centres differ most choose first (regret order), so the points
    pushed out of a full cluster are those that lose least by moving.
    """
    n = len(xy)
    if k < 1 or n < k:
        raise ValueError(f"cannot make {k} clusters of {n} points")
    cap = math.ceil(n / k * (1 + slack))
    centres = _plus_plus(xy, k, rng)
    labels = np.full(n, -1)
    for _ in range(iterations):
        d = ((xy[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        ranked = np.argsort(d, axis=1, kind="stable")
        best = d[np.arange(n), ranked[:, 0]]
        second = d[np.arange(n), ranked[:, 1]] if k > 1 else best
        new = np.full(n, -1)
        size = np.zeros(k, dtype=int)
        for i in np.argsort(-(second - best), kind="stable"):
            for c in ranked[i]:
                if size[c] < cap:
                    new[i] = c
                    size[c] += 1
                    break
        if np.array_equal(new, labels):
            break
        labels = new
        for c in range(k):
            if size[c]:
                centres[c] = xy[labels == c].mean(axis=0)
    return labels, centres


def _plus_plus(xy: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding: spread initial centres out, so territories do not start piled up."""
    centres = [xy[rng.integers(len(xy))]]
    for _ in range(1, k):
        d = np.min([((xy - c) ** 2).sum(axis=1) for c in centres], axis=0)
        p = d / d.sum() if d.sum() > 0 else np.full(len(xy), 1 / len(xy))
        centres.append(xy[rng.choice(len(xy), p=p)])
    return np.array(centres, dtype=float)
