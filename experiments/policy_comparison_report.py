"""Write the policy comparison report from the sweep's Parquet store.

    twin sweep experiments/policy_comparison.yaml --workers 2
    python experiments/policy_comparison_report.py > experiments/policy_comparison.md

Paired differences against ``static`` (same replication = same orders,
customers and disruptions), mean and 95 % Student-t interval over replications.
"""

from __future__ import annotations

import sys
from pathlib import Path

from twin.experiment import load_store
from twin.metrics import paired_difference

STORE = Path(sys.argv[1] if len(sys.argv) > 1 else "out/sweeps/policy_comparison")
BASELINE = "static"
KPIS = (
    ("cost_per_delivery", "cost / delivery ($)", 2),
    ("on_time_rate", "on-time rate", 3),
    ("first_attempt_success_rate", "first-attempt success", 3),
    ("delivered", "delivered", 0),
    ("orders_open_at_horizon", "open at end of day", 0),
    ("km_per_delivery", "km / delivery", 2),
    ("overtime_h", "overtime (h)", 1),
)


def main() -> None:
    runs = load_store(STORE)
    policies = [BASELINE, *sorted(set(runs["policy"]) - {BASELINE})]
    print("# Policy comparison: Laredo baseline day\n")
    print(
        f"{len(runs)} runs from `{STORE}` ({runs['replication'].nunique()} replications "
        "per policy and variant). Cells: mean over replications; below it, the paired "
        f"difference from `{BASELINE}` with its 95 % confidence interval.\n"
    )
    for variant in sorted(set(runs["variant"]), key=lambda v: (v != "base", v)):
        table = runs[runs["variant"] == variant]
        base = table[table["policy"] == BASELINE].sort_values("replication")
        print(f"## Variant `{variant}`\n")
        print("| policy | " + " | ".join(label for _, label, _ in KPIS) + " |")
        print("|---" * (len(KPIS) + 1) + "|")
        for policy in policies:
            rows = table[table["policy"] == policy].sort_values("replication")
            cells = []
            for kpi, _, digits in KPIS:
                mean = rows[kpi].mean()
                cell = f"{mean:.{digits}f}"
                if policy != BASELINE:
                    diff = paired_difference(base[kpi].tolist(), rows[kpi].tolist())
                    assert diff.ci is not None
                    lo, hi = diff.ci
                    cell += f"<br>{diff.mean:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]"
                cells.append(cell)
            print(f"| `{policy}` | " + " | ".join(cells) + " |")
        print()


if __name__ == "__main__":
    main()
