"""One way to build a policy from a scenario: every name, the parameter rules, the errors.

(Not test_registry.py: tests/maps has one, and test files need unique names here.)
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from twin.dispatch import POLICIES, Plan, build_policy, make_policy
from twin.dispatch.registry import policy_factory
from twin.errors import ScenarioError
from twin.maps import load_network
from twin.scenario import PolicySettings, Scenario
from twin.sim import Simulation


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_every_registered_policy_builds_from_default_settings(name: str) -> None:
    policy = build_policy(PolicySettings(name=name))
    assert isinstance(policy, POLICIES[name])
    assert policy.name == name


def test_the_time_limit_goes_only_where_it_is_accepted() -> None:
    settings = PolicySettings(name="static", time_limit_s=3.0)
    assert build_policy(settings).time_limit_s == 3.0  # type: ignore[attr-defined]
    # nearest_vehicle solves no routing problem and has no time limit to take.
    nearest = build_policy(PolicySettings(name="nearest_vehicle", time_limit_s=3.0))
    assert not hasattr(nearest, "time_limit_s")


def test_scenario_params_apply_only_to_the_policy_it_names() -> None:
    settings = PolicySettings(name="static", params={"drop_penalty": 123.0})
    assert build_policy(settings).drop_penalty == 123.0  # type: ignore[attr-defined]
    # Another policy run on the same scenario does not get static's parameters.
    zones = build_policy(settings, name="zones")
    assert zones.drop_penalty == 2_000.0  # type: ignore[attr-defined]
    nearest = build_policy(settings, name="nearest_vehicle")
    assert nearest.name == "nearest_vehicle"


def test_explicit_params_win_over_the_scenario() -> None:
    settings = PolicySettings(name="static", time_limit_s=3.0, params={"drop_penalty": 123.0})
    policy = build_policy(settings, params={"drop_penalty": 7.0, "time_limit_s": 1.0})
    assert policy.drop_penalty == 7.0  # type: ignore[attr-defined]
    assert policy.time_limit_s == 1.0  # type: ignore[attr-defined]


def test_a_policy_by_import_path_gets_the_same_rules() -> None:
    settings = PolicySettings(name="twin.dispatch.zones:ZonesPolicy", time_limit_s=4.0)
    policy = build_policy(settings)
    assert policy.name == "zones"
    assert policy.time_limit_s == 4.0  # type: ignore[attr-defined]


@dataclass
class _Plain:
    """A user policy with no time limit and no parameters."""

    name: str = "plain"

    def decide(self, state: object) -> Plan:
        return Plan(routes={})


def test_a_registered_user_policy_without_a_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(POLICIES, "plain", _Plain)
    assert isinstance(build_policy(PolicySettings(name="plain", time_limit_s=5.0)), _Plain)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (PolicySettings(name="fastest"), r"^policy.name 'fastest' is unknown; available .*static"),
        (
            PolicySettings(name="no_such_module:Policy"),
            r"^policy 'no_such_module:Policy': cannot import .*PYTHONPATH",
        ),
        (
            PolicySettings(name="twin.dispatch.zones:Nope"),
            r"^policy 'twin.dispatch.zones:Nope': module .* has no 'Nope'; check the class name",
        ),
        (
            PolicySettings(name="static", params={"speed": 2}),
            r"^policy 'static': bad parameters \(.*speed.*\); give only parameters it accepts, "
            r"with valid values \(it takes .*drop_penalty",
        ),
        (
            PolicySettings(name="rolling_horizon", params={"every_min": 0}),
            r"^policy 'rolling_horizon': bad parameters \(every_min must be positive.*\); give",
        ),
    ],
)
def test_unknown_names_and_bad_params_are_one_scenario_error(
    settings: PolicySettings, message: str
) -> None:
    with pytest.raises(ScenarioError, match=message) as caught:
        build_policy(settings)
    assert "\n" not in str(caught.value)


def test_make_policy_takes_exactly_the_params_given() -> None:
    with pytest.raises(ScenarioError, match="bad parameters"):
        make_policy("nearest_vehicle", time_limit_s=10.0)
    assert policy_factory("static") is POLICIES["static"]


def _tiny(policy: str) -> Scenario:
    """A few orders on a small grid: enough to dispatch, quick to play."""
    return Scenario.model_validate(
        {
            "name": "tiny",
            "seed": 3,
            "days": 1,
            "map": {"ref": "grid-5x5"},
            "hubs": [{"id": "depot"}],
            "fleet": [{"type": "van", "count": 2, "hub": "depot"}],
            "demand": {"orders_per_day": 12},
            "policy": {"name": policy, "time_limit_s": 5},
        }
    )


def test_a_scenario_with_nearest_vehicle_runs_through_simulation() -> None:
    # Regression: the engine passed time_limit_s to every policy, and nearest_vehicle
    # takes none, so `twin run` exited 2 on a scenario `twin compare` ran. The engine
    # now builds its policy with build_policy, like every other caller.
    scenario = _tiny("nearest_vehicle")
    network = load_network(scenario.map.ref, network_type=scenario.map.network_type)
    result = Simulation(scenario, network).run()
    assert (result.events["kind"] == "delivered").any()
