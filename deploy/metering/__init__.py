"""Usage metering for the yearly assessment and subsidies: calls, errors, rows and latency per tenant ×
component × version × day.

Counting on the request's hot path touches memory only (:meth:`Meter.record`). A :class:`UsageFlusher`
thread writes the counters to the database every few seconds, so a crash loses at most that much.

Each :class:`Meter` is a *source* (one per gateway replica and process start). It keeps cumulative
counts and writes them as absolute values into its own rows, keyed by (day, tenant, component,
version, source). The upsert therefore sets values instead of adding to them: writing the same
counts twice, or retrying after a commit whose acknowledgement was lost, changes nothing. Reports sum
over sources.

Days and months are those of China Standard Time (UTC+8), the calendar the assessment is made in.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields, replace
from datetime import date, datetime, timedelta, timezone
from typing import Any, Literal

from sqlalchemy import BigInteger, Date, DateTime, Engine, Float, String, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column

from deploy.centre.errors import BadRequest
from deploy.db import Base, utcnow

log = logging.getLogger(__name__)

#: China has had no daylight saving time since 1991, so a fixed offset is exact and needs no tzdata.
PLATFORM_TZ = timezone(timedelta(hours=8), "CST")
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


# --- the calendar ---------------------------------------------------------------------------------


def day_of(moment: datetime) -> date:
    return _calendar(moment)[0]


def month_of(moment: datetime) -> str:
    return _calendar(moment)[1]


_hour: tuple[int, date, str] = (-1, date.min, "")


def _calendar(moment: datetime) -> tuple[date, str]:
    """The platform day and month of ``moment``, remembered for its hour.

    Every inference asks twice; converting time zones and formatting cost more than the rest of the
    metering. The offset is a whole number of hours, so all moments of one UTC hour share both.
    """
    global _hour
    hour = int(moment.timestamp()) // 3600
    cached = _hour  # one tuple, rebound atomically: a reader never sees half an update
    if cached[0] == hour:
        return cached[1], cached[2]
    local = moment.astimezone(PLATFORM_TZ)
    day, month = local.date(), local.strftime("%Y-%m")
    _hour = (hour, day, month)
    return day, month


def month_days(month: str) -> tuple[date, date]:
    """First day of ``month`` ("2026-11") and first day of the next; BadRequest for anything else."""
    match = MONTH.match(month)
    if not match:
        raise BadRequest(f"month {month!r} is not of the form YYYY-MM, e.g. 2026-11")
    year, number = int(match[1]), int(match[2])
    first = date(year, number, 1)
    following = date(year + 1, 1, 1) if number == 12 else date(year, number + 1, 1)
    return first, following


def next_month_start(moment: datetime) -> datetime:
    _, following = month_days(month_of(moment))
    return datetime(following.year, following.month, 1, tzinfo=PLATFORM_TZ)


# --- the table ------------------------------------------------------------------------------------


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


_COUNTERS = ("calls", "errors", "rows", "latency_ms_sum", "latency_ms_max", "updated_at")
_KEY_COLUMNS = ("day", "tenant", "component", "version", "source")


# --- counting -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UsageKey:
    tenant: str
    component: str
    version: str
    day: date


@dataclass
class Counts:
    calls: int = 0
    errors: int = 0
    rows: int = 0
    latency_ms_sum: float = 0.0
    latency_ms_max: float = 0.0


class Meter:
    """In-memory usage counters of one source, and their flush to the database."""

    def __init__(self, source: str | None = None, clock: Callable[[], datetime] = utcnow) -> None:
        self.source = source or uuid.uuid4().hex[:16]
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[UsageKey, Counts] = {}
        self._dirty: set[UsageKey] = set()
        self._own_month_calls: dict[tuple[str, str], int] = {}
        # Calls of this month by other sources, as of the last flush: with our own counts, the quota base.
        self._others_month = ""
        self._others_calls: dict[str, int] = {}

    def record(
        self,
        tenant: str,
        component: str,
        version: str,
        *,
        latency_s: float,
        rows: int = 1,
        error: bool = False,
        at: datetime | None = None,
    ) -> None:
        """Count one call. Memory only: safe and cheap on the request's hot path."""
        moment = at or self._clock()
        key = UsageKey(tenant, component, version, day_of(moment))
        month = month_of(moment)
        latency_ms = latency_s * 1000.0
        with self._lock:
            counts = self._counts.get(key)
            if counts is None:
                counts = self._counts[key] = Counts()
            counts.calls += 1
            counts.errors += int(error)
            counts.rows += rows
            counts.latency_ms_sum += latency_ms
            counts.latency_ms_max = max(counts.latency_ms_max, latency_ms)
            self._dirty.add(key)
            self._own_month_calls[tenant, month] = self._own_month_calls.get((tenant, month), 0) + 1

    def calls_this_month(self, tenant: str, now: datetime | None = None) -> int:
        """Calls of ``tenant`` this month across all sources (others' as of the last flush)."""
        month = month_of(now or self._clock())
        others = self._others_calls.get(tenant, 0) if self._others_month == month else 0
        return others + self._own_month_calls.get((tenant, month), 0)

    def pending(self) -> int:
        """How many counters changed since the last successful flush."""
        with self._lock:
            return len(self._dirty)

    def flush(self, engine: Engine) -> int:
        """Write changed counters (absolute values, so retrying is harmless) and refresh the quota base.

        Returns the number of rows written. On a database error the counters stay marked as changed
        and the next flush writes them.
        """
        with self._lock:
            keys = list(self._dirty)
            self._dirty.clear()
            snapshot = [(key, replace(self._counts[key])) for key in keys]
        now = self._clock()
        try:
            with engine.begin() as connection:
                if snapshot:
                    _upsert(connection, [self._values(key, counts, now) for key, counts in snapshot])
                others = _month_calls(connection, month_of(now), exclude_source=self.source)
        except Exception:
            with self._lock:
                self._dirty.update(keys)
            raise
        self._others_month, self._others_calls = month_of(now), others
        self._forget_past_days(day_of(now))
        return len(snapshot)

    def _values(self, key: UsageKey, counts: Counts, now: datetime) -> dict[str, Any]:
        return {
            "day": key.day,
            "tenant": key.tenant,
            "component": key.component,
            "version": key.version,
            "source": self.source,
            "updated_at": now,
            **asdict(counts),
        }

    def _forget_past_days(self, today: date) -> None:
        # Rows of past days are final once written; dropping them bounds memory for long-lived replicas.
        # Yesterday is kept: a call that started before midnight may be recorded just after it, and a
        # forgotten counter would restart at zero and overwrite the row with less.
        this_month = month_of(datetime.combine(today, datetime.min.time(), PLATFORM_TZ))
        yesterday = today - timedelta(days=1)
        with self._lock:
            for key in [k for k in self._counts if k.day < yesterday and k not in self._dirty]:
                del self._counts[key]
            for month_key in [m for m in self._own_month_calls if m[1] < this_month]:
                del self._own_month_calls[month_key]


def _upsert(connection: Connection, values: list[dict[str, Any]]) -> None:
    dialect = connection.dialect.name
    if dialect == "postgresql":
        pg_insert = postgresql.insert(UsageRow)
        pg_stmt = pg_insert.on_conflict_do_update(
            index_elements=list(_KEY_COLUMNS), set_={c: pg_insert.excluded[c] for c in _COUNTERS}
        )
        connection.execute(pg_stmt, values)
    elif dialect == "sqlite":
        lite_insert = sqlite.insert(UsageRow)
        lite_stmt = lite_insert.on_conflict_do_update(
            index_elements=list(_KEY_COLUMNS), set_={c: lite_insert.excluded[c] for c in _COUNTERS}
        )
        connection.execute(lite_stmt, values)
    else:
        raise RuntimeError(f"usage metering supports SQLite and PostgreSQL, not {dialect}")


def _month_calls(connection: Connection, month: str, exclude_source: str | None = None) -> dict[str, int]:
    first, following = month_days(month)
    query = (
        select(UsageRow.tenant, func.sum(UsageRow.calls))
        .where(UsageRow.day >= first, UsageRow.day < following)
        .group_by(UsageRow.tenant)
    )
    if exclude_source is not None:
        query = query.where(UsageRow.source != exclude_source)
    return {tenant: int(calls or 0) for tenant, calls in connection.execute(query)}


class UsageFlusher:
    """Flushes a meter every ``interval_s`` seconds on a daemon thread, and once more on stop."""

    def __init__(self, meter: Meter, engine: Engine, interval_s: float = 2.0) -> None:
        if interval_s <= 0:
            raise ValueError(f"flush interval must be positive, got {interval_s}")
        self.meter = meter
        self.engine = engine
        self.interval_s = interval_s
        self.failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="usage-flusher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread and write what is left."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout)
        self._thread = None
        self._flush_once()

    def _run(self) -> None:
        # Flush at once: that also loads the month's totals the quota check needs after a restart.
        self._flush_once()
        while not self._stop.wait(self.interval_s):
            self._flush_once()

    def _flush_once(self) -> None:
        try:
            self.meter.flush(self.engine)
        except Exception as exc:
            self.failures += 1
            log.warning("usage flush failed (will retry, counts are kept): %s", exc)


# --- reports --------------------------------------------------------------------------------------


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
