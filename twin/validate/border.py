"""Border waits: what vans waited at the bridges against the scenario's own distribution.

A scenario sets, per hour and direction, the mean wait at a border crossing and
one coefficient of variation for its spread (``traffic.border``); the engine
draws each crossing's wait from a gamma distribution with that mean and spread
and logs it on the leg's ``arrive`` event (``border_wait_s``, with the hour's
expected ``border_expected_s``). Divided by its expected value, every wait is a
draw of one gamma distribution with mean 1 and the configured spread, whatever
the hour and direction, so the waits of a whole day can be pooled:

* the mean of the ratios, northbound and southbound apart, must be 1;
* the share of ratios inside that gamma distribution's 10th–90th percentiles
  must be 80 %.

A wait at the wrong hour's mean, a direction swapped, a spread not applied, or
a leg that skips its draw moves one of the three. The scenario is built to
cross often: a US hub on the synthetic Laredo map, crossings allowed, and many
small vans, so that the orders in Nuevo Laredo are spread over many trips.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
from scipy import stats

from twin.maps import load_network
from twin.scenario import Scenario
from twin.sim import Simulation
from twin.validate.check import CheckResult, binomial_interval

__all__ = ["border_waits", "wait_ratios"]

#: Seed of the check's scenario.
SEED = 17
SOURCE = "the scenario's traffic.border settings: gamma waits, hour's mean, wait_cv"


def wait_ratios(events: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Wait over expected wait of every leg through exactly one crossing, and whether
    it went north, from a run's event table."""
    arrive = events.loc[events["kind"] == "arrive", "details"]
    ratios, north = [], []
    for text in arrive:
        if "border_wait_s" not in text:
            continue
        d = json.loads(text)
        if len(d["crossings"]) != 1 or d["border_expected_s"] <= 0:
            continue
        ratios.append(d["border_wait_s"] / d["border_expected_s"])
        north.append(bool(d["crossings"][0][1]))
    return np.asarray(ratios, dtype=float), np.asarray(north, dtype=bool)


def border_waits(fast: bool = False) -> list[CheckResult]:
    """Border waits of a cross-border day against their configured distribution."""
    days = 1 if fast else 6
    scenario = Scenario.model_validate(
        {
            "name": "validate_border_waits",
            "seed": SEED,
            "days": days,
            "map": {"ref": "laredo"},
            "hubs": [{"id": "hub", "docks": 40}],
            "vehicle_types": {
                "van": {"capacity_parcels": 3, "max_trips": 3, "fixed_cost_per_day": 0}
            },
            "fleet": [{"type": "van", "count": 40, "hub": "hub"}],
            "demand": {"orders_per_day": 300},
            "traffic": {"border": {"crossing_allowed": True}},
            "policy": {"name": "static", "params": {"backend": "pyvrp", "iterations": 100}},
        }
    )
    cv = scenario.traffic.border.wait_cv
    events = Simulation(scenario, load_network("laredo")).run().events
    ratios, north = wait_ratios(events)
    setting = f"{days} day(s) of 40 small vans crossing the Rio Grande, wait_cv {cv}"
    results = []
    for label, mask in (("northbound", north), ("southbound", ~north)):
        sample = ratios[mask]
        n = len(sample)
        mean = float(sample.mean()) if n else math.nan
        half = float(stats.t.ppf(0.975, n - 1) * sample.std(ddof=1) / math.sqrt(n)) if n > 1 else 0
        results.append(
            CheckResult(
                name="border_waits",
                what=f"{label} wait / the hour's configured mean, {setting}",
                unit="ratio",
                expected=1.0,
                simulated=mean,
                low=mean - half,
                high=mean + half,
                passed=bool(n > 1 and mean - half <= 1.0 <= mean + half),
                source=SOURCE,
                n=n,
            )
        )
    shape = 1.0 / cv**2
    p10, p90 = (float(stats.gamma.ppf(q, shape, scale=1.0 / shape)) for q in (0.1, 0.9))
    inside = int(np.sum((ratios >= p10) & (ratios <= p90)))
    n = len(ratios)
    low, high = binomial_interval(inside, n)
    results.append(
        CheckResult(
            name="border_waits",
            what=f"waits inside the configured P10-P90 band, {setting}",
            unit="share",
            expected=0.8,
            simulated=inside / n if n else math.nan,
            low=low,
            high=high,
            passed=bool(n > 0 and low <= 0.8 <= high),
            source=SOURCE,
            n=n,
        )
    )
    return results
