"""The city of each component owner, for the catalogue's city filter and its entries.

A component's city is its owner tenant's city. The catalogue carries that one fact per entry, server-side,
so a consumer filters by city without reading the tenants list (which holds other tenants' limits and
industries, and is for operators only). Tenants are few and their cities do not change, so the map is
read from the tenancy store at most every ``ttl`` seconds rather than on every catalogue call.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable

from deploy.tenancy import TenantStore

#: Seconds a read of the tenants' cities is reused: a tenant created since appears in the filter after it.
TTL_SECONDS = 10.0


class OwnerCities:
    """Tenant name → city code, refreshed from the store when older than ``ttl`` seconds."""

    def __init__(
        self, tenants: TenantStore, ttl: float = TTL_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._tenants = tenants
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._cities: dict[str, str] = {}
        self._read_at: float | None = None

    @property
    def stale(self) -> bool:
        """Whether :meth:`current` would read the store (call it off the event loop then)."""
        return self._read_at is None or self._clock() - self._read_at >= self._ttl

    def current(self) -> dict[str, str]:
        with self._lock:
            if self.stale:
                self._cities = {t.name: t.city for t in self._tenants.list_tenants()}
                self._read_at = self._clock()
            return self._cities


_BY_STORE: weakref.WeakKeyDictionary[TenantStore, OwnerCities] = weakref.WeakKeyDictionary()
_BY_STORE_LOCK = threading.Lock()


def owner_cities(tenants: TenantStore) -> OwnerCities:
    """The one map of this tenancy store (a replica has one store; tests open several)."""
    with _BY_STORE_LOCK:
        found = _BY_STORE.get(tenants)
        if found is None:
            found = _BY_STORE[tenants] = OwnerCities(tenants)
        return found
