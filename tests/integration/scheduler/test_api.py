"""The scheduler's REST API and its Python SDK over real HTTP: uvicorn on a loopback port, the scheduler's
store on SQLite and PostgreSQL, and real tenant keys from the platform's tenancy store.

No Ray: the pools declare their nodes, and their addresses answer nothing (which is how a 503 is made).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy.settings import PlatformSettings, scheduler_settings
from deploy.tenancy import Role, TenantKind, TenantSpec, TenantStore
from deploy.tenancy.scheduler_auth import store_authenticator
from scheduler.api import APIServer, build_app
from scheduler.model import JobState
from scheduler.sdk import (
    Conflict,
    Invalid,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    SchedulerAPI,
    Unavailable,
)
from scheduler.service import _start_api
from scheduler.settings import SchedulerSettings
from scheduler.spec import ClusterPoolSpec, QueueSpec
from scheduler.store import SchedulerStore
from tests.conftest import free_port

DEAD = f"http://127.0.0.1:{free_port()}"  # nothing listens there
# Nothing runs here: the kinds need a program name only to be offered.
PROGRAMS = {"governance": "deploy.jobs.governance", "training": "deploy.jobs.train"}


@dataclass
class Api:
    url: str
    store: SchedulerStore
    keys: dict[str, str]

    def sdk(self, who: str) -> SchedulerAPI:
        return SchedulerAPI(self.url, self.keys[who])

    def call(self, method: str, path: str, who: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.keys[who]}"} if who else {}
        headers |= kwargs.pop("headers", {})
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kwargs)


def _tenant(name: str, kind: TenantKind = TenantKind.enterprise) -> TenantSpec:
    return TenantSpec(name=name, display=name, kind=kind, industries=["advanced-materials"], city="jinan")


def issue_keys(tenants: TenantStore) -> dict[str, str]:
    tenants.create_tenant(_tenant("platform", TenantKind.operator), actor="test")
    tenants.create_tenant(_tenant("jinan-steel"), actor="test")
    tenants.create_tenant(_tenant("qingdao-port"), actor="test")
    keys = {
        "admin": tenants.issue_key("platform", Role.admin, "test").secret,
        "ops": tenants.issue_key("platform", Role.ops, "test").secret,
        # an enterprise's own admin and ops: they manage their tenant, not the platform
        "qingdao-admin": tenants.issue_key("qingdao-port", Role.admin, "test").secret,
        "qingdao-ops": tenants.issue_key("qingdao-port", Role.ops, "test").secret,
        "jinan": tenants.issue_key("jinan-steel", Role.consumer, "test").secret,
        "jinan-dev": tenants.issue_key("jinan-steel", Role.developer, "test").secret,
        "qingdao": tenants.issue_key("qingdao-port", Role.consumer, "test").secret,
        "revoked": tenants.issue_key("jinan-steel", Role.consumer, "test").secret,
    }
    tenants.revoke_key("_".join(keys["revoked"].split("_")[:2]), actor="test")
    return keys


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    home = tmp_path_factory.mktemp("api-home")
    if request.param == "sqlite":
        url = f"sqlite:///{home / 'scheduler.db'}"
    else:
        url = request.getfixturevalue("postgres").create_database()
    store = SchedulerStore.open(url=url)
    store.put_queues(
        [
            QueueSpec(name="shandong"),
            QueueSpec(name="platform", parent="shandong", tenant="platform"),
            QueueSpec(name="jinan-steel", parent="shandong", tenant="jinan-steel"),
            QueueSpec(name="qingdao-port", parent="shandong", tenant="qingdao-port"),
            QueueSpec(name="unused", parent="shandong", tenant="yantai-fish"),
        ]
    )
    store.put_pool(
        ClusterPoolSpec(
            name="jinan", city="jinan", address=DEAD, nodes=[{"count": 2, "cpu": 8, "memory_mib": 32768}]
        )
    )
    tenants = TenantStore.open(PlatformSettings(home=home))
    keys = issue_keys(tenants)
    settings = SchedulerSettings(home=home, ray_timeout_s=2, job_programs=PROGRAMS)
    server = APIServer(build_app(store, store_authenticator(tenants), settings), port=free_port()).start()
    try:
        yield Api(server.url, store, keys)
    finally:
        server.stop()
        tenants.engine.dispose()
        store.close()


def job(name: str, **fields: Any) -> dict[str, Any]:
    """A governance job (what tenants may run); `name` makes its spec differ from others'."""
    governance = {"input": {"path": "in/meters.csv"}, "output": f"out/{name}", "schema": {"power": "float"}}
    return {"kind": "governance", "governance": governance, "bundles": [{"cpu": 1}], **fields}


def error_of(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and "Traceback" not in body["error"]
    return str(body["error"])


# --- authentication -------------------------------------------------------------------------------


def test_health_needs_no_key_and_everything_else_does(api: Api) -> None:
    assert api.call("GET", "/healthz").json() == {"status": "ok"}
    response = api.call("GET", "/api/v1/jobs")
    assert "Bearer" in error_of(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    bad = httpx.get(f"{api.url}/api/v1/jobs", headers={"Authorization": "Bearer not-a-key"})
    assert "malformed" in error_of(bad, 401)
    unknown = httpx.get(f"{api.url}/api/v1/jobs", headers={"Authorization": "Bearer ibk_00000000_nope"})
    assert "not recognised" in error_of(unknown, 401)
    assert "revoked" in error_of(api.call("GET", "/api/v1/jobs", "revoked"), 401)
    with pytest.raises(NotAuthenticated, match="revoked") as caught:
        api.sdk("revoked").jobs()
    assert caught.value.status == 401


def test_tenant_keys_may_not_touch_pools_or_topology(api: Api) -> None:
    # An enterprise's own admin and ops keys included: pools and the topology are the platform's.
    for who in ("jinan", "jinan-dev", "qingdao-ops", "qingdao-admin"):
        assert "platform-operator tenant" in error_of(api.call("GET", "/api/v1/pools", who), 403)
        error_of(api.call("POST", "/api/v1/pools/jinan/cordon", who), 403)
        error_of(api.call("PUT", "/api/v1/topology", who, json={}), 403)
    with pytest.raises(PermissionDenied, match="role 'consumer' of tenant 'jinan-steel' may not list pools"):
        api.sdk("jinan").pools()
    # The queue tree (quotas) is readable by every tenant.
    assert {q["name"] for q in api.sdk("jinan").queues()} >= {"shandong", "jinan-steel"}


# --- jobs -----------------------------------------------------------------------------------------


def test_submit_is_idempotent_and_defaults_to_the_keys_tenant(api: Api) -> None:
    first = api.call("POST", "/api/v1/jobs", "jinan", json=job("a", idempotency_key="idem-a"))
    assert first.status_code == 201, first.text
    created = first.json()
    assert created["tenant"] == "jinan-steel" and created["state"] == "queued"
    again = api.call("POST", "/api/v1/jobs", "jinan", json=job("a", idempotency_key="idem-a"))
    assert again.status_code == 200 and again.json()["id"] == created["id"]
    # The header is the same key; the SDK sends it.
    via_sdk = api.sdk("jinan").submit(job("a"), idempotency_key="idem-a")
    assert via_sdk["id"] == created["id"]
    assert "differ" in error_of(
        api.call(
            "POST",
            "/api/v1/jobs",
            "jinan",
            json=job("a", idempotency_key="x"),
            headers={"Idempotency-Key": "y"},
        ),
        422,
    )
    with pytest.raises(Conflict, match="idempotency key 'idem-a' was already used") as caught:
        api.sdk("jinan").submit(job("different"), idempotency_key="idem-a")
    assert caught.value.status == 409
    # Another tenant's key of the same name is another job.
    theirs = api.sdk("qingdao").submit(job("a"), idempotency_key="idem-a")
    assert theirs["id"] != created["id"] and theirs["tenant"] == "qingdao-port"


def test_a_tenant_sees_and_cancels_only_its_own_jobs(api: Api) -> None:
    mine = api.sdk("jinan").submit(job("own"))
    theirs = api.sdk("qingdao")
    for method, path in (
        ("GET", f"/api/v1/jobs/{mine['id']}"),
        ("GET", f"/api/v1/jobs/{mine['id']}/logs"),
        ("GET", f"/api/v1/jobs/{mine['id']}/events"),
        ("POST", f"/api/v1/jobs/{mine['id']}/cancel"),
    ):
        hidden = error_of(api.call(method, path, "qingdao"), 404)
        missing = error_of(api.call(method, path.replace(mine["id"], "job-nope"), "qingdao"), 404)
        assert hidden == missing.replace("job-nope", mine["id"])  # invisible looks exactly like missing
    with pytest.raises(NotFound, match="does not exist"):
        theirs.cancel(mine["id"])
    assert all(j["tenant"] == "qingdao-port" for j in theirs.all_jobs())
    assert "may not list the jobs of tenant 'jinan-steel'" in error_of(
        api.call("GET", "/api/v1/jobs", "qingdao", params={"tenant": "jinan-steel"}), 403
    )
    assert "may not submit jobs for tenant 'jinan-steel'" in error_of(
        api.call("POST", "/api/v1/jobs", "qingdao", json=job("x", tenant="jinan-steel")), 403
    )
    # An enterprise's own admin and ops see only their tenant's jobs, like its consumers.
    for who in ("qingdao-admin", "qingdao-ops"):
        error_of(api.call("GET", f"/api/v1/jobs/{mine['id']}", who), 404)
        error_of(api.call("POST", f"/api/v1/jobs/{mine['id']}/cancel", who), 404)
        assert all(j["tenant"] == "qingdao-port" for j in api.sdk(who).all_jobs())
    # A developer key of the same tenant sees it; the platform's operators (ops, admin) too.
    assert api.sdk("jinan-dev").job(mine["id"])["id"] == mine["id"]
    assert api.sdk("ops").job(mine["id"])["tenant"] == "jinan-steel"
    cancelled = api.sdk("admin").cancel(mine["id"])
    assert cancelled["state"] == "cancelled"
    kinds = [e["kind"] for e in api.sdk("jinan").events(mine["id"])]
    assert kinds == ["submitted", "cancelled"]
    assert api.sdk("jinan").logs(mine["id"]) == ""  # it never ran: no log


def test_operators_submit_for_any_tenant_and_list_with_filters_and_pages(api: Api) -> None:
    admin = api.sdk("admin")
    made = [admin.submit(job(f"p{i}", tenant="qingdao-port", idempotency_key=f"page-{i}")) for i in range(5)]
    assert {j["tenant"] for j in made} == {"qingdao-port"}
    admin.cancel(made[0]["id"])
    page = admin.jobs(tenant="qingdao-port", state="queued", limit=2)
    assert page["limit"] == 2 and len(page["items"]) == 2 and page["next_offset"] == 2
    every = list(admin.all_jobs(tenant="qingdao-port", state="queued", limit=2))
    assert {j["id"] for j in made[1:]} <= {j["id"] for j in every}
    assert all(j["state"] == "queued" for j in every) and len(every) == page["total"]
    by_queue = admin.jobs(queue="qingdao-port", state=["cancelled", "queued"], limit=1000)
    assert {j["id"] for j in made} <= {j["id"] for j in by_queue["items"]}
    assert by_queue["next_offset"] is None
    mixed = admin.jobs(limit=1000)["items"]
    assert {"jinan-steel", "qingdao-port"} <= {j["tenant"] for j in mixed}
    times = [j["submit_time"] for j in mixed]
    assert times == sorted(times)  # oldest first


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"entrypoint": "x", "bundles": [{"cpu": -1}]}, 422, "greater than or equal to 0"),
        ({"entrypoint": "x", "bundls": []}, 422, "bundls: Extra inputs are not permitted"),
        ({"bundles": [{"cpu": 1}]}, 422, "kind entrypoint needs an entrypoint"),
        (job("r", allowed_regions=["atlantis"]), 422, "atlantis"),
        (job("big", bundles=[{"cpu": 64}]), 422, "cpu"),
        (job("gpu", bundles=[{"gpu": 1, "gpu_type": "A10"}]), 422, "GPU"),
        (["not", "an", "object"], 422, "send one JSON object"),
        (job("q", queue="qingdao-port"), 404, "queue"),
    ],
)
def test_bad_jobs_get_one_clear_error(api: Api, body: Any, status: int, says: str) -> None:
    assert says.lower() in error_of(api.call("POST", "/api/v1/jobs", "jinan", json=body), status).lower()


def test_malformed_requests(api: Api) -> None:
    garbage = api.call(
        "POST", "/api/v1/jobs", "jinan", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert "not valid JSON" in error_of(garbage, 400)
    assert "state" in error_of(api.call("GET", "/api/v1/jobs", "jinan", params={"state": "sleeping"}), 400)
    assert "limit" in error_of(api.call("GET", "/api/v1/jobs", "jinan", params={"limit": 0}), 400)
    assert "offset" in error_of(api.call("GET", "/api/v1/jobs", "jinan", params={"offset": 10**38}), 400)
    assert "no such endpoint" in error_of(api.call("GET", "/api/v1/nothing", "jinan"), 404)
    error_of(api.call("DELETE", "/api/v1/jobs", "jinan"), 405)
    with pytest.raises(Invalid, match="Extra inputs") as caught:
        api.sdk("jinan").submit(job("x", colour="red"))
    assert caught.value.status == 422
    # A tenant with no queue of its own: an operator submitting for it hears so.
    with pytest.raises(NotFound, match="tenant 'nobody' has no queue"):
        api.sdk("admin").submit(job("x", tenant="nobody"))


def test_logs_of_a_job_on_a_pool_that_does_not_answer_are_503(api: Api) -> None:
    made = api.sdk("jinan").submit(job("on-pool"))
    api.store.transition(
        made["id"], [JobState.QUEUED], JobState.RUNNING, "running", "test",
        pool="jinan", submission_id="brain-test-a1", attempt=1,
    )  # fmt: skip
    with pytest.raises(Unavailable, match="does not answer") as caught:
        api.sdk("jinan").logs(made["id"])
    assert caught.value.status == 503 and DEAD not in str(caught.value)  # no internal address to tenants
    with pytest.raises(Unavailable, match=DEAD):
        api.sdk("ops").logs(made["id"])
    running = api.sdk("jinan").cancel(made["id"])  # on a pool: the service stops it there
    assert running["state"] == "running" and running["cancel_requested"]


def test_the_sdk_says_when_nothing_answers() -> None:
    with pytest.raises(Unavailable, match="does not answer"):
        SchedulerAPI(DEAD, "ibk_00000000_x").jobs()
    with pytest.raises(ValueError, match="HTTP URL"):
        SchedulerAPI("localhost:8300", "k")
    with pytest.raises(ValueError, match="key is empty"):
        SchedulerAPI(DEAD, "")


# --- pools, topology, queues ----------------------------------------------------------------------


def test_operators_manage_pools(api: Api) -> None:
    ops = api.sdk("ops")
    spec = {"name": "qingdao", "city": "青岛", "address": DEAD, "auth_token": "s3cret", "max_jobs": 3}
    created = api.call("POST", "/api/v1/pools", "ops", json=spec)
    assert created.status_code == 201, created.text
    assert created.json()["city"] == "qingdao" and created.json()["auth_token"] == "***"
    updated = api.call("POST", "/api/v1/pools", "ops", json={**spec, "max_jobs": 5})
    assert updated.status_code == 200 and updated.json()["max_jobs"] == 5
    assert {p["name"] for p in ops.pools()} >= {"jinan", "qingdao"}
    assert ops.pool("qingdao")["jobs_in_flight"] == 0
    assert ops.cordon("qingdao")["cordoned"] is True
    drained = ops.drain("qingdao", requeue=True)
    assert drained["drain"] == "requeue" and drained["cordoned"]
    assert ops.drain("qingdao")["drain"] == "finish"
    opened = ops.uncordon("qingdao")
    assert opened["cordoned"] is False and opened["drain"] is None
    with pytest.raises(NotFound, match="pool 'atlantis' is not registered"):
        ops.cordon("atlantis")
    assert "not one of the 16 Shandong cities" in error_of(
        api.call("POST", "/api/v1/pools", "ops", json={**spec, "city": "paris"}), 422
    )


def test_topology_applies_pools_and_queues(api: Api) -> None:
    admin = api.sdk("admin")
    topology = {
        "pools": [{"name": "weifang", "city": "weifang", "nodes": [{"cpu": 4, "memory_mib": 8192}]}],
        "addresses": {"weifang": DEAD},
        "queues": [{"name": "weifang-agri", "parent": "shandong", "tenant": "weifang-agri",
                    "guaranteed": {"cpu": 2}}],
    }  # fmt: skip
    assert admin.apply(topology) == {"pools": 1, "queues": 1}
    assert "weifang-agri" in {q["name"] for q in admin.queues()}
    assert admin.pool("weifang")["address"] == DEAD
    with pytest.raises(Invalid, match="the queue tree is invalid"):
        admin.apply({"queues": [{"name": "orphan", "parent": "nowhere"}]})
    assert "pools.0.address" in error_of(
        api.call("PUT", "/api/v1/topology", "admin", json={"pools": [{"name": "x", "city": "jinan"}]}), 422
    )


# --- the service wires the platform's keys --------------------------------------------------------


def test_the_service_serves_the_api_with_the_platforms_keys(tmp_path: Path) -> None:
    home = tmp_path / "home"
    tenants = TenantStore.open(PlatformSettings(home=home))  # the capability centre's database
    keys = issue_keys(tenants)
    settings = scheduler_settings(home=home)  # as `brain up` composes it: the platform's key check
    store = SchedulerStore.open(settings)
    server = _start_api(store, settings, free_port())
    try:
        with SchedulerAPI(server.url, keys["admin"]) as admin:
            assert admin.jobs()["total"] == 0
        with pytest.raises(NotAuthenticated):
            SchedulerAPI(server.url, keys["revoked"]).jobs()
        taken = int(server.url.rsplit(":", 1)[1])
        with pytest.raises(RuntimeError, match="the port is in use"):
            _start_api(store, settings, taken)
    finally:
        server.stop()
        store.close()
        tenants.engine.dispose()
    # The scheduler alone knows no keys: its API does not start without a key check.
    with pytest.raises(SystemExit, match="needs a key check: set BRAIN_API_AUTH"):
        _start_api(store, SchedulerSettings(home=home), free_port())
    with pytest.raises(SystemExit, match="names no key check"):
        _start_api(store, SchedulerSettings(home=home, api_auth="nowhere.at_all:nothing"), free_port())
