"""Tenants over HTTP (`POST /api/v1/tenants`, `PUT /api/v1/tenants/{name}/limits`): operators' admins only,
and a new tenant gets its scheduler queue as with `brain tenants create`."""

from __future__ import annotations

import httpx
import pytest

from deploy.settings import scheduler_settings
from scheduler.store import SchedulerStore
from tests.security.conftest import Server, error_of

NEW = {
    "name": "weiqiao-textile",
    "display": "魏桥纺织",
    "kind": "enterprise",
    "industries": ["textiles-apparel"],
    "city": "binzhou",
}


def _queues(server: Server) -> dict[str, str | None]:
    store = SchedulerStore.open(scheduler_settings(home=server.centre.settings.home))
    try:
        return {q.name: q.tenant for q in store.queue_specs()}
    finally:
        store.close()


@pytest.mark.parametrize("who", ["admin", "ops", "developer", "consumer", "other-admin", "operator-ops"])
def test_only_an_operators_admin_creates_tenants(server: Server, client: httpx.Client, who: str) -> None:
    body = {**NEW, "name": f"refused-{who}"}
    refused = client.post("/api/v1/tenants", json=body, headers=server.headers(who, f"10.9.0.{len(who)}"))
    assert refused.status_code == 403, refused.text
    assert "manage tenants" in error_of(refused) or "role" in error_of(refused)
    assert f"refused-{who}" not in {t.name for t in server.centre.tenants.list_tenants()}


def test_an_operator_creates_a_tenant_with_its_queue_and_sets_its_limits(
    server: Server, client: httpx.Client
) -> None:
    headers = server.headers("operator", "10.9.1.1")
    made = client.post("/api/v1/tenants", json=NEW, headers=headers)
    assert made.status_code == 201, made.text
    assert made.json()["name"] == NEW["name"] and made.json()["city"] == "binzhou"
    queue = made.json()["queue"]
    assert _queues(server)[queue] == NEW["name"]  # its first job will find a queue

    again = client.post("/api/v1/tenants", json=NEW, headers=headers)
    assert again.status_code == 409 and NEW["name"] in error_of(again)

    limits = {"rate_per_second": 5.0, "burst": 10, "monthly_quota": 1000}
    changed = client.put(f"/api/v1/tenants/{NEW['name']}/limits", json=limits, headers=headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["monthly_quota"] == 1000 and changed.json()["rate_per_second"] == 5.0
    back = client.put(f"/api/v1/tenants/{NEW['name']}/limits", json={}, headers=headers)
    assert back.status_code == 200 and back.json()["monthly_quota"] is None  # the platform default again

    admin = server.headers("admin", "10.9.1.2")  # an enterprise's admin: its own limits are not its to set
    assert client.put("/api/v1/tenants/lubei-chem/limits", json=limits, headers=admin).status_code == 403


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"city": "atlantis"}, "city"),
        ({"industries": ["no-such-chain"]}, "industr"),
        ({"industries": []}, "industries"),
        ({"name": "Bad Name!"}, "name"),
        ({"kind": "king"}, "kind"),
        ({"owner": "x"}, "owner"),
    ],
)
def test_a_bad_tenant_is_refused_naming_the_field(
    server: Server, client: httpx.Client, change: dict[str, object], named: str
) -> None:
    body = {**NEW, "name": "bad-tenant", **change}
    refused = client.post("/api/v1/tenants", json=body, headers=server.headers("operator", "10.9.2.1"))
    assert refused.status_code == 400, refused.text
    assert named in error_of(refused)


def test_limits_of_no_tenant_or_bad_limits(server: Server, client: httpx.Client) -> None:
    headers = server.headers("operator", "10.9.3.1")
    missing = client.put("/api/v1/tenants/no-such-tenant/limits", json={}, headers=headers)
    assert missing.status_code == 404 and "no-such-tenant" in error_of(missing)
    for bad in ({"burst": 0}, {"monthly_quota": -1}, {"rate_per_second": "fast"}, {"extra": 1}):
        refused = client.put("/api/v1/tenants/lubei-chem/limits", json=bad, headers=headers)
        assert refused.status_code == 400, (bad, refused.text)
        assert "invalid limits" in error_of(refused)
