"""The PostgreSQL test fixture says clearly when it cannot run, so tests skip instead of failing."""

from __future__ import annotations

import pytest

from tests import pg


def test_missing_binaries_are_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg.glob, "glob", lambda pattern: [])
    monkeypatch.setattr(pg.shutil, "which", lambda name: None)
    with pytest.raises(pg.PostgresUnavailable, match="apt-get install -y postgresql"):
        pg.find_bin_dir()


def test_newest_version_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    from pathlib import Path

    root = Path(str(tmp_path))
    for version in ("9.6", "15", "13"):
        bin_dir = root / version / "bin"
        bin_dir.mkdir(parents=True)
        for tool in ("initdb", "pg_ctl", "postgres"):
            (bin_dir / tool).touch()
    monkeypatch.setattr(pg.glob, "glob", lambda pattern: [str(p) for p in root.glob("*/bin/initdb")])
    assert pg.find_bin_dir() == root / "15" / "bin"
