"""``twin bench scale``: the scaling rule, the growth exponent, one real size, bad sizes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from twin.bench.scale import PHASES, growth_exponent, run, scaled_changes
from twin.cli import app
from twin.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "scenarios" / "laredo_baseline.yaml"
SMALL_GRID = ROOT / "scenarios" / "small_grid.yaml"


def test_fleet_and_docks_scale_with_demand_rounded_up() -> None:
    data = load_scenario(BASELINE).model_dump(mode="json")
    assert "policy" not in scaled_changes(data, 10_000)
    changes = scaled_changes(data, 10_000, {"iterations": 250})
    # The policy's other parameters are kept; the ones given win.
    assert changes["policy"]["params"] == {**data["policy"]["params"], "iterations": 250}
    assert changes["demand"] == {"orders_per_day": 10_000}
    # 25 vans and 25 docks for 1,500 orders: x 6.67, rounded up.
    assert [entry["count"] for entry in changes["fleet"]] == [167]
    assert [hub["docks"] for hub in changes["hubs"]] == [167]
    assert changes["fleet"][0]["type"] == "van"  # the rest of each entry is kept


def test_growth_exponent_is_the_log_slope_over_sizes_that_finished() -> None:
    rows = [
        {"orders": 1000, "wall_s": 10.0},
        {"orders": 4000, "wall_s": 80.0},  # 4x orders, 8x time: exponent 1.5
        {"orders": 16000, "wall_s": 1.0, "error": "exit -9: killed"},
    ]
    assert growth_exponent(rows) == pytest.approx(math.log(8) / math.log(4), abs=1e-3)
    assert growth_exponent(rows[:1]) is None


def test_one_size_runs_in_a_child_and_reports_every_phase() -> None:
    result = run(scenario_path=str(SMALL_GRID), sizes=[40])
    (row,) = result["sizes"]
    assert "error" not in row, row.get("error")
    assert row["orders"] == 40
    assert set(row["phases"]) == set(PHASES)
    assert row["delivered"] > 0
    assert row["peak_rss_mb"] > 0
    parts = sum(p["wall_s"] for p in row["phases"].values())
    assert parts == pytest.approx(row["wall_s"], abs=0.1 * len(PHASES))


def test_a_size_that_runs_out_of_memory_fails_alone() -> None:
    result = run(scenario_path=str(SMALL_GRID), sizes=[40], memory_gb=0.05)
    (row,) = result["sizes"]
    assert row["error"].startswith("exit ")
    assert result["growth_exponent"] is None


@pytest.mark.parametrize(
    "args",
    [["--sizes", "ten"], ["--sizes", "0,100"], ["--sizes", ","], ["--params", "[1]"]],
)
def test_bad_sizes_and_params_are_refused(args: list[str]) -> None:
    result = CliRunner().invoke(app, ["bench", "scale", *args])
    assert result.exit_code == 2
    text = " ".join((result.stderr + result.stdout).split())
    assert args[0] in text
    assert "Traceback" not in text


def test_json_output_has_the_documented_keys() -> None:
    result = CliRunner().invoke(
        app, ["bench", "scale", "--scenario", str(SMALL_GRID), "--sizes", "30", "--json"]
    )
    assert result.exit_code == 0, result.stdout
    (row,) = json.loads(result.stdout)["sizes"]
    assert {"orders", "wall_s", "peak_rss_mb", "delivered", "phases"} <= set(row)
