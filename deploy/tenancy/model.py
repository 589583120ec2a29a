"""Tenants, roles, keys and audit entries: what the tenancy store hands out (dataclasses), and what an
operator sends to create a tenant (:class:`TenantSpec`, pydantic)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from deploy.centre.errors import Forbidden
from model_hub.taxonomy import check_industries
from scheduler.model import SHANDONG_CITIES

TENANT_NAME = re.compile(r"^[a-z][a-z0-9-]{1,62}[a-z0-9]$")

#: Every key starts with this, so secret scanners and people recognise a leaked one.
KEY_SCHEME = "ibk"


class TenantKind(StrEnum):
    enterprise = "enterprise"  # 企业
    operator = "operator"  # 产业大脑运营方: runs an industry brain
    government = "government"  # 政府部门


class Role(StrEnum):
    admin = "admin"  # manages its tenant: keys, limits; sees everything of it
    ops = "ops"  # runs deployments and pools, reads usage
    developer = "developer"  # registers and versions components
    consumer = "consumer"  # calls components


class TenantSpec(BaseModel):
    """What an operator sends to create a tenant."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    """Slug, 3-64 lower-case letters, digits or '-'; also the ``owner`` written on component cards."""
    display: str = Field(min_length=1, max_length=200)
    """Full name, e.g. 山东重工集团有限公司."""
    kind: TenantKind
    industries: list[str] = Field(min_length=1)
    """Industry codes (``model_hub.taxonomy``); industry-visible components are shared along them."""
    city: str
    """One of Shandong's 16 cities (code, e.g. ``jinan``)."""
    rate_per_second: float | None = Field(default=None, gt=0)
    """Sustained request rate; None: the platform default."""
    burst: int | None = Field(default=None, gt=0)
    """Token-bucket size; None: the platform default."""
    monthly_quota: int | None = Field(default=None, gt=0)
    """Calls per calendar month; None: the platform default."""

    @field_validator("name")
    @classmethod
    def _slug(cls, name: str) -> str:
        if not TENANT_NAME.match(name):
            raise ValueError(
                f"{name!r} is not a valid tenant name: use 3-64 lower-case letters, digits or '-', "
                f"starting with a letter"
            )
        return name

    _industries = field_validator("industries")(check_industries)

    @field_validator("city")
    @classmethod
    def _city(cls, code: str) -> str:
        if code not in SHANDONG_CITIES:
            raise ValueError(f"unknown city {code!r}; use one of Shandong's: {', '.join(SHANDONG_CITIES)}")
        return code


@dataclass(frozen=True)
class Tenant:
    name: str
    display: str
    kind: TenantKind
    industries: tuple[str, ...]
    city: str
    created_at: datetime
    rate_per_second: float | None = None
    burst: int | None = None
    monthly_quota: int | None = None


@dataclass(frozen=True)
class ApiKey:
    """A key as listed: never the secret, only its visible prefix."""

    key_id: str
    tenant: str
    role: Role
    label: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    created_by: str = ""

    @property
    def prefix(self) -> str:
        """What lists and logs show, and what `brain keys revoke` takes."""
        return f"{KEY_SCHEME}_{self.key_id}"

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if now >= self.expires_at else "active"


@dataclass(frozen=True)
class IssuedKey:
    """A freshly issued key: the only time the secret exists outside its owner's hands."""

    key: ApiKey
    secret: str
    """The whole key, ``ibk_<key id>_<secret>``: show it once, then it is gone."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: the tenant and role of a verified key."""

    tenant: Tenant
    role: Role
    key_id: str

    @property
    def actor(self) -> str:
        """Who acted, for the audit log: the key's public id (never its secret)."""
        return f"key:{KEY_SCHEME}_{self.key_id}"

    @property
    def operator(self) -> bool:
        """Whether the key holds the platform-wide rights (an operator tenant's admin or ops)."""
        return self.may("manage pools")

    def may(self, action: str) -> bool:
        """Whether this key holds the right named `action` (`deploy.tenancy.rights.RIGHTS`)."""
        from deploy.tenancy.rights import holds  # the table imports this module's enums

        return holds(self.role, self.tenant.kind, action)

    def require(self, action: str) -> None:
        if not self.may(action):
            from deploy.tenancy.rights import who_holds

            raise Forbidden(self.role.value, action, [who_holds(action)])


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str
    action: str
    target: str
    detail: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "detail": self.detail,
        }
