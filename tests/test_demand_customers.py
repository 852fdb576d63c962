"""Orders and customers: reproducible, shaped as the scenario says, agents behave."""

from __future__ import annotations

import numpy as np
import pytest

from twin.customers import CustomerModel
from twin.demand import address_weights, generate_orders
from twin.maps import RoadNetwork
from twin.rng import RandomStreams
from twin.scenario import CustomerSettings, DemandSettings


@pytest.fixture(scope="module")
def customers(laredo: RoadNetwork) -> np.ndarray:
    w = address_weights(laredo, DemandSettings())
    rng = np.random.default_rng(0)
    return laredo.node_ids[rng.choice(laredo.n_nodes, size=2000, p=w / w.sum())]


def test_orders_reproducible_and_day_independent(laredo: RoadNetwork, customers: np.ndarray):
    settings = DemandSettings(orders_per_day=300)
    a = generate_orders(1, settings, laredo, customers, RandomStreams(5).for_day("demand", 1))
    b = generate_orders(1, settings, laredo, customers, RandomStreams(5).for_day("demand", 1))
    assert a == b
    c = generate_orders(2, settings, laredo, customers, RandomStreams(5).for_day("demand", 2))
    assert a != c


def test_orders_follow_the_settings(laredo: RoadNetwork, customers: np.ndarray):
    settings = DemandSettings(orders_per_day=4000, share_known_at_cutoff=0.7)
    orders = generate_orders(0, settings, laredo, customers, np.random.default_rng(1))
    n = len(orders)
    assert abs(n - 4000) < 5 * np.sqrt(4000)
    cutoff = settings.cutoff_h * 3600
    known = np.mean([o.created_s <= cutoff for o in orders])
    assert known == pytest.approx(0.7, abs=0.03)
    for o in orders:
        assert o.window_start_s < o.window_end_s
        assert o.window_start_s >= o.due_day * 86400
        assert o.node in set(customers.tolist())
        if o.created_s > cutoff and o.due_day == 0:
            assert o.window_start_s >= o.created_s + 2 * 3600 - 1e-6  # promise after placing
    windows = {
        k: np.mean([o.window == k for o in orders if o.created_s <= cutoff])
        for k in ("all_day", "four_hour", "two_hour")
    }
    assert windows["four_hour"] == pytest.approx(0.25, abs=0.04)
    assert np.median([o.volume_m3 for o in orders]) == pytest.approx(0.02, rel=0.15)
    assert [o.created_s for o in orders] == sorted(o.created_s for o in orders)


def test_zero_orders(laredo: RoadNetwork, customers: np.ndarray):
    settings = DemandSettings(orders_per_day=0)
    assert generate_orders(0, settings, laredo, customers, np.random.default_rng(0)) == []


def test_customer_presence_follows_profiles_in_blocks():
    settings = CustomerSettings()
    model = CustomerModel(settings, np.arange(20_000), rng=np.random.default_rng(3))
    model.start_day(0)
    history = [model.home.copy()]
    for _ in range(23):
        model.step()
        history.append(model.home.copy())
    home = np.array(history)  # (24, customers)
    working = model.household == 0
    expected = np.array(settings.households[0].at_home_by_hour)
    # The hourly share at home matches the profile at every hour.
    assert np.allclose(home[:, working].mean(axis=1), expected, atol=0.03)
    assert home[3, working].mean() > home[11, working].mean() + 0.4
    # Persistence: presence changes far less often than independent hourly draws would.
    flips = (home[1:] != home[:-1]).mean()
    assert flips < 0.2


def test_satisfaction_moves_with_service_and_recovers():
    model = CustomerModel(CustomerSettings(), [1, 2, 3], rng=np.random.default_rng(0))
    start = model.satisfaction.copy()
    model.record_outcome(0, delivered=True)
    model.record_outcome(1, delivered=False)
    model.record_outcome(2, delivered=True, lateness_h=2.0, eta_error_h=1.0)
    assert model.satisfaction[0] > start[0]
    assert model.satisfaction[1] < start[1]
    assert model.satisfaction[2] < model.satisfaction[1] + 1e-9 or model.satisfaction[2] < start[2]
    gap = start[1] - model.satisfaction[1]
    model.end_day()
    assert start[1] - model.satisfaction[1] == pytest.approx(0.8 * gap)
    assert model.customers[0].satisfaction == model.satisfaction[0]
