"""The centre's key check in front of the tenancy store: unknown keys refused from memory, and a limit
on failed authentications per client address.

The store caches verified keys, so a caller with a good key touches the database once per
``key_cache_seconds``. Without this module every *unknown* key was a database lookup, on the event
loop: a flood of well-formed fake keys (or one script guessing keys) cost one synchronous query each.
Here a key that failed is refused from memory for ``unknown_key_cache_seconds``, and an address that
failed ``failed_auth_limit`` times within ``failed_auth_window_seconds`` gets 429 with Retry-After for
keys the centre has not verified, with no lookup at all.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from deploy.centre.errors import AuthLocked, Unauthorized
from deploy.settings import PlatformSettings
from deploy.tenancy import Principal, TenantStore

#: Entries of each table before it is emptied: a bound on memory whatever callers send.
MAX_ENTRIES = 100_000


class KeyCheck:
    """Thread-safe; one per centre."""

    def __init__(
        self,
        store: TenantStore,
        settings: PlatformSettings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.limit = settings.failed_auth_limit
        self.window = settings.failed_auth_window_seconds
        self.unknown_ttl = settings.unknown_key_cache_seconds
        self.trusted_ttl = settings.key_cache_seconds
        self._clock = clock
        self._lock = threading.Lock()
        # key → monotonic time until which it counts as verified (a routing hint only: the store still
        # checks the key, its revocation and its expiry on every call)
        self._trusted: dict[str, float] = {}
        # key → (refused until, the refusal)
        self._unknown: dict[str, tuple[float, Unauthorized]] = {}
        # address → (window start, failures in it)
        self._failures: dict[str, tuple[float, int]] = {}

    def trusted(self, key: str | None) -> bool:
        """Whether ``key`` was verified lately, so checking it again needs no database (O(1))."""
        until = self._trusted.get(key) if key else None
        return until is not None and until > self._clock()

    def authenticate(self, key: str | None, address: str | None = None) -> Principal:
        """Who holds ``key``: Unauthorized (401) or AuthLocked (429) otherwise."""
        if not key:
            return self.store.authenticate(key)  # 401 without a lookup; not counted as a guess
        now = self._clock()
        until = self._trusted.get(key)
        if until is not None and until > now:
            try:
                return self.store.authenticate(key)
            except Unauthorized:  # revoked or expired since: its next call takes the path below
                with self._lock:
                    self._trusted.pop(key, None)
                raise
        refused = self._unknown.get(key)
        if refused is not None and refused[0] > now:
            self._failed(address, now)
            raise refused[1]
        self._check_address(address, now)
        try:
            principal = self.store.authenticate(key)
        except Unauthorized as exc:
            self._failed(address, now)
            if self.unknown_ttl > 0:
                with self._lock:
                    if len(self._unknown) >= MAX_ENTRIES:
                        self._unknown.clear()
                    self._unknown[key] = (now + self.unknown_ttl, exc)
            raise
        if self.trusted_ttl > 0:
            with self._lock:
                if len(self._trusted) >= MAX_ENTRIES:
                    self._trusted.clear()
                self._trusted[key] = now + self.trusted_ttl
        return principal

    def _check_address(self, address: str | None, now: float) -> None:
        if address is None:
            return
        found = self._failures.get(address)
        if found is None:
            return
        start, count = found
        if count >= self.limit and now - start < self.window:
            raise AuthLocked(self.limit, self.window, start + self.window - now)

    def _failed(self, address: str | None, now: float) -> None:
        if address is None:
            return
        with self._lock:
            start, count = self._failures.get(address, (now, 0))
            if now - start >= self.window:
                start, count = now, 0
            if len(self._failures) >= MAX_ENTRIES and address not in self._failures:
                self._failures.clear()
            self._failures[address] = (start, count + 1)


def client_address(peer: str | None, forwarded_for: str | None) -> str | None:
    """The client's address: the peer's, or, when the peer is a proxy on this host (Ray Serve's
    HAProxy), the last address that proxy appended to X-Forwarded-For. Addresses further left were
    written by the client itself and are not trusted."""
    if forwarded_for and peer in ("127.0.0.1", "::1"):
        last = forwarded_for.rsplit(",", 1)[-1].strip()
        return last[:64] or peer
    return peer
