"""Usage reports for the yearly assessment: sums over sources, per tenant × component × day or month."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from sqlalchemy import Engine, func, select

from deploy.centre.errors import BadRequest
from deploy.metering.calendar import month_days
from deploy.metering.schema import UsageRow


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


def usage_report(
    engine: Engine, month: str, *, tenant: str | None = None, component: str | None = None
) -> list[UsageLine]:
    """Usage of ``month`` ("2026-11") per tenant × component × version, from what has been flushed."""
    first, following = month_days(month)
    calls = func.sum(UsageRow.calls)
    query = (
        select(
            UsageRow.tenant,
            UsageRow.component,
            UsageRow.version,
            calls,
            func.sum(UsageRow.errors),
            func.sum(UsageRow.rows),
            func.sum(UsageRow.latency_ms_sum),
            func.max(UsageRow.latency_ms_max),
        )
        .where(UsageRow.day >= first, UsageRow.day < following)
        .group_by(UsageRow.tenant, UsageRow.component, UsageRow.version)
        .order_by(UsageRow.tenant, UsageRow.component, UsageRow.version)
    )
    if tenant is not None:
        query = query.where(UsageRow.tenant == tenant)
    if component is not None:
        query = query.where(UsageRow.component == component)
    with engine.connect() as connection:
        result = connection.execute(query).all()
    lines = []
    for t, c, v, n, errors, rows, latency_sum, latency_max in result:
        n = int(n or 0)
        lines.append(
            UsageLine(
                month=month,
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
    first, following = month_days(month)
    query = (
        select(
            UsageRow.day,
            UsageRow.tenant,
            UsageRow.component,
            func.sum(UsageRow.calls),
            func.sum(UsageRow.errors),
        )
        .where(UsageRow.day >= first, UsageRow.day < following)
        .group_by(UsageRow.day, UsageRow.tenant, UsageRow.component)
        .order_by(UsageRow.day, UsageRow.tenant, UsageRow.component)
    )
    if tenant is not None:
        query = query.where(UsageRow.tenant == tenant)
    if component is not None:
        query = query.where(UsageRow.component == component)
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
