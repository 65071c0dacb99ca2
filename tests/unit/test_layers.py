"""The layers keep their direction: the domain package (desk/) is used by the API, the worker and the
command line, and never reaches back into the HTTP layer (api/)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import ROOT

DESK = ROOT / "desk"


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):  # every import, also those inside functions
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_nothing_under_desk_imports_the_http_layer():
    modules = sorted(DESK.rglob("*.py"))
    assert modules, "desk/ has no modules: the test reads the wrong folder"
    offenders = {str(path.relative_to(DESK.parent)): sorted(name for name in _imported_modules(path)
                                                            if name == "api" or name.startswith("api."))
                 for path in modules}
    assert {path: names for path, names in offenders.items() if names} == {}
