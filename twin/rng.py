"""One seed in, named random streams out.

Every source of randomness draws from its own ``numpy.random.Generator``, derived
from the run's seed and the stream's *name* (not from the order streams are
created), with ``SeedSequence`` spawn keys. So:

* the same seed, scenario and code give the same draws;
* changing the dispatch policy (which draws from ``"policy"``) leaves the
  ``"demand"`` and ``"presence"`` streams untouched: common random numbers;
* adding a new stream later changes no existing one;
* ``for_day(name, day)`` gives each day its own stream, so how much day 1 drew
  does not shift day 2.

Never seed globally; build one :class:`RandomStreams` at the entry point and pass it down.
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["RandomStreams"]


def _name_key(name: str) -> int:
    """A stable 32-bit integer for a stream name (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")


class RandomStreams:
    """Named, independent generators for one run.

    Parameters
    ----------
    seed : int
        The run's seed (recorded with every result).
    replication : int, optional
        Replication index; replications of one seed are independent (default 0).
    """

    def __init__(self, seed: int, *, replication: int = 0) -> None:
        if seed < 0 or replication < 0:
            raise ValueError("seed and replication must be non-negative integers")
        self.seed = int(seed)
        self.replication = int(replication)
        self._cache: dict[tuple[str, int | None], np.random.Generator] = {}

    def _sequence(self, name: str, day: int | None) -> np.random.SeedSequence:
        key = (self.replication, _name_key(name)) + (() if day is None else (day,))
        return np.random.SeedSequence(self.seed, spawn_key=key)

    def __getitem__(self, name: str) -> np.random.Generator:
        """The generator of stream ``name`` (created once, then shared)."""
        return self._get(name, None)

    def for_day(self, name: str, day: int) -> np.random.Generator:
        """The generator of stream ``name`` on simulation day ``day``."""
        if day < 0:
            raise ValueError("day must be non-negative")
        return self._get(name, day)

    def _get(self, name: str, day: int | None) -> np.random.Generator:
        gen = self._cache.get((name, day))
        if gen is None:
            gen = np.random.Generator(np.random.PCG64(self._sequence(name, day)))
            self._cache[(name, day)] = gen
        return gen

    def __repr__(self) -> str:
        return f"RandomStreams(seed={self.seed}, replication={self.replication})"
