"""The travel-time fit: multipliers by hour and road class, and the leg noise.

Each stop-to-stop leg's time is set against the base model's expected time on
its path, class by class. The base scenario's profile is scaled by one factor
per hour and one per road class (fitted by alternating least squares), so that
a class or an hour with few legs keeps the base shape instead of a noisy guess.
Legs with a driver's break in them are left out (:func:`driving_legs`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize

from twin.live.history_measures import driving_legs
from twin.live.history_schema import History
from twin.maps.network import ROAD_CLASSES, RoadNetwork
from twin.scenario import Scenario
from twin.traveltime import TravelTimes
from twin.world import place_hubs

__all__ = ["MIN_CLASS_SHARE", "MIN_LEGS_PER_HOUR", "fit_travel"]

#: Fewer legs than these in an hour and it keeps the base profile (factor 1).
MIN_LEGS_PER_HOUR = 15
#: A road class needs this share of all free-flow time on the legs to get its own factor.
MIN_CLASS_SHARE = 0.05


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
    legs = driving_legs(history, np.column_stack((network.lat[at], network.lon[at])))
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
