"""Tenants, roles, API keys, visibility, rate limits and quotas of the platform.

`model` (dataclasses), `rights` (the one table of who may do what), `store` and `schema` (the
database), `keys`, `limits`, `visibility`, `bootstrap` (the operator tenant of a new install) and
`scheduler_auth` (the scheduler API's key check, which the platform hands to the scheduler by name).
May import `deploy.db`, `deploy.settings`, `model_hub` and `scheduler`; not `deploy.centre` beyond its errors.
"""

from deploy.tenancy.keys import hash_key, key_id_of, new_key
from deploy.tenancy.limits import RateLimits, TokenBucket, check_quota
from deploy.tenancy.model import (
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
from deploy.tenancy.rights import RIGHTS
from deploy.tenancy.store import TenantStore
from deploy.tenancy.visibility import can_see

__all__ = [
    "KEY_SCHEME",
    "RIGHTS",
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
