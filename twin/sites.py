"""Network design: where to put micro-fulfillment centers, micro-hubs or parcel lockers,
and what they save.

A study runs in three steps:

1. **Candidates**: sites from a CSV or GeoJSON file (lat/lon, fixed cost per
   day, capacity in orders per day), or generated from the map: a grid over
   the demand area, one site per cell at the node nearest its centre on a
   major road (a truck must reach it). The scenario's hubs are existing sites:
   always open, their cost already paid.
2. **Model**: demand is the scenario's own demand model over many sampled days
   (customers' locker choices included: a parcel sent to a locker is delivered
   there), clustered into areas. The cost of serving an order from a site is
   the van's stem trip there and back on the road network (time-dependent
   travel times at ``depart_h``, driver wage and distance cost) shared by the
   stops of a trip; the local tour between stops does not depend on the site
   and is left out. :mod:`twin.facility` opens ``k`` new sites at least fixed
   plus delivery cost, within capacities and a service constraint (a share of
   demand within ``service_min`` of its site), for each ``k``: the trade-off
   curve.
3. **Simulation**: each recommended configuration becomes a scenario (its
   sites as hubs, the fleet split among them by the demand they serve) and is
   simulated with replications. Every configuration sees the same orders
   (common random numbers: candidate sites must be reachable to and from the
   scenario's hubs, so the customers are the same), so savings against the
   existing network are paired differences with confidence intervals, and
   where the static model's saving falls outside them, the two disagree.

Lockers (``kind: locker``) follow the same three steps with their own model:
the scenario's locker banks are the existing sites, demand is where customers
live, and an area's cost is the doorstep cost less the parcels its customers
would send to the locker (the engine's choice and redirection rules) times
what each saves; configurations change the lockers, never the hubs or fleet
(:func:`_locker_problem`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from twin.errors import ScenarioError
from twin.facility import FacilityProblem, FacilitySolution, solve
from twin.maps.network import ROAD_CLASSES, RoadNetwork
from twin.scenario.edit import derive
from twin.scenario.study import GenerateSettings, SiteSettings
from twin.traveltime import TravelTimes

if TYPE_CHECKING:  # scenario.py imports this module for its ``sites:`` section
    from twin.demand import Order
    from twin.scenario import Scenario

__all__ = [
    "Candidate",
    "Configuration",
    "DemandAreas",
    "GenerateSettings",
    "SiteSettings",
    "SiteStudy",
    "aggregate_demand",
    "configuration_scenario",
    "generate_candidates",
    "read_candidates",
]

H = 3600.0


@dataclass(frozen=True)
class Candidate:
    """A possible (or existing) site."""

    id: str
    lat: float
    lon: float
    fixed_cost_per_day: float
    capacity_per_day: float = math.inf
    existing: bool = False
    node: int = -1

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "lat": round(self.lat, 6),
            "lon": round(self.lon, 6),
            "existing": self.existing,
            "fixed_cost_per_day": self.fixed_cost_per_day,
            "capacity_per_day": None
            if math.isinf(self.capacity_per_day)
            else self.capacity_per_day,
        }


# -- candidates ----------------------------------------------------------------------------
_LAT = ("lat", "latitude", "y")
_LON = ("lon", "lng", "longitude", "x")
_FIXED = ("fixed_cost_per_day", "fixed_cost")
_CAPACITY = ("capacity_per_day", "capacity")


def read_candidates(path: str | Path, settings: SiteSettings) -> list[Candidate]:
    """Sites from a CSV (columns ``id``, ``lat``, ``lon``, optional ``fixed_cost``
    and ``capacity``) or a GeoJSON FeatureCollection of points (the same names as
    properties). Every problem is a :class:`ScenarioError` naming file and row."""
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"Sites file {path} does not exist; check sites.candidates.")
    if path.suffix.lower() in (".geojson", ".json"):
        rows = _geojson_rows(path)
    elif path.suffix.lower() == ".csv":
        try:
            frame = pd.read_csv(path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise ScenarioError(f"Sites file {path} is not a readable CSV ({exc}).") from None
        frame.columns = [str(c).strip().lower() for c in frame.columns]
        if not any(c in frame for c in _LAT) or not any(c in frame for c in _LON):
            raise ScenarioError(
                f"Sites file {path} has no coordinates: give each site's latitude and "
                f"longitude in columns 'lat' and 'lon' (found {list(frame.columns)})."
            )
        records = frame.to_dict("records")
        rows = [(f"row {k + 2}", {str(c): v for c, v in r.items()}) for k, r in enumerate(records)]
    else:
        raise ScenarioError(f"Sites file {path}: use a .csv or .geojson file.")
    if not rows:
        raise ScenarioError(f"Sites file {path} lists no sites.")
    out = [_candidate(path, where, row, settings, k) for k, (where, row) in enumerate(rows)]
    ids = [c.id for c in out]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ScenarioError(f"Sites file {path}: site ids {dupes} appear more than once.")
    return out


def _geojson_rows(path: Path) -> list[tuple[str, dict[str, Any]]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"Sites file {path} is not valid GeoJSON ({exc}).") from None
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list):
        raise ScenarioError(f"Sites file {path}: expected a GeoJSON FeatureCollection.")
    rows = []
    for k, feature in enumerate(features):
        geometry = (feature or {}).get("geometry") or {}
        props = dict((feature or {}).get("properties") or {})
        coords = geometry.get("coordinates")
        if geometry.get("type") != "Point" or not isinstance(coords, list) or len(coords) < 2:
            raise ScenarioError(
                f"Sites file {path}, feature {k}: needs a Point geometry with coordinates "
                "[lon, lat]."
            )
        props["lon"], props["lat"] = coords[0], coords[1]
        rows.append((f"feature {k}", props))
    return rows


def _pick(row: dict[str, Any], names: Sequence[str]) -> Any:
    for name in names:
        value = row.get(name)
        if value is not None and not (isinstance(value, float) and math.isnan(value)):
            return value
    return None


def _number(path: Path, where: str, name: str, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ScenarioError(
            f"Sites file {path}, {where}: {name} {value!r} is not a number."
        ) from None


def _candidate(
    path: Path, where: str, row: dict[str, Any], settings: SiteSettings, k: int
) -> Candidate:
    site = str(_pick(row, ("id", "name")) or f"site-{k + 1}")
    lat, lon = _pick(row, _LAT), _pick(row, _LON)
    if lat is None or lon is None:
        raise ScenarioError(
            f"Sites file {path}, {where} (site {site!r}): no coordinates; give lat and lon."
        )
    lat_f, lon_f = _number(path, where, "lat", lat), _number(path, where, "lon", lon)
    if not (-90 <= lat_f <= 90 and -180 <= lon_f <= 180):
        raise ScenarioError(
            f"Sites file {path}, {where} (site {site!r}): ({lat_f}, {lon_f}) is not a "
            "latitude/longitude pair; check the column order."
        )
    fixed = _pick(row, _FIXED)
    capacity = _pick(row, _CAPACITY)
    fixed_f = (
        settings.fixed_cost_per_day if fixed is None else _number(path, where, "fixed_cost", fixed)
    )
    cap_default = settings.capacity_per_day or math.inf
    cap_f = cap_default if capacity is None else _number(path, where, "capacity", capacity)
    if fixed_f < 0 or cap_f <= 0:
        raise ScenarioError(
            f"Sites file {path}, {where} (site {site!r}): fixed_cost must be >= 0 and "
            "capacity > 0 orders per day."
        )
    return Candidate(site, lat_f, lon_f, fixed_f, cap_f)


def generate_candidates(
    network: RoadNetwork, areas: DemandAreas, settings: SiteSettings
) -> list[Candidate]:
    """One candidate per grid cell over the demand area, at the node nearest the cell
    centre among those on the allowed road classes (within half a cell)."""
    assert settings.generate is not None
    spacing = settings.generate.spacing_m
    allowed = np.isin(np.asarray(ROAD_CLASSES), list(settings.generate.road_classes))
    on_major = np.zeros(network.n_nodes, dtype=bool)
    major_edges = allowed[network.edge_class]
    on_major[network.edge_u[major_edges]] = True
    on_major[network.edge_v[major_edges]] = True
    if not on_major.any():
        raise ScenarioError(
            f"sites.generate: map {network.meta.name!r} has no roads of classes "
            f"{list(settings.generate.road_classes)}; allow other road classes."
        )
    xy = network.node_xy
    pool = np.flatnonzero(on_major)
    area_xy = network.project(areas.lat, areas.lon)
    lo, hi = area_xy.min(axis=0), area_xy.max(axis=0)
    nx_cells = max(1, int(np.ceil((hi[0] - lo[0]) / spacing)))
    ny_cells = max(1, int(np.ceil((hi[1] - lo[1]) / spacing)))
    out = []
    for r in range(ny_cells):
        for c in range(nx_cells):
            centre = lo + spacing * (np.array([c, r]) + 0.5)
            d = np.linalg.norm(xy[pool] - centre, axis=1)
            best = int(np.argmin(d))
            if d[best] > spacing / 2:
                continue
            i = int(pool[best])
            out.append(
                Candidate(
                    id=f"g{r:02d}-{c:02d}",
                    lat=float(network.lat[i]),
                    lon=float(network.lon[i]),
                    fixed_cost_per_day=settings.fixed_cost_per_day,
                    capacity_per_day=settings.capacity_per_day or math.inf,
                    node=int(network.node_ids[i]),
                )
            )
    return out


# -- demand --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DemandAreas:
    """Customer areas: expected orders per day, where they are, and who is in them."""

    lat: np.ndarray
    lon: np.ndarray
    orders_per_day: np.ndarray
    #: Delivery nodes and their orders per day, and the area each belongs to.
    nodes: np.ndarray
    node_orders: np.ndarray
    node_area: np.ndarray
    sample_days: int

    @property
    def n(self) -> int:
        return len(self.orders_per_day)


def aggregate_demand(
    orders: Sequence[Order], days: int, network: RoadNetwork, settings: SiteSettings
) -> DemandAreas:
    """Orders per delivery point over ``days`` days (a parcel sent to a locker counts
    at the locker), grouped into at most ``max_areas`` grid cells."""
    if not orders:
        raise ScenarioError("sites: the scenario's demand model places no orders to plan for.")
    nodes, counts = np.unique(
        np.array([o.node for o in orders], dtype=np.int64), return_counts=True
    )
    per_day = counts / days
    idx = network.index(nodes)
    xy = network.node_xy[idx]
    span = np.ptp(xy, axis=0).max() + 1.0
    cell = span / math.sqrt(settings.max_areas)
    while True:
        keys = np.floor(xy / cell).astype(np.int64)
        _, area = np.unique(keys, axis=0, return_inverse=True)
        area = area.ravel()
        if area.max() + 1 <= settings.max_areas:
            break
        cell *= 1.15
    n = int(area.max()) + 1
    weight = np.bincount(area, weights=per_day, minlength=n)
    cx = np.bincount(area, weights=per_day * xy[:, 0], minlength=n) / weight
    cy = np.bincount(area, weights=per_day * xy[:, 1], minlength=n) / weight
    lat, lon = network.projection.latlon(cx, cy)
    return DemandAreas(
        lat=np.asarray(lat),
        lon=np.asarray(lon),
        orders_per_day=weight,
        nodes=nodes,
        node_orders=per_day,
        node_area=area,
        sample_days=days,
    )


# -- the study -----------------------------------------------------------------------------------
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
            "sites": [
                {
                    **c.to_dict(),
                    "orders_per_day": round(self.load.get(c.id, 0.0), 2),
                    "vehicles": self.fleet.get(c.id, 0),
                }
                for c in self.sites
            ],
            "model": {
                "fixed_cost_per_day": _round(s.fixed_cost),
                "delivery_cost_per_day": _round(s.delivery_cost),
                "total_cost_per_day": _round(s.total_cost),
                "lower_bound_per_day": _round(s.bound),
                "share_within_service_time": _round(s.service_share, 4),
            },
        }


def _round(value: float, digits: int = 2) -> float | None:
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
        changes: dict[str, Any] = {"days": days}
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
        solution = solve(problem, k, time_limit_s=self.settings.time_limit_s)
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
    out = travel.matrix(hubs, sites, depart_s=12 * H, with_length=False).time_s
    back = travel.matrix(sites, hubs, depart_s=12 * H, with_length=False).time_s
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
    depart = settings.depart_h * H
    sites = [c.node for c in candidates]
    nodes = areas.nodes.tolist()
    out = travel.matrix(sites, nodes, depart_s=depart)
    back = travel.matrix(nodes, sites, depart_s=depart)
    assert out.length_m is not None
    assert back.length_m is not None
    vtype = scenario.vehicle_types[_fleet_type(scenario, settings)]
    hours = (out.time_s + back.time_s.T) / H / vtype.speed_factor
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


# -- simulation ----------------------------------------------------------------------------------
def configuration_scenario(study: SiteStudy, config: Configuration) -> Scenario:
    """The scenario with the configuration's sites as hubs and the fleet split among
    them; for lockers, with the configuration's lockers and nothing else changed."""
    base = study.scenario
    name = f"{base.name}[k={config.k}]"
    if study.settings.kind == "locker":  # the chosen lockers; hubs and fleet unchanged
        today = {site.id: site.model_dump(mode="json") for site in base.lockers.sites}
        sites = [
            today[s.id] if s.existing else {"id": s.id, "lat": s.lat, "lon": s.lon}
            for s in config.sites
        ]
        return derive(base, {"sites": None, "lockers": {"sites": sites}}, name=name)
    template = base.hubs[0].model_dump(mode="json")
    hubs = [h.model_dump(mode="json") for h in base.hubs]  # other vehicle types stay there
    for site in config.sites:
        if not site.existing:
            hubs.append({**template, "id": site.id, "lat": site.lat, "lon": site.lon})
    fleet_type = study.fleet_type
    fleet = [e.model_dump(mode="json") for e in base.fleet if e.type != fleet_type]
    fleet += [{"type": fleet_type, "count": n, "hub": sid} for sid, n in config.fleet.items()]
    return derive(base, {"sites": None, "hubs": hubs, "fleet": fleet}, name=name)


# -- evaluation by simulation ---------------------------------------------------------------------
#: KPIs a site study reports for each configuration (the network's own figures first).
STUDY_KPIS = (
    "network_cost_per_day",
    "network_cost_per_delivery",
    "site_cost_per_day",
    "cost_per_delivery",
    "on_time_rate",
    "first_attempt_success_rate",
    "delivered",
    "km_per_delivery",
    "co2_kg_per_delivery",
    "overtime_h",
    "driver_hours_per_day",
    "km_per_day",
    "locker_share",
)


#: KPIs whose paired change against the existing network explains a saving or a loss.
CHANGE_KPIS = ("driver_hours_per_day", "km_per_day", "overtime_h", "on_time_rate")


@dataclass
class Evaluation:
    """Simulated replications of one configuration, in replication order."""

    config: Configuration
    runs: list[dict[str, float]]
    demand_digests: list[str]

    def values(self, kpi: str) -> list[float]:
        return [float(run.get(kpi, math.nan)) for run in self.runs]


def site_cost_per_day(config: Configuration) -> float:
    """Fixed costs per day of the configuration's new sites (existing ones are sunk)."""
    return float(sum(s.fixed_cost_per_day for s in config.sites if not s.existing))


def simulate(
    study: SiteStudy,
    configs: Sequence[Configuration],
    *,
    replications: int,
    workers: int = 1,
    on_run: Any = None,
) -> list[Evaluation]:
    """Simulate each configuration ``replications`` times (the same orders in each
    replication across configurations) and add the network's costs to the KPIs:
    vehicles plus the new sites' fixed costs, per day and per delivery; and the paid
    driver hours and kilometres per day, where the vehicle cost comes from."""
    from twin.experiment import PolicySpec, RunSpec, execute, execute_run

    specs = []
    for config in configs:
        scenario = configuration_scenario(study, config)
        for r in range(replications):
            specs.append(
                RunSpec(
                    run_id=f"k{config.k}-r{r}",
                    scenario=scenario,
                    policy=PolicySpec(scenario.policy.name),
                    replication=r,
                    columns={"k": config.k},
                )
            )
    by_run = {}
    for outcome in execute(specs, execute_run, workers=workers):
        by_run[outcome.spec.run_id] = outcome
        if on_run is not None:
            on_run(outcome)
    days = study.scenario.days
    evaluations = []
    for config in configs:
        runs, digests = [], []
        sites = site_cost_per_day(config)
        for r in range(replications):
            outcome = by_run[f"k{config.k}-r{r}"]
            k = dict(outcome.kpis)
            delivered = k.get("delivered", 0.0)
            vehicles = k.get("cost_per_delivery", math.nan) * delivered / days
            k["site_cost_per_day"] = sites
            k["network_cost_per_day"] = vehicles + sites
            k["network_cost_per_delivery"] = (
                (vehicles + sites) * days / delivered if delivered else math.nan
            )
            # Where the cost goes: paid driver hours (vans on the road) and distance.
            per_hour = k.get("deliveries_per_driver_hour", math.nan)
            k["driver_hours_per_day"] = delivered / per_hour / days if per_hour else math.nan
            k["km_per_day"] = k.get("km_per_delivery", math.nan) * delivered / days
            runs.append(k)
            digests.append(outcome.demand_digest)
        evaluations.append(Evaluation(config, runs, digests))
    return evaluations


def study_result(
    study: SiteStudy,
    configs: Sequence[Configuration],
    evaluations: Sequence[Evaluation],
    *,
    baseline: Configuration | None,
) -> dict[str, Any]:
    """Everything a planner reads, JSON-ready: per k the sites, the model's cost and
    service, the simulated KPIs with 95 % intervals, and the saving against the
    existing network by the model and by the simulation (paired), with a flag where
    the model's figure falls outside the simulation's interval."""
    from twin.metrics import paired_difference, summarize

    by_config = {id(e.config): e for e in evaluations}
    base_eval = by_config.get(id(baseline))

    def described(config: Configuration) -> dict[str, Any]:
        row = config.to_dict()
        row["model"]["site_cost_per_day"] = site_cost_per_day(config)
        evaluation = by_config.get(id(config))
        if evaluation is not None:
            summary = summarize(evaluation.runs)
            row["simulated"] = {kpi: summary[kpi] for kpi in STUDY_KPIS if kpi in summary}
        return row

    rows = []
    for config in configs:
        row = described(config)
        evaluation = by_config.get(id(config))
        if (
            baseline is not None
            and base_eval is not None
            and evaluation is not None
            and config.solution.feasible
        ):
            model_saving = baseline.solution.total_cost - config.solution.total_cost
            diff = paired_difference(
                evaluation.values("network_cost_per_day"), base_eval.values("network_cost_per_day")
            )
            inside = diff.ci is not None and diff.ci[0] <= model_saving <= diff.ci[1]
            row["versus_existing"] = {
                "model_saving_per_day": _round(model_saving),
                "simulated_saving_per_day": diff.to_dict(),
                "model_within_simulated_ci": bool(inside),
                "same_orders": evaluation.demand_digests == base_eval.demand_digests,
                # Where the simulated saving comes from: paired changes (this − existing).
                "simulated_change": {
                    kpi: paired_difference(base_eval.values(kpi), evaluation.values(kpi)).to_dict()
                    for kpi in CHANGE_KPIS
                },
            }
        rows.append(row)
    feasible = [c for c in configs if c.solution.feasible]
    best_model = min(feasible, key=lambda c: c.solution.total_cost).k if feasible else None
    simulated = [e for e in evaluations if e.config is not baseline]
    best_sim = (
        min(simulated, key=lambda e: float(np.nanmean(e.values("network_cost_per_day")))).config.k
        if simulated
        else None
    )
    s = study.settings
    return {
        "scenario": study.scenario.name,
        "kind": s.kind,
        "candidates": {
            "source": s.candidates or "generated from the map",
            "sites": [c.to_dict() for c in study.candidates],
        },
        "demand": {
            "sample_days": study.areas.sample_days,
            "areas": study.areas.n,
            "orders_per_day": round(float(study.areas.orders_per_day.sum()), 1),
        },
        "model": {
            "stops_per_trip": round(study.stops_per_trip, 2),
            "depart_h": s.depart_h,
            "service_min": s.service_min,
            "service_share": s.service_share,
        },
        "baseline": None if baseline is None else described(baseline),
        "configurations": rows,
        "best_k": {"model": best_model, "simulated": best_sim},
    }


# -- a study end to end ---------------------------------------------------------------------------
def parse_k(text: str | int | Sequence[int]) -> list[int]:
    """``3``, ``"1..4"``, ``"1,2,4"`` or a list, as sorted distinct numbers of new sites.

    Raises ``ValueError`` with the accepted forms when ``text`` is none of them.
    """
    try:
        if isinstance(text, int):
            values = [text]
        elif not isinstance(text, str):
            values = [int(v) for v in text]
        elif ".." in text:
            low, high = (int(part) for part in text.split("..", 1))
            values = list(range(low, high + 1))
        else:
            values = [int(part) for part in text.split(",")]
    except (TypeError, ValueError):
        values = []
    if not values or min(values) < 1:
        raise ValueError(
            f"{text!r}: give the numbers of new sites as 3, a range 1..4 or a list 1,2,4 "
            "(each at least 1)"
        )
    return sorted(set(values))


def run_study(
    study: SiteStudy,
    ks: Sequence[int],
    *,
    replications: int,
    folder: str | Path,
    workers: int = 1,
    on_start: Any = None,
    on_run: Any = None,
) -> dict[str, Any]:
    """Solve every ``k``, simulate the existing network and each feasible answer, and
    write the report into ``folder``; returns :func:`study_result` with ``report`` added.

    ``on_start(n_runs)`` and ``on_run(outcome)`` let a caller show progress.
    """
    from twin.report.sites import write_sites_report  # the report reads this module

    configs = [study.solve(n) for n in ks]
    baseline = study.baseline()
    to_simulate = [c for c in ([baseline] if baseline else []) + configs if c.solution.feasible]
    evaluations: list[Evaluation] = []
    if replications:
        if on_start is not None:
            on_start(len(to_simulate) * replications)
        evaluations = simulate(
            study, to_simulate, replications=replications, workers=workers, on_run=on_run
        )
    result = study_result(study, configs, evaluations, baseline=baseline)
    result["report"] = str(write_sites_report(study, result, configs, baseline, Path(folder)))
    return result
