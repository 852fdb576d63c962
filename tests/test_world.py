"""build_world: one world per seed, the very orders the engine plays, the same draws as before."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from twin.demand import Order
from twin.errors import ScenarioError
from twin.maps import RoadNetwork, grid_city, load_network
from twin.rng import RandomStreams
from twin.scenario import Scenario, load_scenario
from twin.scenario.edit import derive
from twin.sim import Simulation
from twin.sites import SiteStudy
from twin.world import build_world, place_hubs

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def small_grid_2days() -> tuple[Scenario, RoadNetwork]:
    scenario = load_scenario(ROOT / "scenarios" / "small_grid.yaml").model_copy(
        update={"days": 2, "warmup_days": 0}
    )
    return scenario, load_network(scenario.map.ref)


def _orders_digest(orders: dict[str, Order]) -> str:
    h = hashlib.sha256()
    for oid in sorted(orders):
        h.update(repr(orders[oid]).encode())
    return h.hexdigest()[:16]


def test_the_same_seed_builds_the_same_world(small_grid_2days):
    scenario, network = small_grid_2days
    a = build_world(scenario, network, RandomStreams(scenario.seed))
    b = build_world(scenario, network, RandomStreams(scenario.seed))
    assert a.orders == b.orders
    assert np.array_equal(a.customers.node, b.customers.node)
    assert a.hub_nodes == b.hub_nodes
    assert [v.id for v in a.fleet] == [v.id for v in b.fleet]
    assert (a.no_show, a.breakdown_s, a.cancel_at) == (b.no_show, b.breakdown_s, b.cancel_at)
    other = build_world(scenario, network, RandomStreams(scenario.seed, replication=1))
    assert other.orders != a.orders  # replications are independent


def test_the_world_has_the_orders_the_engine_plays(small_grid_2days):
    scenario, network = small_grid_2days
    world = build_world(scenario, network, RandomStreams(scenario.seed))
    sim = Simulation(scenario, network)
    assert sim.orders == world.orders
    result = sim.run()
    assert set(result.orders["order_id"]) == set(world.orders)
    created = result.events.query("kind == 'created'")["order_id"]
    assert set(created) <= set(world.orders)
    assert len(created) == int(result.orders["released"].sum())


def test_orders_and_disruptions_are_drawn_as_before_the_split(small_grid_2days):
    """Pinned from the engine before build_world existed (commit e10389e): the world
    draws from the same streams in the same order. (With the delivery options of
    then: the defaults have changed since.)"""
    scenario, network = small_grid_2days
    then = {"home": 0.2, "safe_drop": 0.7, "signature": 0.1}
    scenario = derive(scenario, {"demand": {"options": then}})
    world = build_world(scenario, network, RandomStreams(scenario.seed))
    assert len(world.orders) == 247
    assert _orders_digest(world.orders) == "f63d0dca2b789504"
    first = (
        sorted(world.no_show.items())[:3],
        sorted(world.breakdown_s.items())[:3],
        world.cancel_at[:3],
    )
    assert hashlib.sha256(repr(first).encode()).hexdigest()[:16] == "614841189fbe0a07"


def test_the_site_study_samples_the_same_demand_as_before(tmp_path: Path):
    """SiteStudy reads its orders from build_world (it built a Simulation it never ran
    before): the demand areas are pinned from that earlier code (commit e10389e)."""
    (tmp_path / "sites.csv").write_text(
        "id,lat,lon,fixed_cost,capacity\n"
        "north,27.5680,-99.4880,60,500\n"
        "east,27.5590,-99.4800,50,500\n"
        "south,27.5520,-99.4900,55,500\n"
    )
    data = load_scenario(ROOT / "scenarios" / "small_grid.yaml").model_dump(
        mode="json", exclude={"variants"}
    )
    data["map"]["ref"] = "grid-12x12"
    data["sites"] = {"candidates": "sites.csv", "sample_days": 5}
    scenario = Scenario.model_validate(data)
    study = SiteStudy.build(scenario, RoadNetwork(*grid_city(rows=12, cols=12)), base_dir=tmp_path)
    areas = study.areas
    h = hashlib.sha256()
    for array in (areas.nodes, areas.node_orders, areas.node_area, areas.orders_per_day):
        h.update(np.ascontiguousarray(array).tobytes())
    assert h.hexdigest()[:16] == "89f0dd95ce3b6688"
    assert float(areas.orders_per_day.sum()) == pytest.approx(121.0)


def test_given_orders_get_one_customer_per_distinct_customer(small_grid_2days):
    scenario, network = small_grid_2days
    nodes = network.node_ids[:3].tolist()
    orders = [
        Order(
            id=f"o{k}",
            node=int(node),
            lat=0.0,
            lon=0.0,
            due_day=0,
            created_s=0.0,
            customer=customer,
            volume_m3=0.01,
            weight_kg=1.0,
            service_level="next_day",
            window="all_day",
            window_start_s=8 * 3600.0,
            window_end_s=18 * 3600.0,
            option="home",
        )
        for k, (node, customer) in enumerate(
            zip(nodes + nodes[:1], [501, 77, 900, 501], strict=True)
        )
    ]
    world = build_world(scenario, network, RandomStreams(scenario.seed), orders=orders)
    assert {oid: o.customer for oid, o in world.orders.items()} == {
        "o0": 1,
        "o1": 0,
        "o2": 2,
        "o3": 1,
    }
    assert world.customers.node.tolist() == [nodes[1], nodes[0], nodes[2]]


def test_a_hub_off_the_map_is_named(small_grid_2days):
    scenario, network = small_grid_2days
    far = scenario.model_copy(
        update={"hubs": (scenario.hubs[0].model_copy(update={"lat": 10.0, "lon": 10.0}),)}
    )
    with pytest.raises(ScenarioError, match="hub 'depot'"):
        place_hubs(far, network)
