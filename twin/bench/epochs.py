"""The dynamic variant of the EURO Meets NeurIPS 2022 VRP competition, as rules.

Written here from the competition's published rules (ORTEC's quickstart,
summarised in ``../shared/benchmarks/README.md``); none of its code is used.

A static instance (a depot, customers with a location, demand, service time and
time window, an asymmetric duration matrix, a vehicle capacity) is the source
of a day of requests. The day is cut into epochs of one hour. At the start of
each epoch up to :data:`MAX_REQUESTS` new requests arrive: each draws its
location, its time window, its demand and its service time independently and
uniformly from the instance's customers, and it is kept only if a vehicle
dispatched now can still reach it in its window and be back at the depot before
the depot closes. Routes decided in an epoch leave the depot
:data:`DISPATCH_MARGIN_S` after the epoch starts. A request that could no
longer be served if it waited one more epoch is *must-go*: it must be in this
epoch's routes; in the last epoch every open request is. Any other open request
may be dispatched now or left for later. Vehicles are unlimited; each route
starts and ends at the depot, respects the capacity and the time windows
(waiting allowed) and is back before the depot closes. The cost is the total
driving time of all routes of all epochs.

Epochs run from the one in which the earliest window opens, less the dispatch
margin, to the one in which the latest window opens, less the margin (so the
last requests still have a chance to be served), as the competition's
environment counts them.

:class:`DayOfEpochs` plays one day; :func:`check_routes` is its referee and
shares no code with the routing engine, so a plan the router thinks is fine but
the rules forbid is caught.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from twin.bench.instances import BenchInstance
from twin.errors import TwinError

__all__ = [
    "DISPATCH_MARGIN_S",
    "EPOCH_S",
    "MAX_REQUESTS",
    "DayOfEpochs",
    "DispatchError",
    "Epoch",
    "Request",
    "check_routes",
    "draw_requests",
    "route_cost",
]

#: Length of an epoch, and the delay between a decision and the routes' departure.
EPOCH_S = 3600.0
DISPATCH_MARGIN_S = 3600.0
#: Requests drawn at each epoch (before those that cannot be served are removed).
MAX_REQUESTS = 100


class DispatchError(TwinError, ValueError):
    """A dispatch the rules forbid (names the request or route and the rule)."""


@dataclass(frozen=True)
class Request:
    """One request: where (a node of the instance), when, how much."""

    id: str
    location: int
    ready_s: float
    due_s: float
    demand: float
    service_s: float
    #: The epoch in which it arrived.
    released: int


@dataclass(frozen=True)
class Epoch:
    """What a dispatcher sees at the start of an epoch."""

    index: int
    #: The epoch's start, and when its routes leave the depot.
    start_s: float
    dispatch_s: float
    last: bool
    #: Every open request: new ones and those left from earlier epochs.
    requests: tuple[Request, ...]
    #: Ids of the requests that must be in this epoch's routes.
    must_go: frozenset[str]


def route_cost(duration: np.ndarray, locations: Sequence[int]) -> float:
    """Driving time of a route depot -> locations -> depot."""
    path = [0, *locations, 0]
    return float(sum(duration[a, b] for a, b in itertools.pairwise(path)))


def check_routes(inst: BenchInstance, epoch: Epoch, routes: Sequence[Sequence[str]]) -> list[str]:
    """Every rule the routes break (empty: a valid dispatch).

    Each request open and dispatched once; a route within the capacity, at each
    stop no later than its window's end (waiting for its start is allowed), back
    at the depot before it closes; every must-go request dispatched (every open
    one in the last epoch).
    """
    duration = np.asarray(inst.matrix, dtype=float)
    by_id = {r.id: r for r in epoch.requests}
    problems: list[str] = []
    seen: set[str] = set()
    for k, route in enumerate(routes):
        load = 0.0
        t = epoch.dispatch_s
        here = 0
        for rid in route:
            r = by_id.get(rid)
            if r is None:
                problems.append(f"route {k}: request {rid} is not open")
                continue
            if rid in seen:
                problems.append(f"route {k}: request {rid} dispatched twice")
            seen.add(rid)
            load += r.demand
            t = max(t + duration[here, r.location], r.ready_s)
            if t > r.due_s + 1e-6:
                problems.append(
                    f"route {k}: request {rid} reached at {t:.0f} s, after {r.due_s:.0f}"
                )
            t += r.service_s
            here = r.location
        if load > inst.capacity + 1e-9:
            problems.append(f"route {k}: load {load:g} above the capacity {inst.capacity:g}")
        back = t + duration[here, 0]
        if route and back > inst.due[0] + 1e-6:
            problems.append(f"route {k}: back at {back:.0f} s, after the depot closes")
    required = {r.id for r in epoch.requests} if epoch.last else set(epoch.must_go)
    for rid in sorted(required - seen):
        problems.append(f"request {rid} must go in epoch {epoch.index} but is not dispatched")
    return problems


def draw_requests(
    inst: BenchInstance, rng: np.random.Generator, epoch: int, *, prefix: str = "e"
) -> list[Request]:
    """The requests that arrive at ``epoch``: :data:`MAX_REQUESTS` drawn from the
    instance's customers, kept if a route dispatched in this epoch can serve them
    and be back before the depot closes. Ids are ``{prefix}{epoch}-{k}``."""
    d = np.asarray(inst.matrix, dtype=float)
    dispatch = epoch * EPOCH_S + DISPATCH_MARGIN_S
    n = len(inst.demand) - 1
    loc, win, dem, svc = (rng.integers(n, size=MAX_REQUESTS) + 1 for _ in range(4))
    ready = np.asarray(inst.ready, dtype=float)[win]
    due = np.asarray(inst.due, dtype=float)[win]
    demand = np.asarray(inst.demand, dtype=float)[dem]
    service = np.asarray(inst.service, dtype=float)[svc]
    arrive = np.maximum(dispatch + d[0, loc], ready)
    ok = (dispatch + d[0, loc] <= due) & (arrive + service + d[loc, 0] <= inst.due[0])
    return [
        Request(
            id=f"{prefix}{epoch}-{k}",
            location=int(loc[k]),
            ready_s=float(ready[k]),
            due_s=float(due[k]),
            demand=float(demand[k]),
            service_s=float(service[k]),
            released=epoch,
        )
        for k in np.flatnonzero(ok)
    ]


class DayOfEpochs:
    """One dynamic day of an instance: requests arrive, a dispatcher sends routes.

    Parameters
    ----------
    inst : BenchInstance
        A static instance with an explicit duration matrix (VRPLIB).
    seed : int
        Seeds the day's requests together with the instance's name, so each
        instance has its own day and every policy meets the same one.

    Use: ``while not day.done: epoch = day.observe(); day.dispatch(epoch, routes)``.
    """

    def __init__(self, inst: BenchInstance, seed: int = 0) -> None:
        if inst.matrix is None:
            raise TwinError(f"instance {inst.name} has no duration matrix")
        self.inst = inst
        self.duration = np.asarray(inst.matrix, dtype=float)
        key = int.from_bytes(hashlib.sha256(inst.name.encode()).digest()[:8], "little")
        self.rng = np.random.default_rng([seed, key])
        opens = np.asarray(inst.ready[1:], dtype=float)
        self.first = int(max((opens.min() - DISPATCH_MARGIN_S) // EPOCH_S, 0))
        self.final = int(max((opens.max() - DISPATCH_MARGIN_S) // EPOCH_S, 0))
        self.epoch = self.first
        self.open: dict[str, Request] = {}
        self.cost = 0.0
        self.routes_sent = 0
        self.done = False
        self._current: Epoch | None = None

    @property
    def epochs(self) -> int:
        """Number of epochs in the day."""
        return self.final - self.first + 1

    def observe(self) -> Epoch:
        """The current epoch: new requests drawn, must-go ones marked."""
        if self.done:
            raise TwinError("the day is over")
        if self._current is None:
            self._current = self._arrive()
        return self._current

    def _arrive(self) -> Epoch:
        start = self.epoch * EPOCH_S
        dispatch = start + DISPATCH_MARGIN_S
        for r in draw_requests(self.inst, self.rng, self.epoch):
            self.open[r.id] = r
        last = self.epoch == self.final
        requests = tuple(self.open.values())
        return Epoch(
            index=self.epoch,
            start_s=start,
            dispatch_s=dispatch,
            last=last,
            requests=requests,
            must_go=frozenset(r.id for r in requests if last or self._cannot_wait(r, dispatch)),
        )

    def _cannot_wait(self, r: Request, dispatch_s: float) -> bool:
        """Would ``r`` be out of reach if dispatched one epoch later?"""
        later = dispatch_s + EPOCH_S
        arrive = max(later + self.duration[0, r.location], r.ready_s)
        back = arrive + r.service_s + self.duration[r.location, 0]
        return bool(arrive > r.due_s or back > self.inst.due[0])

    def dispatch(self, epoch: Epoch, routes: Sequence[Sequence[str]]) -> float:
        """Send this epoch's routes; returns their driving time and moves to the next epoch.

        Raises
        ------
        DispatchError
            Naming every rule the routes break (see :func:`check_routes`); the day
            is then unchanged.
        """
        if epoch is not self._current:
            raise TwinError("dispatch the epoch last observed")
        problems = check_routes(self.inst, epoch, routes)
        if problems:
            shown = "; ".join(problems[:5]) + (
                f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
            )
            raise DispatchError(f"{self.inst.name}, epoch {epoch.index}: {shown}")
        by_id = {r.id: r for r in epoch.requests}
        cost = sum(route_cost(self.duration, [by_id[i].location for i in r]) for r in routes if r)
        for route in routes:
            for rid in route:
                del self.open[rid]
        self.cost += cost
        self.routes_sent += sum(1 for r in routes if r)
        self._current = None
        if epoch.last:
            self.done = True
        else:
            self.epoch += 1
        return cost
