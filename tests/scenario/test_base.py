"""The one formatter of validation errors: paths, close matches and fixes."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from twin.scenario import Scenario, describe_errors


def _errors(data: dict, **options) -> list[str]:
    with pytest.raises(ValidationError) as info:
        Scenario.model_validate(data)
    return describe_errors(info.value, Scenario, **options)


def test_paths_in_brackets_or_dotted():
    data = {"fleet": [{"count": -1}]}
    assert _errors(data) == ["fleet[0].count: Input should be greater than or equal to 0"]
    assert _errors(data, dotted=True) == [
        "fleet.0.count: Input should be greater than or equal to 0"
    ]


def test_unknown_keys_get_a_close_match_or_the_allowed_keys():
    assert _errors({"drivers": {"brake_min": 5}}) == [
        "drivers.brake_min: unknown key; did you mean 'break_min'?"
    ]
    (line,) = _errors({"service": {"zzz": 1}})
    assert line.startswith("service.zzz: unknown key; allowed keys: eta_update_stops_before, ")


def test_value_errors_lose_pydantic_prefix_and_top_level_is_named():
    (line,) = _errors({"hubs": []})
    assert line == "(top level): at least one hub is needed"


def test_fixes_are_appended_by_error_type():
    (line,) = _errors({"days": 0}, fixes={"greater_than_equal": "use 1 or more"})
    assert line == "days: Input should be greater than or equal to 1; use 1 or more"
