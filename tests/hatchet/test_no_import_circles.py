"""No two modules of the SDK import each other, directly or round a loop, counting the imports made inside
functions (they are circles all the same, only deferred) and leaving out those under `if TYPE_CHECKING:`."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "sfpserver.hatchet"
ROOT = Path(__file__).resolve().parents[2] / "sfpserver" / "hatchet"


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(child) for stmt in node.body for child in ast.walk(stmt)}
    return skipped


def imports_of(source: str, modules: set[str]) -> set[str]:
    """The SDK modules a module's source imports at run time (at the top or inside functions)."""
    tree = ast.parse(source)
    skipped = _type_checking_nodes(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name in modules}


def module_name(path: Path) -> str:
    """`sfpserver/hatchet/clients/admin.py` -> `sfpserver.hatchet.clients.admin`; a package is its `__init__`."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join((PACKAGE, *(parts[:-1] if parts[-1] == "__init__" else parts)))


def graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in ROOT.rglob("*.py") if "migrations" not in p.parts and p != ROOT / "__init__.py"}
    return {name: imports_of(path.read_text(), set(paths)) - {name} for name, path in paths.items()}


def cycle(edges: dict[str, set[str]]) -> list[str]:
    """One import circle, as the list of modules round it, or [] when there is none."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str]:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return []
        for target in sorted(edges.get(node, ())):
            found = visit(target, [*path, node])
            if found:
                return found
        done.add(node)
        return []

    for start in sorted(edges):
        found = visit(start, [])
        if found:
            return found
    return []


def test_the_sdk_has_no_import_circle() -> None:
    assert cycle(graph()) == []


def test_the_modules_of_subpackages_are_in_the_graph() -> None:
    edges = graph()
    assert "sfpserver.hatchet.clients.rest.models.v1_log_line_list" in edges
    assert "sfpserver.hatchet.context" in edges["sfpserver.hatchet.context.context"]


def test_a_circle_through_a_function_local_import_is_found() -> None:
    modules = {"a", "b"}
    edges = {"a": imports_of("import b\n", modules), "b": imports_of("def f():\n    import a\n", modules)}
    assert cycle(edges) == ["a", "b", "a"]


def test_an_import_under_type_checking_is_no_circle() -> None:
    modules = {"a", "b"}
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import a\n"
    assert cycle({"a": imports_of("import b\n", modules), "b": imports_of(source, modules)}) == []
