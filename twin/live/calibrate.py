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

This module is the one place to import calibration from; each fit, the
calibrated scenario and the validation live in a module of their own:
:mod:`twin.live.service_fit`, :mod:`twin.live.presence_fit`,
:mod:`twin.live.travel_fit`, :mod:`twin.live.arrivals_fit`,
:mod:`twin.live.fleet_fit`, :mod:`twin.live.calibrated_scenario` and
:mod:`twin.live.calibration_validation`, all reading a history's stops and legs
one way (:mod:`twin.live.history_measures`).
"""

from __future__ import annotations

from twin.live.arrivals_fit import fit_arrivals
from twin.live.calibrated_scenario import Calibration, calibrate
from twin.live.calibration_validation import observed_kpis, validate
from twin.live.fleet_fit import fit_fleet
from twin.live.history_measures import ABSENCE_REASONS, driving_legs, history_days
from twin.live.presence_fit import MIN_ATTEMPTS_PER_HOUR, effective_presence, fit_presence
from twin.live.service_fit import fit_service
from twin.live.travel_fit import MIN_CLASS_SHARE, MIN_LEGS_PER_HOUR, fit_travel

__all__ = [
    "ABSENCE_REASONS",
    "MIN_ATTEMPTS_PER_HOUR",
    "MIN_CLASS_SHARE",
    "MIN_LEGS_PER_HOUR",
    "Calibration",
    "calibrate",
    "effective_presence",
    "fit_arrivals",
    "fit_fleet",
    "fit_presence",
    "fit_service",
    "fit_travel",
    "history_days",
    "observed_kpis",
    "validate",
]

#: The stop-to-stop legs under the name the tests have always imported.
_legs = driving_legs
