"""Key material, key states, roles, and the tenant spec operators send."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from deploy.centre.errors import Forbidden
from deploy.tenancy import (
    ApiKey,
    Principal,
    Role,
    Tenant,
    TenantKind,
    TenantSpec,
    hash_key,
    key_id_of,
    new_key,
)
from scheduler.model import SHANDONG_CITIES

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_new_keys_are_random_prefixed_and_parseable() -> None:
    keys = [new_key() for _ in range(200)]
    assert len({k for _, k in keys}) == 200
    assert len({i for i, _ in keys}) == 200
    for key_id, key in keys:
        assert key.startswith(f"ibk_{key_id}_")
        assert len(key) >= 4 + 8 + 1 + 43  # 32 random bytes of secret, url-safe base64
        assert key_id_of(key) == key_id


def test_hash_is_sha256_of_the_whole_key() -> None:
    _, key = new_key()
    assert hash_key(key) == hashlib.sha256(key.encode()).hexdigest()
    assert hash_key(key) != hash_key(key + "x")


@pytest.mark.parametrize(
    "garbage", ["", "ibk", "ibk_1234", "ibk_12345678_", "sk_12345678_abc", "ibk_123_abc"]
)
def test_garbage_is_not_a_key(garbage: str) -> None:
    assert key_id_of(garbage) is None


def _key(**kw: object) -> ApiKey:
    fields: dict[str, object] = {
        "key_id": "0a1b2c3d",
        "tenant": "acme",
        "role": Role.consumer,
        "label": "",
        "created_at": NOW - timedelta(days=1),
        "expires_at": NOW + timedelta(days=1),
    }
    fields.update(kw)
    return ApiKey(**fields)  # type: ignore[arg-type]


def test_key_states() -> None:
    assert _key().state(NOW) == "active"
    assert _key(expires_at=NOW).state(NOW) == "expired"
    assert _key(revoked_at=NOW).state(NOW) == "revoked"
    assert _key().prefix == "ibk_0a1b2c3d"


def _principal(role: Role, kind: TenantKind = TenantKind.enterprise) -> Principal:
    tenant = Tenant("acme", "Acme", kind, ("pharmaceuticals",), "heze", NOW)
    return Principal(tenant=tenant, role=role, key_id="0a1b2c3d")


def test_roles() -> None:
    assert _principal(Role.admin).may("manage keys")
    assert _principal(Role.consumer).may("infer")
    assert _principal(Role.consumer).may("read usage")  # its own tenant's
    assert not _principal(Role.consumer).may("register components")
    assert _principal(Role.developer).may("register components")
    # An enterprise's admin and ops manage their tenant; the platform belongs to operator tenants.
    for role in (Role.admin, Role.ops):
        assert not _principal(role).may("manage pools") and not _principal(role).operator
        assert not _principal(role).may("read usage of other tenants")
        assert not _principal(role, TenantKind.government).may("manage pools")
        assert _principal(role, TenantKind.operator).may("manage pools")
        assert _principal(role, TenantKind.operator).operator
    assert not _principal(Role.consumer, TenantKind.operator).may("manage pools")
    with pytest.raises(Forbidden, match="platform-operator tenant"):
        _principal(Role.admin).require("read usage of other tenants")
    with pytest.raises(Forbidden) as caught:
        _principal(Role.developer).require("manage keys")
    assert caught.value.status == 403
    assert "role 'developer' may not manage keys" in caught.value.message


def test_shandong_has_16_cities() -> None:
    assert len(SHANDONG_CITIES) == 16
    assert set(SHANDONG_CITIES.values()) >= {"济南", "青岛", "淄博", "烟台", "菏泽"}


def test_tenant_spec_validates_what_operators_send() -> None:
    spec = TenantSpec(
        name="zibo-chem",
        display="淄博化工",
        kind=TenantKind.enterprise,
        industries=["high-end-chemicals"],
        city="zibo",
    )
    assert spec.monthly_quota is None
    bad = {"name": "zibo-chem", "display": "x", "kind": "enterprise", "industries": ["high-end-chemicals"]}
    for field, value, fragment in [
        ("city", "shanghai", "unknown city"),
        ("industries", ["steel"], "unknown industry"),
        ("name", "Zibo Chem", "not a valid tenant name"),
        ("kind", "startup", "kind"),
        ("colour", "blue", "Extra inputs"),
    ]:
        data = {**bad, "city": "zibo", field: value}
        with pytest.raises(ValidationError, match=fragment):
            TenantSpec.model_validate(data)
