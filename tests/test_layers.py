"""The layering of the packages, kept by scanning imports:
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


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


# Inside acd: the core is pure (no I/O libraries, nothing above it); the store
# and the configuration stand on the core only; tools on those.
ACD_LAYERS = {
    "acd/core": ("redis", "asyncio", "aiohttp", "websockets", "telephony", "acd.store",
                 "acd.config", "acd.tools", "acd.service", "acd.call_flow", "acd.dispatcher",
                 "acd.agents", "acd.callbacks", "acd.presence", "acd.degraded"),
    "acd/store": ("aiohttp", "telephony", "acd.config", "acd.tools", "acd.service",
                  "acd.call_flow", "acd.dispatcher", "acd.agents", "acd.callbacks"),
    "acd/config": ("redis", "asyncio", "aiohttp", "telephony", "acd.store", "acd.tools",
                   "acd.service", "acd.call_flow", "acd.dispatcher", "acd.agents"),
}


@pytest.mark.parametrize("folder", sorted(ACD_LAYERS))
def test_acd_subpackages_respect_their_layer(folder: str) -> None:
    files = sorted((ROOT / folder).rglob("*.py"))
    assert files
    offenders = sorted(
        f"{path.relative_to(ROOT)} imports {module}"
        for path in files
        for module in imported_modules(path)
        if any(module == bad or module.startswith(bad + ".") for bad in ACD_LAYERS[folder])
    )
    assert not offenders, offenders
