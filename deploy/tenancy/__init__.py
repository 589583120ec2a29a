"""Tenants, roles, API keys, visibility, rate limits and quotas of the capability centre."""

from deploy.tenancy.keys import hash_key, key_id_of, new_key
from deploy.tenancy.limits import RateLimits, TokenBucket, check_quota
from deploy.tenancy.model import (
    ACTIONS,
    KEY_SCHEME,
    ApiKey,
    AuditEntry,
    IssuedKey,
    Principal,
    Role,
    Tenant,
    TenantKind,
    TenantSpec,
)
from deploy.tenancy.store import TenantStore
from deploy.tenancy.visibility import can_see

__all__ = [
    "ACTIONS",
    "KEY_SCHEME",
    "ApiKey",
    "AuditEntry",
    "IssuedKey",
    "Principal",
    "RateLimits",
    "Role",
    "Tenant",
    "TenantKind",
    "TenantSpec",
    "TenantStore",
    "TokenBucket",
    "can_see",
    "check_quota",
    "hash_key",
    "key_id_of",
    "new_key",
]
