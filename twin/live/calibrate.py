"""Calibrate a scenario to history: what the operation's own records say.

Four fits, each from the records that identify it:

- **Service time** at a stop (departure minus the later of arrival and window
  start), by delivery option, outcome and area. The engine's stop is parking +
  walk + handover (+ signature) + walk back, each lognormal with one CV. A
  failed attempt has no handover, so failed stops measure the overhead, and
  delivered ones the overhead plus the handover. Parking and walking cannot be
  told apart by a stop's duration; their ratio is kept from the base scenario.
- **Customer presence** by hour (and area): the share of attempts (home and
  signature options; a safe drop needs nobody) that met someone. Failures for
  other reasons (no access, a full locker) say nothing about presence and are
  left out.
- **Travel-time multipliers** by hour and road class: each stop-to-stop leg's
  time against the base model's expected time on its path, class by class. The
  base scenario's profile is scaled by one factor per hour and one per road
  class (fitted by alternating least squares), so that a class or an hour with
  few legs keeps the base shape instead of a noisy guess. Legs with a driver's
  break in them are left out.
- **Order arrivals**: orders per day, the share known at the cutoff, the hourly
  profile of the rest, and the shares of window kinds and delivery options.

:func:`observed_kpis` computes the same KPIs from any history, real or
simulated, so the validation compares like with like: the calibrated scenario
is simulated, each run exported as history, and its KPIs' confidence intervals
set against the historical values (:func:`validate`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from twin.customers import answer_probability
from twin.fleet import stop_overhead_s
from twin.live.history import History, history_from_result
from twin.live.state import AT_HUB_M
from twin.maps.network import ROAD_CLASSES, RoadNetwork
from twin.metrics import summarize
from twin.scenario import Scenario
from twin.scenario.edit import derive
from twin.sim import SimResult, Simulation
from twin.traveltime import TravelTimes
from twin.world import place_hubs

__all__ = [
    "Calibration",
    "calibrate",
    "fit_arrivals",
    "fit_fleet",
    "fit_presence",
    "fit_service",
    "fit_travel",
    "history_days",
    "observed_kpis",
    "validate",
]

H = 3600.0
#: Fewer observations than these and a cell keeps the base scenario's value.
MIN_ATTEMPTS_PER_HOUR = 20
MIN_LEGS_PER_HOUR = 15
#: A road class needs this share of all free-flow time on the legs to get its own factor.
MIN_CLASS_SHARE = 0.05
ABSENCE_REASONS = frozenset({"", "customer_absent", "absent", "not_home", "no_answer"})


@dataclass(frozen=True)
class Calibration:
    """The calibrated scenario and every fitted figure behind it (``fits``, JSON-ready)."""

    scenario: Scenario
    fits: dict[str, Any]


def _hours(span: Any) -> Any:
    """A timedelta Series (or scalar) in hours."""
    return span / pd.Timedelta(hours=1)


# -- service time ----------------------------------------------------------------------
def _dwell_s(history: History) -> pd.DataFrame:
    """Each stop with its service time and the order's option and area."""
    stops = history.stops.merge(
        history.orders[["order_id", "option", "area", "window_start"]], on="order_id"
    )
    began = stops[["arrived_at", "window_start"]].max(axis=1)
    dwell = _hours(stops["departed_at"] - began) * H
    return stops.assign(dwell_s=dwell.clip(lower=0.0))


def _lognormal_fit(x: np.ndarray) -> dict[str, float]:
    x = x[x > 0]
    if len(x) < 2:
        return {"n": len(x)}
    logs = np.log(x)
    return {
        "n": len(x),
        "mean_s": float(x.mean()),
        "cv": float(x.std(ddof=1) / x.mean()),
        "p50_s": float(np.median(x)),
        "p90_s": float(np.quantile(x, 0.9)),
        "lognormal_mu": float(logs.mean()),
        "lognormal_sigma": float(logs.std(ddof=1)),
    }


def fit_service(history: History, base: Scenario, presence: np.ndarray) -> dict[str, Any]:
    """Service-time distributions by option/outcome/area, and the scenario's parameters.

    Returns ``groups`` (a lognormal fit per option, outcome and area) and
    ``scenario`` (parking, walk, handover and signature means, and the CV) with
    ``n_failed`` / ``n_delivered`` counts behind them. ``presence`` (24 hourly
    chances that someone answers) splits safe drops into handovers and drops.
    The parking/walking split is not identifiable from stop durations and keeps
    the base ratio; the CV is then the one that gives failed and home stops
    their observed variance.
    """
    stops = _dwell_s(history)
    groups = []
    for (option, outcome, area), g in stops.groupby(["option", "outcome", "area"], sort=True):
        groups.append(
            {"option": option, "outcome": outcome, "area": area}
            | _lognormal_fit(g["dwell_s"].to_numpy(float))
        )
    s = base.service
    present = stops["option"].isin(["home", "signature"])
    no_one = present & (stops["outcome"] == "failed") & stops["reason"].isin(ABSENCE_REASONS)
    failed = stops[no_one]["dwell_s"].to_numpy(float)
    home = stops[(stops["option"] == "home") & (stops["outcome"] == "delivered")]
    home_s = home["dwell_s"].to_numpy(float)
    signed = stops[(stops["option"] == "signature") & (stops["outcome"] == "delivered")]
    signed_s = signed["dwell_s"].to_numpy(float)
    base_overhead = stop_overhead_s(s)  # the engine's stop, inverted below
    # One least-squares fit of overhead O, handover H and signature extra S over all
    # stops: failed (absent) = O; delivered at home = O + H; signed = O + H + S; a safe
    # drop = O + H if someone is in (presence p at that hour), else O + H / 2.
    absent = (stops["outcome"] == "failed") & stops["reason"].isin(ABSENCE_REASONS)
    usable = absent | (stops["outcome"] == "delivered")
    st = stops[usable & (stops["option"] != "locker")]
    p = presence[st["arrived_at"].dt.hour.to_numpy()]
    done = (st["outcome"] == "delivered").to_numpy()
    a = np.where(done, np.where(st["option"] == "safe_drop", 0.5 + 0.5 * p, 1.0), 0.0)
    b = (done & (st["option"] == "signature").to_numpy()).astype(float)
    design = np.column_stack([np.ones(len(st)), a, b])
    enough = len(failed) >= 10 and (a > 0).sum() >= 10
    if enough:
        cols = [0, 1, 2] if b.sum() >= 10 else [0, 1]
        coef, *_ = np.linalg.lstsq(design[:, cols], st["dwell_s"].to_numpy(float), rcond=None)
        overhead, handover = float(coef[0]), max(float(coef[1]), 0.0)
        extra = float(coef[2]) if len(cols) == 3 else s.signature_extra_s
    else:
        overhead, handover, extra = base_overhead, s.handover_s_mean, s.signature_extra_s
    share = s.parking_s_mean / base_overhead if base_overhead > 0 else 1 / 3
    parking, walk = overhead * share, overhead * (1 - share) / 2
    # Var(sum of independent lognormals with one CV) = cv^2 * sum(mean_i^2).
    m2_failed = parking**2 + 2 * walk**2
    m2_home = m2_failed + handover**2
    num = den = 0.0
    if len(failed) >= 10:
        num += float(np.var(failed, ddof=1)) * len(failed)
        den += m2_failed * len(failed)
    if len(home_s) >= 10:
        num += float(np.var(home_s, ddof=1)) * len(home_s)
        den += m2_home * len(home_s)
    cv = math.sqrt(num / den) if den > 0 else s.service_cv
    return {
        "groups": groups,
        "scenario": {
            "parking_s_mean": round(parking, 2),
            "walk_s_mean": round(walk, 2),
            "handover_s_mean": round(handover, 2),
            "signature_extra_s": round(max(extra, 0.0), 2),
            "service_cv": round(cv, 4),
        },
        "n_failed": len(failed),
        "n_delivered_home": len(home_s),
        "n_delivered_signature": len(signed_s),
    }


# -- presence --------------------------------------------------------------------------
def _wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (math.nan, math.nan)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (centre - half, centre + half)


def effective_presence(base: Scenario) -> np.ndarray:
    """The population's chance, by hour, that an attempt meets someone who answers."""
    return answer_probability(base.customers, np.arange(24))


def fit_presence(history: History, base: Scenario) -> dict[str, Any]:
    """Share of attempts that met someone, by hour of arrival, overall and by area.

    Hours with fewer than :data:`MIN_ATTEMPTS_PER_HOUR` attempts keep the base
    scenario's value in ``at_home_by_hour`` (marked ``from_base``).
    """
    stops = _dwell_s(history)
    stops = stops[stops["option"].isin(["home", "signature"])]
    stops = stops[(stops["outcome"] == "delivered") | stops["reason"].isin(ABSENCE_REASONS)]
    hour = stops["arrived_at"].dt.hour.to_numpy()
    met = (stops["outcome"] == "delivered").to_numpy()
    prior = effective_presence(base)
    by_hour, fitted = [], prior.copy()
    for h in range(24):
        sel = hour == h
        n, k = int(sel.sum()), int(met[sel].sum())
        lo, hi = _wilson(k, n)
        enough = n >= MIN_ATTEMPTS_PER_HOUR
        if enough:
            fitted[h] = k / n
        by_hour.append(
            {
                "hour": h,
                "attempts": n,
                "met": k,
                "rate": k / n if n else None,
                "ci": [lo, hi] if n else None,
                "from_base": not enough,
            }
        )
    by_area = []
    for area, g in stops.groupby("area", sort=True):
        n, k = len(g), int((g["outcome"] == "delivered").sum())
        by_area.append({"area": area, "attempts": n, "rate": k / n, "ci": list(_wilson(k, n))})
    return {"by_hour": by_hour, "by_area": by_area, "at_home_by_hour": fitted.round(4).tolist()}


# -- travel ----------------------------------------------------------------------------
def _legs(history: History, hubs: np.ndarray | None = None) -> pd.DataFrame:
    """Stop-to-stop driving legs of each vehicle's day.

    Left out: legs with a break inside, and legs between two trips, which hold a
    drive back to the hub and a reload. A trip change shows in the stops'
    ``trip`` numbers or, where ``hubs`` (rows of lat, lon) are given, in a ping
    within ``AT_HUB_M`` of a hub during the leg.
    """
    s = history.stops.merge(history.orders[["order_id", "lat", "lon"]], on="order_id")
    if "trip" not in s:
        s["trip"] = 0
    s = s.sort_values(["vehicle_id", "arrived_at"], kind="stable")
    nxt = s.groupby("vehicle_id").shift(-1)
    legs = pd.DataFrame(
        {
            "vehicle_id": s["vehicle_id"],
            "depart": s["departed_at"],
            "arrive": nxt["arrived_at"],
            "lat0": s["lat"],
            "lon0": s["lon"],
            "lat1": nxt["lat"],
            "lon1": nxt["lon"],
            "trip0": s["trip"],
            "trip1": nxt["trip"],
        }
    ).dropna()
    legs = legs[legs["arrive"].dt.normalize() == legs["depart"].dt.normalize()]
    known = (legs["trip0"] > 0) & (legs["trip1"] > 0)
    legs = legs[~known | (legs["trip0"] == legs["trip1"])]
    for b in history.breaks.itertuples(index=False):
        overlap = (
            (legs["vehicle_id"] == b.vehicle_id)
            & (legs["depart"] < b.end_at)
            & (legs["arrive"] > b.start_at)
        )
        legs = legs[~overlap]
    if hubs is not None and len(hubs) and len(history.pings):
        legs = legs[~_via_hub(legs, history.pings, hubs)]
    observed = (legs["arrive"] - legs["depart"]) / pd.Timedelta(seconds=1)
    legs = legs.drop(columns=["trip0", "trip1"])
    return legs.assign(observed_s=observed.to_numpy(float)).reset_index(drop=True)


def _via_hub(legs: pd.DataFrame, pings: pd.DataFrame, hubs: np.ndarray) -> np.ndarray:
    """Whether the vehicle was pinged within ``AT_HUB_M`` of a hub during each leg."""
    lat, lon = pings["lat"].to_numpy(float), pings["lon"].to_numpy(float)
    dy = (lat[:, None] - hubs[None, :, 0]) * 111_320.0
    dx = (lon[:, None] - hubs[None, :, 1]) * 111_320.0 * np.cos(np.radians(hubs[None, :, 0]))
    near = (np.hypot(dx, dy) <= AT_HUB_M).any(axis=1)
    at_hub = pings[near]
    out = np.zeros(len(legs), dtype=bool)
    times = {v: np.sort(g["time"].to_numpy()) for v, g in at_hub.groupby("vehicle_id")}
    for i, (vid, dep, arr) in enumerate(
        zip(legs["vehicle_id"], legs["depart"].to_numpy(), legs["arrive"].to_numpy(), strict=True)
    ):
        t = times.get(vid)
        if t is not None:
            k = np.searchsorted(t, dep, side="right")
            out[i] = k < len(t) and t[k] < arr
    return out


def _expected_by_class(
    mover: TravelTimes, origins: np.ndarray, targets: np.ndarray, depart_s: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each leg's expected seconds per road class under the base model, and free-flow seconds.

    The path is the base model's fastest at the leg's departure, as the engine
    drives it; expected times include everything the base model has (school
    zones, bridge approaches, weather), so the fitted factors correct the model
    rather than replace it.
    """
    net = mover.network
    expected = np.zeros((len(origins), len(ROAD_CLASSES)))
    free = np.zeros_like(expected)
    for i, (o, d, t) in enumerate(zip(origins, targets, depart_s, strict=True)):
        nodes = mover.leg(int(o), int(d), depart_s=float(t)).nodes
        if len(nodes) < 2:
            continue
        idx = net.index(np.array(nodes))
        edges = net.edge_positions(idx[:-1], idx[1:])
        weights = mover.edge_times(float(t))[edges]
        np.add.at(expected[i], net.edge_class[edges], weights)
        np.add.at(free[i], net.edge_class[edges], net.edge_free_flow_s[edges])
    return expected, free


def fit_travel(history: History, base: Scenario, network: RoadNetwork) -> dict[str, Any]:
    """Travel-time multipliers by hour and road class, and the leg noise CV.

    Model: a leg's time = noise x sum over road classes of the base model's
    expected time on that class x hour factor x class factor; the calibrated
    multipliers are the base ones times both factors. Factors are fitted by
    alternating least squares; classes with too little free-flow time and hours
    with too few legs keep factor 1 (the base profile).
    """
    hub_nodes = np.array(sorted(place_hubs(base, network).values()))
    at = network.index(hub_nodes) if len(hub_nodes) else np.zeros(0, dtype=np.int64)
    legs = _legs(history, np.column_stack((network.lat[at], network.lon[at])))
    table = base.traffic.congestion.table()
    if len(legs) == 0:
        return {"legs": 0, "hourly": {c: table[i].tolist() for i, c in enumerate(ROAD_CLASSES)}}
    snap0 = network.snap(legs["lat0"].to_numpy(), legs["lon0"].to_numpy())
    snap1 = network.snap(legs["lat1"].to_numpy(), legs["lon1"].to_numpy())
    keep = snap0.node != snap1.node
    legs = legs[keep].reset_index(drop=True)
    mover = TravelTimes(network, base.traffic, start_weekday=base.start_weekday)
    depart_s = history.seconds(legs["depart"])
    x, ff = _expected_by_class(mover, snap0.node[keep], snap1.node[keep], depart_s)
    clock_h = (legs["depart"] - legs["depart"].dt.normalize()) / pd.Timedelta(hours=1)
    hours = clock_h.to_numpy(float)
    y = legs["observed_s"].to_numpy(float)
    ok = (x.sum(axis=1) > 0) & (y > 0)
    x, y, hours, ff = x[ok], y[ok], hours[ok], ff[ok]
    hour_bin = np.floor(hours).astype(int) % 24
    share = ff.sum(axis=0) / ff.sum()
    free = share >= MIN_CLASS_SHARE
    counts = np.bincount(hour_bin, minlength=24)
    k_class, r_hour = np.ones(len(ROAD_CLASSES)), np.ones(24)
    for _ in range(20):
        z = x @ k_class
        for h in np.flatnonzero(counts >= MIN_LEGS_PER_HOUR):
            sel = hour_bin == h
            r_hour[h] = float((y[sel] * z[sel]).sum() / (z[sel] ** 2).sum())
        a = x[:, free] * r_hour[hour_bin][:, None]
        rest = (x[:, ~free] * r_hour[hour_bin][:, None]).sum(axis=1)
        sol, _ = optimize.nnls(a, y - rest)
        k_new = k_class.copy()
        k_new[free] = np.maximum(sol, 0.05)
        # One overall scale lives in the hour factors; the class factors only
        # redistribute it (free-flow-weighted mean 1).
        norm = float((k_new[free] * share[free]).sum() / share[free].sum())
        k_new[free] /= norm
        r_hour[counts >= MIN_LEGS_PER_HOUR] *= norm
        done = np.allclose(k_new, k_class, rtol=1e-6)
        k_class = k_new
        if done:
            break
    fitted = (x @ k_class) * r_hour[hour_bin]
    ratio = y / fitted
    hourly = table * k_class[:, None] * r_hour[None, :]
    return {
        "legs": len(y),
        "legs_by_hour": counts.tolist(),
        "hour_factor": r_hour.round(4).tolist(),
        "class_factor": {c: round(float(k_class[i]), 4) for i, c in enumerate(ROAD_CLASSES)},
        "class_share_of_free_flow": {
            c: round(float(share[i]), 4) for i, c in enumerate(ROAD_CLASSES)
        },
        "noise_cv": round(float(ratio.std(ddof=1)), 4) if len(y) > 1 else None,
        "median_ratio": round(float(np.median(ratio)), 4),
        "hourly": {c: hourly[i].round(4).tolist() for i, c in enumerate(ROAD_CLASSES)},
    }


# -- arrivals --------------------------------------------------------------------------
def _window_kind(hours: float) -> str:
    return "all_day" if hours >= 6 else "four_hour" if hours >= 3 else "two_hour"


def fit_arrivals(history: History, base: Scenario) -> dict[str, Any]:
    """Orders per day, the share known at the cutoff, the day's arrival profile, the mixes.

    The engine's demand day ``d`` has orders known at the cutoff (placed in the 24 h
    before it, due on ``d``) and orders placed after it (due on ``d`` if same-day,
    else ``d + 1``). A known order placed the evening before and a next-day order
    placed then look alike in any record; what tells the two apart is the night:
    only known orders are placed between midnight and the cutoff of the due date.
    So the known share is read from that stretch (scaled to 24 h), the same-day
    share from the orders placed on their due date after the cutoff, and the
    arrival profile from the hours at which those same-day orders came in.
    """
    o = history.orders
    due = o["window_start"].dt.normalize()
    served = np.sort(history.stops["arrived_at"].dt.normalize().unique())
    # The first day lacks the next-day orders placed the day before the history began.
    days_used = served[1:] if len(served) > 2 else served
    in_days = due.isin(days_used) if len(days_used) else pd.Series(True, index=o.index)
    days = max(len(days_used), 1)
    per_day = int(in_days.sum()) / days
    cutoff_h = base.demand.cutoff_h
    created_h = (o["created_at"] - due) / pd.Timedelta(hours=1)
    night = in_days & (created_h >= 0) & (created_h < cutoff_h)
    n = max(int(in_days.sum()), 1)
    known = min(int(night.sum()) * 24.0 / cutoff_h / n, 1.0) if cutoff_h > 0 else 0.0
    # Same-day orders (placed on their due date after the cutoff) show the hours at
    # which the day's orders come in, up to two hours before the day window closes;
    # later hours keep the base profile's shape, scaled to join on.
    hours = np.arange(24)
    open_hours = (hours >= cutoff_h) & (hours < base.demand.day_window_h[1] - 2)
    same = in_days & (created_h >= cutoff_h) & (created_h < base.demand.day_window_h[1] - 2)
    seen = np.bincount(np.floor(created_h[same].to_numpy(float)).astype(int), minlength=24)[:24]
    prior = np.asarray(base.demand.arrival_weights, dtype=float) * (hours >= cutoff_h)
    scale = seen.sum() / prior[open_hours].sum() if prior[open_hours].sum() > 0 else 0.0
    weights = np.where(open_hours, seen, prior * scale).astype(float)
    late = n * (1 - known)
    open_mass = weights[open_hours].sum() / weights.sum() if weights.sum() > 0 else 0.0
    possible = late * open_mass
    same_share = min(int(same.sum()) / float(possible), 1.0) if possible > 0 else 0.0
    width_h = _hours(o["window_end"] - o["window_start"])
    kinds = width_h.map(_window_kind).value_counts(normalize=True)
    options = o["option"][o["option"] != "locker"].value_counts(normalize=True)
    return {
        "days": days,
        "orders_per_day": round(per_day),
        "share_known_at_cutoff": round(known, 4),
        "arrival_weights": (weights / weights.sum() * 100).round(3).tolist()
        if weights.sum() > 0
        else list(base.demand.arrival_weights),
        "windows": {k: round(float(v), 4) for k, v in kinds.items()},
        "options": {k: round(float(v), 4) for k, v in options.items()},
        "service_levels": {"same_day": round(same_share, 4), "next_day": round(1 - same_share, 4)},
    }


# -- the calibrated scenario -----------------------------------------------------------
def _complete_shares(fitted: dict[str, float], names: tuple[str, ...]) -> dict[str, float]:
    shares = {n: float(fitted.get(n, 0.0)) for n in names}
    total = sum(shares.values())
    return {n: v / total for n, v in shares.items()} if total > 0 else {}


def calibrate(history: History, base: Scenario, network: RoadNetwork) -> Calibration:
    """Fit ``base`` to ``history``: the same scenario with the fitted figures in place."""
    presence = fit_presence(history, base)
    service = fit_service(history, base, np.asarray(presence["at_home_by_hour"]))
    travel = fit_travel(history, base, network)
    arrivals = fit_arrivals(history, base)
    fleet = fit_fleet(history, base)
    data = base.model_dump(mode="json", exclude={"variants"})
    data["name"] = f"{base.name}_calibrated"
    data["description"] = (
        f"{base.name} calibrated by `twin calibrate` to {len(history.orders)} orders and "
        f"{len(history.stops)} stops over {history_days(history)} day(s)."
    )
    for entry, count in zip(data["fleet"], fleet["counts"], strict=True):
        entry["count"] = count
    data["service"].update(service["scenario"])
    preference = sum(h.share * h.locker_preference for h in base.customers.households)
    data["customers"]["households"] = [
        {
            "name": "calibrated",
            "share": 1.0,
            "at_home_by_hour": presence["at_home_by_hour"],
            # Presence is fitted as "met someone who answered": the answer is in it.
            "answer_door": 1.0,
            "locker_preference": round(preference, 4),
        }
    ]
    data["traffic"]["congestion"] = {"hourly": travel["hourly"]}
    if travel.get("noise_cv") is not None:
        data["traffic"]["noise"] = {"cv": min(travel["noise_cv"], 2.0)}
    demand = data["demand"]
    demand["orders_per_day"] = arrivals["orders_per_day"]
    demand["share_known_at_cutoff"] = arrivals["share_known_at_cutoff"]
    demand["arrival_weights"] = arrivals["arrival_weights"]
    for key, names in (
        ("windows", ("all_day", "four_hour", "two_hour")),
        ("options", ("home", "safe_drop", "signature")),
        ("service_levels", ("next_day", "same_day")),
    ):
        shares = _complete_shares(arrivals[key], names)
        if shares:
            demand[key] = shares
    scenario = derive(base, data)
    fits = {
        "service": service,
        "presence": presence,
        "travel": travel,
        "arrivals": arrivals,
        "fleet": fleet,
    }
    return Calibration(scenario=scenario, fits=fits)


# -- fleet -------------------------------------------------------------------------------
def fit_fleet(history: History, base: Scenario) -> dict[str, Any]:
    """The fleet the history shows at work: a floor under the scenario's fleet.

    A planner may leave vehicles at the hub, so a day with fewer vehicles out than
    the base fleet says nothing about its size. More vehicles out on the busiest
    day than the base fleet has means the base is too small: every fleet entry is
    scaled up (rounding up) so that the total covers the busiest day. Without
    this a calibrated day would be run with fewer vans than history had and its
    on-time rate and stops per van would differ for that reason alone.
    """
    stops = history.stops
    per_day = stops.groupby(stops["arrived_at"].dt.normalize())["vehicle_id"].nunique()
    busiest = int(per_day.max()) if len(per_day) else 0
    base_total = sum(entry.count for entry in base.fleet)
    scale = busiest / base_total if base_total and busiest > base_total else 1.0
    counts = [math.ceil(entry.count * scale - 1e-9) for entry in base.fleet]
    return {
        "vehicles_busiest_day": busiest,
        "vehicles_per_day": [int(n) for n in per_day.to_numpy()],
        "base_fleet": base_total,
        "fleet": sum(counts),
        "counts": counts,
    }


# -- validation ------------------------------------------------------------------------
def history_days(history: History) -> int:
    """Days on which the history has stops: its length, as the simulation must match it."""
    return max(int(history.stops["arrived_at"].dt.normalize().nunique()), 1)


def observed_kpis(history: History) -> dict[str, float]:
    """KPIs a history shows by itself, computed the same way for real and simulated days."""
    stops = _dwell_s(history)
    orders = history.orders.set_index("order_id")
    delivered = stops[stops["outcome"] == "delivered"]
    window = orders.loc[delivered["order_id"], ["window_start", "window_end"]].to_numpy()
    arrived = delivered["arrived_at"].to_numpy()
    on_time = (arrived >= window[:, 0]) & (arrived <= window[:, 1])
    first = stops[stops["attempt"] == 1]
    legs = _legs(history)
    vehicle_day = stops.assign(day=stops["arrived_at"].dt.normalize()).groupby(
        ["vehicle_id", "day"]
    )
    span_h = _hours(vehicle_day["departed_at"].max() - vehicle_day["arrived_at"].min()).sum()
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
    scenario = derive(calibration.scenario, {"days": days}, keep_variants=True)
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
