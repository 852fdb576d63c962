"""Scenario files: defaults, round trip, variants, and clear errors with field paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from twin.errors import ScenarioError
from twin.scenario import Scenario, dump_scenario, json_schema, load_scenario

ROOT = Path(__file__).resolve().parents[2]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_empty_sections_equal_defaults(tmp_path: Path):
    empty = load_scenario(_write(tmp_path, "map:\ndemand:\ndrivers:\ntraffic:\n"))
    assert empty.model_copy(update={"name": "scenario"}) == Scenario()


def test_shipped_scenarios_load_and_round_trip(tmp_path: Path):
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        scenario = load_scenario(path)
        out = tmp_path / f"{path.stem}.resolved.yaml"
        dump_scenario(scenario, out)
        assert load_scenario(out) == scenario
        for name in scenario.variants:
            assert scenario.variant(name).name == f"{scenario.name}[{name}]"


def test_variant_overrides_deep_merge():
    base = load_scenario(ROOT / "scenarios" / "laredo_baseline.yaml")
    more = base.variant("more_vans")
    assert more.fleet[0].count == 30
    assert more.demand == base.demand
    with pytest.raises(ScenarioError, match="has no variant 'fewer_vans'"):
        base.variant("fewer_vans")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "fleet:\n  - {type: van, count: -3}\n",
            "fleet[0].count: Input should be greater than or equal to 0",
        ),
        (
            "demand:\n  orders_per_dya: 10\n",
            "demand.orders_per_dya: unknown key; did you mean 'orders_per_day'?",
        ),
        ("fleet:\n  - {type: truck}\n", "fleet[0].type 'truck' is not among vehicle_types"),
        (
            "drivers: {shift_start_h: 9, shift_end_h: 8}\n",
            "shift_end_h must be after shift_start_h",
        ),
        ("demand:\n  windows: {all_day: 0.5, two_hour: 0.2}\n", "windows shares must add up to 1"),
        ("traffic:\n  border: {wait_cv: -1}\n", "traffic.border.wait_cv"),
        ("hubs:\n  - {id: a, lat: 27.5}\n", "give both lat and lon"),
        ("seed: many\n", "seed: Input should be a valid integer"),
        ("colour: blue\n", "colour: unknown key"),
    ],
)
def test_bad_scenarios_name_the_field(tmp_path: Path, text: str, expected: str):
    with pytest.raises(ScenarioError) as info:
        load_scenario(_write(tmp_path, text))
    message = str(info.value)
    assert expected in message
    assert str(tmp_path / "s.yaml") in message


def test_bad_yaml_and_missing_file(tmp_path: Path):
    with pytest.raises(ScenarioError, match=r"not valid YAML at line 3.*starts at line 2"):
        load_scenario(_write(tmp_path, "map:\n  ref: [laredo\n"))
    with pytest.raises(ScenarioError, match="does not exist"):
        load_scenario(tmp_path / "nope.yaml")
    with pytest.raises(ScenarioError, match="must be a YAML mapping"):
        load_scenario(_write(tmp_path, "- 1\n- 2\n"))


def test_schema_describes_sections():
    schema = json_schema()
    assert {"map", "fleet", "demand", "drivers", "traffic", "policy"} <= set(schema["properties"])
