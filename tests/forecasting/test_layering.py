"""forecasting stands alone: it imports nothing from the other packages."""

from __future__ import annotations

import ast
from pathlib import Path

import forecasting

FORBIDDEN = {"acd", "telephony", "wallboard", "callcenter"}


def test_forecasting_imports_no_other_project_package() -> None:
    root = Path(forecasting.__file__).parent
    offenders = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []
    assert len(list(root.rglob("*.py"))) >= 10  # the scan really saw the package
