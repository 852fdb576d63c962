"""Monte Carlo forecast of the rest of the day from the live state.

:class:`Forecaster` plays each vehicle's remaining route forward from where the
twin last saw it, ``samples`` times, and summarises per order the arrival at the
stop (P10 / P50 / P90) and the risk of arriving after the window, and per route
when the vehicle is back at its hub and the risk that this is after the end of
the driver's shift.

It is the engine's model of a day, not a second one: the scenario's
:class:`~twin.traveltime.TravelTimes` per vehicle type (:func:`~twin.world.make_movers`:
congestion by road class and hour, school zones, closures, the vehicle type's
speed), the weather's road factor, the engine's leg noise (lognormal driving
time with mean 1 and CV ``traffic.noise.cv``, gamma border waits), service
times drawn as the engine's stop draws them (:func:`twin.sim.stops.attempt`, with
the stop model of :mod:`twin.fleet`: parking and walking,
handover if someone answers, a safe drop at half the handover time, the walk
back), the wait for a window that has not opened, the break rule of the
drivers' settings (:func:`twin.fleet.break_due_array`), the working-day limit
(:func:`twin.fleet.past_working_day`) that sends a vehicle home with
stops left, and the trips of a route: before each stop the route names in
``reload_before`` the vehicle drives back to its hub and loads (the engine's
:func:`~twin.fleet.load_time_s`; the wait for a free dock is not
modelled). Only the households are unknown to the live twin, so presence is the
household mix's average chance that someone answers at that hour
(:func:`~twin.customers.answer_probability`).

Why not run the engine 50 times: a SimPy day of the Laredo baseline takes about
2 s without planning, so 50 samples would take more than a minute on two cores.
Here the samples are the rows of NumPy arrays advanced stop by stop (all
samples of a vehicle at once), and the cost is the expected travel times: one
:meth:`TravelTimes.matrix` call per (vehicle type, 15-minute bucket) and step of
the routes, memoised across predictions, so a refresh a minute later reuses
almost every leg.

Conditioning on what is known: a vehicle left its last known position at
``seen_s`` and has not reported arriving anywhere since, so its first leg is
drawn conditional on arriving after now (a truncated lognormal), and its
first stop cannot be finished before now.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.special import ndtr, ndtri

from twin.customers import answer_probability
from twin.errors import UnreachableError
from twin.fleet import (
    break_due_array,
    break_s,
    build_fleet,
    draw_service_array,
    expected_service_s,
    handover_mean_s,
    load_time_s,
    past_working_day,
    safe_drop_mean_s,
    shift_bounds_s,
    working_day_end_s,
)
from twin.live.state import LiveOrder, LiveState, LiveVehicle
from twin.maps.network import RoadNetwork
from twin.rng import RandomStreams
from twin.scenario import Hub, Scenario, VehicleType
from twin.traveltime import TravelTimes, lognormal_params
from twin.world import make_movers, make_weather, place_hubs

__all__ = ["Forecast", "Forecaster", "OrderForecast", "RouteForecast"]

DAY_S = 86_400.0
H = 3600.0
#: Legs remembered across predictions before the memo is cleared (a float each).
_MAX_MEMO = 2_000_000
#: Rows "every node to a hub" kept (one per mover, hub and 15-min bucket: a day is 96).
_MAX_BACK_ROWS = 512
#: Keeps a truncated draw off the last quantile (ndtri(1) is infinite).
_U_MAX = 1.0 - 1e-12


@dataclass(frozen=True)
class OrderForecast:
    """One open order: when its vehicle arrives at the stop, and the risks.

    ``p_miss_window`` is the chance of arriving after ``window_end`` or not at
    all today (``p_unreached``: the working-day limit sends the vehicle home
    first); the ETA percentiles are over the samples that do arrive. Orders on
    no route have ``vehicle_id`` None and NaN ETAs (``p_miss_window`` 1 if the
    window has already closed, else NaN).
    """

    order_id: str
    vehicle_id: str | None
    eta_p10_s: float
    eta_p50_s: float
    eta_p90_s: float
    p_miss_window: float
    #: Position on the vehicle's remaining route (0: the next stop).
    stop_index: int | None = None
    p_unreached: float = math.nan
    #: Chance the attempt fails: nobody answers and the parcel may not be left.
    p_fail: float = math.nan


@dataclass(frozen=True)
class RouteForecast:
    """One vehicle's rest of the day: back at the hub when, overtime how likely."""

    vehicle_id: str
    stops_left: int
    return_p50_s: float
    return_p90_s: float
    p_overtime: float
    shift_end_s: float = math.nan
    return_p10_s: float = math.nan
    #: Stops the working-day limit is expected to leave unserved.
    expected_unreached: float = 0.0


@dataclass(frozen=True)
class Forecast:
    """The forecast of one live state (times in seconds since midnight of day 0)."""

    as_of_s: float
    elapsed_s: float
    samples: int
    orders: dict[str, OrderForecast]
    routes: dict[str, RouteForecast]
    #: ``LiveState.applied`` of the state forecast (which events it had seen).
    as_of_applied: int = 0
    seed: int = 0
    #: Open orders on no vehicle's route.
    unrouted: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: orders and routes as lists sorted by id, NaN as None."""
        return {
            "as_of_s": _clean(self.as_of_s),
            "as_of_applied": self.as_of_applied,
            "elapsed_s": round(self.elapsed_s, 4),
            "samples": self.samples,
            "seed": self.seed,
            "unrouted": self.unrouted,
            "orders": [_clean_dict(asdict(self.orders[k])) for k in sorted(self.orders)],
            "routes": [_clean_dict(asdict(self.routes[k])) for k in sorted(self.routes)],
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), allow_nan=False, separators=(",", ":"))


def _clean(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _clean_dict(d: dict[str, Any]) -> dict[str, Any]:
    return {k: _clean(v) for k, v in d.items()}


def _trip_length(reload: np.ndarray, k: int) -> int:
    """Stops from ``k`` up to the next reload (or the route's end): one trip's parcels."""
    later = np.flatnonzero(reload[k + 1 :])
    return int(later[0]) + 1 if len(later) else len(reload) - k


@dataclass
class _Run:
    """The samples of one vehicle, advanced stop by stop (arrays of shape (samples,))."""

    vehicle: LiveVehicle
    vtype: VehicleType
    mover: int
    hub: int
    hub_settings: Hub
    orders: list[LiveOrder]
    #: Per stop: the vehicle goes back to the hub and loads the next trip first.
    reload: np.ndarray
    rng: np.random.Generator
    t: np.ndarray
    duty_from: np.ndarray
    here: int
    limit_s: float
    shift_end_s: float
    #: Samples still on the route (False once the working-day limit sent them home).
    going: np.ndarray
    eta: np.ndarray
    fail: np.ndarray
    back_s: np.ndarray
    #: The next leg is the one under way since the last known position.
    first: bool = True
    expected_service: list[float] = field(default_factory=list)


class Forecaster:
    """Forecasts the rest of the day from a :class:`LiveState`.

    Parameters
    ----------
    scenario : Scenario
        The (calibrated) scenario: travel, service, presence, drivers, weather.
    network : RoadNetwork
        The network the live state snaps to.
    samples : int, optional
        Monte Carlo samples per forecast (default 50).
    seed : int, optional
        With ``state.applied``, seeds the draws: the same state gives the same
        forecast, a state with one more event gets fresh draws.

    Notes
    -----
    Keep one Forecaster for the server's life: it holds the travel times (and
    their shortest-path rows) and the memo of expected legs, which make a
    refresh much cheaper than the first forecast. The memo changes only speed,
    never values, so a forecast does not depend on what was forecast before.
    Not thread-safe: run one :meth:`predict` at a time (the server does).
    """

    def __init__(
        self, scenario: Scenario, network: RoadNetwork, *, samples: int = 50, seed: int = 0
    ) -> None:
        if samples < 1:
            raise ValueError(f"samples must be at least 1, got {samples}")
        if seed < 0:
            raise ValueError(f"seed must be non-negative, got {seed}")
        self.scenario = scenario
        self.network = network
        self.samples = int(samples)
        self.seed = int(seed)
        sc = scenario
        self.travel = TravelTimes(network, sc.traffic, start_weekday=sc.start_weekday)
        movers = make_movers(sc, network, self.travel)
        self._movers: list[TravelTimes] = []
        self._mover_of: dict[str, int] = {}
        for name in sc.vehicle_types:
            mover = movers.get(name, self.travel)  # a drone is forecast on the roads
            if not any(mover is m for m in self._movers):
                self._movers.append(mover)
            self._mover_of[name] = next(i for i, m in enumerate(self._movers) if m is mover)
        # The engine's weather: the same series (or the same generated one) it plans with.
        self.weather = make_weather(sc, RandomStreams(sc.seed))
        states = sc.weather.states
        self._road_factor = np.array([states[n].road_factor for n in self.weather.hourly])
        self._stay_home = np.array([states[n].stay_home_share for n in self.weather.hourly])
        self.hub_nodes = place_hubs(sc, network)
        fleet = build_fleet(sc, self.hub_nodes)
        self._type_of = {v.id: v.type_name for v in fleet}
        self._default_type = fleet[0].type_name if fleet else next(iter(sc.vehicle_types))
        self.bucket_s = sc.traffic.bucket_min * 60.0
        self._mu, self._sigma = lognormal_params(sc.traffic.noise.cv)
        self._svc_mu, self._svc_sigma = lognormal_params(sc.service.service_cv)
        self._legs: dict[tuple[int, int, int, int], float] = {}
        self._backs: dict[tuple[int, int, int], np.ndarray] = {}
        self._waits: dict[tuple[int, int, int, int], tuple[float, ...]] = {}
        self._side = self._border_sides()

    # -- the model's pieces -------------------------------------------------------------
    def _border_sides(self) -> np.ndarray | None:
        """Side of the border of each node (components without the crossings), or None.

        A leg between sides crosses, so only those legs need their waits (a
        :meth:`TravelTimes.leg` each); where crossing is barred they are unreachable.
        """
        net = self.network
        crossing = net.edge_crossing >= 0
        if not crossing.any() or not self.scenario.traffic.border.crossing_allowed:
            return None
        keep = ~crossing
        n = net.n_nodes
        graph = coo_matrix(
            (np.ones(int(keep.sum())), (net.edge_u[keep], net.edge_v[keep])), shape=(n, n)
        )
        _, labels = connected_components(graph, directed=False)
        return np.asarray(labels)

    def _bucket(self, t: np.ndarray) -> np.ndarray:
        return np.floor(t / self.bucket_s).astype(np.int64)

    def _hourly(self, table: np.ndarray, t: np.ndarray) -> np.ndarray:
        i = np.clip(np.floor(t / H).astype(np.int64), 0, len(table) - 1)
        return table[i]

    def _back_row(self, mover: int, hub: int, bucket: int) -> np.ndarray:
        """Expected seconds from every node (network order) to ``hub`` in ``bucket``."""
        key = (mover, hub, bucket)
        row = self._backs.get(key)
        if row is None:
            if len(self._backs) >= _MAX_BACK_ROWS:
                self._backs.clear()
            m = self._movers[mover].matrix(
                self.network.node_ids, [hub], depart_s=bucket * self.bucket_s, with_length=False
            )
            row = self._backs[key] = m.time_s[:, 0].copy()
        return row

    def _resolve(self, needs: dict[tuple[int, int], set[tuple[int, int]]]) -> None:
        """Expected legs not in the memo: one ``matrix`` call per (mover, bucket)."""
        if len(self._legs) > _MAX_MEMO:
            self._legs.clear()
        for (mover, bucket), pairs in sorted(needs.items()):
            todo = sorted(p for p in pairs if (mover, bucket, *p) not in self._legs)
            if not todo:
                continue
            sources = sorted({a for a, _ in todo})
            targets = sorted({b for _, b in todo})
            m = self._movers[mover].matrix(
                sources, targets, depart_s=bucket * self.bucket_s, with_length=False
            )
            row = {a: i for i, a in enumerate(sources)}
            col = {b: j for j, b in enumerate(targets)}
            for a, b in todo:
                self._legs[mover, bucket, a, b] = float(m.time_s[row[a], col[b]])

    def _wait_means(self, mover: int, bucket: int, a: int, b: int) -> tuple[float, ...]:
        """Mean border waits of the fastest path a -> b in ``bucket`` (empty if it
        stays on one side)."""
        if self._side is None or a == b:
            return ()
        ia, ib = self.network.index([a, b])
        if self._side[ia] == self._side[ib]:
            return ()
        key = (mover, bucket, a, b)
        waits = self._waits.get(key)
        if waits is None:
            try:
                leg = self._movers[mover].leg(a, b, depart_s=bucket * self.bucket_s)
                waits = tuple(c[2] for c in leg.crossings)
            except UnreachableError:  # the expected leg is inf: no sample drives it
                waits = ()
            self._waits[key] = waits
        return waits

    # -- sampling -----------------------------------------------------------------------
    def _expected_legs(self, run: _Run, target: int, t: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Expected leg time here -> target at each sample's departure (memo filled for
        the samples in ``mask``; 0 for the others)."""
        bk = self._bucket(t)
        out = np.zeros(len(t))
        for b in np.unique(bk[mask]).tolist():
            out[mask & (bk == b)] = self._legs[run.mover, b, run.here, target]
        return out

    def _expected_back(self, run: _Run, node: int, t: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Expected time node -> hub at each sample's departure (0 outside ``mask``)."""
        bk = self._bucket(t)
        pos = int(self.network.index(node)[0])
        out = np.zeros(len(t))
        for b in np.unique(bk[mask]).tolist():
            out[mask & (bk == b)] = self._back_row(run.mover, run.hub, b)[pos]
        return out

    def _drive(
        self, run: _Run, target: int, expected_s: np.ndarray, mask: np.ndarray, now_s: float
    ) -> np.ndarray:
        """Drive here -> target for the samples in ``mask`` as the engine's ``_drive`` does
        (a break first if the duty-time rule says so); returns the arrival times.

        ``expected_s`` is the leg's expected time (border waits included) before the
        vehicle's speed factor and the weather. On the first leg the vehicle has been
        under way since ``t`` without arriving: the draw is conditioned on arriving
        after ``now_s``.
        """
        d = self.scenario.drivers
        n = len(run.t)
        z = run.rng.standard_normal(n)
        t0 = run.t
        scale = self._hourly(self._road_factor, t0) / run.vtype.speed_factor
        bk = self._bucket(t0)
        waits_mean = np.zeros(n)
        waits_draw = np.zeros(n)
        wait_cv = self.scenario.traffic.border.wait_cv
        for b in np.unique(bk[mask]).tolist():
            means = self._wait_means(run.mover, b, run.here, target)
            if not means:
                continue
            sel = bk == b
            for mean in means:
                waits_mean[sel] += mean
                if mean <= 0:
                    continue
                if wait_cv == 0:
                    waits_draw[sel] += mean
                else:
                    shape = 1.0 / (wait_cv * wait_cv)
                    waits_draw[sel] += run.rng.gamma(shape, mean / shape, int(sel.sum()))
        driving = np.maximum(expected_s - waits_mean, 0.0) * scale
        drive = driving * np.exp(self._mu + self._sigma * z) + waits_draw * scale
        due = break_due_array(t0, drive, run.duty_from, d, crewed=run.vtype.crewed, mask=mask)
        start = np.where(due, t0 + break_s(d), t0)
        run.duty_from = np.where(due, start, run.duty_from)
        if run.first and run.here != target:
            rest = now_s - start - waits_draw * scale  # driving still to do: more than this
            need = mask & (rest > 0) & (driving > 0)
            if need.any():
                drive = np.where(
                    need, self._truncated(driving, z, rest) + waits_draw * scale, drive
                )
        return np.where(mask, start + drive, run.t)

    def _truncated(self, driving: np.ndarray, z: np.ndarray, rest: np.ndarray) -> np.ndarray:
        """``driving * LN`` conditioned on exceeding ``rest`` (same uniform as ``z``)."""
        if self._sigma == 0:
            return np.maximum(driving, rest)
        with np.errstate(divide="ignore", invalid="ignore"):
            z_rest = (np.log(np.maximum(rest, 1e-9) / np.maximum(driving, 1e-9)) - self._mu) / (
                self._sigma
            )
        u0 = ndtr(z_rest)
        u = np.minimum(u0 + (1.0 - u0) * ndtr(z), _U_MAX)
        out = driving * np.exp(self._mu + self._sigma * ndtri(u))
        return np.asarray(np.maximum(out, rest))

    def _service(
        self, run: _Run, order: LiveOrder, start: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The stop as ``Simulation._attempt`` plays it: returns (departure, failed).

        The customer's presence is drawn at the door (after parking and walking)
        from the hour's answer probability of the household mix.
        """
        s = self.scenario.service
        vt = run.vtype
        n = len(start)

        def draw(mean: float) -> np.ndarray:
            return draw_service_array(run.rng, mean, n, mu=self._svc_mu, sigma=self._svc_sigma)

        if vt.stop_overhead_s is None:
            overhead = draw(s.parking_s_mean) + draw(s.walk_s_mean)
        else:
            overhead = draw(vt.stop_overhead_s)
        door = start + overhead
        hour = np.floor((door % DAY_S) / H).astype(np.int64)
        p = answer_probability(self.scenario.customers, hour, self._hourly(self._stay_home, door))
        present = (run.rng.random(n) < p) & (vt.mode != "drone")
        handover = draw(handover_mean_s(s, order.option, vt))
        safe_drop = order.option == "safe_drop" and not vt.needs_presence
        dropped = draw(safe_drop_mean_s(s)) if vt.mode != "drone" else np.zeros(n)
        at_door = np.where(present, handover, dropped if safe_drop else 0.0)
        walk_back = draw(s.walk_s_mean) if vt.stop_overhead_s is None else np.zeros(n)
        failed = ~present & (not safe_drop)
        return door + at_door + walk_back, failed

    # -- one forecast -------------------------------------------------------------------
    def _start(self, state: LiveState, v: LiveVehicle, now_s: float) -> _Run | None:
        """The samples of one vehicle at its last known position and time."""
        if v.status not in ("on_duty", "on_break"):
            return None
        sc = self.scenario
        d = sc.drivers
        type_name = self._type_of.get(v.vehicle_id, self._default_type)
        vtype = sc.vehicle_types[type_name]
        hub = state.hub_nodes.get(v.hub_id, self.hub_nodes.get(v.hub_id))
        if hub is None:
            hub = next(iter(self.hub_nodes.values()))
        orders = [
            state.orders[oid]
            for oid in v.route
            if oid in state.orders and state.orders[oid].status == "routed"
        ]
        marks = set(v.reload_before)
        reload = np.array([o.order_id in marks for o in orders], dtype=bool)
        hub_settings = next((h for h in sc.hubs if h.id == v.hub_id), sc.hubs[0])
        here = v.node if v.node is not None else hub
        seen = v.seen_s if v.seen_s is not None else now_s
        on_duty = v.on_duty_s if v.on_duty_s is not None else seen
        shift_start, day_shift_end = shift_bounds_s(math.floor(on_duty / DAY_S), d)
        shift_end = v.shift_end_s if v.shift_end_s is not None else day_shift_end
        t0, duty = seen, on_duty
        if v.status == "on_break":
            start = v.break_start_s if v.break_start_s is not None else seen
            t0 = duty = max(start + break_s(d), now_s)
        elif here == hub and seen <= on_duty and orders:
            # On duty at the hub and not seen since: the first trip is still being loaded.
            reload[0] = False
            t0 = duty = max(on_duty, shift_start)
            t0 += load_time_s(hub_settings, vtype, _trip_length(reload, 0))
        key = int.from_bytes(hashlib.sha256(v.vehicle_id.encode()).digest()[:8], "little")
        n = self.samples
        return _Run(
            vehicle=v,
            vtype=vtype,
            mover=self._mover_of[type_name],
            hub=hub,
            hub_settings=hub_settings,
            orders=orders,
            reload=reload,
            rng=np.random.default_rng([self.seed, state.applied, key]),
            t=np.full(n, t0),
            duty_from=np.full(n, duty),
            here=here,
            limit_s=working_day_end_s(min(on_duty, shift_start), d),
            shift_end_s=shift_end,
            going=np.ones(n, dtype=bool),
            eta=np.full((len(orders), n), np.nan),
            fail=np.zeros((len(orders), n), dtype=bool),
            back_s=np.full(n, np.nan),
            expected_service=[expected_service_s(sc, o.option, vtype) for o in orders],
        )

    def _go_home(self, run: _Run, mask: np.ndarray, now_s: float) -> None:
        """The samples in ``mask`` drive back to the hub from where they are."""
        if not mask.any():
            return
        if run.here == run.hub:
            run.back_s = np.where(mask, run.t, run.back_s)
            return
        expected = self._expected_back(run, run.here, run.t, mask)
        ok = mask & np.isfinite(expected)
        arrive = self._drive(run, run.hub, np.where(ok, expected, 0.0), ok, now_s)
        run.back_s = np.where(ok, arrive, run.back_s)

    def _reload(self, run: _Run, k: int, now_s: float) -> None:
        """Back to the hub and load the trip that starts at stop ``k``, as the engine's
        ``_load`` does between trips (the wait for a free dock is not modelled).

        A vehicle last seen at its hub is already loading: since it got there
        (``at_hub_since_s``), so it leaves when that load is done or, if it was
        seen there later than that, not before it was last seen.
        """
        load = load_time_s(run.hub_settings, run.vtype, _trip_length(run.reload, k))
        since = run.vehicle.at_hub_since_s
        if k == 0 and since is not None:
            run.t = np.maximum(run.t, since + load)
        else:
            if run.here != run.hub:
                expected = self._expected_back(run, run.here, run.t, run.going)
                ok = run.going & np.isfinite(expected)
                run.t = self._drive(run, run.hub, np.where(ok, expected, 0.0), ok, now_s)
                run.going = ok
            run.t = np.where(run.going, run.t + load, run.t)
        run.here = run.hub
        run.first = False

    def predict(self, state: LiveState) -> Forecast:
        """Forecast every routed order and every vehicle on duty in ``state``."""
        started = time.perf_counter()
        now_s = state.now_s if math.isfinite(state.now_s) else 0.0
        runs = [
            run
            for vid in sorted(state.vehicles)
            if (run := self._start(state, state.vehicles[vid], now_s)) is not None
        ]
        steps = max((len(r.orders) for r in runs), default=0)
        for k in range(steps):
            live = [r for r in runs if k < len(r.orders) and r.going.any()]
            for r in live:
                if r.reload[k]:
                    self._reload(r, k, now_s)
            needs: dict[tuple[int, int], set[tuple[int, int]]] = {}
            for r in live:
                for b in np.unique(self._bucket(r.t[r.going])).tolist():
                    needs.setdefault((r.mover, b), set()).add((r.here, r.orders[k].node))
            self._resolve(needs)
            for r in live:
                self._step(r, k, now_s)
        for r in runs:
            self._go_home(r, r.going, now_s)
        return self._summarise(state, runs, now_s, time.perf_counter() - started)

    def _step(self, run: _Run, k: int, now_s: float) -> None:
        """Serve stop ``k`` in every sample still on the route, as ``_deliver_trip`` does:
        first the working-day check (can the stop be served and the hub reached in
        time, by expected times?), then the drive, the wait for the window, the stop."""
        order = run.orders[k]
        target = order.node
        scale = self._hourly(self._road_factor, run.t) / run.vtype.speed_factor
        leg = self._expected_legs(run, target, run.t, run.going)
        back = self._expected_back(run, target, run.t, run.going)
        with np.errstate(invalid="ignore"):
            over = past_working_day(
                run.t, leg * scale, run.expected_service[k], back * scale, run.limit_s
            )
        over |= ~np.isfinite(leg)
        home = run.going & over
        if home.any():
            self._go_home(run, home, now_s)
            run.going = run.going & ~home
        mask = run.going
        arrive = self._drive(run, target, np.where(mask, leg, 0.0), mask, now_s)
        start = np.maximum(arrive, order.window_start_s)
        depart, failed = self._service(run, order, start)
        if k == 0:  # no outcome yet: the first stop is not finished before now
            depart = np.maximum(depart, now_s)
        run.eta[k] = np.where(mask, arrive, np.nan)
        run.fail[k] = mask & failed
        run.t = np.where(mask, depart, run.t)
        run.here = target
        run.first = False

    def _summarise(
        self, state: LiveState, runs: list[_Run], now_s: float, elapsed_s: float
    ) -> Forecast:
        orders: dict[str, OrderForecast] = {}
        routes: dict[str, RouteForecast] = {}
        for r in runs:
            vid = r.vehicle.vehicle_id
            if r.orders:
                reached = np.isfinite(r.eta)
                q = np.full((len(r.orders), 3), np.nan)
                some = reached.any(axis=1)
                if some.any():
                    q[some] = np.nanquantile(r.eta[some], [0.1, 0.5, 0.9], axis=1).T
                ends = np.array([o.window_end_s for o in r.orders])
                miss = (~(r.eta <= ends[:, None])).mean(axis=1)
                unreached = 1.0 - reached.mean(axis=1)
                fail = r.fail.sum(axis=1) / np.maximum(reached.sum(axis=1), 1)
                for i, o in enumerate(r.orders):
                    orders[o.order_id] = OrderForecast(
                        order_id=o.order_id,
                        vehicle_id=vid,
                        eta_p10_s=float(q[i, 0]),
                        eta_p50_s=float(q[i, 1]),
                        eta_p90_s=float(q[i, 2]),
                        p_miss_window=float(miss[i]),
                        stop_index=i,
                        p_unreached=float(unreached[i]),
                        p_fail=float(fail[i]) if some[i] else math.nan,
                    )
            back = r.back_s[np.isfinite(r.back_s)]
            rq = np.quantile(back, [0.1, 0.5, 0.9]) if len(back) else np.full(3, np.nan)
            routes[vid] = RouteForecast(
                vehicle_id=vid,
                stops_left=len(r.orders),
                return_p50_s=float(rq[1]),
                return_p90_s=float(rq[2]),
                p_overtime=float((r.back_s > r.shift_end_s).mean()),
                shift_end_s=float(r.shift_end_s),
                return_p10_s=float(rq[0]),
                expected_unreached=float((~np.isfinite(r.eta)).sum(axis=0).mean()),
            )
        unrouted = 0
        for oid in sorted(state.orders):
            o = state.orders[oid]
            if o.status not in ("open", "routed") or oid in orders:
                continue
            unrouted += 1
            orders[oid] = OrderForecast(
                order_id=oid,
                vehicle_id=None,
                eta_p10_s=math.nan,
                eta_p50_s=math.nan,
                eta_p90_s=math.nan,
                p_miss_window=1.0 if o.window_end_s < now_s else math.nan,
            )
        return Forecast(
            as_of_s=state.now_s if math.isfinite(state.now_s) else math.nan,
            elapsed_s=elapsed_s,
            samples=self.samples,
            orders=orders,
            routes=routes,
            as_of_applied=state.applied,
            seed=self.seed,
            unrouted=unrouted,
        )
