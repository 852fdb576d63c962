"""Monte Carlo forecast of the rest of the day from the live state.

:class:`Forecaster` plays each vehicle's remaining route forward from where the
twin last saw it, ``samples`` times, and summarises per order the arrival at the
stop (P10 / P50 / P90) and the risk of arriving after the window, and per route
when the vehicle is back at its hub and the risk that this is after the end of
the driver's shift.

It is the engine's model of a day, not a second one: the scenario's
:class:`~twin.traveltime.TravelTimes` per vehicle type (:func:`~twin.world.make_movers`:
congestion by road class and hour, school zones, closures, the vehicle type's
speed), the weather's road factor, the engine's leg noise (lognormal driving
time with mean 1 and CV ``traffic.noise.cv``, gamma border waits), service
times drawn as the engine's stop draws them (:func:`twin.sim.stops.attempt`, with
the stop model of :mod:`twin.fleet`: parking and walking,
handover if someone answers, a safe drop at half the handover time, the walk
back), the wait for a window that has not opened, the break rule of the
drivers' settings (:func:`twin.fleet.break_due_array`), the working-day limit
(:func:`twin.fleet.past_working_day`) that sends a vehicle home with
stops left, and the trips of a route: before each stop the route names in
``reload_before`` the vehicle drives back to its hub and loads (the engine's
:func:`~twin.fleet.load_time_s`; the wait for a free dock is not
modelled). Only the households are unknown to the live twin, so presence is the
household mix's average chance that someone answers at that hour
(:func:`~twin.customers.answer_probability`).

Why not run the engine 50 times: a SimPy day of the Laredo baseline takes about
2 s without planning, so 50 samples would take more than a minute on two cores.
Here the samples are the rows of NumPy arrays advanced stop by stop (all
samples of a vehicle at once), and the cost is the expected travel times: one
:meth:`TravelTimes.matrix` call per (vehicle type, 15-minute bucket) and step of
the routes, memoised across predictions, so a refresh a minute later reuses
almost every leg.

Conditioning on what is known: a vehicle left its last known position at
``seen_s`` and has not reported arriving anywhere since, so its first leg is
drawn conditional on arriving after now (a truncated lognormal), and its
first stop is drawn conditional on not being finished by now (no outcome has
come): samples that would have finished are drawn again. The percentiles are
read at the plotting positions ``p (n + 1)``, so that the P10–P90 band holds
80 % of what happens with 50 samples as with 5,000.

The pieces, one module each: :mod:`twin.live.forecast_model` (the day's model
and the memos), :mod:`twin.live.forecast_run` (one vehicle's samples and their
set-up), :mod:`twin.live.forecast_step` (a stop, a reload, the way home) and
:mod:`twin.live.forecast_results` (what a forecast answers). This module puts
them together and is the one to import from.
"""

from __future__ import annotations

import math
import time

import numpy as np

from twin.live.forecast_model import ForecastModel
from twin.live.forecast_results import Forecast, OrderForecast, RouteForecast, summarise
from twin.live.forecast_run import start_run
from twin.live.forecast_step import go_home, reload, step
from twin.live.state import LiveState
from twin.maps.network import RoadNetwork
from twin.scenario import Scenario

__all__ = ["Forecast", "Forecaster", "OrderForecast", "RouteForecast"]


class Forecaster:
    """Forecasts the rest of the day from a :class:`LiveState`.

    Parameters
    ----------
    scenario : Scenario
        The (calibrated) scenario: travel, service, presence, drivers, weather.
    network : RoadNetwork
        The network the live state snaps to.
    samples : int, optional
        Monte Carlo samples per forecast (default 50).
    seed : int, optional
        With ``state.applied``, seeds the draws: the same state gives the same
        forecast, a state with one more event gets fresh draws.

    Notes
    -----
    Keep one Forecaster for the server's life: it holds the travel times (and
    their shortest-path rows) and the memo of expected legs, which make a
    refresh much cheaper than the first forecast. The memo changes only speed,
    never values, so a forecast does not depend on what was forecast before.
    Not thread-safe: run one :meth:`predict` at a time (the server does).
    """

    def __init__(
        self, scenario: Scenario, network: RoadNetwork, *, samples: int = 50, seed: int = 0
    ) -> None:
        if samples < 1:
            raise ValueError(f"samples must be at least 1, got {samples}")
        if seed < 0:
            raise ValueError(f"seed must be non-negative, got {seed}")
        self.scenario = scenario
        self.network = network
        self.samples = int(samples)
        self.seed = int(seed)
        self.model = ForecastModel(scenario, network)
        # The model's public pieces, under the names they have always had here.
        self.travel = self.model.travel
        self.weather = self.model.weather
        self.hub_nodes = self.model.hub_nodes
        self.bucket_s = self.model.bucket_s

    def predict(self, state: LiveState) -> Forecast:
        """Forecast every routed order and every vehicle on duty in ``state``.

        All vehicles are advanced stop by stop together, so that the expected
        legs of one step are resolved in one ``matrix`` call per (mover, bucket).
        """
        started = time.perf_counter()
        model = self.model
        now_s = state.now_s if math.isfinite(state.now_s) else 0.0
        runs = [
            run
            for vid in sorted(state.vehicles)
            if (
                run := start_run(
                    model, state, state.vehicles[vid], now_s, samples=self.samples, seed=self.seed
                )
            )
            is not None
        ]
        steps = max((len(r.orders) for r in runs), default=0)
        for k in range(steps):
            live = [r for r in runs if k < len(r.orders) and r.going.any()]
            for r in live:
                if r.reload[k]:
                    reload(model, r, k, now_s)
            needs: dict[tuple[int, int], set[tuple[int, int]]] = {}
            for r in live:
                for b in np.unique(model.bucket(r.t[r.going])).tolist():
                    needs.setdefault((r.mover, b), set()).add((r.here, r.orders[k].node))
            model.resolve(needs)
            for r in live:
                step(model, r, k, now_s)
        for r in runs:
            go_home(model, r, r.going, now_s)
        elapsed_s = time.perf_counter() - started
        return summarise(state, runs, now_s, elapsed_s, samples=self.samples, seed=self.seed)
