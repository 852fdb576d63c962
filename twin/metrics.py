"""KPIs: pure functions of a run's tables (orders, vehicles, events).

Definitions (part of the contract; units in the names):

* ``on_time_rate``: delivered inside the promised window / delivered;
* ``first_attempt_success_rate``: delivered at the first attempt / orders attempted;
* ``failed_delivery_rate``: failed attempts / attempts;
* ``cost_per_delivery``: (fixed + distance + driver time incl. overtime) / delivered;
* ``deliveries_per_driver_hour``: delivered / driver working hours;
* ``km_per_delivery``, ``co2_kg_per_delivery``: per successful delivery;
* ``orders_open_at_horizon``: orders released but not finished when the run ends;
* ``eta_mae_min``: mean |arrival - ETA announced at dispatch|, minutes;
* ``customer_satisfaction``: mean satisfaction (1-5) of customers who had an order;
* ``driver_utilization``: working hours / shift hours of the drivers who worked;
* ``overtime_h``: total overtime hours;
* ``share_<mode>``: share of deliveries made by each vehicle mode.

Comparisons: :data:`KPI_DIRECTIONS` says which way each KPI is better, and
:func:`paired_difference` / :func:`verdict` turn replications run with common
random numbers under two policies into a difference with a confidence interval
and a one-word reading of it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "HEADLINE_KPIS",
    "KPI_DIRECTIONS",
    "KPI_NAMES",
    "PairedDifference",
    "conservation",
    "kpis",
    "paired_difference",
    "summarize",
    "verdict",
]

KPI_NAMES = (
    "orders_released",
    "delivered",
    "on_time_rate",
    "first_attempt_success_rate",
    "failed_delivery_rate",
    "cost_per_delivery",
    "deliveries_per_driver_hour",
    "km_per_delivery",
    "co2_kg_per_delivery",
    "orders_open_at_horizon",
    "eta_mae_min",
    "customer_satisfaction",
    "driver_utilization",
    "overtime_h",
    "returned_to_sender",
)


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den else math.nan


def kpis(orders: pd.DataFrame, vehicles: pd.DataFrame, events: pd.DataFrame) -> dict[str, float]:
    """KPIs of one run (see the module docstring for definitions)."""
    released = orders[orders["released"]] if len(orders) else orders
    delivered = released[released["final_state"] == "delivered"]
    n_del = len(delivered)
    attempts = events[events["kind"] == "attempted"]
    failed = events[events["kind"] == "failed"]
    attempted_orders = int((released["attempts"] > 0).sum())
    first_ok = int(((released["final_state"] == "delivered") & (released["attempts"] == 1)).sum())
    on_time = (delivered["delivered_s"] <= delivered["window_end_s"] + 1e-6).sum()
    eta_err = (released["arrival_s"] - released["eta_announced_s"]).abs().dropna()
    costs = (
        vehicles[["fixed_cost", "distance_cost", "driver_cost"]].to_numpy().sum()
        if len(vehicles)
        else 0.0
    )
    km = float(vehicles["km"].sum()) if len(vehicles) else 0.0
    working = float(vehicles["working_h"].sum()) if len(vehicles) else 0.0
    shift = float(vehicles["shift_h"].sum()) if len(vehicles) else 0.0
    customers = released["customer"].unique()
    satisfaction = (
        released.drop_duplicates("customer")["satisfaction"].mean() if len(customers) else math.nan
    )
    out: dict[str, float] = {
        "orders_released": float(len(released)),
        "delivered": float(n_del),
        "on_time_rate": _ratio(on_time, n_del),
        "first_attempt_success_rate": _ratio(first_ok, attempted_orders),
        "failed_delivery_rate": _ratio(len(failed), len(attempts)),
        "cost_per_delivery": _ratio(costs, n_del),
        "deliveries_per_driver_hour": _ratio(n_del, working),
        "km_per_delivery": _ratio(km, n_del),
        "co2_kg_per_delivery": _ratio(
            float(vehicles["co2_kg"].sum()) if len(vehicles) else 0.0, n_del
        ),
        "orders_open_at_horizon": float((released["final_state"] == "open_at_horizon").sum()),
        "eta_mae_min": float(eta_err.mean() / 60.0) if len(eta_err) else math.nan,
        "customer_satisfaction": float(satisfaction),
        "driver_utilization": _ratio(working, shift),
        "overtime_h": float(vehicles["overtime_h"].sum()) if len(vehicles) else 0.0,
        "returned_to_sender": float((released["final_state"] == "returned_to_sender").sum()),
    }
    if len(vehicles) and n_del:
        by_vehicle = events[events["kind"] == "delivered"].groupby("vehicle_id").size()
        modes = vehicles.drop_duplicates("vehicle_id").set_index("vehicle_id")["mode"]
        per_mode = by_vehicle.groupby(modes.reindex(by_vehicle.index)).sum()
        for mode, count in per_mode.items():
            out[f"share_{mode}"] = float(count / n_del)
    return out


def conservation(orders: pd.DataFrame) -> dict[str, int]:
    """Final state counts of released orders; every one is terminal or open_at_horizon."""
    released = orders[orders["released"]]
    return {str(k): int(v) for k, v in released["final_state"].value_counts().sort_index().items()}


def summarize(runs: list[dict[str, float]], *, confidence: float = 0.95) -> dict[str, Any]:
    """Mean, half-width and confidence interval per KPI over replications (Student t)."""
    names = sorted({k for run in runs for k in run})
    out: dict[str, Any] = {}
    for name in names:
        values = np.array([run.get(name, math.nan) for run in runs], dtype=float)
        values = values[np.isfinite(values)]
        n = len(values)
        if n == 0:
            out[name] = {"mean": None, "ci": [None, None], "half_width": None, "n": 0}
            continue
        mean = float(values.mean())
        if n > 1:
            sem = float(values.std(ddof=1) / math.sqrt(n))
            half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * sem)
        else:
            half = math.nan
        out[name] = {
            "mean": mean,
            "ci": [mean - half, mean + half] if n > 1 else [None, None],
            "half_width": half if n > 1 else None,
            "n": n,
        }
    return out


#: Which way each KPI is better: +1 higher, -1 lower, 0 neutral (no verdict).
#: ``orders_released`` is demand, not performance; under common random numbers it
#: should not move at all. ``driver_utilization`` is neutral on purpose: it rises
#: when idle drivers are cut (good) but also when the same deliveries take longer
#: routes (bad), so its sign alone says nothing; read it with cost and km.
#: ``share_<mode>`` KPIs are not listed and so are neutral too.
KPI_DIRECTIONS: dict[str, int] = {
    "orders_released": 0,
    "delivered": 1,
    "on_time_rate": 1,
    "first_attempt_success_rate": 1,
    "failed_delivery_rate": -1,
    "cost_per_delivery": -1,
    "deliveries_per_driver_hour": 1,
    "km_per_delivery": -1,
    "co2_kg_per_delivery": -1,
    "orders_open_at_horizon": -1,
    "eta_mae_min": -1,
    "customer_satisfaction": 1,
    "driver_utilization": 0,
    "overtime_h": -1,
    "returned_to_sender": -1,
}

#: The KPIs a sweep summary and a comparison's charts lead with.
HEADLINE_KPIS = (
    "on_time_rate",
    "first_attempt_success_rate",
    "cost_per_delivery",
    "km_per_delivery",
    "deliveries_per_driver_hour",
    "orders_open_at_horizon",
    "customer_satisfaction",
)

BETTER = "better"
WORSE = "worse"
NO_DIFFERENCE = "no significant difference"
NOT_APPLICABLE = "n/a"


@dataclass(frozen=True)
class PairedDifference:
    """Mean of paired differences ``b - a`` with a Student-t confidence interval.

    ``ci`` is None when fewer than two finite pairs exist (no spread to estimate);
    ``mean`` is NaN when there is none at all.
    """

    mean: float
    ci: tuple[float, float] | None
    n: int
    confidence: float = 0.95

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form: NaN becomes None, the interval a two-item list."""
        return {
            "mean": None if math.isnan(self.mean) else self.mean,
            "ci": None if self.ci is None else [self.ci[0], self.ci[1]],
            "n": self.n,
        }


def paired_difference(
    a: Sequence[float], b: Sequence[float], *, confidence: float = 0.95
) -> PairedDifference:
    """Mean difference ``b - a`` over paired replications, with its t interval.

    Pairing (replication ``r`` of ``a`` against replication ``r`` of ``b``, both
    run on the same random streams) removes the demand and customer noise both
    share, so the interval is much tighter than one from two independent samples.

    Parameters
    ----------
    a, b : sequence of float
        KPI values per replication, same length, same replication order.
    confidence : float, optional
        Two-sided confidence level of the interval (default 0.95).

    Returns
    -------
    PairedDifference
        Pairs where either value is NaN (a KPI undefined in that run, e.g. a
        rate with nothing delivered) are dropped, and ``n`` counts the rest.
        With ``n < 2`` the interval is None; with zero spread (a constant
        shift) it has zero width at the mean.
    """
    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"paired samples need equal lengths, got {x.shape} and {y.shape}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    d = (y - x)[np.isfinite(x) & np.isfinite(y)]
    n = len(d)
    if n == 0:
        return PairedDifference(mean=math.nan, ci=None, n=0, confidence=confidence)
    mean = float(d.mean())
    if n < 2:
        return PairedDifference(mean=mean, ci=None, n=n, confidence=confidence)
    sd = float(d.std(ddof=1))
    if sd == 0.0:
        return PairedDifference(mean=mean, ci=(mean, mean), n=n, confidence=confidence)
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n))
    return PairedDifference(mean=mean, ci=(mean - half, mean + half), n=n, confidence=confidence)


def verdict(kpi: str, difference: PairedDifference) -> str:
    """Read a paired difference (other - baseline) of ``kpi`` in plain words.

    "better" or "worse" when the interval excludes 0 on the good or the bad side
    of the KPI (see :data:`KPI_DIRECTIONS`), "no significant difference" when it
    contains 0, and "n/a" for neutral KPIs or when there is no interval.
    """
    direction = KPI_DIRECTIONS.get(kpi, 0)
    if direction == 0 or difference.ci is None:
        return NOT_APPLICABLE
    low, high = difference.ci
    if low > 0:
        return BETTER if direction > 0 else WORSE
    if high < 0:
        return WORSE if direction > 0 else BETTER
    return NO_DIFFERENCE
