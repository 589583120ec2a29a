"""A new tenant's place in the scheduler's queue tree: a leaf queue under its industry brain's queue.

Without it the tenant's first job is refused with "tenant has no queue" until an operator edits the
tree by hand. The leaf gets the platform's default guarantee (`PlatformSettings.tenant_queue_guaranteed`);
an operator changes it like any queue (`brain pools apply`, ``PUT /api/v1/topology``).
"""

from __future__ import annotations

from deploy.settings import PlatformSettings
from deploy.tenancy.model import Tenant
from scheduler.spec import AmountSpec, QueueSpec
from scheduler.store import SchedulerStore

ROOT = "shandong"
"""The province's root queue, made when the tree is still empty."""


def industry_queue(industry: str) -> str:
    """The queue of the industry brain that serves `industry` (the tenant's first industry)."""
    return f"brain-{industry}"


def ensure_tenant_queue(store: SchedulerStore, tenant: Tenant, settings: PlatformSettings) -> QueueSpec:
    """The tenant's leaf queue, made (with its industry brain's queue) if the tree has none for it."""
    specs = {q.name: q for q in store.queue_specs()}
    for spec in specs.values():
        if spec.tenant == tenant.name:
            return spec
    roots = [q.name for q in specs.values() if q.parent is None]
    root = roots[0] if roots else ROOT
    new: list[QueueSpec] = [] if roots else [QueueSpec(name=ROOT)]
    parent = industry_queue(tenant.industries[0])
    if parent not in specs:
        new.append(QueueSpec(name=parent, parent=root))
    name = tenant.name if tenant.name not in specs else f"tenant-{tenant.name}"
    leaf = QueueSpec(
        name=name,
        parent=parent,
        tenant=tenant.name,
        guaranteed=AmountSpec.model_validate(settings.tenant_queue_guaranteed),
    )
    store.put_queues([*new, leaf])
    return leaf


def give_tenant_queue(tenant: Tenant, settings: PlatformSettings) -> str:
    """Give a new tenant its leaf queue in the scheduler of the platform at ``settings.home`` (its store,
    as the platform composes the scheduler's settings); the queue's name. `brain tenants create` and
    ``POST /api/v1/tenants``."""
    from deploy.settings import scheduler_settings

    store = SchedulerStore.open(scheduler_settings(home=settings.home))
    try:
        return ensure_tenant_queue(store, tenant, settings).name
    finally:
        store.close()
