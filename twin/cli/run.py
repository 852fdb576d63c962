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
from rich.markup import escape
from rich.table import Table

from twin.cli._render import err, out, print_json, print_warnings, progress_bar, user_errors

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
    variant: Annotated[
        str | None,
        typer.Option(
            help="Run this variant of the scenario; the base case is run too, and the "
            "report and KPI table show every KPI's change against it (see --vs).",
        ),
    ] = None,
    vs: Annotated[
        str | None,
        typer.Option(
            "--vs",
            help="Compare with this case: 'base' (the scenario as written; the default "
            "with --variant), another variant's name, or 'none' (no comparison).",
        ),
    ] = None,
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
        vs=vs,
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
    print_warnings(summary["warnings"])
    if strict and summary["warnings"]:
        err.print(f"[bold red]--strict:[/] {len(summary['warnings'])} warning(s); exit 3")
        raise typer.Exit(code=3)


def _tracker(console: Console | None) -> Callable[[str, int], Any]:
    """The replications' progress (:func:`progress_bar`; none with ``--json``)."""

    @contextmanager
    def track(description: str, total: int) -> Iterator[Callable[[], None]]:
        with progress_bar(enabled=console is not None) as progress:
            task = progress.add_task(description, total=total)
            yield lambda: progress.advance(task)

    return track


def print_kpi_table(console: Console, summary: dict[str, Any]) -> None:
    """The run's KPIs by group (mean, 95 % CI, unit; rates as percentages), and
    where its report is."""
    from twin.kpi_catalog import display, format_interval, format_value, grouped

    table = Table(
        title=f"{escape(summary['scenario'])}: {summary['replications']} replication(s), "
        f"{summary['days']} day(s)"
        + (f" after {summary['warmup_days']} warm-up day(s)" if summary["warmup_days"] else "")
    )
    table.add_column("KPI", overflow="fold")
    table.add_column("mean", justify="right", no_wrap=True)
    table.add_column("95% CI", justify="right")
    table.add_column("unit")
    for group, names in grouped(list(summary["kpis"])):
        table.add_section()
        table.add_row(f"[bold]{group}[/]")
        for name in names:
            stat = summary["kpis"][name]
            ci_text = format_interval(name, stat["ci"])
            table.add_row(name, format_value(name, stat["mean"]), ci_text, display(name).unit)
    console.print(table)
    if "vs" in summary:
        print_versus_table(console, summary["vs"])
    if "report" in summary:
        console.print(f"report: [bold]{summary['report']}[/]")


#: Verdicts in a word, so the comparison fits 80 columns (the report spells them out).
_SHORT_VERDICT = {
    "better": "better",
    "worse": "worse",
    "no significant difference": "n.s.",
    "below the practical threshold": "small",
    "not enough spread": "shift",
    "identical": "same",
    "n/a": "",
}


def print_versus_table(console: Console, vs: dict[str, Any]) -> None:
    """Every KPI's change from the base case, paired by replication, with its verdict."""
    from rich import box

    from twin.kpi_catalog import format_change, format_value, grouped

    table = Table(
        title=f"{escape(vs['variant'])} against {escape(vs['base'])}: "
        f"{vs['replications']} paired replication(s)",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("KPI", overflow="fold")
    table.add_column("base", justify="right")
    table.add_column("variant", justify="right")
    table.add_column("change ± 95%", justify="right")
    table.add_column("verdict")
    for group, names in grouped(list(vs["kpis"])):
        table.add_row(f"[bold]{group}[/]")
        for name in names:
            k = vs["kpis"][name]
            change = format_change(name, k["change"])
            if k["ci"] is not None and k["change"] is not None:
                half = (k["ci"][1] - k["ci"][0]) / 2
                change += " ± " + format_change(name, half).lstrip("+")
            table.add_row(
                name,
                format_value(name, k["base"]),
                format_value(name, k["variant"]),
                change,
                _SHORT_VERDICT.get(k["verdict"], k["verdict"]),
            )
    console.print(table)
    console.print(
        "verdict: better / worse (Holm-adjusted paired t-test at 5 %), n.s. (no significant "
        "difference), small (below the practical threshold), same (identical in every pair), "
        "shift (the same change in every pair)."
    )
    if not vs["same_demand"]:
        console.print(
            "note: the variant changes the orders themselves; each pair still shares its "
            "random streams."
        )
