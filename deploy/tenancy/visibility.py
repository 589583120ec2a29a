"""Who may see a component: a pure function of the component's card and the caller's tenant."""

from __future__ import annotations

from collections.abc import Collection

from deploy.tenancy.model import Tenant
from model_hub.taxonomy import Visibility


def can_see(viewer: Tenant, *, owner: str, visibility: Visibility | str, industries: Collection[str]) -> bool:
    """private → only the owner tenant; industry → tenants sharing one of the component's industries (and
    the owner); public → every tenant.

    Callers must answer an invisible component exactly as a missing one (404), so that its existence
    does not leak.
    """
    if viewer.name == owner:
        return True
    level = Visibility(visibility)
    if level is Visibility.public:
        return True
    if level is Visibility.industry:
        return not set(viewer.industries).isdisjoint(industries)
    return False
