"""What the event log costs per simulated stop: appending while the day runs, and
building the table from it afterwards.

Runs the Laredo baseline's one measured day (after its warm-up day) with a cheap
50-iteration plan (planning is not what is measured) three times, and prints the
medians. To compare two versions of twin, point ``--tree`` at another checkout
(``git worktree add /tmp/old <commit>``) and run the same script on each:

    .venv/bin/python experiments/event_log_cost.py
    .venv/bin/python experiments/event_log_cost.py --tree /tmp/old

It measures and prints; nothing here gates a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", default=str(ROOT), help="checkout of twin to measure")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, args.tree)
    import twin
    from twin.bench.sim import _timed_event_log
    from twin.events import EventLog
    from twin.maps import load_network
    from twin.scenario import load_scenario
    from twin.scenario.edit import derive, with_overrides
    from twin.sim import Simulation

    if not str(twin.__file__).startswith(args.tree):
        raise SystemExit(f"imported twin from {twin.__file__}, not from {args.tree}")
    scenario, _ = with_overrides(
        load_scenario(Path(args.tree) / "scenarios" / "laredo_baseline.yaml"), days=1
    )
    scenario = derive(scenario, {"policy": {"params": {"iterations": 50}}})
    network = load_network(scenario.map.ref)
    EventLog().to_frame()  # pandas' first-use set-up, outside the timings
    appends, tables = [], []
    for _ in range(args.runs):
        sim = Simulation(scenario, network)
        with _timed_event_log() as spent:
            result = sim.run()
        stops = int(result.vehicles["stops_attempted"].sum())
        started = time.perf_counter()
        result.log.to_frame()
        appends.append(spent[0] / stops * 1e6)
        tables.append((time.perf_counter() - started) / stops * 1e6)
    append, table = statistics.median(appends), statistics.median(tables)
    print(f"{args.tree}: {stops} stops, {len(result.log)} events")
    print(f"  appending   {append:6.1f} us a stop (runs: {', '.join(f'{a:.1f}' for a in appends)})")
    print(f"  the table   {table:6.1f} us a stop (runs: {', '.join(f'{t:.1f}' for t in tables)})")
    print(f"  together    {append + table:6.1f} us a stop")


if __name__ == "__main__":
    main()
