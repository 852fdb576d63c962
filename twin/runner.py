"""``twin run``: scenario file in, event logs, tables, KPIs with CIs and a report out.

Kept apart from the CLI so that notebooks and tests can call :func:`run_scenario_cli`
directly and get the same files.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from twin.experiment import run_replications
from twin.maps import load_network
from twin.scenario import Scenario, dump_scenario, load_scenario

__all__ = ["apply_overrides", "run_scenario_cli", "write_outputs"]


def apply_overrides(
    scenario: Scenario,
    *,
    days: int | None = None,
    seed: int | None = None,
    map_ref: str | None = None,
) -> tuple[Scenario, list[str]]:
    """Scenario with command-line overrides applied, and notes on what changed.

    A different map makes hub coordinates meaningless, so hubs then move to the
    map's default site (its ``hub_site`` or its centre) and demand follows the map.
    """
    notes: list[str] = []
    update: dict[str, Any] = {}
    if days is not None:
        update["days"] = days
    if seed is not None:
        update["seed"] = seed
    if map_ref is not None and map_ref != scenario.map.ref:
        update["map"] = scenario.map.model_copy(update={"ref": map_ref})
        update["hubs"] = tuple(
            h.model_copy(update={"lat": None, "lon": None}) for h in scenario.hubs
        )
        notes.append(f"map overridden to {map_ref!r}: hubs moved to the map's default site")
    if not update:
        return scenario, notes
    data = scenario.model_dump()
    data.update(update)
    return Scenario.model_validate(data), notes


def write_outputs(result_set: Any, out_dir: Path, *, fmt: str) -> dict[str, Any]:
    """Write event logs, tables and the resolved scenario; return the KPI summary."""
    out_dir.mkdir(parents=True, exist_ok=True)
    dump_scenario(result_set.scenario, out_dir / "scenario.resolved.yaml")
    for r, result in enumerate(result_set.results):
        result.log.save(out_dir / f"events_r{r}.{fmt}", fmt=fmt)
        result.orders.to_parquet(out_dir / f"orders_r{r}.parquet", index=False)
        result.vehicles.to_parquet(out_dir / f"vehicles_r{r}.parquet", index=False)
    summary = {
        "scenario": result_set.scenario.name,
        "replications": len(result_set.results),
        "days": result_set.scenario.days,
        "seed": result_set.scenario.seed,
        "map": result_set.scenario.map.ref,
        "policy": result_set.scenario.policy.name,
        "kpis": result_set.summary,
        "per_replication": result_set.per_run,
        "conservation": result_set.conservation(),
        "event_log_digests": [r.log.digest() for r in result_set.results],
        "out_dir": str(out_dir),
    }
    return summary


def run_scenario_cli(
    path: Path,
    *,
    days: int | None = None,
    replications: int = 1,
    seed: int | None = None,
    map_ref: str | None = None,
    variant: str | None = None,
    out_dir: Path | None = None,
    report: bool = True,
    console: Console | None = None,
) -> dict[str, Any]:
    """Everything ``twin run`` does; returns the KPI summary."""
    started = time.perf_counter()
    scenario = load_scenario(path, variant=variant)
    scenario, notes = apply_overrides(scenario, days=days, seed=seed, map_ref=map_ref)
    say = console.print if console is not None else (lambda *a, **k: None)
    for note in notes:
        say(f"[yellow]note:[/] {note}")
    network = load_network(scenario.map.ref, network_type=scenario.map.network_type)
    say(f"map {network.meta.name}: {network.n_nodes} routable nodes ({network.meta.attribution})")
    out_dir = out_dir or Path(scenario.outputs.dir) / scenario.name.replace("[", "-").rstrip("]")
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
        task = progress.add_task(f"simulating {scenario.name}", total=replications)
        result_set = run_replications(
            scenario,
            replications=replications,
            network=network,
            on_progress=lambda r, res: progress.advance(task),
        )
    summary = write_outputs(result_set, out_dir, fmt=scenario.outputs.event_log_format)
    if report:
        from twin.report.html import write_report

        summary["report"] = str(write_report(result_set, network, out_dir))
    summary["wall_s"] = round(time.perf_counter() - started, 2)
    (out_dir / "kpis.json").write_text(json.dumps(summary, indent=2, default=str))
    if console is not None:
        _print_table(console, summary)
    return summary


def _print_table(console: Console, summary: dict[str, Any]) -> None:
    table = Table(
        title=f"{summary['scenario']}: {summary['replications']} replication(s), "
        f"{summary['days']} day(s)"
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
