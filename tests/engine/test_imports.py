"""The engine's modules import each other without a circle: a name two modules need lives below both.

Read from the source with ast, function-local imports included (a local import is a circle put off, not gone).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[2] / "sfpserver" / "engine"
PACKAGE = "sfpserver.engine"

pytestmark = pytest.mark.pure


def engine_modules() -> dict[str, Path]:
    return {path.stem: path for path in ENGINE.glob("*.py") if path.stem != "__init__"}


def imported_engine_modules(path: Path, modules: set[str]) -> set[str]:
    """The engine modules `path` imports anywhere in it: `from sfpserver.engine import x`, `from
    sfpserver.engine.x import y`, `import sfpserver.engine.x`."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module == PACKAGE:
            found.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PACKAGE + "."):
            found.add((node.module or "").split(".")[2])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[2] for a in node.names if a.name.startswith(PACKAGE + "."))
    return (found & modules) - {path.stem}


def import_graph() -> dict[str, set[str]]:
    modules = engine_modules()
    return {name: imported_engine_modules(path, set(modules)) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every module that can reach itself, with one loop through it (depth-first search)."""
    found = []
    for start in sorted(graph):
        path = _path_back(graph, start)
        if path is not None:
            found.append(path)
    return found


def _path_back(graph: dict[str, set[str]], start: str) -> list[str] | None:
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def test_the_cycle_finder_finds_a_loop_through_a_function_local_import(tmp_path: Path) -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c", "a"], ["b", "c", "a", "b"], ["c", "a", "b", "c"]]
    source = tmp_path / "gates.py"
    source.write_text("def f():\n    from sfpserver.engine import lifecycle\n")
    assert imported_engine_modules(source, {"gates", "lifecycle"}) == {"lifecycle"}


def test_no_engine_module_imports_itself_round_a_loop() -> None:
    assert cycles(import_graph()) == []


WAIT_COLUMNS_NAMED_IN = {"models", "waits", "statements", "lifecycle"}


def test_only_the_wait_rule_and_lifecycle_name_the_wait_columns() -> None:
    """Every other module reads a step's wait through waits.py's predicates and writes it through its
    transitions: none of them spells `waiting_for` or `due_at` (the migrations aside)."""
    naming = {
        name
        for name, path in engine_modules().items()
        if "waiting_for" in path.read_text() or "due_at" in path.read_text()
    }
    assert naming - WAIT_COLUMNS_NAMED_IN == set()
