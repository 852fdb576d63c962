"""How the Laredo baseline's morning plan uses the fleet, by the planner's lateness cost.

For each price of lateness (``policy.params.late_cost_per_h``) and fleet size, the
measured day of ``scenarios/laredo_baseline.yaml`` (after its warm-up day), and
what a dispatcher would look at: vans used of the fleet, deliveries whose first
ETA sent (made from the plan, retimed on the time-of-day travel times) was
already past the window end, late deliveries and how many of them were late at
that first ETA, on-time rate, cost per delivery, and the run's warnings. Run
from the repository root::

    .venv/bin/python experiments/plan_quality.py [--late 30,300,3000] [--vans 25,30]
    .venv/bin/python experiments/plan_quality.py --params '{"backend": "pyvrp", "iterations": 2000}'
    .venv/bin/python experiments/plan_quality.py --reference 10 --params '{...}'

``--reference F`` instead solves the measured day's morning routing problem twice, from
the same dispatch state: at the scenario's planning budget and at F times it
(solutions for OR-Tools, iterations for PyVRP), and prints the gap between the
two plans' costs. It measures and prints; nothing here gates a test.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import pandas as pd

from twin.dispatch import DefaultTraits, DispatchState, Plan, build_policy, traits_of
from twin.maps import load_network
from twin.metrics import kpis
from twin.scenario import load_scenario
from twin.scenario.edit import derive
from twin.sim import Simulation

ROOT = Path(__file__).resolve().parents[1]


def measure(late_cost_per_h: float, vans: int, extra: dict[str, Any]) -> dict[str, object]:
    """One day of the baseline with this lateness price and fleet: the plan's figures."""
    base = load_scenario(ROOT / "scenarios" / "laredo_baseline.yaml")
    hub = base.fleet[0].hub
    params = {**base.policy.params, **extra, "late_cost_per_h": late_cost_per_h}
    scenario = derive(
        base,
        {"fleet": [{"type": "van", "count": vans, "hub": hub}], "policy": {"params": params}},
    )
    network = load_network(scenario.map.ref)
    started = time.perf_counter()
    result = Simulation(scenario, network).run()
    wall_s = time.perf_counter() - started
    # The measured day, after the scenario's warm-up (its plan starts with a backlog).
    orders, vehicles, events = result.measured()
    delivered = orders[orders["final_state"] == "delivered"]
    late = delivered[delivered["delivered_s"] > delivered["window_end_s"] + 1e-6]
    notices = events[events["kind"] == "notify_eta"].drop_duplicates("order_id")
    first_eta = notices.set_index("order_id")["details"].map(lambda d: json.loads(d)["eta_s"])
    window_end = orders.set_index("order_id")["window_end_s"]
    planned_late = first_eta > window_end.reindex(first_eta.index) + 1e-6
    k = kpis(orders, vehicles, events)
    used = vehicles[vehicles["stops_attempted"] > 0]
    return {
        "late_cost_per_h": late_cost_per_h,
        "vans": vans,
        "vans_used": len(used),
        "delivered": len(delivered),
        "late": len(late),
        "late_at_first_eta": int(planned_late.sum()),
        "late_and_late_at_first_eta": int(
            planned_late.reindex(late["order_id"]).fillna(False).sum()
        ),
        "on_time_rate": round(k["on_time_rate"], 4),
        "cost_per_delivery": round(k["cost_per_delivery"], 3),
        "planning_s": round(result.planning_s, 1),
        "wall_s": round(wall_s, 1),
        "warnings": [w["code"] for w in result.warnings],
    }


class _Recorder(DefaultTraits):
    """Asks the scenario's policy and keeps the first state it was asked at on or
    after day ``first_day`` (the first measured day)."""

    def __init__(self, inner: Any, first_day: int) -> None:
        self.inner = inner
        traits = traits_of(inner)
        self.name, self.dynamic, self.triggers = traits.name, traits.dynamic, traits.triggers
        self.tick_s, self.wave_hours, self.modes = traits.tick_s, traits.wave_hours, traits.modes
        self.first_day = first_day
        self.first_state: DispatchState | None = None

    def decide(self, state: DispatchState) -> Plan:
        if self.first_state is None and state.day >= self.first_day:
            self.first_state = state
        return self.inner.decide(state)


def reference_gap(factor: int, extra: dict[str, Any]) -> dict[str, object]:
    """The measured day's morning plan: its cost at the budget and at ``factor`` times
    it, from the same state (the warm-up's backlog included)."""
    base = load_scenario(ROOT / "scenarios" / "laredo_baseline.yaml")
    # The reference must end on its budget, not the clock: the cap is raised to an hour.
    params = {**base.policy.params, **extra}
    scenario = derive(base, {"policy": {"time_limit_s": 3600, "params": params}})
    network = load_network(scenario.map.ref)
    recorder = _Recorder(build_policy(scenario.policy), first_day=scenario.warmup)
    Simulation(scenario, network, policy=recorder).run()
    state = recorder.first_state
    assert state is not None
    out: dict[str, object] = {}
    for label, scale in (("budget", 1), ("reference", factor)):
        policy = build_policy(scenario.policy)
        if policy.backend == "pyvrp":
            policy.iterations = (policy.iterations or 2000) * scale
        else:
            policy.solution_limit = (policy.solution_limit or 100) * scale
        started = time.perf_counter()
        plan = policy.decide(state)
        out[f"{label}_cost"] = round(plan.stats["cost"], 2)
        out[f"{label}_s"] = round(time.perf_counter() - started, 1)
        out[f"{label}_capped"] = bool(plan.stats.get("time_limit_hit"))
    gap = (out["budget_cost"] - out["reference_cost"]) / out["reference_cost"]  # type: ignore[operator]
    out["gap_pct"] = round(100 * gap, 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--late", default="30,300,3000", help="lateness costs per hour")
    parser.add_argument("--vans", default="25,30", help="fleet sizes")
    parser.add_argument("--params", default="{}", help="extra policy params, as JSON")
    parser.add_argument("--reference", type=int, default=0, help="budget factor of the reference")
    args = parser.parse_args()
    extra = json.loads(args.params)
    if args.reference:
        print(json.dumps(reference_gap(args.reference, extra), indent=1))
        return
    rows = [
        measure(float(late), int(vans), extra)
        for vans in args.vans.split(",")
        for late in args.late.split(",")
    ]
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
