"""``twin sites``: choose sites for k = 1..K and simulate each answer."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from twin.cli._render import (
    number,
    out,
    plus_minus,
    print_json,
    print_warnings,
    progress_bar,
    user_errors,
)

__all__ = ["sites_cmd"]


def _k_values(text: str) -> list[int]:
    from twin.sites import parse_k

    try:
        return parse_k(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--k") from None


@user_errors
def sites_cmd(
    path: Annotated[
        Path,
        typer.Argument(
            help="Scenario YAML with a 'sites:' section, or a site-study experiment file "
            "(name:, scenario:, variants:, k:, replications:).",
            metavar="SCENARIO|EXPERIMENT",
        ),
    ],
    k: Annotated[
        str | None,
        typer.Option("--k", help="New sites to open: 3, 1..4 or 1,2,4 (default 1..3)."),
    ] = None,
    replications: Annotated[
        int | None,
        typer.Option(
            help="Simulated replications per configuration (default 3; 0: model only).", min=0
        ),
    ] = None,
    variant: Annotated[str | None, typer.Option(help="Scenario variant.")] = None,
    workers: Annotated[int, typer.Option(help="Local worker processes.", min=1)] = 1,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Report folder (default out/sites/NAME)."),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Choose micro-fulfillment, micro-hub or locker sites for k = 1..K; simulate each answer.

    Given an experiment file, runs one study per listed variant (reports in
    out/sites/NAME/VARIANT); --k and --replications override the file's.
    """
    from twin.scenario import load_scenario
    from twin.sites.experiment import is_site_experiment, load_site_experiment

    experiment_file = is_site_experiment(path)
    if experiment_file:
        if variant is not None:
            raise typer.BadParameter(
                "an experiment file lists its variants itself; drop --variant or add the "
                "variant to the file's variants:",
                param_hint="--variant",
            )
        experiment = load_site_experiment(path)
        studies = experiment.studies
        base_dir = experiment.scenario_path.parent
        folder = out_dir or experiment.out
        folders = {name: folder / name for name in studies}
        ks = _k_values(k) if k is not None else experiment.ks
        reps = replications if replications is not None else experiment.replications
    else:
        scenario = load_scenario(path, variant=variant)
        studies = {variant or "base": scenario}
        base_dir = path.parent
        folders = {variant or "base": out_dir or Path("out") / "sites" / scenario.name}
        ks = _k_values(k or "1..3")
        reps = 3 if replications is None else replications
    results = {}
    for name, scenario in studies.items():
        results[name] = _site_study(
            scenario, base_dir, ks, reps, workers, folders[name], quiet=json_out
        )
    if not json_out:
        for result in results.values():
            _print_site_table(result)
    else:  # an experiment: one result per variant; a scenario: its result
        print_json(results if experiment_file else next(iter(results.values())))
    for result in results.values():  # on stderr, with --json too
        print_warnings(result.get("warnings", []))


def _site_study(
    scenario: Any,
    base_dir: Path,
    ks: list[int],
    replications: int,
    workers: int,
    folder: Path,
    *,
    quiet: bool,
) -> dict[str, Any]:
    """One study: build, solve and simulate with a progress bar; k beyond the
    candidates is a --k error."""
    from twin.maps import load_network
    from twin.sites import SiteStudy, run_study

    network = load_network(scenario.map.ref, network_type=scenario.map.network_type)
    study = SiteStudy.build(scenario, network, base_dir=base_dir)
    if ks[-1] > study.n_new:
        raise typer.BadParameter(
            f"k={ks[-1]} but {scenario.name} has only {study.n_new} candidate sites",
            param_hint="--k",
        )
    with progress_bar(enabled=not quiet) as progress:
        task = progress.add_task(f"{scenario.name}: simulating configurations", total=None)
        return run_study(
            study,
            ks,
            replications=replications,
            folder=folder,
            workers=workers,
            on_start=lambda n: progress.update(task, total=n),
            on_run=lambda _: progress.advance(task),
        )


def _print_site_table(result: dict[str, Any]) -> None:
    table = Table(title=f"{result['scenario']}: sites per k (simulated: mean ± 95% CI half-width)")
    for column in ("k", "sites", "model $/day", "model within T", "sim $/day", "sim on-time"):
        table.add_column(column)
    rows = ([result["baseline"]] if result["baseline"] else []) + result["configurations"]
    for row in rows:
        sim = row.get("simulated") or {}
        table.add_row(
            "existing" if row is result["baseline"] else str(row["k"]),
            ", ".join(site["id"] for site in row["sites"]) or row["status"],
            number(row["model"]["total_cost_per_day"]),
            number(row["model"]["share_within_service_time"]),
            plus_minus(sim["network_cost_per_day"]) if "network_cost_per_day" in sim else "—",
            plus_minus(sim["on_time_rate"]) if "on_time_rate" in sim else "—",
        )
    out.print(table)
    out.print(f"report: {result['report']}")
