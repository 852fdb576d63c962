"""``twin validate``: the simulation checked against results nobody here wrote.

Each check runs a small purpose-built scenario through the engine and sets one
simulated figure beside its expected value from a closed form or from the
model's own stated probabilities, with the simulated figure's interval and a
verdict. The expected side is computed without the engine's code for that
part (the queue's closed form; the failure chances from the scenario's
settings; the true settings a calibration must recover), so a check fails when
the engine stops doing what its settings say.

A check is a function ``(fast: bool) -> list[CheckResult]`` (one result per
figure it compares); ``fast`` runs a smaller scenario for the test suite.
Checks are deterministic: same code, same result. A statistical check passes
when the expected value lies inside the simulated value's 95 % interval, so a
correct engine fails about one seed in twenty; each check names the seed it
uses. ``docs/background/validation.md`` documents every check and its source.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from twin.errors import TwinError
from twin.validate.border import border_waits
from twin.validate.calibration import calibration_round_trip
from twin.validate.check import CheckResult, binomial_interval
from twin.validate.docks import dock_queue, dock_queue_mmc
from twin.validate.failures import first_attempt_failures
from twin.validate.forecast import forecast_coverage
from twin.validate.tours import bhh_tours

__all__ = ["CHECKS", "CheckResult", "binomial_interval", "run_checks"]

#: The checks, in the order ``twin validate`` runs them.
_CHECKS: dict[str, Callable[[bool], list[CheckResult]]] = {
    "dock_queue": dock_queue,
    "dock_queue_mmc": dock_queue_mmc,
    "first_attempt_failures": first_attempt_failures,
    "border_waits": border_waits,
    "calibration_round_trip": calibration_round_trip,
    "forecast_coverage": forecast_coverage,
    "bhh_tours": bhh_tours,
}
CHECKS = tuple(_CHECKS)


def run_checks(
    only: Sequence[str] | None = None,
    *,
    fast: bool = False,
    progress: Callable[[CheckResult], None] | None = None,
) -> list[CheckResult]:
    """Run the named checks (default: all) and return their results in order."""
    names = list(only) if only else list(CHECKS)
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        raise TwinError(
            f"unknown check(s) {', '.join(unknown)} in --only; choose from {', '.join(CHECKS)}"
        )
    results = []
    for name in names:
        for result in _CHECKS[name](fast):
            results.append(result)
            if progress is not None:
                progress(result)
    return results
