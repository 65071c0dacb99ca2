"""The layers keep their direction: the domain package (desk/) is used by the API, the worker and the
command line, and never reaches back into the HTTP layer (api/)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

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


# The layers of docs/architecture.md: what each group of modules must never import.
CORE = ("desk.vocab", "desk.ids", "desk.clocks", "desk.policy", "desk.workdays", "desk.messages", "desk.refusals",
        "desk.release_content", "desk.filetypes", "desk.periods")
IO = ("sqlalchemy", "sqlmodel", "apprise", "httpx", "psycopg", "requests", "fastapi", "uvicorn", "desk.db",
      "desk.models", "desk.service", "desk.settings")
FORBIDDEN = {
    "core (desk: vocab, ids, clocks, policy, workdays, messages, refusals, filetypes)": (
        [ROOT / (m.replace(".", "/") + ".py") for m in CORE], IO + ("api", "activities", "workflows")),
    "workflow (workflows/)": (sorted((ROOT / "workflows").glob("*.py")), IO + ("api", "activities.notify",
                                                                              "activities.records")),
    "side effects (activities/)": (sorted((ROOT / "activities").glob("*.py")), ("api", "workflows", "worker")),
    "HTTP (api/)": (sorted((ROOT / "api").rglob("*.py")), ("activities", "worker", "bench", "tests")),
}


def _hits(names: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(n for n in names if any(n == f or n.startswith(f + ".") for f in forbidden))


@pytest.mark.parametrize("layer", list(FORBIDDEN))
def test_each_layer_imports_only_what_is_below_it(layer):
    paths, forbidden = FORBIDDEN[layer]
    assert paths, f"{layer}: no modules found, the test reads the wrong folder"
    offenders = {str(p.relative_to(ROOT)): _hits(_imported_modules(p), forbidden) for p in paths}
    assert {p: names for p, names in offenders.items() if names} == {}
