"""Route quality against best-known solutions: ``twin bench routing``.

Each instance found under the given folders (Solomon and Li & Lim text, VRPLIB)
becomes a :class:`RoutingProblem` under the objective convention its
``bks.csv`` states, is solved by the chosen backend within the time limit, is
checked by the independent feasibility checker, and is scored against the BKS:

- ``dimacs`` (columns ``dimacs_vehicles,dimacs_distance``): distance only;
  distances and travel times are Euclidean truncated to one decimal. Gap = distance gap.
- ``hierarchical`` (``vehicles,distance`` only): fewest vehicles first, then
  distance, in exact Euclidean arithmetic. Solved with a fixed cost per vehicle
  that outweighs any distance; the gap is the distance gap, and
  ``vehicles_delta`` says how many more vehicles than the BKS were used. A
  distance gap is only comparable at equal vehicle counts, so the summaries'
  ``mean_gap_pct`` counts those rows and ``n_more_vehicles`` the others
  (``mean_gap_all_pct`` averages every feasible row).
- ``duration`` (``cost``, the EURO-NeurIPS static objective): total travel
  duration on the instance's explicit matrix.

Wall-clock limits make the results machine-dependent: this is a benchmark that
prints figures, never a test that gates on them.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import numpy as np

from twin.bench.instances import BenchInstance, InstanceRef, discover, read_instance
from twin.errors import TwinError
from twin.routing import Job, RoutingProblem, VehicleSpec, solve

__all__ = ["DEFAULT_FAMILIES", "default_folders", "problem_for", "run"]

#: ../shared/benchmarks sub-folders benchmarked when no folder is given.
DEFAULT_FAMILIES = ("solomon", "gehring_homberger/200", "li_lim", "euro_neurips_2022")

#: Cost per vehicle in the hierarchical convention: more than any instance's distance.
VEHICLE_COST = 100_000.0


def default_folders() -> list[Path]:
    """The shipped benchmark folders beside the repository, if present."""
    from twin.maps import shared_dir

    shared = shared_dir()
    if shared is None:
        raise TwinError(
            "no benchmark folder given and ../shared/benchmarks is not beside the "
            "repository; pass --instances DIR"
        )
    return [
        shared / "benchmarks" / f for f in DEFAULT_FAMILIES if (shared / "benchmarks" / f).is_dir()
    ]


def convention_of(ref: InstanceRef) -> str | None:
    """The objective convention the instance's BKS row states (None: no BKS)."""
    b = ref.bks
    if b is None:
        return None
    if b.dimacs_distance is not None:
        return "dimacs"
    if b.cost is not None:
        return "duration"
    if b.distance is not None:
        return "hierarchical"
    return None


def problem_for(inst: BenchInstance, convention: str) -> RoutingProblem:
    """The benchmark instance as a RoutingProblem under ``convention``."""
    if inst.matrix is not None:
        dist = np.asarray(inst.matrix, dtype=float)
    else:
        diff = inst.coords[:, None, :] - inst.coords[None, :, :]
        dist = np.sqrt((diff**2).sum(axis=2))
        if convention == "dimacs":
            dist = np.floor(10.0 * dist + 1e-9) / 10.0
    n = len(dist)
    pickup_of = {p: q for p, q in inst.pairs}
    delivery_of = {q: p for p, q in inst.pairs}
    jobs = []
    for i in range(1, n):
        q = float(inst.demand[i])
        demand: tuple[float, ...]
        pickup: tuple[float, ...]
        if i in pickup_of:
            demand, pickup = (0.0,), (q,)
        elif i in delivery_of:
            demand, pickup = (-q,), (0.0,)
        else:
            demand, pickup = (q,), ()
        jobs.append(
            Job(
                id=str(i),
                location=i,
                demand=demand,
                pickup=pickup,
                tw_start_s=float(inst.ready[i]),
                tw_end_s=float(inst.due[i]),
                service_s=float(inst.service[i]),
                drop_penalty=None,
                hard_window=True,
            )
        )
    horizon = float(inst.due[0]) if math.isfinite(inst.due[0]) else 1e9
    start = float(inst.ready[0])
    vehicles = tuple(
        VehicleSpec(
            id=f"v{k}",
            start_location=0,
            end_location=0,
            capacity=(float(inst.capacity),),
            shift_start_s=start,
            shift_end_s=horizon,
            max_working_s=horizon - start,
            fixed_cost=VEHICLE_COST if convention == "hierarchical" else 0.0,
            cost_per_km=1000.0,  # one cost unit per distance unit
        )
        for k in range(inst.n_vehicles)
    )
    return RoutingProblem(
        duration_s=dist,
        distance_m=dist,
        vehicles=vehicles,
        jobs=tuple(jobs),
        pairs=tuple((p - 1, q - 1) for p, q in inst.pairs),
    )


@dataclass(frozen=True)
class _Task:
    ref: InstanceRef
    backend: str
    time_limit_s: float
    seed: int


def _solve_one(task: _Task) -> dict[str, Any]:
    ref = task.ref
    convention = convention_of(ref)
    row: dict[str, Any] = {
        "instance": ref.name,
        "family": ref.family,
        "convention": convention,
        "backend": task.backend,
    }
    started = time.perf_counter()
    try:
        inst = read_instance(ref.path)
        problem = problem_for(inst, convention or "dimacs")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PyVRP warns about the fixed-cost trick
            solution = solve(
                problem,
                backend=task.backend,
                time_limit_s=task.time_limit_s,
                seed=task.seed,
                metaheuristic="guided_local_search",
            )
    except (RuntimeError, ValueError, TwinError) as exc:
        row.update(feasible=False, error=str(exc)[:300], time_s=time.perf_counter() - started)
        return row
    value = solution.costs["distance_m"]
    row.update(
        backend=solution.solver,
        feasible=True,  # solve() raised otherwise: the independent checker found nothing
        vehicles=solution.n_routes,
        value=round(value, 4),
        time_s=round(time.perf_counter() - started, 2),
    )
    b = ref.bks
    if b is not None and convention is not None:
        bks_vehicles, bks_value = {
            "dimacs": (b.dimacs_vehicles, b.dimacs_distance),
            "hierarchical": (b.vehicles, b.distance),
            "duration": (b.vehicles, b.cost),
        }[convention]
        row["bks_vehicles"] = bks_vehicles
        row["bks_value"] = bks_value
        if bks_value:
            row["gap_pct"] = round(100.0 * (value - bks_value) / bks_value, 3)
        if bks_vehicles is not None:
            row["vehicles_delta"] = solution.n_routes - bks_vehicles
    return row


def _comparable_gaps(rows: list[dict[str, Any]]) -> list[float]:
    """Gaps that mean what they say: feasible rows, and under the hierarchical
    convention only those with the BKS vehicle count (fewer vehicles first)."""
    return [
        r["gap_pct"]
        for r in rows
        if r.get("feasible")
        and "gap_pct" in r
        and (r["convention"] != "hierarchical" or r.get("vehicles_delta") == 0)
    ]


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    gaps = _comparable_gaps(rows)
    every = [r["gap_pct"] for r in rows if r.get("feasible") and "gap_pct" in r]
    return {
        "n_instances": len(rows),
        "n_feasible": sum(1 for r in rows if r.get("feasible")),
        "mean_gap_pct": round(float(np.mean(gaps)), 3) if gaps else None,
        "max_gap_pct": round(float(np.max(gaps)), 3) if gaps else None,
        "at_bks": sum(1 for g in gaps if g <= 1e-6),
        "n_more_vehicles": sum(1 for r in rows if (r.get("vehicles_delta") or 0) > 0),
        "mean_gap_all_pct": round(float(np.mean(every)), 3) if every else None,
    }


def run(
    folders: Iterable[str | Path] | None = None,
    *,
    backend: str = "auto",
    time_limit_s: float = 10.0,
    seed: int = 0,
    workers: int = 1,
    name_filter: str | None = None,
    limit: int | None = None,
    progress: Any = None,
) -> dict[str, Any]:
    """Benchmark every instance under ``folders``; see the module docstring."""
    paths = [Path(f) for f in folders] if folders else default_folders()
    refs: list[InstanceRef] = []
    for folder in paths:
        if not folder.is_dir():
            raise TwinError(f"--instances {folder}: no such folder")
        found = discover(folder)
        if not found:
            raise TwinError(
                f"--instances {folder}: no Solomon, Li & Lim or VRPLIB instances found in it"
            )
        refs += found
    if name_filter:
        refs = [r for r in refs if fnmatch(r.name.lower(), name_filter.lower())]
    if limit is not None:
        refs = refs[:limit]
    tasks = [_Task(r, backend, time_limit_s, seed) for r in refs]
    rows: list[dict[str, Any]] = []
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for row in pool.map(_solve_one, tasks):
                rows.append(row)
                if progress:
                    progress(row)
    else:
        for task in tasks:
            rows.append(_solve_one(task))
            if progress:
                progress(rows[-1])
    conventions = sorted({r["convention"] for r in rows if r["convention"]})
    return {
        **_summary(rows),
        "convention": conventions[0]
        if len(conventions) == 1
        else "mixed: " + ", ".join(conventions),
        "backend": backend,
        "time_limit_s": time_limit_s,
        "workers": workers,
        "families": {
            family: _summary([r for r in rows if r["family"] == family])
            for family in sorted({r["family"] for r in rows})
        },
        "instances": rows,
    }
