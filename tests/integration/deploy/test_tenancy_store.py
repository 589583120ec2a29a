"""The tenancy store on a real database: tenants, keys shown once and hashed at rest, expiry,
revocation, caching, and the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import UnboundExecutionError

from deploy.centre.errors import Conflict, NotFound, Unauthorized
from deploy.settings import PlatformSettings
from deploy.tenancy import Role, TenantKind, TenantSpec, TenantStore, hash_key

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def _spec(name: str = "zibo-chem", **kw: object) -> TenantSpec:
    fields: dict[str, object] = {
        "name": name,
        "display": "淄博化工集团",
        "kind": "enterprise",
        "industries": ["high-end-chemicals", "advanced-materials"],
        "city": "zibo",
    }
    fields.update(kw)
    return TenantSpec.model_validate(fields)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(engine: Engine, clock: Clock) -> TenantStore:
    return TenantStore(engine, PlatformSettings(key_cache_seconds=30, key_ttl_days=90), clock=clock)


def test_tenants_round_trip(store: TenantStore) -> None:
    created = store.create_tenant(_spec(monthly_quota=5000), actor="root")
    store.create_tenant(
        _spec(
            "jinan-bigdata",
            kind="government",
            industries=["it-services"],
            city="jinan",
            display="济南市大数据局",
        ),
        actor="root",
    )
    got = store.get_tenant("zibo-chem")
    assert got == created
    assert got.kind is TenantKind.enterprise
    assert got.industries == ("high-end-chemicals", "advanced-materials")
    assert got.monthly_quota == 5000 and got.rate_per_second is None
    assert got.created_at == START
    assert [t.name for t in store.list_tenants()] == ["jinan-bigdata", "zibo-chem"]
    assert store.get_tenant("jinan-bigdata").display == "济南市大数据局"


def test_duplicate_and_unknown_tenants(store: TenantStore) -> None:
    store.create_tenant(_spec(), actor="root")
    with pytest.raises(Conflict) as caught:
        store.create_tenant(_spec(display="again"), actor="root")
    assert caught.value.status == 409
    with pytest.raises(NotFound):
        store.get_tenant("nobody")
    with pytest.raises(NotFound):
        store.issue_key("nobody", Role.consumer, actor="root")
    assert len(store.list_tenants()) == 1


def test_issued_key_authenticates_and_is_stored_only_as_a_hash(store: TenantStore, engine: Engine) -> None:
    store.create_tenant(_spec(), actor="root")
    issued = store.issue_key("zibo-chem", Role.consumer, actor="admin@zibo-chem", label="mes line 3")
    assert issued.secret.startswith(f"{issued.key.prefix}_")
    assert issued.key.expires_at == START + timedelta(days=90)

    principal = store.authenticate(issued.secret)
    assert principal.tenant.name == "zibo-chem"
    assert principal.role is Role.consumer
    assert principal.key_id == issued.key.key_id

    with engine.connect() as connection:
        stored = connection.execute(text("SELECT key_id, key_hash FROM api_keys")).all()
        dump = " ".join(str(v) for row in connection.execute(text("SELECT * FROM api_keys")) for v in row)
    assert stored == [(issued.key.key_id, hash_key(issued.secret))]
    secret_part = issued.secret.split("_", 2)[2]
    assert secret_part not in dump

    listed = store.list_keys("zibo-chem")
    assert [(k.key_id, k.label, k.role, k.state(START)) for k in listed] == [
        (issued.key.key_id, "mes line 3", Role.consumer, "active")
    ]
    assert not hasattr(listed[0], "secret")


@pytest.mark.parametrize("bad", [None, "", "Bearer x", "ibk_00000000_" + "A" * 43])
def test_missing_malformed_and_unknown_keys_are_401(store: TenantStore, bad: str | None) -> None:
    with pytest.raises(Unauthorized) as caught:
        store.authenticate(bad)
    assert caught.value.status == 401


def test_key_expires(store: TenantStore, clock: Clock) -> None:
    store.create_tenant(_spec(), actor="root")
    issued = store.issue_key("zibo-chem", Role.developer, actor="root", ttl=timedelta(hours=1))
    store.authenticate(issued.secret)  # now cached
    clock.now = START + timedelta(minutes=59)
    store.authenticate(issued.secret)
    clock.now = START + timedelta(hours=1)
    with pytest.raises(Unauthorized, match="expired"):
        store.authenticate(issued.secret)
    assert store.list_keys()[0].state(clock.now) == "expired"


def test_revocation_is_immediate_here_and_within_the_cache_time_elsewhere(
    store: TenantStore, engine: Engine, clock: Clock
) -> None:
    store.create_tenant(_spec(), actor="root")
    issued = store.issue_key("zibo-chem", Role.consumer, actor="root")
    other = TenantStore(engine, PlatformSettings(key_cache_seconds=30), clock=clock)  # another replica
    other.authenticate(issued.secret)

    revoked = store.revoke_key(issued.key.prefix, actor="admin@zibo-chem")
    assert revoked.revoked_at == START
    with pytest.raises(Unauthorized, match="revoked"):
        store.authenticate(issued.secret)
    other.authenticate(issued.secret)  # still trusted from its cache...
    clock.now = START + timedelta(seconds=31)
    with pytest.raises(Unauthorized, match="revoked"):
        other.authenticate(issued.secret)  # ...but not past key_cache_seconds
    store.revoke_key(issued.key.key_id, actor="root")  # twice is harmless
    with pytest.raises(NotFound):
        store.revoke_key("ibk_ffffffff", actor="root")


def test_cache_saves_database_visits(store: TenantStore) -> None:
    store.create_tenant(_spec(), actor="root")
    issued = store.issue_key("zibo-chem", Role.consumer, actor="root")
    uncached = store.issue_key("zibo-chem", Role.consumer, actor="root")
    store.authenticate(issued.secret)
    real_engine, store.engine = store.engine, None  # type: ignore[assignment]
    try:
        # Without a database only the cache can answer: it does for the verified key, not for the other.
        assert store.authenticate(issued.secret).tenant.name == "zibo-chem"
        with pytest.raises(UnboundExecutionError):
            store.authenticate(uncached.secret)
    finally:
        store.engine = real_engine


def test_limits_change_and_are_seen_by_authentication(store: TenantStore) -> None:
    store.create_tenant(_spec(), actor="root")
    issued = store.issue_key("zibo-chem", Role.consumer, actor="root")
    assert store.authenticate(issued.secret).tenant.rate_per_second is None
    store.set_limits("zibo-chem", actor="ops@operator", rate_per_second=5.0, burst=10, monthly_quota=100)
    tenant = store.authenticate(issued.secret).tenant
    assert (tenant.rate_per_second, tenant.burst, tenant.monthly_quota) == (5.0, 10, 100)


def test_every_admin_action_is_audited(store: TenantStore, clock: Clock) -> None:
    store.create_tenant(_spec(), actor="root")
    clock.now = START + timedelta(minutes=1)
    issued = store.issue_key("zibo-chem", Role.admin, actor="root", label="first admin")
    clock.now = START + timedelta(minutes=2)
    store.set_limits("zibo-chem", actor=issued.key.prefix, rate_per_second=None, burst=None, monthly_quota=10)
    clock.now = START + timedelta(minutes=3)
    store.revoke_key(issued.key.prefix, actor=issued.key.prefix)
    store.revoke_key(issued.key.prefix, actor=issued.key.prefix)  # a no-op is not an action

    entries = store.audit_log()
    assert [(e.action, e.actor, e.target, e.at) for e in entries] == [
        ("key.revoke", issued.key.prefix, issued.key.prefix, START + timedelta(minutes=3)),
        ("tenant.limits", issued.key.prefix, "zibo-chem", START + timedelta(minutes=2)),
        ("key.issue", "root", issued.key.prefix, START + timedelta(minutes=1)),
        ("tenant.create", "root", "zibo-chem", START),
    ]
    assert entries[3].detail["city"] == "zibo"
    assert entries[2].detail["role"] == "admin" and entries[2].detail["tenant"] == "zibo-chem"
    assert entries[1].detail["after"]["monthly_quota"] == 10
    assert issued.secret not in repr(entries)
    assert [e.action for e in store.audit_log(target="zibo-chem")] == ["tenant.limits", "tenant.create"]


def test_failed_action_leaves_no_audit_entry(store: TenantStore) -> None:
    store.create_tenant(_spec(), actor="root")
    with pytest.raises(Conflict):
        store.create_tenant(_spec(), actor="root")
    assert [e.action for e in store.audit_log()] == ["tenant.create"]


def test_open_migrates_the_configured_database(db_url: str) -> None:
    store = TenantStore.open(PlatformSettings(database_url=db_url))
    try:
        store.create_tenant(_spec(), actor="root")
        assert store.get_tenant("zibo-chem").city == "zibo"
    finally:
        store.engine.dispose()
