"""Runs and replications: every run builds its policy the one way (twin.dispatch.build_policy)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from twin.cli import app
from twin.experiment import PolicySpec, RunSpec, execute_run, run_replications
from twin.scenario import Scenario

runner = CliRunner()

TINY = {
    "name": "tiny",
    "seed": 3,
    "days": 1,
    "map": {"ref": "grid-5x5"},
    "hubs": [{"id": "depot"}],
    "fleet": [{"type": "van", "count": 2, "hub": "depot"}],
    "demand": {"orders_per_day": 12},
    "policy": {"name": "nearest_vehicle", "time_limit_s": 5},
}


def test_replications_of_a_policy_without_a_time_limit_run() -> None:
    # The bug of issue 18: `twin run` passed time_limit_s to nearest_vehicle, which
    # takes none, and exited 2 on a scenario `twin compare` ran.
    result_set = run_replications(Scenario.model_validate(TINY), replications=2)
    assert len(result_set.results) == 2
    assert all(run["delivered"] > 0 for run in result_set.per_run)


def test_a_replication_equals_the_same_run_of_a_comparison() -> None:
    scenario = Scenario.model_validate(TINY)
    alone = run_replications(scenario, replications=1).results[0]
    spec = RunSpec(
        run_id="x", scenario=scenario, policy=PolicySpec("nearest_vehicle"), replication=0
    )
    assert execute_run(spec).event_log_digest == alone.log.digest()


def test_twin_run_accepts_nearest_vehicle(tmp_path: Path) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    result = runner.invoke(
        app, ["run", str(path), "--out", str(tmp_path / "out"), "--no-report", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["policy"] == "nearest_vehicle"
