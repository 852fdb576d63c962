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

A sweep (:func:`load_experiment`, :func:`sweep`) is the cartesian product of
scenario variants x factor values x policies x replications. Each run has a
stable ``run_id`` derived from its resolved inputs and is stored as one Parquet
file ``<run_id>.parquet``, written atomically, so a sweep killed at any point and
resumed ends with every run exactly once (:func:`load_store` reads the store).

This is the only module that imports Dask, and only inside the function that
needs it: the main install works without it (``pip install 'twin[dask]'``).
"""

from __future__ import annotations

import hashlib
import inspect
import itertools
import json
import math
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from twin.dispatch import POLICIES, DispatchPolicy, make_policy
from twin.errors import ExperimentError, ScenarioError
from twin.maps import RoadNetwork, load_network
from twin.metrics import (
    HEADLINE_KPIS,
    KPI_NAMES,
    conservation,
    kpis,
    paired_difference,
    summarize,
    verdict,
)
from twin.scenario import Scenario, describe_errors, load_scenario
from twin.scenario.edit import with_factors
from twin.sim import SimResult, Simulation

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext

__all__ = [
    "Comparison",
    "Experiment",
    "PolicySpec",
    "ReplicationSet",
    "RunOutcome",
    "RunSpec",
    "build_policy",
    "compare",
    "demand_digest",
    "execute",
    "execute_run",
    "load_experiment",
    "load_store",
    "parse_policies",
    "run_replications",
    "sweep",
]

S = TypeVar("S")
R = TypeVar("R")


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


def _accepts(name: str, parameter: str) -> bool:
    """Whether policy class ``name`` takes ``parameter`` (not every policy has a time limit)."""
    cls = POLICIES.get(name)
    if cls is None:
        return False
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return False
    return any(
        p.name == parameter or p.kind is inspect.Parameter.VAR_KEYWORD
        for p in signature.parameters.values()
    )


def build_policy(scenario: Scenario, spec: PolicySpec) -> DispatchPolicy:
    """The policy object for one run of ``scenario``.

    The scenario's ``policy.time_limit_s`` is passed to any policy that accepts
    it; the scenario's ``policy.params`` apply only to the policy it names; the
    spec's own parameters win over both.
    """
    params: dict[str, Any] = {}
    if _accepts(spec.name, "time_limit_s"):
        params["time_limit_s"] = scenario.policy.time_limit_s
    if spec.name == scenario.policy.name:
        params.update(scenario.policy.params)
    params.update(spec.params)
    return make_policy(spec.name, **params)


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
        kpis=kpis(result.orders, result.vehicles, events),
        event_log_digest=result.log.digest(),
        demand_digest=demand_digest(events),
        wall_s=round(time.perf_counter() - started, 3),
        hostname=socket.gethostname(),
        pid=os.getpid(),
        events=events if spec.keep_events else None,
    )


def execute(
    specs: Sequence[S],
    worker: Callable[[S], R],
    *,
    workers: int = 1,
    scheduler: str | None = None,
) -> Iterator[R]:
    """Run ``worker(spec)`` for every spec and yield the results as they finish.

    Parameters
    ----------
    specs : sequence
        Picklable inputs.
    worker : callable
        A top-level (importable) function, so other processes can run it.
    workers : int, optional
        Local processes (default 1: run here, one after the other, no pool).
        Ignored with ``scheduler``.
    scheduler : str, optional
        Address of a Dask scheduler (``tcp://host:port``): the runs go to its
        workers instead (needs ``twin[dask]``).

    Notes
    -----
    Results come in completion order; callers that summarise must sort. Local
    pools start processes with ``forkserver`` (``spawn`` where that is missing),
    not ``fork``: the caller may have threads (progress bars, Dask) and forking
    a threaded process can deadlock. The fork server imports twin once, so each
    worker starts in milliseconds; it keeps the environment of its first use,
    with numeric libraries limited to one thread per worker.
    As with any such pool, a script that calls this with ``workers > 1`` must
    guard its own work with ``if __name__ == "__main__":`` (workers import the
    script's main module).
    """
    if scheduler is not None:
        yield from _dask_results(specs, worker, scheduler)
        return
    if workers < 1:
        raise ExperimentError(f"--workers must be at least 1, got {workers}.")
    if workers == 1 or len(specs) <= 1:
        for spec in specs:
            yield worker(spec)
        return
    from concurrent.futures import ProcessPoolExecutor, as_completed

    pool = ProcessPoolExecutor(max_workers=min(workers, len(specs)), mp_context=_pool_context())
    try:
        futures = [pool.submit(worker, spec) for spec in specs]
        for future in as_completed(futures):
            yield future.result()
    finally:
        # An early stop (an error, a closed generator) must not wait for all the rest.
        pool.shutdown(wait=True, cancel_futures=True)


#: Worker processes keep numeric libraries to one thread each. Otherwise every
#: worker's OpenBLAS/OpenMP pool has a thread per core, the pools spin on each
#: other's cores and two workers ran slower than one (measured; Dask's nanny sets
#: the same variables for its workers). A user's own setting wins.
_ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _pool_context() -> BaseContext:
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    from multiprocessing import forkserver

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["twin.experiment"])
    # The fork server takes the environment it starts with and passes it to every
    # worker; set the thread limits for it alone, not for this process.
    saved = {name: os.environ.get(name) for name in _ONE_THREAD}
    try:
        for name, value in _ONE_THREAD.items():
            os.environ.setdefault(name, value)
        forkserver.ensure_running()
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old
    return context


def _dask_results(specs: Sequence[S], worker: Callable[[S], R], address: str) -> Iterator[R]:
    """Same contract as the local pool, on a Dask cluster's workers."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise ExperimentError(
            "--scheduler needs Dask; install it with `pip install 'twin[dask]'`."
        ) from None
    try:
        client = Client(address, timeout="10s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ExperimentError(
            f"--scheduler {address}: cannot reach a Dask scheduler there ({exc}); "
            "check the address or start one with `dask scheduler`."
        ) from None
    with client:
        # pure=False: every submission is a fresh task, never a cached result of another.
        futures = [client.submit(worker, spec, pure=False) for spec in specs]
        try:
            for future in as_completed(futures, loop=client.loop):
                yield future.result()
        finally:
            client.cancel([f for f in futures if not f.done()])


# -- comparison of policies ------------------------------------------------------------------------
@dataclass
class Comparison:
    """R paired replications of a scenario under each policy; the first is the baseline."""

    scenario: Scenario
    policies: tuple[PolicySpec, ...]
    replications: int
    runs: list[RunOutcome]

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
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for label in self.labels[1:]:
            out[label] = {}
            for kpi in self.kpi_names:
                diff = paired_difference(self.values(self.baseline, kpi), self.values(label, kpi))
                out[label][kpi] = {**diff.to_dict(), "verdict": verdict(kpi, diff)}
        return out

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
            }
            for o in self.runs
        ]

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
    """
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
    )


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


# -- experiment files ------------------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


_File = TypeVar("_File", bound=BaseModel)


class PolicyEntry(_Strict):
    """One policy of a sweep: registered name, parameters, optional label."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)
    label: str | None = None


class ExperimentFile(_Strict):
    """The experiment YAML, validated (see the module docstring of the sweep)."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    scenario: str
    variants: Annotated[list[str], Field(min_length=1)] = ["base"]
    policies: Annotated[list[PolicyEntry], Field(min_length=1)]
    factors: dict[str, Annotated[list[Any], Field(min_length=1)]] = Field(default_factory=dict)
    replications: Annotated[int, Field(ge=1)]
    days: Annotated[int, Field(ge=1, le=365)] | None = None
    seed: Annotated[int, Field(ge=0)] | None = None
    store: str | None = None

    @field_validator("policies", mode="before")
    @classmethod
    def _names_as_entries(cls, value: Any) -> Any:
        # A plain name is shorthand for {name: NAME}.
        if isinstance(value, list):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value


_FIX = {
    "missing": "add it",
    "extra_forbidden": "remove it or fix its spelling",
    "string_pattern_mismatch": "use letters, digits, '_', '-' and '.' only",
    "too_short": "list at least one",
}


@dataclass(frozen=True)
class Cell:
    """One resolved scenario of the design: a variant with one combination of factor values."""

    variant: str
    factors: Mapping[str, Any]
    scenario: Scenario

    @property
    def digest(self) -> str:
        return _digest(self.scenario.model_dump(mode="json"))


@dataclass(frozen=True)
class Experiment:
    """A validated experiment file with its scenario cells resolved."""

    name: str
    path: Path
    scenario_path: Path
    policies: tuple[PolicySpec, ...]
    factors: Mapping[str, tuple[Any, ...]]
    replications: int
    days: int | None
    seed: int | None
    store: Path
    cells: tuple[Cell, ...]
    definition: Mapping[str, Any]

    def design(self) -> list[RunSpec]:
        """Every run: variants x factor combinations x policies x replications, in that order."""
        specs = []
        for cell in self.cells:
            for policy in self.policies:
                for r in range(self.replications):
                    specs.append(
                        RunSpec(
                            run_id=_run_id(cell, policy, r, days=self.days, seed=self.seed),
                            scenario=cell.scenario,
                            policy=policy,
                            replication=r,
                            columns={
                                "experiment": self.name,
                                "scenario": cell.scenario.name,
                                "scenario_digest": cell.digest,
                                "variant": cell.variant,
                                **{f"factor.{k}": v for k, v in cell.factors.items()},
                                "factors": json.dumps(dict(cell.factors), sort_keys=True),
                                "days": cell.scenario.days,
                                "seed": cell.scenario.seed,
                            },
                        )
                    )
        return specs


def _digest(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _slug(text: str, limit: int = 40) -> str:
    return re.sub(r"[^A-Za-z0-9.=+-]+", "_", text).strip("_")[:limit] or "x"


def _run_id(cell: Cell, policy: PolicySpec, replication: int, *, days: Any, seed: Any) -> str:
    """Readable prefix + hash of every resolved input: other inputs, other id."""
    inputs = {
        "scenario": cell.digest,
        "variant": cell.variant,
        "factors": dict(cell.factors),
        "policy": policy.name,
        "params": dict(policy.params),
        "replication": replication,
        "days": days,
        "seed": seed,
    }
    factors = ",".join(f"{k.rsplit('.', 1)[-1]}={_compact(v)}" for k, v in cell.factors.items())
    parts = [_slug(cell.variant, 24), _slug(policy.key, 32)]
    if factors:
        parts.append(_slug(factors, 48))
    return "_".join([*parts, f"r{replication}", _digest(inputs)[:12]])


def _load_yaml(path: Path) -> Any:
    if not path.is_file():
        raise ExperimentError(f"Experiment file {path} does not exist; check the path.")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ExperimentError(f"{path} is not valid YAML{where}; fix the syntax there.") from None


def read_experiment_file(path: Path, model: type[_File], keys: str) -> _File:
    """The YAML file at ``path`` validated as ``model``: every problem in one
    :class:`ExperimentError` naming the key and the fix (``keys`` lists the main
    keys for a file that is not a mapping at all)."""
    raw = _load_yaml(path)
    if not isinstance(raw, dict):
        raise ExperimentError(f"{path}: an experiment file must be a mapping ({keys}).")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = describe_errors(exc, model, dotted=True, fixes=_FIX)
        raise ExperimentError("; ".join(f"{path}: {p}" for p in problems)) from None


def load_experiment(path: str | Path) -> Experiment:
    """Read, validate and resolve an experiment YAML file.

    The scenario path is tried relative to the experiment file's folder, then to
    the current directory. Every cell (variant x factor values) is built and
    validated here, and every policy constructed once, so a bad variant, factor
    path, value or policy parameter fails before any run starts.
    """
    path = Path(path)
    spec = read_experiment_file(path, ExperimentFile, "name:, scenario:, policies:, ...")
    scenario_path = _find_scenario(path, spec.scenario)
    try:
        base = load_scenario(scenario_path)
    except ScenarioError as exc:
        raise ExperimentError(f"{path}: scenario: {exc}") from None
    unknown = [v for v in spec.variants if v != "base" and v not in base.variants]
    if unknown:
        raise ExperimentError(
            f"{path}: variants: {', '.join(map(repr, unknown))} not in {scenario_path.name}; "
            f"choose from 'base' and {sorted(base.variants) or 'no other variants'}."
        )
    policies = tuple(PolicySpec(p.name, dict(p.params), p.label) for p in spec.policies)
    keys = [p.key for p in policies]
    same = [_digest([p.name, dict(p.params)]) for p in policies]
    if len(set(keys)) != len(keys) or len(set(same)) != len(same):
        raise ExperimentError(
            f"{path}: policies: the same policy (name and params) or label appears more than "
            "once; list each policy once, with its own parameters and label."
        )
    factor_paths = list(spec.factors)
    cells = []
    for variant in spec.variants:
        scenario = base if variant == "base" else base.variant(variant)
        for values in itertools.product(*(spec.factors[p] for p in factor_paths)):
            factors = dict(zip(factor_paths, values, strict=True))
            cells.append(
                Cell(
                    variant=variant,
                    factors=factors,
                    scenario=_apply_factors(
                        scenario, factors, days=spec.days, seed=spec.seed, source=path
                    ),
                )
            )
    for i, policy in enumerate(policies):
        try:
            build_policy(cells[0].scenario, policy)
        except ScenarioError as exc:
            raise ExperimentError(f"{path}: policies.{i}: {exc}") from None
    definition = spec.model_dump(mode="json")
    definition["scenario"] = str(scenario_path.resolve())
    return Experiment(
        name=spec.name,
        path=path,
        scenario_path=scenario_path,
        policies=policies,
        factors={p: tuple(spec.factors[p]) for p in factor_paths},
        replications=spec.replications,
        days=spec.days,
        seed=spec.seed,
        store=Path(spec.store) if spec.store else Path("out") / "sweeps" / spec.name,
        cells=tuple(cells),
        definition=definition,
    )


def _find_scenario(experiment_path: Path, ref: str) -> Path:
    candidates = [experiment_path.parent / ref, Path(ref)]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ExperimentError(
        f"{experiment_path}: scenario: {ref!r} is neither beside the experiment file "
        f"({experiment_path.parent}) nor under the current directory; fix the path."
    )


def _apply_factors(
    scenario: Scenario,
    factors: Mapping[str, Any],
    *,
    days: int | None,
    seed: int | None,
    source: Path,
) -> Scenario:
    """``scenario`` with each dotted path set to its value, validated as a whole."""
    try:
        return with_factors(scenario, factors, days=days, seed=seed, source=str(source))
    except ScenarioError as exc:
        raise ExperimentError(str(exc)) from None


# -- the store -------------------------------------------------------------------------------------
_TMP_PREFIX = ".tmp-"


def _run_files(store: Path) -> dict[str, Path]:
    return {
        p.name.removesuffix(".parquet"): p
        for p in store.glob("*.parquet")
        if not p.name.startswith(".")
    }


def load_store(path: str | Path) -> pd.DataFrame:
    """All finished runs of a sweep store, one row each, sorted by ``run_id``.

    Files still being written (hidden temporary files) are ignored. Each run
    file is read on its own, so runs of an edited experiment (other factor
    columns) still load together; missing columns are NaN.
    """
    store = Path(path)
    if not store.is_dir():
        raise ExperimentError(f"Store {store} does not exist; run `twin sweep` first.")
    frames = [pd.read_parquet(p) for _, p in sorted(_run_files(store).items())]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True).sort_values("run_id", ignore_index=True)


def _write_row(store: Path, run_id: str, row: Mapping[str, Any]) -> Path:
    """Write one run's row atomically: temporary file, fsync, rename over the final name.

    A reader (or a resumed sweep) sees either the whole file or none of it, even
    if this process is killed mid-write.
    """
    final = store / f"{run_id}.parquet"
    tmp = store / f"{_TMP_PREFIX}{run_id}-{uuid.uuid4().hex[:8]}.parquet"
    with tmp.open("wb") as handle:
        pd.DataFrame([dict(row)]).to_parquet(handle, index=False)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, final)
    directory = os.open(store, os.O_RDONLY)
    try:
        os.fsync(directory)  # make the rename itself durable
    finally:
        os.close(directory)
    return final


def _row(outcome: RunOutcome) -> dict[str, Any]:
    spec = outcome.spec
    return {
        "run_id": spec.run_id,
        **spec.columns,
        "policy": spec.policy.name,
        "policy_label": spec.policy.key,
        "params": json.dumps(dict(spec.policy.params), sort_keys=True),
        "replication": spec.replication,
        **{k: outcome.kpis.get(k, math.nan) for k in KPI_NAMES},
        **{k: v for k, v in sorted(outcome.kpis.items()) if k not in KPI_NAMES},
        "event_log_digest": outcome.event_log_digest,
        "demand_digest": outcome.demand_digest,
        "wall_s": outcome.wall_s,
        "hostname": outcome.hostname,
        "pid": outcome.pid,
    }


def _prepare_store(experiment: Experiment, store: Path, *, resume: bool) -> set[str]:
    """Create or check the store; return the run ids already in it."""
    if store.exists() and not store.is_dir():
        raise ExperimentError(f"--store {store} is a file; give a folder.")
    store.mkdir(parents=True, exist_ok=True)
    visible = [p for p in store.iterdir() if not p.name.startswith(".")]
    if visible and not resume:
        raise ExperimentError(
            f"Store {store} already holds results; pass --resume to finish that sweep, "
            "or choose another --store."
        )
    for stale in store.glob(f"{_TMP_PREFIX}*"):
        stale.unlink()  # half-written files of a killed sweep
    resolved = store / "experiment.yaml"
    if not resolved.exists():
        definition = {
            **experiment.definition,
            "cells": [
                {"variant": c.variant, "factors": dict(c.factors), "scenario_digest": c.digest}
                for c in experiment.cells
            ],
        }
        resolved.write_text(yaml.safe_dump(definition, sort_keys=False), encoding="utf-8")
        scenarios = store / "scenarios"
        scenarios.mkdir(exist_ok=True)
        for cell in experiment.cells:
            target = scenarios / f"{cell.digest[:12]}.yaml"
            data = cell.scenario.model_dump(mode="json")
            target.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return set(_run_files(store))


def sweep(
    experiment: Experiment,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    resume: bool = False,
    store: str | Path | None = None,
    on_start: Callable[[int, int], None] | None = None,
    on_run: Callable[[RunOutcome], None] | None = None,
) -> dict[str, Any]:
    """Run every run of ``experiment`` not yet in its store; return counts and a summary.

    Parameters
    ----------
    experiment : Experiment
        From :func:`load_experiment`.
    workers, scheduler :
        Where the runs execute (see :func:`execute`).
    resume : bool, optional
        Skip runs already stored (default False: a non-empty store is an error,
        so two different sweeps never mix by accident).
    store : path, optional
        Store folder (default: the experiment's ``store``).
    on_start : callable, optional
        Called with (runs to do now, runs in the design) before the first run.
    on_run : callable, optional
        Called with each outcome after its row is written.
    """
    folder = Path(store) if store is not None else experiment.store
    done_before = _prepare_store(experiment, folder, resume=resume)
    design = experiment.design()
    todo = [s for s in design if s.run_id not in done_before]
    if on_start is not None:
        on_start(len(todo), len(design))
    for outcome in execute(todo, execute_run, workers=workers, scheduler=scheduler):
        _write_row(folder, outcome.spec.run_id, _row(outcome))
        if on_run is not None:
            on_run(outcome)
    frame = load_store(folder)
    ids = {s.run_id for s in design}
    frame = frame[frame["run_id"].isin(ids)] if len(frame) else frame
    return json_safe(
        {
            "experiment": experiment.name,
            "store": str(folder),
            "counts": {
                "total": len(design),
                "done_before": len(ids & done_before),
                "run_now": len(todo),
                "in_store": len(frame),
                # Runs of an earlier, edited version of the experiment: kept, not summarised.
                "other_runs_in_store": len(set(_run_files(folder)) - ids),
            },
            "summary": summarize_sweep(experiment, frame),
        }
    )


def summarize_sweep(
    experiment: Experiment, frame: pd.DataFrame, *, kpi_names: Iterable[str] = HEADLINE_KPIS
) -> list[dict[str, Any]]:
    """Mean and 95% CI of the headline KPIs per (variant, factor values, policy).

    Groups come in design order and rows within a group by replication, so the
    summary does not depend on the order in which runs finished.
    """
    names = list(kpi_names)
    out = []
    for cell in experiment.cells:
        for policy in experiment.policies:
            if len(frame):
                rows = frame[
                    (frame["variant"] == cell.variant)
                    & (frame["scenario_digest"] == cell.digest)
                    & (frame["policy_label"] == policy.key)
                ].sort_values("replication")
            else:
                rows = frame
            stats = summarize(
                [{str(k): float(v) for k, v in r.items()} for r in rows[names].to_dict("records")]
                if len(rows)
                else []
            )
            out.append(
                {
                    "variant": cell.variant,
                    "factors": dict(cell.factors),
                    "policy": policy.key,
                    "runs": len(rows),
                    "kpis": {
                        k: {"mean": stats[k]["mean"], "ci": stats[k]["ci"]}
                        for k in names
                        if k in stats
                    },
                }
            )
    return out
