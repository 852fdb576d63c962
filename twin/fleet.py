"""Vehicles and drivers as plain data, and the rules that govern a working day.

A vehicle is driven by one driver (same id suffix) and based at one hub. Rules
(applied by the engine): a break of ``break_min`` is taken before a leg that
would take time on duty since the shift start or the last break past
``break_after_h``; the working day may not exceed ``max_working_h`` (the driver
heads back instead of starting a stop that would overrun it); time past
``shift_end_h`` is overtime.
"""

from __future__ import annotations

from dataclasses import dataclass

from twin.scenario import Scenario, VehicleType

__all__ = ["Vehicle", "build_fleet"]

H = 3600.0


@dataclass(frozen=True)
class Vehicle:
    """One vehicle of the fleet, with its driver and home hub."""

    id: str
    driver_id: str
    type_name: str
    type: VehicleType
    hub: str
    hub_node: int

    @property
    def capacity(self) -> tuple[float, float, float]:
        t = self.type
        return (float(t.capacity_parcels), t.capacity_volume_m3, t.capacity_weight_kg)


def build_fleet(scenario: Scenario, hub_nodes: dict[str, int]) -> list[Vehicle]:
    """All vehicles of the scenario, numbered per hub and type (``hub/van-01``)."""
    vehicles = []
    for entry in scenario.fleet:
        for k in range(entry.count):
            vid = f"{entry.hub}/{entry.type}-{k + 1:02d}"
            vehicles.append(
                Vehicle(
                    id=vid,
                    driver_id=f"driver:{vid}",
                    type_name=entry.type,
                    type=scenario.vehicle_types[entry.type],
                    hub=entry.hub,
                    hub_node=hub_nodes[entry.hub],
                )
            )
    return vehicles
