"""The records a benchmark file becomes, and the text reading every format shares.

Private to :mod:`twin.bench`: :mod:`twin.bench.instances` (the formats, tables
and discovery) re-exports the public records; :mod:`twin.bench.vrplib` reads the
VRPLIB format with the same helpers, so each error names the file and line alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from twin.errors import TwinError

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
