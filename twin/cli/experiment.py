"""``twin compare`` and ``twin sweep``: paired policy comparisons and experiment designs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from twin.cli._render import (
    ci_text,
    err,
    number,
    out,
    plus_minus,
    print_json,
    print_warnings,
    progress_bar,
    user_errors,
)

__all__ = ["compare_cmd", "sweep_cmd"]


def _thresholds(text: str) -> dict[str, float]:
    """``--threshold`` as a mapping; a malformed item is a usage error."""
    out: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise typer.BadParameter(
                f"{item!r}: give KPI=VALUE, e.g. on_time_rate=0.01", param_hint="--threshold"
            ) from None
    return out


@user_errors
def compare_cmd(
    scenario_path: Annotated[Path, typer.Argument(help="Scenario YAML file.", metavar="SCENARIO")],
    policies: Annotated[
        str,
        typer.Option(
            help="Comma-separated policies, the first is the baseline; "
            "NAME or NAME(param=value,...), e.g. 'static,static(drop_penalty=500)'."
        ),
    ],
    replications: Annotated[int, typer.Option(help="Paired replications per policy.", min=1)] = 5,
    days: Annotated[int | None, typer.Option(help="Override the number of days.")] = None,
    seed: Annotated[int | None, typer.Option(help="Override the seed.")] = None,
    variant: Annotated[str | None, typer.Option(help="Use this variant of the scenario.")] = None,
    workers: Annotated[int, typer.Option(help="Local worker processes.", min=1)] = 1,
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address, tcp://HOST:PORT.")
    ] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Output folder.")] = None,
    events: Annotated[bool, typer.Option(help="Also save every run's event log.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    threshold: Annotated[
        str,
        typer.Option(
            help="Practical differences below which no verdict is given, KPI=VALUE, "
            "comma-separated (e.g. 'on_time_rate=0.01,cost_per_delivery=0.1'); "
            "defaults in twin.stats.PRACTICAL_DIFFERENCE.",
        ),
    ] = "",
) -> None:
    """Compare dispatch policies on paired replications (common random numbers)."""
    from twin.experiment import compare, parse_policies
    from twin.maps import load_network
    from twin.report.compare import write_comparison
    from twin.scenario import load_scenario
    from twin.scenario.edit import with_overrides

    specs = parse_policies(policies)
    scenario, notes = with_overrides(
        load_scenario(scenario_path, variant=variant), days=days, seed=seed
    )
    for note in notes:
        err.print(f"[yellow]note:[/] {note}")
    network = load_network(scenario.map.ref, network_type=scenario.map.network_type)
    safe_name = scenario.name.replace("[", "-").rstrip("]")
    out_dir = out_dir or Path(scenario.outputs.dir) / f"compare-{safe_name}"
    with progress_bar(enabled=not json_out) as progress:
        task = progress.add_task(f"comparing on {scenario.name}", total=replications * len(specs))
        comparison = compare(
            scenario,
            policies=specs,
            replications=replications,
            workers=workers,
            scheduler=scheduler,
            keep_events=events,
            network=network,
            on_run=lambda _: progress.advance(task),
            thresholds=_thresholds(threshold),
        )
    data = write_comparison(comparison, network, out_dir)
    for label, warnings in data.get("warnings", {}).items():  # on stderr, with --json too
        print_warnings([{**w, "message": f"{label}: {w['message']}"} for w in warnings])
    if json_out:
        print_json(data)
        return
    _print_comparison(data, replications)
    if not data["demand_identical"]:
        out.print("[bold red]warning:[/] demand differed between policies; pairing is invalid.")
    out.print(f"report: [bold]{data['files']['html']}[/]  ({network.meta.attribution})")


def _print_comparison(data: dict[str, Any], replications: int) -> None:
    """A table per policy against the baseline and the means by KPI, KPIs as rows:
    readable at 80 columns however many policies are compared."""
    baseline = data["baseline"]
    colour = {"better": "green", "worse": "red"}
    kpi_names = list(next(iter(data["paired"].values())))
    for other, paired in data["paired"].items():
        table = Table(
            title=f"{escape(other)} − {escape(baseline)}: {replications} paired runs",
            box=box.SIMPLE_HEAD,
        )
        table.add_column("KPI", overflow="fold")
        table.add_column("difference", justify="right")
        table.add_column("95% CI", justify="right")
        table.add_column("verdict")
        for kpi in kpi_names:
            stat = paired[kpi]
            style = colour.get(stat["verdict"], "dim")
            verdict = f"[{style}]{stat['verdict']}[/]"
            table.add_row(kpi, number(stat["mean"]), ci_text(stat["ci"]), verdict)
        out.print(table)
    means = Table(title="KPI means (95% CI)", box=box.SIMPLE_HEAD)
    means.add_column("KPI", overflow="fold")
    means.add_column("policy")
    means.add_column("mean", justify="right")
    means.add_column("95% CI", justify="right")
    for kpi in kpi_names:
        means.add_section()
        for label, stats in data["kpis"].items():
            stat = stats.get(kpi)
            mean, ci = (stat["mean"], stat["ci"]) if stat else (None, None)
            name = kpi if label == baseline else ""
            means.add_row(name, escape(label), number(mean), ci_text(ci))
    out.print(means)


@user_errors
def sweep_cmd(
    experiment_path: Annotated[
        Path, typer.Argument(help="Experiment YAML file.", metavar="EXPERIMENT")
    ],
    workers: Annotated[int, typer.Option(help="Local worker processes.", min=1)] = 1,
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address, tcp://HOST:PORT.")
    ] = None,
    resume: Annotated[bool, typer.Option(help="Skip runs already in the store.")] = False,
    store: Annotated[
        Path | None, typer.Option(help="Result store folder (default: the experiment's).")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Run an experiment's design (variants x factors x policies x replications) into a store."""
    from twin.experiment import load_experiment, sweep

    experiment = load_experiment(experiment_path)
    with progress_bar(enabled=not json_out) as progress:
        task = progress.add_task(f"sweep {experiment.name}", total=None)
        result = sweep(
            experiment,
            workers=workers,
            scheduler=scheduler,
            resume=resume,
            store=store,
            on_start=lambda todo, total: progress.update(task, total=todo),
            on_run=lambda _: progress.advance(task),
        )
    if json_out:
        print_json(result)
        return
    counts = result["counts"]
    out.print(
        f"store [bold]{result['store']}[/]: {counts['total']} runs in the design, "
        f"{counts['done_before']} done before, {counts['run_now']} run now."
    )
    rows = result["summary"]
    if not rows:
        return
    # One section per cell (variant, factors, policy), KPIs as rows: readable at 80
    # columns whatever the design.
    table = Table(
        title=f"{escape(result['experiment'])}: mean ± 95% CI half-width", box=box.SIMPLE_HEAD
    )
    table.add_column("KPI", overflow="fold")
    table.add_column("mean ± half-width", justify="right")
    for row in rows:
        factors = ", ".join(f"{k}={v}" for k, v in row["factors"].items())
        cell = " · ".join(filter(None, (row["variant"], factors, row["policy"])))
        table.add_section()
        table.add_row(f"[bold]{escape(cell)}[/] ({row['runs']} runs)", "")
        for kpi, stat in row["kpis"].items():
            table.add_row(f"  {kpi}", plus_minus(stat))
    out.print(table)
