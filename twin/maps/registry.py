"""Map names users type, and where each one comes from.

A map reference is resolved in this order:

1. an embedded synthetic map: ``laredo`` (the stylized border city), ``grid`` or
   ``grid-RxC`` (e.g. ``grid-10x12``);
2. a registered name: the real extracts in ``../shared/maps`` (``austin``,
   ``san-antonio``, ``aguascalientes``), entries of a user registry file
   (``maps/registry.yaml`` in the working directory, or ``TWIN_MAP_REGISTRY``),
   and maps fetched earlier with ``twin maps fetch``;
3. a path to an OSM extract or a GraphML file.

Built graphs of OSM files are cached as GraphML under the cache directory
(``TWIN_CACHE_DIR``, default ``maps/cache`` in the working directory), keyed by
the file's content hash, so a second load is offline and about three times faster.
The synthetic maps are cached too, as pickles keyed by their arguments and a
digest of the code that builds them (every module of :mod:`twin.maps` and the
networkx version): generating the Laredo map takes about 1.6 s, reading it back
about 0.25 s, and any change to the generators builds afresh. A pickle runs code
when read, so only the user's own cache directory is ever read this way.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import networkx as nx
import yaml

from twin.errors import MapError
from twin.maps import osm
from twin.maps.network import MapMeta, RoadNetwork
from twin.maps.synthetic import grid_city, laredo_border_city

__all__ = [
    "MapEntry",
    "cache_dir",
    "fetch_map",
    "list_maps",
    "load_network",
    "shared_dir",
]

#: Bump when the way graphs are built changes, so stale caches are not reused.
BUILD_VERSION = "1"

#: Real extracts shipped beside the repository in ../shared/maps (drive-filtered).
SHARED_EXTRACTS = {
    "austin": "austin_tx_downtown_drive.osm.bz2",
    "san-antonio": "san_antonio_tx_downtown_drive.osm.bz2",
    "aguascalientes": "aguascalientes_mx_drive.osm.bz2",
}
_SYNTHETIC = {
    "laredo": "Stylized Laredo TX / Nuevo Laredo border city (synthetic)",
    "grid": "20x20 street grid, 200 m blocks (synthetic); grid-RxC for other sizes",
}
_GRID = re.compile(r"^grid-(\d+)x(\d+)$")


@dataclass(frozen=True)
class MapEntry:
    """One map a user can name."""

    name: str
    kind: str  # synthetic | shared | registry | fetched
    location: str
    description: str
    available: bool


def shared_dir() -> Path | None:
    """The ``shared`` folder beside the repository (or ``TWIN_SHARED_DIR``), if present."""
    env = os.environ.get("TWIN_SHARED_DIR")
    if env:
        return Path(env) if Path(env).is_dir() else None
    starts = [Path.cwd(), Path(__file__).resolve().parent]
    for start in starts:
        for folder in (start, *start.parents):
            candidate = folder / "shared"
            if (candidate / "maps").is_dir():
                return candidate
    return None


def cache_dir() -> Path:
    """Where built and fetched graphs are cached (``TWIN_CACHE_DIR`` or ``maps/cache``)."""
    return Path(os.environ.get("TWIN_CACHE_DIR", Path.cwd() / "maps" / "cache"))


def _user_registry() -> dict[str, dict[str, str]]:
    path = Path(os.environ.get("TWIN_MAP_REGISTRY", Path.cwd() / "maps" / "registry.yaml"))
    if not path.is_file():
        return {}
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise MapError(f"Map registry {path} is not valid YAML ({exc}); fix the file.") from None
    maps = raw.get("maps", {}) if isinstance(raw, dict) else None
    if not isinstance(maps, dict):
        raise MapError(f"Map registry {path} must have a 'maps:' mapping of name -> {{path: ...}}.")
    out = {}
    shared = shared_dir()
    for name, entry in maps.items():
        if not isinstance(entry, dict) or "path" not in entry:
            raise MapError(f"Map registry {path}: entry {name!r} needs a 'path:' field.")
        location = str(entry["path"])
        if "${shared}" in location:
            location = location.replace("${shared}", str(shared) if shared else "<shared missing>")
        elif not Path(location).is_absolute():
            location = str((path.parent / location).resolve())
        out[str(name)] = {"path": location, "description": str(entry.get("description", ""))}
    return out


def _fetched_index() -> dict[str, dict[str, str]]:
    index = cache_dir() / "fetched" / "index.json"
    if not index.is_file():
        return {}
    loaded: dict[str, dict[str, str]] = json.loads(index.read_text())
    return loaded


def list_maps() -> list[MapEntry]:
    """Every map name that :func:`load_network` accepts, with availability."""
    entries = [MapEntry(n, "synthetic", "embedded", d, True) for n, d in _SYNTHETIC.items()]
    shared = shared_dir()
    for name, filename in SHARED_EXTRACTS.items():
        path = shared / "maps" / filename if shared else None
        entries.append(
            MapEntry(
                name,
                "shared",
                str(path) if path else "shared folder not found (set TWIN_SHARED_DIR)",
                f"OpenStreetMap extract {filename}",
                path is not None and path.is_file(),
            )
        )
    for name, entry in _user_registry().items():
        path = Path(entry["path"])
        entries.append(MapEntry(name, "registry", str(path), entry["description"], path.is_file()))
    for name, entry in _fetched_index().items():
        path = cache_dir() / "fetched" / entry["file"]
        entries.append(MapEntry(name, "fetched", str(path), entry["query"], path.is_file()))
    return entries


def load_network(ref: str, *, network_type: str = "drive", use_cache: bool = True) -> RoadNetwork:
    """Load a road network by name or path (see the module docstring for the order).

    Parameters
    ----------
    ref : str
        Map name (``laredo``, ``austin``, ...) or path to an OSM/GraphML file.
    network_type : str, optional
        OSMnx network type for OSM extracts (default ``"drive"``).
    use_cache : bool, optional
        Read and write the cache of built graphs: GraphML for OSM files, pickles
        for the synthetic maps (default True).
    """
    if ref == "laredo":
        return RoadNetwork(*_synthetic_cached("laredo", laredo_border_city, use_cache))
    if ref == "grid":
        return RoadNetwork(*_synthetic_cached("grid", grid_city, use_cache))
    grid = _GRID.match(ref)
    if grid:
        rows, cols = int(grid.group(1)), int(grid.group(2))
        return RoadNetwork(
            *_synthetic_cached(ref, lambda: grid_city(rows=rows, cols=cols), use_cache)
        )
    registered = _registered_path(ref)
    path = registered
    if path is None:
        path = Path(ref).expanduser()
        if not path.exists():
            names = ", ".join(e.name for e in list_maps())
            raise MapError(
                f"Map {ref!r} is neither a known name ({names}) nor an existing file; "
                "run `twin maps list` or give a path to an .osm/.osm.bz2/.osm.pbf/.graphml file."
            )
    elif not path.is_file():
        hint = (
            "put the shared data folder beside the repository or set TWIN_SHARED_DIR"
            if ref in SHARED_EXTRACTS
            else "fetch it again or fix the registry entry"
        )
        raise MapError(f"Map {ref!r} should be at {path} but that file is missing; {hint}.")
    if path.name.endswith(".graphml"):
        return RoadNetwork(*osm.load_graphml(path))
    name = ref if registered is not None else None
    return _load_osm_cached(path, network_type=network_type, name=name, use_cache=use_cache)


@cache
def _generator_digest() -> str:
    """Digest of the code that builds synthetic maps: every module of :mod:`twin.maps`
    and the networkx version (pickled graphs are networkx objects)."""
    h = hashlib.sha256(f"networkx {nx.__version__} v{BUILD_VERSION}".encode())
    for module in sorted(Path(__file__).parent.glob("*.py")):
        h.update(module.name.encode())
        h.update(module.read_bytes())
    return h.hexdigest()[:16]


def _synthetic_cached(
    name: str, build: Callable[[], tuple[nx.MultiDiGraph, MapMeta]], use_cache: bool
) -> tuple[nx.MultiDiGraph, MapMeta]:
    """A synthetic map from the cache, or built and cached (see the module docstring).

    The graph read back is the one that was built, node and edge order included, so
    runs are the same with and without the cache. An unreadable cache file is built
    over, never an error.
    """
    if not use_cache:
        return build()
    path = cache_dir() / "synthetic" / f"{name}-{_generator_digest()}.pickle"
    if path.is_file():
        try:
            graph, meta = pickle.loads(path.read_bytes())
        except Exception:  # a truncated or foreign file: rebuild it
            pass
        else:
            if isinstance(graph, nx.MultiDiGraph) and isinstance(meta, MapMeta):
                return graph, meta
    graph, meta = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(pickle.dumps((graph, meta), protocol=pickle.HIGHEST_PROTOCOL))
        tmp.replace(path)  # atomic: parallel runs never read a half-written file
    except OSError:  # a read-only cache directory only costs the next run the build
        pass
    return graph, meta


def _registered_path(ref: str) -> Path | None:
    if ref in SHARED_EXTRACTS:
        shared = shared_dir()
        if shared is None:
            raise MapError(
                f"Map {ref!r} is a real OpenStreetMap extract from the shared data folder, "
                "which was not found; put the shared folder beside the repository or set "
                "TWIN_SHARED_DIR."
            )
        return shared / "maps" / SHARED_EXTRACTS[ref]
    user = _user_registry()
    if ref in user:
        return Path(user[ref]["path"])
    fetched = _fetched_index()
    if ref in fetched:
        return cache_dir() / "fetched" / fetched[ref]["file"]
    return None


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def _load_osm_cached(
    path: Path, *, network_type: str, name: str | None, use_cache: bool
) -> RoadNetwork:
    if not use_cache:
        return RoadNetwork(*osm.read_osm_file(path, network_type=network_type, name=name))
    key = f"{_file_digest(path)}-{network_type}-v{BUILD_VERSION}"
    cached = cache_dir() / "osm" / f"{path.name.split('.')[0]}-{key}.graphml"
    if cached.is_file():
        graph, meta = osm.load_graphml(cached)
        if name and meta.name != name:
            meta = replace(meta, name=name)
        return RoadNetwork(graph, meta)
    graph, meta = osm.read_osm_file(path, network_type=network_type, name=name)
    osm.save_graphml(graph, meta, cached)
    return RoadNetwork(graph, meta)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "map"


def fetch_map(
    *,
    place: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    polygon_wkt: str | None = None,
    name: str | None = None,
    network_type: str = "drive",
    refresh: bool = False,
) -> tuple[str, RoadNetwork, bool]:
    """Fetch a map online once and register it under ``name`` for offline use.

    Returns
    -------
    name, network, from_cache
        The registered name, the network, and whether it came from the cache
        (no network traffic) rather than a fresh download.
    """
    query = (
        f"place={place}"
        if place is not None
        else f"bbox={bbox}"
        if bbox
        else f"polygon={polygon_wkt}"
    )
    name = name or _slug(place if place is not None else query)
    if name in _SYNTHETIC or name in SHARED_EXTRACTS or _GRID.match(name):
        raise MapError(f"Name {name!r} is reserved for a built-in map; choose another --name.")
    folder = cache_dir() / "fetched"
    index = _fetched_index()
    entry = index.get(name)
    if entry and not refresh and (folder / entry["file"]).is_file():
        if entry["query"] != f"{query} [{network_type}]":
            raise MapError(
                f"Map name {name!r} is already used for {entry['query']}; choose another "
                "--name or pass --refresh to replace it."
            )
        return name, RoadNetwork(*osm.load_graphml(folder / entry["file"])), True
    graph = osm.fetch_graph(
        place=place, bbox=bbox, polygon_wkt=polygon_wkt, network_type=network_type
    )
    meta = MapMeta(
        name=name,
        source=f"overpass:{query}",
        synthetic=False,
        network_type=network_type,
        description=f"Fetched from OpenStreetMap ({query}) on {time.strftime('%Y-%m-%d')}",
    )
    filename = f"{name}-{network_type}.graphml"
    osm.save_graphml(graph, meta, folder / filename)
    index[name] = {"file": filename, "query": f"{query} [{network_type}]"}
    tmp = folder / "index.json.tmp"
    tmp.write_text(json.dumps(index, indent=2, sort_keys=True))
    tmp.replace(folder / "index.json")
    return name, RoadNetwork(graph, meta), False
