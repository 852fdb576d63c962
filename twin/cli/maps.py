"""``twin maps``: list, inspect and fetch road networks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from twin.cli._render import out, print_json, user_errors
from twin.errors import TwinError

__all__ = ["maps_fetch", "maps_info", "maps_list"]


@user_errors
def maps_list(
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the embedded maps, the real extracts found and fetched maps."""
    from dataclasses import asdict

    from twin.maps import list_maps

    entries = list_maps()
    if json_out:
        print_json([asdict(e) for e in entries])
        return
    # Names are never cut (they are what --map takes); description and location fold
    # onto their own lines so the table reads at 80 columns.
    table = Table(title="Maps", show_lines=True)
    table.add_column("name", no_wrap=True, min_width=max((len(e.name) for e in entries), default=4))
    table.add_column("kind", no_wrap=True)
    table.add_column("available", no_wrap=True)
    table.add_column("description and location", overflow="fold")
    for e in entries:
        status = "yes" if e.available else "[red]missing[/]"
        table.add_row(e.name, e.kind, status, f"{e.description}\n[dim]{e.location}[/]")
    out.print(table)


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
        print_json(info)
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
        print_json(info)
    else:
        how = "from the cache" if cached else "downloaded"
        out.print(
            f"[green]{registered}[/]: {info['nodes']} routable nodes, {info['edges']} edges "
            f"({how}); use it as `--map {registered}`. {info['attribution']}"
        )
