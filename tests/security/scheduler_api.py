"""The real scheduler API on a loopback port, over a real store (SQLite or PostgreSQL) and the platform's
real tenant keys: five tenants of every kind, one key per role each.

No Ray: the pool declares its nodes and its address answers nothing. Nothing a tenant sends can run
here, and the tests show it is never queued either.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy.settings import PlatformSettings
from deploy.tenancy import Role, TenantKind, TenantSpec, TenantStore
from deploy.tenancy.scheduler_auth import store_authenticator
from scheduler.api import APIServer, build_app
from scheduler.settings import SchedulerSettings
from scheduler.spec import ClusterPoolSpec, QueueSpec
from scheduler.store import SchedulerStore
from tests.conftest import free_port
from tests.pg import PostgresServer, PostgresUnavailable, postgres_server

DEAD = f"http://127.0.0.1:{free_port()}"  # nothing listens there

TENANTS: dict[str, TenantKind] = {
    "platform": TenantKind.operator,  # what `brain up` creates
    "zibo-brain": TenantKind.operator,  # another industry brain's operator
    "jinan-steel": TenantKind.enterprise,
    "qingdao-port": TenantKind.enterprise,
    "sd-gov": TenantKind.government,
}
#: Nothing runs here: a kind needs a program name only to be offered.
PROGRAMS = {
    "governance": "deploy.jobs.governance",
    "batch-inference": "deploy.jobs.batch_inference",
    "training": "deploy.jobs.train",
}


@dataclass
class Sched:
    url: str
    home: Path
    store: SchedulerStore
    keys: dict[tuple[str, Role], str]

    def call(
        self, method: str, path: str, who: tuple[str, Role] | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.keys[who]}"} if who else {}
        headers |= kwargs.pop("headers", {})
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kwargs)


def governance(name: str, **fields: Any) -> dict[str, Any]:
    """A governance job of relative paths (inside the tenant's storage); `name` makes specs differ."""
    params = {"input": {"path": "in/meters.csv"}, "output": f"out/{name}", "schema": {"power": "float"}}
    return {"kind": "governance", "governance": params, "bundles": [{"cpu": 1}], **fields}


def error_of(response: httpx.Response, status: int) -> str:
    """The one-line error of a refusal with `status`; never a traceback."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and "Traceback" not in body["error"]
    return str(body["error"])


def database(request: pytest.FixtureRequest, home: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{home / 'scheduler.db'}"
    return str(request.getfixturevalue("postgres").create_database())


@contextmanager
def scheduler_api(url: str, home: Path, **settings: Any) -> Iterator[Sched]:
    """The API over a fresh store at `url`, every tenant with its queue and one key per role."""
    store = SchedulerStore.open(url=url)
    store.put_queues(
        [QueueSpec(name="shandong")] + [QueueSpec(name=t, parent="shandong", tenant=t) for t in TENANTS]
    )
    pool = {"count": 4, "cpu": 16, "memory_mib": 65536}
    store.put_pool(ClusterPoolSpec(name="local", city="jinan", address=DEAD, nodes=[pool]))
    tenants = TenantStore.open(PlatformSettings(home=home))
    keys: dict[tuple[str, Role], str] = {}
    for name, kind in TENANTS.items():
        tenants.create_tenant(
            TenantSpec(name=name, display=name, kind=kind, industries=["advanced-materials"], city="jinan"),
            actor="test",
        )
        for role in Role:
            keys[(name, role)] = tenants.issue_key(name, role, "test").secret
    config = SchedulerSettings(home=home, ray_timeout_s=2, job_programs=PROGRAMS, **settings)
    server = APIServer(build_app(store, store_authenticator(tenants), config), port=free_port()).start()
    try:
        yield Sched(server.url, home, store, keys)
    finally:
        server.stop()
        tenants.engine.dispose()
        store.close()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    try:
        with postgres_server() as server:
            yield server
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def sched(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sched]:
    """The API with limits high enough that the matrix never meets them."""
    home = tmp_path_factory.mktemp("sched-home")
    with scheduler_api(database(request, home), home, api_rate_per_second=10_000, api_burst=10_000) as api:
        yield api
