"""Sweeps: the design, the atomic Parquet store, resume after SIGKILL, bad files, Dask."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from twin.cli import app
from twin.errors import ExperimentError
from twin.experiment import Experiment, execute, load_experiment, load_store, sweep
from twin.experiment.store import write_row
from twin.metrics import KPI_NAMES

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _scenario_with_variant(folder: Path) -> Path:
    """small_grid with one variant (two vans), written beside the experiment file."""
    data = yaml.safe_load((ROOT / "scenarios" / "small_grid.yaml").read_text())
    data["variants"] = {"two_vans": {"fleet": [{"type": "van", "count": 2, "hub": "depot"}]}}
    path = folder / "grid.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _experiment(folder: Path, **changes: Any) -> Path:
    _scenario_with_variant(folder)
    data: dict[str, Any] = {
        "name": "tiny",
        "scenario": "grid.yaml",  # relative to the experiment file's folder
        "variants": ["base", "two_vans"],
        "policies": ["static"],
        "factors": {"demand.orders_per_day": [60, 120]},
        "replications": 2,
        "days": 1,
        "store": str(folder / "store"),
    }
    data.update(changes)
    data = {k: v for k, v in data.items() if v is not None}
    path = folder / "experiment.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Experiment, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("sweep")
    experiment = load_experiment(_experiment(folder))
    return experiment, sweep(experiment, workers=2)


def _ids(experiment: Experiment) -> set[str]:
    return {s.run_id for s in experiment.design()}


# -- design and run ids ------------------------------------------------------------------------
def test_design_is_the_full_product(swept: tuple[Experiment, dict[str, Any]]):
    experiment, _ = swept
    design = experiment.design()
    cells = {
        (s.columns["variant"], s.columns["factor.demand.orders_per_day"], s.replication)
        for s in design
    }
    assert len(design) == 2 * 2 * 1 * 2
    assert len(cells) == len(design)
    assert len(_ids(experiment)) == len(design)


def test_run_ids_are_stable_and_follow_the_inputs(tmp_path: Path):
    first = _ids(load_experiment(_experiment(tmp_path)))
    again = _ids(load_experiment(_experiment(tmp_path)))
    more_days = _ids(load_experiment(_experiment(tmp_path, days=2)))
    other_factor = _ids(
        load_experiment(_experiment(tmp_path, factors={"demand.orders_per_day": [60, 90]}))
    )
    assert first == again
    assert not first & more_days
    assert len(first & other_factor) == 4  # the orders_per_day=60 half is unchanged


def test_store_holds_exactly_the_design(swept: tuple[Experiment, dict[str, Any]]):
    experiment, result = swept
    frame = load_store(result["store"])
    assert set(frame["run_id"]) == _ids(experiment)
    assert frame["run_id"].is_unique
    assert result["counts"] == {
        "total": 8,
        "done_before": 0,
        "run_now": 8,
        "in_store": 8,
        "other_runs_in_store": 0,
    }
    for column in (*KPI_NAMES, "event_log_digest", "demand_digest", "wall_s", "hostname", "pid"):
        assert column in frame.columns, column
    assert set(frame["factor.demand.orders_per_day"]) == {60, 120}
    assert set(frame["variant"]) == {"base", "two_vans"}
    assert (Path(result["store"]) / "experiment.yaml").is_file()


def test_the_store_reads_whole_with_one_pandas_call(swept: tuple[Experiment, dict[str, Any]]):
    # The documented one-liner (twin/experiment/store.py, experiments/README.md): the runs are
    # one Hive-partitioned Parquet dataset, with one schema, the variant a column.
    _, result = swept
    dataset = pd.read_parquet(Path(result["store"]) / "runs")
    dataset["variant"] = dataset["variant"].astype(str)
    frame = load_store(result["store"])
    assert len(dataset) == len(frame) == 8
    assert set(dataset.columns) == set(frame.columns)
    dataset = dataset.sort_values("run_id", ignore_index=True)[list(frame.columns)]
    pd.testing.assert_frame_equal(dataset, frame, check_dtype=False)
    assert dataset["factor.demand.orders_per_day"].dtype == "int64"
    assert dataset["share_drone"].isna().all()  # a mode the fleet has not: NaN, same column


def test_factors_reach_the_simulation(swept: tuple[Experiment, dict[str, Any]]):
    _, result = swept
    frame = load_store(result["store"])
    released = frame.groupby("factor.demand.orders_per_day")["orders_released"].mean()
    assert released[60] < released[120]
    base = frame[frame["variant"] == "base"].set_index(
        ["factor.demand.orders_per_day", "replication"]
    )
    two = frame[frame["variant"] == "two_vans"].set_index(
        ["factor.demand.orders_per_day", "replication"]
    )
    # Same demand (common random numbers), fewer vans: never more deliveries.
    assert (two["demand_digest"] == base["demand_digest"]).all()
    assert (two["delivered"] <= base["delivered"]).all()


def test_summary_has_one_row_per_cell_and_policy(swept: tuple[Experiment, dict[str, Any]]):
    _, result = swept
    rows = result["summary"]
    assert [(r["variant"], r["factors"]["demand.orders_per_day"]) for r in rows] == [
        ("base", 60),
        ("base", 120),
        ("two_vans", 60),
        ("two_vans", 120),
    ]
    assert all(r["runs"] == 2 for r in rows)
    assert all(len(r["kpis"]["on_time_rate"]["ci"]) == 2 for r in rows)


def test_resume_runs_nothing_more(swept: tuple[Experiment, dict[str, Any]]):
    experiment, result = swept
    store = Path(result["store"])
    before = {p.name: p.stat().st_mtime_ns for p in store.glob("*.parquet")}
    again = sweep(experiment, resume=True)
    assert again["counts"]["run_now"] == 0
    assert again["counts"]["done_before"] == 8
    assert {p.name: p.stat().st_mtime_ns for p in store.glob("*.parquet")} == before
    assert again["summary"] == result["summary"]


def test_every_run_records_the_code_that_made_it(swept: tuple[Experiment, dict[str, Any]]):
    from twin.provenance import code_digest

    _, result = swept
    assert set(load_store(result["store"])["code_digest"]) == {code_digest()}


def test_resume_refuses_a_store_of_other_code(
    swept: tuple[Experiment, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
):
    experiment, result = swept
    # ``twin.experiment.sweep`` names the exported function too: patch the module.
    module = sys.modules["twin.experiment.sweep"]
    monkeypatch.setattr(module, "code_digest", lambda: "0123456789abcdef")
    with pytest.raises(ExperimentError, match="holds runs of other twin code") as caught:
        sweep(experiment, resume=True)
    assert "8 by " in str(caught.value)
    assert "choose another --store" in str(caught.value)
    assert len(load_store(result["store"])) == 8  # nothing written, nothing lost


def test_code_digest_follows_the_source_and_the_libraries(tmp_path: Path):
    from twin.provenance import source_digest

    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("x = 1\n")
    first = source_digest(tmp_path, {"ortools": "9.12"})
    assert source_digest(tmp_path, {"ortools": "9.12"}) == first
    assert source_digest(tmp_path, {"ortools": "9.15"}) != first
    (tmp_path / "pkg" / "a.py").write_text("x = 2\n")
    assert source_digest(tmp_path, {"ortools": "9.12"}) != first


def test_a_non_empty_store_needs_resume(swept: tuple[Experiment, dict[str, Any]]):
    experiment, _ = swept
    with pytest.raises(ExperimentError, match="--resume"):
        sweep(experiment)


# -- killed and resumed ------------------------------------------------------------------------
def _finished(store: Path) -> list[Path]:
    """Run files in the store (not the hidden temporary files being written)."""
    return [p for p in store.rglob("*.parquet") if not p.name.startswith(".")]


def test_sweep_killed_with_sigkill_resumes_to_every_run_exactly_once(tmp_path: Path):
    path = _experiment(
        tmp_path,
        variants=["base"],
        factors=None,
        policies=["static", {"name": "static", "params": {"planned_overtime_h": 0.0}}],
        replications=4,
    )
    experiment = load_experiment(path)
    store = Path(tmp_path / "store")
    process = subprocess.Popen(
        [sys.executable, "-m", "twin.cli", "sweep", str(path), "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    try:
        while not _finished(store) and time.monotonic() < deadline:
            assert process.poll() is None, "the sweep ended before it could be killed"
            time.sleep(0.01)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    done_at_kill = len(_finished(store))
    assert 1 <= done_at_kill < len(experiment.design())
    partition = store / "runs" / "variant=base"
    (partition / ".tmp-half-written.parquet").write_bytes(b"PAR1 not a whole file")

    result = runner.invoke(app, ["sweep", str(path), "--resume", "--json"])

    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout)["counts"]
    assert counts["done_before"] == done_at_kill
    assert counts["run_now"] == len(experiment.design()) - done_at_kill
    frame = load_store(store)
    assert (frame["run_id"].value_counts() == 1).all()
    assert set(frame["run_id"]) == _ids(experiment)
    assert not list(store.rglob(".tmp-*"))


def test_load_store_ignores_files_being_written(tmp_path: Path):
    (tmp_path / ".tmp-x-1234.parquet").write_bytes(b"partial")
    pd.DataFrame([{"run_id": "b"}]).to_parquet(tmp_path / "b.parquet")
    pd.DataFrame([{"run_id": "a"}]).to_parquet(tmp_path / "a.parquet")
    assert load_store(tmp_path)["run_id"].tolist() == ["a", "b"]


def test_load_store_reads_flat_stores_and_the_variant_from_the_path(tmp_path: Path):
    # A store from before the dataset layout (flat files with a variant column) and
    # one run in a partition, its variant percent-encoded in the folder name.
    pd.DataFrame([{"run_id": "a", "variant": "old"}]).to_parquet(tmp_path / "a.parquet")
    write_row(tmp_path, "b", {"run_id": "b", "variant": "rainy day/2"})
    assert (tmp_path / "runs" / "variant=rainy%20day%2F2" / "b.parquet").is_file()
    frame = load_store(tmp_path)
    assert frame[["run_id", "variant"]].values.tolist() == [["a", "old"], ["b", "rainy day/2"]]
    dataset = pd.read_parquet(tmp_path / "runs")
    assert dataset["variant"].astype(str).tolist() == ["rainy day/2"]


# -- bad experiment files ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"replication": 2}, "replication: unknown key; did you mean 'replications'?"),
        ({"factors": {"fleet.0.cout": [1]}}, "fleet.0.cout: unknown key; did you mean 'count'?"),
        ({"factors": {"flet.0.count": [1]}}, "has no 'flet'; did you mean 'fleet'?"),
        ({"factors": {"fleet.3.count": [1]}}, "use an index from 0 to 0"),
        ({"factors": {"fleet.0.count": [-1]}}, "fix the factor path or value"),
        ({"scenario": "missing.yaml"}, "'missing.yaml' is neither beside the experiment file"),
        ({"variants": ["rainy"]}, "'rainy' not in grid.yaml"),
        ({"policies": ["nope"]}, "policies.0: policy.name 'nope' is unknown"),
        ({"policies": [{"name": "static", "params": {"speed": 2}}]}, "bad parameters"),
        ({"replications": 0}, "replications: Input should be greater than or equal to 1"),
        ({"policies": ["static", {"name": "static", "label": "again"}]}, "appears more than once"),
    ],
)
def test_bad_experiment_files_exit_2_with_one_line(
    tmp_path: Path, changes: dict[str, Any], message: str
):
    path = _experiment(tmp_path, **changes)
    result = runner.invoke(app, ["sweep", str(path)])
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    assert not (tmp_path / "store").exists()


def test_missing_experiment_file_is_a_user_error(tmp_path: Path):
    result = runner.invoke(app, ["sweep", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


# -- backends ----------------------------------------------------------------------------------
def test_pool_workers_keep_numeric_libraries_to_one_thread():
    names = ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"]
    seen = sorted(execute(names, os.getenv, workers=2), key=str)
    # A value the user set wins; otherwise each worker gets one thread per library.
    assert seen == sorted((os.environ.get(n, "1") for n in names), key=str)


# -- Dask --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dask_scheduler() -> Iterator[str]:
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def test_dask_store_equals_the_local_store(
    swept: tuple[Experiment, dict[str, Any]], dask_scheduler: str, tmp_path: Path
):
    experiment, result = swept
    on_dask = sweep(experiment, scheduler=dask_scheduler, store=tmp_path / "dask")
    local = load_store(result["store"]).set_index("run_id")
    remote = load_store(on_dask["store"]).set_index("run_id")
    same = [*KPI_NAMES, "event_log_digest", "demand_digest", "variant", "replication"]
    pd.testing.assert_frame_equal(remote[same], local[same])
    assert on_dask["summary"] == result["summary"]
    assert (remote["pid"] != os.getpid()).all()  # the runs happened on the Dask workers
