"""Paired comparison of dispatch policies on one scenario.

Replication ``r`` under policy A and under policy B see the same orders and the
same customers (common random numbers, :mod:`twin.experiment.runs`), so their
KPI difference is the policy's effect plus much less noise than two
independent samples would carry. :func:`compare` runs the pairs on any
backend; :class:`Comparison` holds the outcomes and their paired statistics.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from twin.errors import ExperimentError
from twin.experiment.backends import execute
from twin.experiment.outputs import json_safe
from twin.experiment.runs import (
    _NETWORKS,
    _NETWORKS_LOCK,
    PolicySpec,
    RunOutcome,
    RunSpec,
    build_policy,
    execute_run,
    merge_warnings,
)
from twin.maps import RoadNetwork
from twin.metrics import KPI_NAMES
from twin.scenario import Scenario
from twin.stats import PRACTICAL_DIFFERENCE, compare_kpis, summarize

__all__ = ["Comparison", "compare", "parse_policies"]


# -- policies from the command line ------------------------------------------------------------
def parse_policies(text: str) -> list[PolicySpec]:
    """Policies from the command line: ``"static,waves(wave_h=2,cutoff=8)"``.

    Commas inside parentheses separate parameters, not policies; parameter
    values are read as YAML scalars (``2`` is an int, ``true`` a bool).
    """
    items, depth, current = [], 0, ""
    for char in text:
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += char
    items.append(current)
    specs = []
    for raw in (item.strip() for item in items):
        match = re.fullmatch(r"([A-Za-z_][\w-]*)\s*(?:\((.*)\))?", raw)
        if not match:
            raise ExperimentError(
                f"--policies: cannot read {raw!r}; write NAME or NAME(param=value,...), "
                "separated by commas."
            )
        params: dict[str, Any] = {}
        for pair in filter(None, (p.strip() for p in (match.group(2) or "").split(","))):
            key, sep, value = pair.partition("=")
            if not sep or not key.strip():
                raise ExperimentError(
                    f"--policies: parameter {pair!r} of {match.group(1)!r} must be key=value."
                )
            params[key.strip()] = yaml.safe_load(value.strip())
        specs.append(PolicySpec(match.group(1), params, label=raw if params else None))
    return specs


# -- comparison of policies ------------------------------------------------------------------------
@dataclass
class Comparison:
    """R paired replications of a scenario under each policy; the first is the baseline."""

    scenario: Scenario
    policies: tuple[PolicySpec, ...]
    replications: int
    runs: list[RunOutcome]
    #: Practical difference per KPI below which no verdict is given (overrides
    #: :data:`twin.stats.PRACTICAL_DIFFERENCE`).
    thresholds: Mapping[str, float] = field(default_factory=dict)

    @property
    def baseline(self) -> str:
        return self.policies[0].key

    @property
    def labels(self) -> list[str]:
        return [p.key for p in self.policies]

    def values(self, label: str, kpi: str) -> list[float]:
        """``kpi`` per replication under policy ``label``, in replication order."""
        runs = sorted(
            (o for o in self.runs if o.spec.policy.key == label), key=lambda o: o.spec.replication
        )
        return [o.kpis.get(kpi, math.nan) for o in runs]

    @property
    def kpi_names(self) -> list[str]:
        extra = sorted({k for o in self.runs for k in o.kpis} - set(KPI_NAMES))
        return [*KPI_NAMES, *extra]

    def kpi_summary(self) -> dict[str, dict[str, Any]]:
        """Per policy: mean and 95% CI of every KPI (independent of the others)."""
        return {
            label: summarize([o.kpis for o in self.runs if o.spec.policy.key == label])
            for label in self.labels
        }

    def paired(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Per other policy, per KPI: mean and 95% CI of (other - baseline), and a verdict."""
        baseline = {kpi: self.values(self.baseline, kpi) for kpi in self.kpi_names}
        return {
            label: compare_kpis(
                baseline,
                {kpi: self.values(label, kpi) for kpi in self.kpi_names},
                thresholds=self.thresholds,
            )
            for label in self.labels[1:]
        }

    def demand_identical(self) -> bool:
        """True when every replication saw the same orders under every policy."""
        by_rep: dict[int, set[str]] = {}
        for o in self.runs:
            by_rep.setdefault(o.spec.replication, set()).add(o.demand_digest)
        return all(len(d) == 1 for d in by_rep.values())

    def per_run(self) -> list[dict[str, Any]]:
        return [
            {
                "policy": o.spec.policy.key,
                "replication": o.spec.replication,
                **o.kpis,
                "event_log_digest": o.event_log_digest,
                "demand_digest": o.demand_digest,
                "wall_s": o.wall_s,
                "warnings": [w["code"] for w in o.warnings],
            }
            for o in self.runs
        ]

    def warnings(self) -> dict[str, list[dict[str, Any]]]:
        """Per policy, its runs' warnings merged (:func:`merge_warnings`); policies
        without any are left out."""
        out = {}
        for label in self.labels:
            runs = sorted(
                (o for o in self.runs if o.spec.policy.key == label),
                key=lambda o: o.spec.replication,
            )
            merged = merge_warnings(runs)
            if merged:
                out[label] = merged
        return out

    def to_dict(self) -> dict[str, Any]:
        """The comparison as one JSON-ready object (NaN written as null)."""
        return json_safe(
            {
                "scenario": self.scenario.name,
                "replications": self.replications,
                "days": self.scenario.days,
                "seed": self.scenario.seed,
                "policies": [p.to_dict() for p in self.policies],
                "baseline": self.baseline,
                "demand_identical": self.demand_identical(),
                "kpis": self.kpi_summary(),
                "paired": self.paired(),
                "thresholds": {**PRACTICAL_DIFFERENCE, **self.thresholds},
                "warnings": self.warnings(),
                # The code each worker ran (one value unless workers ran other code).
                "code_digests": sorted({o.code_digest for o in self.runs}),
                "per_run": self.per_run(),
            }
        )


def compare(
    scenario: Scenario,
    *,
    policies: Sequence[PolicySpec | str],
    replications: int,
    workers: int = 1,
    scheduler: str | None = None,
    keep_events: bool = False,
    network: RoadNetwork | None = None,
    on_run: Callable[[RunOutcome], None] | None = None,
    thresholds: Mapping[str, float] | None = None,
) -> Comparison:
    """Run ``replications`` paired replications of ``scenario`` under each policy.

    Parameters
    ----------
    scenario : Scenario
    policies : sequence of PolicySpec or str
        At least two; the first is the baseline the others are compared with.
    replications : int
        Replications per policy; replication ``r`` uses the same random streams
        under every policy.
    workers, scheduler :
        Where the runs execute (see :func:`execute`).
    keep_events : bool, optional
        Keep every run's event log on the outcomes (default False: they are big).
    network : RoadNetwork, optional
        The scenario's road network if the caller has it loaded already; runs in
        this process then reuse it instead of loading it again.
    on_run : callable, optional
        Called with each outcome as it finishes (progress bars).
    thresholds : mapping, optional
        Practical difference per KPI below which a significant difference gets
        no "better"/"worse" (default :data:`twin.stats.PRACTICAL_DIFFERENCE`).
    """
    unknown = sorted(set(thresholds or {}) - set(KPI_NAMES))
    if unknown:
        raise ExperimentError(
            f"--threshold names unknown KPI(s) {unknown}; choose among {list(KPI_NAMES)}."
        )
    specs_by_policy = [p if isinstance(p, PolicySpec) else PolicySpec(p) for p in policies]
    if len(specs_by_policy) < 2:
        raise ExperimentError(
            "--policies needs at least two policies, comma-separated; the first is the baseline."
        )
    labels = [p.key for p in specs_by_policy]
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise ExperimentError(
            f"--policies lists {', '.join(duplicates)} more than once; give each policy "
            "different parameters or a different label."
        )
    if replications < 1:
        raise ExperimentError(f"--replications must be at least 1, got {replications}.")
    for spec in specs_by_policy:
        build_policy(scenario, spec)  # bad names or parameters fail here, before any run
    if network is not None:
        with _NETWORKS_LOCK:
            _NETWORKS.setdefault((scenario.map.ref, scenario.map.network_type), network)
    specs = [
        RunSpec(
            run_id=f"{spec.key}-r{r}",
            scenario=scenario,
            policy=spec,
            replication=r,
            keep_events=keep_events,
        )
        for r in range(replications)
        for spec in specs_by_policy
    ]
    outcomes = []
    for outcome in execute(specs, execute_run, workers=workers, scheduler=scheduler):
        outcomes.append(outcome)
        if on_run is not None:
            on_run(outcome)
    order = {label: i for i, label in enumerate(labels)}
    outcomes.sort(key=lambda o: (order[o.spec.policy.key], o.spec.replication))
    return Comparison(
        scenario=scenario,
        policies=tuple(specs_by_policy),
        replications=replications,
        runs=outcomes,
        thresholds=dict(thresholds or {}),
    )
