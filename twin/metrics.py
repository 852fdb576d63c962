"""KPIs: pure functions of a run's tables (orders, vehicles, events).

Definitions (part of the contract; units in the names):

* ``delivered``: released orders *handed over*: the parcel reached the customer
  or a parcel locker. An order counts once, when its final state is ``delivered``
  or ``picked_up`` or when it has an ``in_locker`` event (a locker deposit is the
  carrier's delivery even if the customer has not collected it yet, or never
  does: the carrier's work and cost were spent on it). See :func:`handovers`;
* ``deliveries_made``: parcels handed over (their first hand-over) on the days
  the run measures, whatever day they were due: a warm-up parcel tried again on
  a measured day counts; an order due on a measured day but handed over only
  after the horizon does not. It is the denominator of every per-delivery and
  per-hour KPI, which so divide the cost, kilometres, CO2 and hours of the
  measured days by the parcels those same days handed over. Without a warm-up
  it equals ``delivered``;
* ``on_time_rate``: handed over inside the promised window (``delivered_s``, the
  door or locker hand-over time, at most ``window_end_s``) / delivered: the
  punctuality of what was delivered;
* ``service_level``: orders handed over inside their promised window / orders
  *due* (released, window ended by the horizon: the end of the last simulated
  day). Unlike ``on_time_rate`` it falls when a due order is not delivered at
  all (left open, returned, cancelled after its window);
* ``attempted_on_time_rate``: orders *due* whose first attempt at the door (the
  ``attempted`` event: parked and walked up, or at the locker) was inside the
  window / orders due: the fleet's punctuality, whatever happened at the door.
  ``service_level`` is at most this less the failures at the door;
* ``first_attempt_success_rate``: handed over without a failed attempt before
  (at most one attempt) / orders attempted or handed over;
* ``failed_delivery_rate``: failed attempts / attempts (those of the measured
  days, warm-up parcels' included), whatever the reason
  (:func:`failures_by_reason` splits them: customer absent, access problem, no
  safe place, refused, damaged, locker full);
* ``no_attempts``: parcels a courier took out and brought back without trying
  the door (working-day, driving or range limit reached, breakdown, blocked
  street, a crowd courier's skip). They are planned again and count in no
  attempt, failure or first-attempt KPI;
* ``cost_per_delivery``: (fixed + distance + driver time incl. overtime +
  operating cost: remote supervision, crowd couriers' pay; 0 when the vehicles
  table has no ``operating_cost`` column) / ``deliveries_made``. Every vehicle of
  the fleet is in the vehicles table every day; an owned vehicle left idle still
  costs its fixed cost. :func:`cost_breakdown` splits it into components that
  sum to it;
* ``deliveries_per_driver_hour``: deliveries made (``deliveries_made``) by
  vehicles with a paid driver or rider (vans, cargo bikes:
  :data:`twin.modes.CREWED`) / those vehicles' working hours. Robots, drones,
  autonomous vans and crowd couriers (paid per parcel) are left out of every
  driver KPI; :func:`kpis_by_mode` gives each mode's own ``deliveries_per_hour``;
* ``km_per_delivery``, ``co2_kg_per_delivery``: per delivery made;
* ``orders_open_at_horizon``: orders released but not finished when the run ends,
  split by why (they sum to it): ``open_in_locker`` (deposited in a locker, not yet
  collected), ``open_awaiting_reattempt`` (a failed attempt, waiting for the next),
  ``open_not_yet_due`` (the promised window ends after the horizon) and
  ``open_past_due`` (the window has passed with no failed attempt: a backlog; an
  order at the door when the run ends counts here or as not yet due);
* ``eta_mae_min``: mean |arrival - ETA announced at dispatch|, minutes;
* ``customer_satisfaction``: mean satisfaction (1-5) of customers who had an order;
* ``driver_utilization``: (driving + time at stops) / paid time (shift start to
  end) of the drivers who worked (crewed vehicles only): the share of a paid day
  spent moving parcels, not loading, waiting or on breaks;
* ``overtime_h``: paid time beyond the contracted shift length, summed over the
  drivers' days (crewed vehicles only; :func:`twin.fleet.shift_cost`);
* ``locker_share``: deliveries whose first hand-over was into a parcel locker
  (chosen by the customer or redirected after a failed attempt) / delivered;
* ``share_<mode>``: share of deliveries made by each vehicle mode; a delivery
  belongs to the vehicle of its first hand-over event (``delivered`` or
  ``in_locker``).

Warm-up: a run's KPIs are those of its measured days (:func:`measured`): the
orders *due* on a measured day or later (placed during the warm-up or after it),
the vehicle days of the measured days, and every event of those days. The
order KPIs (``delivered``, ``service_level``, ``on_time_rate``, first-attempt
success...) count the orders due: those due during the warm-up are left out
even when delivered later. (Counting orders by the day they were *placed*
would not do: most of a day's parcels are ordered the evening before.) The
per-delivery and per-hour KPIs divide what the measured days spent by what
they handed over (``deliveries_made``), warm-up parcels tried again included:
those were paid for in the measured days, so dividing by ``delivered`` would
charge their cost to the orders due and overstate the cost per delivery (on
the Laredo baseline by 6 %: $3.33 against $3.14).

Per mode, :func:`kpis_by_mode` gives one row per vehicle mode (``mode`` is the
index), computed from the same definitions restricted to that mode's vehicles:

* ``vehicle_days``: days a vehicle of that mode worked (rows with ``status``
  ``worked``; idle and no-show days are left out);
* ``deliveries``: orders handed over by a vehicle of that mode (see ``share_<mode>``);
* ``deliveries_made``: its ``deliveries_made`` (first hand-overs on the measured
  days, whatever the due day);
* ``share``: deliveries / all deliveries of the run (``delivered`` above); a
  hand-over without a recorded vehicle belongs to no mode;
* ``cost``: fixed + distance + driver + operating cost of that mode's vehicles;
* ``cost_per_delivery``, ``km_per_delivery``, ``co2_kg_per_delivery``: that
  mode's cost, km and CO2 / its deliveries made (NaN without any);
* ``deliveries_per_hour``: its deliveries made / its vehicles' working hours
  (the mode's productivity, crewed or not);
* ``on_time_rate``: of its deliveries, those with ``delivered_s <= window_end_s``;
* ``attempts``, ``failed_attempts``: ``attempted`` and ``failed`` events of its
  vehicles; ``failed_delivery_rate``: failed_attempts / attempts.

Comparisons: :data:`KPI_DIRECTIONS` says which way each KPI is better; the
statistics over replications (intervals, paired differences, verdicts) are in
:mod:`twin.stats`.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from twin.constants import DAY_S
from twin.kpi_breakdowns import conservation, cost_breakdown, failures_by_reason
from twin.kpi_breakdowns import ratio as _ratio
from twin.modes import CREWED

__all__ = [
    "HEADLINE_KPIS",
    "KPI_DIRECTIONS",
    "KPI_NAMES",
    "conservation",
    "cost_breakdown",
    "failures_by_reason",
    "handovers",
    "kpis",
    "kpis_by_mode",
    "measured",
]

KPI_NAMES = (
    "orders_released",
    "delivered",
    "deliveries_made",
    "on_time_rate",
    "service_level",
    "attempted_on_time_rate",
    "first_attempt_success_rate",
    "failed_delivery_rate",
    "no_attempts",
    "cost_per_delivery",
    "deliveries_per_driver_hour",
    "km_per_delivery",
    "co2_kg_per_delivery",
    "orders_open_at_horizon",
    "open_in_locker",
    "open_awaiting_reattempt",
    "open_not_yet_due",
    "open_past_due",
    "eta_mae_min",
    "customer_satisfaction",
    "driver_utilization",
    "overtime_h",
    "returned_to_sender",
    "locker_share",
)


#: Vehicle-table cost columns every run has; ``operating_cost`` is added when present.
COST_COLUMNS = ("fixed_cost", "distance_cost", "driver_cost")
#: Order event kinds that hand a parcel over: at the door, or into a parcel locker.
HANDOVER_KINDS = ("delivered", "in_locker")
#: Final states of an order that was handed over (``picked_up``: collected from a locker).
_HANDED_OVER_STATES = ("delivered", "picked_up")
#: Display order of the modes; unknown modes follow, alphabetically.
_MODE_ORDER = ("van", "cargo_bike", "autonomous_van", "robot", "drone", "crowd")
_BY_MODE_COLUMNS = (
    "vehicle_days",
    "deliveries",
    "deliveries_made",
    "share",
    "cost",
    "cost_per_delivery",
    "deliveries_per_hour",
    "km_per_delivery",
    "co2_kg_per_delivery",
    "on_time_rate",
    "attempts",
    "failed_attempts",
    "failed_delivery_rate",
)


def _vehicle_costs(vehicles: pd.DataFrame) -> pd.Series:
    """Total cost of each vehicle-day; results written before ``operating_cost`` count it 0."""
    columns = [*COST_COLUMNS, *(["operating_cost"] if "operating_cost" in vehicles else [])]
    return vehicles[columns].fillna(0.0).sum(axis=1).astype(float)


def _vehicle_modes(vehicles: pd.DataFrame) -> dict[str, str]:
    """Mode of every vehicle id (a vehicle keeps its mode on every day)."""
    if not len(vehicles):
        return {}
    first = vehicles.drop_duplicates("vehicle_id")
    return {str(v): str(m) for v, m in zip(first["vehicle_id"], first["mode"], strict=True)}


def handovers(events: pd.DataFrame) -> pd.DataFrame:
    """The first hand-over event of every order: who handed it over, when and where.

    A parcel is handed over at the door (``delivered``) or into a locker
    (``in_locker``). An order handed over twice (deposited, expired, delivered
    later) keeps its first hand-over: that is when the carrier's promise was met.

    Returns
    -------
    pandas.DataFrame
        Columns ``order_id``, ``vehicle_id``, ``time_s``, ``day``, ``kind``; one
        row per order, in time order.
    """
    columns = ["order_id", "vehicle_id", "time_s", "day", "kind"]
    if not len(events):
        return pd.DataFrame(columns=columns)
    handed = events.loc[events["kind"].isin(HANDOVER_KINDS), columns]
    handed = handed[handed["order_id"].notna()]
    return handed.sort_values("time_s", kind="stable").drop_duplicates("order_id")


def _handed_over(released: pd.DataFrame, first: pd.DataFrame) -> pd.Series:
    """Mask of the released orders that were handed over (module docstring, ``delivered``);
    ``first`` is :func:`handovers` of the run's events."""
    in_events = set(first["order_id"].astype(str))
    return released["final_state"].isin(_HANDED_OVER_STATES) | released["order_id"].astype(
        str
    ).isin(in_events)


def kpis(orders: pd.DataFrame, vehicles: pd.DataFrame, events: pd.DataFrame) -> dict[str, float]:
    """KPIs of one run (see the module docstring for definitions)."""
    released = orders[orders["released"]] if len(orders) else orders
    first = handovers(events)
    # An empty object-dtype mask would select columns, not rows: make it boolean.
    handed = _handed_over(released, first) if len(released) else released["released"].astype(bool)
    delivered = released[handed]
    n_del = len(delivered)
    attempts = events[events["kind"] == "attempted"]
    failed = events[events["kind"] == "failed"]
    failed_orders = set(failed["order_id"].dropna().astype(str))
    attempted_orders = int(((released["attempts"] > 0) | handed).sum())
    first_ok = int(
        (
            handed
            & (released["attempts"] <= 1)
            & ~released["order_id"].astype(str).isin(failed_orders)
        ).sum()
    )
    on_time_mask = delivered["delivered_s"] <= delivered["window_end_s"] + 1e-6
    on_time = on_time_mask.sum()
    due = released["window_end_s"] <= _horizon_s(events) + 1e-6
    tries = attempts.sort_values("time_s", kind="stable").drop_duplicates("order_id")
    first_try = dict(zip(tries["order_id"].astype(str), tries["time_s"].astype(float), strict=True))
    first_try_s = released["order_id"].astype(str).map(first_try).astype(float)
    # Never tried (NaN) compares False: not reached in time.
    reached = first_try_s <= released["window_end_s"].astype(float) + 1e-6
    eta_err = (released["arrival_s"] - released["eta_announced_s"]).abs().dropna()
    costs = float(_vehicle_costs(vehicles).sum()) if len(vehicles) else 0.0
    km = float(vehicles["km"].sum()) if len(vehicles) else 0.0
    # Driver KPIs are over the vehicles with a paid driver or rider: a robot's or a
    # drone's hours are not driver hours (per-mode productivity: kpis_by_mode).
    crewed = vehicles[vehicles["mode"].isin(CREWED)] if len(vehicles) else vehicles
    working = float(crewed["working_h"].sum()) if len(crewed) else 0.0
    # Busy: driving or at a customer's door (NaN for tables without those columns,
    # such as results written before at_stops_h existed).
    timed = len(crewed) and {"driving_h", "at_stops_h"} <= set(crewed.columns)
    busy = float((crewed["driving_h"] + crewed["at_stops_h"]).sum()) if timed else math.nan
    mine = first["order_id"].astype(str).isin(delivered["order_id"].astype(str))
    made = _made(first, vehicles)
    n_made = len(made)
    crewed_ids = set(crewed["vehicle_id"].astype(str)) if len(crewed) else set()
    by_crew = int(made["vehicle_id"].astype(str).isin(crewed_ids).sum())
    in_locker = int((mine & (first["kind"] == "in_locker")).sum())
    customers = released["customer"].unique()
    satisfaction = (
        released.drop_duplicates("customer")["satisfaction"].mean() if len(customers) else math.nan
    )
    out: dict[str, float] = {
        "orders_released": float(len(released)),
        "delivered": float(n_del),
        "deliveries_made": float(n_made),
        "on_time_rate": _ratio(on_time, n_del),
        "service_level": _ratio(int(on_time_mask[due[handed]].sum()), int(due.sum())),
        "attempted_on_time_rate": _ratio(int((reached & due).sum()), int(due.sum())),
        "first_attempt_success_rate": _ratio(first_ok, attempted_orders),
        "failed_delivery_rate": _ratio(len(failed), len(attempts)),
        "no_attempts": float((events["kind"] == "no_attempt").sum()) if len(events) else 0.0,
        "cost_per_delivery": _ratio(costs, n_made),
        "deliveries_per_driver_hour": _ratio(by_crew, working),
        "km_per_delivery": _ratio(km, n_made),
        "co2_kg_per_delivery": _ratio(
            float(vehicles["co2_kg"].sum()) if len(vehicles) else 0.0, n_made
        ),
        "orders_open_at_horizon": float((released["final_state"] == "open_at_horizon").sum()),
        **_open_by_reason(released, events),
        "eta_mae_min": float(eta_err.mean() / 60.0) if len(eta_err) else math.nan,
        "customer_satisfaction": float(satisfaction),
        "driver_utilization": _ratio(busy, working),
        "overtime_h": float(crewed["overtime_h"].sum()) if len(crewed) else 0.0,
        "returned_to_sender": float((released["final_state"] == "returned_to_sender").sum()),
        "locker_share": _ratio(in_locker, n_del),
    }
    if len(vehicles) and n_del:
        for mode, count in _deliveries_by_mode(released, vehicles, first).items():
            out[f"share_{mode}"] = float(count / n_del)
    return out


def _made(first: pd.DataFrame, vehicles: pd.DataFrame) -> pd.DataFrame:
    """The first hand-overs (``first``: :func:`handovers`) made on the days of the
    vehicles table, whatever day each parcel was due: the output of the days
    whose costs and hours that table holds (all of them without a table)."""
    if not len(vehicles):
        return first
    return first[first["day"].isin(set(vehicles["day"]))]


def _horizon_s(events: pd.DataFrame) -> float:
    """The end of the run: the first midnight at or after its last event (a run ends
    at a day's end, where the engine logs the orders still open)."""
    if not len(events):
        return 0.0
    return float(math.ceil(float(events["time_s"].max()) / DAY_S)) * DAY_S


#: Why an order is open at the horizon, checked in this order (first match wins).
OPEN_REASONS = ("open_in_locker", "open_awaiting_reattempt", "open_not_yet_due", "open_past_due")


def _open_by_reason(released: pd.DataFrame, events: pd.DataFrame) -> dict[str, float]:
    """The orders open at the horizon, by reason (module docstring); they sum to the total.

    The horizon is the time of the ``open_at_horizon`` events; an order's state
    before it is in their details (``last_state``).
    """
    counts = dict.fromkeys(OPEN_REASONS, 0.0)
    at_end = events[events["kind"] == "open_at_horizon"] if len(events) else events
    open_ids = set(
        released.loc[released["final_state"] == "open_at_horizon", "order_id"].astype(str)
    )
    if not open_ids or not len(at_end):
        return counts
    at_end = at_end[at_end["order_id"].astype(str).isin(open_ids)]
    last = {
        str(oid): json.loads(details).get("last_state") if details else None
        for oid, details in zip(at_end["order_id"], at_end["details"], strict=True)
    }
    horizon = dict(zip(at_end["order_id"].astype(str), at_end["time_s"], strict=True))
    rows = released[released["order_id"].astype(str).isin(open_ids)]
    for oid, attempts, window_end in zip(
        rows["order_id"].astype(str), rows["attempts"], rows["window_end_s"], strict=True
    ):
        if last.get(oid) == "in_locker":
            reason = "open_in_locker"
        elif attempts > 0 and last.get(oid) != "attempted":
            reason = "open_awaiting_reattempt"
        elif window_end > horizon.get(oid, math.inf):
            reason = "open_not_yet_due"
        else:
            reason = "open_past_due"
        counts[reason] += 1.0
    return counts


def measured(
    orders: pd.DataFrame, vehicles: pd.DataFrame, events: pd.DataFrame, *, warmup_days: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The run's tables restricted to its measured days (module docstring, "Warm-up").

    Orders due on day ``warmup_days`` or later, vehicle days from it on, the
    events of those orders, and every event from that day's start: a warm-up
    parcel tried again on a measured day is that day's work, paid in its vehicle
    days, so its attempt and hand-over belong with them. With ``warmup_days=0``
    the tables are returned as they are.
    """
    if warmup_days <= 0:
        return orders, vehicles, events
    start_s = warmup_days * DAY_S
    kept = orders[orders["due_day"] >= warmup_days] if len(orders) else orders
    days = vehicles[vehicles["day"] >= warmup_days] if len(vehicles) else vehicles
    if not len(events):
        return kept, days, events
    ids = set(kept["order_id"].astype(str))
    order_ids = events["order_id"]
    mine = order_ids.notna() & order_ids.astype(str).isin(ids)
    return kept, days, events[mine | (events["time_s"] >= start_s)]


def _attributed(
    released: pd.DataFrame, vehicles: pd.DataFrame, first: pd.DataFrame
) -> pd.DataFrame:
    """First hand-over (``first``: :func:`handovers`) of every released order with the
    mode of the vehicle that made it."""
    first = first[first["order_id"].astype(str).isin(set(released["order_id"].astype(str)))]
    modes = _vehicle_modes(vehicles)
    mode = first["vehicle_id"].dropna().astype(str).map(modes)
    return first.assign(mode=mode).dropna(subset=["mode"])


def _deliveries_by_mode(
    released: pd.DataFrame, vehicles: pd.DataFrame, first: pd.DataFrame
) -> dict[str, int]:
    counts = _attributed(released, vehicles, first)["mode"].value_counts()
    return {str(m): int(counts[m]) for m in _sorted_modes(counts.index)}


def _sorted_modes(modes: Any) -> list[str]:
    known = [m for m in _MODE_ORDER if m in set(modes)]
    return known + sorted({str(m) for m in modes} - set(_MODE_ORDER))


def kpis_by_mode(
    orders: pd.DataFrame, vehicles: pd.DataFrame, events: pd.DataFrame
) -> pd.DataFrame:
    """Deliveries, cost, CO2, punctuality and failures of each vehicle mode of one run.

    A mixed fleet's headline KPIs average very different vehicles (a drone's
    sortie costs a fraction of a van-day); this table says what each mode
    delivered and at what cost, so a mode's contribution can be judged on its own.

    Parameters
    ----------
    orders, vehicles, events : pandas.DataFrame
        A run's tables, as for :func:`kpis`. A vehicles table without
        ``operating_cost`` (results from before the delivery modes) counts it 0.

    Returns
    -------
    pandas.DataFrame
        One row per mode that has vehicles or hand-overs, indexed by ``mode``
        (van first, then cargo bike, autonomous van, robot, drone, crowd, then
        any other alphabetically); the columns are defined in the module
        docstring. Empty (same columns) when the run has no vehicles.
    """
    released = orders[orders["released"]] if len(orders) else orders
    first = handovers(events)
    n_del = int(_handed_over(released, first).sum()) if len(released) else 0
    modes = _vehicle_modes(vehicles)
    attributed = _attributed(released, vehicles, first)
    ids = released["order_id"].astype(str)
    slack = dict(zip(ids, released["window_end_s"] - released["delivered_s"], strict=True))
    # NaN slack (no hand-over time recorded) compares False: not on time.
    attributed = attributed.assign(on_time=attributed["order_id"].astype(str).map(slack) >= -1e-6)
    vehicle_mode = vehicles["vehicle_id"].astype(str).map(modes) if len(vehicles) else None
    cost = _vehicle_costs(vehicles) if len(vehicles) else pd.Series(dtype=float)
    attempts = _events_by_mode(events, "attempted", modes)
    failed = _events_by_mode(events, "failed", modes)
    made = _made(first, vehicles)["vehicle_id"].dropna().astype(str).map(modes)
    rows = []
    for mode in _sorted_modes(set(modes.values()) | set(attributed["mode"])):
        mine = vehicle_mode == mode if vehicle_mode is not None else None
        done = attributed[attributed["mode"] == mode]
        n = len(done)
        n_made = int((made == mode).sum())
        mode_cost = float(cost[mine].sum()) if mine is not None else 0.0
        km = float(vehicles.loc[mine, "km"].sum()) if mine is not None else 0.0
        co2 = float(vehicles.loc[mine, "co2_kg"].sum()) if mine is not None else 0.0
        hours = float(vehicles.loc[mine, "working_h"].sum()) if mine is not None else 0.0
        rows.append(
            {
                "mode": mode,
                "vehicle_days": int((mine & _worked(vehicles)).sum()) if mine is not None else 0,
                "deliveries": n,
                "deliveries_made": n_made,
                "share": _ratio(n, n_del),
                "cost": mode_cost,
                "cost_per_delivery": _ratio(mode_cost, n_made),
                "deliveries_per_hour": _ratio(n_made, hours),
                "km_per_delivery": _ratio(km, n_made),
                "co2_kg_per_delivery": _ratio(co2, n_made),
                "on_time_rate": _ratio(int(done["on_time"].sum()), n),
                "attempts": attempts.get(mode, 0),
                "failed_attempts": failed.get(mode, 0),
                "failed_delivery_rate": _ratio(failed.get(mode, 0), attempts.get(mode, 0)),
            }
        )
    frame = pd.DataFrame(rows, columns=["mode", *_BY_MODE_COLUMNS])
    return frame.set_index("mode")


def _worked(vehicles: pd.DataFrame) -> pd.Series:
    """Mask of the vehicle days with work (tables without ``status``: every row)."""
    if "status" not in vehicles:
        return pd.Series(True, index=vehicles.index)
    return vehicles["status"] == "worked"


def _events_by_mode(events: pd.DataFrame, kind: str, modes: dict[str, str]) -> dict[str, int]:
    """How many events of ``kind`` the vehicles of each mode logged."""
    vids = events.loc[events["kind"] == kind, "vehicle_id"].dropna().astype(str)
    counts = vids.map(modes).dropna().value_counts()
    return {str(m): int(c) for m, c in counts.items()}


#: Which way each KPI is better: +1 higher, -1 lower, 0 neutral (no verdict).
#: ``orders_released`` is demand, not performance; under common random numbers it
#: should not move at all. ``driver_utilization`` is neutral on purpose: it rises
#: when idle drivers are cut (good) but also when the same deliveries take longer
#: routes (bad), so its sign alone says nothing; read it with cost and km.
#: ``locker_share`` is a choice of the network, not a result to maximise (read it
#: with cost). ``share_<mode>`` KPIs are not listed and so are neutral too.
KPI_DIRECTIONS: dict[str, int] = {
    "orders_released": 0,
    "delivered": 1,
    "deliveries_made": 1,
    "on_time_rate": 1,
    "service_level": 1,
    "attempted_on_time_rate": 1,
    "first_attempt_success_rate": 1,
    "failed_delivery_rate": -1,
    "no_attempts": -1,
    "cost_per_delivery": -1,
    "deliveries_per_driver_hour": 1,
    "km_per_delivery": -1,
    "co2_kg_per_delivery": -1,
    "orders_open_at_horizon": -1,
    "open_in_locker": 0,
    "open_awaiting_reattempt": -1,
    "open_not_yet_due": 0,
    "open_past_due": -1,
    "eta_mae_min": -1,
    "customer_satisfaction": 1,
    "driver_utilization": 0,
    "overtime_h": -1,
    "returned_to_sender": -1,
    "locker_share": 0,
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
