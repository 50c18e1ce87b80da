"""The fake Asterisk's modules import each other in one direction only, and
the product (telephony's protocol code, acd, wallboard) never imports the fake."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FAKE = ROOT / "telephony" / "fake"
PACKAGE = "telephony.fake"


def fake_modules() -> dict[str, Path]:
    return {
        f"{PACKAGE}.{path.stem}": path for path in sorted(FAKE.glob("*.py"))
        if path.name != "__init__.py"
    }


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """Every module ``path`` imports, TYPE_CHECKING blocks included; for
    ``from telephony.fake import x`` the submodule ``telephony.fake.x`` when it is one."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in known else node.module)
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path.name}: relative import")
    return found


def in_fake(module: str) -> bool:
    return module == PACKAGE or module.startswith(PACKAGE + ".")


def fake_import_graph() -> dict[str, set[str]]:
    modules = fake_modules()
    known = set(modules)
    return {
        name: {m for m in imported_modules(path, known) if in_fake(m)}
        for name, path in modules.items()
    }


def test_the_fake_asterisk_modules_form_no_import_cycle() -> None:
    graph = fake_import_graph()
    assert len(graph) >= 6  # split by job, not one module
    through_package = sorted(name for name, deps in graph.items() if PACKAGE in deps)
    # Importing the package itself from inside it would run __init__, which imports everything.
    assert not through_package, through_package
    order = list(graphlib.TopologicalSorter(graph).static_order())  # CycleError on a circle
    assert order.index(f"{PACKAGE}.channel") < order.index(f"{PACKAGE}.asterisk")


def test_a_cycle_in_the_fake_would_be_caught(tmp_path: Path) -> None:
    """The checker sees both plain and TYPE_CHECKING imports (as the old fake_agi's were)."""
    module = tmp_path / "pbx.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from telephony.fake.asterisk import FakeAsterisk\n"
        "from telephony.fake import media\n"
    )
    known = {f"{PACKAGE}.asterisk", f"{PACKAGE}.media"}
    assert imported_modules(module, known) >= known


def test_the_product_does_not_import_the_fake() -> None:
    product = [
        *(p for p in (ROOT / "telephony").glob("*.py")),
        *(ROOT / "acd").rglob("*.py"),
        *(ROOT / "wallboard").rglob("*.py"),
    ]
    assert product
    offenders = sorted(
        str(path.relative_to(ROOT))
        for path in product
        if any(in_fake(m) for m in imported_modules(path, set()))
    )
    assert not offenders, offenders
