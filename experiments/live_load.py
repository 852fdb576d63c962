"""Load test of ``twin serve``: sustained ingestion, a SIGKILL midway, nothing lost.

A real uvicorn server (a subprocess on 127.0.0.1, a free port) takes a synthetic
day on the grid city (:func:`twin.live.synthetic_feed.synthetic_feed`: orders,
routes, GPS pings, stop outcomes) from several concurrent clients that send small
batches and single events at a target rate. Midway the server is killed with
SIGKILL and restarted on the same data folder; the clients resend everything not
acknowledged, with the same event ids, as any sender would after a timeout.

Then the store is checked against what was sent:

- zero lost and zero duplicated: the store holds every sent ``event_id`` exactly
  once (``count == distinct ids sent``);
- the restarted server's state digest equals the digest of a ``LiveState``
  folded in-process from the store in ``seq`` order, and equals the digest of a
  fresh server started on a copy of the data folder.

It prints the achieved events/s and exits 1 on any loss, duplicate or mismatch.

    .venv/bin/python experiments/live_load.py                       # 500 ev/s for 60 s
    .venv/bin/python experiments/live_load.py --rate 0 --duration 20  # as fast as it goes
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SCENARIO = ROOT / "scenarios" / "small_grid.yaml"
TOKEN = "load-test-token"


@dataclass
class LoadReport:
    """What one load run did and found."""

    target_rate: float
    events: int
    requests: int = 0
    retries: int = 0
    server_duplicates: int = 0
    elapsed_s: float = 0.0
    achieved_rate: float = 0.0
    downtime_s: float = 0.0
    killed_at_acked: int = 0
    stored: int = 0
    lost: int = 0
    duplicated: int = 0
    unexpected: int = 0
    server_digest: str = ""
    fold_digest: str = ""
    copy_digest: str = ""
    latency_p50_ms: float = 0.0
    latency_p99_ms: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            not self.errors
            and self.lost == 0
            and self.duplicated == 0
            and self.unexpected == 0
            and self.stored == self.events
            and self.server_digest == self.fold_digest == self.copy_digest != ""
        )


# -- the server subprocess ----------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``twin serve`` in a subprocess (this file in ``--serve-child`` mode)."""

    def __init__(
        self, scenario: Path, data_dir: Path, port: int, log_path: Path, samples: int
    ) -> None:
        self.scenario, self.data_dir, self.port = scenario, data_dir, port
        self.log_path, self.samples = log_path, samples
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--serve-child",
            "--scenario",
            str(self.scenario),
            "--data",
            str(self.data_dir),
            "--port",
            str(self.port),
            "--samples",
            str(self.samples),
        ]
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        log.close()

    def wait_ready(self, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self.proc.returncode}; see {self.log_path}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"server not ready after {timeout_s:.0f} s; see {self.log_path}")

    def health(self) -> dict[str, Any]:
        return dict(httpx.get(f"{self.url}/health", timeout=30.0).json())

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no flush beyond what was committed."""
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()


def serve_child(args: argparse.Namespace) -> None:
    from twin.live.api import ServeSettings, serve

    settings = ServeSettings(
        scenario=Path(args.scenario), data_dir=Path(args.data), token=TOKEN, samples=args.samples
    )
    serve(settings, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


# -- the clients --------------------------------------------------------------------------
def plan_requests(
    events: list[dict[str, Any]], *, max_batch: int, single_share: float, seed: int
) -> list[list[dict[str, Any]]]:
    """Cut the feed into requests: single events and batches of 2..max_batch, in order."""
    rng = random.Random(seed)
    out, i = [], 0
    while i < len(events):
        n = 1 if rng.random() < single_share or max_batch < 2 else rng.randint(2, max_batch)
        out.append(events[i : i + n])
        i += n
    return out


async def _client(
    name: int,
    queue: asyncio.Queue[tuple[int, list[dict[str, Any]]]],
    url: str,
    due_s: list[float],
    t0: float,
    acked: dict[str, int],
    report: LoadReport,
    latencies: list[float],
) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10.0) as client:
        while True:
            try:
                k, chunk = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            wait = t0 + due_s[k] - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            body: Any = chunk[0] if len(chunk) == 1 else {"events": chunk}
            attempt = 0
            while True:
                attempt += 1
                report.requests += 1
                started = time.monotonic()
                try:
                    r = await client.post("/events", json=body)
                except httpx.TransportError:
                    r = None
                if r is not None and r.status_code == 200:
                    latencies.append(time.monotonic() - started)
                    got = r.json()
                    if got["accepted"] + got["duplicates"] != len(chunk):
                        report.errors.append(f"request {k}: ack {got} for {len(chunk)} events")
                    report.server_duplicates += got["duplicates"]
                    for e in chunk:
                        acked[e["event_id"]] = acked.get(e["event_id"], 0) + 1
                    break
                if r is not None and r.status_code < 500:
                    report.errors.append(f"request {k}: HTTP {r.status_code} {r.text[:300]}")
                    break
                # The server is down or restarting: resend the same events (same ids).
                report.retries += 1
                await asyncio.sleep(min(0.5, 0.02 * attempt) * (1 + random.random()))


async def _drive(
    server: Server,
    requests: list[list[dict[str, Any]]],
    *,
    rate: float,
    clients: int,
    kill_after_s: float | None,
    report: LoadReport,
) -> dict[str, int]:
    sent = 0
    due_s = []
    for chunk in requests:
        due_s.append(sent / rate if rate > 0 else 0.0)
        sent += len(chunk)
    queue: asyncio.Queue[tuple[int, list[dict[str, Any]]]] = asyncio.Queue()
    for item in enumerate(requests):
        queue.put_nowait(item)
    acked: dict[str, int] = {}
    latencies: list[float] = []
    t0 = time.monotonic()

    async def killer() -> None:
        if kill_after_s is None:
            return
        await asyncio.sleep(kill_after_s)
        report.killed_at_acked = len(acked)
        down = time.monotonic()
        server.kill()
        server.start()
        await asyncio.to_thread(server.wait_ready)
        report.downtime_s = time.monotonic() - down

    tasks = [
        asyncio.create_task(_client(i, queue, server.url, due_s, t0, acked, report, latencies))
        for i in range(clients)
    ]
    kill_task = asyncio.create_task(killer())
    await asyncio.gather(*tasks)
    report.elapsed_s = time.monotonic() - t0
    await kill_task
    latencies.sort()
    if latencies:
        report.latency_p50_ms = 1000 * latencies[len(latencies) // 2]
        report.latency_p99_ms = (
            1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
        )
    return acked


# -- the run ------------------------------------------------------------------------------
def run_load(
    *,
    scenario: Path = DEFAULT_SCENARIO,
    rate: float = 500.0,
    duration_s: float = 60.0,
    events: int | None = None,
    clients: int = 8,
    max_batch: int = 10,
    single_share: float = 0.3,
    kill_at: float | None = 0.5,
    samples: int = 20,
    seed: int = 0,
    work_dir: Path | None = None,
) -> LoadReport:
    """Run the load test and check the store; see the module docstring.

    Parameters
    ----------
    rate : float
        Target events per second (0: send as fast as the server takes them).
    duration_s : float
        Length of the run at ``rate``; ``events`` overrides the count it implies.
    kill_at : float or None
        Fraction of the run after which the server is SIGKILLed and restarted
        (None: no kill).
    samples : int
        Monte Carlo samples of the server's background forecasts.
    work_dir : Path, optional
        Where the data folders and server logs go (default: a temporary folder,
        removed afterwards).
    """
    from twin.live.events import LiveClock
    from twin.live.state import LiveState
    from twin.live.store import EventStore
    from twin.live.synthetic_feed import synthetic_feed
    from twin.maps import load_network
    from twin.scenario import load_scenario

    n_events = events if events is not None else round(rate * duration_s)
    if n_events < 1:
        raise ValueError("the run sends no events: raise --rate/--duration or --events")
    tmp = None
    if work_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="twin-load-")
        work_dir = Path(tmp.name)
    try:
        sc = load_scenario(scenario)
        network = load_network(sc.map.ref, network_type=sc.map.network_type)
        feed = synthetic_feed(network, sc.start_date, n_events=n_events, seed=seed, prefix="ld")
        requests = plan_requests(feed, max_batch=max_batch, single_share=single_share, seed=seed)
        report = LoadReport(target_rate=rate, events=len(feed))
        data = work_dir / "data"
        server = Server(scenario, data, free_port(), work_dir / "server.log", samples)
        server.start()
        try:
            server.wait_ready()
            expected_s = n_events / rate if rate > 0 else None
            kill_after = None
            if kill_at is not None:
                # Unpaced runs have no planned length: kill after a short warm-up.
                kill_after = kill_at * expected_s if expected_s else 2.0
            acked = asyncio.run(
                _drive(
                    server,
                    requests,
                    rate=rate,
                    clients=clients,
                    kill_after_s=kill_after,
                    report=report,
                )
            )
            report.achieved_rate = len(acked) / report.elapsed_s if report.elapsed_s else 0.0
            health = server.health()
            report.server_digest = str(health["state_digest"])
        finally:
            server.stop()
        sent_ids = {e["event_id"] for e in feed}
        missing_acks = sent_ids - set(acked)
        if missing_acks:
            report.errors.append(f"{len(missing_acks)} events never acknowledged")
        # The store against what was sent.
        with EventStore(data) as store:
            ids = [r.event_id for r in store.records()]
            clock = LiveClock(sc.start_date)
            fold = LiveState(sc, network, clock)
            for event in store.events():
                fold.apply(event)
        report.stored = len(ids)
        report.lost = len(sent_ids - set(ids))
        report.duplicated = len(ids) - len(set(ids))
        report.unexpected = len(set(ids) - sent_ids)
        report.fold_digest = fold.digest()
        if int(health["events"]) != len(ids):
            report.errors.append(f"server reported {health['events']} events, store has {len(ids)}")
        # A fresh server on a copy of the data folder rebuilds the same state.
        copy = work_dir / "data-copy"
        shutil.copytree(data, copy)
        fresh = Server(scenario, copy, free_port(), work_dir / "server-copy.log", samples)
        fresh.start()
        try:
            fresh.wait_ready()
            report.copy_digest = str(fresh.health()["state_digest"])
        finally:
            fresh.stop()
        return report
    finally:
        if tmp is not None:
            tmp.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scenario", default=str(DEFAULT_SCENARIO))
    parser.add_argument("--rate", type=float, default=500.0, help="events/s (0: unpaced)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds at --rate")
    parser.add_argument("--events", type=int, default=None, help="event count (overrides)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--max-batch", type=int, default=10)
    parser.add_argument("--single-share", type=float, default=0.3)
    parser.add_argument("--kill-at", type=float, default=0.5, help="fraction of the run")
    parser.add_argument("--no-kill", action="store_true")
    parser.add_argument("--samples", type=int, default=20, help="forecast samples on the server")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, default=None, help="keep data and logs here")
    parser.add_argument("--json", action="store_true")
    # Internal: run the server itself (the load test starts this file as its server).
    parser.add_argument("--serve-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_child:
        serve_child(args)
        return 0
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
    report = run_load(
        scenario=Path(args.scenario),
        rate=args.rate,
        duration_s=args.duration,
        events=args.events,
        clients=args.clients,
        max_batch=args.max_batch,
        single_share=args.single_share,
        kill_at=None if args.no_kill else args.kill_at,
        samples=args.samples,
        seed=args.seed,
        work_dir=args.keep,
    )
    if args.json:
        print(json.dumps({**asdict(report), "ok": report.ok}, indent=2))
    else:
        print(
            f"sent {report.events} events in {report.requests} requests "
            f"({report.retries} retries) over {report.elapsed_s:.1f} s: "
            f"{report.achieved_rate:.0f} events/s achieved (target {report.target_rate:.0f})"
        )
        print(
            f"latency p50 {report.latency_p50_ms:.1f} ms, p99 {report.latency_p99_ms:.1f} ms; "
            f"killed after {report.killed_at_acked} acks, down {report.downtime_s:.1f} s; "
            f"server-side duplicates {report.server_duplicates}"
        )
        print(
            f"store: {report.stored} stored, {report.lost} lost, {report.duplicated} duplicated, "
            f"{report.unexpected} unexpected"
        )
        print(
            f"digests: server {report.server_digest[:12]}, in-process fold "
            f"{report.fold_digest[:12]}, fresh server on a copy {report.copy_digest[:12]}"
        )
        for err in report.errors[:20]:
            print(f"error: {err}")
        print("OK" if report.ok else "FAILED")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
