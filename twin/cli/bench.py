"""``twin bench``: benchmarks that measure and print, never gate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from twin.cli._render import out, print_json, user_errors
from twin.errors import TwinError

__all__ = ["bench_dynamic", "bench_routing", "bench_scale", "bench_sim", "bench_traveltime"]


def _print_pairs(title: str, result: dict[str, Any]) -> None:
    """A benchmark's flat result as a two-column table."""
    table = Table(title=title, show_header=False)
    for key, value in result.items():
        table.add_row(key, str(value))
    out.print(table)


@user_errors
def bench_traveltime(
    map_ref: Annotated[str, typer.Option("--map", help="Map name or path.")] = "austin",
    n: Annotated[int, typer.Option(help="Matrix size n x n.")] = 1000,
    nx_sample: Annotated[int, typer.Option(help="networkx sources timed (extrapolated).")] = 40,
    seed: Annotated[int, typer.Option(help="Seed for the random nodes.")] = 0,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Time twin's travel-time matrix against naive networkx in the same run."""
    from twin.bench.traveltime import run

    result = run(map_ref=map_ref, n=n, nx_sample=nx_sample, seed=seed)
    if json_out:
        print_json(result)
        return
    _print_pairs(f"travel-time matrix {result['n']}x{result['n']} on {result['map']}", result)


@user_errors
def bench_sim(
    scenario: Annotated[str, typer.Option(help="Scenario to time.")] = (
        "scenarios/laredo_baseline.yaml"
    ),
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Simulated stops per second vs a bare SimPy model; wall time and memory of a run."""
    from twin.bench.sim import run

    result = run(scenario_path=scenario)
    if json_out:
        print_json(result)
        return
    _print_pairs("simulation speed", result)


@user_errors
def bench_routing(
    instances: Annotated[
        list[Path] | None,
        typer.Option(
            "--instances",
            help="Folder of instances with a bks.csv (repeatable). Default: the "
            "solomon, gehring_homberger/200, li_lim and euro_neurips_2022 folders "
            "of ../shared/benchmarks.",
        ),
    ] = None,
    backend: Annotated[str, typer.Option(help="ortools, pyvrp or auto.")] = "auto",
    time_limit: Annotated[float, typer.Option("--time-limit", help="Seconds per instance.")] = 10.0,
    seed: Annotated[int, typer.Option(help="Solver seed.")] = 0,
    workers: Annotated[int, typer.Option(help="Instances solved in parallel.")] = 1,
    only: Annotated[
        str | None, typer.Option("--only", help="Instance-name pattern, e.g. 'R1*'.")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many instances.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Write the rows as CSV.")] = None,
) -> None:
    """Solve benchmark instances and report the gap to their best-known solutions."""
    from twin.bench.routing import run
    from twin.routing import BACKENDS

    if backend not in BACKENDS:
        raise TwinError(f"--backend {backend!r}: choose one of {', '.join(BACKENDS)}")

    def tick(row: dict[str, Any]) -> None:
        if not json_out:
            gap = row.get("gap_pct")
            shown = "infeasible: " + row.get("error", "") if not row["feasible"] else f"{gap}%"
            out.print(f"  {row['family']}/{row['instance']}: {shown}", highlight=False)

    result = run(
        instances,
        backend=backend,
        time_limit_s=time_limit,
        seed=seed,
        workers=workers,
        name_filter=only,
        limit=limit,
        progress=tick,
    )
    if csv_out is not None:
        import pandas as pd

        pd.DataFrame(result["instances"]).to_csv(csv_out, index=False)
    if json_out:
        print_json(result)
        return
    table = Table(title=f"routing vs best-known ({result['convention']}, {time_limit:g} s each)")
    columns = {
        "instances": "n_instances",
        "feasible": "n_feasible",
        "mean gap %": "mean_gap_pct",
        "max gap %": "max_gap_pct",
        "at BKS": "at_bks",
        "more vehicles": "n_more_vehicles",
    }
    table.add_column("family")
    for col in columns:
        table.add_column(col)
    for family, f in result["families"].items():
        table.add_row(family, *(str(f[key]) for key in columns.values()))
    out.print(table)
    out.print(f"mean gap {result['mean_gap_pct']}% over {result['n_feasible']} feasible")


@user_errors
def bench_dynamic(
    instances_dir: Annotated[
        Path | None,
        typer.Option(
            "--from",
            help="Folder of EURO Meets NeurIPS 2022 instances. Default: "
            "../shared/benchmarks/euro_neurips_2022.",
        ),
    ] = None,
    instances: Annotated[
        int | None, typer.Option("--instances", help="The first N instances only.")
    ] = None,
    only: Annotated[
        str | None,
        typer.Option("--only", help="Policies, comma-separated: greedy, lazy, prize."),
    ] = None,
    epochs_budget: Annotated[
        int, typer.Option("--epochs-budget", help="PyVRP iterations per epoch (work units).")
    ] = 500,
    seed: Annotated[int, typer.Option(help="Seed of the days' requests.")] = 0,
    workers: Annotated[int, typer.Option(help="Days played in parallel.")] = 1,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Dispatch policies on the EURO Meets NeurIPS 2022 dynamic days (same requests for all)."""
    from twin.bench.dynamic import POLICIES, run

    if epochs_budget < 1:
        raise TwinError(f"--epochs-budget must be at least 1, got {epochs_budget}")
    if workers < 1:
        raise TwinError(f"--workers must be at least 1, got {workers}")
    policies = [p.strip() for p in only.split(",") if p.strip()] if only else list(POLICIES)

    def tick(row: dict[str, Any]) -> None:
        if not json_out:
            shown = f"{row['cost']:,.0f}" if row["feasible"] else "infeasible: " + row["error"]
            out.print(f"  {row['instance']} {row['policy']}: {shown}", highlight=False)

    result = run(
        instances_dir,
        policies=policies,
        budget=epochs_budget,
        instances=instances,
        seed=seed,
        workers=workers,
        progress=tick,
    )
    if json_out:
        print_json(result)
        return
    table = Table(title=f"dynamic days, {epochs_budget} PyVRP iterations per epoch")
    for col in ("policy", "mean cost", "vs greedy %", "instances", "feasible"):
        table.add_column(col)
    for name, p in result["policies"].items():
        table.add_row(
            name,
            f"{p['mean_cost']:,.0f}" if p["mean_cost"] is not None else "-",
            str(p["vs_greedy_pct"]),
            str(p["instances"]),
            str(p["feasible"]),
        )
    out.print(table)


@user_errors
def bench_scale(
    scenario: Annotated[str, typer.Option(help="Scenario to scale.")] = (
        "scenarios/laredo_baseline.yaml"
    ),
    sizes: Annotated[
        str, typer.Option(help="Orders per day, comma-separated (fleet and docks scale alike).")
    ] = "1500,10000,50000",
    memory_gb: Annotated[
        float | None,
        typer.Option(help="Address-space cap per size (default: 3/4 of this machine's memory)."),
    ] = None,
    params: Annotated[
        str,
        typer.Option(
            help="Policy parameters merged in at every size, as JSON, e.g. '{\"iterations\": 250}'."
        ),
    ] = "{}",
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Whole `twin run` at growing demand: wall and CPU seconds by phase, memory, deliveries."""
    import json

    from twin.bench.scale import run

    try:
        extra = json.loads(params)
    except json.JSONDecodeError as exc:
        raise TwinError(
            f"--params {params!r}: not JSON ({exc.msg}); give e.g. '{{\"iterations\": 250}}'"
        ) from None
    if not isinstance(extra, dict):
        raise TwinError(f"--params {params!r}: give a JSON object of policy parameters")

    try:
        orders = [int(s) for s in sizes.split(",") if s.strip()]
    except ValueError:
        raise TwinError(
            f"--sizes {sizes!r}: give whole numbers of orders, e.g. 1500,10000"
        ) from None
    if not orders or min(orders) < 1:
        raise TwinError(f"--sizes {sizes!r}: give at least one positive number of orders")

    def tick(row: dict[str, Any]) -> None:
        if not json_out:
            shown = row.get("error") or f"{row['wall_s']} s, {row['peak_rss_mb']} MB"
            out.print(f"  {row['orders']} orders: {shown}", highlight=False)

    result = run(
        scenario_path=scenario, sizes=orders, memory_gb=memory_gb, params=extra, progress=tick
    )
    if json_out:
        print_json(result)
        return
    from twin.bench.scale import PHASES

    table = Table(title=f"twin run at scale ({result['machine']}); phases: wall/CPU s")
    for col in ("orders", "vehicles", "wall s", "CPU s", "RSS MB", "delivered", *PHASES):
        table.add_column(col)
    for row in result["sizes"]:
        if "error" in row:
            table.add_row(str(row["orders"]), "", str(row["wall_s"]), "", "", row["error"])
            continue
        split = [
            f"{row['phases'][p]['wall_s']:g}/{row['phases'][p]['cpu_s']:g}"
            for p in PHASES
            if p in row["phases"]
        ]
        table.add_row(
            *(str(row[k]) for k in ("orders", "vehicles", "wall_s", "cpu_s", "peak_rss_mb")),
            str(row["delivered"]),
            *split,
        )
    out.print(table)
    out.print(f"growth exponent of the whole run: {result['growth_exponent']}")
