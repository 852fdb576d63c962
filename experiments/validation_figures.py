"""The figures ``docs/background/validation.md`` sets beside published ranges, from a finished run.

Reads the output folder of ``twin run`` (its ``vehicles_r*.parquet``,
``events_r*.parquet``, ``orders_r*.parquet`` and ``kpis.json``) and prints, over
the measured days and the crewed vehicle days that worked:

* stops attempted per van-day and deliveries per driver-hour;
* the share of a van's paid day spent driving, at stops, on breaks and on the
  rest (loading at the hub, waiting for windows, walking back counted at stops);
* the failed-first-attempt rate, failures by reason per attempt;
* cost per delivery.

Run from the repository root, after the run it reads::

    .venv/bin/twin run scenarios/laredo_baseline.yaml --days 1
    .venv/bin/python experiments/validation_figures.py out/laredo_baseline

It measures and prints; nothing here gates a test.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from twin.metrics import failures_by_reason, kpis, measured
from twin.modes import CREWED
from twin.scenario import load_scenario


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="a twin run output folder")
    args = parser.parse_args()
    out: Path = args.out_dir
    scenario = load_scenario(out / "scenario.resolved.yaml")
    for r in sorted(int(p.stem.split("_r")[1]) for p in out.glob("vehicles_r*.parquet")):
        events = pd.read_parquet(out / f"events_r{r}.parquet")
        orders = pd.read_parquet(out / f"orders_r{r}.parquet")
        vehicles = pd.read_parquet(out / f"vehicles_r{r}.parquet")
        orders, vehicles, events = measured(orders, vehicles, events, warmup_days=scenario.warmup)
        k = kpis(orders, vehicles, events)
        crew = vehicles[vehicles["mode"].isin(CREWED) & (vehicles["status"] == "worked")]
        paid = float(crew["working_h"].sum())
        driving = float(crew["driving_h"].sum())
        at_stops = float(crew["at_stops_h"].sum())
        breaks = float(crew["breaks"].sum()) * scenario.drivers.break_min / 60.0
        other = paid - driving - at_stops - breaks
        print(f"replication {r}: {len(crew)} crewed vehicle-days worked")
        print(f"  stops attempted per van-day   {crew['stops_attempted'].mean():8.1f}")
        print(f"  deliveries per driver-hour    {k['deliveries_per_driver_hour']:8.2f}")
        for name, hours in (
            ("driving", driving),
            ("at stops", at_stops),
            ("breaks", breaks),
            ("other (hub, waiting)", other),
        ):
            print(f"  share of paid time {name:<20} {hours / paid:6.1%}")
        print(f"  failed first attempts         {1 - k['first_attempt_success_rate']:8.1%}")
        print(f"  failed attempts / attempts    {k['failed_delivery_rate']:8.1%}")
        for row in failures_by_reason(events).itertuples():
            print(f"    {row.outcome:<10} {row.reason:<22} {row.count:5d}  {row.per_attempt:6.2%}")
        print(f"  cost per delivery             {k['cost_per_delivery']:8.2f}")
        print(f"  service level                 {k['service_level']:8.3f}")
        print(f"  attempted on time             {k['attempted_on_time_rate']:8.3f}")
    summary = json.loads((out / "kpis.json").read_text())
    print("cost breakdown, replication 0:", json.dumps(summary["cost_breakdown"][0]))


if __name__ == "__main__":
    main()
