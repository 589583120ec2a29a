"""The table of rights: what it says, and that docs/security.md shows it as it is."""

from __future__ import annotations

from deploy.tenancy import Role, TenantKind
from deploy.tenancy.rights import RIGHTS, Reach, holds, render_markdown
from tests.conftest import ROOT

#: Rights over every tenant that are not the operators' alone: sums with no tenant named.
AGGREGATES = {"read assessment"}


def test_the_platform_wide_rights_are_the_operators() -> None:
    for name, right in RIGHTS.items():
        if right.reach is Reach.every and name not in AGGREGATES:
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


def test_the_provincial_office_reads_the_assessment_and_no_enterprise_does() -> None:
    assert holds(Role.consumer, TenantKind.government, "read assessment")
    assert holds(Role.admin, TenantKind.operator, "read assessment")
    assert not holds(Role.admin, TenantKind.enterprise, "read assessment")
    # ...and the office still reads no enterprise's own usage lines.
    assert not holds(Role.admin, TenantKind.government, "read usage of other tenants")
