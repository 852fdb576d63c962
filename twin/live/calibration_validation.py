"""Validation of a calibration: simulated days against the history, KPI by KPI.

:func:`observed_kpis` computes the same KPIs from any history, real or
simulated, so the validation compares like with like: the calibrated scenario
is simulated, each run exported as history, and each historical KPI set against
the band the replications predict (:func:`validate`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
from scipy import stats

from twin.live.calibrated_scenario import Calibration
from twin.live.history_measures import driving_legs, history_days, span_hours, stop_dwell
from twin.live.history_schema import History
from twin.live.simulated_history import history_from_result
from twin.maps.network import RoadNetwork
from twin.scenario.edit import derive
from twin.sim import SimResult, Simulation
from twin.stats import summarize

__all__ = ["observed_kpis", "validate"]


def observed_kpis(history: History) -> dict[str, float]:
    """KPIs a history shows by itself, computed the same way for real and simulated days."""
    stops = stop_dwell(history)
    orders = history.orders.set_index("order_id")
    delivered = stops[stops["outcome"] == "delivered"]
    window = orders.loc[delivered["order_id"], ["window_start", "window_end"]].to_numpy()
    arrived = delivered["arrived_at"].to_numpy()
    on_time = (arrived >= window[:, 0]) & (arrived <= window[:, 1])
    first = stops[stops["attempt"] == 1]
    legs = driving_legs(history)
    vehicle_day = stops.assign(day=stops["arrived_at"].dt.normalize()).groupby(
        ["vehicle_id", "day"]
    )
    span_h = span_hours(vehicle_day["departed_at"].max() - vehicle_day["arrived_at"].min()).sum()
    served = stops["arrived_at"].dt.normalize().unique()
    days = history_days(history)
    due_served = history.orders["window_start"].dt.normalize().isin(served)
    return {
        "orders_per_day": int(due_served.sum()) / days,
        "attempts_per_day": len(stops) / days,
        "on_time_rate": float(np.mean(on_time)) if len(delivered) else math.nan,
        "first_attempt_success_rate": float((first["outcome"] == "delivered").mean())
        if len(first)
        else math.nan,
        "mean_service_s": float(stops["dwell_s"].mean()) if len(stops) else math.nan,
        "mean_leg_s": float(legs["observed_s"].mean()) if len(legs) else math.nan,
        "stops_per_vehicle_day": len(stops) / max(vehicle_day.ngroups, 1),
        "deliveries_per_vehicle_hour": len(delivered) / span_h if span_h > 0 else math.nan,
    }


def validate(
    calibration: Calibration,
    history: History,
    network: RoadNetwork,
    *,
    replications: int = 5,
    on_run: Callable[[int, SimResult], None] | None = None,
) -> dict[str, Any]:
    """Simulate the calibrated scenario as long as the history and compare their KPIs.

    Each replication is one history's worth of days, so its KPIs vary as much as
    one real history's would if the model were right. History is therefore tested
    against a 95 % *prediction* band, ``mean ± t·sd·√(1 + 1/n)``, and not against
    the CI of the simulated mean, which shrinks to a point as replications grow and
    would flag a perfect model. A historical value in the band is ``inside``; ``z``
    is its distance from the simulated mean in standard deviations of the
    replications. ``ci`` (the mean's 95 % CI) is kept for reference. Simulated
    days are read as the history can be: without its trip numbers if it has none.
    """
    days = history_days(history)
    # Every simulated day is compared, as every day of the history is: no warm-up.
    scenario = derive(calibration.scenario, {"days": days, "warmup_days": 0}, keep_variants=True)
    actual = observed_kpis(history)
    has_trips = "trip" in history.stops and bool((history.stops["trip"] > 0).any())
    per_run = []
    for r in range(replications):
        result = Simulation(scenario, network, replication=r).run()
        simulated = history_from_result(result)
        if not has_trips:  # what history cannot tell, the simulated days must not either
            simulated = replace(simulated, stops=simulated.stops.assign(trip=0))
        per_run.append(observed_kpis(simulated))
        if on_run is not None:
            on_run(r, result)
    summary = summarize(per_run)
    rows = []
    for name, value in actual.items():
        values = np.array([run[name] for run in per_run], dtype=float)
        values = values[np.isfinite(values)]
        n = len(values)
        mean = float(values.mean()) if n else None
        sd = float(values.std(ddof=1)) if n > 1 else math.nan
        band: list[float] | None = None
        if n > 1 and mean is not None:
            half = float(stats.t.ppf(0.975, n - 1)) * sd * math.sqrt(1 + 1 / n)
            band = [mean - half, mean + half]
        rows.append(
            {
                "kpi": name,
                "historical": value,
                "simulated_mean": mean,
                "band": band,
                "ci": summary.get(name, {}).get("ci", [None, None]),
                "inside": None if band is None else bool(band[0] <= value <= band[1]),
                "z": (value - mean) / sd if mean is not None and sd > 0 else None,
            }
        )
    return {"replications": replications, "days": days, "kpis": rows, "runs": per_run}
