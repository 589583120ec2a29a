"""The usage table: one row per (day, tenant, component, version, source), counts as absolute values,
and the two statements the meter runs on it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, DateTime, Float, String, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column

from deploy.db import Base
from deploy.metering.calendar import month_days


class UsageRow(Base):
    __tablename__ = "usage"

    # day first: month reports scan a range of the primary key.
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    component: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[str] = mapped_column(String(32), primary_key=True)
    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    calls: Mapped[int] = mapped_column(BigInteger, default=0)
    errors: Mapped[int] = mapped_column(BigInteger, default=0)
    rows: Mapped[int] = mapped_column(BigInteger, default=0)
    latency_ms_sum: Mapped[float] = mapped_column(Float, default=0.0)
    latency_ms_max: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


COUNTERS = ("calls", "errors", "rows", "latency_ms_sum", "latency_ms_max", "updated_at")
KEY_COLUMNS = ("day", "tenant", "component", "version", "source")


def upsert(connection: Connection, values: list[dict[str, Any]]) -> None:
    dialect = connection.dialect.name
    if dialect == "postgresql":
        pg_insert = postgresql.insert(UsageRow)
        pg_stmt = pg_insert.on_conflict_do_update(
            index_elements=list(KEY_COLUMNS), set_={c: pg_insert.excluded[c] for c in COUNTERS}
        )
        connection.execute(pg_stmt, values)
    elif dialect == "sqlite":
        lite_insert = sqlite.insert(UsageRow)
        lite_stmt = lite_insert.on_conflict_do_update(
            index_elements=list(KEY_COLUMNS), set_={c: lite_insert.excluded[c] for c in COUNTERS}
        )
        connection.execute(lite_stmt, values)
    else:
        raise RuntimeError(f"usage metering supports SQLite and PostgreSQL, not {dialect}")


def month_calls(connection: Connection, month: str, exclude_source: str | None = None) -> dict[str, int]:
    first, following = month_days(month)
    query = (
        select(UsageRow.tenant, func.sum(UsageRow.calls))
        .where(UsageRow.day >= first, UsageRow.day < following)
        .group_by(UsageRow.tenant)
    )
    if exclude_source is not None:
        query = query.where(UsageRow.source != exclude_source)
    return {tenant: int(calls or 0) for tenant, calls in connection.execute(query)}
