"""Writing a meter's counters to the database every few seconds (idempotent upserts of absolute values).

When the store cannot be written (database locked, disk full, PostgreSQL gone) calls go on being counted in
memory and each flush tries again. The memory this holds is bounded by the number of distinct counters, not
by the number of calls: one `Counts` per tenant × component × version × day that changed since the last
good flush (~450 bytes each with its key, measured by bench/reliability/scenario_platform_flusher.py);
names not known to the centre are counted under one fixed label, so a caller cannot grow it. An outage is
logged once when it starts (with the error) and once when it ends (with how many flushes failed and for
how long), not at every retry.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import Engine

from deploy.metering.meter import Meter

log = logging.getLogger(__name__)


class UsageFlusher:
    """Flushes a meter every ``interval_s`` seconds on a daemon thread, and once more on stop."""

    def __init__(self, meter: Meter, engine: Engine, interval_s: float = 2.0) -> None:
        if interval_s <= 0:
            raise ValueError(f"flush interval must be positive, got {interval_s}")
        self.meter = meter
        self.engine = engine
        self.interval_s = interval_s
        self.failures = 0
        """Failed flushes since this flusher started (all episodes)."""
        self.episode_failures = 0
        """Failed flushes of the outage in progress; 0 while the store is written."""
        self._episode_started = 0.0
        self._lock = threading.Lock()  # the thread's flushes and stop()'s last one never overlap
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
        self.flush_once()

    def _run(self) -> None:
        # Flush at once: that also loads the month's totals the quota check needs after a restart.
        self.flush_once()
        while not self._stop.wait(self.interval_s):
            self.flush_once()

    def flush_once(self) -> bool:
        """One flush; False when the store could not be written (the counts are kept for the next)."""
        with self._lock:
            try:
                self.meter.flush(self.engine)
            except Exception as exc:
                self.failures += 1
                self.episode_failures += 1
                if self.episode_failures == 1:
                    self._episode_started = time.monotonic()
                    log.warning(
                        "usage flush failed, retrying every %.0f s and keeping the counts in memory "
                        "(%d counters pending; logged once until it succeeds): %s",
                        self.interval_s, self.meter.pending(), exc,
                    )  # fmt: skip
                return False
            if self.episode_failures:
                log.warning(
                    "usage flush succeeded again after %d failed attempts over %.0f s; nothing was lost",
                    self.episode_failures, time.monotonic() - self._episode_started,
                )  # fmt: skip
                self.episode_failures = 0
            return True
