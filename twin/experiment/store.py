"""The result store: one Parquet file per run, written atomically.

Each run of a sweep has a stable ``run_id`` derived from its resolved inputs
and is stored as ``<run_id>.parquet``, written to a hidden temporary file and
renamed, so a sweep killed at any point and resumed ends with every run
exactly once. :func:`load_store` reads whatever is finished.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from twin.errors import ExperimentError

__all__ = ["load_store", "open_store", "run_files", "write_row"]

_TMP_PREFIX = ".tmp-"


def run_files(store: Path) -> dict[str, Path]:
    """The finished runs' files of ``store`` by run id (temporary files left out)."""
    return {
        p.name.removesuffix(".parquet"): p
        for p in store.glob("*.parquet")
        if not p.name.startswith(".")
    }


def load_store(path: str | Path) -> pd.DataFrame:
    """All finished runs of a sweep store, one row each, sorted by ``run_id``.

    Files still being written (hidden temporary files) are ignored. Each run
    file is read on its own, so runs of an edited experiment (other factor
    columns) still load together; missing columns are NaN.
    """
    store = Path(path)
    if not store.is_dir():
        raise ExperimentError(f"Store {store} does not exist; run `twin sweep` first.")
    frames = [pd.read_parquet(p) for _, p in sorted(run_files(store).items())]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True).sort_values("run_id", ignore_index=True)


def write_row(store: Path, run_id: str, row: Mapping[str, Any]) -> Path:
    """Write one run's row atomically: temporary file, fsync, rename over the final name.

    A reader (or a resumed sweep) sees either the whole file or none of it, even
    if this process is killed mid-write.
    """
    final = store / f"{run_id}.parquet"
    tmp = store / f"{_TMP_PREFIX}{run_id}-{uuid.uuid4().hex[:8]}.parquet"
    with tmp.open("wb") as handle:
        pd.DataFrame([dict(row)]).to_parquet(handle, index=False)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, final)
    directory = os.open(store, os.O_RDONLY)
    try:
        os.fsync(directory)  # make the rename itself durable
    finally:
        os.close(directory)
    return final


def open_store(store: Path, *, resume: bool) -> set[str]:
    """Create or check the store folder; return the run ids already in it.

    A folder that already holds results is only reused with ``resume``, so two
    different sweeps never mix by accident. Temporary files of a sweep killed
    mid-write are removed.
    """
    if store.exists() and not store.is_dir():
        raise ExperimentError(f"--store {store} is a file; give a folder.")
    store.mkdir(parents=True, exist_ok=True)
    visible = [p for p in store.iterdir() if not p.name.startswith(".")]
    if visible and not resume:
        raise ExperimentError(
            f"Store {store} already holds results; pass --resume to finish that sweep, "
            "or choose another --store."
        )
    for stale in store.glob(f"{_TMP_PREFIX}*"):
        stale.unlink()  # half-written files of a killed sweep
    return set(run_files(store))
