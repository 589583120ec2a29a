"""The tenancy store: tenants, API keys and the audit log in the platform database.

Every admin action writes its audit entry in the same transaction as the change, so the log cannot
miss one. Verifying a key is an indexed lookup of its hash, and verified keys are cached for
``key_cache_seconds`` so the request path rarely touches the database.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from deploy.centre.errors import Conflict, NotFound, Unauthorized
from deploy.db import migrate, open_engine, utc, utcnow
from deploy.settings import PlatformSettings
from deploy.tenancy.keys import hash_key, key_id_of, new_key
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
from deploy.tenancy.schema import ApiKeyRow, AuditRow, TenantRow


class TenantStore:
    def __init__(
        self,
        engine: Engine,
        settings: PlatformSettings | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.settings = settings or PlatformSettings()
        self._clock = clock
        self._lock = threading.Lock()
        # key hash → (principal, key expiry, trusted until)
        self._verified: dict[str, tuple[Principal, datetime, datetime]] = {}

    @classmethod
    def open(cls, settings: PlatformSettings | None = None) -> TenantStore:
        """Connect to the configured database and bring its schema up to date."""
        settings = settings or PlatformSettings()
        engine = open_engine(settings.db_url)
        migrate(engine)
        return cls(engine, settings)

    # --- tenants ----------------------------------------------------------------------------------

    def create_tenant(self, spec: TenantSpec, actor: str) -> Tenant:
        now = self._clock()
        row = TenantRow(
            name=spec.name,
            display=spec.display,
            kind=spec.kind.value,
            industries=list(spec.industries),
            city=spec.city,
            rate_per_second=spec.rate_per_second,
            burst=spec.burst,
            monthly_quota=spec.monthly_quota,
            created_at=now,
        )
        try:
            with Session(self.engine) as session, session.begin():
                session.add(row)
                session.flush()
                self._audit(session, actor, "tenant.create", spec.name, spec.model_dump(mode="json"), now)
                tenant = _tenant(row)
        except IntegrityError:
            raise Conflict(f"tenant {spec.name!r}", "pick another name, or `brain tenants list`") from None
        return tenant

    def get_tenant(self, name: str) -> Tenant:
        with Session(self.engine) as session:
            return _tenant(self._tenant_row(session, name))

    def list_tenants(self) -> list[Tenant]:
        with Session(self.engine) as session:
            return [_tenant(r) for r in session.scalars(select(TenantRow).order_by(TenantRow.name))]

    def set_limits(
        self,
        name: str,
        actor: str,
        *,
        rate_per_second: float | None,
        burst: int | None,
        monthly_quota: int | None,
    ) -> Tenant:
        """Set a tenant's own limits (None: back to the platform default)."""
        now = self._clock()
        with Session(self.engine) as session, session.begin():
            row = self._tenant_row(session, name)
            before = {
                "rate_per_second": row.rate_per_second,
                "burst": row.burst,
                "monthly_quota": row.monthly_quota,
            }
            row.rate_per_second, row.burst, row.monthly_quota = rate_per_second, burst, monthly_quota
            after = {"rate_per_second": rate_per_second, "burst": burst, "monthly_quota": monthly_quota}
            self._audit(session, actor, "tenant.limits", name, {"before": before, "after": after}, now)
            tenant = _tenant(row)
        self._forget_verified()
        return tenant

    # --- keys -------------------------------------------------------------------------------------

    def issue_key(
        self, tenant: str, role: Role, actor: str, *, label: str = "", ttl: timedelta | None = None
    ) -> IssuedKey:
        """Create a key; its secret is in the result and nowhere else, ever."""
        now = self._clock()
        lifetime = ttl if ttl is not None else timedelta(days=self.settings.key_ttl_days)
        if lifetime <= timedelta(0):
            raise ValueError(f"a key's lifetime must be positive, got {lifetime}")
        key_id, secret = new_key()
        with Session(self.engine) as session, session.begin():
            owner = self._tenant_row(session, tenant)
            row = ApiKeyRow(
                key_id=key_id,
                key_hash=hash_key(secret),
                tenant_id=owner.id,
                role=Role(role).value,
                label=label,
                created_at=now,
                expires_at=now + lifetime,
                revoked_at=None,
                created_by=actor,
            )
            session.add(row)
            detail = {"role": row.role, "label": label, "expires_at": row.expires_at.isoformat()}
            self._audit(
                session, actor, "key.issue", f"{KEY_SCHEME}_{key_id}", {"tenant": tenant, **detail}, now
            )
            session.flush()
            key = _key(row, tenant)
        return IssuedKey(key=key, secret=secret)

    def list_keys(self, tenant: str | None = None) -> list[ApiKey]:
        with Session(self.engine) as session:
            query = select(ApiKeyRow, TenantRow.name).join(TenantRow, ApiKeyRow.tenant_id == TenantRow.id)
            if tenant is not None:
                self._tenant_row(session, tenant)
                query = query.where(TenantRow.name == tenant)
            rows = session.execute(query.order_by(TenantRow.name, ApiKeyRow.created_at, ApiKeyRow.id)).all()
            return [_key(key_row, name) for key_row, name in rows]

    def revoke_key(self, key: str, actor: str) -> ApiKey:
        """Revoke by key id, or by the visible prefix ``ibk_<key id>``. Revoking twice is harmless."""
        key_id = key.removeprefix(f"{KEY_SCHEME}_")
        now = self._clock()
        with Session(self.engine) as session, session.begin():
            found = session.execute(
                select(ApiKeyRow, TenantRow.name)
                .join(TenantRow, ApiKeyRow.tenant_id == TenantRow.id)
                .where(ApiKeyRow.key_id == key_id)
            ).first()
            if found is None:
                raise NotFound(f"API key {key!r}", "`brain keys list` shows the keys and their prefixes")
            row, tenant = found
            if row.revoked_at is None:
                row.revoked_at = now
                self._audit(session, actor, "key.revoke", f"{KEY_SCHEME}_{key_id}", {"tenant": tenant}, now)
            revoked = _key(row, tenant)
        # This process stops trusting the key at once; other processes within key_cache_seconds.
        self._forget_verified(key_id)
        return revoked

    def authenticate(self, key: str | None) -> Principal:
        """Who holds ``key``; Unauthorized when it is missing, unknown, revoked or expired."""
        if not key:
            raise Unauthorized()
        now = self._clock()
        digest = hash_key(key)
        cached = self._verified.get(digest)
        if cached is not None and now < cached[2]:
            principal, expires_at, _ = cached
        else:
            if key_id_of(key) is None:
                raise Unauthorized("the API key is malformed (keys start with 'ibk_')")
            principal, expires_at = self._lookup(digest, now)
            trust = timedelta(seconds=self.settings.key_cache_seconds)
            if trust > timedelta(0):
                with self._lock:
                    self._verified[digest] = (principal, expires_at, now + trust)
        # Checked on every call, cached or not: a key stops working the moment it expires.
        if now >= expires_at:
            raise Unauthorized(f"API key {KEY_SCHEME}_{principal.key_id} expired at {expires_at.isoformat()}")
        return principal

    def _lookup(self, digest: str, now: datetime) -> tuple[Principal, datetime]:
        with Session(self.engine) as session:
            found = session.execute(
                select(ApiKeyRow, TenantRow)
                .join(TenantRow, ApiKeyRow.tenant_id == TenantRow.id)
                .where(ApiKeyRow.key_hash == digest)
            ).first()
            if found is None:
                raise Unauthorized("the API key is not recognised")
            row, tenant_row = found
            if row.revoked_at is not None:
                raise Unauthorized(f"API key {KEY_SCHEME}_{row.key_id} was revoked")
            principal = Principal(tenant=_tenant(tenant_row), role=Role(row.role), key_id=row.key_id)
            return principal, utc(row.expires_at)

    def _forget_verified(self, key_id: str | None = None) -> None:
        with self._lock:
            if key_id is None:
                self._verified.clear()
                return
            for digest in [d for d, (p, _, _) in self._verified.items() if p.key_id == key_id]:
                del self._verified[digest]

    # --- audit ------------------------------------------------------------------------------------

    def audit_log(
        self, *, target: str | None = None, action: str | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        """The newest entries first; ``action`` ending in "." selects a family ("component.")."""
        with Session(self.engine) as session:
            query = select(AuditRow).order_by(AuditRow.at.desc(), AuditRow.id.desc()).limit(limit)
            if target is not None:
                query = query.where(AuditRow.target == target)
            if action is not None:
                query = query.where(
                    AuditRow.action.startswith(action, autoescape=True)
                    if action.endswith(".")
                    else AuditRow.action == action
                )
            return [
                AuditEntry(at=utc(r.at), actor=r.actor, action=r.action, target=r.target, detail=r.detail)
                for r in session.scalars(query)
            ]

    def record(self, actor: str, action: str, target: str, detail: dict[str, Any]) -> None:
        """Append an entry for a change made elsewhere (the registry in MLflow), after it succeeded:
        the two stores share no transaction, so a change is logged only once it has happened."""
        with Session(self.engine) as session, session.begin():
            self._audit(session, actor, action, target, detail, self._clock())

    @staticmethod
    def _audit(
        session: Session, actor: str, action: str, target: str, detail: dict[str, Any], now: datetime
    ) -> None:
        session.add(AuditRow(at=now, actor=actor, action=action, target=target, detail=detail))

    @staticmethod
    def _tenant_row(session: Session, name: str) -> TenantRow:
        row = session.scalars(select(TenantRow).where(TenantRow.name == name)).first()
        if row is None:
            raise NotFound(f"tenant {name!r}", "`brain tenants list` shows the tenants")
        return row


def _tenant(row: TenantRow) -> Tenant:
    return Tenant(
        name=row.name,
        display=row.display,
        kind=TenantKind(row.kind),
        industries=tuple(row.industries),
        city=row.city,
        created_at=utc(row.created_at),
        rate_per_second=row.rate_per_second,
        burst=row.burst,
        monthly_quota=row.monthly_quota,
    )


def _key(row: ApiKeyRow, tenant: str) -> ApiKey:
    return ApiKey(
        key_id=row.key_id,
        tenant=tenant,
        role=Role(row.role),
        label=row.label,
        created_at=utc(row.created_at),
        expires_at=utc(row.expires_at),
        revoked_at=utc(row.revoked_at) if row.revoked_at is not None else None,
        created_by=row.created_by,
    )
