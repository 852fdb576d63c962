"""Deriving scenarios: deep merges, validation with field paths, variant names,
command-line overrides and sweep factors all go through twin.scenario.edit."""

from __future__ import annotations

from pathlib import Path

import pytest

from twin.errors import ScenarioError
from twin.scenario import Hub, Scenario, load_scenario
from twin.scenario.edit import deep_merge, derive, with_factors, with_overrides, with_variant

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def base() -> Scenario:
    return Scenario.model_validate(
        {
            "name": "base",
            "hubs": [{"id": "hub", "lat": 27.5, "lon": -99.5}],
            "variants": {"late": {"drivers": {"shift_end_h": 20, "max_working_h": 12}}},
        }
    )


def test_deep_merge_merges_mappings_and_replaces_the_rest():
    base = {"a": {"x": 1, "y": 2}, "b": [1, 2], "c": 3}
    merged = deep_merge(base, {"a": {"y": 5}, "b": [9]})
    assert merged == {"a": {"x": 1, "y": 5}, "b": [9], "c": 3}
    assert base == {"a": {"x": 1, "y": 2}, "b": [1, 2], "c": 3}  # inputs untouched


def test_derive_changes_only_what_is_named(base: Scenario):
    derived = derive(base, {"drivers": {"break_min": 45}, "demand": {"orders_per_day": 10}})
    assert derived.drivers.break_min == 45
    assert derived.drivers.shift_start_h == base.drivers.shift_start_h
    assert derived.demand.orders_per_day == 10
    assert derived.demand.windows == base.demand.windows
    assert derived.name == "base"
    assert derived.variants == {}  # a derived scenario is no base for variants
    assert derive(base, {}, keep_variants=True).variants == base.variants


def test_derive_validates_across_fields(base: Scenario):
    # Each value is valid alone; together the shift is longer than the working day.
    with pytest.raises(ScenarioError, match=r"drivers: max_working_h must be at least"):
        derive(base, {"drivers": {"shift_end_h": 23}})


def test_unknown_field_names_the_path_and_the_fix(base: Scenario):
    with pytest.raises(ScenarioError) as info:
        derive(base, {"fleet": [{"type": "van", "cuont": 3}]}, source="my changes")
    message = str(info.value)
    assert message.startswith("my changes is not a valid scenario (1 problem):")
    assert "fleet[0].cuont: unknown key; did you mean 'count'?" in message


def test_unknown_key_inside_a_mapping_of_sections_gets_a_hint(base: Scenario):
    # vehicle_types maps names to settings: the hint looks past the name.
    with pytest.raises(
        ScenarioError, match=r"vehicle_types.van.capacity_parcel: .*'capacity_parcels'"
    ):
        derive(base, {"vehicle_types": {"van": {"capacity_parcel": 10}}})


def test_variant_names_and_merges(base: Scenario):
    late = with_variant(base, "late")
    assert late.name == "base[late]"
    assert late.drivers.shift_end_h == 20
    assert late.hubs == base.hubs
    assert base.variant("late") == late  # the public method is the same derivation
    with pytest.raises(ScenarioError, match="has no variant 'early'; variants are \\['late'\\]"):
        with_variant(base, "early")


def test_shipped_variant_names_stay():
    scenario = load_scenario(ROOT / "scenarios" / "laredo_baseline.yaml")
    assert scenario.variant("more_vans").name == "laredo_baseline[more_vans]"


def test_overrides_return_notes_and_keep_variants(base: Scenario):
    same, notes = with_overrides(base)
    assert same is base
    assert notes == []
    moved, notes = with_overrides(base, days=3, seed=7, map_ref="grid-12x12")
    assert (moved.days, moved.seed, moved.map.ref) == (3, 7, "grid-12x12")
    assert moved.hubs == (Hub(id="hub"),)  # coordinates dropped: the map's default site
    assert notes == ["map overridden to 'grid-12x12': hubs moved to the map's default site"]
    assert moved.variants == base.variants
    _, notes = with_overrides(base, map_ref=base.map.ref)
    assert notes == []  # the same map is no change


def test_overrides_are_validated(base: Scenario):
    with pytest.raises(ScenarioError, match="days: Input should be greater than or equal to 1"):
        with_overrides(base, days=0)


def test_factors_set_dotted_paths(base: Scenario):
    derived = with_factors(base, {"fleet.0.count": 7, "policy.params.lookahead": 2}, seed=3)
    assert derived.fleet[0].count == 7
    assert derived.policy.params == {"lookahead": 2}
    assert derived.seed == 3
    assert derived.variants == {}


@pytest.mark.parametrize(
    ("factors", "message"),
    [
        ({"flet.0.count": 1}, "the scenario has no 'flet'; did you mean 'fleet'?"),
        ({"fleet.2.count": 1}, "fleet is a list of 1; use an index from 0 to 0 instead of '2'"),
        ({"seed.x": 1}, "seed is a value, not a section"),
        ({"fleet.0.cout": 1}, "(fleet.0.cout: unknown key; did you mean 'count'?)"),
        ({"fleet.0.count": -1}, "fleet.0.count: Input should be greater than or equal to 0"),
    ],
)
def test_bad_factors_name_the_path(base: Scenario, factors: dict[str, int], message: str):
    with pytest.raises(ScenarioError) as info:
        with_factors(base, factors, source="exp.yaml")
    assert str(info.value).startswith("exp.yaml: factors")
    assert message in str(info.value)
