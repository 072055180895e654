"""The import rule of ``../shared/architecture.md``, checked on every ``make test``: imports point down.

    sealguard (the application: cli, runtime roles, pipeline, web, metrics wiring)
       |-- alerts   --> rules --> schemas
       |-- ingest   --> schemas
       '-- store    --> schemas
    schemas --> (the foundation only)

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
