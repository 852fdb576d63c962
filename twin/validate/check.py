"""What one check of :mod:`twin.validate` answers, and the interval its statistics use."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["CheckResult", "binomial_interval"]


@dataclass(frozen=True)
class CheckResult:
    """One check: what was compared, the two values, the interval and the verdict."""

    name: str
    what: str
    unit: str
    expected: float
    simulated: float
    #: The band the verdict uses (``band`` says which): the simulated value's 95 %
    #: interval, passed when the expected value is inside it; or a tolerance around
    #: the expected value, passed when the simulated value is inside it; or bounds
    #: theory puts on a value it cannot give exactly, passed when the simulated
    #: value is between them; or, for an exact figure, the simulated value itself.
    low: float
    high: float
    passed: bool
    #: Where the expected value comes from.
    source: str
    #: Size of the sample behind the simulated value (attempts, vans...).
    n: int
    #: What ``low`` and ``high`` are: "CI" (95 % interval), "±5 %", "bounds" or "exact".
    band: str = "CI"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def binomial_interval(successes: float, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of a proportion (95 % by default): good at small n and
    near 0 or 1, where the normal interval leaves [0, 1]."""
    if n <= 0:
        return (math.nan, math.nan)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (centre - half, centre + half)
