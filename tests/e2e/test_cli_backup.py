"""`brain backup` and `brain restore` as a user runs them: a tenant made in one home is there in another."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.e2e.conftest import BRAIN, Brain


def test_backup_then_restore_into_a_new_home(brain: Brain, brain_env: dict[str, str], tmp_path: Path) -> None:
    assert brain("backup", str(tmp_path / "empty"), check=False).returncode == 2  # nothing to back up yet
    brain(
        "tenants", "create", "lubei-chem", "--display", "鲁北化工", "--kind", "enterprise",
        "--industry", "high-end-chemicals", "--city", "binzhou",
    )  # fmt: skip
    out = brain("backup", str(tmp_path / "b")).stdout
    assert "backed up" in out and "platform.db" in out

    env = {**brain_env, "BRAIN_HOME": str(tmp_path / "restored")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(BRAIN), *args], env=env, capture_output=True, text=True, timeout=120)

    restored = run("restore", str(tmp_path / "b"))
    assert restored.returncode == 0, restored.stderr
    assert "restored" in restored.stdout
    listed = run("tenants", "list", "--json")
    assert [t["name"] for t in json.loads(listed.stdout)] == ["lubei-chem"]
    again = run("restore", str(tmp_path / "b"))
    assert again.returncode == 2 and "already holds platform stores" in again.stderr
    assert "Traceback" not in again.stderr and os.path.isdir(tmp_path / "restored")
