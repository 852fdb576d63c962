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
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["SIZES", "LockerBank", "LockerSettings", "LockerSite"]

Size = Literal["small", "medium", "large"]
SIZES: tuple[Size, ...] = ("small", "medium", "large")


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _default_compartments() -> dict[Size, int]:
    return {"small": 40, "medium": 24, "large": 8}


class LockerSite(_Settings):
    """One locker bank or staffed pickup point."""

    id: str
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    compartments: dict[Size, Annotated[int, Field(ge=0)]] = Field(
        default_factory=_default_compartments
    )


def _default_volumes() -> dict[Size, float]:
    return {"small": 0.02, "medium": 0.06, "large": 0.15}


class LockerSettings(_Settings):
    """The scenario's lockers and how customers use them (none by default)."""

    sites: tuple[LockerSite, ...] = ()
    #: Largest parcel volume each compartment size takes.
    compartment_volume_m3: dict[Size, Annotated[float, Field(gt=0)]] = Field(
        default_factory=_default_volumes
    )
    #: Customers only consider a locker this close to home (straight line).
    max_distance_km: Annotated[float, Field(gt=0)] = 2.0
    #: The chance of choosing it halves every ``half_distance_km`` further away.
    half_distance_km: Annotated[float, Field(gt=0)] = 0.8
    #: Share of customers who accept a redirection to a locker after a failed attempt.
    redirect_share: Annotated[float, Field(ge=0, le=1)] = 0.5
    #: A driver redirects only to a site this close to the customer's address.
    redirect_radius_km: Annotated[float, Field(gt=0)] = 3.0
    pickup_delay_h_median: Annotated[float, Field(gt=0)] = 14.0
    pickup_delay_sigma: Annotated[float, Field(ge=0)] = 0.9
    #: Parcels not collected by then go back to the hub and the sender.
    expiry_h: Annotated[float, Field(gt=0)] = 72.0
    #: Time to put one parcel into a compartment.
    deposit_s: Annotated[float, Field(ge=0)] = 20.0

    @model_validator(mode="after")
    def _valid(self) -> LockerSettings:
        ids = [s.id for s in self.sites]
        if len(set(ids)) != len(ids):
            raise ValueError(f"locker site ids must be unique, got {ids}")
        vols = [self.compartment_volume_m3.get(z, math.nan) for z in SIZES]
        if any(math.isnan(v) for v in vols) or vols != sorted(vols):
            raise ValueError(
                "compartment_volume_m3 needs small <= medium <= large, all three given"
            )
        return self


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
