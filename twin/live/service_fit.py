"""The service-time fit: the stop model's parameters from the stops' durations.

The engine's stop is parking + walk + handover (+ signature) + walk back, each
lognormal with one CV. A failed attempt has no handover, so failed stops
measure the overhead, and delivered ones the overhead plus the handover.
Parking and walking cannot be told apart by a stop's duration; their ratio is
kept from the base scenario.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from twin.fleet import stop_overhead_s
from twin.live.history_measures import ABSENCE_REASONS, stop_dwell
from twin.live.history_schema import History
from twin.scenario import Scenario

__all__ = ["fit_service"]


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
    stops = stop_dwell(history)
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
