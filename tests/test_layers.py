"""The import rule of ``../shared/architecture.md``, checked on every ``make test``: imports point down.

    sealguard (the application: cli, runtime roles, pipeline, web, metrics wiring)
       |-- alerts   --> rules --> schemas
       |-- ingest   --> schemas
       '-- store    --> schemas
    schemas --> (the foundation only)

Inside the application, the folders are layers too, so the architecture reads from their names:

    cli --> sim --> roles --> web --> people
                      |        |----> evidence (the incident package: pure, and its reads)
                      |        '----> stream
                      '-> embedded -> stream --> (config, metrics, errors: the application's base)

``stream`` is the data path without its processes (the operator, the log, admission); ``roles`` are the
processes that drive it (``up``'s monitor, the gateway, the worker, the notifier); ``embedded`` the
servers ``up`` starts; ``web`` the API and pages; ``sim`` the simulators and the demo; ``cli`` on top.

The foundation (``sealguard.errors``, ``sealguard.retry``) is plain Python every layer may use and
imports nothing of ours. ``ingest`` and ``store`` see the contract and plain data only: they move bytes
and rows and decide nothing. Nothing imports the package folders by their bare names (``import rules``):
from a checkout those resolve to a second copy of every module, with its own classes.
"""

import ast
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "sealguard"
FOUNDATION = {"sealguard.errors", "sealguard.retry"}
LAYERS = ("schemas", "rules", "alerts", "ingest", "store")
# What each layer may import besides itself and the foundation.
ALLOWED: dict[str, set[str]] = {
    "schemas": set(),
    "rules": {"schemas"},
    "alerts": {"rules", "schemas"},
    "ingest": {"schemas"},
    "store": {"schemas"},
}


# What each application folder may import besides the layers below, the foundation and the app's base.
APP: dict[str, set[str]] = {
    "base": set(),
    "stream": set(),
    "people": set(),
    "evidence": set(),
    "embedded": {"stream"},
    "web": {"stream", "people", "evidence"},
    "roles": {"stream", "embedded", "web", "people", "evidence"},
    "sim": {"stream", "embedded", "roles", "web", "people", "evidence"},
    "cli": {"stream", "embedded", "roles", "web", "people", "sim", "evidence"},
}


def _app_part(module: str) -> str:
    """The folder of an application module (``sealguard.roles.worker`` -> roles), or base for its top level."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in APP else "base"


def _layer(module: str) -> str:
    """The layer of a ``sealguard.*`` module name: a package of LAYERS, the foundation, or the app."""
    if any(module == f or module.startswith(f + ".") for f in FOUNDATION):
        return "foundation"
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else "app"


def _module_of(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[int, str]] = []
    package = _module_of(path) if path.name == "__init__.py" else _module_of(path).rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                found.append((node.lineno, ".".join([*base, *([node.module] if node.module else [])])))
            elif node.module is not None:
                # ``from sealguard import metrics`` imports the module sealguard.metrics.
                found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return found


def _sources() -> list[Path]:
    """Every module, following the package folders' links (``Path.rglob`` does not before 3.13)."""
    return sorted(Path(d) / f for d, _, files in os.walk(ROOT, followlinks=True) for f in files if f.endswith(".py"))


def _violations() -> list[str]:
    out: list[str] = []
    for path in _sources():
        module = _module_of(path)
        layer = _layer(module)
        for line, target in _imports(path):
            top = target.split(".")[0]
            where = f"{path.relative_to(ROOT.parent)}:{line}"
            if top in LAYERS:
                out.append(f"{where}: imports {target!r} by its bare folder name; use 'sealguard.{target}'")
                continue
            if top != "sealguard":
                continue
            to = _layer(target)
            if layer == "app" and to == "app":
                mine, theirs = _app_part(module), _app_part(target)
                if theirs not in (mine, "base") and theirs not in APP[mine]:
                    out.append(f"{where}: {mine} ({module}) must not import {theirs} ({target})")
                continue
            if to in ("foundation", layer) or layer == "app":
                continue
            if layer == "foundation" or to not in ALLOWED[layer]:
                out.append(f"{where}: {layer} ({module}) must not import {to} ({target})")
    return out


def test_imports_point_down() -> None:
    assert _violations() == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from sealguard.alerts.book import AlertBook\n", "store (sealguard.store.bad) must not import alerts"),
        ("import rules.engine\n", "by its bare folder name"),
        ("from sealguard import metrics\n", "store (sealguard.store.bad) must not import app"),
    ],
)
def test_the_check_catches_an_upward_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str,
                                             expected: str) -> None:  # fmt: skip
    """The check itself can fail: a store module that imports upward is reported."""
    root = tmp_path / "sealguard"
    (root / "store").mkdir(parents=True)
    (root / "store" / "bad.py").write_text(source)
    monkeypatch.setattr(f"{__name__}.ROOT", root)
    found = _violations()
    assert len(found) == 1
    assert expected in found[0]


def test_the_check_catches_an_upward_import_inside_the_application(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stream (the data path) must not reach up into the processes that drive it."""
    root = tmp_path / "sealguard"
    (root / "stream").mkdir(parents=True)
    (root / "stream" / "bad.py").write_text("from sealguard.roles.worker import Worker\n")
    monkeypatch.setattr(f"{__name__}.ROOT", root)
    found = _violations()
    assert len(found) == 1
    assert "stream (sealguard.stream.bad) must not import roles" in found[0]


# SQL lives in store/: the one exception sets the embedded server's own password before anything else runs.
SQL_OUTSIDE_STORE_ALLOWED = {"sealguard/embedded/servers.py"}


def _sql_calls(root: Path) -> list[str]:
    """Every ``.execute(...)`` or ``.executemany(...)`` call outside ``store/``."""
    out = []
    for path in _sources_under(root):
        rel = path.relative_to(root.parent).as_posix()
        if rel.startswith("sealguard/store/") or rel in SQL_OUTSIDE_STORE_ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("execute", "executemany")):  # fmt: skip
                out.append(f"{rel}:{node.lineno}: .{node.func.attr}() outside store/")
    return out


def _sources_under(root: Path) -> list[Path]:
    return sorted(Path(d) / f for d, _, files in os.walk(root, followlinks=True) for f in files if f.endswith(".py"))


def test_sql_lives_in_store() -> None:
    assert _sql_calls(ROOT) == []


def test_the_sql_check_catches_a_query_in_a_route(tmp_path: Path) -> None:
    root = tmp_path / "sealguard"
    (root / "web").mkdir(parents=True)
    (root / "web" / "bad.py").write_text("async def f(conn):\n    await conn.execute('SELECT 1')\n")
    assert _sql_calls(root) == ["sealguard/web/bad.py:2: .execute() outside store/"]
