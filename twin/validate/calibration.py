"""The calibration round trip: parameters recovered from a history the engine made.

A scenario with known "true" settings, different from the base the calibration
starts from, is simulated for several days; its event log is exported as a
history (:func:`twin.live.history_from_result`, the same columns a carrier's
export has) and :func:`twin.live.calibrate` fits the base to it. Each
recovered parameter is set beside its truth; it passes within 5 % (the
issue's tolerance). Only what a history identifies is checked: parking and
walking appear in a stop's duration only as their sum with the walk back
(``parking + 2 walk``), so that sum is checked, not each part.

Source: the truth is the scenario's own settings (a known-answer test).
"""

from __future__ import annotations

from twin.live.calibrated_scenario import calibrate
from twin.live.simulated_history import history_from_result
from twin.maps import load_network
from twin.scenario import Scenario
from twin.sim import Simulation
from twin.validate.check import CheckResult

__all__ = ["TOLERANCE", "calibration_round_trip"]

#: Seed of the check's scenario.
SEED = 31
#: Relative error allowed on each recovered parameter.
TOLERANCE = 0.05

_BASE = {
    "name": "validate_calibration_base",
    "map": {"ref": "grid-12x12"},
    "hubs": [{"id": "depot"}],
    "fleet": [{"type": "van", "count": 6, "hub": "depot"}],
    "demand": {"orders_per_day": 200},
}
#: The truth: service times and demand away from the base's defaults.
_TRUE_SERVICE = {"parking_s_mean": 84.0, "walk_s_mean": 63.0, "handover_s_mean": 90.0}
_TRUE_ORDERS = 240


def calibration_round_trip(fast: bool = False) -> list[CheckResult]:
    """Fit the base to a simulated history and compare with the truth (module docstring)."""
    days = 3 if fast else 8
    base = Scenario.model_validate({**_BASE, "seed": SEED})
    truth = Scenario.model_validate(
        {
            **_BASE,
            "name": "validate_calibration_truth",
            "seed": SEED,
            "days": days,
            "service": _TRUE_SERVICE,
            "demand": {"orders_per_day": _TRUE_ORDERS},
        }
    )
    network = load_network("grid-12x12")
    history = history_from_result(Simulation(truth, network).run())
    fit = calibrate(history, base, network).scenario
    stops = len(history.stops)
    pairs = [
        (
            "overhead_s",
            "stop overhead (parking + 2 walk)",
            "s",
            truth.service.parking_s_mean + 2 * truth.service.walk_s_mean,
            fit.service.parking_s_mean + 2 * fit.service.walk_s_mean,
        ),
        (
            "handover_s",
            "handover mean",
            "s",
            truth.service.handover_s_mean,
            fit.service.handover_s_mean,
        ),
        (
            "orders_per_day",
            "orders per day",
            "orders",
            float(truth.demand.orders_per_day),
            fit.demand.orders_per_day,
        ),
    ]
    return [
        CheckResult(
            name=f"calibration.{key}",
            what=f"{label} fitted from {days} simulated days ({stops} stops), within 5 %",
            unit=unit,
            expected=float(true),
            simulated=float(fitted),
            low=float(true) * (1 - TOLERANCE),
            high=float(true) * (1 + TOLERANCE),
            passed=abs(fitted - true) <= TOLERANCE * abs(true),
            source="the true scenario's settings (known-answer test)",
            n=stops,
            band="±5 %",
        )
        for key, label, unit, true, fitted in pairs
    ]
