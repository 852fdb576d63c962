"""The VRPLIB reader: ``KEY : value`` headers and ``*_SECTION`` blocks.

The format and the conventions are described in :mod:`twin.bench.instances`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from twin.bench._records import (
    BenchInstance,
    FloatArray,
    _as_int,
    _frozen,
    _is_number,
    _node_order,
    _numbers,
    _rows,
    _Source,
)

__all__ = ["read_vrplib"]

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


def read_vrplib(src: _Source) -> BenchInstance:
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
