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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from twin.errors import TwinError

__all__ = [
    "BKS",
    "BenchInstance",
    "InstanceFormatError",
    "InstanceRef",
    "discover",
    "read_bks",
    "read_instance",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class InstanceFormatError(TwinError, ValueError):
    """A benchmark instance or best-known-solution table does not follow its format."""


# eq=False: the fields are numpy arrays, so a generated __eq__/__hash__ could not work;
# instances compare by identity and the arrays are made read-only instead.
@dataclass(frozen=True, eq=False)
class BenchInstance:
    """One routing benchmark instance, with node 0 the depot whatever the file format.

    ``coords`` is ``(n, 2)``; ``demand``, ``ready``, ``due`` and ``service`` are
    ``(n,)``, all float and read-only. ``due[0]`` is the end of the horizon.
    Li & Lim demands keep the file's sign (positive at pickups, negative at
    deliveries) and ``pairs`` lists ``(pickup, delivery)`` node indices sorted
    by pickup. ``n_vehicles`` is the fleet size the file gives (``n - 1`` for a
    VRPLIB file without ``VEHICLES``). ``matrix`` is the explicit ``(n, n)``
    weight matrix when the file has an ``EDGE_WEIGHT_SECTION``, else ``None``;
    a VRPLIB file without coordinates has NaN ``coords``. ``name`` is the file
    name without its extension (G&H title lines are lower case and Li & Lim
    files have no title, so the file name is the one name all formats share).
    """

    name: str
    path: Path
    format: str
    coords: FloatArray
    demand: FloatArray
    ready: FloatArray
    due: FloatArray
    service: FloatArray
    capacity: float
    n_vehicles: int
    pairs: tuple[tuple[int, int], ...] = ()
    matrix: FloatArray | None = None


@dataclass(frozen=True)
class BKS:
    """One row of a ``bks.csv``; a value the table does not give is ``None``.

    ``vehicles``/``distance`` follow the hierarchical convention (fewest
    vehicles first, then distance); for ORTEC tables ``vehicles`` is the
    ``vehicles_used`` column, the routes of the best-cost solution.
    ``dimacs_vehicles``/``dimacs_distance`` follow the DIMACS distance-only
    convention; ``cost`` is ORTEC's total driving duration.
    """

    instance: str
    vehicles: int | None
    distance: float | None
    dimacs_vehicles: int | None
    dimacs_distance: float | None
    cost: float | None


@dataclass(frozen=True)
class InstanceRef:
    """An instance file found by :func:`discover`, with its best-known solution if any."""

    name: str
    path: Path
    bks: BKS | None
    family: str


# ---------------------------------------------------------------------------- errors, text


class _Source:
    """The normalised text of one file; builds errors that name the file and a line."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text = text

    def error(self, line: int | None, message: str) -> InstanceFormatError:
        where = self.path.name if line is None else f"{self.path.name} line {line}"
        return InstanceFormatError(f"{where}: {message}")


def _normalise(text: str) -> str:
    """Unix newlines and no byte-order mark (some G&H and Li & Lim files use CRLF)."""
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _load(path: Path) -> _Source:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InstanceFormatError(
            f"{path.name}: not a text file (byte {exc.start} is not UTF-8)"
        ) from None
    return _Source(path, _normalise(text))


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _rows(
    src: _Source, lines: list[str], first_line: int, width: int, what: str
) -> tuple[FloatArray, IntArray]:
    """Parse non-blank ``lines`` (the first being file line ``first_line``) as rows of
    ``width`` numbers; returns the ``(m, width)`` values and each row's line number."""
    tokens: list[list[str]] = []
    line_numbers: list[int] = []
    for offset, line in enumerate(lines):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != width:
            raise src.error(
                first_line + offset, f"expected {width} numbers ({what}), got {len(parts)}"
            )
        tokens.append(parts)
        line_numbers.append(first_line + offset)
    try:
        values = np.array(tokens, dtype=np.float64).reshape(len(tokens), width)
    except ValueError:
        for parts, number in zip(tokens, line_numbers, strict=True):
            for token in parts:
                if not _is_number(token):
                    raise src.error(
                        number, f"expected {width} numbers ({what}), got {token!r}"
                    ) from None
        raise  # pragma: no cover - numpy rejected a row that float() accepts
    return values, np.array(line_numbers, dtype=np.int64)


def _numbers(src: _Source, block: str, first_line: int, count: int, what: str) -> FloatArray:
    """Exactly ``count`` numbers, wrapped across lines in any way (a matrix section)."""
    # Performance: one split and one numpy conversion of the whole block (an ORTEC
    # matrix has ~500k numbers); only a failed conversion scans line by line.
    try:
        values = np.array(block.split(), dtype=np.float64)
    except ValueError:
        for offset, line in enumerate(block.split("\n")):
            for token in line.split():
                if not _is_number(token):
                    raise src.error(
                        first_line + offset, f"expected a number ({what}), got {token!r}"
                    ) from None
        raise  # pragma: no cover - numpy rejected a token that float() accepts
    if values.size != count:
        raise src.error(first_line, f"expected {count} numbers ({what}), got {values.size}")
    return values


def _as_int(value: float) -> int | None:
    return int(value) if float(value).is_integer() else None


def _whole(values: FloatArray) -> IntArray:
    """``values`` as integers; NaN, infinities and huge values become -1 (never a node id)."""
    sane = np.isfinite(values) & (np.abs(values) < 2.0**53)
    return np.where(sane, values, -1).astype(np.int64)


def _node_order(
    src: _Source, ids: FloatArray, line_numbers: IntArray, first_id: int, what: str
) -> IntArray:
    """Position of each row's node, checking the ids are ``first_id .. first_id+m-1``."""
    m = ids.size
    order = np.empty(m, dtype=np.int64)
    as_int = _whole(ids)
    bad = (as_int != ids) | (as_int < first_id) | (as_int >= first_id + m)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise src.error(
            int(line_numbers[row]),
            f"expected a node id from {first_id} to {first_id + m - 1} ({what}), got {ids[row]:g}",
        )
    order[:] = as_int - first_id
    if np.unique(order).size != m:
        seen: set[int] = set()
        for row, node in enumerate(order.tolist()):
            if node in seen:
                raise src.error(
                    int(line_numbers[row]), f"node id {ids[row]:g} appears twice ({what})"
                )
            seen.add(node)
    return order


def _frozen(array: FloatArray) -> FloatArray:
    array.flags.writeable = False
    return array


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
        return _read_vrplib(src)
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


# ---------------------------------------------------------------------------- VRPLIB

_KEYWORD_LINE = re.compile(r"^[ \t]*[A-Za-z].*$", re.MULTILINE)
_TRIANGLES = {
    "LOWER_ROW": (np.tril_indices, -1),
    "UPPER_ROW": (np.triu_indices, 1),
    "LOWER_DIAG_ROW": (np.tril_indices, 0),
    "UPPER_DIAG_ROW": (np.triu_indices, 0),
}


@dataclass
class _Vrplib:
    keys: dict[str, tuple[str, int]]
    sections: dict[str, tuple[int, str]]  # name -> (header line, text after the header)


def _scan_vrplib(src: _Source) -> _Vrplib:
    """Split a VRPLIB file into header keys and section blocks (with line numbers)."""
    keys: dict[str, tuple[str, int]] = {}
    sections: dict[str, tuple[int, str]] = {}
    text = src.text
    # Performance: only lines starting with a letter are looked at one by one; data
    # blocks are kept as slices of the text and converted in bulk.
    line, position = 1, 0
    open_section: tuple[str, int, int] | None = None  # name, header line, start offset
    for match in _KEYWORD_LINE.finditer(text):
        line += text.count("\n", position, match.start())
        position = match.start()
        if open_section is not None:
            name, header_line, start = open_section
            sections[name] = (header_line, text[start : match.start()])
            open_section = None
        content = match.group().strip()
        if ":" in content:
            key, _, value = content.partition(":")
            key = key.strip().upper()
            if not re.fullmatch(r"[A-Z][A-Z0-9_]*", key):
                raise src.error(line, f"expected 'KEY : value', got {content!r}")
            if key in keys:
                raise src.error(line, f"{key} given twice (first on line {keys[key][1]})")
            keys[key] = (value.strip(), line)
            continue
        word = content.upper()
        if word == "EOF":
            break
        if word.endswith("_SECTION") and re.fullmatch(r"[A-Z][A-Z0-9_]*", word):
            if word in sections:
                raise src.error(line, f"{word} given twice")
            open_section = (word, line, match.end())
            continue
        raise src.error(line, f"expected 'KEY : value', a *_SECTION header or EOF, got {content!r}")
    else:
        if open_section is not None:
            name, header_line, start = open_section
            sections[name] = (header_line, text[start:])
    return _Vrplib(keys, sections)


def _key_number(src: _Source, doc: _Vrplib, key: str, *, whole: bool) -> float | None:
    if key not in doc.keys:
        return None
    value, line = doc.keys[key]
    kind = "a whole number" if whole else "a number"
    if not _is_number(value) or (whole and _as_int(float(value)) is None):
        raise src.error(line, f"expected {kind} after '{key} :', got {value!r}")
    return float(value)


def _section_table(
    src: _Source, doc: _Vrplib, name: str, width: int, n: int, what: str
) -> FloatArray | None:
    """A per-node section as an ``(n, width - 1)`` array in file node order (id 1 first)."""
    if name not in doc.sections:
        return None
    header_line, block = doc.sections[name]
    table, line_numbers = _rows(src, block.split("\n"), header_line, width, what)
    if len(table) != n:
        raise src.error(header_line, f"expected {n} rows ({what}) after {name}, got {len(table)}")
    out = np.empty((n, width - 1), dtype=np.float64)
    out[_node_order(src, table[:, 0], line_numbers, 1, name)] = table[:, 1:]
    return out


def _depot(src: _Source, doc: _Vrplib, n: int) -> int:
    """The 0-based file position of the single depot (1 when DEPOT_SECTION is absent)."""
    if "DEPOT_SECTION" not in doc.sections:
        return 0
    header_line, block = doc.sections["DEPOT_SECTION"]
    depots: list[int] = []
    for offset, line in enumerate(block.split("\n")):
        for token in line.split():
            number = header_line + offset
            value = float(token) if _is_number(token) else None
            if value is None or _as_int(value) is None:
                raise src.error(number, f"expected a depot node id or -1, got {token!r}")
            if value == -1:
                if len(depots) != 1:
                    raise src.error(
                        number, f"expected exactly one depot before -1, got {len(depots)}"
                    )
                return depots[0] - 1
            if not 1 <= value <= n:
                raise src.error(number, f"expected a depot node id from 1 to {n}, got {token}")
            depots.append(int(value))
    raise src.error(header_line, "expected the DEPOT_SECTION to end with -1")


def _explicit_matrix(src: _Source, doc: _Vrplib, n: int) -> FloatArray:
    fmt, fmt_line = doc.keys.get("EDGE_WEIGHT_FORMAT", ("", doc.keys["EDGE_WEIGHT_TYPE"][1]))
    fmt = fmt.upper()
    if "EDGE_WEIGHT_SECTION" not in doc.sections:
        raise src.error(
            fmt_line, "EDGE_WEIGHT_TYPE is EXPLICIT but there is no EDGE_WEIGHT_SECTION"
        )
    header_line, block = doc.sections["EDGE_WEIGHT_SECTION"]
    if fmt == "FULL_MATRIX":
        return _numbers(src, block, header_line, n * n, f"{n} x {n} FULL_MATRIX").reshape(n, n)
    if fmt in _TRIANGLES:
        indices, k = _TRIANGLES[fmt]
        rows, cols = indices(n, k)
        values = _numbers(src, block, header_line, rows.size, f"{fmt} of {n} nodes")
        matrix = np.zeros((n, n), dtype=np.float64)
        matrix[rows, cols] = values
        matrix[cols, rows] = values
        return matrix
    raise src.error(
        fmt_line,
        f"expected EDGE_WEIGHT_FORMAT FULL_MATRIX, {', '.join(_TRIANGLES)}, got {fmt or 'none'!r}",
    )


def _read_vrplib(src: _Source) -> BenchInstance:
    doc = _scan_vrplib(src)
    dimension = _key_number(src, doc, "DIMENSION", whole=True)
    if dimension is None or dimension < 2:
        raise src.error(None, "expected 'DIMENSION : n' (n >= 2) in the header")
    n = int(dimension)

    coords = _section_table(src, doc, "NODE_COORD_SECTION", 3, n, "id x y")
    weight_type = doc.keys.get("EDGE_WEIGHT_TYPE", ("", 0))[0].upper()
    matrix = _explicit_matrix(src, doc, n) if weight_type == "EXPLICIT" else None
    if coords is None:
        if matrix is None:
            raise src.error(None, "expected a NODE_COORD_SECTION (or an explicit matrix)")
        coords = np.full((n, 2), np.nan)
    demand = _section_table(src, doc, "DEMAND_SECTION", 2, n, "id demand")
    windows = _section_table(src, doc, "TIME_WINDOW_SECTION", 3, n, "id ready due")
    service = _section_table(src, doc, "SERVICE_TIME_SECTION", 2, n, "id service")
    depot = _depot(src, doc, n)
    if service is None:
        # LKH-3 style files give one SERVICE_TIME for every customer; the depot has none.
        scalar = _key_number(src, doc, "SERVICE_TIME", whole=False)
        service = np.full((n, 1), 0.0 if scalar is None else scalar)
        service[depot] = 0.0
    capacity = _key_number(src, doc, "CAPACITY", whole=False)
    vehicles = _key_number(src, doc, "VEHICLES", whole=True)

    # Re-index so that the depot is node 0 and the others keep their file order.
    order = np.concatenate(([depot], np.delete(np.arange(n), depot)))
    if depot != 0 and matrix is not None:
        matrix = matrix[np.ix_(order, order)]

    def column(table: FloatArray | None, j: int, default: float) -> FloatArray:
        return _frozen(np.full(n, default) if table is None else table[order, j].copy())

    return BenchInstance(
        name=src.path.stem,
        path=src.path,
        format="vrplib",
        coords=_frozen(coords[order].copy()),
        demand=column(demand, 0, 0.0),
        ready=column(windows, 0, 0.0),
        due=column(windows, 1, np.inf),
        service=column(service, 0, 0.0),
        capacity=np.inf if capacity is None else capacity,
        n_vehicles=n - 1 if vehicles is None else int(vehicles),
        matrix=None if matrix is None else _frozen(matrix),
    )


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
