"""The live twin's layout keeps its promises: it does not reach into the engine, its
modules import each other without cycles, and none grows past its limits."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LIVE = Path(__file__).resolve().parents[2] / "twin" / "live"
MODULES = sorted(LIVE.glob("*.py"))


def _imports(path: Path, *, type_checking: bool) -> set[str]:
    """Modules a file imports, function-level ones included; ``TYPE_CHECKING`` ones
    only if asked (they are not run)."""
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    if not type_checking:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skipped.update(id(n) for n in ast.walk(node))
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return out


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_live_module_imports_the_engine_module(path: Path) -> None:
    assert "twin.sim.engine" not in _imports(path, type_checking=True)


def test_the_live_modules_import_each_other_without_cycles() -> None:
    names = {f"twin.live.{p.stem}": p for p in MODULES if p.stem != "__init__"}
    graph = {
        name: {d for d in _imports(path, type_checking=False) if d in names and d != name}
        for name, path in names.items()
    }
    done: set[str] = set()

    def visit(node: str, stack: tuple[str, ...]) -> None:
        assert node not in stack, " -> ".join((*stack, node))
        if node in done:
            return
        for dep in sorted(graph[node]):
            visit(dep, (*stack, node))
        done.add(node)

    for name in sorted(graph):
        visit(name, ())


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_modules_and_functions_stay_small(path: Path) -> None:
    text = path.read_text()
    assert text.count("\n") <= 600
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            assert node.end_lineno is not None
            assert node.end_lineno - node.lineno + 1 <= 100, node.name
