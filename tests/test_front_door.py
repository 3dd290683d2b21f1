"""Everything outside the engine reaches it through one door, `sfpserver.engine.services`.

The test reads every module's imports (function-local ones included) with `ast` and fails on any import of
an `sfpserver.engine` module other than the services package. Exceptions, kept to a minimum:

- tests, migrations and `admin.py` files (the admin registers the engine's models by nature);
- `config/celery.py` names the engine's task module as a string, which is not an import;
- DEBT: modules not yet moved behind the door, each named. Shrink this list; never grow it.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("sfpserver", "tasks", "workers", "config")
DOOR = "sfpserver.engine.services"

DEBT: set[str] = set()  # every module outside the engine goes through the door


def _exempt(path: Path) -> bool:
    relative = path.relative_to(ROOT)
    return relative.parts[0] == "tests" or "migrations" in relative.parts or relative.name == "admin.py"


def _engine_imports(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = (
                [node.module]
                if node.module != "sfpserver.engine"
                else [f"sfpserver.engine.{a.name}" for a in node.names]
            )
            found += names
    return [name for name in found if name.startswith("sfpserver.engine") and not name.startswith(DOOR)]


def trespassers() -> dict[str, list[str]]:
    found = {}
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*.py")):
            if path.is_relative_to(ROOT / "sfpserver" / "engine") or _exempt(path):
                continue
            names = _engine_imports(ast.parse(path.read_text(), str(path)))
            if names:
                found[str(path.relative_to(ROOT))] = names
    return found


def test_nothing_outside_the_engine_imports_past_its_front_door() -> None:
    assert {path: names for path, names in trespassers().items() if path not in DEBT} == {}


def test_the_debt_list_names_only_modules_that_still_trespass() -> None:
    assert sorted(DEBT - set(trespassers())) == []


def test_a_function_local_import_of_an_engine_module_is_caught() -> None:
    tree = ast.parse("def f():\n    from sfpserver.engine import lifecycle\n    import sfpserver.engine.models\n")
    assert _engine_imports(tree) == ["sfpserver.engine.lifecycle", "sfpserver.engine.models"]
