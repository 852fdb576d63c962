"""How each KPI is shown: its group, its unit and how its value is printed.

The definitions are :mod:`twin.metrics`'s; this module only says how to read
them, so that the report, the terminal table and the comparison pages group and
label them alike. Rates stay fractions in every file (``kpis.json``, the store,
``--json``) and are printed as percentages. Costs are in the scenario's currency
(whatever its cost parameters are written in).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = [
    "GROUPS",
    "KpiDisplay",
    "display",
    "format_change",
    "format_interval",
    "format_value",
    "grouped",
]


@dataclass(frozen=True)
class KpiDisplay:
    """A KPI's group (``GROUPS``), what its number counts, and whether it is a
    fraction printed as a percentage."""

    group: str
    unit: str
    percent: bool = False


#: Groups in the order they are shown; a KPI unknown to the catalog goes to "other".
GROUPS = ("service", "orders", "cost", "productivity", "customers", "environment", "other")

_CATALOG: dict[str, KpiDisplay] = {
    "service_level": KpiDisplay("service", "% of orders due, in window", percent=True),
    "on_time_rate": KpiDisplay("service", "% of delivered", percent=True),
    "attempted_on_time_rate": KpiDisplay("service", "% of orders due", percent=True),
    "first_attempt_success_rate": KpiDisplay("service", "% of orders attempted", percent=True),
    "failed_delivery_rate": KpiDisplay("service", "% of attempts", percent=True),
    "orders_released": KpiDisplay("orders", "orders"),
    "delivered": KpiDisplay("orders", "orders"),
    "deliveries_made": KpiDisplay("orders", "parcels handed over in the measured days"),
    "no_attempts": KpiDisplay("orders", "parcels brought back untried"),
    "returned_to_sender": KpiDisplay("orders", "orders"),
    "orders_open_at_horizon": KpiDisplay("orders", "orders open at the end"),
    "open_in_locker": KpiDisplay("orders", "orders"),
    "open_awaiting_reattempt": KpiDisplay("orders", "orders"),
    "open_not_yet_due": KpiDisplay("orders", "orders"),
    "open_past_due": KpiDisplay("orders", "orders"),
    "cost_per_delivery": KpiDisplay("cost", "currency / delivery"),
    "overtime_h": KpiDisplay("cost", "driver-hours"),
    "deliveries_per_driver_hour": KpiDisplay("productivity", "deliveries / driver-hour"),
    "driver_utilization": KpiDisplay("productivity", "% of paid time", percent=True),
    "km_per_delivery": KpiDisplay("productivity", "km / delivery"),
    "locker_share": KpiDisplay("customers", "% of delivered", percent=True),
    "customer_satisfaction": KpiDisplay("customers", "score 1-5"),
    "eta_mae_min": KpiDisplay("customers", "minutes (mean abs. ETA error)"),
    "co2_kg_per_delivery": KpiDisplay("environment", "kg CO2 / delivery"),
}

#: KPIs that are counts: printed without decimals when their mean is whole.
_COUNT_UNITS = ("orders", "parcels")


def display(name: str) -> KpiDisplay:
    """How ``name`` is shown; ``share_<mode>`` KPIs are productivity percentages."""
    if name in _CATALOG:
        return _CATALOG[name]
    if name.startswith("share_"):
        return KpiDisplay("productivity", "% of delivered", percent=True)
    return KpiDisplay("other", "")


def grouped(names: list[str]) -> list[tuple[str, list[str]]]:
    """``names`` by group, groups in :data:`GROUPS` order, KPIs in catalog order
    within a group (unknown ones last, alphabetically); empty groups left out."""
    order = {name: i for i, name in enumerate(_CATALOG)}
    out = []
    for group in GROUPS:
        mine = [n for n in names if display(n).group == group]
        mine.sort(key=lambda n: (order.get(n, len(order)), n))
        if mine:
            out.append((group, mine))
    return out


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_value(name: str, value: float | None) -> str:
    """A KPI's value as printed: percentages to 0.1, counts whole, others to 4 digits."""
    if _missing(value):
        return "—"
    assert value is not None
    info = display(name)
    if info.percent:
        return f"{100 * value:.1f} %"
    if info.unit.startswith(_COUNT_UNITS) and float(value).is_integer():
        return f"{int(value):,}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def format_change(name: str, value: float | None) -> str:
    """A difference of a KPI, signed: percentage points for rates."""
    if _missing(value):
        return "—"
    assert value is not None
    if display(name).percent:
        return f"{100 * value:+.1f} pp"
    if abs(value) >= 1000:
        return f"{value:+,.0f}"
    return f"{value:+.4g}"


def format_interval(name: str, ci: Any, *, change: bool = False) -> str:
    """A 95 % interval as ``low – high`` (of a value, or of a change), "—" for none."""
    if ci is None or ci[0] is None:
        return "—"
    fmt = format_change if change else format_value
    return f"{fmt(name, ci[0])} – {fmt(name, ci[1])}"
