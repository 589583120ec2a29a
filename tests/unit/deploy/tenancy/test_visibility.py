"""private → owner; industry → tenants sharing an industry; public → all."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from deploy.tenancy import Tenant, TenantKind, can_see

OWNER = "shandong-heavy"
INDUSTRIES = ["high-end-equipment", "construction-machinery"]


def _tenant(name: str, *industries: str) -> Tenant:
    return Tenant(
        name=name,
        display=name,
        kind=TenantKind.enterprise,
        industries=industries,
        city="jinan",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


OWNER_T = _tenant(OWNER, "high-end-equipment")
PEER = _tenant("weichai", "construction-machinery", "new-energy-equipment")
STRANGER = _tenant("textile-co", "textiles-apparel")


@pytest.mark.parametrize(
    ("visibility", "viewer", "expected"),
    [
        ("private", OWNER_T, True),
        ("private", PEER, False),
        ("private", STRANGER, False),
        ("industry", OWNER_T, True),
        ("industry", PEER, True),
        ("industry", STRANGER, False),
        ("public", OWNER_T, True),
        ("public", PEER, True),
        ("public", STRANGER, True),
    ],
)
def test_visibility_rule(visibility: str, viewer: Tenant, expected: bool) -> None:
    assert can_see(viewer, owner=OWNER, visibility=visibility, industries=INDUSTRIES) is expected


def test_owner_sees_industry_component_outside_its_own_industries() -> None:
    owner = _tenant(OWNER, "pharmaceuticals")
    assert can_see(owner, owner=OWNER, visibility="industry", industries=["textiles-apparel"])


def test_unknown_visibility_is_an_error_not_a_leak() -> None:
    with pytest.raises(ValueError):
        can_see(PEER, owner=OWNER, visibility="everyone", industries=INDUSTRIES)
