"""Delivery modes: what each kind of vehicle is, can carry and may do.

A vehicle type's ``mode`` decides which rules apply to it; the numbers (speed,
range, payload, costs) are fields of the type, with defaults per mode that a
scenario may override. The rules:

* **van**: a driver (paid by the hour, breaks and hours of service), any road.
* **cargo_bike**: a rider (paid, breaks), small capacity, a fixed riding speed
  unaffected by car congestion, on the bike network (:mod:`twin.maps.modal`),
  kept off trunk roads; usually based at a micro-hub.
* **autonomous_van**: no driver (no wage, no breaks, no hours limit) but a
  remote-supervision cost per operating hour; only on the road classes of its
  operating domain; the customer must come out to the curb (longer handover,
  someone must be present: no safe drop).
* **robot** (sidewalk robot): no driver, walking speed on the walk network
  (sidewalks both ways, footpaths; kept off the sidewalks of trunk and primary
  roads), a few parcels, a range
  per trip; the customer must be present to unlock the bay, otherwise the
  robot brings the parcel back.
* **drone**: no driver, one parcel under a payload and a size limit, flies
  straight lines around no-fly zones (:mod:`twin.airspace`) at cruise speed,
  lowers the parcel without anyone present (safe-drop orders only), a range
  per sortie with a battery swap between sorties, grounded by wind or rain
  above its limits (:mod:`twin.weather`). Launched from a hub, or carried by
  a van (truck-and-drone, ``VehicleType.drone``): launched at one of the van's
  stops to a nearby customer and recovered there before the van drives on.

This module holds the rules as plain data and pure functions; the engine
enforces them on every plan and every stop, and policies read them to decide
which mode serves which order.
"""

from __future__ import annotations

from typing import Any, Final, Protocol

__all__ = [
    "CREWED",
    "MODES",
    "MODE_DEFAULTS",
    "NEEDS_PRESENCE",
    "parcel_misfit",
]

MODES: Final = ("van", "cargo_bike", "autonomous_van", "robot", "drone")
#: Modes with a paid driver or rider who takes breaks and has hours of service.
CREWED: Final = frozenset({"van", "cargo_bike"})
#: Modes that cannot leave a parcel: someone must be there to take it.
NEEDS_PRESENCE: Final = frozenset({"autonomous_van", "robot"})

# Illustrative defaults: magnitudes from public pilots and operator reports
# (e-cargo bikes 150-250 kg payload at 15-20 km/h; sidewalk robots 2-3 bays,
# ~6 km/h, a few km per trip; delivery drones ~2.5 kg, ~100 km/h cruise, ~20 km
# per sortie, grounded above ~35 km/h wind or in steady rain). Calibrate locally.
MODE_DEFAULTS: Final[dict[str, dict[str, Any]]] = {
    "van": {},
    "cargo_bike": {
        "capacity_parcels": 40,
        "capacity_volume_m3": 1.2,
        "capacity_weight_kg": 150.0,
        "speed_kph": 15.0,
        "network": "bike",
        "road_classes": ("primary", "secondary", "tertiary", "residential", "other"),
        "max_trips": 3,
        "fixed_cost_per_day": 18.0,
        "cost_per_km": 0.04,
        "co2_kg_per_km": 0.005,
        "stop_overhead_s": 50.0,
    },
    "autonomous_van": {
        "capacity_parcels": 80,
        "capacity_volume_m3": 6.0,
        "capacity_weight_kg": 600.0,
        "road_classes": ("secondary", "tertiary", "residential", "other"),
        "fixed_cost_per_day": 95.0,
        "cost_per_km": 0.30,
        "co2_kg_per_km": 0.10,
        "supervision_cost_per_h": 6.0,
        "stop_overhead_s": 40.0,
        "handover_extra_s": 120.0,
    },
    "robot": {
        "capacity_parcels": 3,
        "capacity_volume_m3": 0.09,
        "capacity_weight_kg": 25.0,
        "max_parcel_volume_m3": 0.04,
        "speed_kph": 6.0,
        "network": "walk",
        "road_classes": ("secondary", "tertiary", "residential", "other"),
        "range_km": 8.0,
        "max_trips": 12,
        "fixed_cost_per_day": 12.0,
        "cost_per_km": 0.02,
        "co2_kg_per_km": 0.004,
        "supervision_cost_per_h": 1.5,
        "stop_overhead_s": 0.0,
        "handover_extra_s": 60.0,
    },
    "drone": {
        "capacity_parcels": 1,
        "capacity_volume_m3": 0.03,
        "capacity_weight_kg": 2.5,
        "speed_kph": 90.0,
        "range_km": 20.0,
        "max_trips": 40,
        "fixed_cost_per_day": 30.0,
        "cost_per_km": 0.08,
        "co2_kg_per_km": 0.015,
        "supervision_cost_per_h": 4.0,
        "stop_overhead_s": 45.0,
    },
}


class _Type(Protocol):
    @property
    def mode(self) -> str: ...
    @property
    def capacity_weight_kg(self) -> float: ...
    @property
    def capacity_volume_m3(self) -> float: ...
    @property
    def max_parcel_volume_m3(self) -> float | None: ...


def parcel_misfit(vtype: _Type, *, weight_kg: float, volume_m3: float, option: str) -> str:
    """Why a vehicle of this type cannot take this parcel ("" if it can).

    Checks what one parcel alone rules out (payload, parcel size, the delivery
    option); route-dependent limits (range, no-fly zones, presence) are checked
    where the route is known.
    """
    if weight_kg > vtype.capacity_weight_kg + 1e-9:
        return f"weight {weight_kg:.2f} kg > payload {vtype.capacity_weight_kg:g} kg"
    size = vtype.max_parcel_volume_m3 or vtype.capacity_volume_m3
    if volume_m3 > size + 1e-12:
        return f"volume {volume_m3:.3f} m3 > largest parcel {size:g} m3"
    if vtype.mode == "drone" and option != "safe_drop":
        return f"a drone can only drop the parcel, but the order asks for {option!r}"
    return ""
