"""The engine's layout keeps its promises: the live twin does not reach into the engine,
the actor modules import each other without cycles, and none grows past its limits."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TWIN = Path(__file__).resolve().parents[2] / "twin"
OWNED = [*sorted((TWIN / "sim").glob("*.py")), TWIN / "fleet.py", TWIN / "world.py"]


def _imports(path: Path) -> set[str]:
    """Every module a file imports, function-level and TYPE_CHECKING imports included."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return out


def test_the_live_twin_never_imports_the_engine_module():
    for path in sorted((TWIN / "live").glob("*.py")):
        assert "twin.sim.engine" not in _imports(path), path.name


def test_the_actor_modules_import_each_other_without_cycles():
    # TYPE_CHECKING imports of the engine (for annotations) are not run: left out.
    graph: dict[str, set[str]] = {}
    for path in sorted((TWIN / "sim").glob("*.py")):
        name = f"twin.sim.{path.stem}"
        tree = ast.parse(path.read_text())
        deps = set()
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("twin.sim"):
                deps.add(node.module or "")
                deps.update(f"twin.sim.{a.name}" for a in node.names if node.module == "twin.sim")
        graph[name] = {d for d in deps if d != name and d != "twin.sim"}
    graph.pop("twin.sim.__init__")
    seen: dict[str, int] = {}

    def visit(node: str, stack: tuple[str, ...]) -> None:
        assert node not in stack, " -> ".join((*stack, node))
        if seen.get(node):
            return
        for dep in sorted(graph.get(node, ())):
            visit(dep, (*stack, node))
        seen[node] = 1

    for name in sorted(graph):
        visit(name, ())


@pytest.mark.parametrize("path", OWNED, ids=lambda p: p.name)
def test_modules_and_functions_stay_small(path: Path):
    text = path.read_text()
    assert len(text.splitlines()) <= 600
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef):
            assert node.end_lineno is not None
            assert node.end_lineno - node.lineno + 1 <= 100, node.name
