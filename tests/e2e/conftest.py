"""End-to-end tests run the `brain` command as a user does, in a fresh BRAIN_HOME."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT

BRAIN = Path(sys.executable).parent / "brain"

Brain = Callable[..., subprocess.CompletedProcess[str]]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def brain_env(tmp_path: Path) -> dict[str, str]:
    """The environment of the `brain` commands of a test: its own BRAIN_HOME under ``tmp_path``."""
    return {
        **os.environ,
        "BRAIN_HOME": str(tmp_path / "home"),
        "PYTHONPATH": f"{ROOT}{os.pathsep}{tmp_path / 'pkgs'}",
        "BRAIN_FORMULA_PACKAGES": '["components", "tests"]',
        "COLUMNS": "200",
    }


@pytest.fixture
def brain(tmp_path: Path, brain_env: dict[str, str]) -> Brain:
    """Run `brain ARGS…` with its own BRAIN_HOME; return the completed process."""
    env = brain_env

    def run(*args: str, check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(BRAIN), *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=timeout
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"brain {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    return run
