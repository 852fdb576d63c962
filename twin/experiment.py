"""Replications of a scenario: run, collect KPIs, summarise with confidence intervals.

Replication ``r`` uses ``RandomStreams(seed, replication=r)``: independent of the
others, and the same across policies and variants (common random numbers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from twin.maps import RoadNetwork, load_network
from twin.metrics import conservation, kpis, summarize
from twin.scenario import Scenario
from twin.sim import SimResult, Simulation

__all__ = ["ReplicationSet", "run_replications"]


@dataclass
class ReplicationSet:
    """Results of R replications: per-run KPIs and their summary."""

    scenario: Scenario
    results: list[SimResult]
    per_run: list[dict[str, float]]

    @property
    def summary(self) -> dict[str, Any]:
        return summarize(self.per_run)

    def conservation(self) -> list[dict[str, int]]:
        return [conservation(r.orders) for r in self.results]


def run_replications(
    scenario: Scenario,
    *,
    replications: int = 1,
    network: RoadNetwork | None = None,
    on_progress: Callable[[int, SimResult], None] | None = None,
) -> ReplicationSet:
    """Run ``replications`` independent replications of ``scenario`` in this process."""
    network = network or load_network(scenario.map.ref, network_type=scenario.map.network_type)
    results, per_run = [], []
    for r in range(replications):
        result = Simulation(scenario, network, replication=r).run()
        results.append(result)
        per_run.append(kpis(result.orders, result.vehicles, result.events))
        if on_progress is not None:
            on_progress(r, result)
    return ReplicationSet(scenario=scenario, results=results, per_run=per_run)
