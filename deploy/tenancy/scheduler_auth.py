"""The scheduler REST API's key check: the platform's tenant API keys (named in `SchedulerSettings.api_auth`).

The scheduler cannot import the platform, so the service loads `authenticator` by its import path.
A key's tenant is the job tenant it may act for. What else it may do comes from the table of rights
(`deploy.tenancy.rights`): only the admin and ops keys of a platform-operator tenant are operators of the
scheduler, and only they may run their own code or submit critical work.
"""

from __future__ import annotations

from deploy.centre.errors import ServeError
from deploy.settings import PlatformSettings
from deploy.tenancy.model import Principal
from deploy.tenancy.store import TenantStore
from scheduler.api import Authenticate, Caller
from scheduler.errors import Unauthenticated
from scheduler.settings import SchedulerSettings


def caller_of(principal: Principal) -> Caller:
    classes = {"best-effort", "normal"}
    if principal.may("submit high-priority jobs"):
        classes.add("high")
    if principal.may("submit critical jobs"):
        classes.add("critical")
    return Caller(
        tenant=principal.tenant.name,
        role=principal.role.value,
        operator=principal.may("manage pools") and principal.may("manage jobs of other tenants"),
        run_code=principal.may("run own code"),
        priority_classes=frozenset(classes),
    )


def store_authenticator(store: TenantStore) -> Authenticate:
    """Checks keys against `store`; its errors become the scheduler's 401."""

    def authenticate(key: str | None) -> Caller:
        try:
            return caller_of(store.authenticate(key))
        except ServeError as exc:
            raise Unauthenticated(exc.message) from None

    return authenticate


def authenticator(settings: SchedulerSettings) -> Authenticate:
    """The key check of the platform database under the scheduler's BRAIN_HOME (or BRAIN_DATABASE_URL)."""
    return store_authenticator(TenantStore.open(PlatformSettings(home=settings.home)))
