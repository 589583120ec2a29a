"""Routes of the capability centre about tenancy: who a key is, a tenant's keys, the tenants, usage per day.

`GET /api/v1/whoami` lets the portal (`deploy/portal`) verify a key at login and show only what the key's
rights allow; the answer is the one rights table's verdict (`deploy.tenancy.rights.RIGHTS`), not a copy.
Keys are issued (the secret shown once, in that answer only), listed and revoked within the caller's own
tenant (right `manage keys`); an operator's admin (right `manage tenants`) may name another tenant. A key of
another tenant is answered like a missing one (404), so the routes tell nobody which keys exist elsewhere.
Kept apart from `gateway.py` so that the registry's routes and these grow without colliding.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, TypeVar

from fastapi import Body, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from deploy.centre.calls import address_of, centre_of, key_of
from deploy.centre.errors import BadRequest, NotFound
from deploy.db import utcnow
from deploy.metering.report import usage_assessment, usage_by_day
from deploy.tenancy import Principal
from deploy.tenancy.keys import KEY_SCHEME
from deploy.tenancy.model import ApiKey, Role, Tenant, TenantSpec
from deploy.tenancy.queues import give_tenant_queue
from deploy.tenancy.rights import RIGHTS

#: The statuses of these routes besides 200 (merged into `gateway.ROUTE_STATUSES`).
_AUTHENTICATED = (401, 403, 429, 503)
STATUSES: dict[str, tuple[int, ...]] = {
    "/api/v1/whoami": _AUTHENTICATED,
    "/api/v1/keys": (400, 404, *_AUTHENTICATED),
    "/api/v1/keys/{prefix}/revoke": (404, *_AUTHENTICATED),
    "/api/v1/tenants": (400, 409, *_AUTHENTICATED),
    "/api/v1/tenants/{name}/limits": (400, 404, *_AUTHENTICATED),
    "/api/v1/usage/daily": (400, *_AUTHENTICATED),
    "/api/v1/usage/assessment": (400, *_AUTHENTICATED),
    "/api/v1/audit": (400, *_AUTHENTICATED),
}


class LimitsRequest(BaseModel):
    """A tenant's own limits; a field left out or null goes back to the platform default."""

    model_config = ConfigDict(extra="forbid")

    rate_per_second: float | None = Field(default=None, gt=0, le=1_000_000)
    burst: int | None = Field(default=None, gt=0, le=1_000_000)
    monthly_quota: int | None = Field(default=None, gt=0, le=10**12)


class KeyRequest(BaseModel):
    """What an admin sends to issue a key of its tenant."""

    model_config = ConfigDict(extra="forbid")

    role: Role = Role.consumer
    label: str = Field(default="", max_length=200)
    days: int | None = Field(default=None, ge=1, le=3650)
    """Lifetime; default the platform's `key_ttl_days`."""
    tenant: str | None = Field(default=None, max_length=64)
    """Another tenant: operators' admins only (right `manage tenants`)."""


def include(api: FastAPI) -> None:
    """Add the tenancy routes to the centre's API."""

    @api.get("/api/v1/whoami")
    def whoami(request: Request) -> dict[str, Any]:
        """The key's tenant, role and the rights it holds (names of `RIGHTS`)."""
        principal = _principal(request, "read own key")
        return {
            **_tenant_json(principal.tenant),
            "tenant": principal.tenant.name,
            "role": principal.role.value,
            "key_id": principal.key_id,
            "rights": [name for name in RIGHTS if principal.may(name)],
        }

    @api.get("/api/v1/keys")
    def list_keys(request: Request, tenant: str | None = None) -> dict[str, Any]:
        """The keys of the caller's tenant (prefix, role, label, state; never a secret)."""
        principal = _principal(request, "manage keys")
        store = centre_of(request).tenants
        name = _tenant_for(principal, tenant)
        now = utcnow()
        return {"tenant": name, "items": [_key_json(k, now) for k in store.list_keys(name)]}

    @api.post("/api/v1/keys", status_code=201)
    def issue_key(request: Request, body: Any = Body(None)) -> JSONResponse:
        """Issue a key of the caller's tenant: the secret is in this answer and nowhere else, ever."""
        principal = _principal(request, "manage keys")
        wanted = _parse(KeyRequest, body, "key request")
        name = _tenant_for(principal, wanted.tenant)
        store = centre_of(request).tenants
        ttl = timedelta(days=wanted.days) if wanted.days is not None else None
        issued = store.issue_key(name, wanted.role, principal.actor, label=wanted.label, ttl=ttl)
        return JSONResponse({**_key_json(issued.key, utcnow()), "key": issued.secret}, 201)

    @api.post("/api/v1/keys/{prefix}/revoke")
    def revoke_key(prefix: str, request: Request) -> dict[str, Any]:
        """Revoke a key of the caller's tenant by its visible prefix (`ibk_<key id>`)."""
        principal = _principal(request, "manage keys")
        store = centre_of(request).tenants
        key_id = prefix.removeprefix(f"{KEY_SCHEME}_")
        owned = next((k for k in store.list_keys() if k.key_id == key_id), None)
        if owned is None or (owned.tenant != principal.tenant.name and not principal.may("manage tenants")):
            raise NotFound(f"API key {prefix!r}", "GET /api/v1/keys lists your tenant's keys")
        return _key_json(store.revoke_key(key_id, principal.actor), utcnow())

    @api.get("/api/v1/tenants")
    def list_tenants(request: Request) -> dict[str, Any]:
        """Every tenant with its kind, industries, city and limits (operators' admins and ops)."""
        _principal(request, "read usage of other tenants")
        return {"items": [_tenant_json(t) for t in centre_of(request).tenants.list_tenants()]}

    @api.post("/api/v1/tenants", status_code=201)
    def create_tenant(request: Request, body: Any = Body(None)) -> JSONResponse:
        """Create a tenant, and its leaf queue in the scheduler under its industry brain (operators'
        admins: right `manage tenants`), as `brain tenants create` does."""
        principal = _principal(request, "manage tenants")
        spec = _parse(TenantSpec, body, "tenant")
        centre = centre_of(request)
        tenant = centre.tenants.create_tenant(spec, principal.actor)
        queue = give_tenant_queue(tenant, centre.settings)
        return JSONResponse({**_tenant_json(tenant), "queue": queue}, 201)

    @api.put("/api/v1/tenants/{name}/limits")
    def set_limits(name: str, request: Request, body: Any = Body(None)) -> dict[str, Any]:
        """Set a tenant's request rate, burst and monthly quota (operators' admins)."""
        principal = _principal(request, "manage tenants")
        limits = _parse(LimitsRequest, body, "limits")
        store = centre_of(request).tenants
        tenant = store.set_limits(
            name,
            principal.actor,
            rate_per_second=limits.rate_per_second,
            burst=limits.burst,
            monthly_quota=limits.monthly_quota,
        )
        return _tenant_json(tenant)

    @api.get("/api/v1/usage/daily")
    def usage_daily(
        request: Request, month: str, tenant: str | None = None, component: str | None = None
    ) -> dict[str, Any]:
        """Calls and errors per day × tenant × component of a month (the series of the usage charts)."""
        principal = _principal(request, "read usage")
        if tenant is None:
            tenant = None if principal.may("read usage of other tenants") else principal.tenant.name
        elif tenant != principal.tenant.name:
            principal.require("read usage of other tenants")
        try:
            days = usage_by_day(centre_of(request).tenants.engine, month, tenant=tenant, component=component)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        return {"month": month, "days": days}

    @api.get("/api/v1/usage/assessment")
    def usage_assessment_route(request: Request, period: str = Query(max_length=7)) -> dict[str, Any]:
        """Calls and errors per industry brain and per city, with tenant counts, for a month ("2026-11")
        or a year ("2026"): the provincial office's assessment (right `read assessment`). Sums only."""
        _principal(request, "read assessment")
        store = centre_of(request).tenants
        return usage_assessment(store.engine, period, store.list_tenants())

    @api.get("/api/v1/audit")
    def audit(
        request: Request,
        target: str | None = Query(None, max_length=200, description="A tenant, key id or component"),
        action: str | None = Query(
            None, max_length=64, description='An action ("component.promote") or a family ("component.")'
        ),
        limit: int = Query(100, ge=1, le=1000),
    ) -> dict[str, Any]:
        """Who changed tenants, keys and the registry, and when; newest first (right `read audit log`)."""
        _principal(request, "read audit log")
        entries = centre_of(request).tenants.audit_log(target=target, action=action, limit=limit)
        return {"items": [e.as_json() for e in entries]}


M = TypeVar("M", bound=BaseModel)


def _parse(model: type[M], body: Any, what: str) -> M:
    """The JSON body as ``model``; 400 naming the first field that is wrong."""
    try:
        return model.model_validate(body if body is not None else {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise BadRequest(f"invalid {what}: {where}: {message}") from None


def _principal(request: Request, right: str) -> Principal:
    principal = centre_of(request).authenticate(key_of(request), address_of(request))
    principal.require(right)
    return principal


def _tenant_for(principal: Principal, tenant: str | None) -> str:
    """The caller's own tenant, or the one it names if it may manage every tenant (else 404, like a
    tenant that does not exist: no oracle)."""
    if tenant is None or tenant == principal.tenant.name:
        return principal.tenant.name
    if not principal.may("manage tenants"):
        raise NotFound(f"tenant {tenant!r}", "a key manages the keys of its own tenant only")
    return tenant


def _tenant_json(tenant: Tenant) -> dict[str, Any]:
    return {
        "name": tenant.name,
        "display": tenant.display,
        "kind": tenant.kind.value,
        "industries": list(tenant.industries),
        "city": tenant.city,
        "monthly_quota": tenant.monthly_quota,
        "rate_per_second": tenant.rate_per_second,
    }


def _key_json(key: ApiKey, now: datetime) -> dict[str, Any]:
    return {
        "prefix": key.prefix,
        "tenant": key.tenant,
        "role": key.role.value,
        "label": key.label,
        "state": key.state(now),
        "created_at": key.created_at.isoformat(),
        "expires_at": key.expires_at.isoformat(),
        "created_by": key.created_by,
    }
