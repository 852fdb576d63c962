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
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["KPI_NAMES", "conservation", "kpis", "summarize"]

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
