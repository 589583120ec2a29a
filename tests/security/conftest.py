"""The capability centre's ASGI app on a real uvicorn server on a free loopback port, in this process:
a real TenantStore on SQLite and a real MLflow registry, no Ray (the checks are the centre's own, and
Ray Serve would only add minutes)."""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from deploy.centre import calls
from deploy.centre.gateway import build_app
from deploy.centre.inference import Centre
from deploy.portal import build_portal
from deploy.settings import PlatformSettings
from deploy.tenancy import Role, TenantSpec, TenantStore
from deploy.tenancy.bootstrap import OPERATOR, ensure_operator
from model_hub import HubSettings
from tests import onnx_models
from tests.cards import make_card
from tests.conftest import free_port


@dataclass
class Server:
    url: str
    centre: Centre
    keys: dict[str, str]

    def headers(self, who: str | None, address: str | None = None, **extra: str) -> dict[str, str]:
        """Headers of a call by ``who`` (a key name, or None for no key) from ``address``.

        The server runs on loopback, so it takes the client's address from X-Forwarded-For as from a
        local proxy; each test gives its own, so the limit on failed authentications of one test does
        not reach another.
        """
        headers = dict(extra)
        if who is not None:
            headers["Authorization"] = f"Bearer {self.keys.get(who, who)}"
        if address is not None:
            headers["X-Forwarded-For"] = address
        return headers


def prepare(home: Path) -> tuple[HubSettings, PlatformSettings, dict[str, str]]:
    hub = HubSettings(home=home, formula_packages=["components", "tests"])
    from model_hub import Registry

    registry = Registry(hub)
    registry.register_onnx(make_card(visibility="private"), onnx_models.linear(seed=1))
    registry.register_formula(
        make_card(
            name="sum-formula",
            kind="mechanism",
            visibility="public",
            owner="province",
            outputs=[{"name": "y", "datatype": "FP64", "shape": [-1, 1]}],
            inputs=[{"name": "x", "datatype": "FP64", "shape": [-1, 3]}],
        ),
        "tests.formulas:scale",
        {"factor": 2.0},
    )
    registry.close()
    settings = PlatformSettings(
        home=home,
        # Small caps and limits, so the tests reach them with small bodies.
        max_tensor_elements=100_000,
        max_bytes_elements=1_000,
        max_rows=1_000,
        failed_auth_limit=5,
        failed_auth_window_seconds=60,
        default_rate_per_second=1e6,
        default_burst=10**6,
    )
    store = TenantStore.open(settings)
    keys = {"operator": ensure_operator(store).secret}  # type: ignore[union-attr]
    keys["operator-ops"] = store.issue_key(OPERATOR, Role.ops, "tests").secret
    keys["operator-consumer"] = store.issue_key(OPERATOR, Role.consumer, "tests").secret
    store.create_tenant(
        TenantSpec(
            name="lubei-chem",
            display="鲁北化工",
            kind="enterprise",
            industries=["high-end-chemicals"],
            city="binzhou",
        ),
        actor="tests",
    )
    keys["consumer"] = store.issue_key("lubei-chem", Role.consumer, "tests").secret
    keys["admin"] = store.issue_key("lubei-chem", Role.admin, "tests").secret
    keys["ops"] = store.issue_key("lubei-chem", Role.ops, "tests").secret
    keys["developer"] = store.issue_key("lubei-chem", Role.developer, "tests").secret
    # Another enterprise, for the registry API's refusals: its admin must not touch lubei-chem's.
    store.create_tenant(
        TenantSpec(
            name="hualu-chem",
            display="华鲁化工",
            kind="enterprise",
            industries=["high-end-chemicals"],
            city="dezhou",
        ),
        actor="tests",
    )
    keys["other-admin"] = store.issue_key("hualu-chem", Role.admin, "tests").secret
    keys["other-developer"] = store.issue_key("hualu-chem", Role.developer, "tests").secret
    store.engine.dispose()
    return hub, settings, keys


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    hub, settings, keys = prepare(tmp_path_factory.mktemp("centre-home"))
    centre = Centre.open(hub, settings)
    calls.install(centre)
    port = free_port()
    config = uvicorn.Config(build_app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield Server(f"http://127.0.0.1:{port}", centre, keys)
    finally:
        uv.should_exit = True
        thread.join(10)
        calls.install(None)
        centre.close()
        centre.tenants.engine.dispose()


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def error_of(response: httpx.Response) -> str:
    body: Any = response.json()
    assert set(body) == {"error"}, body
    return str(body["error"])


@contextlib.asynccontextmanager
async def portal_browser(server: Server, who: str) -> AsyncIterator[httpx.AsyncClient]:
    """A browser on a portal over `server` (the portal app in-process, the centre over HTTP), logged in
    with `who`'s key through the login form and its CSRF cookie, as a person would."""
    portal = build_portal(server.url, f"http://127.0.0.1:{free_port()}")
    transport = httpx.ASGITransport(app=portal)
    async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as browser:
        form = await browser.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf is not None, form.text
        login = await browser.post("/login", data={"key": server.keys[who], "csrf": csrf[1]})
        assert login.status_code == 303, login.text
        yield browser
