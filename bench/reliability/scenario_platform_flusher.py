"""Scenario 7 of issue #12, the usage flusher's half: its database locked by another writer, then released.

A replica's meter keeps counting while its flusher cannot write; the outage must be logged once when it
starts and once when it ends (with the count of failed flushes), nothing may crash, and every call counted
must be in the usage table once the lock is gone. The memory held meanwhile grows with distinct counters
(tenant × component × version × day), not with calls: measured here per counter with tracemalloc.
The production busy timeout is 30 s; here the engine waits 50 ms for the lock, so that an outage of
LOCKED_S seconds makes many failed flushes in a short run.
"""

from __future__ import annotations

import logging
import sqlite3
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select

from deploy.db import migrate, open_engine
from deploy.metering import Meter, UsageFlusher, UsageRow

LOCKED_S = 3.0
CALLS = 100_000
COUNTERS = 1_000


class _Count(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _bytes_per_counter() -> float:
    meter = Meter()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for i in range(COUNTERS):
        meter.record(f"tenant-{i % 20}", f"component-{i}", "1", latency_s=0.001)
    grown = tracemalloc.get_traced_memory()[0] - base
    for _ in range(10):  # more calls on the same counters: no growth
        for i in range(COUNTERS):
            meter.record(f"tenant-{i % 20}", f"component-{i}", "1", latency_s=0.001)
    regrown = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    return max(grown, regrown) / COUNTERS


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="rel-flusher-") as tmp:
        path = Path(tmp) / "platform.db"
        migrated = open_engine(f"sqlite:///{path}")
        migrate(migrated)
        engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.05})
        meter = Meter()
        flusher = UsageFlusher(meter, engine, interval_s=0.1)
        seen = _Count()
        logging.getLogger("deploy.metering.flusher").addHandler(seen)
        holder = sqlite3.connect(path, check_same_thread=False)  # released by a timer thread
        holder.execute("BEGIN EXCLUSIVE")
        flusher.start()
        crashed = False
        try:
            release = threading.Timer(LOCKED_S, holder.rollback)
            release.start()
            for i in range(CALLS):
                meter.record(f"tenant-{i % 5}", f"component-{i % 10}", "1", latency_s=0.001)
            release.join()
            deadline = time.monotonic() + 10
            while flusher.episode_failures and time.monotonic() < deadline:
                time.sleep(0.05)
        except Exception:
            crashed = True
        finally:
            flusher.stop()
            holder.close()
            engine.dispose()
        with migrated.connect() as connection:
            stored = int(connection.execute(select(func.coalesce(func.sum(UsageRow.calls), 0))).scalar_one())
        migrated.dispose()
    per_counter = _bytes_per_counter()
    failures = flusher.failures
    return {
        "scenario": "7. usage store locked (flusher)",
        "what": f"{CALLS:,} calls counted while another writer held platform.db for {LOCKED_S:.0f} s",
        "figure": (
            f"{failures} failed flushes, {len(seen.lines)} log lines (start, end); {stored:,} of {CALLS:,} "
            f"calls stored after the lock, {CALLS - stored:,} lost; memory while it lasts: ~{per_counter:.0f} bytes per "
            f"distinct counter (tenant × component × version × day), none per call"
        ),
        "passed": not crashed and stored == CALLS and failures > 0 and len(seen.lines) == 2,
    }
