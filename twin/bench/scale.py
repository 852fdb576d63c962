"""City scale: the whole ``twin run`` pipeline at growing demand, phase by phase.

``twin bench scale`` runs a scenario (default: the Laredo baseline) at several
orders per day, with every fleet entry's count and every hub's docks scaled by
the same factor as the demand, so that each size is the same operation made
bigger. Each size runs in a fresh child process, so that its peak memory is its
own and one size that runs out of memory does not end the others. The child
times six phases, in wall and CPU seconds:

* ``start``: the interpreter and twin's imports;
* ``load``: the scenario, its scaled copy, and the road network;
* ``plan``: the dispatch policy's decisions (route planning), summed over the run;
* ``simulate``: the rest of the simulation;
* ``metrics``: KPIs, tables and output files;
* ``report``: the HTML report with its maps and charts.

CPU seconds include child processes a phase waits for (parallel planners).
The growth exponent between two sizes is ``log(wall2 / wall1) / log(n2 / n1)``:
1 is linear. The benchmark measures and prints; it never gates anything.
"""

from __future__ import annotations

import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from twin.processes import cpu_seconds

__all__ = ["DEFAULT_SIZES", "growth_exponent", "run", "scaled_changes"]

DEFAULT_SIZES = (1500, 10_000, 50_000)
PHASES = ("start", "load", "plan", "simulate", "metrics", "report")


def scaled_changes(
    data: dict[str, Any], orders: int, params: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Scenario changes that run ``data`` (a scenario as a dict) at ``orders`` a day:
    demand, every fleet count and every hub's docks scaled alike (rounded up), and
    ``params`` merged into the policy's parameters (a planning budget to compare)."""
    base = float(data["demand"]["orders_per_day"])
    factor = orders / base
    fleet = [{**entry, "count": math.ceil(entry["count"] * factor)} for entry in data["fleet"]]
    hubs = [{**hub, "docks": math.ceil(hub["docks"] * factor)} for hub in data["hubs"]]
    changes: dict[str, Any] = {"demand": {"orders_per_day": orders}, "fleet": fleet, "hubs": hubs}
    if params:
        changes["policy"] = {"params": {**data["policy"]["params"], **params}}
    return changes


def measure(
    scenario_path: str,
    orders: int,
    out_dir: Path,
    spawned_at: float | None = None,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run one size in this process and time its phases (the child's side).

    ``spawned_at`` (``time.time()`` of the parent when it started this process)
    adds a ``start`` phase: the interpreter and twin's imports, part of any run.
    """
    from twin.experiment.outputs import write_outputs
    from twin.experiment.runs import ReplicationSet, build_scenario_policy
    from twin.maps import load_network
    from twin.report.html import write_report
    from twin.scenario import load_scenario
    from twin.scenario.edit import derive
    from twin.sim import Simulation

    phases: dict[str, dict[str, float]] = {}
    if spawned_at is not None:
        phases["start"] = {
            "wall_s": round(time.time() - spawned_at, 2),
            "cpu_s": round(cpu_seconds(), 2),
        }
    clock = [time.perf_counter(), cpu_seconds()]

    def lap(name: str, *, less: tuple[float, float] = (0.0, 0.0)) -> None:
        wall, cpu = time.perf_counter(), cpu_seconds()
        phases[name] = {
            "wall_s": round(wall - clock[0] - less[0], 2),
            "cpu_s": round(cpu - clock[1] - less[1], 2),
        }
        clock[:] = [wall, cpu]

    started = clock[0]
    base = load_scenario(scenario_path)
    scenario = derive(
        base,
        scaled_changes(base.model_dump(mode="json"), orders, params),
        name=f"{base.name}@{orders}",
    )
    network = load_network(scenario.map.ref, network_type=scenario.map.network_type)
    lap("load")
    result = Simulation(scenario, network, policy=build_scenario_policy(scenario.policy)).run()
    # The simulate lap's clocks saw planning's wall time and its in-process CPU, not
    # the CPU of worker processes: take out only what they saw.
    in_process_cpu = result.planning_cpu_s - result.planning_worker_cpu_s
    lap("simulate", less=(result.planning_s, in_process_cpu))
    phases["plan"] = {
        "wall_s": round(result.planning_s, 2),
        "cpu_s": round(result.planning_cpu_s, 2),
    }
    replications = ReplicationSet(scenario=scenario, results=[result], per_run=[result.kpis()])
    summary = write_outputs(
        replications, out_dir, fmt=scenario.outputs.event_log_format, network=network
    )
    lap("metrics")
    write_report(replications, network, out_dir)
    lap("report")
    kpis = result.kpis()
    total_s = time.perf_counter() - started + phases.get("start", {}).get("wall_s", 0.0)
    return {
        "orders": orders,
        "vehicles": sum(entry.count for entry in scenario.fleet),
        "wall_s": round(total_s, 2),
        "cpu_s": round(sum(p["cpu_s"] for p in phases.values()), 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "delivered": int(kpis["delivered"]),
        "service_level": round(float(kpis["service_level"]), 4),
        # What the plan costs: a smaller planning budget shows here first.
        "cost_per_delivery": round(float(kpis["cost_per_delivery"]), 3),
        "km_per_delivery": round(float(kpis["km_per_delivery"]), 4),
        "vehicle_days_worked": int((result.measured()[1]["status"] == "worked").sum()),
        "warnings": [w["code"] for w in summary.get("warnings", [])],
        "phases": {k: phases[k] for k in PHASES if k in phases},
    }


def _child(
    scenario_path: str, orders: int, memory_gb: float, params: dict[str, Any]
) -> dict[str, Any]:
    """Run :func:`measure` in a fresh process capped at ``memory_gb`` of address space."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "twin.bench.scale", scenario_path, str(orders), out]
        cmd += [repr(time.time()), json.dumps(params)]
        limit = int(memory_gb * 2**30)

        def cap() -> None:  # runs in the child before it starts Python
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

        started = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, preexec_fn=cap, check=False)
        wall = round(time.perf_counter() - started, 2)
    printed = done.stdout.strip().splitlines()
    if done.returncode == 0 and printed:
        row: dict[str, Any] = json.loads(printed[-1])
        return row
    errors = done.stderr.strip().splitlines() or ["(no output)"]
    return {
        "orders": orders,
        "wall_s": wall,
        "error": f"exit {done.returncode}: {errors[-1]}",
        # Enough of the traceback to find where it failed without running it again.
        "stderr_tail": errors[-25:],
    }


def growth_exponent(rows: Sequence[dict[str, Any]]) -> float | None:
    """Wall-time growth exponent between the smallest and largest sizes that finished."""
    ok = sorted((r for r in rows if "error" not in r), key=lambda r: r["orders"])
    if len(ok) < 2 or ok[0]["wall_s"] <= 0:
        return None
    first, last = ok[0], ok[-1]
    return round(
        math.log(last["wall_s"] / first["wall_s"]) / math.log(last["orders"] / first["orders"]), 3
    )


def _default_memory_gb() -> float:
    """Three quarters of this machine's memory: a size that needs more fails alone."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return round(0.75 * total, 1)


def run(
    *,
    scenario_path: str = "scenarios/laredo_baseline.yaml",
    sizes: Sequence[int] = DEFAULT_SIZES,
    memory_gb: float | None = None,
    params: dict[str, Any] | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Measure every size in turn; ``progress`` receives each size's row as it ends.

    ``params`` are merged into the scenario's policy parameters at every size.
    """
    cap = memory_gb or _default_memory_gb()
    rows = []
    for orders in sorted(sizes):
        row = _child(scenario_path, int(orders), cap, params or {})
        rows.append(row)
        if progress is not None:
            progress(row)
    return {
        "scenario": scenario_path,
        "policy_params": params or {},
        "sizes": rows,
        "growth_exponent": growth_exponent(rows),
        "memory_cap_gb": cap,
        "targets": {
            "50,000 orders wall_s": "< 300",
            "50,000 orders peak_rss_mb": "< 6000",
            "growth_exponent": "<= 1.2",
        },
        "machine": f"{platform.machine()} {platform.python_version()}, {os.cpu_count()} CPUs",
    }


if __name__ == "__main__":  # the child of _child: one size, its row as the last line
    path, size, out, spawned, extra = sys.argv[1:6]
    print(json.dumps(measure(path, int(size), Path(out), float(spawned), json.loads(extra))))
