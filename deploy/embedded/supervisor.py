"""Keeping the services of a foreground `brain up` running: a crashed one is started again, the rest keep on.

A service that exits by itself (MLflow, the capability centre, the scheduler) is restarted after a delay
that starts at ``RestartPolicy.first_delay_s`` and doubles up to ``max_delay_s``; one that has crashed
``max_restarts`` times within ``window_s`` is given up on, and `brain up` stops the rest and exits 1
naming it. Each decision is said on stdout and appended to the service's own log, so that whoever reads
either sees what happened and when.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from deploy.embedded.errors import PlatformError
from deploy.embedded.platform import Ended, Platform, Service


@dataclass(frozen=True)
class RestartPolicy:
    """When a crashed service is started again, and when the supervisor stops trying."""

    first_delay_s: float = 1.0
    max_delay_s: float = 30.0
    max_restarts: int = 5
    """Crashes within ``window_s`` after which the service is given up on."""
    window_s: float = 300.0

    def delay(self, recent: int) -> float:
        """The wait before the restart that follows ``recent`` earlier crashes within the window."""
        return min(self.max_delay_s, self.first_delay_s * 2 ** max(0, recent - 1))


@dataclass
class _Pending:
    service: Service
    due: float
    attempt: int


@dataclass
class Supervisor:
    """Watches ``services`` (what this `brain up` started) and restarts what crashes, per ``policy``."""

    platform: Platform
    services: list[Service]
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    say: Callable[[str], None] = print
    clock: Callable[[], float] = time.monotonic
    _crashes: dict[str, deque[float]] = field(default_factory=dict)
    _pending: dict[str, _Pending] = field(default_factory=dict)
    gave_up: Service | None = None
    """The service given up on, once ``step`` has returned an `Ended` for it."""

    def step(self) -> Ended | None:
        """Look once: restart what is due; None while the platform runs (or is being restarted), otherwise
        why it ended — `brain down` from elsewhere, or a service given up on."""
        watched = [s for s in self.services if s.name not in self._pending]
        ended = self.platform.ended(watched) if watched else None
        if ended is not None and ended.deliberate and not self._pending:
            return ended
        if ended is not None and not ended.deliberate:
            for service in ended.services:
                given_up = self._crashed(service)
                if given_up is not None:
                    return given_up
        now = self.clock()
        for name, pending in list(self._pending.items()):
            if pending.due <= now:
                recorded = {s.name: s.pid for s in self.platform.services()}
                if self.platform.stopping() or recorded.get(name) != pending.service.pid:
                    del self._pending[name]  # `brain down` stopped the platform: nothing to restart
                    self.services = [s for s in self.services if s.name != name]
                    continue
                given_up = self._restart(pending)
                if given_up is not None:
                    return given_up
        if not self.services and not self._pending:
            return Ended(deliberate=True, services=[])
        return None

    def _crashed(self, service: Service) -> Ended | None:
        now = self.clock()
        recent = self._crashes.setdefault(service.name, deque())
        while recent and now - recent[0] > self.policy.window_s:
            recent.popleft()
        recent.append(now)
        if len(recent) > self.policy.max_restarts:
            return self._give_up(service, len(recent))
        delay = self.policy.delay(len(recent))
        self._pending[service.name] = _Pending(service, now + delay, len(recent))
        self._tell(
            service,
            f"{service.name} (pid {service.pid}) exited by itself; restarting it in {delay:.0f} s "
            f"(restart {len(recent)} of at most {self.policy.max_restarts} within "
            f"{self.policy.window_s:.0f} s; see {service.log}); the other services keep running",
        )
        return None

    def _restart(self, pending: _Pending) -> Ended | None:
        old = pending.service
        del self._pending[old.name]
        try:
            new = self.platform.restart(old)
        except PlatformError as exc:
            self._tell(old, f"{old.name} did not come back: {exc.message}")
            return self._crashed(old)
        self.services = [new if s.name == old.name else s for s in self.services]
        self._tell(new, f"{new.name} restarted (pid {new.pid}, attempt {pending.attempt})")
        return None

    def _give_up(self, service: Service, crashes: int) -> Ended:
        self.gave_up = service
        self._tell(
            service,
            f"{service.name} crashed {crashes} times within {self.policy.window_s:.0f} s; giving up on it "
            f"(see {service.log})",
        )
        return Ended(deliberate=False, services=[service])

    def _tell(self, service: Service, message: str) -> None:
        self.say(message)
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            with Path(service.log).open("a") as log:
                log.write(f"[brain up {stamp}] {message}\n")
        except OSError:
            pass  # the log's folder is gone (a removed BRAIN_HOME): stdout has said it
