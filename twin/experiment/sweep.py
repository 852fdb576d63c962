"""Sweeps: experiment files, their factors, and running the whole design into a store.

A sweep (:func:`load_experiment`, :func:`sweep`) is the cartesian product of
scenario variants x factor values x policies x replications. A factor is a
dotted path into the scenario (``demand.orders_per_day``, ``fleet.0.count``)
with the values to try; every combination is a :class:`Cell`, validated as a
whole scenario before any run starts. Each run has a stable ``run_id`` derived
from its resolved inputs, so a sweep resumed after being killed runs only what
is missing (:mod:`twin.experiment.store`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from twin.errors import ExperimentError, ScenarioError
from twin.experiment.backends import execute
from twin.experiment.outputs import json_safe, run_row
from twin.experiment.runs import (
    PolicySpec,
    RunOutcome,
    RunSpec,
    _compact,
    build_policy,
    execute_run,
)
from twin.experiment.store import load_store, open_store, run_files, stored_values, write_row
from twin.metrics import HEADLINE_KPIS
from twin.provenance import code_digest
from twin.scenario import Scenario, describe_errors, load_scenario
from twin.scenario.edit import with_factors
from twin.stats import summarize

__all__ = [
    "Cell",
    "Experiment",
    "ExperimentFile",
    "PolicyEntry",
    "find_scenario",
    "load_experiment",
    "read_experiment_file",
    "summarize_sweep",
    "sweep",
]


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
    scenario_path = find_scenario(path, spec.scenario)
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


def find_scenario(experiment_path: Path, ref: str) -> Path:
    """The scenario file ``ref`` names: beside the experiment file, else under the
    current directory."""
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


# -- the store's columns ------------------------------------------------------------------------
def factor_types(experiment: Experiment) -> dict[str, Callable[[Any], Any]]:
    """How each ``factor.<path>`` column is written, from every value the design
    gives it, so that all runs' files share one schema: whole numbers stay ints,
    numbers mixed with floats are floats, booleans stay booleans, and anything
    else (strings, lists, a mix) is text (JSON for what is not a string)."""
    values: dict[str, list[Any]] = {}
    for cell in experiment.cells:
        for key, value in cell.factors.items():
            values.setdefault(f"factor.{key}", []).append(value)
    return {column: _column_type(vals) for column, vals in values.items()}


def _column_type(values: list[Any]) -> Callable[[Any], Any]:
    if all(isinstance(v, bool) for v in values):
        return bool
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if len(numbers) == len(values):
        return int if all(isinstance(v, int) for v in numbers) else float
    if all(isinstance(v, str) for v in values):
        return str
    return lambda v: v if isinstance(v, str) else json.dumps(v, sort_keys=True)


def _typed(row: Mapping[str, Any], types: Mapping[str, Callable[[Any], Any]]) -> dict[str, Any]:
    return {k: types[k](v) if k in types else v for k, v in row.items()}


# -- the run ---------------------------------------------------------------------------------------
def _prepare_store(experiment: Experiment, store: Path, *, resume: bool) -> set[str]:
    """Create or check the store; return the run ids already in it.

    The first time, the resolved experiment (with its cells) and every cell's
    scenario are written beside the runs, so the store says what produced it.
    """
    done = open_store(store, resume=resume)
    if done:
        _refuse_other_code(store)
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
    return done


def _refuse_other_code(store: Path) -> None:
    """A resumed store must hold only runs of this code (:mod:`twin.provenance`):
    a changed KPI definition or a fixed bug moves figures with no input changed,
    and a summary over both would mix them without saying so."""
    current = code_digest()
    other = {d: n for d, n in stored_values(store, "code_digest").items() if d != current}
    if other:
        made = ", ".join(
            f"{n} by {d}" if d else f"{n} from before runs recorded their code"
            for d, n in sorted(other.items())
        )
        raise ExperimentError(
            f"--resume: store {store} holds runs of other twin code ({made}; this code is "
            f"{current}), whose KPIs may be computed differently. Finish the sweep with the "
            "code that started it, or choose another --store for a fresh one."
        )


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
    types = factor_types(experiment)
    for outcome in execute(todo, execute_run, workers=workers, scheduler=scheduler):
        write_row(folder, outcome.spec.run_id, _typed(run_row(outcome), types))
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
                "other_runs_in_store": len(set(run_files(folder)) - ids),
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
