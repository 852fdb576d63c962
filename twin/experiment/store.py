"""The result store: one Parquet dataset, one file per run, written atomically.

Each run of a sweep has a stable ``run_id`` derived from its resolved inputs
and is stored as ``runs/variant=<variant>/<run_id>.parquet``, written to a
hidden temporary file and renamed, so a sweep killed at any point and resumed
ends with every run exactly once. ``runs/`` is a Hive-partitioned Parquet
dataset that any Parquet reader opens whole, the variant coming back as a
column::

    pandas.read_parquet("out/sweeps/NAME/runs")

(readers skip the hidden temporary files). Every run of one experiment has the
same columns and types (:func:`twin.experiment.sweep.sweep` types them by the
design), so the dataset has one schema. :func:`load_store` reads the same rows
and also copes with a store that mixes runs of an edited experiment (other
factor columns: missing values are NaN) and with stores written before the
dataset layout (one flat file per run).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pandas as pd
import pyarrow.parquet as pq

from twin.errors import ExperimentError

__all__ = ["RUNS", "load_store", "open_store", "run_files", "write_row"]

_TMP_PREFIX = ".tmp-"
#: The store's Parquet dataset, partitioned by variant.
RUNS = "runs"
_PARTITION = "variant"


def _partition_dir(store: Path, variant: Any) -> Path:
    """``runs/variant=<value>``, the value percent-encoded as Hive readers decode it."""
    return store / RUNS / f"{_PARTITION}={quote(str(variant), safe='')}"


def _variant_of(path: Path) -> str | None:
    for part in reversed(path.parent.parts):
        if part.startswith(f"{_PARTITION}="):
            return unquote(part.split("=", 1)[1])
    return None


def run_files(store: Path) -> dict[str, Path]:
    """The finished runs' files of ``store`` by run id (temporary files left out)."""
    return {
        p.name.removesuffix(".parquet"): p
        for p in store.rglob("*.parquet")
        if not p.name.startswith(".")
    }


def stored_values(store: Path, column: str) -> dict[str, int]:
    """How many finished runs of ``store`` hold each value of ``column`` (``""``
    for runs written before the column existed). Reads only that column."""
    counts: dict[str, int] = {}
    for path in run_files(store).values():
        if column in pq.read_schema(path).names:
            values = [str(v) for v in pd.read_parquet(path, columns=[column])[column]]
        else:
            values = [""]
        for value in values:
            counts[value] = counts.get(value, 0) + 1
    return counts


def load_store(path: str | Path) -> pd.DataFrame:
    """All finished runs of a sweep store, one row each, sorted by ``run_id``.

    Files still being written (hidden temporary files) are ignored. Each run
    file is read on its own, so runs of an edited experiment (other factor
    columns) still load together; missing columns are NaN.
    """
    store = Path(path)
    if not store.is_dir():
        raise ExperimentError(f"Store {store} does not exist; run `twin sweep` first.")
    frames = []
    for _, path in sorted(run_files(store).items()):
        frame = pd.read_parquet(path)
        variant = _variant_of(path)
        if variant is not None and _PARTITION not in frame:
            frame[_PARTITION] = variant  # kept in the path, as the dataset reads it
        if len(frame):
            frames.append(frame)
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True).sort_values("run_id", ignore_index=True)


def write_row(store: Path, run_id: str, row: Mapping[str, Any]) -> Path:
    """Write one run's row atomically: temporary file, fsync, rename over the final name.

    The row goes to its variant's partition, without the ``variant`` column (the
    path holds it). A reader (or a resumed sweep) sees either the whole file or
    none of it, even if this process is killed mid-write.
    """
    values = dict(row)
    folder = _partition_dir(store, values.pop(_PARTITION, ""))
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{run_id}.parquet"
    tmp = folder / f"{_TMP_PREFIX}{run_id}-{uuid.uuid4().hex[:8]}.parquet"
    with tmp.open("wb") as handle:
        pd.DataFrame([values]).to_parquet(handle, index=False)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, final)
    directory = os.open(folder, os.O_RDONLY)
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
    for stale in store.rglob(f"{_TMP_PREFIX}*"):
        stale.unlink()  # half-written files of a killed sweep
    return set(run_files(store))
