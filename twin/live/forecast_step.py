"""The forecast's stepping: one stop of every sample of a vehicle, as the engine plays it.

Each function advances a :class:`~twin.live.forecast_run.VehicleRun` in place:
:func:`step` serves the next stop (the working-day check, the drive, the wait
for the window, the stop), :func:`reload` sends the samples back to the hub to
load the next trip, :func:`go_home` ends the day. The draws are made in the
engine's order within a stop, from the vehicle's own generator, so a forecast
is reproducible from its seed and the state alone.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

from twin.constants import DAY_S, HOUR_S
from twin.customers import answer_probability
from twin.fleet import (
    break_due_array,
    break_s,
    draw_service_array,
    handover_mean_s,
    load_time_s,
    past_working_day,
    safe_drop_mean_s,
)
from twin.live.forecast_model import ForecastModel
from twin.live.forecast_run import VehicleRun, trip_length
from twin.live.state import LiveOrder

__all__ = ["drive", "go_home", "reload", "service", "step", "truncated"]

#: Keeps a truncated draw off the last quantile (ndtri(1) is infinite).
_U_MAX = 1.0 - 1e-12
#: Redrawing a stop in progress that would already be over (:func:`_unfinished`):
#: draws per sample and round, and rounds. 400 tries leave a sample unresolved
#: with chance 2 % when only 1 % of stops last as long as this one has.
_REDRAW_BATCH = 20
_REDRAW_ROUNDS = 20


def drive(
    model: ForecastModel,
    run: VehicleRun,
    target: int,
    expected_s: np.ndarray,
    mask: np.ndarray,
    now_s: float,
) -> np.ndarray:
    """Drive here -> target for the samples in ``mask`` as the engine's ``_drive`` does
    (a break first if the duty-time rule says so); returns the arrival times.

    ``expected_s`` is the leg's expected time (border waits included) before the
    vehicle's speed factor and the weather. On the first leg the vehicle has been
    under way since ``t`` without arriving: the draw is conditioned on arriving
    after ``now_s``.
    """
    d = run.drivers
    n = len(run.t)
    z = run.rng.standard_normal(n)
    t0 = run.t
    scale = model.hourly(model.road_factor, t0) / run.vtype.speed_factor
    waits_mean, waits_draw = _border_waits(model, run, target, mask)
    driving = np.maximum(expected_s - waits_mean, 0.0) * scale
    drive = driving * np.exp(model.mu + model.sigma * z) + waits_draw * scale
    due = break_due_array(t0, drive, run.duty_from, d, crewed=run.vtype.crewed, mask=mask)
    start = np.where(due, t0 + break_s(d), t0)
    run.duty_from = np.where(due, start, run.duty_from)
    if run.first and run.here != target:
        rest = now_s - start - waits_draw * scale  # driving still to do: more than this
        need = mask & (rest > 0) & (driving > 0)
        if need.any():
            drive = np.where(need, truncated(model, driving, z, rest) + waits_draw * scale, drive)
    return np.where(mask, start + drive, run.t)


def _border_waits(
    model: ForecastModel, run: VehicleRun, target: int, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and drawn border waits (gamma, CV ``border.wait_cv``) of each sample's leg.

    Drawn bucket by bucket and crossing by crossing, after the leg's noise draw:
    a change to that order would change every later draw of the vehicle.
    """
    n = len(run.t)
    bk = model.bucket(run.t)
    waits_mean = np.zeros(n)
    waits_draw = np.zeros(n)
    wait_cv = model.scenario.traffic.border.wait_cv
    for b in np.unique(bk[mask]).tolist():
        means = model.wait_means(run.mover, b, run.here, target)
        if not means:
            continue
        sel = bk == b
        for mean in means:
            waits_mean[sel] += mean
            if mean <= 0:
                continue
            if wait_cv == 0:
                waits_draw[sel] += mean
            else:
                shape = 1.0 / (wait_cv * wait_cv)
                waits_draw[sel] += run.rng.gamma(shape, mean / shape, int(sel.sum()))
    return waits_mean, waits_draw


def truncated(
    model: ForecastModel, driving: np.ndarray, z: np.ndarray, rest: np.ndarray
) -> np.ndarray:
    """``driving * LN`` conditioned on exceeding ``rest`` (same uniform as ``z``)."""
    if model.sigma == 0:
        return np.maximum(driving, rest)
    with np.errstate(divide="ignore", invalid="ignore"):
        z_rest = (np.log(np.maximum(rest, 1e-9) / np.maximum(driving, 1e-9)) - model.mu) / (
            model.sigma
        )
    u0 = ndtr(z_rest)
    u = np.minimum(u0 + (1.0 - u0) * ndtr(z), _U_MAX)
    out = driving * np.exp(model.mu + model.sigma * ndtri(u))
    return np.asarray(np.maximum(out, rest))


def service(
    model: ForecastModel, run: VehicleRun, order: LiveOrder, start: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The stop as the engine's ``attempt`` plays it: returns (departure, failed).

    The customer's presence is drawn at the door (after parking and walking)
    from the hour's answer probability of the household mix; damage, access
    problems, refusals and a missing safe place fail an attempt at the scenario's
    chances (``failures``).
    """
    s = model.scenario.service
    vt = run.vtype
    n = len(start)

    def draw(mean: float) -> np.ndarray:
        return draw_service_array(run.rng, mean, n, mu=model.svc_mu, sigma=model.svc_sigma)

    if vt.stop_overhead_s is None:
        overhead = draw(s.parking_s_mean) + draw(s.walk_s_mean)
    else:
        overhead = draw(vt.stop_overhead_s)
    door = start + overhead
    hour = np.floor((door % DAY_S) / HOUR_S).astype(np.int64)
    p = answer_probability(model.scenario.customers, hour, model.hourly(model.stay_home, door))
    grounded = vt.mode != "drone"
    present = (run.rng.random(n) < p) & grounded
    handover = draw(handover_mean_s(s, order.option, vt))
    safe_drop = order.option == "safe_drop" and not vt.needs_presence
    dropped = draw(safe_drop_mean_s(s)) if grounded else np.zeros(n)
    walk_back = draw(s.walk_s_mean) if vt.stop_overhead_s is None else np.zeros(n)
    # The other ways an attempt fails (scenario.failures), in the engine's order: a
    # damaged parcel or an access problem before anyone answers, a refusal at the
    # door, no safe place for a safe drop.
    f = model.scenario.failures
    u = run.rng.random((4, n))
    stopped = grounded & ((u[0] < f.damaged_prob) | (u[1] < f.access_problem_prob))
    present &= ~stopped
    refused = present & (u[2] < f.refusal_prob)
    no_place = grounded & (u[3] < f.no_safe_place_prob)
    drops = ~present & ~stopped & safe_drop & ~no_place
    at_door = np.where(present, handover, np.where(drops, dropped, 0.0))
    failed = ~(present | drops) | refused
    return door + at_door + walk_back, failed


def go_home(model: ForecastModel, run: VehicleRun, mask: np.ndarray, now_s: float) -> None:
    """The samples in ``mask`` drive back to the hub from where they are."""
    if not mask.any():
        return
    if run.here == run.hub:
        run.back_s = np.where(mask, run.t, run.back_s)
        return
    expected = model.expected_back(run.mover, run.hub, run.here, run.t, mask)
    ok = mask & np.isfinite(expected)
    arrive = drive(model, run, run.hub, np.where(ok, expected, 0.0), ok, now_s)
    run.back_s = np.where(ok, arrive, run.back_s)


def reload(model: ForecastModel, run: VehicleRun, k: int, now_s: float) -> None:
    """Back to the hub and load the trip that starts at stop ``k``, as the engine's
    ``_load`` does between trips (the wait for a free dock is not modelled).

    A vehicle last seen at its hub is already loading: since it got there
    (``at_hub_since_s``), so it leaves when that load is done or, if it was
    seen there later than that, not before it was last seen.
    """
    load = load_time_s(run.hub_settings, run.vtype, trip_length(run.reload, k))
    since = run.vehicle.at_hub_since_s
    if k == 0 and since is not None:
        run.t = np.maximum(run.t, since + load)
    else:
        if run.here != run.hub:
            expected = model.expected_back(run.mover, run.hub, run.here, run.t, run.going)
            ok = run.going & np.isfinite(expected)
            run.t = drive(model, run, run.hub, np.where(ok, expected, 0.0), ok, now_s)
            run.going = ok
        run.t = np.where(run.going, run.t + load, run.t)
    run.here = run.hub
    run.first = False


def wait_for_window(
    model: ForecastModel, run: VehicleRun, arrive: np.ndarray, opens_s: float, mask: np.ndarray
) -> np.ndarray:
    """When each sample's service at a stop starts, as the engine's ``wait_for_window``
    plays the wait: a break that falls due before the window opens is taken in the
    wait, ending by the opening if the wait allows."""
    d = run.drivers
    t = np.asarray(arrive, dtype=float).copy()
    if run.vtype.crewed and d.break_min > 0:
        length = break_s(d)
        while True:
            due = run.duty_from + d.break_after_h * HOUR_S
            take = mask & (t < opens_s) & (due < opens_s)
            if not take.any():
                break
            begin = np.maximum(t, np.minimum(due, opens_s - length))
            t = np.where(take, begin + length, t)
            run.duty_from = np.where(take, t, run.duty_from)
    return np.maximum(t, opens_s)


def _unfinished(
    model: ForecastModel,
    run: VehicleRun,
    order: LiveOrder,
    start: np.ndarray,
    depart: np.ndarray,
    failed: np.ndarray,
    mask: np.ndarray,
    now_s: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The first stop conditioned on being unfinished at ``now_s`` (no outcome has come).

    A sample whose stop would be over by then takes the first of fresh draws of the
    stop that is not (rejection sampling, :data:`_REDRAW_BATCH` draws at a time), so
    the rest of the stop has its conditional law even when the stop has already
    lasted longer than most do. Clipping such samples to end at ``now_s`` instead
    would end a stop in progress too soon, and every later ETA with it. Samples
    with no such draw after :data:`_REDRAW_ROUNDS` rounds (a stop far beyond its
    usual length) end at ``now_s``.
    """
    depart, failed = depart.copy(), failed.copy()
    for _ in range(_REDRAW_ROUNDS):
        again = np.flatnonzero(mask & (depart < now_s))
        if not len(again):
            break
        tries = np.repeat(again, _REDRAW_BATCH)
        drawn, drawn_failed = service(model, run, order, start[tries])
        over = (drawn >= now_s).reshape(len(again), _REDRAW_BATCH)
        found = over.any(axis=1)
        pick = np.arange(len(again)) * _REDRAW_BATCH + over.argmax(axis=1)
        depart[again[found]] = drawn[pick[found]]
        failed[again[found]] = drawn_failed[pick[found]]
    return np.maximum(depart, now_s), failed


def step(model: ForecastModel, run: VehicleRun, k: int, now_s: float) -> None:
    """Serve stop ``k`` in every sample still on the route, as ``_deliver_trip`` does:
    first the working-day check (can the stop be served and the hub reached in
    time, by expected times?), then the drive, the wait for the window (with a
    break in it when one falls due), the stop.

    The expected legs must be in the model's memo (:meth:`ForecastModel.resolve`).
    """
    order = run.orders[k]
    target = order.node
    scale = model.hourly(model.road_factor, run.t) / run.vtype.speed_factor
    leg = model.expected_legs(run.mover, run.here, target, run.t, run.going)
    back = model.expected_back(run.mover, run.hub, target, run.t, run.going)
    with np.errstate(invalid="ignore"):
        over = past_working_day(
            run.t, leg * scale, run.expected_service[k], back * scale, run.limit_s
        )
    over |= ~np.isfinite(leg)
    home = run.going & over
    if home.any():
        go_home(model, run, home, now_s)
        run.going = run.going & ~home
    mask = run.going
    arrive = drive(model, run, target, np.where(mask, leg, 0.0), mask, now_s)
    start = wait_for_window(model, run, arrive, order.window_start_s, mask)
    depart, failed = service(model, run, order, start)
    if k == 0:
        depart, failed = _unfinished(model, run, order, start, depart, failed, mask, now_s)
    run.eta[k] = np.where(mask, arrive, np.nan)
    run.fail[k] = mask & failed
    run.t = np.where(mask, depart, run.t)
    run.here = target
    run.first = False
