"""Real OSM extracts: XML and PBF, raw or drive-filtered, and the errors for bad files."""

from __future__ import annotations

import bz2
from pathlib import Path

import pytest

from twin.errors import MapError
from twin.maps import load_network
from twin.maps.osm import read_osm_file

pytestmark = pytest.mark.shared


def test_raw_extract_is_filtered_like_osmnx_drive(shared_maps: Path):
    raw = load_network(str(shared_maps / "aguascalientes_mx.osm.bz2"))
    drive = load_network("aguascalientes")
    # Same roads survive: the raw file's footways, buildings etc. are dropped.
    assert raw.n_nodes_loaded == drive.n_nodes_loaded == 748
    assert raw.n_nodes == drive.n_nodes == 682
    assert raw.meta.attribution == "© OpenStreetMap contributors"
    assert not raw.meta.synthetic
    # The raw file has schools tagged; the drive-filtered one lost them.
    assert len(raw.meta.schools) > 0
    assert len(drive.meta.schools) == 0


def test_pbf_gives_same_graph_as_xml(shared_maps: Path):
    pbf = load_network(str(shared_maps / "san_antonio_tx_downtown.osm.pbf"))
    xml = load_network("san-antonio")
    assert pbf.n_nodes == xml.n_nodes
    assert pbf.graph.number_of_edges() == xml.graph.number_of_edges()
    assert pbf.info()["bridge_edges"] > 0


def test_cache_roundtrip_is_identical(shared_maps: Path):
    first = load_network("aguascalientes")
    second = load_network("aguascalientes")  # from the GraphML cache
    assert first.meta == second.meta
    assert (first.node_ids == second.node_ids).all()
    assert (first.edge_free_flow_s == second.edge_free_flow_s).all()


def test_user_extract_without_drive_filter_file(tmp_path: Path, shared_maps: Path):
    """Any OSM XML works, e.g. an uncompressed copy a user made."""
    plain = tmp_path / "mycity.osm"
    plain.write_bytes(bz2.decompress((shared_maps / "aguascalientes_mx.osm.bz2").read_bytes()))
    net = load_network(str(plain))
    assert net.meta.name == "mycity"
    assert net.n_nodes == 682


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"this is not xml", "could not be read as OpenStreetMap data"),
        (
            b"<?xml version='1.0'?><osm version='0.6'><node id='1' lat='0' lon='0'/></osm>",
            "contains no roads",
        ),
    ],
)
def test_bad_osm_files(tmp_path: Path, content: bytes, message: str):
    path = tmp_path / "bad.osm"
    path.write_bytes(content)
    with pytest.raises(MapError, match=message):
        read_osm_file(path)


def test_wrong_suffix_and_missing_file(tmp_path: Path):
    other = tmp_path / "roads.csv"
    other.write_text("a,b\n")
    with pytest.raises(MapError, match="does not look like an OpenStreetMap extract"):
        read_osm_file(other)
    with pytest.raises(MapError, match="does not exist"):
        read_osm_file(tmp_path / "missing.osm")


def test_unknown_network_type(shared_maps: Path):
    with pytest.raises(MapError, match="Unknown network_type"):
        read_osm_file(shared_maps / "aguascalientes_mx_drive.osm.bz2", network_type="boat")


def test_osm_map_plot_shows_osm_credit(shared_maps: Path):
    from twin.report.plots import plot_network

    ax = plot_network(load_network("aguascalientes"))
    assert "© OpenStreetMap contributors" in [t.get_text() for t in ax.texts]
