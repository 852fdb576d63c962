"""Crowdsourced couriers as Mesa agents: private drivers who take bundles for pay.

A crowd courier is a private person with their own car who logs on to the
platform for a while during the day, somewhere in the city, and is offered
bundles of parcels by the dispatch policy. Unlike an employed driver they may
say no, and a parcel they take is not always attempted as planned.

Everything random about the couriers is drawn up front, when the model is
built, from the run's own ``crowd`` stream: how many come online each day
(Poisson), where (uniform over the candidate nodes), when (uniform within
``online_hours``), for how long, the hourly wage they want and how far they are
willing to drive to the hub. The decision to accept an offer is a deterministic
rule on the :class:`Courier` agent, so every policy that makes the same offer
gets the same answer and the crowd is the same whatever the policy does. Only
:meth:`CrowdModel.reliable` draws, from a generator the caller passes in.

Distributions (the means are settings; the shapes are fixed here):

* session length: lognormal with mean ``session_h_mean`` and log-sigma
  :data:`SESSION_SIGMA`. Gig sessions cluster around a typical length with a
  long right tail; an exponential would make most sessions very short.
* reservation wage: lognormal with mean ``reservation_wage_per_h`` and
  log-sigma ``wage_sigma`` (``0`` = everyone wants the same wage).
* detour tolerance: gamma with shape :data:`DETOUR_SHAPE` and mean
  ``max_detour_km``: few couriers refuse to move at all, a few drive far.

Times are absolute seconds since midnight of day 0, as in the engine.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

import mesa
import numpy as np

from twin.constants import DAY_S, HOUR_S
from twin.dispatch.base import CourierView
from twin.scenario.operations import CrowdSettings

# CrowdSettings (the scenario's: twin.scenario is the contract) and CourierView (what
# policies see: twin.dispatch.base) are re-exported under the names they always had.
__all__ = ["Courier", "CourierView", "CrowdModel", "CrowdSettings"]

#: Seconds in a day, under the name the crowd model has always used.
DAY = DAY_S
#: Speed (km/h) at which a courier drives from where they are to the hub to pick up.
PICKUP_KPH = 30.0
#: Log-sigma of online session lengths.
SESSION_SIGMA = 0.5
#: Gamma shape of detour tolerances (1 would be exponential).
DETOUR_SHAPE = 2.0


class Courier(mesa.Agent):
    """One crowd courier: a session online, a reservation wage and a detour tolerance.

    The private numbers (``wage_per_h``, ``detour_km``) are the courier's own;
    policies see only :meth:`view`.
    """

    def __init__(
        self,
        model: CrowdModel,
        *,
        courier_id: str,
        day: int,
        node: int,
        online_s: float,
        offline_s: float,
        wage_per_h: float,
        detour_km: float,
        max_parcels: int,
    ) -> None:
        super().__init__(model)
        self.courier_id = courier_id
        self.day = day
        self.node = node
        self.online_s = online_s
        self.offline_s = offline_s
        self.wage_per_h = wage_per_h
        self.detour_km = detour_km
        self.max_parcels = max_parcels
        self.busy = False
        self.offers = 0
        self.accepted = 0
        self.parcels = 0
        self.brought_back: list[str] = []

    def view(self) -> CourierView:
        return CourierView(
            id=self.courier_id,
            node=self.node,
            online_s=self.online_s,
            offline_s=self.offline_s,
            max_parcels=self.max_parcels,
        )

    def in_session(self, t_s: float) -> bool:
        return self.online_s <= t_s < self.offline_s

    def available(self, t_s: float) -> bool:
        """Online at ``t_s`` and not busy with an accepted bundle."""
        return self.in_session(t_s) and not self.busy

    def decide(
        self, *, pay: float, n_parcels: int, route_h: float, pickup_km: float, t_s: float
    ) -> bool:
        """Would this courier accept the bundle? Deterministic: no draw.

        Accept iff they are available, the bundle fits (``n_parcels``), the hub
        is within their detour tolerance, pick-up plus route ends before they go
        offline, and the pay per hour of pick-up plus route is at least their
        reservation wage (compared as ``pay >= wage * hours``, so a zero-length
        bundle needs no division).
        """
        pickup_h = pickup_km / PICKUP_KPH
        hours = pickup_h + route_h
        return (
            self.available(t_s)
            and n_parcels <= self.max_parcels
            and pickup_km <= self.detour_km
            and t_s + hours * HOUR_S <= self.offline_s
            and pay >= self.wage_per_h * hours
        )


class CrowdModel(mesa.Model):
    """All crowd couriers of a run, drawn up front.

    Parameters
    ----------
    settings : CrowdSettings
    nodes : sequence of int
        Candidate network nodes where couriers are when they come online
        (drawn uniformly). May be empty only if ``couriers_per_day`` is 0.
    days : int
        Days to draw couriers for (day 0 .. days-1).
    rng : numpy.random.Generator
        The ``crowd`` stream. All of it is consumed here, so the couriers do
        not depend on what any policy does later.
    """

    def __init__(
        self,
        settings: CrowdSettings,
        nodes: Sequence[int],
        *,
        days: int,
        rng: np.random.Generator,
    ) -> None:
        super().__init__(rng=rng)
        if days < 0:
            raise ValueError(f"days must be >= 0, got {days}")
        if settings.couriers_per_day > 0 and len(nodes) == 0:
            raise ValueError("crowd couriers need at least one candidate node")
        self.settings = settings
        self.days = days
        node_arr = np.asarray(nodes, dtype=np.int64)
        self._by_day: list[tuple[Courier, ...]] = [self._draw_day(d, node_arr) for d in range(days)]
        everyone = sorted(
            (c for day in self._by_day for c in day), key=lambda c: (c.online_s, c.courier_id)
        )
        self._sorted: list[Courier] = everyone
        self._online_starts = [c.online_s for c in everyone]
        self._longest_s = max((c.offline_s - c.online_s for c in everyone), default=0.0)
        self._by_id: dict[str, Courier] = {c.courier_id: c for c in everyone}

    def _draw_day(self, day: int, nodes: np.ndarray) -> tuple[Courier, ...]:
        s = self.settings
        rng = self.rng
        n = int(rng.poisson(s.couriers_per_day))
        if n == 0:
            return ()
        where = nodes[rng.integers(len(nodes), size=n)]
        start_h = rng.uniform(*s.online_hours, size=n)
        session_h = _lognormal(rng, s.session_h_mean, SESSION_SIGMA, n)
        wage = _lognormal(rng, s.reservation_wage_per_h, s.wage_sigma, n)
        detour = rng.gamma(DETOUR_SHAPE, s.max_detour_km / DETOUR_SHAPE, n)
        order = np.argsort(start_h, kind="stable")
        couriers = []
        for k, i in enumerate(order):
            online_s = day * DAY + float(start_h[i]) * HOUR_S
            couriers.append(
                Courier(
                    self,
                    courier_id=f"crowd-d{day}-{k:03d}",
                    day=day,
                    node=int(where[i]),
                    online_s=online_s,
                    offline_s=online_s + float(session_h[i]) * HOUR_S,
                    wage_per_h=float(wage[i]),
                    detour_km=float(detour[i]),
                    max_parcels=s.max_parcels,
                )
            )
        return tuple(couriers)

    def __len__(self) -> int:
        return len(self._sorted)

    def courier(self, courier_id: str) -> Courier:
        """The agent behind an id (for the engine; policies should use the views)."""
        try:
            return self._by_id[courier_id]
        except KeyError:
            raise KeyError(f"no crowd courier {courier_id!r}") from None

    def couriers(self, day: int) -> tuple[CourierView, ...]:
        """All of ``day``'s couriers, sorted by ``online_s`` then id (empty outside the run)."""
        if not 0 <= day < len(self._by_day):
            return ()
        return tuple(c.view() for c in self._by_day[day])

    def online(self, t_s: float) -> tuple[CourierView, ...]:
        """Couriers online at ``t_s`` and not busy, sorted by ``online_s`` then id."""
        # Only couriers who logged on within the longest session before t_s can still be on.
        lo = bisect.bisect_left(self._online_starts, t_s - self._longest_s)
        hi = bisect.bisect_right(self._online_starts, t_s)
        return tuple(c.view() for c in self._sorted[lo:hi] if c.available(t_s))

    def pay(self, n_parcels: int, route_km: float) -> float:
        """The platform's pay for a bundle of ``n_parcels`` over a ``route_km`` route."""
        s = self.settings
        return s.pay_per_delivery * n_parcels + s.pay_per_km * route_km

    def offer(
        self,
        courier_id: str,
        *,
        n_parcels: int,
        route_km: float,
        route_h: float,
        pickup_km: float,
        t_s: float,
    ) -> bool:
        """Offer a bundle to a courier at ``t_s``; True if they accept.

        The courier's rule (:meth:`Courier.decide`) is deterministic. Every offer
        counts in the courier's ``offers``, including offers to a courier who is
        offline or busy (always refused). An accepting courier is busy, and not
        in :meth:`online`, until :meth:`release`.
        """
        if n_parcels < 1:
            raise ValueError(f"a bundle needs at least one parcel, got n_parcels={n_parcels}")
        for name, value in (("route_km", route_km), ("route_h", route_h), ("pickup_km", pickup_km)):
            if not value >= 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        c = self.courier(courier_id)
        c.offers += 1
        ok = c.decide(
            pay=self.pay(n_parcels, route_km),
            n_parcels=n_parcels,
            route_h=route_h,
            pickup_km=pickup_km,
            t_s=t_s,
        )
        if ok:
            c.accepted += 1
            c.busy = True
        return ok

    def release(self, courier_id: str) -> None:
        """The courier is done with their bundle: online again if still in their session."""
        self.courier(courier_id).busy = False

    def reliable(self, courier_id: str, order_id: str, rng: np.random.Generator) -> bool:
        """One draw: does this courier attempt ``order_id`` as planned?

        Exactly one number is drawn from ``rng`` per call, whatever the setting,
        so the stream stays aligned across scenarios that differ in reliability.
        """
        c = self.courier(courier_id)
        ok = bool(rng.random() < self.settings.reliability)
        c.parcels += 1
        if not ok:
            c.brought_back.append(order_id)
        return ok

    def stats(self, courier_id: str | None = None) -> dict[str, float]:
        """Offers and acceptance, for one courier or (default) the whole crowd.

        ``acceptance_rate`` is NaN when there were no offers ("never asked" is
        not "always refused").
        """
        group = [self.courier(courier_id)] if courier_id is not None else self._sorted
        offers = sum(c.offers for c in group)
        accepted = sum(c.accepted for c in group)
        return {
            "couriers": len(group),
            "offers": offers,
            "accepted": accepted,
            "acceptance_rate": accepted / offers if offers else math.nan,
            "parcels": sum(c.parcels for c in group),
            "brought_back": sum(len(c.brought_back) for c in group),
        }


def _lognormal(rng: np.random.Generator, mean: float, sigma: float, n: int) -> np.ndarray:
    """``n`` lognormal draws with the given *mean* (not median): mu = ln(mean) - sigma^2 / 2."""
    return rng.lognormal(math.log(mean) - sigma**2 / 2, sigma, n)
