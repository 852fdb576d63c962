"""Hub docks as a queue: the morning loading wave against its closed form.

Every van of a hub starts its shift at the same moment and asks for a loading
dock; ``c`` docks serve them first come, first served, each load taking the
same time ``L`` (setup only, no per-parcel time). That is a D/D/c queue with
one batch arrival: the ``k``-th van to get a dock (``k = 0, 1, ...``) waits
``floor(k / c) * L``, so ``n`` vans wait ``L / n * sum_k floor(k / c)`` on
average. Any deviation (a dock handed out twice, a release missed, a van
served out of turn or loading for the wrong time) moves some wait. The check
compares every van's wait, not only the mean.

Source: the closed form follows from the definition of the queue (Kendall's
D/D/c with all customers arriving at once); see e.g. Gross, Shortle, Thompson
& Harris, *Fundamentals of Queueing Theory*, 4th ed., ch. 1.
"""

from __future__ import annotations

import json

import numpy as np

from twin.maps import load_network
from twin.scenario import Scenario
from twin.sim import Simulation
from twin.validate.check import CheckResult

__all__ = ["dock_queue", "expected_waits"]

#: Seed of the check's scenario.
SEED = 11


def expected_waits(vans: int, docks: int, load_s: float) -> np.ndarray:
    """Waits of the ``vans`` in dock order: ``floor(k / docks) * load_s``."""
    return np.arange(vans) // docks * load_s


def dock_queue(fast: bool = False) -> list[CheckResult]:
    """Morning dock waits at a hub with fewer docks than vans (see module docstring)."""
    vans, docks, load_s = (6, 2, 600.0) if fast else (15, 4, 900.0)
    scenario = Scenario.model_validate(
        {
            "name": "validate_dock_queue",
            "seed": SEED,
            "days": 1,
            "map": {"ref": "grid-8x8"},
            "hubs": [
                {"id": "hub", "docks": docks, "load_setup_s": load_s, "load_time_per_parcel_s": 0}
            ],
            # Small vans and enough orders for every van to leave in the morning wave.
            "vehicle_types": {"van": {"capacity_parcels": 6, "max_trips": 1}},
            "fleet": [{"type": "van", "count": vans, "hub": "hub"}],
            "demand": {"orders_per_day": 6 * vans, "share_known_at_cutoff": 1.0},
        }
    )
    result = Simulation(scenario, load_network("grid-8x8")).run()
    events = result.events
    first_loads = events[events["kind"] == "load_start"].groupby("vehicle_id").head(1)
    shift_starts = events[events["kind"] == "shift_start"].groupby("vehicle_id")["time_s"].first()
    # Each van's first load of the day: the morning wave.
    waits = np.sort([float(json.loads(d)["dock_wait_s"]) for d in first_loads["details"]])
    n = len(waits)
    expected = expected_waits(n, docks, load_s)
    started_together = shift_starts.nunique() == 1
    exact = started_together and n > docks and np.allclose(waits, expected, atol=1e-6)
    simulated = float(waits.mean()) if n else float("nan")
    check = CheckResult(
        name="dock_queue",
        what=f"mean dock wait of {n} vans at {docks} docks, {load_s:.0f} s loads (D/D/c)",
        unit="s",
        expected=float(expected.mean()) if n else float("nan"),
        simulated=simulated,
        low=simulated,
        high=simulated,
        passed=bool(exact),
        source="D/D/c closed form, one batch arrival: wait of the k-th van = floor(k/c) L",
        n=n,
        band="exact",
    )
    return [check]
