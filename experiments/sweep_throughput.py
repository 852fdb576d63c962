"""Sweep throughput: the same small sweep on 1 process, 2 local processes and 2 Dask workers.

A benchmark, not a test: it measures and prints, it never fails on a figure.

    .venv/bin/python experiments/sweep_throughput.py [--replications 12] [--days 1] [--json]

Each backend writes its own throw-away store, so every run really executes. The
local pool is timed twice: "cold" includes starting the fork server (it imports
twin once per driver process), "warm" reuses it, which is what every later sweep
of a session sees. The Dask LocalCluster (2 worker processes, 1 thread each, on
127.0.0.1) is started before the clock starts, as a cluster would be, and warmed
with one run per worker, so its figure is the steady state. Every backend's KPIs
are checked against the single-process store (same run ids, same numbers).
``machine_2proc_speedup`` times two processes of pure-Python arithmetic against
one, before and after the sweeps: the most any backend can gain on this machine
at that moment (another busy process, or vCPUs that share a core, lower it); a
figure far below 2 means the machine was shared and the speed-ups are not
meaningful.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from twin.experiment import load_experiment, load_store, sweep
from twin.metrics import KPI_NAMES

ROOT = Path(__file__).resolve().parents[1]


def _experiment(folder: Path, *, replications: int, days: int, name: str) -> Path:
    path = folder / f"{name}.yaml"
    data = {
        "name": name,
        "scenario": str(ROOT / "scenarios" / "small_grid.yaml"),
        "policies": ["static"],
        "replications": replications,
        "days": days,
        "store": str(folder / name),
    }
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _timed(path: Path, **backend: Any) -> tuple[float, Path]:
    experiment = load_experiment(path)
    started = time.perf_counter()
    result = sweep(experiment, **backend)
    return time.perf_counter() - started, Path(result["store"])


def _same_kpis(a: Path, b: Path) -> bool:
    columns = ["run_id", *KPI_NAMES, "event_log_digest"]
    left = load_store(a)[columns].set_index("run_id")
    right = load_store(b)[columns].set_index("run_id")
    return bool(left.equals(right))


def _burn(n: int) -> float:
    """Pure-Python CPU work, timed (the machine's own ceiling for 2 processes)."""
    started = time.perf_counter()
    total = 0
    for i in range(n):
        total += i * i
    return time.perf_counter() - started


def _machine_speedup(n: int = 10_000_000) -> float:
    """Speed-up of 2 processes over 1 on trivially parallel work: what 2 workers can reach."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    one = _burn(n)
    # spawn, not forkserver: the fork server is twin's, started by the first sweep
    # with twin preloaded; starting it here first would leave its children without.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        list(pool.map(_burn, [1, 1]))  # start both processes before the clock
        started = time.perf_counter()
        list(pool.map(_burn, [n, n]))
        two = time.perf_counter() - started
    return round(2 * one / two, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=12)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    from distributed import Client, LocalCluster

    runs = args.replications
    ceiling = _machine_speedup()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)

        def experiment(name: str) -> Path:
            return _experiment(folder, replications=runs, days=args.days, name=name)

        serial_s, serial_store = _timed(experiment("serial"), workers=1)
        cold_s, cold_store = _timed(experiment("pool_cold"), workers=2)
        warm_s, warm_store = _timed(experiment("pool_warm"), workers=2)
        with LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster:
            # Warm-up: each worker imports twin and builds its map once, like a pool.
            _timed(
                _experiment(folder, replications=2, days=args.days, name="dask_warmup"),
                scheduler=cluster.scheduler_address,
            )
            with Client(cluster.scheduler_address, set_as_default=False) as client:
                workers = len(client.scheduler_info()["workers"])
            dask_s, dask_store = _timed(experiment("dask"), scheduler=cluster.scheduler_address)
        ceiling_after = _machine_speedup()
        same_kpis = {
            "pool2_cold": _same_kpis(serial_store, cold_store),
            "pool2_warm": _same_kpis(serial_store, warm_store),
            "dask2": _same_kpis(serial_store, dask_store),
        }

    def per_min(seconds: float) -> float:
        return round(60.0 * runs / seconds, 1)

    result = {
        "sweep": f"small_grid, {args.days} day(s), static, {runs} replications",
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "dask_workers": workers,
        "machine_2proc_speedup": [ceiling, ceiling_after],
        "serial_s": round(serial_s, 2),
        "pool2_cold_s": round(cold_s, 2),
        "pool2_warm_s": round(warm_s, 2),
        "dask2_s": round(dask_s, 2),
        "runs_per_min": {
            "serial": per_min(serial_s),
            "pool2_cold": per_min(cold_s),
            "pool2_warm": per_min(warm_s),
            "dask2": per_min(dask_s),
        },
        "speedup_pool2_cold": round(serial_s / cold_s, 2),
        "speedup_pool2_warm": round(serial_s / warm_s, 2),
        "speedup_dask2": round(serial_s / dask_s, 2),
        "dask_vs_pool2_warm": round(dask_s / warm_s, 3),
        "same_kpis": same_kpis,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for key, value in result.items():
        print(f"{key:>22}: {value}")


if __name__ == "__main__":
    main()
