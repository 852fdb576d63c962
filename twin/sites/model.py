"""The site model of a study: candidates and demand areas in, ``k`` sites opened by
:mod:`twin.sites.facility`, each answer a :class:`Configuration` (sites, fleet split, cost).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from twin.constants import HOUR_S
from twin.errors import ScenarioError
from twin.maps.network import RoadNetwork
from twin.scenario.edit import derive
from twin.scenario.study import SiteSettings
from twin.sites.areas import DemandAreas, aggregate_demand
from twin.sites.candidates import Candidate, generate_candidates, read_candidates
from twin.sites.facility import FacilityProblem, FacilitySolution, solve
from twin.traveltime import TravelTimes

if TYPE_CHECKING:
    from twin.demand import Order
    from twin.scenario import Scenario


@dataclass
class Configuration:
    """The model's answer for one ``k``: sites open, areas served by each, figures."""

    k: int
    solution: FacilitySolution
    sites: list[Candidate]
    #: Orders per day each open site serves (by site id), per the model.
    load: dict[str, float] = field(default_factory=dict)
    #: Vehicles of the fleet type at each open site (simulation).
    fleet: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        s = self.solution
        return {
            "k": self.k,
            "status": s.status,
            "clock_stopped": s.clock_stopped,
            "sites": [
                {
                    **c.to_dict(),
                    "orders_per_day": round(self.load.get(c.id, 0.0), 2),
                    "vehicles": self.fleet.get(c.id, 0),
                }
                for c in self.sites
            ],
            "model": {
                "fixed_cost_per_day": round_or_none(s.fixed_cost),
                "delivery_cost_per_day": round_or_none(s.delivery_cost),
                "total_cost_per_day": round_or_none(s.total_cost),
                "lower_bound_per_day": round_or_none(s.bound),
                "share_within_service_time": round_or_none(s.service_share, 4),
            },
        }


def round_or_none(value: float, digits: int = 2) -> float | None:
    """``value`` rounded for a JSON result; None where it is not a finite number."""
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


@dataclass
class SiteStudy:
    """Candidates, demand and the facility problem of one scenario (see the module docstring)."""

    scenario: Scenario
    network: RoadNetwork
    settings: SiteSettings
    candidates: list[Candidate]
    areas: DemandAreas
    problem: FacilityProblem
    stops_per_trip: float

    @classmethod
    def build(
        cls,
        scenario: Scenario,
        network: RoadNetwork,
        *,
        base_dir: str | Path = ".",
    ) -> SiteStudy:
        """Read or generate the candidates, sample demand and cost every site-area pair."""
        settings = scenario.sites
        if settings is None:
            raise ScenarioError(
                f"Scenario {scenario.name!r} has no 'sites:' section; add one with the "
                "candidate sites (candidates: file or generate: {...})."
            )
        from twin.rng import RandomStreams
        from twin.world import build_world  # it imports the scenario, which imports this

        # The engine's own demand (its generator, customers and locker choices), hub
        # placement and travel times: the model plans for what the simulation will run.
        days = settings.sample_days
        lockers = settings.kind == "locker"
        # Sampled days, not a sequence to measure: no warm-up.
        changes: dict[str, Any] = {"days": days, "warmup_days": 0}
        if lockers:  # where customers live: which lockers they use is the question
            changes["lockers"] = {"sites": []}
        sample = derive(scenario, changes, keep_variants=True)
        sampled = build_world(sample, network, RandomStreams(sample.seed))
        orders = list(sampled.orders.values())
        areas = aggregate_demand(orders, days, network, settings)
        if settings.candidates is not None:
            path = Path(settings.candidates)
            new = read_candidates(path if path.is_absolute() else Path(base_dir) / path, settings)
        else:
            new = generate_candidates(network, areas, settings)
        hubs = [
            Candidate(hub, *_latlon(network, node), 0.0, existing=True, node=node)
            for hub, node in sampled.hub_nodes.items()
        ]
        if lockers:
            existing = [
                Candidate(site.id, site.lat, site.lon, 0.0, existing=True)
                for site in scenario.lockers.sites
            ]
            candidates = _snap(network, scenario, existing + new)
        else:
            candidates = (hubs if settings.existing_hubs else []) + _snap(network, scenario, new)
        stops = settings.stops_per_trip or _default_stops(scenario, settings)
        candidates = _linked_to_hubs(sampled.travel, candidates, [h.node for h in hubs], settings)
        if lockers:
            problem = _locker_problem(
                scenario,
                network,
                candidates,
                areas,
                settings,
                orders,
                sampled.customers.locker_preference,
            )
        else:
            problem = _problem(scenario, sampled.travel, candidates, areas, settings, stops)
            _check_capacities(candidates, areas)
        return cls(scenario, network, settings, candidates, areas, problem, stops)

    @property
    def n_new(self) -> int:
        return sum(not c.existing for c in self.candidates)

    def solve(self, k: int) -> Configuration:
        """The model's best configuration with ``k`` new sites."""
        return self._configuration(k, self.problem)

    def baseline(self) -> Configuration | None:
        """The existing hubs alone with today's fleet: the reference every saving is
        measured against. The service constraint does not bind it (it is what runs)."""
        if not self.problem.existing.any():
            return None
        config = self._configuration(0, replace(self.problem, service_share=0.0))
        if self.settings.kind != "locker":
            today = {c.id: 0 for c in config.sites}
            for entry in self.scenario.fleet:
                if entry.type == self.fleet_type and entry.hub in today:
                    today[entry.hub] += entry.count
            config.fleet = today
        return config

    def _configuration(self, k: int, problem: FacilityProblem) -> Configuration:
        solution = solve(
            problem,
            k,
            work_limit=self.settings.work_limit,
            time_limit_s=self.settings.time_limit_s,
        )
        if not solution.feasible:
            return Configuration(k, solution, [])
        # Rows past the candidates are not sites (the lockers' doorstep option).
        opened = [j for j in solution.open_sites if j < len(self.candidates)]
        sites = [self.candidates[j] for j in opened]
        share = problem.load if problem.load is not None else np.ones_like(problem.cost)
        load = {
            self.candidates[j].id: float(
                (problem.demand * share[j])[solution.assignment == j].sum()
            )
            for j in opened
        }
        if self.settings.kind == "locker":  # the fleet stays where it is
            return Configuration(k, solution, sites, load)
        return Configuration(k, solution, sites, load, self._split_fleet(sites, load))

    def _split_fleet(self, sites: list[Candidate], load: dict[str, float]) -> dict[str, int]:
        """The fleet type's vehicles, shared by the sites in proportion to the orders
        they serve (largest remainders; at least one per site)."""
        total = sum(e.count for e in self.scenario.fleet if e.type == self.fleet_type)
        if total < len(sites):
            raise ScenarioError(
                f"sites: {len(sites)} sites need at least one {self.fleet_type!r} each, but "
                f"the fleet has {total}; add vehicles or lower k."
            )
        demand = np.array([load[s.id] for s in sites])
        share = demand / demand.sum() * (total - len(sites)) if demand.sum() > 0 else 0 * demand
        count = 1 + np.floor(share).astype(int)
        for j in np.argsort(-(share - np.floor(share)), kind="stable")[: total - int(count.sum())]:
            count[j] += 1
        return {s.id: int(n) for s, n in zip(sites, count, strict=True)}

    @property
    def fleet_type(self) -> str:
        return _fleet_type(self.scenario, self.settings)


def _latlon(network: RoadNetwork, node: int) -> tuple[float, float]:
    i = network.index(node)[0]
    return float(network.lat[i]), float(network.lon[i])


def _fleet_type(scenario: Scenario, settings: SiteSettings) -> str:
    """The vehicle type split among the open sites: the study's, else the fleet's first."""
    return settings.fleet_type or scenario.fleet[0].type


def _snap(network: RoadNetwork, scenario: Scenario, candidates: list[Candidate]) -> list[Candidate]:
    """Each site on its nearest road node; a site off the map is an error."""
    limit = scenario.map.max_snap_m
    snap = network.snap(
        [c.lat for c in candidates], [c.lon for c in candidates], max_distance_m=limit
    )
    out = []
    for c, node, dist, far in zip(
        candidates, snap.node, snap.distance_m, snap.too_far, strict=True
    ):
        if far:
            raise ScenarioError(
                f"sites: site {c.id!r} at ({c.lat:.5f}, {c.lon:.5f}) is {dist:,.0f} m from the "
                f"nearest road of map {network.meta.name!r} (limit map.max_snap_m = {limit:g} m); "
                "move it onto the map or remove it."
            )
        out.append(
            Candidate(
                c.id, c.lat, c.lon, c.fixed_cost_per_day, c.capacity_per_day, c.existing, int(node)
            )
        )
    return out


def _default_stops(scenario: Scenario, settings: SiteSettings) -> float:
    vtype = scenario.vehicle_types[_fleet_type(scenario, settings)]
    vehicles = sum(e.count for e in scenario.fleet) or 1
    trips = vehicles * vtype.max_trips
    return float(max(1.0, min(vtype.capacity_parcels, scenario.demand.orders_per_day / trips)))


def _linked_to_hubs(
    travel: TravelTimes, candidates: list[Candidate], hubs: list[int], settings: SiteSettings
) -> list[Candidate]:
    """Sites reachable to and from the scenario's hubs (at noon, as the engine decides
    which customers are served), so every configuration serves the same customers.
    A generated site that is not is dropped; a given one is an error."""
    sites = [c.node for c in candidates]
    out = travel.matrix(hubs, sites, depart_s=12 * HOUR_S, with_length=False).time_s
    back = travel.matrix(sites, hubs, depart_s=12 * HOUR_S, with_length=False).time_s
    linked = (np.isfinite(out) & np.isfinite(back.T)).any(axis=0)
    for c, ok in zip(candidates, linked, strict=True):
        if not ok and settings.candidates is not None:
            raise ScenarioError(
                f"sites: site {c.id!r} at ({c.lat:.5f}, {c.lon:.5f}) cannot be reached from "
                "the scenario's hubs and back (across a closed border or on a cut-off road); "
                "move it or remove it."
            )
    return [c for c, ok in zip(candidates, linked, strict=True) if ok]


def _problem(
    scenario: Scenario,
    travel: TravelTimes,
    candidates: list[Candidate],
    areas: DemandAreas,
    settings: SiteSettings,
    stops: float,
) -> FacilityProblem:
    """Cost and service share of every site-area pair from road travel times."""
    depart = settings.depart_h * HOUR_S
    sites = [c.node for c in candidates]
    nodes = areas.nodes.tolist()
    out = travel.matrix(sites, nodes, depart_s=depart)
    back = travel.matrix(nodes, sites, depart_s=depart)
    assert out.length_m is not None
    assert back.length_m is not None
    vtype = scenario.vehicle_types[_fleet_type(scenario, settings)]
    hours = (out.time_s + back.time_s.T) / HOUR_S / vtype.speed_factor
    km = (out.length_m + back.length_m.T) / 1000.0
    per_order = (hours * scenario.drivers.cost_per_hour + km * vtype.cost_per_km) / stops
    w = areas.node_orders
    n = areas.n
    cost = np.empty((len(candidates), n))
    within = np.empty((len(candidates), n))
    near = (out.time_s / vtype.speed_factor <= settings.service_min * 60.0).astype(float)
    for a in range(n):
        members = areas.node_area == a
        share = w[members] / w[members].sum()
        cost[:, a] = per_order[:, members] @ share
        within[:, a] = near[:, members] @ share
    cost[~np.isfinite(cost)] = np.inf
    return FacilityProblem(
        demand=areas.orders_per_day,
        cost=cost,
        fixed_cost=np.array([0.0 if c.existing else c.fixed_cost_per_day for c in candidates]),
        capacity=np.array([c.capacity_per_day for c in candidates]),
        existing=np.array([c.existing for c in candidates]),
        within=within,
        service_share=settings.service_share,
    )


def _locker_problem(
    scenario: Scenario,
    network: RoadNetwork,
    candidates: list[Candidate],
    areas: DemandAreas,
    settings: SiteSettings,
    orders: Sequence[Order],
    preference: np.ndarray,
) -> FacilityProblem:
    """Locker siting as facility location, with the engine's own locker rules.

    A customer sends a parcel that fits a compartment to the nearest locker with
    probability ``preference * 0.5 ** (d / half_distance_km)`` within
    ``max_distance_km`` (straight line, as :mod:`twin.lockers` decides in the
    engine); of the other parcels, ``failed_share`` fail at the door and
    ``redirect_share`` of those go to a locker within ``redirect_radius_km``
    instead of a second attempt. Each parcel at a locker saves the doorstep
    cost less the locker cost. An area served by locker ``j`` costs, per order,
    the doorstep cost less its expected uptake times that saving; a last row,
    open and free, is the doorstep alone. A locker's capacity holds only the
    parcels sent to it, and the service share is the share of orders within
    walking distance.
    """
    lockers = scenario.lockers
    largest = max(lockers.compartment_volume_m3.values())
    index = {int(n): i for i, n in enumerate(areas.nodes)}
    weight = np.zeros(len(areas.nodes))
    for order in orders:
        if order.volume_m3 <= largest:
            weight[index[int(order.node)]] += preference[order.customer]
    counts = areas.node_orders * areas.sample_days
    node_pref = np.divide(weight, counts, out=np.zeros_like(weight), where=counts > 0)
    site_xy = network.project(
        np.array([c.lat for c in candidates]), np.array([c.lon for c in candidates])
    )
    node_xy = network.node_xy[network.index(areas.nodes)]
    km = np.linalg.norm(site_xy[:, None, :] - node_xy[None, :, :], axis=2) / 1000.0
    reach = km <= lockers.max_distance_km
    chosen = node_pref * 0.5 ** (km / lockers.half_distance_km) * reach
    redirect = settings.failed_share * lockers.redirect_share * (km <= lockers.redirect_radius_km)
    uptake = chosen + (1.0 - chosen) * redirect
    m, n = len(candidates), areas.n
    w = areas.node_orders
    by_area = np.zeros((m, n))
    within = np.zeros((m + 1, n))
    for a in range(n):
        members = areas.node_area == a
        share = w[members] / w[members].sum()
        by_area[:, a] = uptake[:, members] @ share
        within[:m, a] = reach[:, members] @ share
    door, saving = (
        settings.doorstep_cost_per_order,
        (settings.doorstep_cost_per_order - settings.locker_cost_per_order),
    )
    return FacilityProblem(
        demand=areas.orders_per_day,
        cost=np.vstack([door - saving * by_area, np.full((1, n), door)]),
        fixed_cost=np.array(
            [0.0 if c.existing else c.fixed_cost_per_day for c in candidates] + [0.0]
        ),
        capacity=np.array([c.capacity_per_day for c in candidates] + [math.inf]),
        existing=np.array([c.existing for c in candidates] + [True]),
        within=within,
        service_share=settings.service_share,
        load=np.vstack([by_area, np.zeros((1, n))]),
    )


def _check_capacities(candidates: list[Candidate], areas: DemandAreas) -> None:
    smallest = float(areas.orders_per_day.min())
    for c in candidates:
        if c.capacity_per_day < smallest:
            raise ScenarioError(
                f"sites: site {c.id!r} has capacity {c.capacity_per_day:g} orders/day, below "
                f"the demand of every customer area (the smallest is {smallest:.1f} orders/day); "
                "raise its capacity or remove it."
            )
    total = sum(c.capacity_per_day for c in candidates)
    need = float(areas.orders_per_day.sum())
    if total < need:
        raise ScenarioError(
            f"sites: all sites together handle {total:,.0f} orders/day, less than the "
            f"expected demand of {need:,.0f}; raise capacities or add sites."
        )
