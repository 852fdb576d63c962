"""Settings of demand and the people behind it: how many orders, when and where
they become known, with what promise, surges, and the households (Mesa customer
agents) who are or are not at home to take them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from twin.scenario._base import Hour, NonNeg, Positive, SettingsModel, Share, check_shares

__all__ = [
    "CustomerSettings",
    "DeliveryOption",
    "DemandSettings",
    "HouseholdType",
    "ServiceLevel",
    "Surge",
    "WindowKind",
]


ServiceLevel = Literal["next_day", "same_day"]
WindowKind = Literal["all_day", "four_hour", "two_hour"]
DeliveryOption = Literal["home", "safe_drop", "signature"]


def _default_service_levels() -> dict[ServiceLevel, float]:
    return {"next_day": 0.8, "same_day": 0.2}


def _default_windows() -> dict[WindowKind, float]:
    return {"all_day": 0.6, "four_hour": 0.25, "two_hour": 0.15}


def _default_options() -> dict[DeliveryOption, float]:
    # Most US parcels may be left at the door; a hand-over in person (``home``) or a
    # signature is the exception. With the at-home profiles below, this mix gives
    # about 8 % failed first attempts, the US figure (docs/background/validation.md).
    return {"home": 0.1, "safe_drop": 0.85, "signature": 0.05}


def _default_arrivals() -> tuple[float, ...]:
    # Orders released during the day (after the morning cutoff), by hour: online
    # shopping peaks late morning and evening.
    return (0, 0, 0, 0, 0, 0, 0, 1, 3, 5, 6, 6, 6, 5, 5, 5, 5, 6, 6, 5, 4, 3, 1, 0)


class Surge(SettingsModel):
    """Extra same-day orders placed between two hours of one day (a flash sale, a storm warning)."""

    day: Annotated[int, Field(ge=0)] = 0
    start_h: Hour = 11.0
    end_h: Hour = 14.0
    #: Poisson mean of the extra orders.
    orders: Annotated[int, Field(ge=1)] = 100

    @model_validator(mode="after")
    def _ordered(self) -> Surge:
        if self.end_h <= self.start_h:
            raise ValueError("end_h must be after start_h")
        return self


class DemandSettings(SettingsModel):
    """How many orders, when they become known, where, how big, with what promise."""

    orders_per_day: Annotated[int, Field(ge=0)] = 1500
    cutoff_h: Hour = 7.0
    share_known_at_cutoff: Share = 0.85
    arrival_weights: tuple[NonNeg, ...] = Field(default_factory=_default_arrivals)
    service_levels: dict[ServiceLevel, Share] = Field(default_factory=_default_service_levels)
    windows: dict[WindowKind, Share] = Field(default_factory=_default_windows)
    options: dict[DeliveryOption, Share] = Field(default_factory=_default_options)
    #: Promised windows, hours of the day: "all day", and the 4-hour and 2-hour slots.
    day_window_h: tuple[Hour, Hour] = (8.0, 18.0)
    slot_starts_4h: tuple[Hour, ...] = (8.0, 11.0, 14.0)
    slot_starts_2h: tuple[Hour, ...] = (8.0, 10.0, 12.0, 14.0, 16.0)
    #: Distinct customers per order of daily demand (repeat customers across days).
    customers_per_daily_order: Positive = 4.0
    volume_m3_median: Positive = 0.02
    volume_m3_sigma: NonNeg = 0.8
    weight_kg_median: Positive = 1.5
    weight_kg_sigma: NonNeg = 0.9
    #: Bursts of extra same-day orders on given days.
    surges: tuple[Surge, ...] = ()
    #: Relative address density by road class of the nearest street.
    density_by_class: dict[str, NonNeg] = Field(
        default_factory=lambda: {
            "residential": 1.0,
            "tertiary": 0.5,
            "secondary": 0.35,
            "primary": 0.15,
            "trunk": 0.02,
            "motorway": 0.0,
            "other": 0.3,
        }
    )

    @model_validator(mode="after")
    def _valid(self) -> DemandSettings:
        check_shares(self.service_levels, "service_levels")
        check_shares(self.windows, "windows")
        check_shares(self.options, "options")
        if len(self.arrival_weights) != 24:
            raise ValueError("arrival_weights needs 24 hourly values")
        if self.share_known_at_cutoff < 1 and sum(self.arrival_weights) <= 0:
            raise ValueError("arrival_weights must not all be 0 when orders arrive in the day")
        start, end = self.day_window_h
        if not 0 <= start < end <= 24:
            raise ValueError(
                f"day_window_h {list(self.day_window_h)}: the promised day must start before "
                "it ends, within 0-24 h (e.g. [8, 18])"
            )
        for name in ("slot_starts_4h", "slot_starts_2h"):
            for slot in getattr(self, name):
                if not start <= slot < end:
                    raise ValueError(
                        f"{name}: the slot starting at {slot:g} h starts outside "
                        f"day_window_h [{start:g}, {end:g}]; move it inside or widen the day"
                    )
        return self


class HouseholdType(SettingsModel):
    """A kind of household: who is at home when, and how they answer the door."""

    name: str
    share: Share
    at_home_by_hour: tuple[Share, ...]
    answer_door: Share = 0.95
    locker_preference: Share = 0.1

    @model_validator(mode="after")
    def _hours(self) -> HouseholdType:
        if len(self.at_home_by_hour) != 24:
            raise ValueError("at_home_by_hour needs 24 hourly probabilities")
        return self


def _default_households() -> tuple[HouseholdType, ...]:
    # Share of households with someone at home, by hour. Illustrative defaults in
    # the range reported for US urban households; calibrate from failed attempts.
    working: tuple[float, ...] = (0.95,) * 7 + (0.7, 0.5, 0.45, 0.42, 0.42, 0.45, 0.42)
    working += (0.42, 0.45, 0.55, 0.75, 0.85, 0.9, 0.92, 0.95, 0.95, 0.95)
    family: tuple[float, ...] = (0.97,) * 7 + (0.8, 0.7, 0.68, 0.68, 0.7, 0.72, 0.7, 0.72)
    family += (0.78, 0.85) + (0.9,) * 7
    retired: tuple[float, ...] = (0.98,) * 8 + (0.9, 0.85, 0.82, 0.82, 0.85, 0.85, 0.85)
    retired += (0.88, 0.9) + (0.95,) * 7
    return (
        HouseholdType(name="working", share=0.45, at_home_by_hour=working, answer_door=0.92),
        HouseholdType(name="family", share=0.4, at_home_by_hour=family, answer_door=0.95),
        HouseholdType(name="retired", share=0.15, at_home_by_hour=retired, answer_door=0.97),
    )


class CustomerSettings(SettingsModel):
    """The customers (Mesa agents): household mix and how satisfaction moves."""

    households: tuple[HouseholdType, ...] = Field(default_factory=_default_households)
    initial_satisfaction: Annotated[float, Field(ge=1, le=5)] = 4.0
    lateness_penalty_per_h: NonNeg = 0.5
    failed_attempt_penalty: NonNeg = 0.8
    eta_error_penalty_per_h: NonNeg = 0.4
    on_time_reward: NonNeg = 0.15
    #: Share of the gap to the initial level recovered each day (memory of past service).
    daily_recovery: Share = 0.2

    @model_validator(mode="after")
    def _shares(self) -> CustomerSettings:
        check_shares({h.name: h.share for h in self.households}, "households")
        return self
