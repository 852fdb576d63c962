"""Hub docks as a queue, against closed forms: D/D/c (:func:`dock_queue`) and M/M/c
(:func:`dock_queue_mmc`, whose own docstring says how it is set up).

D/D/c: every van of a hub starts its shift at the same moment and asks for a loading
dock; ``c`` docks serve them first come, first served, each load taking the
same time ``L`` (setup only, no per-parcel time). That is a D/D/c queue with
one batch arrival: the ``k``-th van to get a dock (``k = 0, 1, ...``) waits
``floor(k / c) * L``, so ``n`` vans wait ``L / n * sum_k floor(k / c)`` on
average. Any deviation (a dock handed out twice, a release missed, a van
served out of turn or loading for the wrong time) moves some wait. The check
compares every van's wait, not only the mean.

Source: the closed form follows from the definition of the queue (Kendall's
D/D/c with all customers arriving at once); see e.g. Gross, Shortle, Thompson
& Harris, *Fundamentals of Queueing Theory*, 4th ed., ch. 1.
"""

from __future__ import annotations

import json
import math

import numpy as np
from scipy import stats

from twin.maps import load_network
from twin.scenario import Scenario
from twin.sim import Simulation
from twin.validate.check import CheckResult

__all__ = ["dock_queue", "dock_queue_mmc", "erlang_c", "erlang_c_wait_s", "expected_waits"]

#: Seed of the check's scenario.
SEED = 11


def expected_waits(vans: int, docks: int, load_s: float) -> np.ndarray:
    """Waits of the ``vans`` in dock order: ``floor(k / docks) * load_s``."""
    return np.arange(vans) // docks * load_s


def dock_queue(fast: bool = False) -> list[CheckResult]:
    """Morning dock waits at a hub with fewer docks than vans (see module docstring)."""
    vans, docks, load_s = (6, 2, 600.0) if fast else (15, 4, 900.0)
    scenario = Scenario.model_validate(
        {
            "name": "validate_dock_queue",
            "seed": SEED,
            "days": 1,
            "map": {"ref": "grid-8x8"},
            "hubs": [
                {"id": "hub", "docks": docks, "load_setup_s": load_s, "load_time_per_parcel_s": 0}
            ],
            # Small vans and enough orders for every van to leave in the morning wave.
            "vehicle_types": {"van": {"capacity_parcels": 6, "max_trips": 1}},
            "fleet": [{"type": "van", "count": vans, "hub": "hub"}],
            "demand": {"orders_per_day": 6 * vans, "share_known_at_cutoff": 1.0},
        }
    )
    result = Simulation(scenario, load_network("grid-8x8")).run()
    events = result.events
    first_loads = events[events["kind"] == "load_start"].groupby("vehicle_id").head(1)
    shift_starts = events[events["kind"] == "shift_start"].groupby("vehicle_id")["time_s"].first()
    # Each van's first load of the day: the morning wave.
    waits = np.sort([float(json.loads(d)["dock_wait_s"]) for d in first_loads["details"]])
    n = len(waits)
    expected = expected_waits(n, docks, load_s)
    started_together = shift_starts.nunique() == 1
    exact = started_together and n > docks and np.allclose(waits, expected, atol=1e-6)
    simulated = float(waits.mean()) if n else float("nan")
    check = CheckResult(
        name="dock_queue",
        what=f"mean dock wait of {n} vans at {docks} docks, {load_s:.0f} s loads (D/D/c)",
        unit="s",
        expected=float(expected.mean()) if n else float("nan"),
        simulated=simulated,
        low=simulated,
        high=simulated,
        passed=bool(exact),
        source="D/D/c closed form, one batch arrival: wait of the k-th van = floor(k/c) L",
        n=n,
        band="exact",
    )
    return [check]


def erlang_c(offered: float, docks: int) -> float:
    """Erlang's C: the chance an arrival finds all ``docks`` busy in an M/M/c queue
    offered ``offered`` docks' worth of work (arrival rate times mean load time)."""
    rho = offered / docks
    if rho >= 1:
        raise ValueError(f"the queue is unstable: utilisation {rho:.2f} >= 1")
    terms = sum(offered**k / math.factorial(k) for k in range(docks))
    last = offered**docks / math.factorial(docks) / (1 - rho)
    return last / (terms + last)


def erlang_c_wait_s(arrivals_per_s: float, load_s: float, docks: int) -> float:
    """Mean wait for a dock in an M/M/c queue: Poisson arrivals at ``arrivals_per_s``,
    exponential loads of mean ``load_s``, ``docks`` docks."""
    offered = arrivals_per_s * load_s
    return erlang_c(offered, docks) * load_s / (docks - offered)


def dock_queue_mmc(fast: bool = False) -> list[CheckResult]:
    """Dock waits when vans arrive at random and loads vary: the M/M/c closed forms.

    Each van is its own shift, starting at a time of a Poisson process (drawn here,
    like the D/D/c check's batch: the input); its one parcel is loaded at the hub's
    ``docks`` in a gamma time with coefficient of variation 1 (exponential), drawn by
    the engine. Two figures: the share of vans that find every dock busy (Erlang's C)
    and their mean wait. Vans that arrive in the first hour are left out (the queue
    starts the day empty). Waits of one day are correlated (a van behind a queue
    waits with it), so each day is one sample: the intervals are t-intervals over
    the days, each a fresh arrival sample and seed. A van that did not ask for its
    dock when its shift started fails the check (the queue's input was not the
    sample).
    """
    docks, load_s, rho = 3, 600.0, 0.7
    rate = rho * docks / load_s  # arrivals per second
    days = 6 if fast else 40
    busy, mean_wait, vans, on_time = [], [], 0, True
    for day in range(days):
        arrivals_h = _poisson_arrivals_h(rate, start_h=8.0, hours=8.0, seed=SEED + day)
        asked_h, waits = _mmc_day(arrivals_h, docks, load_s, seed=SEED + day)
        # The queue's input is the arrival sample only if every van asked at its start.
        on_time &= len(asked_h) == len(arrivals_h) and np.allclose(
            np.sort(asked_h), arrivals_h, atol=1e-6
        )
        kept = waits[asked_h >= 9.0]
        busy.append(float(np.mean(kept > 0)))
        mean_wait.append(float(kept.mean()))
        vans += len(kept)
    offered = rate * load_s
    setting = (
        f"Poisson arrivals (utilisation {rho:.0%}), exponential {load_s:.0f} s loads, "
        f"{docks} docks, {days} days"
    )
    source = "M/M/c queue, Erlang's C formula (e.g. Gross, Shortle, Thompson & Harris, "
    source += "Fundamentals of Queueing Theory, 4th ed., ch. 2)"
    figures = (
        ("share of vans finding every dock busy", "share", busy, erlang_c(offered, docks)),
        ("mean dock wait", "s", mean_wait, erlang_c_wait_s(rate, load_s, docks)),
    )
    results = []
    for what, unit, per_day, expected in figures:
        simulated = float(np.mean(per_day))
        half = float(stats.t.ppf(0.975, days - 1) * np.std(per_day, ddof=1) / math.sqrt(days))
        results.append(
            CheckResult(
                name="dock_queue_mmc",
                what=f"{what}, {setting}",
                unit=unit,
                expected=expected,
                simulated=simulated,
                low=simulated - half,
                high=simulated + half,
                passed=bool(on_time and simulated - half <= expected <= simulated + half),
                source=source,
                n=vans,
            )
        )
    return results


def _poisson_arrivals_h(
    rate_per_s: float, *, start_h: float, hours: float, seed: int
) -> np.ndarray:
    """Arrival hours of a Poisson process of ``rate_per_s`` over ``hours`` from ``start_h``."""
    rng = np.random.default_rng(seed)
    gaps_s = rng.exponential(1.0 / rate_per_s, size=int(rate_per_s * hours * 3600 * 2) + 20)
    times_h = start_h + np.cumsum(gaps_s) / 3600.0
    return times_h[times_h < start_h + hours]


def _mmc_day(
    arrivals_h: np.ndarray, docks: int, load_s: float, *, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """One day of vans whose shifts start at ``arrivals_h``, one parcel each: the hour
    each van asked for a dock (its shift start, if the engine is right) and its wait."""
    shifts = {
        f"s{k:03d}": {"shift_start_h": round(float(h), 6), "shift_end_h": round(float(h), 6) + 3}
        for k, h in enumerate(arrivals_h)
    }
    scenario = Scenario.model_validate(
        {
            "name": "validate_dock_queue_mmc",
            "seed": seed,
            "days": 1,
            "map": {"ref": "grid-8x8"},
            "hubs": [
                {
                    "id": "hub",
                    "docks": docks,
                    "load_setup_s": load_s,
                    "load_time_per_parcel_s": 0,
                    "load_time_cv": 1.0,
                }
            ],
            "vehicle_types": {
                "van": {"capacity_parcels": 1, "max_trips": 1, "fixed_cost_per_day": 0}
            },
            "shifts": shifts,
            "fleet": [{"type": "van", "count": 1, "hub": "hub", "shift": s} for s in shifts],
            "demand": {
                # More orders than vans (the count is drawn), so every van gets one.
                "orders_per_day": 2 * len(shifts) + 10,
                "cutoff_h": 6.0,
                "share_known_at_cutoff": 1.0,
                "windows": {"all_day": 1.0},
                "day_window_h": [7.0, 23.0],
            },
        }
    )
    result = Simulation(scenario, load_network("grid-8x8")).run()
    events = result.events
    loads = events[events["kind"] == "load_start"]
    waits = np.array([float(json.loads(d)["dock_wait_s"]) for d in loads["details"]])
    asked_h = (loads["time_s"].to_numpy() - waits) / 3600.0
    return asked_h, waits
