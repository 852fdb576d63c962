"""The tables beside the KPIs: the cost by component, the failures by reason and
the orders by final state.

They explain a run's headline figures (what the money went on, what went wrong
at the doors, where every order ended) and are written beside them in
``kpis.json`` and the report. Definitions of the KPIs themselves are in
:mod:`twin.metrics`, which re-exports these functions.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

__all__ = ["COST_COMPONENTS", "conservation", "cost_breakdown", "failures_by_reason", "ratio"]


def ratio(num: float, den: float) -> float:
    """``num / den``; NaN when ``den`` is 0 (a rate of nothing is undefined, not 0)."""
    return float(num / den) if den else math.nan


#: Components of :func:`cost_breakdown`, in display order.
COST_COMPONENTS = ("fixed", "distance", "wages", "overtime", "supervision", "crowd_pay")


def cost_breakdown(vehicles: pd.DataFrame, deliveries_made: float) -> pd.DataFrame:
    """The cost KPI by component: what the run's money was spent on.

    ``fixed``: vehicles' fixed cost per day (idle owned vehicles included);
    ``distance``: per km; ``wages``: drivers' pay at the normal rate; ``overtime``:
    pay at the overtime rate; ``supervision``: remote supervision of uncrewed
    vehicles (robots, drones, autonomous vans); ``crowd_pay``: crowd couriers'
    pay. ``total`` sums to the cost of :func:`kpis` and ``per_delivery`` to its
    ``cost_per_delivery`` (NaN without deliveries).

    Parameters
    ----------
    vehicles : pandas.DataFrame
        A run's vehicles table (columns missing from older results count 0).
    deliveries_made : float
        Parcels the run's days handed over (:func:`kpis`'s ``deliveries_made``).
    """

    crowd = (
        vehicles["mode"] == "crowd"
        if "mode" in vehicles
        else pd.Series(False, index=vehicles.index)
    )

    def total(column: str, rows: pd.Series | None = None) -> float:
        if column not in vehicles:
            return 0.0
        values = vehicles[column].fillna(0.0)
        return float((values if rows is None else values[rows]).sum())

    overtime = total("overtime_cost")
    totals = {
        "fixed": total("fixed_cost"),
        "distance": total("distance_cost"),
        "wages": total("driver_cost") - overtime,
        "overtime": overtime,
        "supervision": total("operating_cost", ~crowd),
        "crowd_pay": total("operating_cost", crowd),
    }
    return pd.DataFrame(
        {
            "total": totals,
            "per_delivery": {k: ratio(v, deliveries_made) for k, v in totals.items()},
        }
    ).rename_axis("component")


def failures_by_reason(events: pd.DataFrame) -> pd.DataFrame:
    """What went wrong at the doors, and which parcels were never tried.

    Returns
    -------
    pandas.DataFrame
        One row per (``outcome``, ``reason``): ``failed`` attempts by their reason,
        ``no_attempt`` by why the courier did not try, and ``stolen`` safe drops.
        Columns ``count`` and ``per_attempt`` (count / all attempts; NaN without
        attempts). Sorted by outcome, then count (largest first); empty, with
        those columns, when nothing went wrong.
    """
    columns = ["outcome", "reason", "count", "per_attempt"]
    if not len(events):
        return pd.DataFrame(columns=columns)
    n_attempts = int((events["kind"] == "attempted").sum())
    reasons = {
        "failed": events.loc[events["kind"] == "failed", "details"].map(_reason),
        "no_attempt": events.loc[events["kind"] == "no_attempt", "details"].map(_reason),
        "stolen": events.loc[events["kind"] == "stolen", "kind"].map(
            lambda _: "theft after a safe drop"
        ),
    }
    rows = [
        (outcome, str(reason), int(count), ratio(int(count), n_attempts))
        for outcome, of_kind in reasons.items()
        for reason, count in of_kind.value_counts().items()
    ]
    return pd.DataFrame(rows, columns=columns)


def _reason(details: Any) -> str:
    """The ``reason`` in an event's details (``unknown`` when it has none)."""
    if not details:
        return "unknown"
    return str(json.loads(details).get("reason", "unknown"))


def conservation(orders: pd.DataFrame) -> dict[str, int]:
    """Final state counts of released orders; every one is terminal or open_at_horizon."""
    released = orders[orders["released"]]
    return {str(k): int(v) for k, v in released["final_state"].value_counts().sort_index().items()}
