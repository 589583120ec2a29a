"""Metering against a real database: flushes, idempotency, several sources, the background flusher,
and the monthly report."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import Engine, create_engine, func, select

from deploy.db import migrate, open_engine
from deploy.metering import Meter, UsageFlusher, UsageLine, UsageRow, month_of, usage_report
from deploy.metering.report import usage_assessment

pytestmark = pytest.mark.integration

NOV = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)  # 12:00 in China


class Clock:
    def __init__(self, now: datetime = NOV) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _line(
    tenant: str, component: str, version: str, calls: int, errors: int, rows: int, mean: float, peak: float
) -> UsageLine:
    return UsageLine("2026-11", tenant, component, version, calls, errors, rows, mean, peak)


def test_flush_then_report_exact_values(engine: Engine) -> None:
    meter = Meter(clock=Clock())
    meter.record("acme", "yield", "1", latency_s=0.002, rows=10)
    meter.record("acme", "yield", "1", latency_s=0.004, rows=30, error=True)
    meter.record("acme", "yield", "2", latency_s=0.001)
    meter.record("beta", "energy", "3", latency_s=0.0005, rows=2)
    assert usage_report(engine, "2026-11") == []  # nothing written on the hot path

    assert meter.flush(engine) == 3
    assert meter.pending() == 0
    assert usage_report(engine, "2026-11") == [
        _line("acme", "yield", "1", 2, 1, 40, 3.0, 4.0),
        _line("acme", "yield", "2", 1, 0, 1, 1.0, 1.0),
        _line("beta", "energy", "3", 1, 0, 2, 0.5, 0.5),
    ]


def test_flushing_again_does_not_double_count(engine: Engine) -> None:
    meter = Meter(clock=Clock())
    for _ in range(5):
        meter.record("acme", "yield", "1", latency_s=0.001)
    meter.flush(engine)
    meter._dirty.update(meter._counts)  # as if the same write were retried after a lost acknowledgement
    meter.flush(engine)
    meter.flush(engine)
    assert [line.calls for line in usage_report(engine, "2026-11")] == [5]
    meter.record("acme", "yield", "1", latency_s=0.003)
    meter.flush(engine)
    assert usage_report(engine, "2026-11") == [_line("acme", "yield", "1", 6, 0, 6, 1.333, 3.0)]


def test_sources_add_up_and_feed_each_others_quota(engine: Engine) -> None:
    clock = Clock()
    first, second = Meter(clock=clock), Meter(clock=clock)
    for _ in range(3):
        first.record("acme", "yield", "1", latency_s=0.001)
    second.record("acme", "yield", "1", latency_s=0.009)
    assert second.calls_this_month("acme") == 1  # has not heard of the first yet
    first.flush(engine)
    second.flush(engine)
    assert usage_report(engine, "2026-11") == [_line("acme", "yield", "1", 4, 0, 4, 3.0, 9.0)]
    assert second.calls_this_month("acme") == 4
    assert first.calls_this_month("acme") == 3  # learns of the second at its next flush
    first.flush(engine)
    assert first.calls_this_month("acme") == 4
    # A restarted replica (a new source) starts from what is in the database.
    restarted = Meter(clock=clock)
    restarted.flush(engine)
    assert restarted.calls_this_month("acme") == 4


def test_report_by_month_tenant_and_component(engine: Engine) -> None:
    clock = Clock(datetime(2026, 10, 31, 15, 59, tzinfo=UTC))  # 23:59 on 31 October in China
    meter = Meter(clock=clock)
    meter.record("acme", "yield", "1", latency_s=0.001)
    clock.now = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # 00:00 on 1 November in China
    meter.record("acme", "yield", "1", latency_s=0.001)
    meter.record("acme", "energy", "1", latency_s=0.001)
    meter.record("beta", "yield", "1", latency_s=0.001)
    meter.flush(engine)

    assert [line.calls for line in usage_report(engine, "2026-10")] == [1]
    assert {(line.tenant, line.component) for line in usage_report(engine, "2026-11")} == {
        ("acme", "energy"),
        ("acme", "yield"),
        ("beta", "yield"),
    }
    assert [line.component for line in usage_report(engine, "2026-11", tenant="acme")] == ["energy", "yield"]
    assert [line.tenant for line in usage_report(engine, "2026-11", component="yield")] == ["acme", "beta"]
    assert usage_report(engine, "2026-11", tenant="acme", component="nothing") == []
    assert usage_report(engine, "2026-12") == []
    with engine.connect() as connection:
        days = connection.execute(select(UsageRow.day).distinct().order_by(UsageRow.day)).scalars().all()
    assert [d.isoformat() for d in days] == ["2026-10-31", "2026-11-01"]


def test_assessment_of_a_year_sums_its_months_and_stops_at_its_edges(engine: Engine) -> None:
    clock = Clock(datetime(2025, 12, 31, 16, 0, tzinfo=UTC))  # 00:00 on 1 January 2026 in China
    meter = Meter(clock=clock)
    meter.record("acme", "yield", "1", latency_s=0.001)
    clock.now = datetime(2026, 6, 15, 4, 0, tzinfo=UTC)
    meter.record("acme", "yield", "2", latency_s=0.001, error=True)
    meter.record("beta", "energy", "1", latency_s=0.001)
    clock.now = datetime(2026, 12, 31, 16, 0, tzinfo=UTC)  # 00:00 on 1 January 2027 in China: next year
    meter.record("acme", "yield", "2", latency_s=0.001)
    meter.flush(engine)
    tenants = [
        SimpleNamespace(name="acme", industries=("light-industry",), city="jinan"),
        SimpleNamespace(name="beta", industries=("light-industry",), city="zibo"),
    ]

    year = usage_assessment(engine, "2026", tenants)
    assert (year["calls"], year["errors"], year["tenants"]) == (3, 1, 2)
    assert year["industries"] == [{"industry": "light-industry", "calls": 3, "errors": 1, "tenants": 2}]
    assert [(c["city"], c["calls"]) for c in year["cities"]] == [("jinan", 2), ("zibo", 1)]
    june = usage_assessment(engine, "2026-06", tenants)
    assert (june["calls"], june["errors"], june["tenants"]) == (2, 1, 2)
    assert usage_assessment(engine, "2027", tenants)["calls"] == 1


def test_failed_flush_keeps_the_counts(engine: Engine, tmp_path: object) -> None:
    meter = Meter(clock=Clock())
    meter.record("acme", "yield", "1", latency_s=0.001)
    nowhere = open_engine(f"sqlite:///{tmp_path}/unmigrated.db")  # no usage table: the write fails
    with pytest.raises(Exception, match="usage"):
        meter.flush(nowhere)
    nowhere.dispose()
    assert meter.pending() == 1
    meter.record("acme", "yield", "1", latency_s=0.001)
    meter.flush(engine)
    assert [line.calls for line in usage_report(engine, "2026-11")] == [2]


def test_flusher_writes_in_the_background_and_on_stop(engine: Engine) -> None:
    meter = Meter()
    flusher = UsageFlusher(meter, engine, interval_s=0.2)
    flusher.start()
    try:
        meter.record("acme", "yield", "1", latency_s=0.001)
        deadline = time.monotonic() + 10
        while _total_calls(engine) < 1:  # poll for the condition, do not sleep a guess
            assert time.monotonic() < deadline, "the flusher did not write within 10 s"
            time.sleep(0.05)
        meter.record("acme", "yield", "1", latency_s=0.001)
    finally:
        flusher.stop()
    assert _total_calls(engine) == 2  # the last count came with stop()
    assert flusher.failures == 0


def test_flusher_survives_database_errors(tmp_path: object) -> None:
    broken = open_engine(f"sqlite:///{tmp_path}/unmigrated.db")
    meter = Meter()
    meter.record("acme", "yield", "1", latency_s=0.001)
    flusher = UsageFlusher(meter, broken, interval_s=0.05)
    flusher.start()
    deadline = time.monotonic() + 10
    while flusher.failures < 2:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    flusher.stop()
    broken.dispose()
    assert meter.pending() == 1


def _total_calls(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.coalesce(func.sum(UsageRow.calls), 0))).scalar_one())


def test_many_counters_in_one_flush(engine: Engine) -> None:
    meter = Meter(clock=Clock())
    for i in range(300):
        meter.record(f"t{i % 7}", f"c{i % 50}", "1", latency_s=0.001 * (i % 5))
    assert meter.flush(engine) == 300  # (i % 7, i % 50) repeats only every 350
    lines = usage_report(engine, "2026-11")
    assert sum(line.calls for line in lines) == 300
    assert max(line.latency_ms_max for line in lines) == pytest.approx(4.0)


def test_old_days_leave_memory_once_written(engine: Engine) -> None:
    clock = Clock()
    meter = Meter(clock=clock)
    meter.record("acme", "yield", "1", latency_s=0.001)
    meter.flush(engine)
    clock.now = NOV + timedelta(days=1)
    meter.flush(engine)
    assert len(meter._counts) == 1  # yesterday is kept
    clock.now = NOV + timedelta(days=2)
    meter.flush(engine)
    assert meter._counts == {}
    assert [line.calls for line in usage_report(engine, "2026-11")] == [1]


def test_no_count_is_lost_while_threads_record_during_flushes(engine: Engine) -> None:
    meter = Meter()
    flusher = UsageFlusher(meter, engine, interval_s=0.01)
    flusher.start()

    def work(tenant: str) -> None:
        for i in range(1500):
            meter.record(tenant, "yield", str(i % 3), latency_s=0.001, rows=2)

    threads = [threading.Thread(target=work, args=(f"t{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    flusher.stop()
    lines = usage_report(engine, month_of(datetime.now(UTC)))
    assert sum(line.calls for line in lines) == 6000
    assert sum(line.rows for line in lines) == 12000
    assert {line.tenant for line in lines} == {"t0", "t1", "t2", "t3"}
    assert flusher.failures == 0


def test_a_locked_database_is_one_logged_episode_and_no_count_is_lost(
    tmp_path: object, caplog: pytest.LogCaptureFixture
) -> None:
    path = f"{tmp_path}/platform.db"
    migrated = open_engine(f"sqlite:///{path}")
    migrate(migrated)
    # A short busy timeout, so that each locked flush fails at once rather than after the platform's 30 s.
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.05})
    meter = Meter()
    flusher = UsageFlusher(meter, engine, interval_s=0.05)
    holder = sqlite3.connect(path)
    try:
        holder.execute("BEGIN EXCLUSIVE")  # another writer holds the database
        with caplog.at_level(logging.WARNING, logger="deploy.metering.flusher"):
            for _ in range(200):
                meter.record("acme", "yield", "1", latency_s=0.001)
                meter.record("beta", "energy", "2", latency_s=0.001)
            for _ in range(5):
                assert not flusher.flush_once()
            assert flusher.episode_failures == 5
            assert meter.pending() == 2  # one counter per tenant × component × version × day, not per call
            holder.rollback()
            assert flusher.flush_once()
        messages = [r.getMessage() for r in caplog.records]
        assert len(messages) == 2, messages  # once when it started, once when it ended
        assert "database is locked" in messages[0] and "2 counters pending" in messages[0]
        assert "after 5 failed attempts" in messages[1]
        assert flusher.episode_failures == 0 and flusher.failures == 5
        assert _total_calls(migrated) == 400
    finally:
        holder.close()
        engine.dispose()
        migrated.dispose()
