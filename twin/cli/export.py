"""``twin export``: a run's results in formats other tools read."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from twin.cli._render import out, print_json, user_errors

__all__ = ["export_geojson"]


@user_errors
def export_geojson(
    run_dir: Annotated[Path, typer.Argument(help="A `twin run` output folder.", metavar="RUN_DIR")],
    out_dir: Annotated[
        Path | None,
        typer.Argument(help="Where to write (default: RUN_DIR/geojson).", metavar="OUT_DIR"),
    ] = None,
    replication: Annotated[int, typer.Option(help="Which replication (0-based).", min=0)] = 0,
    json_out: Annotated[bool, typer.Option("--json", help="Print the paths as JSON.")] = False,
) -> None:
    """Routes (LineStrings per trip), stops (orders with status and times) and sites
    (hubs, lockers, border crossings) as GeoJSON, for QGIS, geopandas or kepler.gl."""
    from twin.geojson import write_geojson

    paths = write_geojson(run_dir, out_dir or run_dir / "geojson", replication=replication)
    if json_out:
        print_json({name: str(path) for name, path in paths.items()})
        return
    for name, path in paths.items():
        out.print(f"{name}: [bold]{path}[/]")
