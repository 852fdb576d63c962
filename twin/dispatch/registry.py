"""The one way to build a dispatch policy from a scenario.

Policies are registered by name in :data:`POLICIES`; a scenario may also name
its own class as ``module:ClassName``. :func:`build_policy` is what the engine
and the experiments call: both must build the same policy from the same
scenario, or a scenario that runs under ``twin compare`` fails under
``twin run`` (``nearest_vehicle`` did: it takes no time limit, and one of the
two paths passed it anyway). :func:`make_policy` is the lower-level call with
the parameters given explicitly.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from typing import Any

from twin.dispatch.base import DispatchPolicy
from twin.dispatch.insertion import InsertionPolicy
from twin.dispatch.mixed_fleet import MixedFleetPolicy
from twin.dispatch.nearest_vehicle import NearestVehiclePolicy
from twin.dispatch.postpone import PostponePolicy
from twin.dispatch.rolling_horizon import RollingHorizonPolicy
from twin.dispatch.static import StaticPolicy
from twin.dispatch.waves import WavesPolicy
from twin.dispatch.zones import ZonesPolicy
from twin.errors import ScenarioError
from twin.scenario import PolicySettings

__all__ = ["POLICIES", "build_policy", "make_policy", "policy_factory"]

#: The shipped policies by the name a scenario gives in ``policy.name``. Users
#: may register their own (``POLICIES["mine"] = MyPolicy``) before a run.
POLICIES: dict[str, type] = {
    "static": StaticPolicy,
    "waves": WavesPolicy,
    "rolling_horizon": RollingHorizonPolicy,
    "insertion": InsertionPolicy,
    "zones": ZonesPolicy,
    "nearest_vehicle": NearestVehiclePolicy,
    "mixed_fleet": MixedFleetPolicy,
    "postpone": PostponePolicy,
}


def build_policy(
    settings: PolicySettings,
    *,
    name: str | None = None,
    params: Mapping[str, Any] | None = None,
) -> DispatchPolicy:
    """The policy a scenario's ``policy:`` section asks for (or another one run on it).

    Parameters
    ----------
    settings : PolicySettings
        The scenario's policy section.
    name : str, optional
        Build this policy instead of ``settings.name`` (experiments run several
        policies on one scenario). Default: the scenario's own.
    params : mapping, optional
        Constructor parameters that win over the scenario's.

    Returns
    -------
    DispatchPolicy
        A fresh instance (policies keep state between calls within a run).

    Notes
    -----
    ``settings.time_limit_s`` goes to every policy whose constructor accepts
    it, and only to those: not every policy solves a routing problem
    (``nearest_vehicle`` does not), and a scenario must not fail for a
    setting that cannot apply. ``settings.params`` apply only to the policy
    the scenario names: they are that policy's parameters, so another policy
    compared on the same scenario would reject or misread them.

    Raises
    ------
    ScenarioError
        For an unknown name, an unimportable class or bad parameters: one
        sentence naming the policy and the fix.
    """
    chosen = settings.name if name is None else name
    factory = policy_factory(chosen)
    merged: dict[str, Any] = {}
    if _accepts(factory, "time_limit_s"):
        merged["time_limit_s"] = settings.time_limit_s
    if chosen == settings.name:
        merged.update(settings.params)
    merged.update(params or {})
    return _construct(chosen, factory, merged)


def make_policy(name: str, **params: Any) -> DispatchPolicy:
    """Build the policy registered as ``name`` (or importable as ``module:Class``) with
    exactly ``params``; :func:`build_policy` is the call that starts from a scenario."""
    return _construct(name, policy_factory(name), params)


def policy_factory(name: str) -> Any:
    """The class (or factory) ``name`` refers to: a key of :data:`POLICIES` or
    ``module:ClassName``; a :class:`ScenarioError` saying what to write otherwise."""
    factory = _import_policy(name) if ":" in name else POLICIES.get(name)
    if factory is None:
        raise ScenarioError(
            f"policy.name {name!r} is unknown; available policies: {', '.join(sorted(POLICIES))}, "
            "or your own class as 'module:ClassName'."
        )
    return factory


def _construct(name: str, factory: Any, params: Mapping[str, Any]) -> DispatchPolicy:
    try:
        policy: DispatchPolicy = factory(**params)
    except (TypeError, ValueError) as exc:
        accepted = _parameters(factory)
        takes = f"it takes {', '.join(accepted)}" if accepted else "see its documentation"
        raise ScenarioError(
            f"policy {name!r}: bad parameters ({exc}); give only parameters it accepts, "
            f"with valid values ({takes})."
        ) from None
    return policy


def _parameters(factory: Any) -> list[str]:
    """Names the factory's constructor accepts (empty when it cannot be inspected)."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return []
    return [
        p.name
        for p in signature.parameters.values()
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    ]


def _accepts(factory: Any, parameter: str) -> bool:
    """Whether ``factory`` takes ``parameter`` (by name or through ``**kwargs``)."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return False
    return any(
        p.name == parameter or p.kind is inspect.Parameter.VAR_KEYWORD
        for p in signature.parameters.values()
    )


def _import_policy(path: str) -> Any:
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ScenarioError(
            f"policy {path!r}: cannot import module {module_name!r} ({exc}); "
            "check that it is on PYTHONPATH."
        ) from None
    factory = getattr(module, attr, None)
    if factory is None:
        raise ScenarioError(
            f"policy {path!r}: module {module_name!r} has no {attr!r}; "
            "check the class name after the colon."
        )
    return factory
