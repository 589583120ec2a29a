"""Routes of the capability centre about the caller's own tenancy: who a key is (`GET /api/v1/whoami`).

The portal (`deploy/portal`) verifies a key at login with this route and shows only what the key's rights
allow; the answer is the one rights table's verdict (`deploy.tenancy.rights.RIGHTS`), not a second copy of it.
Kept apart from `gateway.py` so that routes about tenants and keys grow here.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request

from deploy.centre.calls import address_of, centre_of, key_of
from deploy.tenancy.rights import RIGHTS

#: The statuses of these routes besides 200 (merged into `gateway.ROUTE_STATUSES`).
STATUSES: dict[str, tuple[int, ...]] = {"/api/v1/whoami": (401, 403, 429, 503)}


def include(api: FastAPI) -> None:
    """Add the tenancy routes to the centre's API."""

    @api.get("/api/v1/whoami")
    async def whoami(request: Request) -> dict[str, Any]:
        """The key's tenant, role and the rights it holds (names of `RIGHTS`)."""
        centre = centre_of(request)
        principal = centre.authenticate(key_of(request), address_of(request))
        principal.require("read own key")
        tenant = principal.tenant
        return {
            "tenant": tenant.name,
            "display": tenant.display,
            "kind": tenant.kind.value,
            "industries": list(tenant.industries),
            "city": tenant.city,
            "monthly_quota": tenant.monthly_quota,
            "role": principal.role.value,
            "key_id": principal.key_id,
            "rights": [name for name in RIGHTS if principal.may(name)],
        }
