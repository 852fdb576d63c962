"""What a smaller planning budget costs: the Laredo baseline day at several PyVRP
iteration budgets, whole run each (``twin bench scale`` at one size).

Prints, per budget, the run's wall and planning seconds beside what the planner
sees of the plan: deliveries, service level, cost and kilometres per delivery,
and vehicle-days worked. Plans are deterministic at a given budget, so one run
per budget gives the quality figures; the seconds are one run on whatever the
machine is doing (rerun for medians).

    python experiments/planning_budget.py                 # 100, 250, 500, 1000, 2000
    python experiments/planning_budget.py --budgets 250,2000 --json
"""

from __future__ import annotations

import argparse
import json

from twin.bench import scale

COLUMNS = (
    "iterations",
    "wall_s",
    "plan_s",
    "delivered",
    "service_level",
    "cost_per_delivery",
    "km_per_delivery",
    "vehicle_days_worked",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", default="100,250,500,1000,2000")
    parser.add_argument("--scenario", default="scenarios/laredo_baseline.yaml")
    parser.add_argument("--orders", type=int, default=1500)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    for budget in (int(b) for b in args.budgets.split(",")):
        result = scale.run(
            scenario_path=args.scenario, sizes=[args.orders], params={"iterations": budget}
        )
        row = result["sizes"][0]
        if "error" in row:
            raise SystemExit(f"budget {budget}: {row['error']}")
        row = {"iterations": budget, "plan_s": row["phases"]["plan"]["wall_s"], **row}
        rows.append(row)
        if not args.json:
            print("  ".join(f"{k}={row[k]}" for k in COLUMNS), flush=True)
    if args.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
