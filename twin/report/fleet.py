"""The fleet in the report: vehicles used of the fleet, and one row per vehicle.

Both are read off a run's vehicles table (one row per vehicle and day, used or
not: :mod:`twin.sim.tables`), over the measured days. A planner asking "how many
vans did the day need?" reads :func:`fleet_use`; one asking "which routes ran
long, and where did the hours go?" reads :func:`per_vehicle`, whose hour columns
split each working day (driving, at stops, loading, waiting, on break) and sum
to the hours worked.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

__all__ = ["HOUR_PARTS", "fleet_use", "fleet_use_html", "per_vehicle", "per_vehicle_html"]

#: The parts a working day splits into (hours; they sum to ``working_h``).
HOUR_PARTS = ("driving_h", "at_stops_h", "loading_h", "waiting_h", "break_h")
#: Longer per-vehicle tables are folded away (a city's fleet is hundreds of rows).
_OPEN_ROWS = 60
_COST = ("fixed_cost", "distance_cost", "driver_cost", "operating_cost")


def _status(vehicles: pd.DataFrame) -> pd.Series:
    if "status" in vehicles:
        return vehicles["status"]
    return pd.Series("worked", index=vehicles.index)


def fleet_use(vehicles: pd.DataFrame) -> pd.DataFrame:
    """Per mode: the fleet, and how many of it worked on a measured day.

    Columns: ``fleet`` (vehicles of that mode in the table), ``days``, ``used_per_day``
    (mean vehicles that worked a day), ``used_max`` (most on any day), ``idle_days``
    (given no work) and ``no_show_days`` (driver stayed away). Crowd couriers are
    only in the table on days they work, so their ``fleet`` is the couriers seen.
    """
    status = _status(vehicles)
    rows = {}
    for mode, mine in vehicles.groupby("mode", sort=False):
        worked = mine[status[mine.index] == "worked"]
        per_day = (
            worked.groupby("day").size().reindex(sorted(vehicles["day"].unique()), fill_value=0)
        )
        rows[str(mode)] = {
            "fleet": int(mine["vehicle_id"].nunique()),
            "days": int(vehicles["day"].nunique()),
            "used_per_day": float(per_day.mean()) if len(per_day) else 0.0,
            "used_max": int(per_day.max()) if len(per_day) else 0,
            "idle_days": int((status[mine.index] == "idle").sum()),
            "no_show_days": int((status[mine.index] == "no_show").sum()),
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("mode")


def per_vehicle(vehicles: pd.DataFrame) -> pd.DataFrame:
    """One row per vehicle, summed over the measured days it worked; its cost over all
    measured days (an owned vehicle's fixed cost counts on idle days too)."""
    status = _status(vehicles)
    worked = vehicles[status == "worked"]
    sums = worked.groupby("vehicle_id", sort=True)[
        ["trips", "stops_attempted", "km", "working_h", *HOUR_PARTS, "overtime_h"]
    ].sum()
    costs = vehicles[[c for c in _COST if c in vehicles]].fillna(0.0).sum(axis=1)
    first = worked.drop_duplicates("vehicle_id").set_index("vehicle_id")
    table = pd.DataFrame(
        {
            "mode": first["mode"],
            "hub": first["hub"],
            "days_worked": worked.groupby("vehicle_id").size(),
        }
    ).join(sums)
    table["cost"] = costs.groupby(vehicles["vehicle_id"]).sum().reindex(table.index)
    return table.rename_axis("vehicle")


_USE_HEAD = (
    "<tr><th>mode</th><th>fleet</th><th>used per day (mean)</th><th>used, most in a day</th>"
    "<th>idle vehicle-days</th><th>no-show vehicle-days</th></tr>"
)


def fleet_use_html(vehicles: pd.DataFrame) -> str:
    """The "vehicles used of the fleet" table (replication 1, measured days)."""
    use = fleet_use(vehicles)
    body = "".join(
        f"<tr><td>{html.escape(str(r.Index))}</td><td>{r.fleet}</td>"
        f"<td>{r.used_per_day:.1f}</td><td>{r.used_max}</td>"
        f"<td>{r.idle_days}</td><td>{r.no_show_days}</td></tr>"
        for r in use.itertuples()
    )
    return f'<table id="fleet-use">{_USE_HEAD}{body}</table>'


_VEHICLE_HEAD = (
    "vehicle",
    "hub",
    "days",
    "trips",
    "stops",
    "km",
    "driving h",
    "at stops h",
    "loading h",
    "waiting h",
    "break h",
    "overtime h",
    "cost",
)


def _num(value: float, digits: int = 1) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:,.{digits}f}"


def per_vehicle_html(vehicles: pd.DataFrame) -> str:
    """The per-vehicle table with a total row (replication 1, measured days)."""
    table = per_vehicle(vehicles)
    if not len(table):
        return '<p class="note">No vehicle worked on a measured day.</p>'
    hours = (*HOUR_PARTS, "overtime_h")

    def row(name: str, r: Mapping[Any, Any], cell: str = "td") -> str:
        cells = [
            html.escape(name.rsplit("/", 1)[-1]),  # the hub is a column of its own
            html.escape(str(r["hub"])),
            str(int(r["days_worked"])),
            str(int(r["trips"])),
            str(int(r["stops_attempted"])),
            _num(float(r["km"])),
            *(_num(float(r[c]), 2) for c in hours),
            _num(float(r["cost"]), 2),
        ]
        return "<tr>" + "".join(f"<{cell}>{c}</{cell}>" for c in cells) + "</tr>"

    head = "".join(f"<th>{h}</th>" for h in _VEHICLE_HEAD)
    body = "".join(row(str(v), r.to_dict()) for v, r in table.iterrows())
    total = {**table.drop(columns=["mode", "hub"]).sum().to_dict(), "hub": ""}
    rows = f'<table id="vehicles"><tr>{head}</tr>{body}{row("total", total, "th")}</table>'
    if len(table) <= _OPEN_ROWS:
        return rows
    return f"<details><summary>{len(table)} vehicles (click to show)</summary>{rows}</details>"
