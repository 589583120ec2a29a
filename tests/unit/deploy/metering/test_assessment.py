"""The provincial office's assessment: sums per industry brain and city, no tenant named."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from deploy.centre.errors import BadRequest
from deploy.metering.report import UNKNOWN_GROUP, UsageLine, assessment, period_days


def _line(tenant: str, calls: int, errors: int = 0, component: str = "c") -> UsageLine:
    return UsageLine("2026-11", tenant, component, "1", calls, errors, calls, 1.0, 2.0)


TENANTS = [
    SimpleNamespace(name="a", industries=("high-end-chemicals", "light-industry"), city="binzhou"),
    SimpleNamespace(name="b", industries=("light-industry",), city="jinan"),
]


def test_sums_per_industry_and_city_with_tenant_counts() -> None:
    lines = [_line("a", 2, 1), _line("a", 3, component="d"), _line("b", 6), _line("gone", 4)]
    view = assessment(lines, TENANTS)
    assert view["industries"] == [
        {"industry": UNKNOWN_GROUP, "calls": 4, "errors": 0, "tenants": 1},
        {"industry": "high-end-chemicals", "calls": 5, "errors": 1, "tenants": 1},
        # a tenant in two chains counts in both; b and a both serve light industry
        {"industry": "light-industry", "calls": 11, "errors": 1, "tenants": 2},
    ]
    assert view["cities"] == [
        {"city": UNKNOWN_GROUP, "city_zh": "", "calls": 4, "errors": 0, "tenants": 1},
        {"city": "binzhou", "city_zh": "滨州", "calls": 5, "errors": 1, "tenants": 1},
        {"city": "jinan", "city_zh": "济南", "calls": 6, "errors": 0, "tenants": 1},
    ]
    # no tenant's name anywhere in the answer
    assert "'a'" not in repr(view) and "'b'" not in repr(view)


def test_a_period_is_a_month_or_a_year() -> None:
    assert period_days("2026-11") == (date(2026, 11, 1), date(2026, 12, 1))
    assert period_days("2026-12") == (date(2026, 12, 1), date(2027, 1, 1))
    assert period_days("2026") == (date(2026, 1, 1), date(2027, 1, 1))
    for bad in ("26", "2026-13", "2026-1", "last year", ""):
        with pytest.raises(BadRequest, match="YYYY-MM"):
            period_days(bad)
