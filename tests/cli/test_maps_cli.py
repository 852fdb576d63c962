"""The command line: acceptance output, JSON shape, exit code 2 for user mistakes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from twin.cli import app

runner = CliRunner()


def test_maps_info_laredo_json_acceptance():
    result = runner.invoke(app, ["maps", "info", "laredo", "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["nodes"] >= 5000
    assert info["n_border_crossings"] == 4
    assert info["routable_node_share"] == 1.0
    assert info["synthetic"] is True


def test_maps_info_plot_carries_attribution(tmp_path: Path):
    png = tmp_path / "grid.png"
    result = runner.invoke(app, ["maps", "info", "grid-5x5", "--plot", str(png)])
    assert result.exit_code == 0, result.output
    assert png.stat().st_size > 10_000


def test_every_map_plot_names_its_source(laredo, small_grid):
    from twin.report.plots import plot_network

    for network in (laredo, small_grid):
        ax = plot_network(network)
        texts = [t.get_text() for t in ax.texts]
        assert network.meta.attribution in texts
        assert "synthetic" in ax.get_title()


@pytest.mark.shared
@pytest.mark.parametrize(
    "filename",
    [
        "austin_tx_downtown_drive.osm.bz2",
        "austin_tx_downtown_roads.osm.pbf",
        "san_antonio_tx_downtown_drive.osm.bz2",
        "san_antonio_tx_downtown.osm.pbf",
        "aguascalientes_mx_drive.osm.bz2",
        "aguascalientes_mx.osm.bz2",
    ],
)
def test_maps_info_on_every_shared_file(shared_maps: Path, filename: str):
    result = runner.invoke(app, ["maps", "info", str(shared_maps / filename), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["nodes"] > 500
    assert 0.9 < info["routable_node_share"] <= 1.0
    assert info["attribution"] == "© OpenStreetMap contributors"
    assert info["synthetic"] is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["maps", "info", "atlantis"], "neither a known name"),
        (["maps", "info", "pyproject.toml"], "does not look like an OpenStreetMap extract"),
        (["maps", "fetch", "--bbox", "1,2,3"], "four numbers"),
        (["maps", "fetch"], "exactly one of"),
    ],
)
def test_user_mistakes_exit_2_with_one_line(args: list[str], message: str):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) <= 3  # one sentence, maybe wrapped


def test_bench_traveltime_json_small():
    result = runner.invoke(
        app,
        ["bench", "traveltime", "--map", "grid-10x10", "--n", "50", "--nx-sample", "5", "--json"],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    for key in ("twin_matrix_s", "networkx_s", "speedup_vs_networkx", "twin_peak_traced_mb"):
        assert key in figures
    assert figures["max_abs_diff_s"] < 0.5
