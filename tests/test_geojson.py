"""`twin export geojson`: a run's routes, stops and sites, valid GeoJSON that GIS tools read."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from twin.cli import app

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()
_GEOMETRIES = {"Point": 1, "LineString": 2}  # type: the positions' nesting depth


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict]]:
    run_dir = tmp_path_factory.mktemp("run")
    scenario = str(ROOT / "scenarios" / "small_grid.yaml")
    args = ["run", scenario, "--days", "2", "--out", str(run_dir), "--no-report", "--json"]
    assert runner.invoke(app, args).exit_code == 0
    result = runner.invoke(app, ["export", "geojson", str(run_dir), "--json"])
    assert result.exit_code == 0, result.output
    paths = json.loads(result.stdout)

    def strict(text: str) -> object:  # NaN and Infinity are not JSON
        raise ValueError(f"{text} in GeoJSON")

    layers = {
        name: json.loads(Path(path).read_text(), parse_constant=strict)
        for name, path in paths.items()
    }
    return run_dir, layers


def _check_rfc7946(collection: dict) -> None:
    """The parts of RFC 7946 a writer can get wrong: the object types, the position
    order (longitude, latitude) and ranges, LineStrings of two positions or more."""
    assert collection["type"] == "FeatureCollection"
    assert "crs" not in collection  # RFC 7946 drops it: WGS 84 only
    for feature in collection["features"]:
        assert feature["type"] == "Feature"
        assert isinstance(feature["properties"], dict)
        geometry = feature["geometry"]
        depth = _GEOMETRIES[geometry["type"]]
        positions = [geometry["coordinates"]] if depth == 1 else geometry["coordinates"]
        assert len(positions) >= depth
        for lon, lat in positions:
            assert -180 <= lon <= 180
            assert -90 <= lat <= 90


def test_every_layer_is_rfc7946_geojson(exported) -> None:
    _, layers = exported
    assert set(layers) == {"routes", "stops", "sites"}
    for collection in layers.values():
        _check_rfc7946(collection)
        assert (
            "OpenStreetMap" in collection["attribution"] or "ynthetic" in collection["attribution"]
        )


def test_routes_are_each_trip_as_driven(exported) -> None:
    run_dir, layers = exported
    routes = layers["routes"]["features"]
    events = pd.read_parquet(run_dir / "events_r0.parquet")
    measured = events[events["day"] >= 1]  # two measured days after one warm-up day
    assert len(routes) == int((measured["kind"] == "depart").sum())
    vehicles = pd.read_parquet(run_dir / "vehicles_r0.parquet")
    km = vehicles.loc[vehicles["day"] >= 1, "km"].sum()
    assert sum(f["properties"]["km"] for f in routes) == pytest.approx(km, rel=0.01)
    for f in routes:
        p = f["properties"]
        assert p["departed"] < p["returned"]
        assert p["day"] >= 1  # measured days only: day 0 is the warm-up
        day0 = dt.date(2026, 3, 2)  # the scenario's start_date
        assert p["date"] == (day0 + dt.timedelta(days=p["day"])).isoformat()
        assert p["departed"].startswith(p["date"])
        first, last = f["geometry"]["coordinates"][0], f["geometry"]["coordinates"][-1]
        assert first == last  # from the hub back to the hub


def test_stops_carry_status_and_times(exported) -> None:
    run_dir, layers = exported
    stops = layers["stops"]["features"]
    orders = pd.read_parquet(run_dir / "orders_r0.parquet")
    due = orders[orders["released"] & (orders["due_day"] >= 1)]
    assert len(stops) == len(due)
    counts = pd.Series([f["properties"]["status"] for f in stops]).value_counts().to_dict()
    assert counts == due["final_state"].value_counts().to_dict()
    for f in stops:
        p = f["properties"]
        if p["status"] == "delivered":
            assert p["vehicle_id"]
            assert p["delivered"]
            assert math.isfinite(p["delivered_s"])
        assert p["window_start"] < p["window_end"]


def test_geopandas_reads_the_layers(exported) -> None:
    geopandas = pytest.importorskip("geopandas")
    run_dir, _layers = exported
    routes = geopandas.read_file(run_dir / "geojson" / "routes.geojson")
    assert routes.crs.to_epsg() == 4326
    assert set(routes.geom_type) == {"LineString"}
    sites = geopandas.read_file(run_dir / "geojson" / "sites.geojson")
    assert sites["kind"].tolist() == ["hub"]


def test_a_folder_that_is_not_a_run_is_one_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["export", "geojson", str(tmp_path)])
    assert result.exit_code == 2
    assert "is not a twin run folder" in result.stderr
    assert "Traceback" not in result.output
