"""The layering of DESIGN.md, kept by scanning imports:
telephony -> acd -> wallboard, forecasting alone, callcenter wires them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FORBIDDEN = {
    "telephony": {"acd", "wallboard", "forecasting", "callcenter"},
    "acd": {"wallboard", "forecasting", "callcenter"},
    "wallboard": {"telephony", "forecasting", "callcenter"},
    "forecasting": {"acd", "telephony", "wallboard", "callcenter"},
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_respects_layers(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files
    offenders = {
        f"{path.relative_to(ROOT)} imports {bad}"
        for path in files
        for bad in imported_packages(path) & FORBIDDEN[package]
    }
    assert not offenders, sorted(offenders)
