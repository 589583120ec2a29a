"""Usage reports for the yearly assessment: sums over sources, per tenant × component × day or month."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import date
from typing import Any, Literal

from sqlalchemy import Engine, Select, func, select
from sqlalchemy.sql.functions import FunctionElement

from deploy.centre.errors import BadRequest
from deploy.metering.calendar import month_days
from deploy.metering.schema import UsageRow
from scheduler.model import SHANDONG_CITIES


@dataclass(frozen=True)
class UsageLine:
    """One line of a usage report: a tenant's use of one component version in one month."""

    month: str
    tenant: str
    component: str
    version: str
    calls: int
    errors: int
    rows: int
    latency_ms_mean: float
    latency_ms_max: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


USAGE_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(UsageLine))


def _usage_query(
    columns: Sequence[Any],
    days: tuple[date, date],
    tenant: str | None,
    component: str | None,
) -> Select[Any]:
    """SELECT ``columns`` (the grouping ones first) of the usage rows of the half-open day range, with
    the optional filters, grouped and ordered by every column that is not a sum: one place for the filter
    rules that every report shares."""
    first, following = days
    keys = [c for c in columns if not isinstance(c, FunctionElement)]
    query = select(*columns).where(UsageRow.day >= first, UsageRow.day < following)
    if tenant is not None:
        query = query.where(UsageRow.tenant == tenant)
    if component is not None:
        query = query.where(UsageRow.component == component)
    return query.group_by(*keys).order_by(*keys)


def usage_report(
    engine: Engine, month: str, *, tenant: str | None = None, component: str | None = None
) -> list[UsageLine]:
    """Usage of ``month`` ("2026-11") per tenant × component × version, from what has been flushed."""
    return _usage_lines(engine, month, month_days(month), tenant=tenant, component=component)


def _usage_lines(
    engine: Engine,
    label: str,
    days: tuple[date, date],
    *,
    tenant: str | None = None,
    component: str | None = None,
) -> list[UsageLine]:
    """Usage lines over ``days``, each labelled ``label`` (a month, or a year for the assessment)."""
    query = _usage_query(
        [
            UsageRow.tenant,
            UsageRow.component,
            UsageRow.version,
            func.sum(UsageRow.calls),
            func.sum(UsageRow.errors),
            func.sum(UsageRow.rows),
            func.sum(UsageRow.latency_ms_sum),
            func.max(UsageRow.latency_ms_max),
        ],
        days,
        tenant,
        component,
    )
    with engine.connect() as connection:
        result = connection.execute(query).all()
    lines = []
    for t, c, v, n, errors, rows, latency_sum, latency_max in result:
        n = int(n or 0)
        lines.append(
            UsageLine(
                month=label,
                tenant=t,
                component=c,
                version=v,
                calls=n,
                errors=int(errors or 0),
                rows=int(rows or 0),
                latency_ms_mean=round(float(latency_sum or 0.0) / n, 3) if n else 0.0,
                latency_ms_max=round(float(latency_max or 0.0), 3),
            )
        )
    return lines


def usage_by_day(
    engine: Engine, month: str, *, tenant: str | None = None, component: str | None = None
) -> list[dict[str, Any]]:
    """Calls and errors of ``month`` per day × tenant × component (all versions), oldest day first: the
    series behind the portal's usage charts; the monthly lines stay `usage_report`'s."""
    query = _usage_query(
        [
            UsageRow.day,
            UsageRow.tenant,
            UsageRow.component,
            func.sum(UsageRow.calls),
            func.sum(UsageRow.errors),
        ],
        month_days(month),
        tenant,
        component,
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [
        {"day": day.isoformat(), "tenant": t, "component": c, "calls": int(n or 0), "errors": int(e or 0)}
        for day, t, c, n, e in rows
    ]


def render_usage(lines: Iterable[UsageLine], fmt: Literal["csv", "json"]) -> str:
    """A report as CSV (header line first) or a JSON list of objects; tables are the CLI's to draw."""
    if fmt == "json":
        return json.dumps([line.as_dict() for line in lines], ensure_ascii=False, indent=2)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(USAGE_COLUMNS), lineterminator="\n")
        writer.writeheader()
        for line in lines:
            writer.writerow(line.as_dict())
        return out.getvalue()
    raise BadRequest(f"unknown report format {fmt!r}; use csv or json")


YEAR = re.compile(r"^(\d{4})$")

#: Where a tenant's calls go when the tenant is gone from the tenancy store (deleted since).
UNKNOWN_GROUP = "-"


def period_days(period: str) -> tuple[date, date]:
    """First day of ``period`` (a month "2026-11" or a whole year "2026") and the first day after it;
    BadRequest otherwise."""
    if YEAR.match(period):
        year = int(period)
        return date(year, 1, 1), date(year + 1, 1, 1)
    try:
        return month_days(period)
    except BadRequest:
        raise BadRequest(
            f"period {period!r} is neither a month (YYYY-MM, e.g. 2026-11) nor a year (YYYY)"
        ) from None


def assessment(lines: Iterable[UsageLine], tenants: Sequence[Any]) -> dict[str, list[dict[str, Any]]]:
    """Calls and errors per industry brain (industry chain) and per city, with how many tenants made them:
    the provincial office's yearly assessment (考核评估). Only sums and counts, no tenant's name: a
    government office may read these without reading any one enterprise's usage. A tenant in several
    industry chains counts in each of them, so the industry rows may add up to more than the total.
    ``tenants`` are the tenancy store's (anything with ``name``, ``industries`` and ``city``)."""
    known = {t.name: t for t in tenants}
    groups: dict[str, dict[str, dict[str, Any]]] = {"industries": {}, "cities": {}}

    def add(kind: str, key: str, line: UsageLine) -> None:
        row = groups[kind].setdefault(key, {"calls": 0, "errors": 0, "tenants": set()})
        row["calls"] += line.calls
        row["errors"] += line.errors
        row["tenants"].add(line.tenant)

    for line in lines:
        tenant = known.get(line.tenant)
        for code in tenant.industries if tenant is not None else (UNKNOWN_GROUP,):
            add("industries", code, line)
        add("cities", tenant.city if tenant is not None else UNKNOWN_GROUP, line)
    industries = [
        {"industry": code, "calls": r["calls"], "errors": r["errors"], "tenants": len(r["tenants"])}
        for code, r in sorted(groups["industries"].items())
    ]
    cities = [
        {
            "city": code,
            "city_zh": SHANDONG_CITIES.get(code, ""),
            "calls": r["calls"],
            "errors": r["errors"],
            "tenants": len(r["tenants"]),
        }
        for code, r in sorted(groups["cities"].items())
    ]
    return {"industries": industries, "cities": cities}


def usage_assessment(engine: Engine, period: str, tenants: Sequence[Any]) -> dict[str, Any]:
    """:func:`assessment` of every tenant's usage in ``period`` (a month or a year), with the totals."""
    lines = _usage_lines(engine, period, period_days(period))  # one query, for a month or a year
    result = assessment(lines, tenants)
    return {
        "period": period,
        "calls": sum(line.calls for line in lines),
        "errors": sum(line.errors for line in lines),
        "tenants": len({line.tenant for line in lines}),
        **result,
    }
