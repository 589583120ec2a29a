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
from scheduler.settings import SchedulerSettings
from scheduler.spec import JobRequest, QueueSpec
from scheduler.store import SchedulerStore
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


def _prepare_jobs(home: Path) -> tuple[str, str]:
    """A tenant's job file, an operator's training output, a job queued with its tenant's paths resolved,
    and what a backup leaves out (the Ray token, the logs). Returns the job id and the database's
    namespace."""
    root = SchedulerSettings(home=home).tenant_root("lubei-chem")
    (root / "in").mkdir(parents=True)
    (root / "in" / "meters.csv").write_text("power\n1.5\n")
    (home / "jobs" / "job-1").mkdir(parents=True)
    (home / "jobs" / "job-1" / "metrics.json").write_text("{}")
    (home / "run").mkdir(exist_ok=True)
    (home / "run" / "ray_auth_token").write_text("0" * 64)
    (home / "logs").mkdir(exist_ok=True)
    (home / "logs" / "ray.log").write_text("session log")
    store = SchedulerStore.open(SchedulerSettings(home=home))
    try:
        store.put_queues([QueueSpec(name="lubei-chem", tenant="lubei-chem")])
        governance = {"input": {"path": str(root / "in/meters.csv")}, "output": str(root / "out"),
                      "schema": {"power": "float"}}  # fmt: skip
        request = JobRequest.model_validate(
            {
                "id": "job-gov",
                "tenant": "lubei-chem",
                "kind": "governance",
                "governance": governance,
                "bundles": [{"cpu": 1}],
            }
        )
        return store.submit(request, "lubei-chem").job.id, store.namespace
    finally:
        store.close()


def test_a_backup_taken_while_usage_is_written_restores_elsewhere_and_serves(tmp_path: Path) -> None:
    old, copy, new = tmp_path / "old-home", tmp_path / "backup", tmp_path / "new-home"
    key = _prepare(old)
    job, namespace = _prepare_jobs(old)
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
    assert {"mlflow.db", "catalog.db", "platform.db", "scheduler.db"} <= set(manifest.databases)
    assert manifest.artifacts and (copy / MANIFEST).exists()
    assert manifest.folders == ["tenants", "jobs"]
    # No logs, no Ray token: a restored platform runs none of those Ray sessions, and gets its own token.
    assert not (copy / "logs").exists() and not list(copy.rglob("ray_auth_token"))
    assert (copy.stat().st_mode & 0o777) == 0o700
    # The registry's signing key travels with the backup: the restored registry must verify the versions.
    assert manifest.registry_key and ((copy / "registry_key").stat().st_mode & 0o777) == 0o600

    shutil.rmtree(old)  # nothing of the restored home may point back at the old one
    restored_manifest = restore(copy, new)
    # Tenants' files and job outputs come back; the queued job reads and writes in the new home, and the
    # scheduler database has a new namespace: no attempt from here on reuses a submission id of the old.
    new_root = SchedulerSettings(home=new).tenant_root("lubei-chem")
    assert (new_root / "in" / "meters.csv").read_text() == "power\n1.5\n"
    assert (new / "jobs" / "job-1" / "metrics.json").exists()
    scheduler = SchedulerStore.open(SchedulerSettings(home=new))
    try:
        spec = scheduler.job(job).request.governance
        assert spec is not None and spec.input.path == str(new_root / "in/meters.csv")
        assert spec.output == str(new_root / "out")
        assert scheduler.namespace == restored_manifest.namespace and scheduler.namespace != namespace
    finally:
        scheduler.close()
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


def test_a_backup_signed_before_version_numbers_were_bound_restores_upgraded(tmp_path: Path) -> None:
    """A backup from before signatures bound the version number: the restored registry upgrades the
    legacy signatures with the carried key, once, and serves the same answers."""
    import hashlib
    import hmac

    from model_hub import signing

    old, copy, new = tmp_path / "old-home", tmp_path / "backup", tmp_path / "new-home"
    key = _prepare(old)
    before = _answer(old, key, "reactor-quality")
    registry = Registry(HubSettings(home=old))
    try:
        version = registry.version("reactor-quality", 1)
        message = f"reactor-quality\n{version.format}\n{version.manifest_sha256}".encode()
        legacy = hmac.new(registry.key.secret, message, hashlib.sha256).hexdigest()
        registry.client.set_model_version_tag("reactor-quality", "1", signing.TAG, legacy)
    finally:
        registry.close()
    backup(old, copy)
    shutil.rmtree(old)
    restore(copy, new)
    assert np.array_equal(_answer(new, key, "reactor-quality"), before)
    restored = Registry(HubSettings(home=new))
    try:
        assert restored.version("reactor-quality", 1).manifest_hmac.startswith("v2:")
    finally:
        restored.close()


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
