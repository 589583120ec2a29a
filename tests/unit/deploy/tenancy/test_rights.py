"""The table of rights: what it says, and that docs/security.md shows it as it is."""

from __future__ import annotations

from deploy.tenancy import Role, TenantKind
from deploy.tenancy.rights import RIGHTS, Reach, holds, render_markdown
from tests.conftest import ROOT


def test_the_platform_wide_rights_are_the_operators() -> None:
    for name, right in RIGHTS.items():
        if right.reach is Reach.every:
            assert right.kinds == {TenantKind.operator}, name
            assert not holds(Role.admin, TenantKind.enterprise, name)
            assert not holds(Role.admin, TenantKind.government, name)
    assert holds(Role.ops, TenantKind.operator, "manage pools")
    assert not holds(Role.consumer, TenantKind.operator, "manage pools")
    assert holds(Role.consumer, TenantKind.enterprise, "submit jobs")
    assert not holds(Role.consumer, TenantKind.enterprise, "submit high-priority jobs")


def test_the_security_page_shows_the_table_as_it_is() -> None:
    page = (ROOT / "docs" / "security.md").read_text()
    shown = page.split("<!-- rights:begin -->\n", 1)[1].split("<!-- rights:end -->", 1)[0]
    assert shown == render_markdown(), (
        "docs/security.md's table differs from deploy/tenancy/rights.py: paste the output of "
        "`render_markdown()` of `deploy/tenancy/rights.py` between the rights markers"
    )
