"""The dashboard end to end: a real server, a replayed day, headless chromium.

A uvicorn server (a subprocess, as ``twin serve`` runs it) serves the grid city with
reads behind a token; the small grid's recorded day is replayed into it from a
background thread at 1500x (08:00-12:00 in about 10 s); the page opened in
Debian's chromium must draw the map, move the vehicles, update the tiles, find an
order, raise no console error and request nothing beyond 127.0.0.1. Then the
replay resumes from 12:00 (the morning is resent and counted as duplicates) and
the tiles must end on the server's final figures.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

pytest.importorskip("fastapi", reason="the live extra (fastapi, uvicorn) is not installed")
pytest.importorskip("twin.live.api", reason="twin.live.api (the live server) is not available")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

from twin.live.replay import ReplayStats, load_recorded_day, replay  # noqa: E402

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "small_grid.yaml"
TOKEN = "e2e-token"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HAS_FORECASTS = importlib.util.find_spec("twin.live.forecast") is not None

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on this machine (.ci/run installs Debian's chromium)"
)

SERVER = """
import sys
from twin.live.api import ServeSettings, serve
settings = ServeSettings(
    scenario=sys.argv[1], data_dir=sys.argv[2], token=sys.argv[3],
    read_token_required=True, samples=20,
)
serve(settings, host="127.0.0.1", port=int(sys.argv[4]), log_level="warning", access_log=False)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """A real twin server on a free local port; yields its base URL."""
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(SCENARIO), str(tmp_path / "data"), TOKEN, str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the server exited: {(tmp_path / 'server.log').read_text()}")
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the server did not answer /health within 60 s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


class ReplayThread(threading.Thread):
    """``replay`` in the background; keeps its stats or its exception for the test."""

    def __init__(self, events: list[dict], url: str, **kw: Any) -> None:
        super().__init__(daemon=True)
        self.args_ = (events, url, kw)
        self.stats: ReplayStats | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        events, url, kw = self.args_
        try:
            self.stats = replay(events, url=url, token=TOKEN, **kw)
        except BaseException as exc:
            self.error = exc

    def result(self, timeout: float) -> ReplayStats:
        self.join(timeout)
        assert not self.is_alive(), f"the replay did not finish within {timeout} s"
        assert self.error is None, f"the replay failed: {self.error}"
        assert self.stats is not None
        return self.stats


def read(url: str, path: str) -> Any:
    response = httpx.get(url + path, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    response.raise_for_status()
    return response.json()


def positions(page: Any) -> dict[str, tuple[float, float]]:
    drawn = page.evaluate("window.twinDashboard.vehicles")
    return {vid: (v["lat"], v["lon"]) for vid, v in drawn.items()}


def test_dashboard_follows_a_replayed_day(server: str, tmp_path: Path) -> None:
    events = load_recorded_day(SCENARIO)
    requests: list[str] = []
    problems: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.goto(f"{server}/dashboard#token={TOKEN}")

            # The road network is drawn on the canvas: the flag, and pixels that are
            # not the background.
            page.wait_for_function("window.twinDashboard && window.twinDashboard.networkDrawn")
            painted = page.evaluate(
                """() => {
                  const c = document.getElementById('map');
                  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                  let n = 0;
                  for (let i = 0; i < d.length; i += 4) {
                    const off = Math.abs(d[i] - 247) + Math.abs(d[i + 1] - 248)
                      + Math.abs(d[i + 2] - 250);  // the map's background, #f7f8fa
                    if (off > 30) n++;
                  }
                  return n;
                }"""
            )
            assert painted > 2000
            assert page.evaluate("window.twinDashboard.roadsDrawn") > 10
            # The map's own credit: the grid city is generated, not OpenStreetMap data.
            attribution = page.locator("#attribution")
            assert attribution.is_visible()
            assert attribution.inner_text() == "Synthetic map generated by twin — not survey data"
            assert "OpenStreetMap" not in page.locator("body").inner_text()
            # The tiles fill on the first poll, which may come after the map is drawn.
            page.wait_for_function("document.getElementById('kpi-open').innerText.trim() !== '—'")
            assert page.locator("#kpi-open").inner_text() == "0"

            # The morning at 1500x: about 10 s.
            morning = ReplayThread(events, server, speed=1500.0, start="08:00", until="12:00")
            morning.start()
            page.wait_for_function(
                "Object.keys(window.twinDashboard.vehicles).length >= 2", timeout=20_000
            )
            first = positions(page)
            open_seen = {page.locator("#kpi-open").inner_text()}
            moved = False
            deadline = time.monotonic() + 8
            while time.monotonic() < deadline and not moved:
                page.wait_for_timeout(500)
                open_seen.add(page.locator("#kpi-open").inner_text())
                now = positions(page)
                moved = any(now.get(v) not in (None, first[v]) for v in first)
            assert moved, f"no vehicle moved on the map: {first} then {positions(page)}"
            page.wait_for_function(
                "/%$/.test(document.getElementById('kpi-on-time').textContent)", timeout=15_000
            )
            assert re.fullmatch(r"\d+\.\d%", page.locator("#kpi-first-attempt").inner_text())
            clock_text = page.locator("#clock").inner_text()
            assert re.search(r"Mon 2 Mar · (0[89]|1[0-2]):\d\d:\d\d", clock_text), clock_text

            stats = morning.result(timeout=40)
            assert stats.accepted > 0
            open_seen.add(page.locator("#kpi-open").inner_text())
            assert len(open_seen) >= 2, f"open orders never changed: {open_seen}"

            # At noon the day is paused: find the last stop of the longest route.
            vehicles = read(server, "/vehicles")
            longest = max(vehicles, key=lambda v: len(v["route"]))
            assert longest["route"], "no vehicle has stops left at noon"
            target = longest["route"][-1]
            if HAS_FORECASTS:
                seq = read(server, "/health")["events"]
                deadline = time.monotonic() + 30
                while read(server, "/predictions")["as_of_seq"] != seq:
                    assert time.monotonic() < deadline, "no forecast of the noon state in 30 s"
                    time.sleep(0.5)
            page.fill("#search", target[2:])  # a substring of the id
            page.press("#search", "Enter")
            detail = page.locator("#order-detail")
            page.locator("[data-testid=search-result]").first.wait_for()
            page.locator(f"[data-testid=search-result][data-order-id='{target}']").click()
            page.wait_for_function(
                f"document.querySelector('[data-testid=order-id]')?.textContent === '{target}'"
            )
            assert detail.locator("[data-testid=order-status]").inner_text() == "routed"
            assert (
                longest["vehicle_id"] in detail.locator("[data-testid=order-vehicle]").inner_text()
            )
            assert re.fullmatch(
                r"\d\d:\d\d – \d\d:\d\d", detail.locator("[data-testid=order-window]").inner_text()
            )
            eta = detail.locator("[data-testid=order-eta]")
            if HAS_FORECASTS:
                page.wait_for_function(
                    "/\\d\\d:\\d\\d – \\d\\d:\\d\\d – \\d\\d:\\d\\d/.test("
                    "document.querySelector('[data-testid=order-eta]').textContent)",
                    timeout=10_000,
                )
                assert re.search(r"\d+\.\d% \((low|medium|high)\)", detail.inner_text())
            else:
                assert eta.inner_text() == "—"
            page.screenshot(path=str(tmp_path / "dashboard-noon.png"))

            # The afternoon: the morning is resent as duplicates, then paced from noon.
            afternoon = ReplayThread(events, server, speed=3000.0, start="12:00", until="16:30")
            afternoon.start()
            rest = afternoon.result(timeout=40)
            assert rest.duplicates == stats.sent
            final = read(server, "/kpis")
            # Wait for a poll of the final state, then compare every figure it shows.
            page.wait_for_function(
                f"window.twinDashboard.kpis && window.twinDashboard.kpis.now === '{final['now']}'",
                timeout=10_000,
            )
            assert page.locator("#kpi-open").inner_text() == str(final["open_orders"])
            on_time = f"{100 * final['on_time_rate']:.1f}%"
            assert page.locator("#kpi-on-time").inner_text() == on_time
            page.screenshot(path=str(tmp_path / "dashboard-end.png"))
        finally:
            browser.close()

    assert problems == [], f"console errors: {problems}"
    outside = [u for u in requests if urlsplit(u).hostname != "127.0.0.1"]
    assert outside == [], f"requests beyond 127.0.0.1: {outside}"
    assert any(u.endswith("/network") for u in requests)
