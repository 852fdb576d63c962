"""Policy traits: declared by every policy, read and checked by one function.

The table pins each shipped policy's traits to what the engine read from it
before the traits were declared (``getattr`` with defaults): declaring them
must not change when a policy is asked or whether its vehicles wait for work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from twin.dispatch import (
    GROUND_MODES,
    POLICIES,
    TRIGGERS,
    DefaultTraits,
    DispatchPolicy,
    DispatchState,
    Plan,
    PolicyTraits,
    TraitError,
    make_policy,
    traits_of,
)
from twin.modes import MODES
from twin.testing import PolicyCheckError, check_policy

ALL_MODES = frozenset(MODES)


def _t(
    dynamic: bool,
    triggers: set[str] | None,
    tick_s: float | None = None,
    wave_hours: tuple[float, ...] = (),
    modes: frozenset[str] | None = None,
) -> dict[str, Any]:
    return {
        "dynamic": dynamic,
        "triggers": None if triggers is None else frozenset(triggers),
        "tick_s": tick_s,
        "wave_hours": wave_hours,
        "modes": modes,
    }


#: Trigger sets as the policies declared them before (class attributes).
CUTOFF = {"cutoff"}
WAVES = {"cutoff", "wave"}
PERIODIC = {"cutoff", "tick", "disruption"}
INSERT = {"cutoff", "new_order", "vehicle_idle", "tick", "disruption"}
NEAREST = {"cutoff", "new_order", "vehicle_idle", "disruption"}
MIXED = {"cutoff", "tick", "vehicle_idle", "disruption"}
HOURLY = {"cutoff", "tick"}
GROUND = GROUND_MODES
#: Vans and cargo bikes: the modes that take any order their capacity allows.
UNRESTRICTED = frozenset({"van", "cargo_bike"})

EXPECTED: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("static", {}, _t(False, CUTOFF, modes=GROUND)),
    ("waves", {}, _t(True, WAVES, None, (10.0, 12.0, 14.0), GROUND)),
    ("waves", {"wave_hours": [15, 9.5]}, _t(True, WAVES, None, (9.5, 15.0), GROUND)),
    ("rolling_horizon", {}, _t(True, PERIODIC, 1800.0, modes=GROUND)),
    ("rolling_horizon", {"every_min": 7}, _t(True, PERIODIC, 420.0, modes=GROUND)),
    ("insertion", {}, _t(True, INSERT, 3600.0, modes=UNRESTRICTED)),
    ("insertion", {"improve_every_min": 0}, _t(True, INSERT, None, modes=UNRESTRICTED)),
    ("zones", {}, _t(True, PERIODIC, 1800.0, modes=UNRESTRICTED)),
    ("zones", {"replan_every_min": 45}, _t(True, PERIODIC, 2700.0, modes=UNRESTRICTED)),
    ("nearest_vehicle", {}, _t(True, NEAREST, modes=UNRESTRICTED)),
    ("mixed_fleet", {}, _t(True, MIXED, 1800.0, modes=ALL_MODES)),
    ("mixed_fleet", {"every_min": 10, "modes": ["van", "drone"]},
     _t(True, MIXED, 600.0, modes=frozenset({"van", "drone"}))),
    ("postpone", {}, _t(True, HOURLY, 3600.0, modes=GROUND)),
    ("postpone", {"every_min": 30, "take": "sample"}, _t(True, HOURLY, 1800.0, modes=GROUND)),
]  # fmt: skip


@pytest.mark.parametrize(("name", "params", "expected"), EXPECTED)
def test_shipped_policies_declare_todays_traits(
    name: str, params: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert traits_of(make_policy(name, **params)) == PolicyTraits(name=name, **expected)


def test_the_table_covers_every_shipped_policy() -> None:
    assert {name for name, _, _ in EXPECTED} == set(POLICIES)


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_traits_are_not_constructor_parameters(name: str) -> None:
    # Declared as class variables: a scenario cannot switch a policy's triggers.
    policy = make_policy(name)
    assert isinstance(policy, DispatchPolicy)
    for trait in ("dynamic", "triggers"):
        assert trait not in vars(policy)


def test_ground_modes_leave_out_drones_only() -> None:
    assert frozenset(MODES) - GROUND_MODES == {"drone"}


class _Bare:
    name = "bare"

    def decide(self, state: DispatchState) -> Plan:
        return Plan(routes={})


def test_a_missing_trait_is_named_with_the_fix() -> None:
    with pytest.raises(TraitError) as caught:
        traits_of(_Bare())
    message = str(caught.value)
    assert message.startswith("policy 'bare' (_Bare) does not declare dynamic, triggers, tick_s")
    assert "DefaultTraits" in message
    assert "\n" not in message


def test_default_traits_describe_the_simplest_policy() -> None:
    class Simple(DefaultTraits):
        name = "simple"

        def decide(self, state: DispatchState) -> Plan:
            return Plan(routes={})

    assert traits_of(Simple()) == PolicyTraits(
        name="simple", dynamic=False, triggers=None, tick_s=None, wave_hours=(), modes=None
    )


@dataclass
class _Declared(DefaultTraits):
    name: str = "declared"

    def decide(self, state: DispatchState) -> Plan:
        return Plan(routes={})


@pytest.mark.parametrize(
    ("trait", "value", "message"),
    [
        ("dynamic", 1, r"dynamic is 1; use True or False"),
        ("triggers", {"cutoff", "lunch"}, r"triggers has unknown lunch; choose from cutoff"),
        ("triggers", "cutoff", r"triggers is 'cutoff'; use a set of names"),
        ("tick_s", 0, r"tick_s is 0; use a positive number of seconds or None"),
        ("tick_s", True, r"tick_s is True"),
        ("wave_hours", (9, 25), r"wave_hours has \[25\]; use hours of the day in \[0, 24\)"),
        ("modes", {"van", "hovercraft"}, r"modes has unknown hovercraft; choose from "),
    ],
)
def test_bad_trait_values_are_one_error(trait: str, value: object, message: str) -> None:
    policy = _Declared()
    setattr(policy, trait, value)
    with pytest.raises(TraitError, match=r"^policy 'declared' \(_Declared\): " + message):
        traits_of(policy)


def test_traits_are_normalised() -> None:
    policy = _Declared()
    policy.triggers = ["cutoff", "tick"]  # type: ignore[misc]
    policy.wave_hours = [14, 9]  # type: ignore[misc]
    policy.modes = ("van",)  # type: ignore[misc]
    traits = traits_of(policy)
    assert traits.triggers == frozenset({"cutoff", "tick"}) <= TRIGGERS
    assert traits.wave_hours == (14.0, 9.0)
    assert traits.modes == frozenset({"van"})


def test_check_policy_reports_a_missing_trait() -> None:
    with pytest.raises(PolicyCheckError, match=r"policy 'bare' \(_Bare\) does not declare"):
        check_policy(_Bare)


def test_check_policy_returns_the_traits_it_read() -> None:
    result = check_policy(POLICIES["static"])
    assert result.traits == traits_of(make_policy("static"))
