"""The ``twin`` command line (typer + rich).

User mistakes (a missing map, a bad file, an unreachable query) print one red
sentence on stderr and exit with status 2; they never print a traceback.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from twin.errors import TwinError

app = typer.Typer(
    name="twin",
    help="twin: a digital twin of last-mile delivery on real road networks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
maps_app = typer.Typer(help="Road networks: list, inspect, fetch.", no_args_is_help=True)
bench_app = typer.Typer(
    help="Benchmarks (measure and print; never gate tests).", no_args_is_help=True
)
app.add_typer(maps_app, name="maps")
app.add_typer(bench_app, name="bench")

out = Console()
err = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(func: F) -> F:
    """Turn :class:`TwinError` into one clear line on stderr and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except TwinError as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]


def _print_json(data: Any) -> None:
    # Plain print, not rich: JSON on stdout must stay machine-readable.
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@maps_app.command("list")
@user_errors
def maps_list(
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the embedded maps, the real extracts found and fetched maps."""
    from dataclasses import asdict

    from twin.maps import list_maps

    entries = list_maps()
    if json_out:
        _print_json([asdict(e) for e in entries])
        return
    table = Table(title="Maps")
    for col in ("name", "kind", "available", "description", "location"):
        table.add_column(col)
    for e in entries:
        table.add_row(
            e.name, e.kind, "yes" if e.available else "[red]missing[/]", e.description, e.location
        )
    out.print(table)


@maps_app.command("info")
@user_errors
def maps_info(
    ref: Annotated[str, typer.Argument(help="Map name (see `twin maps list`) or file path.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    network_type: Annotated[str, typer.Option(help="OSMnx network type for OSM files.")] = "drive",
    plot: Annotated[Path | None, typer.Option(help="Also draw the map to this PNG.")] = None,
) -> None:
    """Nodes, edges, extent, source, licence, bridges and border crossings of a map."""
    from twin.maps import load_network

    network = load_network(ref, network_type=network_type)
    info = network.info()
    if plot is not None:
        from matplotlib.figure import Figure

        from twin.report.plots import plot_network

        figure = plot_network(network).figure
        assert isinstance(figure, Figure)
        plot.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(plot, dpi=120, bbox_inches="tight")
        info["plot"] = str(plot)
    if json_out:
        _print_json(info)
        return
    table = Table(title=f"Map {info['name']}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in info.items():
        if key == "border_crossings":
            value = (
                "\n".join(
                    f"{c['name']}{' (commercial only)' if c['commercial_only'] else ''}"
                    for c in value
                )
                or "none"
            )
        elif isinstance(value, dict | list):
            value = json.dumps(value, ensure_ascii=False)
        table.add_row(key, str(value))
    out.print(table)


def _parse_bbox(text: str) -> tuple[float, float, float, float]:
    try:
        parts = tuple(float(p) for p in text.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 4:
        raise TwinError(f"--bbox {text!r} must be four numbers 'west,south,east,north'.")
    west, south, east, north = parts
    return west, south, east, north


@maps_app.command("fetch")
@user_errors
def maps_fetch(
    place: Annotated[
        str | None, typer.Argument(help="Place name, e.g. 'Laredo, Texas, USA'.")
    ] = None,
    bbox: Annotated[str | None, typer.Option(help="west,south,east,north in degrees.")] = None,
    polygon: Annotated[str | None, typer.Option(help="Polygon as WKT.")] = None,
    name: Annotated[str | None, typer.Option(help="Register under this name.")] = None,
    network_type: Annotated[str, typer.Option(help="OSMnx network type.")] = "drive",
    refresh: Annotated[bool, typer.Option(help="Download again even if cached.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Download a road network once (OSMnx/Overpass) and cache it for offline use."""
    from twin.maps import fetch_map

    registered, network, cached = fetch_map(
        place=place,
        bbox=_parse_bbox(bbox) if bbox else None,
        polygon_wkt=polygon,
        name=name,
        network_type=network_type,
        refresh=refresh,
    )
    info = {"registered_as": registered, "from_cache": cached, **network.info()}
    if json_out:
        _print_json(info)
    else:
        how = "from the cache" if cached else "downloaded"
        out.print(
            f"[green]{registered}[/]: {info['nodes']} routable nodes, {info['edges']} edges "
            f"({how}); use it as `--map {registered}`. {info['attribution']}"
        )


@app.command("schema")
def schema_cmd() -> None:
    """Print the JSON Schema of scenario files (for editor autocompletion)."""
    from twin.scenario import json_schema

    _print_json(json_schema())


@app.command("run")
@user_errors
def run_cmd(
    scenario_path: Annotated[Path, typer.Argument(help="Scenario YAML file.", metavar="SCENARIO")],
    days: Annotated[int | None, typer.Option(help="Override the number of days.")] = None,
    replications: Annotated[int, typer.Option(help="Independent replications.", min=1)] = 1,
    seed: Annotated[int | None, typer.Option(help="Override the seed.")] = None,
    map_ref: Annotated[str | None, typer.Option("--map", help="Override the map.")] = None,
    variant: Annotated[str | None, typer.Option(help="Run this variant of the scenario.")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Output folder.")] = None,
    report: Annotated[bool, typer.Option(help="Write the HTML report.")] = True,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the KPI summary as JSON.")
    ] = False,
) -> None:
    """Simulate a scenario, write the event log, tables and report, print KPIs."""
    from twin.runner import run_scenario_cli

    summary = run_scenario_cli(
        scenario_path,
        days=days,
        replications=replications,
        seed=seed,
        map_ref=map_ref,
        variant=variant,
        out_dir=out_dir,
        report=report,
        console=None if json_out else out,
    )
    if json_out:
        _print_json(summary)


def _progress(*, enabled: bool) -> Any:
    """A progress bar with elapsed time and ETA; a no-op when ``enabled`` is False."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err,
        disable=not enabled,
        transient=True,
    )


def _number(value: Any) -> str:
    return "—" if value is None else f"{value:.4g}"


def _ci(ci: Any) -> str:
    if not ci or ci[0] is None:
        return "—"
    return f"[{ci[0]:.4g}, {ci[1]:.4g}]"


def _plus_minus(stat: dict[str, Any]) -> str:
    mean, ci = stat["mean"], stat["ci"]
    if mean is None or not ci or ci[0] is None:
        return _number(mean)
    return f"{mean:.4g} ± {(ci[1] - ci[0]) / 2:.2g}"


@app.command("compare")
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
) -> None:
    """Compare dispatch policies on paired replications (common random numbers)."""
    from twin.experiment import compare, parse_policies
    from twin.maps import load_network
    from twin.report.compare import write_comparison
    from twin.runner import apply_overrides
    from twin.scenario import load_scenario

    specs = parse_policies(policies)
    scenario, notes = apply_overrides(
        load_scenario(scenario_path, variant=variant), days=days, seed=seed
    )
    for note in notes:
        err.print(f"[yellow]note:[/] {note}")
    network = load_network(scenario.map.ref, network_type=scenario.map.network_type)
    safe_name = scenario.name.replace("[", "-").rstrip("]")
    out_dir = out_dir or Path(scenario.outputs.dir) / f"compare-{safe_name}"
    with _progress(enabled=not json_out) as progress:
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
        )
    data = write_comparison(comparison, network, out_dir)
    if json_out:
        _print_json(data)
        return
    baseline = data["baseline"]
    table = Table(title=f"{data['scenario']}: other − {baseline}, {replications} paired runs")
    table.add_column("KPI")
    for other in data["paired"]:
        table.add_column(f"{other}\ndifference", justify="right")
        table.add_column("95% CI", justify="right")
        table.add_column("verdict")
    colour = {"better": "green", "worse": "red"}
    kpi_names = list(next(iter(data["paired"].values())))
    for kpi in kpi_names:
        cells = []
        for other in data["paired"]:
            stat = data["paired"][other][kpi]
            style = colour.get(stat["verdict"], "dim")
            cells += [_number(stat["mean"]), _ci(stat["ci"]), f"[{style}]{stat['verdict']}[/]"]
        table.add_row(kpi, *cells)
    out.print(table)
    means = Table(title="KPI means (95% CI)")
    means.add_column("KPI")
    for label in data["kpis"]:
        means.add_column(label, justify="right")
    for kpi in kpi_names:
        means.add_row(
            kpi,
            *(
                f"{_number(s[kpi]['mean'])} {_ci(s[kpi]['ci'])}" if kpi in s else "—"
                for s in data["kpis"].values()
            ),
        )
    out.print(means)
    if not data["demand_identical"]:
        out.print("[bold red]warning:[/] demand differed between policies; pairing is invalid.")
    out.print(f"report: [bold]{data['files']['html']}[/]  ({network.meta.attribution})")


@app.command("sweep")
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
    with _progress(enabled=not json_out) as progress:
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
        _print_json(result)
        return
    counts = result["counts"]
    out.print(
        f"store [bold]{result['store']}[/]: {counts['total']} runs in the design, "
        f"{counts['done_before']} done before, {counts['run_now']} run now."
    )
    rows = result["summary"]
    if not rows:
        return
    table = Table(title=f"{result['experiment']}: mean ± 95% CI half-width")
    for column in ("variant", "factors", "policy", "runs"):
        table.add_column(column)
    kpi_names = list(rows[0]["kpis"])
    for kpi in kpi_names:
        table.add_column(kpi, justify="right")
    for row in rows:
        factors = ", ".join(f"{k}={v}" for k, v in row["factors"].items()) or "—"
        table.add_row(
            row["variant"],
            factors,
            row["policy"],
            str(row["runs"]),
            *(_plus_minus(row["kpis"][k]) for k in kpi_names),
        )
    out.print(table)


def _k_values(text: str) -> list[int]:
    from twin.sites import parse_k

    try:
        return parse_k(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--k") from None


@app.command("sites")
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
    from twin.site_experiment import is_site_experiment, load_site_experiment

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
    if json_out:  # an experiment: one result per variant; a scenario: its result
        _print_json(results if experiment_file else next(iter(results.values())))
        return
    for result in results.values():
        _print_site_table(result)


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
    with _progress(enabled=not quiet) as progress:
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
            _number(row["model"]["total_cost_per_day"]),
            _number(row["model"]["share_within_service_time"]),
            _plus_minus(sim["network_cost_per_day"]) if "network_cost_per_day" in sim else "—",
            _plus_minus(sim["on_time_rate"]) if "on_time_rate" in sim else "—",
        )
    out.print(table)
    out.print(f"report: {result['report']}")


def _print_pairs(title: str, result: dict[str, Any]) -> None:
    """A benchmark's flat result as a two-column table."""
    table = Table(title=title, show_header=False)
    for key, value in result.items():
        table.add_row(key, str(value))
    out.print(table)


@bench_app.command("traveltime")
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
        _print_json(result)
        return
    _print_pairs(f"travel-time matrix {result['n']}x{result['n']} on {result['map']}", result)


@bench_app.command("sim")
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
        _print_json(result)
        return
    _print_pairs("simulation speed", result)


@bench_app.command("routing")
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
        _print_json(result)
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


# -- digital-twin mode ---------------------------------------------------------------
@app.command("calibrate")
@user_errors
def calibrate_cmd(
    history: Annotated[
        Path, typer.Argument(help="History folder (orders, stops[, pings, breaks]).")
    ],
    scenario_path: Annotated[
        Path, typer.Option("--scenario", help="Base scenario: map, fleet, everything not fitted.")
    ],
    replications: Annotated[
        int, typer.Option(help="Simulated replications for the validation (0: skip).", min=0)
    ] = 5,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Output folder.")] = None,
    timezone: Annotated[str, typer.Option(help="IANA zone of the history's times.")] = (
        "America/Chicago"
    ),
    json_out: Annotated[bool, typer.Option("--json", help="Print the fits as JSON.")] = False,
) -> None:
    """Fit a scenario to historical operations; write it with a validation report."""
    from twin.experiment import json_safe
    from twin.live.calibrate import calibrate, validate
    from twin.live.history import read_history
    from twin.maps import load_network
    from twin.report.calibration import write_calibration_report
    from twin.scenario import dump_scenario, load_scenario

    base = load_scenario(scenario_path)
    records = read_history(history, timezone=timezone)
    network = load_network(base.map.ref, network_type=base.map.network_type)
    result = calibrate(records, base, network)
    folder = out_dir or Path("out") / "calibration" / base.name
    folder.mkdir(parents=True, exist_ok=True)
    dump_scenario(result.scenario, folder / "calibrated.yaml")
    report = None
    if replications:
        with _progress(enabled=not json_out) as progress:
            task = progress.add_task("validating", total=replications)
            report = validate(
                result,
                records,
                network,
                replications=replications,
                on_run=lambda *_: progress.advance(task),
            )
    page = write_calibration_report(
        folder, fits=result.fits, validation=report, network=network, source=str(history)
    )
    if json_out:
        _print_json(json_safe({"fits": result.fits, "validation": report}))
        return
    out.print(f"calibrated scenario: {folder / 'calibrated.yaml'}")
    out.print(f"report: {page}")
    if report is not None:
        table = Table(title="historical vs simulated (95% band for a history this long)")
        for col in ("KPI", "historical", "simulated", "inside"):
            table.add_column(col)
        for row in report["kpis"]:
            table.add_row(
                row["kpi"],
                _number(row["historical"]),
                f"{_number(row['simulated_mean'])} {_ci(row['band'] or [None, None])}",
                {True: "yes", False: "no", None: "—"}[row["inside"]],
            )
        out.print(table)


@app.command("history")
@user_errors
def history_cmd(
    scenario_path: Annotated[Path, typer.Argument(help="Scenario YAML file.", metavar="SCENARIO")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the history to.")],
    days: Annotated[int | None, typer.Option(help="Override the number of days.")] = None,
    replication: Annotated[int, typer.Option(help="Which replication to record.", min=0)] = 0,
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
) -> None:
    """Simulate a scenario and write what happened in the history schema (docs/history.md)."""
    from twin.live.history import history_from_result, write_history
    from twin.maps import load_network
    from twin.scenario import load_scenario
    from twin.sim.engine import Simulation

    if fmt not in ("csv", "parquet"):
        raise TwinError(f"--format {fmt!r}: choose csv or parquet.")
    scenario = load_scenario(scenario_path)
    if days is not None:
        scenario = scenario.model_copy(update={"days": days})
    network = load_network(scenario.map.ref, network_type=scenario.map.network_type)
    result = Simulation(scenario, network, replication=replication).run()
    history = history_from_result(result)
    write_history(history, out_dir, fmt=fmt)
    out.print(
        f"wrote {len(history.orders)} orders, {len(history.stops)} stops, "
        f"{len(history.pings)} pings to {out_dir}"
    )


@app.command("serve")
@user_errors
def serve_cmd(
    scenario_path: Annotated[Path, typer.Argument(help="Scenario YAML file.", metavar="SCENARIO")],
    data_dir: Annotated[
        Path, typer.Option("--data", help="The server's only folder (its event store).")
    ],
    token: Annotated[
        str,
        typer.Option(envvar="TWIN_TOKEN", help="Bearer token for writes (or set TWIN_TOKEN)."),
    ],
    read_token: Annotated[
        bool, typer.Option("--read-token", help="Reads need the token too.")
    ] = False,
    database_url: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL of the event store (default: SQLite).")
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    samples: Annotated[int, typer.Option(help="Monte Carlo samples per forecast.", min=1)] = 50,
    timezone: Annotated[str, typer.Option(help="IANA zone of the operation.")] = (
        "America/Chicago"
    ),
) -> None:
    """Run the live twin: event API, forward-simulated ETAs and the dashboard."""
    from twin.live.api import ServeSettings, serve

    settings = ServeSettings(
        scenario=scenario_path,
        data_dir=data_dir,
        token=token,
        read_token_required=read_token,
        database_url=database_url,
        samples=samples,
        timezone=timezone,
    )
    out.print(f"dashboard: http://{host}:{port}/dashboard   API docs: http://{host}:{port}/docs")
    serve(settings, host=host, port=port)


@app.command("replay")
@user_errors
def replay_cmd(
    source: Annotated[
        Path, typer.Argument(help="History folder, or a scenario YAML to simulate and replay.")
    ],
    url: Annotated[str, typer.Option(help="The twin's base URL.")] = "http://127.0.0.1:8000",
    token: Annotated[
        str | None, typer.Option(envvar="TWIN_TOKEN", help="Write token (or set TWIN_TOKEN).")
    ] = None,
    speed: Annotated[
        float, typer.Option(help="Times real time (0: as fast as the server takes it).", min=0)
    ] = 60.0,
    start: Annotated[
        str | None, typer.Option(help="Send everything before this time at once, then pace.")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Stop at this time.")] = None,
    timezone: Annotated[str, typer.Option(help="IANA zone of the operation.")] = (
        "America/Chicago"
    ),
    json_out: Annotated[bool, typer.Option("--json", help="Print the stats as JSON.")] = False,
) -> None:
    """Feed a recorded day into a running twin at N x real time (demos and tests)."""
    from twin.live.replay import replay_source

    stats = replay_source(
        source, url=url, token=token, speed=speed, start=start, until=until, timezone=timezone
    )
    if json_out:
        _print_json(stats.as_dict())
    else:
        out.print(
            f"sent {stats.sent} events ({stats.duplicates} already stored) in {stats.batches} "
            f"requests, {stats.elapsed_s:.1f} s; last event {stats.last_time}"
        )


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
