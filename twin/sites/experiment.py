"""Site-study experiment files: several network-design studies of one scenario, run as one.

A scenario's ``sites:`` section defines one study; an experiment file names the
scenario, the variants to study (each a study of its own: other candidates,
other demand, other costs), the numbers of new sites ``k`` and the
replications, so the whole investigation is one reproducible command::

    twin sites experiments/mfc_sites.yaml --workers 2

Keys (all but ``name`` and ``scenario`` optional):

==============  ==================================================================
``name``        the experiment's name; reports go to ``out/sites/<name>/<variant>``
``scenario``    scenario file, relative to the experiment file's folder (or the
                current directory)
``variants``    variant names of that scenario; ``base`` is the scenario itself
``k``           new sites to open: ``3``, ``1..4``, ``1,2,4`` or a list
``replications`` simulated replications per configuration (0: model only)
``out``         report folder instead of ``out/sites/<name>``
==============  ==================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from twin.errors import ExperimentError, ScenarioError
from twin.experiment.sweep import find_scenario, read_experiment_file
from twin.scenario import Scenario, load_scenario
from twin.sites.study import parse_k

__all__ = ["SiteExperiment", "is_site_experiment", "load_site_experiment"]


class SiteExperimentFile(BaseModel):
    """The experiment YAML, validated."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    scenario: str
    variants: Annotated[list[str], Field(min_length=1)] = ["base"]
    k: str | int | list[int] = "1..3"
    replications: Annotated[int, Field(ge=0)] = 3
    out: str | None = None


@dataclass(frozen=True)
class SiteExperiment:
    """A validated site-study experiment: one scenario per study, in file order."""

    name: str
    path: Path
    scenario_path: Path
    studies: dict[str, Scenario]
    ks: list[int]
    replications: int
    out: Path


def is_site_experiment(path: str | Path) -> bool:
    """True when ``path`` is a site-study experiment file rather than a scenario: a
    mapping whose ``scenario`` key names another file."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return False  # the scenario loader reports it properly
    return isinstance(raw, dict) and isinstance(raw.get("scenario"), str)


def load_site_experiment(path: str | Path) -> SiteExperiment:
    """Read and validate an experiment file; every study's scenario is built here, so a
    bad variant or a scenario without a ``sites:`` section fails before any run."""
    path = Path(path)
    spec = read_experiment_file(path, SiteExperimentFile, "name:, scenario:, k:, ...")
    try:
        ks = parse_k(spec.k)
    except ValueError as exc:
        raise ExperimentError(f"{path}: k: {exc}") from None
    scenario_path = find_scenario(path, spec.scenario)
    try:
        base = load_scenario(scenario_path)
    except ScenarioError as exc:
        raise ExperimentError(f"{path}: scenario: {exc}") from None
    studies: dict[str, Any] = {}
    for variant in spec.variants:
        if variant != "base" and variant not in base.variants:
            raise ExperimentError(
                f"{path}: variants: {variant!r} not in {scenario_path.name}; choose from "
                f"'base' and {sorted(base.variants) or 'no other variants'}."
            )
        scenario = base if variant == "base" else base.variant(variant)
        if scenario.sites is None:
            raise ExperimentError(
                f"{path}: variants: {variant!r} of {scenario_path.name} has no 'sites:' "
                "section; add one to the scenario (or the variant)."
            )
        studies[variant] = scenario
    return SiteExperiment(
        name=spec.name,
        path=path,
        scenario_path=scenario_path,
        studies=studies,
        ks=ks,
        replications=spec.replications,
        out=Path(spec.out) if spec.out else Path("out") / "sites" / spec.name,
    )
