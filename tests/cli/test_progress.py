"""Progress when stderr is not a terminal (logs, CI): plain lines, never silence."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from twin.cli import app
from twin.cli._render import PlainProgress

ROOT = Path(__file__).resolve().parents[2]


def test_plain_progress_speaks_while_idle_and_on_the_last_step(capsys) -> None:
    now = [0.0]
    progress = PlainProgress(every_s=10.0, clock=lambda: now[0])  # no thread: beats by hand
    task = progress.add_task("simulating", total=3)
    progress.beat()  # nothing said yet, but only just started: silent
    now[0] = 10.0
    progress.beat()  # 10 s without a word: a heartbeat
    now[0] = 12.0
    progress.advance(task)  # 2 s after the last line: silent
    now[0] = 25.0
    progress.advance(task)  # 13 s after it: said
    progress.advance(task)  # the last step: always said
    assert capsys.readouterr().err.splitlines() == [
        "simulating: 0/3 done, 10 s",
        "simulating: 2/3 done, 25 s",
        "simulating: 3/3 done, 25 s",
    ]


def test_twin_run_in_a_log_prints_progress_lines(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TWIN_PROGRESS_EVERY_S", "0.05")
    scenario = str(ROOT / "scenarios" / "small_grid.yaml")
    args = ["run", scenario, "--days", "1", "--out", str(tmp_path), "--no-report"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    # The last step is always said (heartbeats before it depend on the machine's speed).
    assert "simulating small_grid: 1/1 done" in result.stderr


@pytest.mark.parametrize("flag", ["--json"])
def test_json_output_has_no_progress_lines(tmp_path: Path, flag: str) -> None:
    scenario = str(ROOT / "scenarios" / "small_grid.yaml")
    args = ["run", scenario, "--days", "1", "--out", str(tmp_path), "--no-report", flag]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0
    assert "done," not in result.stderr
