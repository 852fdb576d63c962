"""Which code produced a result: a digest of twin's source and of the libraries
whose behaviour sets its numbers.

A stored run is only comparable with a run of the same code: a KPI whose
definition changed, a fixed bug or another solver version moves the figures
without any input changing. Runs record :func:`code_digest`, and a resumed
sweep refuses to mix runs of different code (:mod:`twin.experiment.sweep`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import cache
from importlib import metadata
from pathlib import Path

__all__ = ["code_digest", "source_digest"]

#: Libraries whose versions change simulated or planned figures.
RESULT_LIBRARIES = ("numpy", "pandas", "scipy", "simpy", "networkx", "ortools", "pyvrp")


def source_digest(root: Path, versions: Mapping[str, str]) -> str:
    """Digest of every ``.py`` file under ``root`` (path and bytes, in path order)
    and of ``versions``; 16 hex digits."""
    h = hashlib.sha256()
    for name, version in sorted(versions.items()):
        h.update(f"{name}=={version}\n".encode())
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


@cache
def code_digest() -> str:
    """This process's twin source and result libraries (:data:`RESULT_LIBRARIES`)."""
    versions = {}
    for name in RESULT_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return source_digest(Path(__file__).resolve().parent, versions)
