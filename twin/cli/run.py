"""``twin schema`` and ``twin run``: the scenario's schema, and one scenario simulated
with its progress bar and KPI table.

The run itself is :func:`twin.experiment.outputs.run_scenario_file`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from twin.cli._render import err, out, print_json, print_warnings, user_errors

__all__ = ["print_kpi_table", "run_cmd", "schema_cmd"]


def schema_cmd() -> None:
    """Print the JSON Schema of scenario files (for editor autocompletion)."""
    from twin.scenario import json_schema

    print_json(json_schema())


@user_errors
def run_cmd(
    scenario_path: Annotated[Path, typer.Argument(help="Scenario YAML file.", metavar="SCENARIO")],
    days: Annotated[int | None, typer.Option(help="Override the number of measured days.")] = None,
    warmup: Annotated[
        int | None,
        typer.Option(
            help="Override the warm-up days simulated before the measured ones "
            "(default: the scenario's warmup_days; 1 for multi-day runs).",
        ),
    ] = None,
    replications: Annotated[int, typer.Option(help="Independent replications.", min=1)] = 1,
    seed: Annotated[int | None, typer.Option(help="Override the seed.")] = None,
    map_ref: Annotated[str | None, typer.Option("--map", help="Override the map.")] = None,
    variant: Annotated[str | None, typer.Option(help="Run this variant of the scenario.")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Output folder.")] = None,
    report: Annotated[bool, typer.Option(help="Write the HTML report.")] = True,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the KPI summary as JSON.")
    ] = False,
    strict: Annotated[
        bool,
        typer.Option(
            help="Exit with status 3 if the run has warnings (a solver cap hit, "
            "servable orders left unplanned, vehicles no policy plans).",
        ),
    ] = False,
) -> None:
    """Simulate a scenario, write the event log, tables and report, print KPIs."""
    from twin.experiment.outputs import run_scenario_file

    console = None if json_out else out
    summary = run_scenario_file(
        scenario_path,
        days=days,
        warmup_days=warmup,
        replications=replications,
        seed=seed,
        map_ref=map_ref,
        variant=variant,
        out_dir=out_dir,
        report=report,
        say=console.print if console is not None else None,
        track=_tracker(console),
    )
    if console is not None:
        print_kpi_table(console, summary)
    if json_out:
        print_json(summary)
    # Warnings go to stderr too, so they are seen with --json and in CI logs.
    print_warnings(summary["warnings"], replications=summary["replications"])
    if strict and summary["warnings"]:
        err.print(f"[bold red]--strict:[/] {len(summary['warnings'])} warning(s); exit 3")
        raise typer.Exit(code=3)


def _tracker(console: Console | None) -> Callable[[str, int], Any]:
    """The replications' progress bar on ``console`` (hidden when there is none)."""

    @contextmanager
    def track(description: str, total: int) -> Iterator[Callable[[], None]]:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=console,
            disable=console is None,
            transient=True,
        )
        with progress:
            task = progress.add_task(description, total=total)
            yield lambda: progress.advance(task)

    return track


def print_kpi_table(console: Console, summary: dict[str, Any]) -> None:
    """The run's KPIs (mean and 95 % CI) and where its report is."""
    table = Table(
        title=f"{summary['scenario']}: {summary['replications']} replication(s), "
        f"{summary['days']} day(s)"
        + (f" after {summary['warmup_days']} warm-up day(s)" if summary["warmup_days"] else "")
    )
    table.add_column("KPI")
    table.add_column("mean", justify="right")
    table.add_column("95% CI", justify="right")
    for name, stat in summary["kpis"].items():
        mean = "—" if stat["mean"] is None else f"{stat['mean']:.4g}"
        ci = stat["ci"]
        ci_text = "—" if ci[0] is None else f"[{ci[0]:.4g}, {ci[1]:.4g}]"
        table.add_row(name, mean, ci_text)
    console.print(table)
    if "report" in summary:
        console.print(f"report: [bold]{summary['report']}[/]")
