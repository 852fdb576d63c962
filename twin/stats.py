"""Statistics over replications: KPI intervals that respect each KPI's range, and
paired comparisons of two policies whose verdicts survive testing many KPIs at once.

Intervals (:func:`summarize`): Student-t over replications, computed for a rate
(a KPI between 0 and 1, or satisfaction between 1 and 5) on the logit scale of
its range and mapped back, so it never leaves the range however few the
replications; an interval of a KPI that cannot be negative (a count, a cost) is
cut at 0. With fewer than :data:`MIN_REPLICATIONS` replications the run says so
(:func:`replication_warning`): a t interval from 2 or 3 values is wide and rests
on the normal approximation of the KPI.

Comparisons (:func:`compare_kpis`): for each KPI the mean of the paired
differences (other - baseline, replication by replication, common random
numbers) with its t interval and a two-sided paired t-test. The p-values of the
KPIs that have a direction are adjusted together with Holm's step-down method,
so that "better" or "worse" on any of 16+ KPIs is wrong at most 5 % of the time,
not 5 % per KPI. A verdict also needs the difference to reach the KPI's
practical threshold (:data:`PRACTICAL_DIFFERENCE`, settable): +0.0005 on-time is
no improvement anyone would act on. Differences with no spread (every pair
differs by the same amount) get "not enough spread": a t-test cannot judge them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special
from scipy import stats as sps

from twin.metrics import KPI_DIRECTIONS

__all__ = [
    "BETTER",
    "MIN_REPLICATIONS",
    "NOT_APPLICABLE",
    "NOT_ENOUGH_SPREAD",
    "NO_DIFFERENCE",
    "PRACTICAL_DIFFERENCE",
    "SAME",
    "TOO_SMALL",
    "WORSE",
    "PairedDifference",
    "compare_kpis",
    "holm",
    "kpi_range",
    "paired_difference",
    "replication_warning",
    "summarize",
    "verdict",
]

BETTER = "better"
WORSE = "worse"
NO_DIFFERENCE = "no significant difference"
TOO_SMALL = "below the practical threshold"
NOT_ENOUGH_SPREAD = "not enough spread"
SAME = "identical"
NOT_APPLICABLE = "n/a"

#: Replications below which a run warns that its intervals are rough.
MIN_REPLICATIONS = 5

#: KPIs bounded on both sides: their intervals are computed on the logit scale.
_BOUNDED: dict[str, tuple[float, float]] = {
    "on_time_rate": (0.0, 1.0),
    "service_level": (0.0, 1.0),
    "attempted_on_time_rate": (0.0, 1.0),
    "first_attempt_success_rate": (0.0, 1.0),
    "failed_delivery_rate": (0.0, 1.0),
    "locker_share": (0.0, 1.0),
    "customer_satisfaction": (1.0, 5.0),
}
#: Values this close to a bound are moved to it before the logit (which is infinite there).
_EDGE = 1e-4

#: The smallest difference per KPI worth a verdict, in the KPI's unit (absolute).
PRACTICAL_DIFFERENCE: dict[str, float] = {
    "delivered": 5.0,
    "on_time_rate": 0.005,
    "service_level": 0.005,
    "attempted_on_time_rate": 0.005,
    "first_attempt_success_rate": 0.005,
    "failed_delivery_rate": 0.005,
    "no_attempts": 5.0,
    "cost_per_delivery": 0.02,
    "deliveries_per_driver_hour": 0.1,
    "km_per_delivery": 0.02,
    "co2_kg_per_delivery": 0.005,
    "orders_open_at_horizon": 5.0,
    "open_awaiting_reattempt": 5.0,
    "open_past_due": 5.0,
    "eta_mae_min": 0.5,
    "customer_satisfaction": 0.02,
    "overtime_h": 0.25,
    "returned_to_sender": 1.0,
}


def kpi_range(name: str) -> tuple[float, float]:
    """The values ``name`` can take: (0, 1) for rates and shares, (1, 5) for
    satisfaction, (0, inf) for everything else (counts, costs, times)."""
    if name in _BOUNDED:
        return _BOUNDED[name]
    if name.startswith("share_"):
        return (0.0, 1.0)
    return (0.0, math.inf)


def _t(confidence: float, df: int) -> float:
    return float(sps.t.ppf(0.5 + confidence / 2, df))


def _interval(values: np.ndarray, low: float, high: float, confidence: float) -> list[float]:
    """The t interval of the mean of ``values`` (n >= 2), kept within [low, high]."""
    n = len(values)
    mean = float(values.mean())
    if float(values.std(ddof=1)) == 0.0:
        return [mean, mean]
    if math.isfinite(high):  # bounded: the t interval on the logit scale, mapped back
        unit = np.clip((values - low) / (high - low), _EDGE, 1 - _EDGE)
        logits = special.logit(unit)
        half = _t(confidence, n - 1) * float(logits.std(ddof=1)) / math.sqrt(n)
        ends = special.expit(np.array([logits.mean() - half, logits.mean() + half]))
        lo, hi = (low + (high - low) * ends).tolist()
        return [min(lo, mean), max(hi, mean)]
    half = _t(confidence, n - 1) * float(values.std(ddof=1)) / math.sqrt(n)
    return [max(low, mean - half), mean + half]


def summarize(runs: Sequence[Mapping[str, float]], *, confidence: float = 0.95) -> dict[str, Any]:
    """Mean, 95 % interval and half-width per KPI over replications.

    The interval respects the KPI's range (:func:`kpi_range`, module docstring);
    ``half_width`` is the larger distance from the mean to an end of it, so it
    stays a conservative "±". NaN values (a rate undefined in a run) are left out
    and ``n`` counts the rest.
    """
    names = sorted({k for run in runs for k in run})
    out: dict[str, Any] = {}
    for name in names:
        values = np.array([run.get(name, math.nan) for run in runs], dtype=float)
        values = values[np.isfinite(values)]
        n = len(values)
        if n == 0:
            out[name] = {"mean": None, "ci": [None, None], "half_width": None, "n": 0}
            continue
        mean = float(values.mean())
        if n == 1:
            out[name] = {"mean": mean, "ci": [None, None], "half_width": None, "n": 1}
            continue
        ci = _interval(values, *kpi_range(name), confidence)
        out[name] = {"mean": mean, "ci": ci, "half_width": max(mean - ci[0], ci[1] - mean), "n": n}
    return out


def replication_warning(replications: int) -> dict[str, Any] | None:
    """A run warning when there are intervals (2+ replications) but too few to trust them.

    It is about the set of replications, so it names none of them (no
    ``replications`` key, unlike the warnings of single runs)."""
    if not 1 < replications < MIN_REPLICATIONS:
        return None
    return {
        "code": "few_replications",
        "message": f"{replications} replications: the 95 % intervals rest on so few values "
        f"that they are rough; run {MIN_REPLICATIONS} or more (--replications) for intervals "
        "to act on",
        "count": 1,
    }


@dataclass(frozen=True)
class PairedDifference:
    """Mean of paired differences ``b - a`` with a Student-t interval and test.

    ``ci`` is None when fewer than two finite pairs exist; ``p_value`` (two-sided
    paired t-test of a zero mean) is NaN then and when the differences have no
    spread. ``spread`` is False when every pair differs by the same amount.
    """

    mean: float
    ci: tuple[float, float] | None
    n: int
    confidence: float = 0.95
    p_value: float = math.nan
    spread: bool = True

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form: NaN becomes None, the interval a two-item list."""
        return {
            "mean": None if math.isnan(self.mean) else self.mean,
            "ci": None if self.ci is None else [self.ci[0], self.ci[1]],
            "n": self.n,
            "p_value": None if math.isnan(self.p_value) else self.p_value,
        }


def paired_difference(
    a: Sequence[float], b: Sequence[float], *, confidence: float = 0.95
) -> PairedDifference:
    """Mean difference ``b - a`` over paired replications, with its t interval and test.

    Pairing (replication ``r`` of ``a`` against replication ``r`` of ``b``, both
    run on the same random streams) removes the demand and customer noise both
    share, so the interval is much tighter than one from two independent samples.
    Pairs where either value is NaN are dropped and ``n`` counts the rest. With
    zero spread (a constant shift) the interval has zero width at the mean and
    there is no p-value.
    """
    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"paired samples need equal lengths, got {x.shape} and {y.shape}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    d = (y - x)[np.isfinite(x) & np.isfinite(y)]
    n = len(d)
    if n == 0:
        return PairedDifference(mean=math.nan, ci=None, n=0, confidence=confidence)
    mean = float(d.mean())
    if n < 2:
        return PairedDifference(mean=mean, ci=None, n=n, confidence=confidence)
    sd = float(d.std(ddof=1))
    if sd == 0.0:
        return PairedDifference(mean, (mean, mean), n, confidence, spread=False)
    sem = sd / math.sqrt(n)
    half = _t(confidence, n - 1) * sem
    p = float(2 * sps.t.sf(abs(mean) / sem, n - 1))
    return PairedDifference(mean, (mean - half, mean + half), n, confidence, p_value=p)


def holm(p_values: Mapping[str, float]) -> dict[str, float]:
    """Holm's step-down adjustment: each p-value, adjusted for testing them all.

    The i-th smallest of m p-values is multiplied by (m - i + 1), and the
    adjusted values are made non-decreasing in that order (capped at 1).
    Rejecting where the adjusted value is below alpha keeps the chance of any
    false rejection at most alpha.
    """
    ordered = sorted(p_values.items(), key=lambda item: (item[1], item[0]))
    m = len(ordered)
    adjusted: dict[str, float] = {}
    running = 0.0
    for i, (name, p) in enumerate(ordered):
        running = max(running, min(1.0, (m - i) * p))
        adjusted[name] = running
    return adjusted


def verdict(
    kpi: str,
    difference: PairedDifference,
    *,
    p_adjusted: float | None = None,
    threshold: float = 0.0,
    alpha: float = 0.05,
) -> str:
    """Read a paired difference (other - baseline) of ``kpi`` in plain words.

    "n/a" for a neutral KPI or without an interval; "identical" when every pair
    is equal; "not enough spread" for a constant non-zero shift; "no significant
    difference" when the (adjusted) p-value is not below ``alpha``; "below the
    practical threshold" when it is but the difference is smaller than
    ``threshold``; otherwise "better" or "worse" by the KPI's direction.
    """
    direction = KPI_DIRECTIONS.get(kpi, 0)
    if direction == 0 or difference.ci is None:
        return NOT_APPLICABLE
    if not difference.spread:
        return SAME if difference.mean == 0.0 else NOT_ENOUGH_SPREAD
    p = difference.p_value if p_adjusted is None else p_adjusted
    if not p < alpha:
        return NO_DIFFERENCE
    if abs(difference.mean) < threshold:
        return TOO_SMALL
    return BETTER if (difference.mean > 0) == (direction > 0) else WORSE


def compare_kpis(
    baseline: Mapping[str, Sequence[float]],
    other: Mapping[str, Sequence[float]],
    *,
    thresholds: Mapping[str, float] | None = None,
    alpha: float = 0.05,
) -> dict[str, dict[str, Any]]:
    """Per KPI: the paired difference (other - baseline), its Holm-adjusted p-value
    and a verdict (module docstring). ``thresholds`` override
    :data:`PRACTICAL_DIFFERENCE` per KPI."""
    limits = {**PRACTICAL_DIFFERENCE, **(thresholds or {})}
    diffs = {kpi: paired_difference(baseline[kpi], other[kpi]) for kpi in baseline}
    tested = {
        kpi: d.p_value
        for kpi, d in diffs.items()
        if KPI_DIRECTIONS.get(kpi, 0) != 0 and math.isfinite(d.p_value)
    }
    adjusted = holm(tested)
    out: dict[str, dict[str, Any]] = {}
    for kpi, d in diffs.items():
        p_holm = adjusted.get(kpi)
        out[kpi] = {
            **d.to_dict(),
            "p_holm": p_holm,
            "verdict": verdict(
                kpi, d, p_adjusted=p_holm, threshold=limits.get(kpi, 0.0), alpha=alpha
            ),
        }
    return out
