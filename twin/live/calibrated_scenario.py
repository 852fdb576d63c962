"""The calibrated scenario: the base scenario with every fitted figure in place.

Runs the fits (presence first: the service fit needs its hourly chances) and
writes their results into a copy of the base scenario, derived the one way a
scenario is derived (:func:`twin.scenario.edit.derive`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from twin.live.arrivals_fit import fit_arrivals
from twin.live.fleet_fit import fit_fleet
from twin.live.history_measures import history_days
from twin.live.history_schema import History
from twin.live.presence_fit import fit_presence
from twin.live.service_fit import fit_service
from twin.live.travel_fit import fit_travel
from twin.maps.network import RoadNetwork
from twin.scenario import Scenario
from twin.scenario.edit import derive

__all__ = ["Calibration", "calibrate"]


@dataclass(frozen=True)
class Calibration:
    """The calibrated scenario and every fitted figure behind it (``fits``, JSON-ready)."""

    scenario: Scenario
    fits: dict[str, Any]


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
