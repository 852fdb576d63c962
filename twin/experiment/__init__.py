"""Replications, paired policy comparisons and sweeps; run here, on a local pool or on Dask.

Replication ``r`` uses ``RandomStreams(seed, replication=r)``: independent of the
others, and the same across policies and variants (common random numbers). So
replication ``r`` under policy A and under policy B see the same orders and the
same customers, and their KPI difference is the policy's effect plus much less
noise than two independent samples would carry (:func:`compare`).

Every run, whether of a comparison or a sweep, is a picklable :class:`RunSpec`
handed to the top-level :func:`execute_run`; :func:`execute` runs a list of them
in this process, on a ``ProcessPoolExecutor`` or on a Dask cluster and yields
outcomes as they finish. Results are always written by the calling process, so
a sweep's store is the same whichever backend ran it.

The package, one module per concern:

``runs``      :class:`RunSpec`, one run anywhere (:func:`execute_run`),
              :func:`run_replications`, :class:`PolicySpec`
``backends``  :func:`execute`: here, a process pool or Dask (the only Dask import)
``compare``   :func:`compare`, :class:`Comparison`, :func:`parse_policies`
``sweep``     experiment files, factors, :func:`load_experiment`, :func:`sweep`
``store``     the atomic one-file-per-run result store, :func:`load_store`
``outputs``   what results look like when written: :func:`json_safe`, store rows
"""

from __future__ import annotations

from twin.experiment.backends import execute
from twin.experiment.compare import Comparison, compare, parse_policies
from twin.experiment.outputs import json_safe
from twin.experiment.runs import (
    PolicySpec,
    ReplicationSet,
    RunOutcome,
    RunSpec,
    build_policy,
    demand_digest,
    execute_run,
    run_replications,
)
from twin.experiment.store import load_store
from twin.experiment.sweep import (
    Cell,
    Experiment,
    ExperimentFile,
    PolicyEntry,
    find_scenario,
    load_experiment,
    read_experiment_file,
    summarize_sweep,
    sweep,
)

__all__ = [
    "Cell",
    "Comparison",
    "Experiment",
    "ExperimentFile",
    "PolicyEntry",
    "PolicySpec",
    "ReplicationSet",
    "RunOutcome",
    "RunSpec",
    "build_policy",
    "compare",
    "demand_digest",
    "execute",
    "execute_run",
    "find_scenario",
    "json_safe",
    "load_experiment",
    "load_store",
    "parse_policies",
    "read_experiment_file",
    "run_replications",
    "summarize_sweep",
    "sweep",
]
