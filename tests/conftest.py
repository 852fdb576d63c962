"""Shared fixtures: small named networks, the shared OSM extracts, an isolated cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from twin.maps import RoadNetwork, grid_city, laredo_border_city, shared_dir


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Tests never write into the repository's maps/cache."""
    cache = tmp_path_factory.getbasetemp() / "twin-cache"
    monkeypatch.setenv("TWIN_CACHE_DIR", str(cache))
    monkeypatch.delenv("TWIN_OVERPASS_URL", raising=False)
    monkeypatch.delenv("TWIN_NOMINATIM_URL", raising=False)


@pytest.fixture(scope="session")
def laredo() -> RoadNetwork:
    return RoadNetwork(*laredo_border_city())


@pytest.fixture(scope="session")
def small_grid() -> RoadNetwork:
    return RoadNetwork(*grid_city(rows=6, cols=6, spacing_m=100.0))


@pytest.fixture(scope="session")
def shared_maps() -> Path:
    shared = shared_dir()
    if shared is None:
        pytest.skip("../shared/maps (real OSM extracts) is not beside the repository")
    return shared / "maps"
