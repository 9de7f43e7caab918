"""detectors/ stays pure: it imports nothing from the services or the kernel."""

from __future__ import annotations

import ast
from pathlib import Path

import detectors

FORBIDDEN = {"compoundeye", "ingest", "alerts", "dashboard", "redis", "paho", "sqlalchemy"}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_detectors_import_nothing_from_the_rest_of_compoundeye():
    package = Path(detectors.__file__).parent
    modules = sorted(package.glob("*.py"))
    assert len(modules) >= 6
    for module in modules:
        bad = imported_roots(module) & FORBIDDEN
        assert not bad, f"{module.name} imports {sorted(bad)}"
