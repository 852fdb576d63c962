"""The online fetch path, end to end against a stand-in Overpass/Nominatim on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import shapely
from osm_standin import OsmStandIn
from typer.testing import CliRunner

from twin.cli import app
from twin.errors import MapError
from twin.maps import fetch_map, load_network

pytestmark = pytest.mark.shared

PLACE = "Zona Centro, Aguascalientes, Mexico"
# A polygon over the middle of the Aguascalientes extract.
CENTRE = shapely.box(-102.2900, 21.8650, -102.2650, 21.8760)
EMPTY_BBOX = (-101.00, 21.00, -100.99, 21.01)  # far from the extract: no roads


@pytest.fixture
def standin(shared_maps: Path, monkeypatch: pytest.MonkeyPatch):
    with OsmStandIn(shared_maps / "aguascalientes_mx_drive.osm.bz2", {PLACE: CENTRE}) as server:
        monkeypatch.setenv("TWIN_OVERPASS_URL", server.url + "/api")
        monkeypatch.setenv("TWIN_NOMINATIM_URL", server.url)
        yield server


def test_fetch_place_round_trips_through_server_and_cache(standin: OsmStandIn):
    name, network, cached = fetch_map(place=PLACE)
    assert not cached
    assert name == "zona-centro-aguascalientes-mexico"
    assert network.n_nodes > 100
    assert any(r.startswith("POST") for r in standin.requests)
    assert any(r.startswith("GET") for r in standin.requests)
    assert network.meta.source.startswith("overpass:place=")
    assert not network.meta.synthetic
    n_requests = len(standin.requests)

    # Second time: served from the cache, no traffic.
    _, again, cached = fetch_map(place=PLACE)
    assert cached
    assert len(standin.requests) == n_requests
    assert again.n_nodes == network.n_nodes

    # And by name through the normal loader, after the server is gone.
    standin.server.shutdown()
    offline = load_network(name)
    assert offline.n_nodes == network.n_nodes
    assert offline.meta.name == name


def test_fetch_bbox_and_polygon(standin: OsmStandIn):
    _, by_bbox, _ = fetch_map(bbox=CENTRE.bounds, name="centre-bbox")
    _, by_polygon, _ = fetch_map(polygon_wkt=CENTRE.wkt, name="centre-poly")
    assert by_bbox.n_nodes > 100
    assert by_polygon.n_nodes == by_bbox.n_nodes


def test_place_not_found(standin: OsmStandIn):
    with pytest.raises(MapError, match="returned no roads for place 'Atlantis'"):
        fetch_map(place="Atlantis")


def test_bbox_without_roads(standin: OsmStandIn):
    with pytest.raises(MapError, match="returned no roads for bbox"):
        fetch_map(bbox=EMPTY_BBOX)


def test_bad_bbox_order(standin: OsmStandIn):
    with pytest.raises(MapError, match="west < east"):
        fetch_map(bbox=(-102.26, 21.87, -102.29, 21.86))


def _closed_port_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_server_unreachable(monkeypatch: pytest.MonkeyPatch):
    # A port nobody listens on: a clear error, no traceback.
    url = _closed_port_url()
    monkeypatch.setenv("TWIN_OVERPASS_URL", url + "/api")
    monkeypatch.setenv("TWIN_NOMINATIM_URL", url)
    with pytest.raises(MapError, match="Could not reach"):
        fetch_map(bbox=CENTRE.bounds, name="nowhere")


def test_cli_fetch_then_info(standin: OsmStandIn):
    runner = CliRunner()
    result = runner.invoke(app, ["maps", "fetch", PLACE, "--name", "centro", "--json"])
    assert result.exit_code == 0, result.output
    fetched = json.loads(result.stdout)
    assert fetched["registered_as"] == "centro"
    assert fetched["attribution"] == "© OpenStreetMap contributors"
    info = runner.invoke(app, ["maps", "info", "centro", "--json"])
    assert info.exit_code == 0
    assert json.loads(info.stdout)["nodes"] == fetched["nodes"]
    listed = runner.invoke(app, ["maps", "list", "--json"])
    assert any(e["name"] == "centro" and e["kind"] == "fetched" for e in json.loads(listed.stdout))


def test_cli_fetch_unknown_place_exits_2(standin: OsmStandIn):
    result = CliRunner().invoke(app, ["maps", "fetch", "Atlantis"])
    assert result.exit_code == 2
    assert "error:" in result.stderr
    assert "Traceback" not in result.output
