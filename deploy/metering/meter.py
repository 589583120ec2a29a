"""Counting on the request's hot path: memory only. Each `Meter` is one source (a replica's process start)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from deploy.db import utcnow
from deploy.metering.calendar import PLATFORM_TZ, day_of, month_of
from deploy.metering.schema import month_calls, upsert


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
                    upsert(connection, [self._values(key, counts, now) for key, counts in snapshot])
                others = month_calls(connection, month_of(now), exclude_source=self.source)
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
