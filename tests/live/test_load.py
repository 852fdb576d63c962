"""A bounded run of experiments/live_load.py: a real server, concurrent senders, one
SIGKILL and restart midway; nothing lost, nothing stored twice, identical digests.

It measures the rate and prints it; it never fails on time.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def load_experiment() -> ModuleType:
    path = ROOT / "experiments" / "live_load.py"
    spec = importlib.util.spec_from_file_location("live_load", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["live_load"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_kill_and_restart_under_load_loses_nothing(tmp_path: Path) -> None:
    live_load = load_experiment()
    report = live_load.run_load(
        rate=500.0,
        events=2000,
        clients=4,
        max_batch=8,
        kill_at=0.5,
        samples=5,
        seed=3,
        work_dir=tmp_path,
    )
    print(
        f"\n{report.events} events, {report.achieved_rate:.0f} events/s achieved "
        f"(target 500, outage {report.downtime_s:.1f} s), {report.retries} retries, "
        f"{report.server_duplicates} server-side duplicates"
    )
    assert report.errors == []
    assert report.killed_at_acked > 0  # the kill happened mid-run ...
    assert report.killed_at_acked < report.events
    assert report.retries > 0  # ... and senders had to resend
    assert report.stored == 2000
    assert report.lost == 0
    assert report.duplicated == 0
    assert report.unexpected == 0
    assert report.server_digest == report.fold_digest
    assert report.copy_digest == report.fold_digest
    assert report.ok
