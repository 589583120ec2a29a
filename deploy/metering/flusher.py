"""Writing a meter's counters to the database every few seconds (idempotent upserts of absolute values)."""

from __future__ import annotations

import logging
import threading

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
