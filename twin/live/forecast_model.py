"""The forecast's model of a day: the engine's travel, weather and fleet, ready to sample.

Built once per :class:`~twin.live.forecast.Forecaster` from the scenario and the
network, with the same builders the engine uses (:func:`~twin.world.make_movers`,
:func:`~twin.world.make_weather`, :func:`~twin.world.place_hubs`,
:func:`~twin.fleet.build_fleet`), so that the forecast is the engine's model of a
day and not a second one. It also holds the memos of expected legs, rows "every
node to a hub" and border waits: they change only speed, never values, so a
forecast does not depend on what was forecast before.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from twin.constants import HOUR_S
from twin.errors import UnreachableError
from twin.fleet import build_fleet
from twin.maps.network import RoadNetwork
from twin.rng import RandomStreams
from twin.scenario import Scenario
from twin.traveltime import TravelTimes, lognormal_params
from twin.world import make_movers, make_weather, place_hubs

__all__ = ["ForecastModel"]

#: Legs remembered across predictions before the memo is cleared (a float each).
_MAX_MEMO = 2_000_000
#: Rows "every node to a hub" kept (one per mover, hub and 15-min bucket: a day is 96).
_MAX_BACK_ROWS = 512


class ForecastModel:
    """The scenario's travel times, weather, hubs and fleet types, and the memos.

    Parameters
    ----------
    scenario : Scenario
        The (calibrated) scenario: travel, service, presence, drivers, weather.
    network : RoadNetwork
        The network the live state snaps to.

    Notes
    -----
    Movers are numbered (``mover_of``): vehicle types that drive alike share
    one :class:`TravelTimes`, so they share its shortest-path rows and memo
    entries. Not thread-safe, like the forecaster that owns it.
    """

    def __init__(self, scenario: Scenario, network: RoadNetwork) -> None:
        self.scenario = scenario
        self.network = network
        sc = scenario
        self.travel = TravelTimes(network, sc.traffic, start_weekday=sc.start_weekday)
        movers = make_movers(sc, network, self.travel)
        self.movers: list[TravelTimes] = []
        self.mover_of: dict[str, int] = {}
        for name in sc.vehicle_types:
            mover = movers.get(name, self.travel)  # a drone is forecast on the roads
            if not any(mover is m for m in self.movers):
                self.movers.append(mover)
            self.mover_of[name] = next(i for i, m in enumerate(self.movers) if m is mover)
        # The engine's weather: the same series (or the same generated one) it plans with.
        self.weather = make_weather(sc, RandomStreams(sc.seed))
        states = sc.weather.states
        self.road_factor = np.array([states[n].road_factor for n in self.weather.hourly])
        self.stay_home = np.array([states[n].stay_home_share for n in self.weather.hourly])
        self.hub_nodes = place_hubs(sc, network)
        fleet = build_fleet(sc, self.hub_nodes)
        self.type_of = {v.id: v.type_name for v in fleet}
        self.drivers_of = {v.id: v.drivers for v in fleet}
        self.default_type = fleet[0].type_name if fleet else next(iter(sc.vehicle_types))
        self.bucket_s = sc.traffic.bucket_min * 60.0
        self.mu, self.sigma = lognormal_params(sc.traffic.noise.cv)
        self.svc_mu, self.svc_sigma = lognormal_params(sc.service.service_cv)
        self._legs: dict[tuple[int, int, int, int], float] = {}
        self._backs: dict[tuple[int, int, int], np.ndarray] = {}
        self._waits: dict[tuple[int, int, int, int], tuple[float, ...]] = {}
        self._side = self._border_sides()

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

    def bucket(self, t: np.ndarray) -> np.ndarray:
        """The traffic bucket (``traffic.bucket_min`` minutes) of each time."""
        return np.floor(t / self.bucket_s).astype(np.int64)

    def hourly(self, table: np.ndarray, t: np.ndarray) -> np.ndarray:
        """The hour's entry of an hourly ``table`` at each time (clipped to its ends)."""
        i = np.clip(np.floor(t / HOUR_S).astype(np.int64), 0, len(table) - 1)
        return table[i]

    def back_row(self, mover: int, hub: int, bucket: int) -> np.ndarray:
        """Expected seconds from every node (network order) to ``hub`` in ``bucket``."""
        key = (mover, hub, bucket)
        row = self._backs.get(key)
        if row is None:
            if len(self._backs) >= _MAX_BACK_ROWS:
                self._backs.clear()
            m = self.movers[mover].matrix(
                self.network.node_ids, [hub], depart_s=bucket * self.bucket_s, with_length=False
            )
            row = self._backs[key] = m.time_s[:, 0].copy()
        return row

    def resolve(self, needs: dict[tuple[int, int], set[tuple[int, int]]]) -> None:
        """Expected legs not in the memo: one ``matrix`` call per (mover, bucket)."""
        if len(self._legs) > _MAX_MEMO:
            self._legs.clear()
        for (mover, bucket), pairs in sorted(needs.items()):
            todo = sorted(p for p in pairs if (mover, bucket, *p) not in self._legs)
            if not todo:
                continue
            sources = sorted({a for a, _ in todo})
            targets = sorted({b for _, b in todo})
            m = self.movers[mover].matrix(
                sources, targets, depart_s=bucket * self.bucket_s, with_length=False
            )
            row = {a: i for i, a in enumerate(sources)}
            col = {b: j for j, b in enumerate(targets)}
            for a, b in todo:
                self._legs[mover, bucket, a, b] = float(m.time_s[row[a], col[b]])

    def wait_means(self, mover: int, bucket: int, a: int, b: int) -> tuple[float, ...]:
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
                leg = self.movers[mover].leg(a, b, depart_s=bucket * self.bucket_s)
                waits = tuple(c[2] for c in leg.crossings)
            except UnreachableError:  # the expected leg is inf: no sample drives it
                waits = ()
            self._waits[key] = waits
        return waits

    def expected_legs(
        self, mover: int, here: int, target: int, t: np.ndarray, mask: np.ndarray
    ) -> np.ndarray:
        """Expected leg time here -> target at each sample's departure (memo filled for
        the samples in ``mask`` by :meth:`resolve`; 0 for the others)."""
        bk = self.bucket(t)
        out = np.zeros(len(t))
        for b in np.unique(bk[mask]).tolist():
            out[mask & (bk == b)] = self._legs[mover, b, here, target]
        return out

    def expected_back(
        self, mover: int, hub: int, node: int, t: np.ndarray, mask: np.ndarray
    ) -> np.ndarray:
        """Expected time node -> hub at each sample's departure (0 outside ``mask``)."""
        bk = self.bucket(t)
        pos = int(self.network.index(node)[0])
        out = np.zeros(len(t))
        for b in np.unique(bk[mask]).tolist():
            out[mask & (bk == b)] = self.back_row(mover, hub, b)[pos]
        return out
