"""The table of rights, enforced: every role × tenant kind × endpoint of the scheduler API over real HTTP,
with the status the table (`deploy.tenancy.rights`) says it must answer. On SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from deploy.tenancy import Role, TenantKind
from deploy.tenancy.rights import holds
from tests.security.scheduler_api import TENANTS, Sched, governance, postgres, sched

__all__ = ["postgres", "sched"]  # fixtures


@dataclass(frozen=True)
class Case:
    """One endpoint: what it asks, the right it needs, and its answer with and without the right."""

    name: str
    right: str
    allowed: int
    refused: int
    send: Callable[[Sched, tuple[str, Role], str], int]


def victim(api: Sched, tenant: str, name: str) -> str:
    """A queued job of `tenant`, submitted by the platform's admin."""
    body = governance(name, tenant=tenant)
    response = api.call("POST", "/api/v1/jobs", ("platform", Role.admin), json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _status(api: Sched, who: tuple[str, Role], method: str, path: str, **kwargs: object) -> int:
    return api.call(method, path, who, **kwargs).status_code


def _at(method: str, path: str, **kwargs: object) -> Callable[[Sched, tuple[str, Role], str], int]:
    return lambda api, who, other: _status(api, who, method, path, **kwargs)


def _submit(api: Sched, who: tuple[str, Role], **fields: object) -> int:
    name = f"{who[0]}-{who[1].value}-{len(fields)}-{sorted(fields)}"
    return _status(api, who, "POST", "/api/v1/jobs", json={**governance(name), **fields})


CASES = [
    Case("list pools", "manage pools", 200, 403, _at("GET", "/api/v1/pools")),
    Case("show a pool", "manage pools", 200, 403, _at("GET", "/api/v1/pools/local")),
    Case(
        "re-register a pool at another address",
        "manage pools",
        200,
        403,
        lambda a, w, o: _status(
            a,
            w,
            "POST",
            "/api/v1/pools",
            json={
                "name": "local",
                "city": "jinan",
                "address": a.url.replace("127.0.0.1", "localhost"),
                "nodes": [{"count": 4, "cpu": 16, "memory_mib": 65536}],
            },
        ),
    ),
    Case("cordon a pool", "manage pools", 200, 403, _at("POST", "/api/v1/pools/local/cordon")),
    Case("drain a pool", "manage pools", 200, 403, _at("POST", "/api/v1/pools/local/drain")),
    Case("uncordon a pool", "manage pools", 200, 403, _at("POST", "/api/v1/pools/local/uncordon")),
    Case("replace the topology", "manage pools", 200, 403, _at("PUT", "/api/v1/topology", json={})),
    Case("read the queue tree", "read queues", 200, 403, _at("GET", "/api/v1/queues")),
    Case("list its own jobs", "submit jobs", 200, 403, _at("GET", "/api/v1/jobs")),
    Case("submit a governance job", "submit jobs", 201, 403, lambda a, w, o: _submit(a, w)),
    Case(
        "submit a high-priority job",
        "submit high-priority jobs",
        201,
        403,
        lambda a, w, o: _submit(a, w, priority_class="high"),
    ),
    Case(
        "submit a critical job",
        "submit critical jobs",
        201,
        403,
        lambda a, w, o: _submit(a, w, priority_class="critical"),
    ),
    Case(
        "submit an entrypoint job",
        "run own code",
        201,
        403,
        lambda a, w, o: _submit(a, w, kind="entrypoint", entrypoint="/usr/bin/true", governance=None),
    ),
    Case(
        "submit with runtime_env pip",
        "run own code",
        201,
        403,
        lambda a, w, o: _submit(a, w, runtime_env={"pip": ["requests"]}),
    ),
    Case(
        "submit a job for another tenant",
        "manage jobs of other tenants",
        201,
        403,
        lambda a, w, o: _submit(a, w, tenant=o),
    ),
    Case(
        "list another tenant's jobs",
        "manage jobs of other tenants",
        200,
        403,
        lambda a, w, o: _status(a, w, "GET", "/api/v1/jobs", params={"tenant": o}),
    ),
    Case(
        "read another tenant's job",
        "manage jobs of other tenants",
        200,
        404,
        lambda a, w, o: _status(a, w, "GET", f"/api/v1/jobs/{victim(a, o, f'{w}-read')}"),
    ),
    Case(
        "read another tenant's job events",
        "manage jobs of other tenants",
        200,
        404,
        lambda a, w, o: _status(a, w, "GET", f"/api/v1/jobs/{victim(a, o, f'{w}-events')}/events"),
    ),
    Case(
        "read another tenant's job logs",
        "manage jobs of other tenants",
        200,
        404,
        lambda a, w, o: _status(a, w, "GET", f"/api/v1/jobs/{victim(a, o, f'{w}-logs')}/logs"),
    ),
    Case(
        "cancel another tenant's job",
        "manage jobs of other tenants",
        200,
        404,
        lambda a, w, o: _status(a, w, "POST", f"/api/v1/jobs/{victim(a, o, f'{w}-cancel')}/cancel"),
    ),
]

CALLERS = list(itertools.product(TENANTS, Role))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@pytest.mark.parametrize("who", CALLERS, ids=[f"{t}({TENANTS[t].value})-{r.value}" for t, r in CALLERS])
def test_every_role_of_every_tenant_kind_gets_what_the_table_says(
    sched: Sched, who: tuple[str, Role], case: Case
) -> None:
    tenant, role = who
    other = "jinan-steel" if tenant == "qingdao-port" else "qingdao-port"
    expected = case.allowed if holds(role, TENANTS[tenant], case.right) else case.refused
    assert case.send(sched, who, other) == expected


def test_the_matrix_covers_every_route_and_every_kind(sched: Sched) -> None:
    """Every route of the API (but /healthz) is exercised above, by keys of every tenant kind."""
    assert set(TENANTS.values()) == set(TenantKind)
    schema = sched.call("GET", "/openapi.json").json()
    routes = {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops} - {("GET", "/healthz")}
    covered = {
        ("GET", "/api/v1/pools"), ("GET", "/api/v1/pools/{name}"), ("POST", "/api/v1/pools"),
        ("POST", "/api/v1/pools/{name}/cordon"), ("POST", "/api/v1/pools/{name}/uncordon"),
        ("POST", "/api/v1/pools/{name}/drain"), ("PUT", "/api/v1/topology"), ("GET", "/api/v1/queues"),
        ("GET", "/api/v1/jobs"), ("POST", "/api/v1/jobs"), ("GET", "/api/v1/jobs/{job_id}"),
        ("GET", "/api/v1/jobs/{job_id}/events"), ("GET", "/api/v1/jobs/{job_id}/logs"),
        ("POST", "/api/v1/jobs/{job_id}/cancel"),
    }  # fmt: skip
    assert routes == covered
