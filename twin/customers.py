"""Customers as Mesa agents: who is at home, who answers the door, how satisfied they are.

Customers and crowd couriers (:mod:`twin.crowd`) are the Mesa agents. The
SimPy engine owns the clock; it calls :meth:`CustomerModel.start_day` each
morning and :meth:`CustomerModel.step` every simulated hour, and asks
:meth:`CustomerModel.attempt` whether a delivery attempt meets someone. Agent
state lives in NumPy arrays on the model (one row per customer) so a city of
tens of thousands of households steps in
milliseconds; each :class:`Customer` agent reads and writes its own row.

Presence is a two-state Markov chain per hour: a household keeps its state from
the previous hour with probability ``rho`` (at most :data:`PERSISTENCE`), else it
is redrawn with probability ``q``. Both are chosen per hour and household type so
that the share at home equals the type's at-home profile exactly (in
expectation), while absences come in blocks (at work, school run) instead of
flickering hour by hour.

Satisfaction (1-5) falls with lateness, failed attempts and ETA error, rises a
little with on-time deliveries, drifts back towards its initial level each
night, and carries over between days.
"""

from __future__ import annotations

from collections.abc import Sequence

import mesa
import numpy as np

from twin.scenario import CustomerSettings

__all__ = ["Customer", "CustomerModel", "answer_probability"]

PERSISTENCE = 0.75


def answer_probability(
    settings: CustomerSettings,
    hour: int | np.ndarray,
    stay_home_share: float | np.ndarray = 0.0,
) -> np.ndarray:
    """Chance that an attempt at ``hour`` of the day meets someone who answers the door,
    for a customer drawn from the household mix (households unknown).

    The same rule as :meth:`CustomerModel.attempt`: at home by the type's profile
    (or kept at home by the weather, ``stay_home_share`` of those out), then
    answering with the type's ``answer_door``; averaged over the types by their
    shares. The live forecast uses it: it knows addresses, not households.
    """
    types = settings.households
    shares = np.array([h.share for h in types], dtype=float)
    shares /= shares.sum()
    at_home = np.array([h.at_home_by_hour for h in types], dtype=float)  # (types, 24)
    answer = np.array([h.answer_door for h in types], dtype=float)
    h = np.asarray(hour, dtype=np.int64) % 24
    home = at_home[:, h]  # (types, *shape)
    stay = np.asarray(stay_home_share, dtype=float)
    present = home + (1.0 - home) * stay
    weights = (shares * answer).reshape((-1,) + (1,) * h.ndim)
    return np.asarray((weights * present).sum(axis=0))


class Customer(mesa.Agent):
    """One household at a network node."""

    def __init__(self, model: CustomerModel, row: int) -> None:
        super().__init__(model)
        self.row = row

    @property
    def node(self) -> int:
        return int(self.model.node[self.row])

    @property
    def household(self) -> str:
        return str(self.model.household_names[self.model.household[self.row]])

    @property
    def satisfaction(self) -> float:
        return float(self.model.satisfaction[self.row])

    def is_home(self) -> bool:
        return bool(self.model.home[self.row])


class CustomerModel(mesa.Model):
    """All customers of a scenario.

    Parameters
    ----------
    settings : CustomerSettings
    nodes : sequence of int
        Network node of each customer's address.
    rng : numpy.random.Generator
        The ``customers`` stream: household types and daily presence.
    """

    def __init__(
        self, settings: CustomerSettings, nodes: Sequence[int], *, rng: np.random.Generator
    ) -> None:
        super().__init__(rng=rng)
        self.settings = settings
        n = len(nodes)
        self.node = np.asarray(nodes, dtype=np.int64)
        types = settings.households
        self.household_names = np.array([h.name for h in types])
        shares = np.array([h.share for h in types])
        self.household = self.rng.choice(len(types), size=n, p=shares / shares.sum())
        self._at_home = np.array([h.at_home_by_hour for h in types])  # (types, 24)
        self._answer = np.array([h.answer_door for h in types])[self.household]
        self.locker_preference = np.array([h.locker_preference for h in types])[self.household]
        self.satisfaction = np.full(n, settings.initial_satisfaction)
        self.home = np.ones(n, dtype=bool)
        self.hour = 0
        self.day = -1
        self.customers = [Customer(self, i) for i in range(n)]

    def __len__(self) -> int:
        return len(self.node)

    def start_day(self, day: int) -> None:
        """Begin ``day`` at midnight: everyone starts in the state of their hour-0 profile."""
        self.day = day
        self.hour = 0
        p = self._at_home[self.household, 0]
        self.home = self.rng.random(len(self)) < p

    def step(self) -> None:
        """Advance one hour: households keep or redraw their presence."""
        prev = self._at_home[:, self.hour]
        self.hour = (self.hour + 1) % 24
        target = self._at_home[:, self.hour]
        # Keep-probability rho and redraw-probability q with rho*prev + (1-rho)*q = target.
        with np.errstate(divide="ignore", invalid="ignore"):
            rho = np.minimum.reduce(
                [
                    np.full_like(prev, PERSISTENCE),
                    np.where(prev > 0, target / prev, 1.0),
                    np.where(prev < 1, (1 - target) / (1 - prev), 1.0),
                ]
            )
            q = np.where(rho < 1, (target - rho * prev) / (1 - rho), target)
        keep = self.rng.random(len(self)) < rho[self.household]
        fresh = self.rng.random(len(self)) < np.clip(q, 0.0, 1.0)[self.household]
        self.home = np.where(keep, self.home, fresh)

    def attempt(self, row: int, rng: np.random.Generator, *, stay_home_share: float = 0.0) -> bool:
        """Does a delivery attempt at customer ``row`` now meet someone who answers?

        ``stay_home_share``: of the people who would be out now, the share kept at
        home by the weather (drawn only when positive, so fair weather draws exactly
        as before).
        """
        home = bool(self.home[row])
        if not home and stay_home_share > 0:
            home = bool(rng.random() < stay_home_share)
        return home and bool(rng.random() < self._answer[row])

    def choose_locker(
        self,
        row: int,
        distance_km: float,
        rng: np.random.Generator,
        *,
        half_distance_km: float,
        max_distance_km: float,
    ) -> bool:
        """Does customer ``row`` have the parcel sent to a locker ``distance_km`` from home?

        The household's locker preference, halved every ``half_distance_km`` of
        distance; nobody walks further than ``max_distance_km``.
        """
        if distance_km > max_distance_km:
            return False
        p = self.locker_preference[row] * 0.5 ** (distance_km / half_distance_km)
        return bool(rng.random() < p)

    def record_outcome(
        self,
        row: int,
        *,
        delivered: bool,
        lateness_h: float = 0.0,
        eta_error_h: float = 0.0,
    ) -> float:
        """Update satisfaction after an attempt; returns the new level."""
        s = self.settings
        delta = -s.eta_error_penalty_per_h * abs(eta_error_h)
        if delivered:
            delta += s.on_time_reward if lateness_h <= 0 else -s.lateness_penalty_per_h * lateness_h
        else:
            delta -= s.failed_attempt_penalty
        self.satisfaction[row] = float(np.clip(self.satisfaction[row] + delta, 1.0, 5.0))
        return float(self.satisfaction[row])

    def end_day(self) -> None:
        """Overnight, memory fades: satisfaction drifts back towards its initial level."""
        s = self.settings
        self.satisfaction += s.daily_recovery * (s.initial_satisfaction - self.satisfaction)
