"""The ``twin`` command line (typer + rich): parse, call, render.

One module per command group: :mod:`~twin.cli.run` (schema, run),
:mod:`~twin.cli.experiment` (compare, sweep), :mod:`~twin.cli.sites`,
:mod:`~twin.cli.live` (calibrate, history, serve, replay), :mod:`~twin.cli.validate`,
:mod:`~twin.cli.export`, :mod:`~twin.cli.maps`
and :mod:`~twin.cli.bench`; what they share is in :mod:`~twin.cli._render`.
Commands import the simulation, the solvers and the plots inside their own
functions, so ``twin --help`` and ``twin schema`` load none of them.

User mistakes (a missing map, a bad file, an unreachable query) print one red
sentence on stderr and exit with status 2; they never print a traceback.
"""

from __future__ import annotations

import typer

from twin.cli import bench, experiment, export, live, maps, run, sites, validate
from twin.cli._render import user_errors

__all__ = ["app", "bench_app", "export_app", "main", "maps_app", "user_errors"]

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
export_app = typer.Typer(help="A run's results for other tools.", no_args_is_help=True)
app.add_typer(maps_app, name="maps")
app.add_typer(bench_app, name="bench")
app.add_typer(export_app, name="export")

# Registered here, in the order ``twin --help`` lists them, so that the command
# modules need not import the application (nor each other).
app.command("schema")(run.schema_cmd)
app.command("run")(run.run_cmd)
app.command("compare")(experiment.compare_cmd)
app.command("sweep")(experiment.sweep_cmd)
app.command("sites")(sites.sites_cmd)
app.command("calibrate")(live.calibrate_cmd)
app.command("history")(live.history_cmd)
app.command("serve")(live.serve_cmd)
app.command("replay")(live.replay_cmd)
app.command("validate")(validate.validate_cmd)
export_app.command("geojson")(export.export_geojson)
maps_app.command("list")(maps.maps_list)
maps_app.command("info")(maps.maps_info)
maps_app.command("fetch")(maps.maps_fetch)
bench_app.command("traveltime")(bench.bench_traveltime)
bench_app.command("sim")(bench.bench_sim)
bench_app.command("routing")(bench.bench_routing)
bench_app.command("dynamic")(bench.bench_dynamic)
bench_app.command("scale")(bench.bench_scale)


def main() -> None:
    """Console-script entry point."""
    app()
