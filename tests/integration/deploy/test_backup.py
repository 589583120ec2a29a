"""`brain backup` / `brain restore` on real stores: a backup taken while usage is being written, restored into
a fresh home elsewhere (the old one deleted), serves the same components to the same keys."""

from __future__ import annotations

import shutil
import threading
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from deploy.centre.inference import Centre
from deploy.embedded.backup import MANIFEST, backup, restore
from deploy.embedded.errors import PlatformError
from deploy.metering import Meter, usage_report
from deploy.metering.calendar import month_of
from deploy.settings import PlatformSettings
from deploy.tenancy import Role, TenantSpec, TenantStore
from model_hub import HubSettings, Registry
from tests import onnx_models
from tests.cards import make_card

pytestmark = pytest.mark.integration

X = {"x": np.arange(8, dtype=np.float32).reshape(2, 4)}


def _answer(home: Path, key: str, name: str) -> np.ndarray:
    """What the centre over ``home`` answers ``key`` for ``name`` (in-process: the steps of a call)."""
    # No preloading: the centre is closed right after one call, before a preload would run.
    settings = PlatformSettings(home=home, usage_flush_seconds=60, preload=False)
    centre = Centre.open(HubSettings(home=home), settings)
    try:
        principal = centre.authenticate(key)
        component = centre.component(name, principal)
        version = centre.pick_version(component, None)
        return centre.predict(centre.runtime(name, version), X)["y"]
    finally:
        centre.close()


def _prepare(home: Path) -> str:
    registry = Registry(HubSettings(home=home))
    registry.register_onnx(make_card(visibility="private"), onnx_models.linear(seed=1))
    registry.close()
    store = TenantStore.open(PlatformSettings(home=home))
    spec = TenantSpec(
        name="lubei-chem", display="鲁北化工", kind="enterprise", industries=["high-end-chemicals"],
        city="binzhou",
    )  # fmt: skip
    store.create_tenant(spec, actor="tests")
    secret = store.issue_key("lubei-chem", Role.consumer, "tests").secret
    store.engine.dispose()
    return secret


def test_a_backup_taken_while_usage_is_written_restores_elsewhere_and_serves(tmp_path: Path) -> None:
    old, copy, new = tmp_path / "old-home", tmp_path / "backup", tmp_path / "new-home"
    key = _prepare(old)
    before = _answer(old, key, "reactor-quality")

    # A writer flushes usage all along the backup: the snapshot must be consistent all the same.
    store = TenantStore.open(PlatformSettings(home=old))
    meter, stop, flushed = Meter(), threading.Event(), [0]

    def write() -> None:
        while not stop.is_set():
            meter.record("lubei-chem", "reactor-quality", "1", latency_s=0.001)
            meter.flush(store.engine)
            flushed[0] += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        manifest = backup(old, copy)
    finally:
        stop.set()
        writer.join()
        store.engine.dispose()
    assert flushed[0] > 0
    assert {"mlflow.db", "catalog.db", "platform.db"} <= set(manifest.databases)
    assert manifest.artifacts and (copy / MANIFEST).exists()
    assert (copy.stat().st_mode & 0o777) == 0o700
    # The registry's signing key travels with the backup: the restored registry must verify the versions.
    assert manifest.registry_key and ((copy / "registry_key").stat().st_mode & 0o777) == 0o600

    shutil.rmtree(old)  # nothing of the restored home may point back at the old one
    restore(copy, new)
    assert np.array_equal(_answer(new, key, "reactor-quality"), before)
    restored = TenantStore.open(PlatformSettings(home=new))
    try:
        # The metering calendar's month (China Standard Time) of the backup, not its UTC date's.
        lines = usage_report(restored.engine, month_of(datetime.fromisoformat(manifest.created)))
    finally:
        restored.engine.dispose()
    assert lines and lines[0].tenant == "lubei-chem" and lines[0].calls >= 1
    registry = Registry(HubSettings(home=new))
    try:
        assert registry.catalog.count() == registry.count_registered() == 1
    finally:
        registry.close()


def test_refusals_name_what_is_wrong(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with pytest.raises(PlatformError, match="holds no platform store"):
        backup(home, tmp_path / "b0")
    _prepare(home)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(PlatformError, match="is not empty"):
        backup(home, tmp_path / "full")
    with pytest.raises(PlatformError, match="is not a backup of `brain backup`"):
        restore(tmp_path / "full", tmp_path / "other")
    backup(home, tmp_path / "b1")
    with pytest.raises(PlatformError, match="already holds platform stores"):
        restore(tmp_path / "b1", home)
