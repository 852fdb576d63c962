"""The live forecast's P10–P90 band against what the engine then did.

A forecast band is only worth showing if it means what it says: of the stops a
forecast gives a P10–P90 band for, 80 % should be reached inside it. The check
plays many independent days of a small city with the engine
(``Simulation(..., replication=r)``), exports each day as the history an
operation would have sent (:func:`twin.live.history_events`), folds its live
events up to 10:00 into a :class:`~twin.live.state.LiveState`, forecasts the
rest of the day with the server's default of 50 samples, and counts the stops
the engine then reached inside their band.

Errors along one route are correlated (a van that loses ten minutes at one stop
is late at every later one), so a single day is a handful of independent
draws: the check pools many days, and its 95 % interval resamples whole
vehicle-days (a cluster bootstrap), not stops. It passes, like the other
statistical checks, when 80 % is inside that interval; the full check plays
enough days (60: about 200 vehicle-days with work after 10:00) that the
interval is about ±3 points wide.

Source: the definition of a P10–P90 prediction band (a calibrated forecast
holds 80 % of outcomes inside it; Gneiting, Balabdaoui & Raftery 2007,
"Probabilistic forecasts, calibration and sharpness").
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from twin.live.events import LiveClock, parse_event
from twin.live.forecast import Forecaster
from twin.live.history import history_events, history_from_result
from twin.live.state import LiveState
from twin.maps import load_network
from twin.maps.network import RoadNetwork
from twin.scenario import Scenario
from twin.sim import Simulation
from twin.validate.check import CheckResult

__all__ = ["NOMINAL", "band_coverage", "forecast_coverage", "forecast_day"]

#: Seed of the check's scenario (each day is a replication of it).
SEED = 41
#: Share of outcomes a P10–P90 band holds by definition.
NOMINAL = 0.80
#: When the forecast is made, and its samples (the server's default).
CUT_H = 10.0
SAMPLES = 50
#: Days played by the full check and by the fast one (``--fast``, the test suite).
DAYS = 60
FAST_DAYS = 4

_COLUMNS = ("vehicle_id", "stop_index", "arrived_s", "p10_s", "p50_s", "p90_s")

_SCENARIO = {
    "name": "validate_forecast_coverage",
    "seed": SEED,
    "map": {"ref": "grid-12x12"},
    "hubs": [{"id": "depot"}],
    "vehicle_types": {"van": {"capacity_parcels": 120}},
    "fleet": [{"type": "van", "count": 4, "hub": "depot"}],
    "demand": {"orders_per_day": 420},
    # A plan stopped by its iteration budget: the same routes on every machine.
    "policy": {"name": "static", "params": {"backend": "pyvrp", "iterations": 200}},
}


def band_coverage(
    inside: np.ndarray, cluster: np.ndarray, *, draws: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """Share of stops inside their band and its 95 % interval, resampling clusters.

    ``inside`` says per stop whether the outcome fell inside the band; ``cluster``
    names the stop's vehicle-day. The interval is a percentile bootstrap over
    whole clusters, each weighted by its number of stops.
    """
    labels, index = np.unique(cluster, return_inverse=True)
    hits = np.bincount(index, weights=inside.astype(float), minlength=len(labels))
    sizes = np.bincount(index, minlength=len(labels)).astype(float)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(labels), size=(draws, len(labels)))
    shares = hits[picks].sum(axis=1) / sizes[picks].sum(axis=1)
    low, high = np.quantile(shares, [0.025, 0.975])
    return float(hits.sum() / sizes.sum()), float(low), float(high)


def forecast_day(
    scenario: Scenario,
    network: RoadNetwork,
    forecaster: Forecaster,
    *,
    replication: int,
    cut_s: float,
) -> pd.DataFrame:
    """Play one day, forecast the rest of it from ``cut_s``, and set the forecast
    beside what the engine then did.

    The day is replication ``replication`` of ``scenario``; its live events up to
    ``cut_s`` are folded into a :class:`LiveState`, as the server would have seen
    them. One row per stop forecast and first attempted after ``cut_s``:
    ``vehicle_id``, ``stop_index`` (0 = the stop the vehicle is at or driving to),
    ``arrived_s`` (the engine's arrival) and the forecast's ``p10_s``, ``p50_s``,
    ``p90_s``.
    """
    history = history_from_result(Simulation(scenario, network, replication=replication).run())
    clock = LiveClock(scenario.start_date)
    state = LiveState(scenario, network, clock)
    for event in history_events(history):
        parsed = parse_event(event)
        if clock.seconds(parsed.time) <= cut_s:
            state.apply(parsed)
    forecast = forecaster.predict(state)
    first = history.stops[history.stops["attempt"] == 1]
    arrived = dict(zip(first["order_id"], history.seconds(first["arrived_at"]), strict=True))
    rows = [
        (f.vehicle_id, f.stop_index, arrived[oid], f.eta_p10_s, f.eta_p50_s, f.eta_p90_s)
        for oid, f in sorted(forecast.orders.items())
        if f.vehicle_id is not None
        and arrived.get(oid, -math.inf) > cut_s
        and math.isfinite(f.eta_p50_s)
    ]
    return pd.DataFrame(rows, columns=list(_COLUMNS))


def forecast_coverage(fast: bool = False) -> list[CheckResult]:
    """Pooled P10–P90 coverage of the forecast over simulated days (module docstring)."""
    days = FAST_DAYS if fast else DAYS
    scenario = Scenario.model_validate(_SCENARIO)
    network = load_network(scenario.map.ref)
    forecaster = Forecaster(scenario, network, samples=SAMPLES)
    cut_s = CUT_H * 3600.0
    frames = [
        forecast_day(scenario, network, forecaster, replication=day, cut_s=cut_s).assign(day=day)
        for day in range(days)
    ]
    stops = pd.concat(frames, ignore_index=True)
    inside = (
        (stops["p10_s"] <= stops["arrived_s"]) & (stops["arrived_s"] <= stops["p90_s"])
    ).to_numpy()
    cluster = (stops["day"].astype(str) + "/" + stops["vehicle_id"]).to_numpy()
    share, low, high = band_coverage(inside, cluster)
    vehicle_days = len(set(cluster))
    return [
        CheckResult(
            name="forecast_coverage",
            what=(
                f"stops reached inside the forecast's P10–P90 band, forecast at "
                f"{CUT_H:02.0f}:00 with {SAMPLES} samples, over {days} simulated days "
                f"({vehicle_days} vehicle-days; interval by vehicle-day)"
            ),
            unit="share",
            expected=NOMINAL,
            simulated=share,
            low=low,
            high=high,
            passed=bool(len(inside) > 0 and low <= NOMINAL <= high),
            source="definition of a P10–P90 prediction band (Gneiting et al. 2007)",
            n=len(inside),
        )
    ]
