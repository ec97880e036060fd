"""Imports point one way between Vigil's parts (../shared/ARCHITECTURE.md): a wrong arrow fails here."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "vigil"

# Which of Vigil's own parts each part may import. `vigil.errors` (the root error) is open to all.
ALLOWED: dict[str, set[str]] = {
    "vision": {"vision"},
    "watchlist": {"watchlist", "vision"},
    "events": {"events"},
    "bus": {"bus", "events"},
    "dispatch": {"dispatch", "events"},
    "edge": {"edge", "vision", "watchlist", "events", "bus", "web", "dispatch"},
    "command": {"command", "watchlist", "vision", "dispatch", "events", "bus", "web"},
    "web": {"web"},
    "pki": {"pki"},
    "bench": {"bench", "vision", "watchlist", "events", "bus", "dispatch", "edge", "sim"},
    "sim": {"sim", "vision", "watchlist", "events", "bus", "dispatch", "edge", "command"},
    "cli": {"cli", "vision", "watchlist", "events", "bus", "dispatch", "edge", "command", "bench", "sim", "web", "pki"},
}
ROOT_MODULES = {"errors", "__init__"}


def _part_of(path: Path) -> str:
    relative = path.relative_to(SRC)
    return relative.parts[0].removesuffix(".py")


def _vigil_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parts = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            pieces = name.split(".")
            if pieces[0] == "vigil" and len(pieces) > 1:
                parts.add(pieces[1])
    return parts - ROOT_MODULES


SOURCES = sorted(p for p in SRC.rglob("*.py") if _part_of(p) not in ROOT_MODULES)


def test_every_part_is_known() -> None:
    assert {_part_of(p) for p in SOURCES} <= set(ALLOWED)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_point_one_way(path: Path) -> None:
    part = _part_of(path)
    wrong = _vigil_imports(path) - ALLOWED[part]
    assert not wrong, f"{part} may not import {sorted(wrong)}"
