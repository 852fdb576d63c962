"""Dijkstra rows that carry a path's time and length at once, and their cache.

Travel-time matrices need, for every fastest path, both its time (for the
planner's schedule) and its length (for the distance cost). One search gives
both when each edge weight packs the two lexicographically:

    round(time / 0.01 s) * 2**27 + round(length / unit)

in float64 (exact for integers below 2**53): path sums carry both totals, and
ties in time are broken by the shorter path. Times are exact to 0.01 s per
edge, lengths to half a length unit per edge.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from twin.errors import MapError

__all__ = ["RowCache", "TimeLengthEncoding"]


class TimeLengthEncoding:
    """Packs edge times and lengths into one float weight, and unpacks path sums.

    Parameters
    ----------
    edge_length_m : numpy.ndarray
        The network's edge lengths: the total, hence any path, must fit in 27 bits
        of the length unit (0.1, 1 or 10 m, the finest that fits). That leaves 26
        bits of centiseconds: paths up to 7.7 days, far beyond any leg.
    """

    def __init__(self, edge_length_m: np.ndarray) -> None:
        total_m = float(edge_length_m.sum())
        unit = next((u for u in (0.1, 1.0, 10.0) if total_m / u < 2**27), None)
        if unit is None:
            raise MapError("Map is too large for twin's travel-time encoding (over 1.3M km).")
        self.unit = unit
        self.shift = float(2**27)
        self._lengths = np.rint(edge_length_m / unit)

    def encode(self, edge_time_s: np.ndarray) -> np.ndarray:
        """Packed weights for these edge times (``inf`` stays ``inf``: a closed edge)."""
        with np.errstate(invalid="ignore"):
            packed: np.ndarray = (
                np.maximum(np.rint(edge_time_s * 100.0), 1.0) * self.shift + self._lengths
            )
        return packed

    def decode(self, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(time_s, length_m)`` of packed path sums; ``inf`` where no path exists."""
        finite = np.isfinite(d)
        packed = np.where(finite, d, 0.0)
        ticks = np.floor(packed / self.shift)
        time_s = np.where(finite, ticks / 100.0, np.inf)
        length_m = np.where(finite, (packed - ticks * self.shift) * self.unit, np.inf)
        return time_s, length_m


class RowCache:
    """LRU of shortest-path rows, bounded by bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._rows: OrderedDict[tuple[object, ...], np.ndarray] = OrderedDict()

    def get(self, key: tuple[object, ...]) -> np.ndarray | None:
        row = self._rows.get(key)
        if row is not None:
            self._rows.move_to_end(key)
        return row

    def put(self, key: tuple[object, ...], row: np.ndarray) -> None:
        size = row.nbytes
        if key in self._rows:
            return
        self._rows[key] = row
        self.bytes += size
        while self.bytes > self.max_bytes and len(self._rows) > 1:
            _, old = self._rows.popitem(last=False)
            self.bytes -= old.nbytes
