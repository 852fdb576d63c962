"""Time the live forecast on a mid-day state, and check it against the engine's day.

The state is made the way the server would see a real day: the engine plays the
scenario once, the day is exported as history (``history_from_result``) and its
live events (``history_events``) are folded into a ``LiveState`` up to ``--at``.
Then ``Forecaster.predict`` is timed cold (new Forecaster: no shortest-path rows,
no leg memo), warm (the same state again) and as a refresh (a few more events
applied, as the server would after a minute of traffic). Last, the forecast is
compared with what the engine did after ``--at``: the share of stops whose
actual arrival falls inside [P10, P90], and the P50 error.

The engine's plan for the Laredo baseline uses 14 of the 25 vans, so the script
also times the size the issue asks for: a "full" state in which every order of
the day is known and routed over all the fleet's vans (a sweep around the hub),
all of them leaving the hub at ``--at``.

    .venv/bin/python experiments/forecast_timing.py                    # Laredo, 11:00
    .venv/bin/python experiments/forecast_timing.py --scenario scenarios/small_grid.yaml
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import pstats
import time
from pathlib import Path

import numpy as np
import pandas as pd

from twin.fleet import build_fleet
from twin.live.events import LiveClock, parse_event
from twin.live.forecast import Forecaster
from twin.live.history import History, history_events, history_from_result
from twin.live.state import LiveState
from twin.maps import load_network
from twin.maps.network import RoadNetwork
from twin.scenario import Scenario, load_scenario
from twin.sim import Simulation

ROOT = Path(__file__).resolve().parents[1]


def full_state(sc: Scenario, net: RoadNetwork, history: History, cut_s: float) -> LiveState:
    """Every order of the day known at ``cut_s``, due today, routed over every van of the fleet.

    Orders are swept by angle around the hub into equal routes, each visited in
    nearest-neighbour order (straight lines): plausible routes of the issue's size.
    """
    clock = LiveClock(sc.start_date)
    state = LiveState(sc, net, clock)
    at = clock.datetime(cut_s).isoformat()
    # Orders placed today for tomorrow are moved to today: the whole demand, due today.
    orders = history.orders.copy()
    day_end = pd.Timestamp(sc.start_date) + pd.Timedelta(days=1)
    late = orders["window_end"] > day_end
    for col in ("window_start", "window_end"):
        orders.loc[late, col] = orders.loc[late, col] - pd.Timedelta(days=1)
    for row in orders.itertuples(index=False):
        state.apply(
            parse_event(
                {
                    "event_id": f"order-{row.order_id}",
                    "type": "order_created",
                    "time": at,
                    "order_id": row.order_id,
                    "lat": float(row.lat),
                    "lon": float(row.lon),
                    "window_start": pd.Timestamp(row.window_start).isoformat(),
                    "window_end": pd.Timestamp(row.window_end).isoformat(),
                }
            )
        )
    hub_id = sc.hubs[0].id
    hub = net.node_xy[net.index(state.hub_nodes[hub_id])[0]]
    xy = net.project(orders["lat"].to_numpy(float), orders["lon"].to_numpy(float))
    angle = np.arctan2(xy[:, 1] - hub[1], xy[:, 0] - hub[0])
    fleet = build_fleet(sc, state.hub_nodes)
    chunks = np.array_split(np.argsort(angle, kind="stable"), len(fleet))
    for vehicle, chunk in zip(fleet, chunks, strict=True):
        left, route, here = list(chunk), [], hub
        while left:
            nearest = int(np.argmin(np.linalg.norm(xy[left] - here, axis=1)))
            k = left.pop(nearest)
            route.append(str(orders["order_id"].iloc[k]))
            here = xy[k]
        state.apply(
            parse_event(
                {
                    "event_id": f"route-{vehicle.id}",
                    "type": "route_assigned",
                    "time": at,
                    "vehicle_id": vehicle.id,
                    "order_ids": route,
                    "hub_id": hub_id,
                }
            )
        )
    return state


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default=str(ROOT / "scenarios" / "laredo_baseline.yaml"))
    parser.add_argument("--at", type=float, default=11.0, help="hour of day 0 to forecast from")
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--profile", action="store_true", help="cProfile the cold forecast")
    args = parser.parse_args(argv)

    sc = load_scenario(args.scenario)
    net = load_network(sc.map.ref, network_type=sc.map.network_type)
    t = time.perf_counter()
    result = Simulation(sc, net).run()
    print(
        f"engine: {time.perf_counter() - t:.1f} s "
        f"(planning {result.planning_s:.1f} s, simulation {result.simulation_s:.1f} s)"
    )
    history = history_from_result(result)
    events = history_events(history)
    clock = LiveClock(sc.start_date)
    cut_s = args.at * 3600.0
    state = LiveState(sc, net, clock)
    later = []
    for e in events:
        event = parse_event(e)
        if clock.seconds(event.time) > cut_s:
            later.append(event)
        else:
            state.apply(event)
    routed = sum(o.status == "routed" for o in state.orders.values())
    on_duty = sum(v.status in ("on_duty", "on_break") for v in state.vehicles.values())
    print(
        f"state at {args.at:g} h: {len(state.orders)} orders, {routed} routed, "
        f"{on_duty} vehicles on duty, {state.applied} events"
    )

    t = time.perf_counter()
    forecaster = Forecaster(sc, net, samples=args.samples)
    print(f"Forecaster(): {time.perf_counter() - t:.2f} s")
    cold = forecaster.predict(state)
    warm = forecaster.predict(state)
    assert dataclasses.replace(warm, elapsed_s=0.0) == dataclasses.replace(cold, elapsed_s=0.0), (
        "same state, same forecast"
    )
    for event in later[:20]:  # about a minute of the day's traffic
        state.apply(event)
    refresh = forecaster.predict(state)
    print(
        f"predict, {args.samples} samples, {len(cold.routes)} routes, "
        f"{sum(o.vehicle_id is not None for o in cold.orders.values())} stops: "
        f"cold {cold.elapsed_s:.2f} s, warm {warm.elapsed_s:.2f} s, "
        f"refresh after {min(20, len(later))} events {refresh.elapsed_s:.2f} s"
    )

    full = full_state(sc, net, history, cut_s)
    fresh = Forecaster(sc, net, samples=args.samples)
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    full_cold = fresh.predict(full)
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
    full_warm = fresh.predict(full)
    n_stops = sum(r.stops_left for r in full_cold.routes.values())
    print(
        f"full state: {len(full_cold.routes)} vehicles, {n_stops} stops, {args.samples} samples: "
        f"cold {full_cold.elapsed_s:.2f} s, warm {full_warm.elapsed_s:.2f} s"
    )

    # Agreement with the engine: its first arrival at each forecast stop after the cut.
    stops = history.stops[history.stops["attempt"] == 1]
    arrived = dict(zip(stops["order_id"], history.seconds(stops["arrived_at"]), strict=True))
    rows = [
        (arrived[oid], f.eta_p10_s, f.eta_p50_s, f.eta_p90_s, f.stop_index)
        for oid, f in cold.orders.items()
        if f.vehicle_id is not None
        and oid in arrived
        and arrived[oid] > cut_s
        and np.isfinite(f.eta_p50_s)
    ]
    a = np.array(rows, dtype=float)
    inside = (a[:, 1] <= a[:, 0]) & (a[:, 0] <= a[:, 3])
    err_min = np.abs(a[:, 2] - a[:, 0]) / 60.0
    returns = result.vehicles[result.vehicles["day"] == 0].set_index("vehicle_id")["end_s"]
    ret_err = [
        abs(r.return_p50_s - returns[vid]) / 60.0
        for vid, r in cold.routes.items()
        if vid in returns.index and np.isfinite(r.return_p50_s)
    ]
    print(
        f"engine agreement ({len(a)} stops after {args.at:g} h): "
        f"{inside.mean():.0%} inside [P10, P90]; |P50 - actual| median {np.median(err_min):.1f} "
        f"min, P90 {np.quantile(err_min, 0.9):.1f} min; signed median "
        f"{np.median((a[:, 2] - a[:, 0]) / 60.0):+.1f} min; "
        f"return to hub |P50 - actual| median {np.median(ret_err):.1f} min"
    )
    late = [
        (f.p_miss_window, arrived[oid] > state.orders[oid].window_end_s)
        for oid, f in cold.orders.items()
        if f.vehicle_id is not None and oid in arrived and arrived[oid] > cut_s
    ]
    if late:
        p, y = np.array(late, dtype=float).T
        print(f"window misses: predicted {p.sum():.1f}, engine {int(y.sum())}")


if __name__ == "__main__":
    main()
