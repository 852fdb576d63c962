"""Does the live forecast's P10–P90 band hold 80 % of what happens? Pooled over days.

Plays ``--days`` independent days of a scenario (replications 0, 1, ...), forecasts
each from ``--at`` with the live forecaster, and counts the stops the engine then
reached inside their band (:func:`twin.validate.forecast.forecast_day`). Errors
along one route are correlated, so one day is a handful of independent draws
(single Laredo days range from 64 % to 92 %): the figure that means something is
the pooled share, with an interval that resamples whole vehicle-days.

    .venv/bin/python experiments/forecast_coverage.py                  # Laredo, 30 days
    .venv/bin/python experiments/forecast_coverage.py --days 5 --iterations 100

Each Laredo day plans its own demand (``--iterations`` PyVRP iterations; 100
takes about 30 s a day here), so 30 days take about 20 minutes.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import numpy as np
import pandas as pd

from twin.live.forecast import Forecaster
from twin.maps import load_network
from twin.scenario import load_scenario
from twin.scenario.edit import derive
from twin.validate.forecast import band_coverage, forecast_day

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default=str(ROOT / "scenarios" / "laredo_baseline.yaml"))
    parser.add_argument("--days", type=int, default=30, help="replications played")
    parser.add_argument("--at", type=float, default=9.0, help="hour the forecast is made")
    parser.add_argument("--samples", type=int, default=50, help="forecast samples")
    parser.add_argument(
        "--iterations", type=int, default=100, help="PyVRP iterations of each day's plan"
    )
    args = parser.parse_args(argv)

    base = load_scenario(args.scenario)
    params = {**base.policy.params, "iterations": args.iterations}
    scenario = derive(base, {"days": 1, "warmup_days": 0, "policy": {"params": params}})
    network = load_network(scenario.map.ref, network_type=scenario.map.network_type)
    forecaster = Forecaster(scenario, network, samples=args.samples)
    cut_s = args.at * 3600.0
    frames = []
    for day in range(args.days):
        started = time.perf_counter()
        stops = forecast_day(scenario, network, forecaster, replication=day, cut_s=cut_s)
        inside = (stops["p10_s"] <= stops["arrived_s"]) & (stops["arrived_s"] <= stops["p90_s"])
        print(
            f"day {day}: {len(stops)} stops, {inside.mean():.1%} inside "
            f"({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
        frames.append(stops.assign(day=day, inside=inside))
    stops = pd.concat(frames, ignore_index=True)
    cluster = (stops["day"].astype(str) + "/" + stops["vehicle_id"]).to_numpy()
    share, low, high = band_coverage(stops["inside"].to_numpy(), cluster)
    below = (stops["arrived_s"] < stops["p10_s"]).mean()
    above = (stops["arrived_s"] > stops["p90_s"]).mean()
    print(
        f"\n{scenario.name}, forecast at {args.at:g} h with {args.samples} samples, "
        f"{args.days} days, {len(set(cluster))} vehicle-days, {len(stops)} stops:\n"
        f"inside [P10, P90] {share:.1%} (95 % interval by vehicle-day {low:.1%}–{high:.1%}); "
        f"below P10 {below:.1%}, above P90 {above:.1%}"
    )
    print("\nstops ahead | stops | inside | below P10 | above P90 | median band width")
    edges = [0, 3, 10, 20, 40, 80, 10_000]
    for lo, hi in itertools.pairwise(edges):
        part = stops[(stops["stop_index"] >= lo) & (stops["stop_index"] < hi)]
        if part.empty:
            continue
        width = np.median(part["p90_s"] - part["p10_s"]) / 60.0
        print(
            f"{lo:>4}–{hi - 1:<6} | {len(part):>5} | {part['inside'].mean():6.1%} | "
            f"{(part['arrived_s'] < part['p10_s']).mean():9.1%} | "
            f"{(part['arrived_s'] > part['p90_s']).mean():9.1%} | {width:.1f} min"
        )


if __name__ == "__main__":
    main()
