"""Write the modes comparison tables from the sweep's Parquet store.

    twin sweep experiments/modes_comparison.yaml --workers 2
    python experiments/modes_comparison_report.py > /tmp/tables.md

Every variant runs the same policy on the same orders, customers and weather
per replication, so each option is compared with ``vans_only`` (and the storm
mixed fleet with the storm vans-only day) by paired differences: mean and 95 %
Student-t interval over replications. Per-mode delivery shares come from the
``share_<mode>`` columns.
"""

from __future__ import annotations

import sys
from pathlib import Path

from twin.experiment import load_store
from twin.metrics import paired_difference, verdict

STORE = Path(sys.argv[1] if len(sys.argv) > 1 else "out/sweeps/modes_comparison")
PAIRS = {
    "drones": "vans_only",
    "truck_and_drone": "vans_only",
    "robots": "vans_only",
    "bikes": "vans_only",
    "autonomous": "vans_only",
    "lockers_only": "vans_only",
    "crowd_only": "vans_only",
    "base": "vans_only",
    "storm": "vans_only_storm",
    "vans_only_storm": "vans_only",
}
KPIS = (
    ("cost_per_delivery", "cost / delivery ($)", 2),
    ("on_time_rate", "on-time rate", 3),
    ("first_attempt_success_rate", "first-attempt success", 3),
    ("delivered", "delivered", 0),
    ("co2_kg_per_delivery", "CO2 kg / delivery", 3),
)
MODES = ("van", "autonomous_van", "cargo_bike", "robot", "drone", "crowd")


def main() -> None:
    runs = load_store(STORE)
    by_variant = {v: t.sort_values("replication") for v, t in runs.groupby("variant")}
    order = ["vans_only", *[v for v in PAIRS if v in by_variant]]
    print(
        f"{len(runs)} runs from `{STORE}`, {runs['replication'].nunique()} replications per "
        "variant. Cells: mean; below it, the paired difference from the reference "
        "(`vans_only`, or `vans_only_storm` for `storm`) with its 95 % interval and verdict.\n"
    )
    print("| variant | " + " | ".join(label for _, label, _ in KPIS) + " |")
    print("|---" * (len(KPIS) + 1) + "|")
    for variant in order:
        rows = by_variant[variant]
        cells = []
        for kpi, _, digits in KPIS:
            cell = f"{rows[kpi].mean():.{digits}f}"
            ref = PAIRS.get(variant)
            if ref is not None:
                diff = paired_difference(by_variant[ref][kpi].tolist(), rows[kpi].tolist())
                assert diff.ci is not None
                lo, hi = diff.ci
                cell += (
                    f"<br>{diff.mean:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}] "
                    f"{verdict(kpi, diff)}"
                )
            cells.append(cell)
        print(f"| `{variant}` | " + " | ".join(cells) + " |")
    print("\nShare of deliveries by mode (mean over replications):\n")
    present = [m for m in MODES if f"share_{m}" in runs]
    print("| variant | " + " | ".join(present) + " |")
    print("|---" * (len(present) + 1) + "|")
    for variant in order:
        rows = by_variant[variant]
        shares = [rows[f"share_{m}"].fillna(0).mean() for m in present]
        print(f"| `{variant}` | " + " | ".join(f"{s:.3f}" for s in shares) + " |")


if __name__ == "__main__":
    main()
