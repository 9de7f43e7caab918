"""The package layering of DESIGN.md, checked over the whole tree on every run.

- ``detectors/`` imports nothing of the project;
- ``ingest/``, ``alerts/``, ``dashboard/`` and ``evidence/`` import only the kernel
  (``compoundeye/``) and ``detectors/``, never each other, with one exception: the
  dashboard serves evidence (search, clips, exports), so it imports ``evidence/``, which
  is a library beside the kernel like ``detectors/`` (it imports no service back);
- the kernel imports no subsystem (the CLI names its handlers as ``module:function``
  strings and imports them lazily, per command: that is the one exception);
- no module is over 500 lines.

Imports are read with :mod:`ast`, at any depth (a lazy import inside a function counts),
together with ``importlib.import_module("...")`` calls on literal names.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KERNEL = "compoundeye"
DETECTORS = "detectors"
SUBSYSTEMS = ("ingest", "alerts", "dashboard", "evidence")
PROJECT = (KERNEL, DETECTORS, *SUBSYSTEMS, "bench", "sample_streams", "deploy", "tests")
MAX_MODULE_LINES = 500

ALLOWED: dict[str, frozenset[str]] = {
    DETECTORS: frozenset({DETECTORS}),
    KERNEL: frozenset({KERNEL}),
    **{name: frozenset({KERNEL, DETECTORS, name}) for name in SUBSYSTEMS},
    "dashboard": frozenset({KERNEL, DETECTORS, "dashboard", "evidence"}),
}
LAZY_HANDLER_MODULES = frozenset({"compoundeye/cli.py"})
"""Modules that may name subsystem handlers as strings (imported per command)."""


@dataclass(frozen=True)
class ImportSite:
    """One import statement (or ``import_module`` call) in a project file."""

    path: str
    line: int
    target: str

    @property
    def top(self) -> str:
        return self.target.split(".", 1)[0]


def _package_of(relative: Path) -> str:
    return relative.parts[0]


def _resolve_relative(relative: Path, module: str | None, level: int) -> str:
    package = list(relative.with_suffix("").parts[:-1])  # a module's or __init__'s package
    base = package[: len(package) - (level - 1)]
    return ".".join([*base, module] if module else base)


def imports_of(path: Path, root: Path = ROOT) -> list[ImportSite]:
    """Every module a file imports, with the line it does so on."""
    relative = path.relative_to(root)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    sites: list[ImportSite] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            sites += [ImportSite(str(relative), node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = (node.module or "") if node.level == 0 else _resolve_relative(
                relative, node.module, node.level)
            sites.append(ImportSite(str(relative), node.lineno, target))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name)
              and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
              == "import_module" and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            sites.append(ImportSite(str(relative), node.lineno, node.args[0].value))
    return sites


def project_files(*packages: str, root: Path = ROOT) -> list[Path]:
    files: list[Path] = []
    for package in packages:
        files += sorted((root / package).rglob("*.py"))
    return files


def forbidden_imports(root: Path = ROOT) -> list[str]:
    """Every import that breaks the layering, as ``path:line imports target``."""
    found = []
    for path in project_files(KERNEL, DETECTORS, *SUBSYSTEMS, root=root):
        package = _package_of(path.relative_to(root))
        allowed = ALLOWED[package]
        for site in imports_of(path, root):
            if site.top in PROJECT and site.top not in allowed:
                found.append(f"{site.path}:{site.line} imports {site.target} "
                             f"({package}/ may import only {', '.join(sorted(allowed))})")
    return found


def handler_strings(path: Path) -> list[str]:
    """``module:function`` strings in a file (the CLI's lazy handlers)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and ":" in node.value and node.value.split(":", 1)[0].split(".")[0] in PROJECT
            and node.value.replace(":", ".").replace("_", "").replace(".", "").isalnum()]


def test_layering_holds_over_the_whole_tree() -> None:
    assert forbidden_imports() == []


def route_module_imports(root: Path = ROOT) -> list[str]:
    """Route modules of the dashboard importing another route module (what they share
    belongs in a module of ``dashboard/`` outside ``api/``, or in the kernel)."""
    found = []
    for path in sorted((root / "dashboard" / "api").glob("*.py")):
        if path.name == "__init__.py":
            continue
        own = f"dashboard.api.{path.stem}"
        for site in imports_of(path, root):
            if site.target.startswith("dashboard.api.") and site.target != own:
                found.append(f"{site.path}:{site.line} imports {site.target}")
    return found


def test_no_route_module_imports_another(tmp_path: Path) -> None:
    assert route_module_imports() == []
    api = tmp_path / "dashboard" / "api"
    api.mkdir(parents=True)
    (api / "alerts.py").write_text("from dashboard.api.playback import media_summary\n")
    (api / "holds.py").write_text("from dashboard.playback import media_summary\n")
    assert route_module_imports(tmp_path) == [
        "dashboard/api/alerts.py:1 imports dashboard.api.playback"]


def test_the_checker_sees_forbidden_imports(tmp_path: Path) -> None:
    """The check itself can fail: lazy, relative and import_module imports are all seen."""
    files = {
        "compoundeye/demo.py": "def f() -> None:\n    from dashboard.app import create_app\n",
        "detectors/motion.py": "import numpy\nfrom compoundeye import names\n",
        "ingest/doors/listener.py": "from ..camera import x\nfrom alerts.rules import y\n",
        "evidence/cli.py": "import importlib\nimportlib.import_module('dashboard.state')\n",
        "alerts/service.py": "from . import rules\nfrom compoundeye import bus\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert forbidden_imports(tmp_path) == [
        "compoundeye/demo.py:2 imports dashboard.app (compoundeye/ may import only compoundeye)",
        "detectors/motion.py:2 imports compoundeye (detectors/ may import only detectors)",
        "ingest/doors/listener.py:2 imports alerts.rules "
        "(ingest/ may import only compoundeye, detectors, ingest)",
        "evidence/cli.py:2 imports dashboard.state "
        "(evidence/ may import only compoundeye, detectors, evidence)",
    ]


def test_only_the_cli_names_subsystem_handlers() -> None:
    offenders = []
    for path in project_files(KERNEL):
        relative = str(path.relative_to(ROOT))
        for text in handler_strings(path):
            if text.split(".")[0] != KERNEL and relative not in LAZY_HANDLER_MODULES:
                offenders.append(f"{relative}: {text}")
    assert offenders == []


def test_cli_handlers_resolve() -> None:
    """Each ``module:function`` the CLI names exists (a lazy import is still an import)."""
    cli = ROOT / "compoundeye" / "cli.py"
    missing = []
    for text in handler_strings(cli):
        module, _, function = text.partition(":")
        source = ROOT / Path(*module.split(".")).with_suffix(".py")
        if not source.is_file():
            source = ROOT / Path(*module.split(".")) / "__init__.py"
        if not source.is_file():
            missing.append(text)
            continue
        names = {node.name for node in ast.parse(source.read_text()).body
                 if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}
        if function not in names:
            missing.append(text)
    assert handler_strings(cli), "the CLI names no handlers: the check reads nothing"
    assert missing == []


@pytest.mark.parametrize("package", PROJECT)
def test_no_module_over_500_lines(package: str) -> None:
    long = {str(p.relative_to(ROOT)): n for p in project_files(package)
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert long == {}
