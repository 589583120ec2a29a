"""Each attack of issue 11 on the scheduler API, as a tenant's key tries it, with the refusal it gets (never
a 500), on SQLite and PostgreSQL. A canary file shows that no tenant-supplied command ran: the refused
jobs are never queued, so no pool could ever run them, and the command the scheduler builds for an
accepted job quotes every tenant-supplied string."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy.tenancy import Role
from scheduler.errors import TooLarge, TooManyRequests
from scheduler.model import JobState
from scheduler.sdk import SchedulerAPI
from scheduler.spec import JobRequest
from tests.security.scheduler_api import (
    DEAD,
    Sched,
    database,
    error_of,
    governance,
    postgres,
    sched,
    scheduler_api,
)

__all__ = ["postgres", "sched"]  # fixtures

ENTERPRISE_ADMIN = ("jinan-steel", Role.admin)
ENTERPRISE_OPS = ("jinan-steel", Role.ops)
CONSUMER = ("jinan-steel", Role.consumer)
OTHER = ("qingdao-port", Role.consumer)
OPERATOR = ("platform", Role.admin)


@pytest.fixture
def canary(tmp_path: Path) -> Iterator[Path]:
    """A file that appears only if a tenant's command ran."""
    path = tmp_path / "canary"
    yield path
    assert not path.exists(), "a tenant-supplied command ran"


def jobs_of(api: Sched, tenant: str) -> set[str]:
    return {row.id for row in api.store.jobs(tenant=tenant, limit=100_000)}


def refused(api: Sched, who: tuple[str, Role], body: Any, status: int) -> str:
    """Submit `body`; it must be refused with `status` and leave no job behind."""
    before = jobs_of(api, who[0])
    message = error_of(api.call("POST", "/api/v1/jobs", who, json=body), status)
    assert jobs_of(api, who[0]) == before, "a refused job was queued"
    return message


# --- an enterprise's own admin is not the platform's ---------------------------------------------------


def test_enterprise_admin_lists_pools(sched: Sched) -> None:
    for who in (ENTERPRISE_ADMIN, ENTERPRISE_OPS):
        assert "platform-operator tenant" in error_of(sched.call("GET", "/api/v1/pools", who), 403)


def test_enterprise_admin_replaces_topology_or_repoints_a_pool(sched: Sched) -> None:
    evil = {"name": "local", "city": "jinan", "address": "http://attacker.example:8265"}
    error_of(sched.call("PUT", "/api/v1/topology", ENTERPRISE_ADMIN, json={"pools": [evil]}), 403)
    error_of(sched.call("POST", "/api/v1/pools", ENTERPRISE_ADMIN, json=evil), 403)
    error_of(
        sched.call(
            "PUT", "/api/v1/topology", ENTERPRISE_ADMIN, json={"queues": []}, params={"replace_queues": True}
        ),
        403,
    )
    assert sched.store.pool("local").pool_spec.address == DEAD
    assert "jinan-steel" in {q.name for q in sched.store.queue_specs()}


def test_enterprise_admin_reads_or_cancels_another_tenants_jobs(sched: Sched) -> None:
    theirs = sched.call("POST", "/api/v1/jobs", OTHER, json=governance("victim")).json()["id"]
    error_of(sched.call("POST", f"/api/v1/jobs/{theirs}/cancel", ENTERPRISE_ADMIN), 404)
    error_of(sched.call("GET", f"/api/v1/jobs/{theirs}", ENTERPRISE_ADMIN), 404)
    error_of(sched.call("GET", "/api/v1/jobs", ENTERPRISE_ADMIN, params={"tenant": "qingdao-port"}), 403)
    listed = sched.call("GET", "/api/v1/jobs", ENTERPRISE_ADMIN, params={"limit": 1000}).json()["items"]
    assert {j["tenant"] for j in listed} <= {"jinan-steel"}
    assert sched.store.job(theirs).state == "queued" and not sched.store.job(theirs).cancel_requested
    refused(sched, ENTERPRISE_ADMIN, governance("for-them", tenant="qingdao-port"), 403)


def test_a_tenant_reads_only_its_own_place_in_the_queue_tree(sched: Sched) -> None:
    for who in (CONSUMER, ENTERPRISE_ADMIN):
        names = {q["name"] for q in sched.call("GET", "/api/v1/queues", who).json()["items"]}
        assert names == {"shandong", "jinan-steel"}  # not the other tenants' names and quotas
    every = {q["name"] for q in sched.call("GET", "/api/v1/queues", OPERATOR).json()["items"]}
    assert {"qingdao-port", "sd-gov", "zibo-brain"} <= every


def test_enterprise_admin_reads_another_tenants_usage() -> None:
    """The capability centre's usage route asks the same table (`Principal.require`); its HTTP test needs
    Ray Serve and lives with the centre's tests."""
    from datetime import UTC, datetime

    from deploy.centre.errors import Forbidden
    from deploy.tenancy import Principal, Tenant, TenantKind

    tenant = Tenant(
        "jinan-steel", "x", TenantKind.enterprise, ("advanced-materials",), "jinan", datetime.now(UTC)
    )
    with pytest.raises(Forbidden, match="read usage of other tenants"):
        Principal(tenant, Role.admin, "k").require("read usage of other tenants")


# --- a tenant runs only the platform's programs --------------------------------------------------------


def test_consumer_submits_an_entrypoint_job(sched: Sched, canary: Path) -> None:
    body = {"kind": "entrypoint", "entrypoint": f"touch {canary}", "bundles": [{"cpu": 1}]}
    assert "operators" in refused(sched, CONSUMER, body, 403)
    assert "operators" in refused(sched, ENTERPRISE_ADMIN, body, 403)


@pytest.mark.parametrize(
    "runtime_env",
    [
        {"pip": ["requests"]},
        {"working_dir": "/tmp"},
        {"py_modules": ["/tmp/scheduler"]},
        {"conda": {"dependencies": ["pip"]}},
        {"env_vars": {"LD_PRELOAD": "/tmp/evil.so"}},
        {"env_vars": {"BRAIN_DATABASE_URL": "sqlite:////tmp/x.db"}},
        {"env_vars": {"PYTHONPATH": "/tmp"}},
        {"env_vars": {"RAY_ADDRESS": "http://attacker"}},
    ],
    ids=lambda env: "-".join(f"{k}:{next(iter(v)) if isinstance(v, dict) else ''}" for k, v in env.items()),
)
def test_consumer_sends_a_runtime_env_that_loads_code(
    sched: Sched, runtime_env: dict[str, Any], canary: Path
) -> None:
    refused(sched, CONSUMER, governance("env", runtime_env=runtime_env), 403)


def test_plain_environment_variables_are_allowed(sched: Sched) -> None:
    body = governance("plain-env", runtime_env={"env_vars": {"PLANT_LINE": "3"}})
    assert sched.call("POST", "/api/v1/jobs", CONSUMER, json=body).status_code == 201


def test_consumer_asks_for_priority_critical(sched: Sched) -> None:
    assert "critical" in refused(sched, CONSUMER, governance("vip", priority_class="critical"), 403)
    assert "critical" in refused(sched, ENTERPRISE_ADMIN, governance("vip", priority_class="critical"), 403)
    assert "high" in refused(sched, CONSUMER, governance("vip", priority_class="high"), 403)


def test_submit_time_is_the_schedulers(sched: Sched) -> None:
    assert "submit_time" in refused(sched, CONSUMER, governance("early", submit_time=1.0), 422)


@pytest.mark.parametrize("job_id", ["../../probe", "a/b", "..", ".hidden", "x y", "a" * 129, "é"])
def test_job_ids_are_strict_slugs(sched: Sched, job_id: str) -> None:
    refused(sched, CONSUMER, governance("slug", id=job_id), 422)
    refused(sched, OPERATOR, governance("slug", id=job_id), 422)
    error_of(
        sched.call(
            "POST", "/api/v1/jobs", CONSUMER, json=governance("k"), headers={"Idempotency-Key": "../k"}
        ),
        422,
    )


# --- paths stay in the tenant's storage ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "override"),
    [
        ("governance", {"input": {"path": "/etc/passwd", "format": "csv"}}),
        ("governance", {"output": "/tmp/elsewhere"}),
        ("governance", {"input": {"path": "../qingdao-port/in/meters.csv"}}),
        ("governance", {"output": "out/../../qingdao-port/out"}),
        ("governance", {"input": {"path": "s3://brain-data/qingdao-port/x.csv"}}),
        ("batch-inference", {"input": {"path": "/etc/shadow", "format": "csv"}}),
        ("batch-inference", {"output": "/var/lib"}),
        ("training", {"data": {"table": {"path": "/etc/passwd", "format": "csv"}}}),
        ("training", {"output": "/tmp/steal"}),
        ("training", {"register": True}),
    ],
    ids=lambda v: str(v) if isinstance(v, str) else "-".join(f"{k}={v}" for k, v in v.items()),
)
def test_paths_outside_the_tenants_storage(sched: Sched, section: str, override: dict[str, Any]) -> None:
    params: dict[str, dict[str, Any]] = {
        "governance": {"input": {"path": "in/m.csv"}, "output": "out/g", "schema": {"power": "float"}},
        "batch-inference": {"component": "process_quality", "input": {"path": "in/m.csv"}, "output": "out/b",
                            "columns": {"x": "power"}},
        "training": {"component": "bearing_health", "data": {"synthetic": {"rows": 100}}, "register": False},
    }  # fmt: skip
    body = {"kind": section, section: {**params[section], **override}, "bundles": [{"cpu": 1}]}
    refused(sched, CONSUMER, body, 403)
    # The same job inside the tenant's storage is accepted, its paths resolved there.
    accepted = sched.call("POST", "/api/v1/jobs", CONSUMER, json={**body, section: params[section]})
    assert accepted.status_code == 201, accepted.text
    spec = JobRequest.model_validate(sched.store.job(accepted.json()["id"]).request.model_dump(by_alias=True))
    root = str(sched.home / "tenants" / "jinan-steel")
    dumped = spec.model_dump_json(by_alias=True)
    assert root in dumped and "/etc" not in dumped


def test_training_registers_no_version_of_the_platforms_components(sched: Sched) -> None:
    body = {"kind": "training", "training": {"component": "bearing_health", "data": {"synthetic": {}}}}
    made = sched.call("POST", "/api/v1/jobs", CONSUMER, json=body)
    assert made.status_code == 201, made.text
    params = sched.store.job(made.json()["id"]).request.training
    assert params is not None and params.register_version is False
    assert params.output is not None and params.output.startswith(str(sched.home / "tenants" / "jinan-steel"))


def test_a_tenant_string_in_an_accepted_job_never_reaches_a_shell(sched: Sched, canary: Path) -> None:
    evil_input = {"path": f"in/x'; touch {canary}; '", "format": "csv"}
    params = {"input": evil_input, "output": f"out/$(touch {canary})", "schema": {"a": "float"}}
    body = governance("quote", governance=params)
    made = sched.call("POST", "/api/v1/jobs", CONSUMER, json=body)
    assert made.status_code == 201, made.text
    request = sched.store.job(made.json()["id"]).request
    # What the pool would run, with `echo` for the interpreter, through a real shell.
    command = request.command("/bin/echo", {"governance": "deploy.jobs.governance"})
    subprocess.run(["/bin/sh", "-c", command], check=True, capture_output=True)


# --- ids, limits and what a refusal tells ---------------------------------------------------------------


def test_another_tenants_id_or_idempotency_key_answers_as_a_new_one(sched: Sched) -> None:
    theirs = sched.call(
        "POST", "/api/v1/jobs", OTHER, json=governance("t", id="run-7", idempotency_key="nightly")
    )
    assert theirs.status_code == 201, theirs.text
    for fields in ({"id": "run-7"}, {"idempotency_key": "nightly"}):
        mine = sched.call("POST", "/api/v1/jobs", CONSUMER, json=governance(f"m-{sorted(fields)}", **fields))
        assert mine.status_code == 201, mine.text  # not 409: nothing says the other job exists
        assert mine.json()["id"] != theirs.json()["id"] and mine.json()["tenant"] == "jinan-steel"


def test_a_huge_offset_is_a_bad_request(sched: Sched) -> None:
    error_of(sched.call("GET", "/api/v1/jobs", CONSUMER, params={"offset": "1" * 39}), 400)
    error_of(sched.call("GET", "/api/v1/jobs", CONSUMER, params={"limit": "9" * 39}), 400)


def test_a_pools_address_is_not_shown_to_tenants(sched: Sched) -> None:
    made = sched.call("POST", "/api/v1/jobs", CONSUMER, json=governance("on-pool")).json()
    sched.store.transition(
        made["id"], [JobState.QUEUED], JobState.RUNNING, "running", "test",
        pool="local", submission_id="brain-x-a1", attempt=1,
    )  # fmt: skip
    message = error_of(sched.call("GET", f"/api/v1/jobs/{made['id']}/logs", CONSUMER), 503)
    assert DEAD not in message and "127.0.0.1" not in message
    assert DEAD in error_of(sched.call("GET", f"/api/v1/jobs/{made['id']}/logs", OPERATOR), 503)


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., AbstractContextManager[Sched]]:
    """A factory of APIs with their own settings (low limits), on each database."""
    return lambda **settings: scheduler_api(database(request, tmp_path), tmp_path, **settings)


def test_a_body_over_the_limit_is_refused_before_it_is_parsed(
    fresh: Callable[..., AbstractContextManager[Sched]],
) -> None:
    with fresh(api_max_body_bytes=4096) as api:
        big = b'{"x": "' + b"a" * 10_000 + b'"}'
        key = {"Authorization": f"Bearer {api.keys[CONSUMER]}", "Content-Type": "application/json"}
        assert "4096" in error_of(httpx.post(f"{api.url}/api/v1/jobs", content=big, headers=key), 413)

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            yield big[:3000]
            yield big[3000:]

        assert "4096" in error_of(httpx.post(f"{api.url}/api/v1/jobs", content=chunks(), headers=key), 413)
        with SchedulerAPI(api.url, api.keys[CONSUMER]) as sdk, pytest.raises(TooLarge, match="4096"):
            sdk.submit({"x": "a" * 10_000})  # the SDK names the refusal
        assert not jobs_of(api, "jinan-steel")


def test_a_flood_of_requests_is_rate_limited_per_key(
    fresh: Callable[..., AbstractContextManager[Sched]],
) -> None:
    with fresh(api_rate_per_second=0.5, api_burst=3) as api:
        answers = [api.call("GET", "/api/v1/jobs", CONSUMER) for _ in range(5)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
        assert int(answers[-1].headers["retry-after"]) >= 1
        assert "per second" in error_of(answers[-1], 429)
        with SchedulerAPI(api.url, api.keys[CONSUMER]) as sdk, pytest.raises(TooManyRequests) as limited:
            sdk.jobs()
        assert limited.value.retry_after is not None and limited.value.retry_after >= 1
        assert api.call("GET", "/api/v1/jobs", OTHER).status_code == 200  # another key has its own budget
        # Made-up keys each have a bucket of their own, so their failures count against the address.
        made_up = [
            httpx.get(f"{api.url}/api/v1/jobs", headers={"Authorization": f"Bearer ibk_0000000{i}_x"})
            for i in range(5)
        ]
        assert [r.status_code for r in made_up] == [401, 401, 401, 429, 429]


def test_a_tenant_may_queue_only_so_many_jobs(fresh: Callable[..., AbstractContextManager[Sched]]) -> None:
    with fresh(max_queued_jobs_per_tenant=3) as api:
        for i in range(3):
            assert api.call("POST", "/api/v1/jobs", CONSUMER, json=governance(f"q{i}")).status_code == 201
        assert "3 queued jobs" in refused(api, CONSUMER, governance("q3"), 429)
        assert api.call("POST", "/api/v1/jobs", OTHER, json=governance("q0")).status_code == 201


# --- a tenant's own code: only on a sandbox pool granted to it -----------------------------------------


def test_own_code_runs_only_on_a_sandbox_pool_granted_to_the_tenant(sched: Sched, canary: Path) -> None:
    sandbox = {"name": "jinan-sandbox", "city": "jinan", "address": DEAD, "sandbox_for": ["jinan-steel"],
               "nodes": [{"cpu": 8, "memory_mib": 16384}]}  # fmt: skip
    # Only an operator grants a sandbox, and never on the capability centre's own cluster (`local`).
    error_of(sched.call("POST", "/api/v1/pools", ENTERPRISE_ADMIN, json=sandbox), 403)
    local = {"name": "local", "city": "jinan", "address": DEAD, "sandbox_for": ["jinan-steel"]}
    assert "capability centre" in error_of(sched.call("POST", "/api/v1/pools", OPERATOR, json=local), 422)
    topology = {"pools": [local]}
    assert "capability centre" in error_of(
        sched.call("PUT", "/api/v1/topology", OPERATOR, json=topology), 422
    )
    assert sched.store.pool("local").pool_spec.sandbox_for == []
    assert sched.call("POST", "/api/v1/pools", OPERATOR, json=sandbox).status_code == 201
    try:
        own = {"kind": "entrypoint", "entrypoint": f"touch {canary}", "bundles": [{"cpu": 1}]}
        made = sched.call("POST", "/api/v1/jobs", CONSUMER, json=own)
        assert made.status_code == 201, made.text
        assert made.json()["spec"]["pools"] == ["jinan-sandbox"]  # bound there, never `local`
        with_pip = sched.call(
            "POST", "/api/v1/jobs", CONSUMER, json=governance("pip", runtime_env={"pip": ["x"]})
        )
        assert with_pip.status_code == 201, with_pip.text
        assert with_pip.json()["spec"]["pools"] == ["jinan-sandbox"]
        # Naming the centre's pool does not escape the sandbox.
        refused(sched, CONSUMER, {**own, "pools": ["local"]}, 403)
        # Another tenant was granted nothing.
        refused(sched, OTHER, own, 403)
        # Paths of a built-in kind stay in the tenant's storage even on its sandbox.
        escape = governance("x", runtime_env={"pip": ["x"]})
        escape["governance"]["output"] = "/etc/cron.d"
        refused(sched, CONSUMER, escape, 403)
    finally:
        sched.call("POST", "/api/v1/pools", OPERATOR, json={**sandbox, "sandbox_for": []})
