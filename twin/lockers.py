"""Parcel lockers and pickup points: compartments by size, choice, pickup and expiry.

A locker site has compartments of a few sizes. A parcel takes the smallest
compartment it fits; a site with no free fitting compartment cannot take it.
Parcels reach a locker two ways: the customer chose the locker when ordering
(the Mesa customer agent decides by distance and its household's locker
preference: :meth:`twin.customers.CustomerModel.choose_locker`), or a driver
redirects the parcel there after nobody answered the door (if the customer
accepts, and a site near the address has room: the compartment is reserved at
once and the parcel deposited on the way back to the hub). The customer picks
the parcel up after a lognormal delay; one not collected by ``expiry_h`` is
taken back to the hub and returned to the sender.

:class:`LockerBank` is the occupancy state the engine keeps; it never lets a
site hold more parcels of a size than it has compartments.
"""

from __future__ import annotations

import math

import numpy as np

from twin.scenario.operations import SIZES, LockerSettings, LockerSite, Size

# Settings classes in __all__ are the scenario's (twin.scenario is the contract),
# re-exported here under the names they always had.
__all__ = ["SIZES", "LockerBank", "LockerSettings", "LockerSite"]


class LockerBank:
    """Occupancy of every site by compartment size.

    Parameters
    ----------
    settings : LockerSettings
    xy : numpy.ndarray
        Each site's position in the network's metric projection (sites order).
    nodes : sequence of int
        Each site's network node (where a vehicle stops to deposit).
    """

    def __init__(self, settings: LockerSettings, xy: np.ndarray, nodes: list[int]) -> None:
        self.settings = settings
        self.ids = [s.id for s in settings.sites]
        self.xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        self.node = dict(zip(self.ids, nodes, strict=True))
        self.capacity = {s.id: dict(s.compartments) for s in settings.sites}
        self.used = {s.id: dict.fromkeys(SIZES, 0) for s in settings.sites}

    def __bool__(self) -> bool:
        return bool(self.ids)

    def size_for(self, volume_m3: float) -> Size | None:
        """The smallest compartment size a parcel fits (None: too big for any)."""
        vols = self.settings.compartment_volume_m3
        return next((z for z in SIZES if volume_m3 <= vols[z] + 1e-12), None)

    def free_size(self, site: str, volume_m3: float) -> Size | None:
        """The smallest free compartment at ``site`` the parcel fits, if any."""
        vols = self.settings.compartment_volume_m3
        for z in SIZES:
            if volume_m3 <= vols[z] + 1e-12 and self.used[site][z] < self.capacity[site].get(z, 0):
                return z
        return None

    def take(self, site: str, size: Size) -> None:
        if self.used[site][size] >= self.capacity[site].get(size, 0):
            raise RuntimeError(f"locker {site!r} has no free {size} compartment")  # engine bug
        self.used[site][size] += 1

    def free(self, site: str, size: Size) -> None:
        self.used[site][size] -= 1

    def nearest(self, xy: np.ndarray, within_km: float) -> list[tuple[float, str]]:
        """Sites within ``within_km`` of a point, nearest first: (distance km, id)."""
        if not self.ids:
            return []
        d = np.linalg.norm(self.xy - np.asarray(xy, dtype=float), axis=1) / 1000.0
        order = np.argsort(d, kind="stable")
        return [(float(d[i]), self.ids[i]) for i in order if d[i] <= within_km]

    def pickup_delay_s(self, rng: np.random.Generator) -> float:
        s = self.settings
        return float(s.pickup_delay_h_median * math.exp(s.pickup_delay_sigma * rng.normal()) * 3600)
