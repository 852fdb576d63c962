"""Bad input gets one clear error naming the file or field and the fix, exit 2, no
traceback; a run never leaves an earlier run's files beside its own."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from twin.cli import app

ROOT = Path(__file__).resolve().parents[2]
SMALL_GRID = ROOT / "scenarios" / "small_grid.yaml"
runner = CliRunner()


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    text = result.stderr + result.stdout
    assert "Traceback" not in text
    return result.exit_code, " ".join(text.split())  # rich wraps long lines


def _scenario(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\nmap: {ref: grid-12x12}\n" + text)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "demand: {day_window_h: [18, 8]}\n",
            "day_window_h [18.0, 8.0]: the promised day must start before it ends",
        ),
        (
            "demand: {slot_starts_2h: [6, 8]}\n",
            "slot_starts_2h: the slot starting at 6 h starts outside day_window_h [8, 18]",
        ),
        (
            "drivers: {shift_start_h: 8, shift_end_h: 8.1}\n",
            "a shift of 0.1 h (shift_start_h 8 to shift_end_h 8.1) is not a working day",
        ),
        (
            "drivers: {shift_start_h: 0, shift_end_h: 30, max_working_h: 31}\n",
            "a shift of 30 h",
        ),
        (
            "hubs: [{id: depot}]\nfleet: [{type: van, count: 0, hub: depot}]\n",
            "fleet: every count is 0",
        ),
    ],
)
def test_bad_scenario_values_are_refused_with_the_field(
    tmp_path: Path, text: str, expected: str
) -> None:
    code, said = _run("run", str(_scenario(tmp_path, text)), "--out", str(tmp_path / "o"))
    assert code == 2
    assert expected in said
    assert not (tmp_path / "o").exists()


def test_an_empty_scenario_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("# only a comment\n")
    code, said = _run("run", str(path))
    assert code == 2
    assert "is empty (or only comments)" in said


def test_a_scenario_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: café\n".encode("latin-1"))
    code, said = _run("run", str(path))
    assert code == 2
    assert "is not UTF-8 text (byte 9, line 1); save it as UTF-8" in said


def test_zero_days_is_refused() -> None:
    code, said = _run("run", str(SMALL_GRID), "--days", "0")
    assert code == 2
    assert "days: Input should be greater than or equal to 1" in said


def test_an_unknown_time_zone_is_refused(tmp_path: Path) -> None:
    code, said = _run(
        "calibrate", str(tmp_path), "--scenario", str(SMALL_GRID), "--timezone", "Mars/Olympus"
    )
    assert code == 2
    assert "--timezone 'Mars/Olympus' is not a known IANA time zone" in said


def test_a_history_of_headers_only_is_refused(tmp_path: Path) -> None:
    history = tmp_path / "history"
    history.mkdir()
    (history / "orders.csv").write_text("order_id,created_at,lat,lon,window_start,window_end\n")
    (history / "stops.csv").write_text(
        "vehicle_id,order_id,attempt,arrived_at,departed_at,outcome\n"
    )
    out = tmp_path / "calibrated"
    code, said = _run("calibrate", str(history), "--scenario", str(SMALL_GRID), "--out", str(out))
    assert code == 2
    assert "orders: the table has a header but no rows" in said
    assert not out.exists()


def test_a_rerun_clears_the_earlier_runs_files_and_keeps_others(tmp_path: Path) -> None:
    out = tmp_path / "out"
    common = ("run", str(SMALL_GRID), "--days", "1", "--no-report", "--out", str(out))
    code, _ = _run(*common, "--replications", "2")
    assert code == 0
    assert (out / "events_r1.parquet").exists()
    (out / "notes.txt").write_text("mine")
    code, said = _run(*common, "--replications", "1")
    assert code == 0
    # events, orders, vehicles and routes of 2 replications, sites.parquet, kpis.json
    # and scenario.resolved.yaml
    assert "cleared 11 file(s) of an earlier run" in said
    assert not (out / "events_r1.parquet").exists()
    assert (out / "events_r0.parquet").exists()
    assert (out / "notes.txt").read_text() == "mine"


def test_another_map_gets_its_own_folder_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _ = _run("run", str(SMALL_GRID), "--days", "1", "--no-report", "--map", "grid-8x8")
    assert code == 0
    folder = tmp_path / "out" / "small_grid-grid-8x8"
    assert (folder / "kpis.json").exists()
    assert not (tmp_path / "out" / "small_grid").exists()
    resolved = (folder / "scenario.resolved.yaml").read_text()
    assert "Run on map 'grid-8x8' instead of 'grid-12x12'" in resolved
