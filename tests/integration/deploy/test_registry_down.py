"""Scenario 6 of issue #12 in the centre: with its registry (an MLflow server) unreachable, a call for a
component it does not know yet gets 503 naming the registry within seconds, never a 500 or a hang."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from deploy.centre.errors import RegistryUnavailable
from deploy.centre.inference import MLFLOW_CLIENT_ENV, Centre, error_status
from deploy.settings import PlatformSettings
from deploy.tenancy import Role, TenantSpec, TenantStore
from model_hub import HubSettings
from tests.conftest import free_port

pytestmark = pytest.mark.integration


def test_an_unreachable_registry_is_503_naming_it_within_seconds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in MLFLOW_CLIENT_ENV.items():  # what Centre.open sets, undone after the test
        monkeypatch.setenv(name, value)
    settings = PlatformSettings(home=tmp_path, preload=False)
    store = TenantStore.open(settings)
    spec = TenantSpec(
        name="acme", display="acme", kind="enterprise", industries=["high-end-chemicals"], city="jinan"
    )
    store.create_tenant(spec, actor="tests")
    key = store.issue_key("acme", Role.consumer, "tests").secret
    store.engine.dispose()
    nobody = f"http://127.0.0.1:{free_port()}"  # nothing listens there: MLflow is down
    centre = Centre.open(HubSettings(home=tmp_path, mlflow_tracking_uri=nobody), settings)
    try:
        principal = centre.authenticate(key)
        started = time.monotonic()
        with pytest.raises(RegistryUnavailable) as refused:
            centre.component("reactor-quality", principal)
        assert time.monotonic() - started < 15
        assert error_status(refused.value) == 503
        assert "component registry (MLflow) cannot be reached" in refused.value.message
        assert refused.value.headers() == {"Retry-After": "5"}
    finally:
        centre.close()
