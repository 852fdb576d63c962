"""Crowd couriers: who comes online when, who accepts which offer, and how reliable they are."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from pydantic import ValidationError

from twin.crowd import DAY, PICKUP_KPH, CourierView, CrowdModel, CrowdSettings

H = 3600.0
NODES = list(range(100, 200))


def crowd(days: int = 30, seed: int = 0, **settings: object) -> CrowdModel:
    base: dict[str, object] = {"couriers_per_day": 20}
    base.update(settings)
    return CrowdModel(
        CrowdSettings.model_validate(base), NODES, days=days, rng=np.random.default_rng(seed)
    )


def everyone(model: CrowdModel) -> list[CourierView]:
    return [c for d in range(model.days) for c in model.couriers(d)]


def test_default_is_no_crowd() -> None:
    model = CrowdModel(CrowdSettings(), [], days=5, rng=np.random.default_rng(0))
    assert len(model) == 0
    assert model.online(12 * H) == ()
    assert model.stats()["offers"] == 0
    assert math.isnan(model.stats()["acceptance_rate"])


def test_couriers_per_day_follow_the_poisson_mean() -> None:
    days, mean = 400, 20
    model = crowd(days=days, couriers_per_day=mean)
    counts = np.array([len(model.couriers(d)) for d in range(days)])
    # Poisson: sd of the mean of `days` counts is sqrt(mean / days); allow 4 sd.
    assert counts.mean() == pytest.approx(mean, abs=4 * math.sqrt(mean / days))
    # ... and the counts vary like a Poisson's (variance = mean), not fixed.
    assert counts.var(ddof=1) == pytest.approx(mean, rel=0.3)
    assert len(model) == counts.sum()


def test_online_windows_lie_inside_online_hours_and_ids_are_sorted() -> None:
    model = crowd(days=20, online_hours=(8.0, 9.5))
    for d in range(model.days):
        views = model.couriers(d)
        assert [v.online_s for v in views] == sorted(v.online_s for v in views)
        for k, v in enumerate(views):
            assert v.id == f"crowd-d{d}-{k:03d}"
            assert d * DAY + 8.0 * H <= v.online_s < d * DAY + 9.5 * H
            assert v.offline_s > v.online_s
            assert v.node in NODES
            assert v.max_parcels == 8
    assert model.couriers(-1) == ()
    assert model.couriers(model.days) == ()


def test_session_lengths_average_the_setting() -> None:
    model = crowd(days=200, session_h_mean=2.0)
    hours = np.array([(v.offline_s - v.online_s) / H for v in everyone(model)])
    # Lognormal sd = mean * sqrt(exp(sigma^2) - 1), about half the mean here; allow 4 sd of mean.
    assert hours.mean() == pytest.approx(2.0, abs=4 * 2.0 * 0.53 / math.sqrt(len(hours)))


def test_same_seed_gives_the_same_couriers() -> None:
    a, b, c = crowd(seed=7), crowd(seed=7), crowd(seed=8)
    assert everyone(a) == everyone(b)
    assert [(x.wage_per_h, x.detour_km) for x in a._sorted] == [
        (x.wage_per_h, x.detour_km) for x in b._sorted
    ]
    assert everyone(a) != everyone(c)


#: A one-parcel bundle of 6 minutes from where the courier is.
SHORT = {"n_parcels": 1, "route_km": 2.0, "route_h": 0.1, "pickup_km": 0.0}


def test_a_well_paid_short_bundle_is_accepted_by_everyone_online() -> None:
    model = crowd(days=20, pay_per_delivery=300.0)
    # 300 $ for 0.1 h is 3000 $/h: far above any wage within tolerance (mean 18, sigma 0.3).
    assert max(model.courier(v.id).wage_per_h for v in everyone(model)) < 300
    for t in np.arange(0, 20 * DAY, 0.5 * H):
        for v in model.online(float(t)):
            if v.offline_s - t < 0.1 * H:
                continue  # the bundle would end after they go offline
            assert model.offer(v.id, t_s=float(t), **SHORT)
            model.release(v.id)
    assert model.stats()["offers"] > 500
    assert model.stats()["acceptance_rate"] == 1.0


def test_a_bundle_paying_nearly_nothing_is_rejected_by_everyone() -> None:
    model = crowd(days=20, pay_per_delivery=0.01, pay_per_km=0.0)
    for v in everyone(model):
        assert not model.offer(v.id, t_s=v.online_s, **SHORT)
    assert model.stats()["accepted"] == 0
    assert model.stats()["offers"] == len(model) > 300


def test_acceptance_falls_as_pay_falls() -> None:
    # Pay of p $ for a 1 h route with no pick-up: an hourly pay of p.
    model = crowd(days=100, pay_per_delivery=0.0, pay_per_km=1.0, session_h_mean=50.0)
    views = everyone(model)
    sigma, mean = 0.3, 18.0
    rates = []
    for p in np.arange(6.0, 60.0, 3.0):
        n = 0
        for v in views:
            if model.offer(
                v.id, n_parcels=1, route_km=p, route_h=1.0, pickup_km=0.0, t_s=v.online_s
            ):
                n += 1
                model.release(v.id)
        rate = n / len(views)
        # Share accepting = share of wages <= p: the lognormal CDF; allow 4 binomial sd.
        mu = math.log(mean) - sigma**2 / 2
        expected = 0.5 * (1 + math.erf((math.log(p) - mu) / (sigma * math.sqrt(2))))
        tol = 4 * math.sqrt(max(expected * (1 - expected), 1e-4) / len(views))
        assert rate == pytest.approx(expected, abs=tol + 1e-3)
        rates.append(rate)
    assert rates == sorted(rates)
    assert rates[0] < 0.02
    assert rates[-1] > 0.98


def test_a_busy_courier_is_not_online_until_released() -> None:
    model = crowd(pay_per_delivery=300.0)
    v = model.couriers(0)[0]
    t = v.online_s + 60.0
    assert v in model.online(t)
    assert model.offer(v.id, t_s=t, **SHORT)
    assert v not in model.online(t)
    assert v not in model.online(t + 0.05 * H)
    # A second offer while busy is refused.
    assert not model.offer(v.id, t_s=t, **SHORT)
    model.release(v.id)
    assert v in model.online(t + 0.05 * H)
    # Released only after their session has ended: not online any more.
    assert model.offer(v.id, t_s=t, **SHORT)
    model.release(v.id)
    assert v not in model.online(v.offline_s)
    assert v not in model.online(v.offline_s + H)
    assert model.stats(v.id) == {
        "couriers": 1,
        "offers": 3,
        "accepted": 2,
        "acceptance_rate": 2 / 3,
        "parcels": 0,
        "brought_back": 0,
    }


def test_a_bundle_ending_after_offline_is_refused() -> None:
    model = crowd(pay_per_delivery=1000.0, max_detour_km=1000.0)
    for v in model.couriers(0):
        left_h = (v.offline_s - v.online_s) / H
        assert not model.offer(v.id, n_parcels=1, route_km=1, route_h=left_h + 0.01,
                               pickup_km=0.0, t_s=v.online_s)  # fmt: skip
        # Pick-up time counts: 3 km at 30 km/h is 0.1 h.
        assert not model.offer(v.id, n_parcels=1, route_km=1, route_h=left_h - 0.05,
                               pickup_km=3.0, t_s=v.online_s)  # fmt: skip
        assert model.offer(
            v.id, n_parcels=1, route_km=1, route_h=left_h - 0.15, pickup_km=3.0, t_s=v.online_s
        )
        model.release(v.id)
    assert PICKUP_KPH == 30.0


def test_detour_and_bundle_size_limits_are_refused() -> None:
    # Long sessions and high pay, so only the detour or the bundle size can refuse.
    model = crowd(pay_per_delivery=1000.0, max_parcels=5, session_h_mean=50.0)
    for v in model.couriers(0):
        tolerance = model.courier(v.id).detour_km
        kw = {"route_km": 1.0, "route_h": 0.01, "t_s": v.online_s}
        assert not model.offer(v.id, n_parcels=1, pickup_km=tolerance + 0.01, **kw)
        assert not model.offer(v.id, n_parcels=6, pickup_km=0.0, **kw)
        assert model.offer(v.id, n_parcels=5, pickup_km=tolerance, **kw)
        model.release(v.id)
    with pytest.raises(ValueError, match="n_parcels"):
        model.offer(v.id, n_parcels=0, route_km=1.0, route_h=0.1, pickup_km=0.0, t_s=0.0)
    with pytest.raises(KeyError, match="crowd-d99-000"):
        model.offer("crowd-d99-000", n_parcels=1, route_km=1, route_h=1, pickup_km=0, t_s=0)


def test_pay_is_per_parcel_plus_per_km() -> None:
    model = crowd(pay_per_delivery=6.0, pay_per_km=0.5)
    assert model.pay(4, 10.0) == pytest.approx(29.0)


def test_reliability_frequency_matches_the_setting() -> None:
    model = crowd(reliability=0.93)
    cid = model.couriers(0)[0].id
    rng = np.random.default_rng(3)
    n = 20_000
    ok = sum(model.reliable(cid, f"o{i}", rng) for i in range(n))
    assert ok / n == pytest.approx(0.93, abs=4 * math.sqrt(0.93 * 0.07 / n))
    stats = model.stats(cid)
    assert stats["parcels"] == n
    assert stats["brought_back"] == n - ok
    never = crowd(reliability=0.0)
    other = never.couriers(0)[0].id
    assert not any(never.reliable(other, "x", rng) for _ in range(100))
    assert never.stats()["brought_back"] == 100


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("online_hours", (20.0, 10.0)),
        ("online_hours", (0.0, 25.0)),
        ("online_hours", (-1.0, 10.0)),
        ("reliability", 1.5),
        ("session_h_mean", 0.0),
        ("couriers_per_day", -1),
        ("max_parcels", 0),
        ("wage_sigma", -0.1),
        ("speed_factor", 0.0),
    ],
)
def test_bad_settings_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=re.escape(field)):
        CrowdSettings.model_validate({field: value})


def test_settings_are_frozen_and_strict() -> None:
    with pytest.raises(ValidationError, match="couriers_per_dya"):
        CrowdSettings.model_validate({"couriers_per_dya": 3})
    s = CrowdSettings()
    with pytest.raises(ValidationError):
        s.couriers_per_day = 3  # type: ignore[misc]
    with pytest.raises(ValueError, match="node"):
        CrowdModel(CrowdSettings(couriers_per_day=3), [], days=1, rng=np.random.default_rng(0))
