"""Metering without a database: the calendar, in-memory counting, report rendering."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime

import pytest

from deploy.centre.errors import BadRequest
from deploy.metering import (
    USAGE_COLUMNS,
    Meter,
    UsageKey,
    UsageLine,
    day_of,
    month_days,
    month_of,
    next_month_start,
    render_usage,
)


def test_days_and_months_are_china_standard_time() -> None:
    # 16:00 UTC on the last day of November is already 1 December in Jinan.
    assert day_of(datetime(2026, 11, 30, 15, 59, tzinfo=UTC)) == date(2026, 11, 30)
    assert day_of(datetime(2026, 11, 30, 16, 0, tzinfo=UTC)) == date(2026, 12, 1)
    assert month_of(datetime(2026, 11, 30, 16, 0, tzinfo=UTC)) == "2026-12"
    assert month_days("2026-12") == (date(2026, 12, 1), date(2027, 1, 1))
    assert month_days("2026-02") == (date(2026, 2, 1), date(2026, 3, 1))
    start = next_month_start(datetime(2026, 12, 15, tzinfo=UTC))
    assert start == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize("bad", ["2026-13", "2026-1", "26-11", "november", "2026-00"])
def test_bad_months_are_400(bad: str) -> None:
    with pytest.raises(BadRequest, match="YYYY-MM"):
        month_days(bad)


def test_record_counts_in_memory() -> None:
    now = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)
    meter = Meter(source="s1", clock=lambda: now)
    meter.record("acme", "yield", "1", latency_s=0.002, rows=10)
    meter.record("acme", "yield", "1", latency_s=0.010, rows=5, error=True)
    meter.record("acme", "yield", "2", latency_s=0.001)
    meter.record("other", "yield", "1", latency_s=0.001)
    assert meter.pending() == 3
    counts = meter._counts[UsageKey("acme", "yield", "1", date(2026, 11, 25))]
    assert (counts.calls, counts.errors, counts.rows) == (2, 1, 15)
    assert counts.latency_ms_sum == pytest.approx(12.0)
    assert counts.latency_ms_max == pytest.approx(10.0)
    assert meter.calls_this_month("acme") == 3
    assert meter.calls_this_month("other") == 1
    assert meter.calls_this_month("acme", datetime(2026, 12, 5, tzinfo=UTC)) == 0


LINES = [
    UsageLine("2026-11", "acme", "yield", "1", 2, 1, 15, 6.0, 10.0),
    UsageLine("2026-11", "煤化工", "yield", "2", 1, 0, 1, 1.0, 1.0),
]


def test_render_csv() -> None:
    rows = list(csv.DictReader(io.StringIO(render_usage(LINES, "csv"))))
    assert tuple(rows[0]) == USAGE_COLUMNS
    assert rows[0]["calls"] == "2" and rows[1]["tenant"] == "煤化工"


def test_render_json() -> None:
    data = json.loads(render_usage(LINES, "json"))
    assert data[0] == {
        "month": "2026-11",
        "tenant": "acme",
        "component": "yield",
        "version": "1",
        "calls": 2,
        "errors": 1,
        "rows": 15,
        "latency_ms_mean": 6.0,
        "latency_ms_max": 10.0,
    }
    with pytest.raises(BadRequest):
        render_usage(LINES, "xml")  # type: ignore[arg-type]
