"""The scenario is the contract: it imports no domain module of twin."""

from __future__ import annotations

import ast
from pathlib import Path

import twin.scenario

ALLOWED = {"twin.errors", "twin.constants", "twin.modes"}


def _twin_imports(path: Path) -> set[str]:
    """Every twin module a file imports, function-level and TYPE_CHECKING ones included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            found.add(names[0] if node.module != "twin" else names[1])
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m == "twin" or m.startswith("twin.")}


def test_scenario_imports_only_errors_constants_and_modes():
    package = Path(twin.scenario.__file__).parent
    files = sorted(package.glob("*.py"))
    assert len(files) >= 8
    for path in files:
        outside = {m for m in _twin_imports(path) if not m.startswith("twin.scenario")}
        assert outside <= ALLOWED, f"{path.name} imports {sorted(outside - ALLOWED)}"
