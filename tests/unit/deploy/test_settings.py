from __future__ import annotations

from pathlib import Path

import pytest

from deploy.settings import PlatformSettings


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BRAIN_HOME", str(tmp_path))
    settings = PlatformSettings()
    assert settings.port == 8000
    assert settings.host == "127.0.0.1"
    assert settings.usage_flush_seconds == 2.0
    assert settings.db_url == f"sqlite:///{tmp_path.resolve() / 'platform.db'}"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRAIN_DATABASE_URL", "postgresql+psycopg://u@db/brain")
    monkeypatch.setenv("BRAIN_PORT", "9000")
    monkeypatch.setenv("BRAIN_USAGE_FLUSH_SECONDS", "0.5")
    monkeypatch.setenv("BRAIN_UNRELATED_SETTING", "ignored")  # other packages' BRAIN_ variables
    settings = PlatformSettings()
    assert settings.db_url == "postgresql+psycopg://u@db/brain"
    assert settings.port == 9000
    assert settings.usage_flush_seconds == 0.5


def test_every_field_is_documented() -> None:
    source = Path(__import__("deploy.settings").settings.__file__).read_text()
    for name in PlatformSettings.model_fields:
        block = source.split(f"\n    {name}:", 1)[1]
        assert block.split("\n", 2)[1].strip().startswith('"""'), f"{name} has no docstring"


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRAIN_PORT", "0")
    with pytest.raises(ValueError, match="port"):
        PlatformSettings()
