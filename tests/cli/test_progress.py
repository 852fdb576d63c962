"""Progress when stderr is not a terminal (logs, CI): plain lines, never silence."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from twin.cli import app
from twin.cli._render import PlainProgress

ROOT = Path(__file__).resolve().parents[2]


def test_plain_progress_speaks_while_idle_and_on_the_last_step(capsys) -> None:
    with PlainProgress(every_s=0.05) as progress:
        task = progress.add_task("simulating", total=2)
        time.sleep(0.2)  # nothing moves: heartbeat lines
        progress.advance(task)
        progress.advance(task)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "simulating: 0/2 done, 0 s"
    assert lines.count("simulating: 0/2 done, 0 s") >= 2  # the heartbeat while idle
    assert lines[-1].startswith("simulating: 2/2 done")


def test_twin_run_in_a_log_prints_progress_lines(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TWIN_PROGRESS_EVERY_S", "0.05")
    scenario = str(ROOT / "scenarios" / "small_grid.yaml")
    args = ["run", scenario, "--days", "1", "--out", str(tmp_path), "--no-report"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "simulating small_grid: 0/1 done" in result.stderr
    assert "simulating small_grid: 1/1 done" in result.stderr


@pytest.mark.parametrize("flag", ["--json"])
def test_json_output_has_no_progress_lines(tmp_path: Path, flag: str) -> None:
    scenario = str(ROOT / "scenarios" / "small_grid.yaml")
    args = ["run", scenario, "--days", "1", "--out", str(tmp_path), "--no-report", flag]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0
    assert "done," not in result.stderr
