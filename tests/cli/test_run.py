"""`twin run`: KPIs with CIs as JSON, files written, report renders in a real browser."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from twin.cli import app
from twin.metrics import KPI_NAMES

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("run")
    result = runner.invoke(
        app,
        [
            "run",
            str(ROOT / "scenarios" / "small_grid.yaml"),
            "--variant",
            "three_vans",
            "--days",
            "2",
            "--replications",
            "3",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout)


def test_a_variant_is_compared_with_the_base_case(run_dir: tuple[Path, dict]):
    _, summary = run_dir
    vs = summary["vs"]
    assert (vs["base"], vs["variant"]) == ("small_grid", "small_grid[three_vans]")
    assert vs["replications"] == 3
    assert vs["same_demand"]  # one van fewer: the same orders in every pair
    cost = vs["kpis"]["cost_per_delivery"]
    assert cost["variant"] == pytest.approx(summary["kpis"]["cost_per_delivery"]["mean"])
    assert cost["change"] == pytest.approx(cost["variant"] - cost["base"])
    assert cost["ci"][0] <= cost["change"] <= cost["ci"][1]
    assert vs["kpis"]["orders_released"]["verdict"] == "n/a"  # neutral: no better or worse
    # The fleet used is in the summary too: never more vans than the variant has.
    for use in summary["fleet_use"]:
        assert use["van"]["fleet"] == 3
        assert use["van"]["used_max"] <= 3


def test_vs_itself_or_an_unknown_variant_is_one_clear_error():
    scenario = str(ROOT / "scenarios" / "small_grid.yaml")
    same = runner.invoke(app, ["run", scenario, "--variant", "three_vans", "--vs", "three_vans"])
    assert same.exit_code == 2
    assert "cannot be compared with itself" in same.stderr
    unknown = runner.invoke(app, ["run", scenario, "--vs", "nine_vans"])
    assert unknown.exit_code == 2
    assert "no variant 'nine_vans'" in unknown.stderr
    assert "Traceback" not in same.output + unknown.output


def test_json_has_every_kpi_with_ci(run_dir: tuple[Path, dict]):
    _, summary = run_dir
    for name in KPI_NAMES:
        stat = summary["kpis"][name]
        assert stat["n"] == 3
        assert stat["ci"][0] is not None, name
        assert stat["ci"][0] <= stat["mean"] <= stat["ci"][1]
    assert summary["kpis"]["first_attempt_success_rate"]["mean"] < 1.0
    for counts in summary["conservation"]:
        assert sum(counts.values()) > 0
        assert set(counts) <= {
            "delivered",
            "returned_to_sender",
            "open_at_horizon",
            "cancelled",
            "unreachable",
            "picked_up",
        }
    assert len(set(summary["event_log_digests"])) == 3  # independent replications


def test_the_run_says_which_code_made_it(run_dir: tuple[Path, dict]):
    from twin.provenance import code_digest

    out, summary = run_dir
    assert summary["code_digest"] == code_digest()
    assert f"twin code\n{code_digest()}" in (out / "report.html").read_text()


def test_files_written(run_dir: tuple[Path, dict]):
    out, _ = run_dir
    for name in (
        "scenario.resolved.yaml",
        "kpis.json",
        "events_r0.parquet",
        "orders_r2.parquet",
        "vehicles_r1.parquet",
        "report.html",
        "figures/routes.png",
        "figures/gantt.png",
    ):
        assert (out / name).is_file(), name
    html = (out / "report.html").read_text()
    assert "http://" not in html.replace("http://www.w3.org", "")  # offline: no CDN
    assert "https://" not in html.replace("https://www.openstreetmap.org", "")


def test_report_renders_in_headless_chromium(run_dir: tuple[Path, dict], tmp_path: Path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no chromium on this machine (.ci/run installs Debian's chromium)")
    out, _ = run_dir
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--user-data-dir={tmp_path}",
    ]
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", (out / "report.html").as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert 'id="kpis"' in dom
    assert "on_time_rate" in dom
    # The what-if's answer, the cost breakdown and the vans used, as a planner reads them.
    assert 'id="versus"' in dom
    assert "Change against the base case" in dom
    assert 'id="costs"' in dom
    assert 'id="fleet-use"' in dom
    assert 'id="vehicles"' in dom
    assert dom.count("<img") >= 4
    shot = tmp_path / "report.png"
    subprocess.run(
        [
            browser,
            *flags,
            f"--screenshot={shot}",
            "--window-size=1200,2000",
            (out / "report.html").as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.stat().st_size > 20_000


def test_bad_scenario_exits_2(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("fleet:\n  - {type: van, count: -1}\n")
    result = runner.invoke(app, ["run", str(bad)])
    assert result.exit_code == 2
    assert "fleet[0].count" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.shared
def test_any_osm_map_runs_without_changes(shared_maps: Path, tmp_path: Path):
    result = runner.invoke(
        app,
        [
            "run",
            str(ROOT / "scenarios" / "small_grid.yaml"),
            "--days",
            "1",
            "--map",
            str(shared_maps / "aguascalientes_mx_drive.osm.bz2"),
            "--out",
            str(tmp_path),
            "--json",
            "--no-report",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["kpis"]["delivered"]["mean"] > 0


def test_each_case_warns_of_the_shortcuts_it_took(run_dir: tuple[Path, dict]):
    # The base case (4 vans) takes none: its one warning is that 3 replications give
    # rough intervals (twin.stats.MIN_REPLICATIONS is 5). With one van fewer the
    # morning plans leave servable orders for later, and the run says so.
    out, summary = run_dir
    assert [w["code"] for w in summary["vs"]["base_warnings"]] == ["few_replications"]
    codes = [w["code"] for w in summary["warnings"]]
    assert codes == ["plan_left_servable_orders", "few_replications"]
    saved = json.loads((out / "kpis.json").read_text())["warnings"]
    assert [w["code"] for w in saved] == codes
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "3 replications: the 95 % intervals rest on so few values" in page
    assert "the morning plans left" in page


def _mixed_fleet_under_zones(tmp_path: Path) -> Path:
    # zones plans vans and cargo bikes only: the robots, drones and autonomous vans of
    # small_modes stay at the hub, and the run must say so.
    text = (ROOT / "scenarios" / "small_modes.yaml").read_text(encoding="utf-8")
    text = text.replace("name: mixed_fleet", "name: zones")
    path = tmp_path / "zones_modes.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("strict", [False, True])
def test_warnings_reach_kpis_json_stderr_the_report_and_strict(tmp_path: Path, strict: bool):
    scenario = _mixed_fleet_under_zones(tmp_path)
    out = tmp_path / "out"
    args = ["run", str(scenario), "--days", "1", "--out", str(out), "--json"]
    result = runner.invoke(app, [*args, "--strict"] if strict else args)
    assert result.exit_code == (3 if strict else 0), result.output
    summary = json.loads((out / "kpis.json").read_text())
    warning = {w["code"]: w for w in summary["warnings"]}["vehicles_not_planned"]
    assert warning["count"] == 5  # 2 robots, 2 drones, 1 autonomous van
    assert warning["replications"] == [0]
    assert "stay at the hub" in result.stderr
    assert ("--strict" in result.stderr) is strict
    page = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="warnings"' in page
    assert "stay at the hub" in page
