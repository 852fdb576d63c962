"""Routing benchmark instances and their best-known solutions, read as published.

twin's route planner is only credible if it can be measured against the numbers
the vehicle-routing literature reports. This module turns the public benchmark
files kept in ``../shared/benchmarks`` (see the README there) into one plain,
immutable record per instance, :class:`BenchInstance`, and reads the tables of
best-known solutions (:class:`BKS`) that go with them. :func:`discover` walks a
folder and pairs every instance file with its row of the nearest ``bks.csv``, so
a harness can loop over a whole family without knowing its layout. The files
are read where they are; nothing is copied into the repository.

Three formats are understood, recognised from the content of the file (never
from its extension):

``solomon``
    The text format of Solomon's VRPTW set (M. M. Solomon, "Algorithms for the
    vehicle routing and scheduling problems with time window constraints",
    Operations Research 35(2), 1987), also used by the 200- to 1000-customer
    Gehring & Homberger extension: a title line, a ``VEHICLE`` block with fleet
    size and capacity, then a ``CUSTOMER`` table with one row
    ``id x y demand ready due service`` per node, node 0 the depot.
``lilim``
    The pickup-and-delivery text format of Li & Lim (H. Li, A. Lim, "A
    metaheuristic for the pickup and delivery problem with time windows",
    ICTAI 2001): a first line ``K Q speed``, then rows
    ``id x y demand earliest latest service pickup_sibling delivery_sibling``.
    A pickup row has ``pickup_sibling == 0`` and names its delivery; a delivery
    row names its pickup and carries the negated demand.
``vrplib``
    The ``KEY : value`` header plus ``*_SECTION`` blocks of TSPLIB, as extended
    by CVRPLIB / VRPLIB for capacities, time windows and service times (the
    ``.vrp`` files of the Solomon and Gehring & Homberger sets, and the ORTEC
    instances of the EURO Meets NeurIPS 2022 challenge, which are ``.txt``
    files with an explicit asymmetric duration matrix). Node ids in the file
    start at 1.

Whatever the format, node 0 of a :class:`BenchInstance` is the depot and the
arrays are indexed by node. Distances are deliberately *not* computed here: the
literature uses two incompatible conventions (exact Euclidean for the
hierarchical SINTEF results, Euclidean truncated to one decimal for the DIMACS
distance-only results; see the README), so that choice belongs to the caller.
Only a matrix that the file itself spells out is returned.

A malformed file raises :class:`InstanceFormatError` (a :class:`ValueError`)
whose message names the file, the line and what was expected there.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from twin.bench._records import (
    BKS,
    BenchInstance,
    FloatArray,
    InstanceFormatError,
    InstanceRef,
    IntArray,
    _as_int,
    _frozen,
    _is_number,
    _load,
    _node_order,
    _normalise,
    _rows,
    _Source,
    _whole,
)
from twin.bench.vrplib import read_vrplib

__all__ = [
    "BKS",
    "BenchInstance",
    "InstanceFormatError",
    "InstanceRef",
    "discover",
    "read_bks",
    "read_instance",
]

# ---------------------------------------------------------------------------- detection

_HEADER_LINE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_]*)\s*:")


def _detect(lines: list[str]) -> str | None:
    """The format of a file from its first lines, or ``None``: cheap and conservative."""
    content = [line.strip() for line in lines if line.strip()]
    if len(content) < 2:
        return None
    if _HEADER_LINE.match(content[0]):
        keys = {m.group(1).upper() for m in map(_HEADER_LINE.match, content[:40]) if m}
        return "vrplib" if "DIMENSION" in keys else None
    upper = [line.upper() for line in content[:12]]
    if "VEHICLE" in upper[1:4]:
        start = upper.index("VEHICLE")
        if any(line.startswith("CUSTOMER") for line in upper[start + 1 :]):
            return "solomon"
        return None
    first, second = content[0].split(), content[1].split()
    if len(first) == 3 and len(second) == 9 and all(map(_is_number, first + second)):
        return "lilim"
    return None


def _sniff(path: Path, size: int = 4096) -> str | None:
    """The format from the first ``size`` bytes of ``path`` (``None``: not an instance)."""
    with path.open("rb") as handle:
        head = handle.read(size)
    if b"\0" in head:
        return None
    lines = _normalise(head.decode("utf-8", errors="replace")).split("\n")
    if len(head) == size:
        lines = lines[:-1]  # the last line may be cut short
    return _detect(lines)


# ---------------------------------------------------------------------------- readers


def read_instance(path: str | Path) -> BenchInstance:
    """Read a Solomon, Li & Lim or VRPLIB instance file, detecting the format from its content.

    Parameters
    ----------
    path
        The instance file. Its extension is not used to pick the format.

    Returns
    -------
    BenchInstance
        Node 0 is the depot for every format (VRPLIB nodes are re-indexed so).

    Raises
    ------
    InstanceFormatError
        (a ``ValueError``) if the file is not one of the three formats or is
        malformed; the message names the file, the line and what was expected.
    """
    file = Path(path)
    src = _load(file)
    lines = src.text.split("\n")
    fmt = _detect(lines[:60])
    if fmt == "solomon":
        return _read_solomon(src, lines)
    if fmt == "lilim":
        return _read_lilim(src, lines)
    if fmt == "vrplib":
        return read_vrplib(src)
    raise src.error(
        None,
        "not a Solomon (title, VEHICLE, CUSTOMER table), Li & Lim ('K Q speed' then "
        "9-number rows) or VRPLIB ('KEY : value' header with DIMENSION) instance",
    )


def _content_lines(lines: list[str]) -> Iterator[tuple[int, str]]:
    return ((number, line.strip()) for number, line in enumerate(lines, 1) if line.strip())


def _read_solomon(src: _Source, lines: list[str]) -> BenchInstance:
    content = _content_lines(lines)
    last = len(lines)

    def expect(what: str) -> tuple[int, str]:
        item = next(content, None)
        if item is None:
            raise src.error(last, f"expected {what}, got the end of the file")
        return item

    expect("the instance name")
    number, line = expect("'VEHICLE'")
    if line.upper() != "VEHICLE":
        raise src.error(number, f"expected 'VEHICLE', got {line!r}")
    number, line = expect("the header 'NUMBER CAPACITY'")
    if _is_number(line.split()[0]):
        raise src.error(number, f"expected the header 'NUMBER CAPACITY', got {line!r}")
    number, line = expect("2 numbers (vehicle number, capacity)")
    fleet, _ = _rows(src, [line], number, 2, "vehicle number, capacity")
    n_vehicles = _as_int(fleet[0, 0])
    if n_vehicles is None or n_vehicles < 1:
        raise src.error(number, f"expected a whole number of vehicles, got {fleet[0, 0]:g}")
    number, line = expect("'CUSTOMER'")
    if not line.upper().startswith("CUSTOMER"):
        raise src.error(number, f"expected 'CUSTOMER', got {line!r}")
    number, line = expect("the column header 'CUST NO. XCOORD. ...'")
    if _is_number(line.split()[0]):
        raise src.error(number, f"expected the column header 'CUST NO. XCOORD. ...', got {line!r}")
    what = "id x y demand ready due service"
    table, line_numbers = _rows(src, lines[number:], number + 1, 7, what)
    if len(table) < 2:
        raise src.error(last, f"expected a depot row and customer rows ({what})")
    table = table[np.argsort(_node_order(src, table[:, 0], line_numbers, 0, "customer"))]
    return BenchInstance(
        name=src.path.stem,
        path=src.path,
        format="solomon",
        coords=_frozen(table[:, 1:3].copy()),
        demand=_frozen(table[:, 3].copy()),
        ready=_frozen(table[:, 4].copy()),
        due=_frozen(table[:, 5].copy()),
        service=_frozen(table[:, 6].copy()),
        capacity=float(fleet[0, 1]),
        n_vehicles=n_vehicles,
    )


def _read_lilim(src: _Source, lines: list[str]) -> BenchInstance:
    number, first = next(_content_lines(lines))
    head, _ = _rows(src, [first], number, 3, "vehicles capacity speed")
    n_vehicles = _as_int(head[0, 0])
    if n_vehicles is None or n_vehicles < 1:
        raise src.error(number, f"expected a whole number of vehicles, got {head[0, 0]:g}")
    what = "id x y demand earliest latest service pickup_sibling delivery_sibling"
    table, line_numbers = _rows(src, lines[number:], number + 1, 9, what)
    if len(table) < 2:
        raise src.error(len(lines), f"expected a depot row and customer rows ({what})")
    order = np.argsort(_node_order(src, table[:, 0], line_numbers, 0, "node"))
    table, line_numbers = table[order], line_numbers[order]
    pairs = _lilim_pairs(src, table[:, 7:9], line_numbers)
    return BenchInstance(
        name=src.path.stem,
        path=src.path,
        format="lilim",
        coords=_frozen(table[:, 1:3].copy()),
        demand=_frozen(table[:, 3].copy()),
        ready=_frozen(table[:, 4].copy()),
        due=_frozen(table[:, 5].copy()),
        service=_frozen(table[:, 6].copy()),
        capacity=float(head[0, 1]),
        n_vehicles=n_vehicles,
        pairs=pairs,
    )


def _lilim_pairs(
    src: _Source, siblings: FloatArray, line_numbers: IntArray
) -> tuple[tuple[int, int], ...]:
    """(pickup, delivery) pairs, checking that every pickup and delivery name each other."""
    n = len(siblings)
    as_int = _whole(siblings)
    bad = (as_int != siblings).any(axis=1) | (as_int < 0).any(axis=1) | (as_int >= n).any(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise src.error(int(line_numbers[row]), f"expected sibling node ids from 0 to {n - 1}")
    pickup_of, delivery_of = as_int[:, 0], as_int[:, 1]
    if pickup_of[0] != 0 or delivery_of[0] != 0:
        raise src.error(int(line_numbers[0]), "expected siblings 0 0 for the depot (node 0)")
    both = (pickup_of != 0) & (delivery_of != 0)
    if both.any():
        row = int(np.flatnonzero(both)[0])
        raise src.error(
            int(line_numbers[row]),
            "expected a pickup (pickup_sibling 0) or a delivery (delivery_sibling 0), "
            "not both siblings set",
        )
    pickups = np.flatnonzero(delivery_of != 0)
    deliveries = np.flatnonzero(pickup_of != 0)
    for nodes, partner, back, role in (
        (pickups, delivery_of, pickup_of, "delivery"),
        (deliveries, pickup_of, delivery_of, "pickup"),
    ):
        broken = nodes[back[partner[nodes]] != nodes]
        if broken.size:
            node = int(broken[0])
            other = int(partner[node])
            raise src.error(
                int(line_numbers[node]),
                f"node {node} names {role} {other}, but node {other} "
                f"(line {int(line_numbers[other])}) does not name node {node} back",
            )
    return tuple((int(p), int(delivery_of[p])) for p in pickups)


# ---------------------------------------------------------------------------- BKS tables

_INSTANCE_SUFFIX = re.compile(r"\.(txt|vrp)$", re.IGNORECASE)


def _bks_number(
    src: _Source, line: int, cells: dict[str, str], key: str, *, whole: bool
) -> float | None:
    value = cells.get(key, "")
    if not value:
        return None
    if not _is_number(value) or (whole and _as_int(float(value)) is None):
        kind = "a whole number" if whole else "a number"
        raise src.error(line, f"expected {kind} in column {key!r}, got {value!r}")
    return float(value)


def read_bks(path: str | Path) -> dict[str, BKS]:
    """Read a ``bks.csv`` table of best-known solutions, keyed by instance name.

    Only the ``instance`` column is required; ``vehicles`` (or ORTEC's
    ``vehicles_used``), ``distance``, ``dimacs_vehicles``, ``dimacs_distance``
    and ``cost`` are read when present, and an empty or absent cell gives
    ``None``. A ``.txt``/``.vrp`` ending of the instance name (ORTEC's table
    writes file names) is dropped so that names match :attr:`BenchInstance.name`.

    Raises
    ------
    InstanceFormatError
        (a ``ValueError``) naming the file and line of a malformed row.
    """
    src = _load(Path(path))
    reader = csv.reader(io.StringIO(src.text))
    header = [cell.strip().lower() for cell in next(reader, [])]
    if "instance" not in header:
        raise src.error(1, f"expected a header with an 'instance' column, got {header}")
    column = {name: j for j, name in reversed(list(enumerate(header)))}
    vehicles_column = "vehicles" if "vehicles" in column else "vehicles_used"
    table: dict[str, BKS] = {}
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            raise src.error(line, f"expected {len(header)} cells, got {len(row)}")
        cells = {name: row[j].strip() for name, j in column.items() if j < len(row)}
        name = _INSTANCE_SUFFIX.sub("", cells.get("instance", ""))
        if not name:
            raise src.error(line, "expected an instance name in column 'instance'")
        if name.lower() in seen:
            raise src.error(line, f"instance {name!r} already listed on line {seen[name.lower()]}")
        seen[name.lower()] = line

        vehicles = _bks_number(src, line, cells, vehicles_column, whole=True)
        dimacs_vehicles = _bks_number(src, line, cells, "dimacs_vehicles", whole=True)
        table[name] = BKS(
            instance=name,
            vehicles=None if vehicles is None else int(vehicles),
            distance=_bks_number(src, line, cells, "distance", whole=False),
            dimacs_vehicles=None if dimacs_vehicles is None else int(dimacs_vehicles),
            dimacs_distance=_bks_number(src, line, cells, "dimacs_distance", whole=False),
            cost=_bks_number(src, line, cells, "cost", whole=False),
        )
    return table


# ---------------------------------------------------------------------------- discovery

_SUFFIXES = {".txt", ".vrp"}
_SKIPPED_DIRS = {"sintef_solutions"}
_NOT_INSTANCES = re.compile(r"^(readme|licen[cs]e|copying|notice|changelog)", re.IGNORECASE)
# When one name exists in several formats (Solomon/G&H ship txt and .vrp), keep the
# original text format: it is the one the hierarchical BKS were computed on.
_PREFERENCE = {"solomon": 0, "lilim": 1, "vrplib": 2}
_PARENTS_ABOVE_FOLDER = 3


def _natural_key(name: str) -> tuple[tuple[int, str], ...]:
    """C101 < C102 < C201 < R101 < RC101; C1_2_1 < C1_2_2 < C1_2_10 (case-insensitive)."""
    return tuple(
        (int(part), "") if part.isdigit() else (-1, part)
        for part in re.split(r"(\d+)", name.lower())
    )


class _BksFinder:
    """The nearest ``bks.csv`` of a directory, each table read once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.above = list(root.parents)[:_PARENTS_ABOVE_FOLDER]
        self.tables: dict[Path, dict[str, BKS]] = {}

    def nearest(self, directory: Path) -> Path | None:
        for folder in self._chain(directory):
            if (folder / "bks.csv").is_file():
                return folder
        return None

    def _chain(self, directory: Path) -> list[Path]:
        rel = directory.relative_to(self.root)
        inside = [self.root / rel, *(self.root / p for p in rel.parents)]
        return [*dict.fromkeys(inside), *self.above]

    def lookup(self, folder: Path, name: str) -> BKS | None:
        if folder not in self.tables:
            self.tables[folder] = {k.lower(): v for k, v in read_bks(folder / "bks.csv").items()}
        return self.tables[folder].get(name.lower())


def _family(directory: Path, root: Path, bks_folder: Path | None) -> str:
    """The family of an instance in ``directory``: the folder of its ``bks.csv`` (else
    the first folder under ``root``, else ``root``), plus a size folder such as ``200``."""
    if bks_folder is not None:
        base = bks_folder
    else:
        rel = directory.relative_to(root).parts
        base = root / rel[0] if rel else root
    below = directory.relative_to(base).parts if directory.is_relative_to(base) else ()
    if base.name.isdigit():
        return f"{base.parent.name}/{base.name}"
    if below and below[0].isdigit():
        return f"{base.name}/{below[0]}"
    return base.name


def discover(folder: str | Path) -> list[InstanceRef]:
    """Find the benchmark instances under ``folder`` and attach their best-known solutions.

    Walks ``folder`` recursively and keeps ``*.txt``/``*.vrp`` files whose first
    lines look like a Solomon, Li & Lim or VRPLIB instance (solution files,
    ``sintef_solutions`` folders, hidden folders, README and licence files are
    skipped). The first lines decide: a file that looks like an instance but is
    malformed further down is listed, and :func:`read_instance` reports it. An
    instance present in several formats is listed once, preferring the Solomon
    text file. Each one gets the row of the nearest ``bks.csv`` in its folder or
    a parent, up to ``folder`` and three levels above it (names compared
    case-insensitively), or ``None``. The family is the folder holding that
    ``bks.csv`` (else the first folder under ``folder``, else ``folder``), with a
    numeric size folder below or above it appended (``gehring_homberger/200``).

    Returns
    -------
    list[InstanceRef]
        Sorted by family, then by name in natural order (C1_2_2 before C1_2_10).
    """
    root = Path(os.path.abspath(folder))
    if not root.is_dir():
        raise NotADirectoryError(f"{folder}: not a folder")
    finder = _BksFinder(root)
    chosen: dict[str, tuple[int, Path]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d for d in dirnames if d.lower() not in _SKIPPED_DIRS and not d.startswith(".")
        )
        for filename in sorted(filenames):
            file = Path(dirpath) / filename
            if file.suffix.lower() not in _SUFFIXES or _NOT_INSTANCES.match(filename):
                continue
            fmt = _sniff(file)
            if fmt is None:
                continue
            key = file.stem.lower()
            if key not in chosen or _PREFERENCE[fmt] < chosen[key][0]:
                chosen[key] = (_PREFERENCE[fmt], file)
    refs = []
    for _, file in chosen.values():
        bks_folder = finder.nearest(file.parent)
        refs.append(
            InstanceRef(
                name=file.stem,
                path=file,
                bks=None if bks_folder is None else finder.lookup(bks_folder, file.stem),
                family=_family(file.parent, root, bks_folder),
            )
        )
    refs.sort(key=lambda ref: (ref.family, _natural_key(ref.name), str(ref.path)))
    return refs
