"""The one way to derive a scenario from another: variants, command-line
overrides, sweep factors, site configurations and calibrated figures.

Every derivation dumps the scenario to plain data, changes that data and
validates the whole tree again, so a derived scenario obeys the same rules as
one read from a file (a changed shift is checked against the working-day limit,
a new fleet entry against the hubs) and its errors name the field the same way.
Nothing here copies a model with ``model_copy(update=...)``, which would skip
those checks.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from twin.errors import ScenarioError
from twin.scenario._base import describe_errors, validate_tree

if TYPE_CHECKING:
    from twin.scenario.model import Scenario

__all__ = ["deep_merge", "derive", "with_factors", "with_overrides", "with_variant"]


def deep_merge(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` merged in: mappings merge key by key, anything
    else (values, lists) replaces what was there. Neither input is modified."""
    out = copy.deepcopy(dict(base))
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _data(scenario: Scenario, *, keep_variants: bool) -> dict[str, Any]:
    # A derived scenario (a variant, a sweep cell) is no base for variants of its
    # own; overrides of the command line keep them, as the file had them.
    exclude = None if keep_variants else {"variants"}
    return scenario.model_dump(mode="json", exclude=exclude)


def derive(
    scenario: Scenario,
    changes: Mapping[str, Any],
    *,
    name: str | None = None,
    source: str | None = None,
    keep_variants: bool = False,
) -> Scenario:
    """``scenario`` with ``changes`` deep-merged onto it, validated as a whole.

    Parameters
    ----------
    scenario : Scenario
        The scenario derived from; it is not changed.
    changes : mapping
        Nested sections and values, as in a scenario file (``{"fleet": [...],
        "drivers": {"shift_end_h": 17}}``). Mappings merge; lists and values replace.
    name : str, optional
        Name of the derived scenario (default: the changes' ``name``, else the
        scenario's own).
    source : str, optional
        What the changes come from, for error messages (default: "changes to NAME").
    keep_variants : bool
        Keep the scenario's ``variants:`` (default False: a derived scenario has none).

    Raises
    ------
    ScenarioError
        Listing each invalid field by its path, e.g. ``fleet[0].count``.
    """
    data = deep_merge(_data(scenario, keep_variants=keep_variants), changes)
    if name is not None:
        data["name"] = name
    return validate_tree(type(scenario), data, source=source or f"changes to {scenario.name!r}")


def with_variant(scenario: Scenario, variant: str) -> Scenario:
    """The scenario with its variant ``variant``'s overrides, named ``base[variant]``."""
    if variant not in scenario.variants:
        raise ScenarioError(
            f"Scenario {scenario.name!r} has no variant {variant!r}; variants are "
            f"{sorted(scenario.variants) or 'none'}."
        )
    return derive(
        scenario,
        scenario.variants[variant],
        name=f"{scenario.name}[{variant}]",
        source=f"variant {variant!r} of {scenario.name!r}",
    )


def with_overrides(
    scenario: Scenario,
    *,
    days: int | None = None,
    warmup_days: int | None = None,
    seed: int | None = None,
    map_ref: str | None = None,
) -> tuple[Scenario, list[str]]:
    """Scenario with command-line overrides applied, and notes on what changed.

    A different map makes hub coordinates meaningless, so hubs then move to the
    map's default site (its ``hub_site`` or its centre) and demand follows the map.
    """
    notes: list[str] = []
    changes: dict[str, Any] = {}
    if days is not None:
        changes["days"] = days
    if warmup_days is not None:
        changes["warmup_days"] = warmup_days
    if seed is not None:
        changes["seed"] = seed
    if map_ref is not None and map_ref != scenario.map.ref:
        changes["map"] = {"ref": map_ref}
        changes["hubs"] = [
            {**hub.model_dump(mode="json"), "lat": None, "lon": None} for hub in scenario.hubs
        ]
        notes.append(f"map overridden to {map_ref!r}: hubs moved to the map's default site")
        # The description travels into reports: it must not describe the old map alone.
        changes["description"] = (
            f"Run on map {map_ref!r} instead of {scenario.map.ref!r} (hubs moved to its "
            f"default site). {scenario.description}"
        ).strip()
    if not changes:
        return scenario, notes
    derived = derive(
        scenario, changes, source=f"overrides of {scenario.name!r}", keep_variants=True
    )
    return derived, notes


def with_factors(
    scenario: Scenario,
    factors: Mapping[str, Any],
    *,
    days: int | None = None,
    seed: int | None = None,
    source: str = "factors",
) -> Scenario:
    """``scenario`` with each dotted path (``fleet.0.count``) set to its value.

    A path must lead through existing sections and list items; its last part may
    be a new key (free mappings such as ``policy.params`` take any), which the
    validation rejects, with a close match, where the section is fixed.

    Raises
    ------
    ScenarioError
        Starting with ``source``: a path that leads nowhere, or factor values
        that give an invalid scenario (each field by its dotted path).
    """
    data = _data(scenario, keep_variants=False)
    for dotted, value in factors.items():
        _set_path(data, dotted, value, source=source)
    if days is not None:
        data["days"] = days
    if seed is not None:
        data["seed"] = seed
    model = type(scenario)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = describe_errors(exc, model, dotted=True)
        shown = ", ".join(f"{k}={v!r}" for k, v in factors.items())
        raise ScenarioError(
            f"{source}: factors {shown} give an invalid scenario ({'; '.join(problems)}); "
            "fix the factor path or value."
        ) from None


def _set_path(data: dict[str, Any], dotted: str, value: Any, *, source: str) -> None:
    """Deep-update ``data`` at ``dotted`` (``fleet.0.count``); bad paths are user errors."""
    parts = dotted.split(".")
    node: Any = data
    for depth, part in enumerate(parts):
        here = ".".join(parts[:depth]) or "the scenario"
        last = depth == len(parts) - 1
        if isinstance(node, dict):
            if part not in node and not last:
                close = difflib.get_close_matches(part, list(node), n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"keys: {', '.join(node)}"
                raise ScenarioError(
                    f"{source}: factors: {dotted!r}: {here} has no {part!r}; {hint}"
                )
            if last:
                node[part] = copy.deepcopy(value)
            else:
                node = node[part]
        elif isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ScenarioError(
                    f"{source}: factors: {dotted!r}: {here} is a list of {len(node)}; "
                    f"use an index from 0 to {len(node) - 1} instead of {part!r}."
                )
            if last:
                node[int(part)] = copy.deepcopy(value)
            else:
                node = node[int(part)]
        else:
            raise ScenarioError(
                f"{source}: factors: {dotted!r}: {here} is a value, not a section; "
                f"end the path at {here!r}."
            )
