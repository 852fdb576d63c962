"""``twin bench dynamic``: dispatch policies on the EURO Meets NeurIPS 2022 dynamic days.

Each instance of ``../shared/benchmarks/euro_neurips_2022`` becomes one dynamic
day (:class:`~twin.bench.epochs.DayOfEpochs`, seeded per instance, so every
policy meets the same requests). At each epoch the open requests become a
:class:`~twin.dispatch.base.DispatchState`, the state twin's simulation hands
its policies: requests are orders (must-go ones due in the epoch's ``day``,
the others the day after), the depot is the hub, vehicles are unlimited (one
per order a plan may hold), each costs its driving time (the matrix is the
"distance", at one cost unit per unit), and ``future_orders`` draws the next
epochs' requests by the day's own rules. The policy's :class:`Plan` is turned
into routes, the day's referee (:func:`~twin.bench.epochs.check_routes`)
checks every epoch, and the cost is the total driving time.

Policies (:class:`~twin.dispatch.postpone.PostponePolicy`): ``greedy``
dispatches every open request at once, ``lazy`` only the must-go ones,
``prize`` the must-go ones and each other request whose detour costs less than
``prize_share`` of its round trip from the depot, ``sample`` the must-go ones
and each other request that rides with no request drawn for the next epoch.
Each epoch's routing stops at ``budget`` PyVRP iterations in all (``sample``
spends half on its draws), so a run gives the same costs on any machine; a
wall-clock cap (``time_limit_s``) is only a safety net, and each instance
reports how often it fired.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import numpy as np

from twin.bench.epochs import (
    DISPATCH_MARGIN_S,
    EPOCH_S,
    MAX_REQUESTS,
    DayOfEpochs,
    DispatchError,
    Epoch,
    Request,
    draw_requests,
)
from twin.bench.instances import BenchInstance, discover, read_instance
from twin.constants import DAY_S
from twin.dispatch.base import RELOAD, DispatchState, OrderView, Plan, VehicleView
from twin.dispatch.postpone import PostponePolicy
from twin.errors import TwinError
from twin.traveltime import TravelMatrix

__all__ = ["POLICIES", "epoch_state", "play", "run"]

#: The policies compared, as :class:`PostponePolicy` settings.
POLICIES: dict[str, dict[str, Any]] = {
    "greedy": {"take": "all"},
    "lazy": {"take": "due"},
    "prize": {"take": "prize", "prize_share": 0.5},
    "sample": {"take": "sample", "scenarios": 8, "send_share": 0.25},
}
#: Epochs ahead a ``sample`` policy draws future requests for. One epoch ahead
#: with 8 draws beat three ahead with 4 at the same budget (mean per-day cost
#: against greedy on the first 20 days at 500 iterations: -8.0 % against -6.9 %;
#: two ahead with 8 draws, -7.4 %): a draw of one epoch is a smaller problem,
#: which its share of the budget solves better.
LOOKAHEAD = 1


def default_folder() -> Path:
    """``../shared/benchmarks/euro_neurips_2022`` beside the repository."""
    from twin.maps import shared_dir

    shared = shared_dir()
    if shared is None:
        raise TwinError(
            "no instance folder given and ../shared/benchmarks is not beside the "
            "repository; pass --instances DIR"
        )
    return shared / "benchmarks" / "euro_neurips_2022"


def _order(r: Request, due_day: int, created_s: float) -> OrderView:
    return OrderView(
        id=r.id,
        node=r.location,
        lat=math.nan,
        lon=math.nan,
        demand=(r.demand, 0.0, 0.0),
        window_start_s=r.ready_s,
        window_end_s=r.due_s,
        service_s=r.service_s,
        option="home",
        attempts=0,
        due_day=due_day,
        created_s=created_s,
    )


def epoch_state(inst: BenchInstance, epoch: Epoch, final: int | None = None) -> DispatchState:
    """The epoch as the state a twin policy decides on (see the module docstring).

    With ``final`` (the day's last epoch), ``future_orders`` draws the requests of
    the next :data:`LOOKAHEAD` epoch(s) by the day's own rules, each created when
    routes may first leave for it; the vehicles are enough for those too.
    """
    duration = np.asarray(inst.matrix, dtype=float)
    orders = tuple(
        _order(
            r,
            epoch.index if r.id in epoch.must_go else epoch.index + 1,
            r.released * EPOCH_S,
        )
        for r in epoch.requests
    )
    ahead = range(epoch.index + 1, min(epoch.index + LOOKAHEAD, final) + 1) if final else range(0)

    def future_orders(rng: np.random.Generator) -> tuple[OrderView, ...]:
        return tuple(
            _order(r, k + 1, k * EPOCH_S + DISPATCH_MARGIN_S)
            for k in ahead
            for r in draw_requests(inst, rng, k, prefix="f")
        )

    depot_close = float(inst.due[0])
    vehicles = tuple(
        VehicleView(
            id=f"v{k}",
            type="van",
            mode="van",
            hub="depot",
            hub_node=0,
            node=0,
            available_s=epoch.dispatch_s,
            capacity=(float(inst.capacity), 1.0, 1.0),
            committed=(),
            shift_start_s=epoch.dispatch_s,
            shift_end_s=depot_close,
            max_working_s=depot_close - epoch.dispatch_s,
            break_after_s=DAY_S,
            break_s=0.0,
            fixed_cost=0.0,
            cost_per_km=1000.0,  # the matrix is the "length": one cost unit per second
            cost_per_h=0.0,
            overtime_cost_per_h=0.0,
            speed_factor=1.0,
        )
        for k in range(max(1, len(orders) + MAX_REQUESTS * len(ahead)))
    )

    def travel(sources: list[int], targets: list[int], depart_s: float) -> TravelMatrix:
        block = duration[np.ix_(sources, targets)]
        return TravelMatrix(
            sources=np.asarray(sources),
            targets=np.asarray(targets),
            time_s=block,
            length_m=block,
            depart_s=depart_s,
        )

    return DispatchState(
        now_s=epoch.start_s,
        day=epoch.index,
        trigger="tick",
        orders=orders,
        vehicles=vehicles,
        hubs={"depot": 0},
        travel=travel,
        future_orders=future_orders if len(ahead) else None,
    )


def _routes(plan: Plan) -> list[list[str]]:
    """The plan's routes as lists of request ids (one trip per vehicle here)."""
    out = []
    for stops in plan.routes.values():
        route = [s for s in stops if s != RELOAD]
        if route:
            out.append(route)
    return out


def policy(name: str, budget: int, time_limit_s: float) -> PostponePolicy:
    """The named policy with the benchmark's routing settings: PyVRP stopped at
    ``budget`` iterations, no lateness, no overtime (the depot's closing is hard)."""
    if name not in POLICIES:
        raise TwinError(f"unknown policy {name!r}; choose from {', '.join(POLICIES)}")
    settings = dict(POLICIES[name])
    iterations = budget
    if settings.get("take") == "sample":
        # The epoch's budget is shared: half for the draws, half for the plan.
        iterations = max(1, budget // 2)
        settings["scenario_iterations"] = max(1, budget // (2 * settings["scenarios"]))
    return PostponePolicy(
        name=name,
        backend="pyvrp",
        iterations=iterations,
        time_limit_s=time_limit_s,
        late_cost_per_h=0.0,
        planned_overtime_h=0.0,
        depart_offset_s=0.0,
        required=True,
        **settings,
    )


def play(
    inst: BenchInstance, name: str, *, budget: int, seed: int = 0, time_limit_s: float = 300.0
) -> dict[str, Any]:
    """Play one instance's day with one policy; the row of the results table."""
    day = DayOfEpochs(inst, seed)
    chosen = policy(name, budget, time_limit_s)
    row: dict[str, Any] = {"instance": inst.name, "policy": name, "epochs": day.epochs}
    started = time.perf_counter()
    capped = 0
    requests = 0
    try:
        while not day.done:
            epoch = day.observe()
            plan = chosen.decide(epoch_state(inst, epoch, day.final))
            capped += int(plan.stats.get("time_limit_hit", 0.0) > 0)
            routes = _routes(plan)
            requests += sum(len(r) for r in routes)
            day.dispatch(epoch, routes)
    except (DispatchError, RuntimeError) as exc:
        row.update(feasible=False, error=str(exc)[:300])
    else:
        row.update(feasible=True, cost=round(day.cost, 1))
    row.update(
        requests=requests,
        routes=day.routes_sent,
        epochs_capped=capped,
        time_s=round(time.perf_counter() - started, 2),
    )
    return row


@dataclass(frozen=True)
class _Task:
    path: Path
    policy: str
    budget: int
    seed: int
    time_limit_s: float


def _play_task(task: _Task) -> dict[str, Any]:
    inst = read_instance(task.path)
    return play(
        inst, task.policy, budget=task.budget, seed=task.seed, time_limit_s=task.time_limit_s
    )


def run(
    folder: str | Path | None = None,
    *,
    policies: Sequence[str] = tuple(POLICIES),
    budget: int = 500,
    instances: int | None = None,
    name_filter: str | None = None,
    seed: int = 0,
    workers: int = 1,
    time_limit_s: float = 300.0,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Every policy on every instance's day; per policy ``mean_cost``,
    ``vs_greedy_pct``, ``instances`` and ``feasible``, and the per-instance rows."""
    unknown = [p for p in policies if p not in POLICIES]
    if unknown:
        raise TwinError(f"--only {', '.join(unknown)}: choose from {', '.join(POLICIES)}")
    root = Path(folder) if folder is not None else default_folder()
    if not root.is_dir():
        raise TwinError(
            f"--instances {root}: no such folder (the EURO Meets NeurIPS 2022 instances "
            "are in ../shared/benchmarks/euro_neurips_2022)"
        )
    refs = [r for r in discover(root) if r.path.suffix == ".txt"]
    if name_filter:
        refs = [r for r in refs if fnmatch(r.name.lower(), name_filter.lower())]
    if instances is not None:
        refs = refs[:instances]
    if not refs:
        raise TwinError(f"--instances {root}: no VRPLIB instances found")
    tasks = [_Task(r.path, p, budget, seed, time_limit_s) for r in refs for p in policies]
    rows = list(_each(tasks, workers, progress))
    return {"budget": budget, "seed": seed, "policies": summarise(rows), "rows": rows}


def _each(
    tasks: Iterable[_Task], workers: int, progress: Callable[[dict[str, Any]], None] | None
) -> Iterable[dict[str, Any]]:
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for row in pool.map(_play_task, tasks):
                if progress:
                    progress(row)
                yield row
    else:
        for task in tasks:
            row = _play_task(task)
            if progress:
                progress(row)
            yield row


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per policy: mean cost over the instances every policy solved feasibly, and its
    difference from greedy's mean on those same instances (negative: cheaper)."""
    by_policy: dict[str, dict[str, dict[str, Any]]] = {}
    for r in rows:
        by_policy.setdefault(r["policy"], {})[r["instance"]] = r
    names = sorted({r["instance"] for r in rows})
    common = [
        n for n in names if all(n in per and per[n]["feasible"] for per in by_policy.values())
    ]
    greedy = by_policy.get("greedy")
    base = float(np.mean([greedy[n]["cost"] for n in common])) if greedy and common else None
    out = {}
    for name, per in by_policy.items():
        mean = float(np.mean([per[n]["cost"] for n in common])) if common else None
        out[name] = {
            "mean_cost": round(mean, 1) if mean is not None else None,
            "vs_greedy_pct": round(100.0 * (mean - base) / base, 2)
            if mean is not None and base
            else None,
            "instances": len(per),
            "feasible": sum(1 for r in per.values() if r["feasible"]),
            "compared_on": len(common),
        }
    return out
