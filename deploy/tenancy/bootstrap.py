"""First-run set-up of the embedded platform: the operator tenant and its admin key."""

from __future__ import annotations

from deploy.tenancy import IssuedKey, Role, TenantKind, TenantSpec, TenantStore
from model_hub import INDUSTRIES
from scheduler.model import SHANDONG_CITIES

OPERATOR = "platform"


def ensure_operator(store: TenantStore) -> IssuedKey | None:
    """Create the operator tenant with an admin key on first run; return the key only then.

    The key is shown once by `brain up`; a lost one is replaced with
    `brain keys issue platform --role admin`.
    """
    if any(t.name == OPERATOR for t in store.list_tenants()):
        return None
    store.create_tenant(
        TenantSpec(
            name=OPERATOR,
            display="产业大脑平台运营 Industry Brain platform operator",
            kind=TenantKind.operator,
            industries=[i.code for i in INDUSTRIES],
            city=next(iter(SHANDONG_CITIES)),  # Jinan, the provincial capital
        ),
        actor="brain up",
    )
    return store.issue_key(OPERATOR, Role.admin, "brain up", label="first admin key (brain up)")
