"""The animated day: the data read off the run, and the page in headless Chromium."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from twin.maps import load_network
from twin.report.day_page import day_data, write_day_page
from twin.scenario import load_scenario
from twin.sim import Simulation

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def day_run():
    scenario = load_scenario(ROOT / "scenarios" / "small_grid.yaml")
    data = scenario.model_dump()
    data.update(days=1, warmup_days=0)
    scenario = type(scenario).model_validate(data)
    network = load_network(scenario.map.ref)
    return Simulation(scenario, network).run(), network


def test_each_leg_runs_from_the_previous_stop_to_its_arrival(day_run) -> None:
    result, network = day_run
    data = day_data(result, network, day=0)
    ev = result.events
    for vehicle in data["vehicles"]:
        arrivals = ev[(ev["vehicle_id"] == vehicle["id"]) & (ev["kind"] == "arrive")]
        # A stop at the node of the one before is a leg of no road: nothing to draw.
        moved = arrivals["details"].map(lambda d: json.loads(d)["leg_m"] > 0)
        arrivals = arrivals[moved]
        assert len(vehicle["legs"]) == len(arrivals)
        for (t0, t1, pts), node in zip(vehicle["legs"], arrivals["node"], strict=True):
            assert t0 <= t1
            i = int(network.index([int(node)])[0])  # the leg ends where the vehicle arrived
            assert pts[-2:] == pytest.approx([network.lon[i], network.lat[i]], abs=1e-5)
        # Legs follow one another: each starts where the last one ended.
        for (_, _, a), (_, _, b) in zip(vehicle["legs"], vehicle["legs"][1:], strict=False):
            assert b[:2] == pytest.approx(a[-2:], abs=1e-5)
    delivered = int(result.kpis()["delivered"])
    assert sum(1 for s in data["stops"] if s[4] == 1) == delivered
    assert "Synthetic" in data["attribution"]


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium (.ci/run installs Debian's chromium)")
def test_the_slider_replays_the_day(day_run, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    result, network = day_run
    page_path = write_day_page(result, network, tmp_path, day=0)
    data = day_data(result, network, day=0)
    noon = data["day_start_s"] + 12 * 3600
    by_noon = sum(1 for s in data["stops"] if s[4] == 1 and s[3] <= noon)
    requests: list[str] = []
    problems: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1000})
            page.on("request", lambda r: requests.append(r.url))
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(page_path.as_uri())
            page.wait_for_function("window.twinDay && window.twinDay.ready")
            assert page.locator("#tile-delivered").inner_text() == "0"  # the day's start
            slider = page.locator("#clock")
            slider.evaluate(
                "(el, t) => { el.value = String(t); el.dispatchEvent(new Event('input')); }",
                noon,
            )
            assert page.locator("#tile-time").inner_text() == "12:00"
            assert page.locator("#tile-delivered").inner_text() == str(by_noon)
            assert by_noon > 0
            state = page.evaluate("window.twinDay.state")
            assert state["positions"] > 0  # vehicles are drawn somewhere on the map
            # The end of the day: every delivery of the day has happened.
            slider.evaluate("(el) => { el.value = el.max; el.dispatchEvent(new Event('input')); }")
            final = page.locator("#tile-delivered").inner_text()
            assert final == str(int(result.kpis()["delivered"]))
            assert page.locator("#attribution").inner_text() == data["attribution"]
        finally:
            browser.close()
    assert not problems
    assert all(url.startswith("file://") for url in requests)  # offline: nothing fetched
    json.loads(json.dumps(data))  # the data is plain JSON
