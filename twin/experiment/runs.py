"""One simulation run anywhere, and replications of one scenario.

A run is a picklable :class:`RunSpec` (scenario, policy, replication, columns
carried to its row) handed to the top-level :func:`execute_run`, so any
backend (:mod:`twin.experiment.backends`) can run it in any process and send
a :class:`RunOutcome` back. Replication ``r`` uses ``RandomStreams(seed,
replication=r)`` whatever the policy: common random numbers, checked by
:func:`demand_digest`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from twin.dispatch import DispatchPolicy
from twin.dispatch import build_policy as build_scenario_policy
from twin.maps import RoadNetwork, load_network
from twin.metrics import conservation
from twin.provenance import code_digest
from twin.scenario import Scenario
from twin.sim import SimResult, Simulation
from twin.stats import replication_warning, summarize

__all__ = [
    "PolicySpec",
    "ReplicationSet",
    "RunOutcome",
    "RunSpec",
    "build_policy",
    "demand_digest",
    "execute_run",
    "run_replications",
]


# -- replications of one scenario --------------------------------------------------------------
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

    @property
    def warnings(self) -> list[dict[str, Any]]:
        """Every run's warnings, one entry per kind (see :func:`merge_warnings`), and
        one when the replications are too few for the intervals to be trusted."""
        few = replication_warning(len(self.results))
        return merge_warnings(self.results) + ([few] if few else [])


def merge_warnings(results: Sequence[SimResult | RunOutcome]) -> list[dict[str, Any]]:
    """The runs' warnings, one entry per ``code``, in order of first appearance.

    ``count`` is summed over the runs and ``replications`` lists the runs (0-based)
    that raised it, so a shortcut taken in one replication of many is still said out
    loud. The message is the first such run's, and when there are several runs it
    says so: a message's own figures are that run's, and the total is ``count``.
    """
    merged: dict[str, dict[str, Any]] = {}
    for r, result in enumerate(results):
        for warning in result.warnings:
            entry = merged.setdefault(warning["code"], {**warning, "count": 0, "replications": []})
            entry["count"] += warning.get("count", 1)
            entry["replications"].append(r)
    if len(results) > 1:
        for entry in merged.values():
            reps = entry["replications"]
            said = f"in {len(reps)} of {len(results)} replications; this is replication {reps[0]}"
            if len(reps) > 1:
                said += f", {entry['count']} in all"
            entry["message"] = f"{entry['message']} ({said})"
    return list(merged.values())


def run_replications(
    scenario: Scenario,
    *,
    replications: int = 1,
    network: RoadNetwork | None = None,
    on_progress: Callable[[int, SimResult], None] | None = None,
) -> ReplicationSet:
    """Run ``replications`` independent replications of ``scenario`` in this process.

    Each replication gets a fresh policy (policies keep state within a run),
    built by :func:`twin.dispatch.build_policy` as every run is: a policy
    without a time limit (``nearest_vehicle``) runs here as under
    :func:`~twin.experiment.compare.compare`.
    """
    network = network or load_network(scenario.map.ref, network_type=scenario.map.network_type)
    results, per_run = [], []
    for r in range(replications):
        policy = build_scenario_policy(scenario.policy)
        result = Simulation(scenario, network, policy=policy, replication=r).run()
        results.append(result)
        per_run.append(result.kpis())
        if on_progress is not None:
            on_progress(r, result)
    return ReplicationSet(scenario=scenario, results=results, per_run=per_run)


# -- policies --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PolicySpec:
    """A dispatch policy by registered name, with parameters and a display label.

    Parameters
    ----------
    name : str
        A key of :data:`twin.dispatch.POLICIES`.
    params : mapping, optional
        Constructor parameters; they override the scenario's ``policy.params``
        when ``name`` is the scenario's own policy.
    label : str, optional
        How tables, plots and the store name this policy (default: the name,
        followed by the parameters if there are any). Two policies compared or
        swept together need different labels.
    """

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    label: str | None = None

    @property
    def key(self) -> str:
        """The label, or a readable one built from the name and parameters."""
        if self.label:
            return self.label
        if not self.params:
            return self.name
        inner = ",".join(f"{k}={_compact(v)}" for k, v in sorted(self.params.items()))
        return f"{self.name}({inner})"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "params": dict(self.params), "label": self.key}


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).strip('"')


def build_policy(scenario: Scenario, spec: PolicySpec) -> DispatchPolicy:
    """The policy object for one run of ``scenario``.

    The scenario's ``policy.time_limit_s`` is passed to any policy that accepts
    it; the scenario's ``policy.params`` apply only to the policy it names; the
    spec's own parameters win over both. The rules are
    :func:`twin.dispatch.build_policy`'s, the one way every part builds a policy.
    """
    return build_scenario_policy(scenario.policy, name=spec.name, params=spec.params)


# -- one run, anywhere -----------------------------------------------------------------------------
@dataclass(frozen=True)
class RunSpec:
    """Everything one simulation run needs; picklable, so it can go to any worker.

    ``columns`` are carried through to the run's row unchanged (variant,
    factors, ...); ``keep_events`` sends the whole event log back to the caller.
    """

    run_id: str
    scenario: Scenario
    policy: PolicySpec
    replication: int
    columns: Mapping[str, Any] = field(default_factory=dict)
    keep_events: bool = False


@dataclass
class RunOutcome:
    """What a worker sends back: KPIs, digests and where and how long it ran."""

    spec: RunSpec
    kpis: dict[str, float]
    event_log_digest: str
    demand_digest: str
    wall_s: float
    hostname: str
    pid: int
    events: pd.DataFrame | None = None
    #: The run's warnings (``SimResult.warnings``): shortcuts its numbers depend on.
    warnings: list[dict[str, Any]] = field(default_factory=list)
    #: The code that ran it, in the worker (:func:`twin.provenance.code_digest`).
    code_digest: str = ""


_NETWORKS: dict[tuple[str, str], RoadNetwork] = {}
_NETWORKS_LOCK = threading.Lock()


def _network(ref: str, network_type: str) -> RoadNetwork:
    """Road network for ``ref``, loaded once per process (loading a real map takes seconds)."""
    with _NETWORKS_LOCK:
        key = (ref, network_type)
        if key not in _NETWORKS:
            _NETWORKS[key] = load_network(ref, network_type=network_type)
        return _NETWORKS[key]


def demand_digest(events: pd.DataFrame) -> str:
    """SHA-256 of the ``created`` events: equal digests = the same orders, placed at the
    same times by the same customers for the same windows.

    A cheap check of common random numbers: every policy must see the same demand
    in the same replication. The customer, not the delivery node, identifies
    where an order comes from: a network with other parcel lockers sends some of
    the same orders to a locker instead of the door. (Logs without a customer
    use the node.)
    """
    created = events[events["kind"] == "created"]
    rows = []
    for order_id, time_s, node, details in zip(
        created["order_id"], created["time_s"], created["node"], created["details"], strict=True
    ):
        extra = json.loads(details) if details else {}
        rows.append(
            f"{order_id},{float(time_s):.6f},{extra.get('customer', node)},"
            f"{float(extra.get('window_start_s', math.nan)):.6f},"
            f"{float(extra.get('window_end_s', math.nan)):.6f}"
        )
    return hashlib.sha256("\n".join(sorted(rows)).encode()).hexdigest()


def execute_run(spec: RunSpec) -> RunOutcome:
    """Simulate one run and measure it (the worker function of every backend)."""
    started = time.perf_counter()
    network = _network(spec.scenario.map.ref, spec.scenario.map.network_type)
    policy = build_policy(spec.scenario, spec.policy)
    result = Simulation(spec.scenario, network, policy=policy, replication=spec.replication).run()
    events = result.events
    return RunOutcome(
        spec=spec,
        kpis=result.kpis(),
        event_log_digest=result.log.digest(),
        demand_digest=demand_digest(events),
        wall_s=round(time.perf_counter() - started, 3),
        hostname=socket.gethostname(),
        pid=os.getpid(),
        events=events if spec.keep_events else None,
        warnings=list(result.warnings),
        code_digest=code_digest(),
    )
