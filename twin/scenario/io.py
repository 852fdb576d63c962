"""Scenario files: read and validate one, write the resolved tree, and the JSON
Schema that editors use to complete and check them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from twin.errors import ScenarioError
from twin.scenario import edit
from twin.scenario._base import validate_tree
from twin.scenario.model import Scenario

__all__ = ["dump_scenario", "json_schema", "load_scenario"]


def load_scenario(path: str | Path, *, variant: str | None = None) -> Scenario:
    """Read and validate a scenario file (optionally one of its variants)."""
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"Scenario file {path} does not exist; check the path.")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ScenarioError(
            f"{path} is not UTF-8 text (byte {exc.start}, line {line}); save it as UTF-8 "
            "(most editors: File > Save with encoding)."
        ) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None)
        context = getattr(exc, "context_mark", None)
        started = f", in what starts at line {context.line + 1}" if context else ""
        why = f" ({problem}{started})" if problem else ""
        raise ScenarioError(
            f"{path} is not valid YAML{where}{why}; fix the syntax there."
        ) from None
    if raw is None:
        # An empty file would run the whole default day, which is never what was meant.
        raise ScenarioError(
            f"{path} is empty (or only comments); a scenario needs at least its map and "
            "fleet: start from scenarios/small_grid.yaml, or write 'name: x' to run every "
            "default on purpose."
        )
    scenario = validate_tree(Scenario, raw, source=str(path))
    if "name" not in (raw or {}):  # a file without a name is named after itself
        scenario = edit.derive(scenario, {}, name=path.stem, source=str(path), keep_variants=True)
    return scenario.variant(variant) if variant else scenario


def dump_scenario(scenario: Scenario, path: str | Path) -> None:
    """Write the fully resolved scenario (every default spelled out) as YAML."""
    data = scenario.model_dump(mode="json")
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    Path(path).write_text(text, encoding="utf-8")


def json_schema() -> dict[str, Any]:
    """JSON Schema of scenario files, for editor autocompletion (`twin schema`)."""
    schema = Scenario.model_json_schema()
    schema["title"] = "twin scenario"
    return schema
