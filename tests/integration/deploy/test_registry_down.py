"""Scenario 6 of issue #12 in the centre: with its registry (an MLflow server) unreachable, a call for a
component it does not know yet gets 503 naming the registry within seconds, never a 500 or a hang."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.centre.errors import RegistryUnavailable
from deploy.centre.inference import MLFLOW_CLIENT_ENV, ROUTE_TTL_S, Centre, error_status
from deploy.settings import PlatformSettings
from deploy.tenancy import Role, TenantSpec, TenantStore
from model_hub import HubSettings
from tests.conftest import free_port

pytestmark = pytest.mark.integration


def _centre_with_tenant(tmp_path: Path, tracking_uri: str) -> tuple[Centre, str]:
    settings = PlatformSettings(home=tmp_path, preload=False)
    store = TenantStore.open(settings)
    spec = TenantSpec(
        name="acme", display="acme", kind="enterprise", industries=["high-end-chemicals"], city="jinan"
    )
    store.create_tenant(spec, actor="tests")
    key = store.issue_key("acme", Role.consumer, "tests").secret
    store.engine.dispose()
    return Centre.open(HubSettings(home=tmp_path, mlflow_tracking_uri=tracking_uri), settings), key


@pytest.fixture
def slow_registry() -> Iterator[tuple[str, threading.Event]]:
    """An "MLflow server" that accepts a connection, says nothing for a second and hangs up: a registry
    query is in progress for that second. Yields its URL and an event set at the first connection."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    asked = threading.Event()
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                asked.set()
                stop.wait(1.0)

    server = threading.Thread(target=serve, name="slow-registry")
    server.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", asked
    finally:
        stop.set()
        server.join(10)
        listener.close()


def test_close_waits_for_a_route_refresh_in_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slow_registry: tuple[str, threading.Event]
) -> None:
    """Closing a replica while its refresher is inside a registry query: close() returns only after the
    refresher has stopped, so nothing uses the registry or the pools after they are closed."""
    for name, value in MLFLOW_CLIENT_ENV.items():
        monkeypatch.setenv(name, value)
    url, asked = slow_registry
    centre, _ = _centre_with_tenant(tmp_path, url)
    asked.clear()  # opening the registry asked it too; wait for the refresher's own query
    closed = False
    try:
        assert asked.wait(15), "the route refresher never asked the registry"
        started = time.monotonic()
        centre.close()
        closed = True
        assert not centre._routes_thread.is_alive(), "close() returned with the route refresher running"
        assert time.monotonic() - started < 15
    finally:
        if not closed:
            centre.close()


def test_an_unreachable_registry_is_503_naming_it_within_seconds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in MLFLOW_CLIENT_ENV.items():  # what Centre.open sets, undone after the test
        monkeypatch.setenv(name, value)
    nobody = f"http://127.0.0.1:{free_port()}"  # nothing listens there: MLflow is down
    centre, key = _centre_with_tenant(tmp_path, nobody)
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


def test_a_failing_route_refresh_waits_before_it_tries_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refresh pass that fails (the registry down) is followed by the same pause as a good one, not
    by another pass at once: the old loop retried with no pause for as long as MLflow was down."""
    for name, value in MLFLOW_CLIENT_ENV.items():
        monkeypatch.setenv(name, value)
    centre, _ = _centre_with_tenant(tmp_path, f"http://127.0.0.1:{free_port()}")
    passes: list[float] = []

    def failing() -> None:
        passes.append(time.monotonic())
        raise ConnectionError("registry down")

    try:
        centre.registry.all_info = failing  # type: ignore[method-assign]
        deadline = time.monotonic() + 30
        while len(passes) < 2:  # the pass in flight when it was replaced may still be an old one
            assert time.monotonic() < deadline, "the refresher stopped trying"
            time.sleep(0.05)
        assert passes[1] - passes[0] >= ROUTE_TTL_S * 0.9
    finally:
        centre.close()
