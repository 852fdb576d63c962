"""What a forecast answers: per order the ETA and its risks, per route the return.

The result types are plain frozen dataclasses, JSON-ready through
:meth:`Forecast.as_dict` (the server's ``/forecast`` body), and
:func:`summarise` turns the sampled runs into them. Kept apart from the
sampling so that the API's schemas and tests can read a forecast without the
model behind it.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from twin.live.forecast_run import VehicleRun
from twin.live.state import LiveState

__all__ = ["Forecast", "OrderForecast", "RouteForecast", "percentiles", "summarise"]


@dataclass(frozen=True)
class OrderForecast:
    """One open order: when its vehicle arrives at the stop, and the risks.

    ``p_miss_window`` is the chance of arriving after ``window_end`` or not at
    all today (``p_unreached``: the working-day limit sends the vehicle home
    first); the ETA percentiles are over the samples that do arrive. Orders on
    no route have ``vehicle_id`` None and NaN ETAs (``p_miss_window`` 1 if the
    window has already closed, else NaN).
    """

    order_id: str
    vehicle_id: str | None
    eta_p10_s: float
    eta_p50_s: float
    eta_p90_s: float
    p_miss_window: float
    #: Position on the vehicle's remaining route (0: the next stop).
    stop_index: int | None = None
    p_unreached: float = math.nan
    #: Chance the attempt fails: nobody answers and the parcel may not be left.
    p_fail: float = math.nan


@dataclass(frozen=True)
class RouteForecast:
    """One vehicle's rest of the day: back at the hub when, overtime how likely."""

    vehicle_id: str
    stops_left: int
    return_p50_s: float
    return_p90_s: float
    p_overtime: float
    shift_end_s: float = math.nan
    return_p10_s: float = math.nan
    #: Stops the working-day limit is expected to leave unserved.
    expected_unreached: float = 0.0


@dataclass(frozen=True)
class Forecast:
    """The forecast of one live state (times in seconds since midnight of day 0)."""

    as_of_s: float
    elapsed_s: float
    samples: int
    orders: dict[str, OrderForecast]
    routes: dict[str, RouteForecast]
    #: ``LiveState.applied`` of the state forecast (which events it had seen).
    as_of_applied: int = 0
    seed: int = 0
    #: Open orders on no vehicle's route.
    unrouted: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: orders and routes as lists sorted by id, NaN as None."""
        return {
            "as_of_s": _clean(self.as_of_s),
            "as_of_applied": self.as_of_applied,
            "elapsed_s": round(self.elapsed_s, 4),
            "samples": self.samples,
            "seed": self.seed,
            "unrouted": self.unrouted,
            "orders": [_clean_dict(asdict(self.orders[k])) for k in sorted(self.orders)],
            "routes": [_clean_dict(asdict(self.routes[k])) for k in sorted(self.routes)],
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), allow_nan=False, separators=(",", ":"))


def _clean(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def percentiles(samples: np.ndarray) -> np.ndarray:
    """P10, P50 and P90 of the samples along the last axis (NaN = did not arrive).

    Read at the plotting positions ``p (n + 1)`` (numpy's "weibull"): then a new
    draw from the same distribution falls below the estimated P10 with chance 0.1
    and inside [P10, P90] with chance 0.8, whatever the number of samples. numpy's
    default ("linear", positions ``p (n - 1)``) draws the band inwards: with the
    server's 50 samples a perfect model's band would hold only 76 % of outcomes.
    """
    return np.asarray(np.nanquantile(samples, (0.1, 0.5, 0.9), axis=-1, method="weibull"))


def _clean_dict(d: dict[str, Any]) -> dict[str, Any]:
    return {k: _clean(v) for k, v in d.items()}


def summarise(
    state: LiveState,
    runs: list[VehicleRun],
    now_s: float,
    elapsed_s: float,
    *,
    samples: int,
    seed: int,
) -> Forecast:
    """The forecast of ``state`` from its sampled runs; open orders on no route as NaN."""
    orders: dict[str, OrderForecast] = {}
    routes: dict[str, RouteForecast] = {}
    for r in runs:
        orders.update(_order_forecasts(r))
        routes[r.vehicle.vehicle_id] = _route_forecast(r)
    unrouted = 0
    for oid in sorted(state.orders):
        o = state.orders[oid]
        if o.status not in ("open", "routed") or oid in orders:
            continue
        unrouted += 1
        orders[oid] = OrderForecast(
            order_id=oid,
            vehicle_id=None,
            eta_p10_s=math.nan,
            eta_p50_s=math.nan,
            eta_p90_s=math.nan,
            p_miss_window=1.0 if o.window_end_s < now_s else math.nan,
        )
    return Forecast(
        as_of_s=state.now_s if math.isfinite(state.now_s) else math.nan,
        elapsed_s=elapsed_s,
        samples=samples,
        orders=orders,
        routes=routes,
        as_of_applied=state.applied,
        seed=seed,
        unrouted=unrouted,
    )


def _order_forecasts(r: VehicleRun) -> dict[str, OrderForecast]:
    """Each order on the run's route: ETA percentiles over the samples that arrive."""
    orders: dict[str, OrderForecast] = {}
    if not r.orders:
        return orders
    reached = np.isfinite(r.eta)
    q = np.full((len(r.orders), 3), np.nan)
    some = reached.any(axis=1)
    if some.any():
        q[some] = percentiles(r.eta[some]).T
    ends = np.array([o.window_end_s for o in r.orders])
    miss = (~(r.eta <= ends[:, None])).mean(axis=1)
    unreached = 1.0 - reached.mean(axis=1)
    fail = r.fail.sum(axis=1) / np.maximum(reached.sum(axis=1), 1)
    for i, o in enumerate(r.orders):
        orders[o.order_id] = OrderForecast(
            order_id=o.order_id,
            vehicle_id=r.vehicle.vehicle_id,
            eta_p10_s=float(q[i, 0]),
            eta_p50_s=float(q[i, 1]),
            eta_p90_s=float(q[i, 2]),
            p_miss_window=float(miss[i]),
            stop_index=i,
            p_unreached=float(unreached[i]),
            p_fail=float(fail[i]) if some[i] else math.nan,
        )
    return orders


def _route_forecast(r: VehicleRun) -> RouteForecast:
    """The run's return to the hub and the chance it is after the shift's end."""
    vid = r.vehicle.vehicle_id
    back = r.back_s[np.isfinite(r.back_s)]
    rq = percentiles(back) if len(back) else np.full(3, np.nan)
    return RouteForecast(
        vehicle_id=vid,
        stops_left=len(r.orders),
        return_p50_s=float(rq[1]),
        return_p90_s=float(rq[2]),
        p_overtime=float((r.back_s > r.shift_end_s).mean()),
        shift_end_s=float(r.shift_end_s),
        return_p10_s=float(rq[0]),
        expected_unreached=float((~np.isfinite(r.eta)).sum(axis=0).mean()),
    )
