"""The portal's sessions: an API key kept server-side, referenced by an opaque cookie, with a CSRF token.

The browser never holds the key: it holds a random session token in an HttpOnly, SameSite=Strict cookie
(`COOKIE`), and every form carries the session's CSRF token, compared in constant time. Sessions live in
this process's memory only (the portal keeps no database): a restarted portal asks everyone to log in
again, which is the safe failure. What a session may do is the rights its key holds, as the centre's
`GET /api/v1/whoami` reported them at login; the APIs check every call again anyway.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

COOKIE = "brain_portal_session"
"""The session cookie: an opaque token, never the API key."""

LOGIN_COOKIE = "brain_portal_login"
"""The CSRF token of the login form, set before any session exists (double submit)."""

LANG_COOKIE = "brain_portal_lang"
"""The chosen language (zh or en); not a secret."""


class Refused(Exception):
    """A request the portal refuses before asking an API; `status` is its HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Session:
    """One logged-in key: who it is (from whoami) and the form token of its pages."""

    token: str
    key: str
    identity: dict[str, Any]
    csrf: str
    created: float
    seen: float
    rights: frozenset[str] = field(default_factory=frozenset)

    @property
    def tenant(self) -> str:
        return str(self.identity["tenant"])

    @property
    def role(self) -> str:
        return str(self.identity["role"])

    @property
    def operator(self) -> bool:
        """Whether the key holds the platform-wide rights (an operator tenant's admin or ops)."""
        return "manage pools" in self.rights

    def may(self, right: str) -> bool:
        return right in self.rights

    def require(self, right: str) -> None:
        """Refuse (403) what the key's rights do not allow: the page is not shown, the API not asked."""
        if right not in self.rights:
            raise Refused(
                403,
                f"role {self.role!r} of tenant {self.tenant!r} may not do this (needs the right {right!r})",
            )

    def check_csrf(self, submitted: str | None) -> None:
        """Refuse (403) a form whose CSRF token is missing or not this session's."""
        if not submitted or not hmac.compare_digest(submitted, self.csrf):
            raise Refused(403, "the form's CSRF token is missing or stale; reload the page and try again")


def check_login_csrf(cookie: str | None, submitted: str | None) -> None:
    """The login form's double submit: the hidden field must equal the cookie set with the form."""
    if not cookie or not submitted or not hmac.compare_digest(cookie, submitted):
        raise Refused(403, "the login form's CSRF token is missing or stale; reload the page and try again")


class LoginLimiter:
    """Failed logins per browser address within a window. The centre counts failed authentications per
    client address, and every login through the portal reaches it from the portal's address: without
    this, one guesser would spend everyone's budget (docs/portal.md)."""

    def __init__(
        self, max_failures: int = 10, window_s: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_failures <= 0 or window_s <= 0:
            raise ValueError("max_failures and window_s must be positive")
        self.max_failures, self.window_s = max_failures, window_s
        self._clock = clock
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def check(self, address: str) -> None:
        """Refuse (429) an address with too many recent failures."""
        now = self._clock()
        with self._lock:
            recent = [t for t in self._failures.get(address, []) if now - t < self.window_s]
            if recent:
                self._failures[address] = recent
            else:
                self._failures.pop(address, None)
            if len(recent) >= self.max_failures:
                wait = self.window_s - (now - recent[0])
                raise Refused(429, f"too many failed logins from this address; try again in {wait:.0f} s")

    def failed(self, address: str) -> None:
        with self._lock:
            self._failures.setdefault(address, []).append(self._clock())
            if len(self._failures) > 100_000:  # bounded: forget the oldest addresses
                for stale in list(self._failures)[:50_000]:
                    del self._failures[stale]


def new_token() -> str:
    return secrets.token_urlsafe(32)


class SessionStore:
    """The sessions of this portal process, ended after `idle_s` without a request or `max_age_s` in all."""

    def __init__(
        self,
        idle_s: float = 30 * 60,
        max_age_s: float = 12 * 3600,
        max_sessions: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if idle_s <= 0 or max_age_s <= 0 or max_sessions <= 0:
            raise ValueError("idle_s, max_age_s and max_sessions must be positive")
        self.idle_s, self.max_age_s, self.max_sessions = idle_s, max_age_s, max_sessions
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._sessions)

    def open(self, key: str, identity: dict[str, Any]) -> Session:
        """A new session for a verified key; the oldest is dropped when the store is full."""
        now = self._clock()
        session = Session(
            token=new_token(),
            key=key,
            identity=identity,
            csrf=new_token(),
            created=now,
            seen=now,
            rights=frozenset(str(r) for r in identity.get("rights", ())),
        )
        with self._lock:
            self._expire(now)
            while len(self._sessions) >= self.max_sessions:
                oldest = min(self._sessions.values(), key=lambda s: s.seen)
                del self._sessions[oldest.token]
            self._sessions[session.token] = session
        return session

    def get(self, token: str | None) -> Session | None:
        """The live session of a cookie's token, or None (unknown, idle too long or too old)."""
        if not token:
            return None
        now = self._clock()
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None
            if self._expired(session, now):
                del self._sessions[token]
                return None
            session.seen = now
            return session

    def close(self, token: str | None) -> None:
        with self._lock:
            self._sessions.pop(token or "", None)

    def _expired(self, session: Session, now: float) -> bool:
        return now - session.seen > self.idle_s or now - session.created > self.max_age_s

    def _expire(self, now: float) -> None:
        for token in [t for t, s in self._sessions.items() if self._expired(s, now)]:
            del self._sessions[token]
