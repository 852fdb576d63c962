"""A what-if's answer: a variant's KPIs against the base case, paired by replication.

``twin run SCENARIO --variant more_vans`` also runs the scenario as written (or
``--vs OTHER``, another variant) with the same seed, days and replications.
Replication ``r`` of both draws from the same random streams (common random
numbers, :mod:`twin.experiment.runs`), so the paired difference of a KPI is the
variant's effect with much less noise than two independent runs would carry.
The intervals and verdicts are :func:`twin.stats.compare_kpis`'s: Student-t on
the paired differences, Holm-adjusted over the KPIs tested.
"""

from __future__ import annotations

import math
from typing import Any

from twin.errors import ScenarioError
from twin.experiment.runs import ReplicationSet, demand_digest
from twin.stats import compare_kpis

__all__ = ["BASE", "NO_BASE", "base_of", "versus"]

#: ``--vs`` value for the scenario as written, without any variant.
BASE = "base"
#: ``--vs`` value that runs a variant on its own.
NO_BASE = "none"


def base_of(variant: str | None, vs: str | None) -> str | None:
    """The case a run is compared with: None (no comparison), :data:`BASE` or a
    variant's name. A variant is compared with the base case unless ``vs`` says
    otherwise; a run of the scenario as written only when ``vs`` names a variant."""
    chosen = vs if vs is not None else (BASE if variant is not None else None)
    if chosen == NO_BASE:
        return None
    if chosen is not None and chosen == (variant or BASE):
        raise ScenarioError(
            f"--vs {chosen}: a run cannot be compared with itself; name another variant, "
            f"'{BASE}' (the scenario as written) or '{NO_BASE}'."
        )
    return chosen


def versus(base: ReplicationSet, other: ReplicationSet) -> dict[str, Any]:
    """Every KPI of ``other`` against ``base``, replication by replication.

    Per KPI: ``base`` and ``variant`` means, ``change`` (mean of variant - base),
    its 95 % ``ci`` (None with one replication), ``p_holm`` and a ``verdict``
    ("better", "worse", "no significant difference", ...). ``same_demand`` says
    whether each pair saw the very same orders (False when the variant itself
    changes demand: the pairs still share their random streams).
    """
    if len(base.per_run) != len(other.per_run):
        raise ValueError("the base and the variant need the same number of replications")
    base_summary, other_summary = base.summary, other.summary
    names = [k for k in other_summary if k in base_summary]
    paired = compare_kpis(
        {k: [run.get(k, math.nan) for run in base.per_run] for k in names},
        {k: [run.get(k, math.nan) for run in other.per_run] for k in names},
    )
    same_demand = all(
        demand_digest(a.events) == demand_digest(b.events)
        for a, b in zip(base.results, other.results, strict=True)
    )
    return {
        "base": base.scenario.name,
        "variant": other.scenario.name,
        "replications": len(other.per_run),
        "same_demand": same_demand,
        "kpis": {
            k: {
                "base": _finite(base_summary[k]["mean"]),
                "variant": _finite(other_summary[k]["mean"]),
                "change": paired[k]["mean"],
                "ci": paired[k]["ci"],
                "p_holm": paired[k]["p_holm"],
                "verdict": paired[k]["verdict"],
            }
            for k in names
        },
        "base_warnings": base.warnings,
    }


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value
