"""How the Laredo baseline's morning plan uses the fleet, by the planner's lateness cost.

For each price of lateness (``policy.params.late_cost_per_h``) and fleet size, one
simulated day of ``scenarios/laredo_baseline.yaml``, and what a dispatcher would
look at: vans used of the fleet, deliveries late in the plan itself (the first ETA
sent, from the plan, already past the window end), late deliveries, on-time rate,
cost per delivery, and the run's warnings. Run from the repository root::

    .venv/bin/python experiments/plan_quality.py [--late 30,300,3000] [--vans 25,30]

It measures and prints; nothing here gates a test.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

from twin.maps import load_network
from twin.metrics import kpis
from twin.scenario import load_scenario
from twin.scenario.edit import derive
from twin.sim import Simulation

ROOT = Path(__file__).resolve().parents[1]


def measure(late_cost_per_h: float, vans: int) -> dict[str, object]:
    """One day of the baseline with this lateness price and fleet: the plan's figures."""
    base = load_scenario(ROOT / "scenarios" / "laredo_baseline.yaml")
    hub = base.fleet[0].hub
    params = {**base.policy.params, "late_cost_per_h": late_cost_per_h}
    scenario = derive(
        base,
        {"fleet": [{"type": "van", "count": vans, "hub": hub}], "policy": {"params": params}},
    )
    network = load_network(scenario.map.ref)
    started = time.perf_counter()
    result = Simulation(scenario, network).run()
    wall_s = time.perf_counter() - started
    events, orders = result.events, result.orders
    delivered = orders[orders["final_state"] == "delivered"]
    late = delivered[delivered["delivered_s"] > delivered["window_end_s"] + 1e-6]
    notices = events[events["kind"] == "notify_eta"].drop_duplicates("order_id")
    first_eta = notices.set_index("order_id")["details"].map(lambda d: json.loads(d)["eta_s"])
    window_end = orders.set_index("order_id")["window_end_s"]
    planned_late = first_eta > window_end.reindex(first_eta.index) + 1e-6
    k = kpis(orders, result.vehicles, events)
    used = result.vehicles[result.vehicles["stops_attempted"] > 0]
    return {
        "late_cost_per_h": late_cost_per_h,
        "vans": vans,
        "vans_used": len(used),
        "delivered": len(delivered),
        "late": len(late),
        "planned_late": int(planned_late.sum()),
        "late_and_planned_late": int(planned_late.reindex(late["order_id"]).fillna(False).sum()),
        "on_time_rate": round(k["on_time_rate"], 4),
        "cost_per_delivery": round(k["cost_per_delivery"], 3),
        "planning_s": round(result.planning_s, 1),
        "wall_s": round(wall_s, 1),
        "warnings": [w["code"] for w in result.warnings],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--late", default="30,300,3000", help="lateness costs per hour")
    parser.add_argument("--vans", default="25,30", help="fleet sizes")
    args = parser.parse_args()
    rows = [
        measure(float(late), int(vans))
        for vans in args.vans.split(",")
        for late in args.late.split(",")
    ]
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
