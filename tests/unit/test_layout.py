"""The layout's rules, checked on the source: dependencies point one way (docs/architecture.md)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# package → top-level packages of the project it must not import
FORBIDDEN = {
    "scheduler": {"deploy", "model_hub", "components"},
    "model_hub": {"deploy", "scheduler", "components"},
    "components": {"deploy", "scheduler"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_package_imports_none_of_the_packages_above_it(package: str) -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {sorted(_imports(path) & FORBIDDEN[package])}"
        for path in sorted((ROOT / package).rglob("*.py"))
        if _imports(path) & FORBIDDEN[package]
    ]
    assert not offenders, offenders


def test_the_scheduler_names_no_module_of_deploy_even_in_a_string() -> None:
    # A module path in a string (a default setting, a program to run) is a dependency too.
    named = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted((ROOT / "scheduler").rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\bdeploy\.", line)
    ]
    assert not named, named
