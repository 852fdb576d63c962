"""The Monte Carlo state of one vehicle's rest of the day, and how it is set up.

A :class:`VehicleRun` holds all samples of one vehicle as arrays of shape
``(samples,)`` (time, duty clock, still on the route) and, per remaining stop,
the sampled arrival and failure. :func:`start_run` places it at the vehicle's
last known position and time, as the live state last saw it; the stepping
(:mod:`twin.live.forecast_step`) advances it stop by stop.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import numpy as np

from twin.constants import DAY_S
from twin.fleet import (
    break_s,
    expected_service_s,
    load_time_s,
    shift_bounds_s,
    working_day_end_s,
)
from twin.live.forecast_model import ForecastModel
from twin.live.state import LiveOrder, LiveState, LiveVehicle
from twin.scenario import DriverSettings, Hub, VehicleType

__all__ = ["VehicleRun", "start_run", "trip_length"]


def trip_length(reload: np.ndarray, k: int) -> int:
    """Stops from ``k`` up to the next reload (or the route's end): one trip's parcels."""
    later = np.flatnonzero(reload[k + 1 :])
    return int(later[0]) + 1 if len(later) else len(reload) - k


@dataclass
class VehicleRun:
    """The samples of one vehicle, advanced stop by stop (arrays of shape (samples,))."""

    vehicle: LiveVehicle
    vtype: VehicleType
    #: Its drivers' shift, break rule and limits (the scenario's ``drivers`` for a
    #: vehicle the scenario's fleet does not have).
    drivers: DriverSettings
    mover: int
    hub: int
    hub_settings: Hub
    orders: list[LiveOrder]
    #: Per stop: the vehicle goes back to the hub and loads the next trip first.
    reload: np.ndarray
    rng: np.random.Generator
    t: np.ndarray
    duty_from: np.ndarray
    here: int
    limit_s: float
    shift_end_s: float
    #: Samples still on the route (False once the working-day limit sent them home).
    going: np.ndarray
    eta: np.ndarray
    fail: np.ndarray
    back_s: np.ndarray
    #: The next leg is the one under way since the last known position.
    first: bool = True
    expected_service: list[float] = field(default_factory=list)


def start_run(
    model: ForecastModel,
    state: LiveState,
    v: LiveVehicle,
    now_s: float,
    *,
    samples: int,
    seed: int,
) -> VehicleRun | None:
    """The samples of one vehicle at its last known position and time (None if off duty).

    The draws are seeded by ``seed``, ``state.applied`` and the vehicle's id, so
    the same state gives the same forecast and one vehicle's draws do not depend
    on which other vehicles are on duty.
    """
    if v.status not in ("on_duty", "on_break"):
        return None
    sc = model.scenario
    d = model.drivers_of.get(v.vehicle_id, sc.drivers)
    type_name = model.type_of.get(v.vehicle_id, model.default_type)
    vtype = sc.vehicle_types[type_name]
    hub = state.hub_nodes.get(v.hub_id, model.hub_nodes.get(v.hub_id))
    if hub is None:
        hub = next(iter(model.hub_nodes.values()))
    orders = [
        state.orders[oid]
        for oid in v.route
        if oid in state.orders and state.orders[oid].status == "routed"
    ]
    marks = set(v.reload_before)
    reload = np.array([o.order_id in marks for o in orders], dtype=bool)
    hub_settings = next((h for h in sc.hubs if h.id == v.hub_id), sc.hubs[0])
    here = v.node if v.node is not None else hub
    seen = v.seen_s if v.seen_s is not None else now_s
    on_duty = v.on_duty_s if v.on_duty_s is not None else seen
    shift_start, day_shift_end = shift_bounds_s(math.floor(on_duty / DAY_S), d)
    shift_end = v.shift_end_s if v.shift_end_s is not None else day_shift_end
    t0, duty = seen, on_duty
    if v.status == "on_break":
        start = v.break_start_s if v.break_start_s is not None else seen
        t0 = duty = max(start + break_s(d), now_s)
    elif here == hub and seen <= on_duty and orders:
        # On duty at the hub and not seen since: the first trip is still being loaded.
        reload[0] = False
        t0 = duty = max(on_duty, shift_start)
        t0 += load_time_s(hub_settings, vtype, trip_length(reload, 0))
    key = int.from_bytes(hashlib.sha256(v.vehicle_id.encode()).digest()[:8], "little")
    n = samples
    return VehicleRun(
        vehicle=v,
        vtype=vtype,
        drivers=d,
        mover=model.mover_of[type_name],
        hub=hub,
        hub_settings=hub_settings,
        orders=orders,
        reload=reload,
        rng=np.random.default_rng([seed, state.applied, key]),
        t=np.full(n, t0),
        duty_from=np.full(n, duty),
        here=here,
        limit_s=working_day_end_s(min(on_duty, shift_start), d),
        shift_end_s=shift_end,
        going=np.ones(n, dtype=bool),
        eta=np.full((len(orders), n), np.nan),
        fail=np.zeros((len(orders), n), dtype=bool),
        back_s=np.full(n, np.nan),
        expected_service=[expected_service_s(sc, o.option, vtype) for o in orders],
    )
