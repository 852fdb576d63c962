"""The digital-twin commands: ``twin calibrate``, ``history``, ``serve`` and ``replay``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from twin.cli._render import ci_text, err, number, out, print_json, progress_bar, user_errors
from twin.errors import TwinError

__all__ = ["calibrate_cmd", "history_cmd", "replay_cmd", "serve_cmd"]


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
        with progress_bar(enabled=not json_out) as progress:
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
        print_json(json_safe({"fits": result.fits, "validation": report}))
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
                number(row["historical"]),
                f"{number(row['simulated_mean'])} {ci_text(row['band'] or [None, None])}",
                {True: "yes", False: "no", None: "—"}[row["inside"]],
            )
        out.print(table)


@user_errors
def history_cmd(
    scenario_path: Annotated[Path, typer.Argument(help="Scenario YAML file.", metavar="SCENARIO")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the history to.")],
    days: Annotated[int | None, typer.Option(help="Override the number of days.")] = None,
    replication: Annotated[int, typer.Option(help="Which replication to record.", min=0)] = 0,
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
) -> None:
    """Simulate a scenario and write what happened in the history schema
    (docs/reference/history.md)."""
    from twin.live.history import history_from_result, write_history
    from twin.maps import load_network
    from twin.scenario import load_scenario
    from twin.scenario.edit import with_overrides
    from twin.sim.engine import Simulation

    if fmt not in ("csv", "parquet"):
        raise TwinError(f"--format {fmt!r}: choose csv or parquet.")
    # A history is every day simulated, from the first: no warm-up is left out, so
    # --days N writes N days.
    scenario, _ = with_overrides(load_scenario(scenario_path), days=days, warmup_days=0)
    network = load_network(scenario.map.ref, network_type=scenario.map.network_type)
    result = Simulation(scenario, network, replication=replication).run()
    history = history_from_result(result)
    write_history(history, out_dir, fmt=fmt)
    out.print(
        f"wrote {len(history.orders)} orders, {len(history.stops)} stops, "
        f"{len(history.pings)} pings to {out_dir}"
    )


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
        str | None,
        typer.Option(
            help="Send everything before this time at once, then pace (default: the first "
            "event that is not an order, so the day's operations start at once)."
        ),
    ] = None,
    until: Annotated[str | None, typer.Option(help="Stop at this time.")] = None,
    timezone: Annotated[str, typer.Option(help="IANA zone of the operation.")] = (
        "America/Chicago"
    ),
    json_out: Annotated[bool, typer.Option("--json", help="Print the stats as JSON.")] = False,
) -> None:
    """Feed a recorded day into a running twin at N x real time (demos and tests)."""
    from twin.live.replay import replay_source

    if source.suffix in (".yaml", ".yml") and not json_out:
        err.print(f"simulating {source} to record its days (a scenario's run time) ...")
    with progress_bar(enabled=not json_out) as progress:
        task = progress.add_task("reading the recorded day", total=None)

        def sent(done: int, total: int, last_time: str) -> None:
            progress.update(task, total=total, description=f"replaying, at {last_time}")
            progress.advance(task, done - progress_done[0])
            progress_done[0] = done

        progress_done = [0]
        stats = replay_source(
            source,
            url=url,
            token=token,
            speed=speed,
            start=start,
            until=until,
            timezone=timezone,
            on_batch=sent,
        )
    if json_out:
        print_json(stats.as_dict())
    else:
        out.print(
            f"sent {stats.sent} events ({stats.duplicates} already stored) in {stats.batches} "
            f"requests, {stats.elapsed_s:.1f} s; last event {stats.last_time}"
        )
