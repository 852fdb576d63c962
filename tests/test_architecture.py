"""DESIGN.md section 2's import rules, checked on the AST import graph, and its size limits.

Every ``import`` and ``from ... import`` in ``twin/`` counts, at module level or
inside a function: a function-level import still ties the two modules together
(and only hides a cycle until someone calls the function). A rule broken here
names the importing file and line, so the fix is one look away.

The graph has an edge from a module to each twin module it names: to
``twin.a.b`` for ``import twin.a.b`` and ``from twin.a import b`` when ``b`` is a
submodule, else to ``twin.a``. Python's implicit import of a parent package is
not an edge: it never closes a cycle that the explicit imports do not. Imports
under ``if TYPE_CHECKING:`` are left out: they never run, they only name types
for annotations.
"""

from __future__ import annotations

import ast
import functools
import itertools
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "twin"


@dataclass(frozen=True)
class Import:
    """One imported name: which module imports it, where, and the target module."""

    module: str
    line: int
    target: str

    def __str__(self) -> str:
        path = self.module.replace(".", "/")
        return f"{path} (line {self.line}) imports {self.target}"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    """The absolute module a ``from`` import names (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _type_checking_only(tree: ast.Module) -> set[int]:
    """ids of the import nodes inside ``if TYPE_CHECKING:`` blocks."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            found |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return found


def _imports(module: str, path: Path, known: set[str]) -> Iterator[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    skip = _type_checking_only(tree)
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, node, is_package)
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                yield Import(module, node.lineno, sub if sub in known else source)


@functools.cache
def _all_imports() -> tuple[Import, ...]:
    modules = _modules()
    known = set(modules)
    found = {imp for name, path in modules.items() for imp in _imports(name, path, known)}
    return tuple(sorted(found, key=lambda i: (i.module, i.line, i.target)))


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _violations(
    imports: tuple[Import, ...],
    *,
    importer: str,
    targets: tuple[str, ...],
    allowed: tuple[str, ...] = (),
) -> list[str]:
    """Imports from modules under ``importer`` of ``targets``, unless the importer is allowed."""
    return [
        str(imp)
        for imp in imports
        if _within(imp.module, importer)
        and not any(_within(imp.module, a) for a in allowed)
        and any(_within(imp.target, t) for t in targets)
    ]


#: Third-party packages that one edge module each may import (DESIGN.md section 2).
EDGE_MODULES = {
    "ortools": ("twin.routing.ortools", "twin.sites.facility"),
    "mesa": ("twin.customers", "twin.crowd"),
    "osmnx": ("twin.maps.osm",),
    "dask": ("twin.experiment.backends",),
    "routingkit_cch": ("twin.shortest_paths",),
}


@pytest.mark.parametrize("dependency", sorted(EDGE_MODULES))
def test_heavy_dependency_has_its_edge_modules_only(dependency: str) -> None:
    imports = _all_imports()
    bad = _violations(
        imports, importer="twin", targets=(dependency,), allowed=EDGE_MODULES[dependency]
    )
    assert not bad, f"only {', '.join(EDGE_MODULES[dependency])} may import {dependency}:\n" + (
        "\n".join(bad)
    )


def test_scenario_imports_no_domain_module() -> None:
    imports = _all_imports()
    allowed = ("twin.scenario", "twin.errors", "twin.constants", "twin.modes")
    bad = [
        str(imp)
        for imp in imports
        if _within(imp.module, "twin.scenario")
        and _within(imp.target, "twin")
        and not any(_within(imp.target, a) for a in allowed)
    ]
    assert not bad, "twin.scenario may import only errors, constants and modes:\n" + "\n".join(bad)


def test_dispatch_stays_out_of_the_simulation() -> None:
    imports = _all_imports()
    bad = _violations(imports, importer="twin.dispatch", targets=("simpy", "mesa", "twin.sim"))
    assert not bad, "policies decide only: no SimPy, Mesa or twin.sim in dispatch/:\n" + (
        "\n".join(bad)
    )


def test_live_twin_never_imports_the_engine() -> None:
    imports = _all_imports()
    bad = _violations(imports, importer="twin.live", targets=("twin.sim.engine",))
    assert not bad, "live/ uses world and fleet, never twin.sim.engine:\n" + "\n".join(bad)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _shortest_cycle(edges: dict[str, set[str]], start: str) -> list[str]:
    """A shortest path from ``start`` back to itself (breadth first), as module names."""
    parent: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(edges[node]):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parent[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if child not in parent:
                    parent[child] = node
                    following.append(child)
        frontier = following
    return []


def test_no_import_cycles() -> None:
    imports = _all_imports()
    modules = set(_modules())
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for imp in imports:
        if imp.target in modules and imp.target != imp.module:
            edges[imp.module].add(imp.target)
    detail = []
    for component in _cycles(edges):
        cycle = _shortest_cycle(edges, component[0])
        steps = [
            next(str(i) for i in imports if i.module == a and i.target == b)
            for a, b in itertools.pairwise(cycle)
        ]
        detail.append(
            f"{len(component)} modules tied together: {', '.join(component)}\n"
            "  for example:\n    " + "\n    ".join(steps)
        )
    assert not detail, "import cycles (function-level imports included):\n" + "\n".join(detail)


def test_cycle_finder_finds_a_cycle() -> None:
    # The checker itself must be able to fail.
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(edges) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("module", ["twin", "twin.cli", "twin.scenario", "twin.dispatch"])
def test_light_imports_load_no_solver_mesa_simpy_or_matplotlib(module: str) -> None:
    heavy = ("ortools", "mesa", "simpy", "matplotlib", "pyvrp", "dask")
    code = (
        f"import sys, {module}\n"
        f"print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r}))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, f"import {module} failed:\n{done.stderr}"
    loaded = done.stdout.strip()
    assert loaded == "", f"import {module} loads {loaded}"


#: DESIGN.md's size limits: a module is one concept, a function one step of it.
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 100


def test_modules_and_functions_stay_small() -> None:
    too_long = []
    for name, path in _modules().items():
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n")
        if lines > MAX_MODULE_LINES:
            too_long.append(f"module {name}: {lines} lines (limit {MAX_MODULE_LINES})")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(
                        f"{name}.{node.name} (line {node.lineno}): {length} lines "
                        f"(limit {MAX_FUNCTION_LINES})"
                    )
    assert not too_long, "split these along their concepts:\n" + "\n".join(too_long)
