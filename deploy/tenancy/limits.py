"""Per-tenant request rates (token buckets) and monthly quotas. Pure: the caller passes the time.

Buckets live in each gateway replica's memory, so with N replicas a tenant can reach N times its rate;
the operator sets rates per replica (the quota, counted in the shared database, is global).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from deploy.centre.errors import QuotaExceeded, RateLimited
from deploy.metering import month_of, next_month_start
from deploy.tenancy.model import Tenant


@dataclass
class TokenBucket:
    """Holds up to ``capacity`` tokens, refilled at ``rate`` per second; a request takes one."""

    rate: float
    capacity: float
    tokens: float
    updated: float

    @classmethod
    def full(cls, rate: float, capacity: float, now: float) -> TokenBucket:
        if rate <= 0 or capacity < 1:
            raise ValueError(f"a token bucket needs rate > 0 and capacity >= 1, got {rate} and {capacity}")
        return cls(rate=rate, capacity=capacity, tokens=capacity, updated=now)

    def take(self, now: float, cost: float = 1.0) -> float:
        """Take ``cost`` tokens if there are enough and return 0.0; else take none and return the seconds
        until there will be."""
        if cost > self.capacity:
            raise ValueError(f"cost {cost} can never be paid from a bucket of {self.capacity}")
        # A clock that steps backwards (monotonic clocks do not, but callers may pass any) must not
        # drain the bucket.
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
        self.updated = max(self.updated, now)
        if self.tokens >= cost:
            self.tokens -= cost
            return 0.0
        return (cost - self.tokens) / self.rate


class RateLimits:
    """The token buckets of every tenant seen by this replica."""

    def __init__(self, default_rate: float, default_burst: int) -> None:
        self.default_rate = default_rate
        self.default_burst = default_burst
        self._buckets: dict[str, TokenBucket] = {}

    def admit(self, tenant: Tenant, now: float) -> None:
        """Count one request of ``tenant`` at ``now`` (monotonic seconds); raise RateLimited if over."""
        rate = tenant.rate_per_second or self.default_rate
        burst = tenant.burst or self.default_burst
        bucket = self._buckets.get(tenant.name)
        if bucket is None or bucket.rate != rate or bucket.capacity != burst:
            bucket = self._buckets[tenant.name] = TokenBucket.full(rate, burst, now)
        wait = bucket.take(now)
        if wait > 0:
            raise RateLimited(tenant.name, wait)


def check_quota(tenant: Tenant, used: int, default_quota: int | None, now: datetime) -> None:
    """Raise QuotaExceeded when ``used`` calls this month leave no room for one more."""
    quota = tenant.monthly_quota or default_quota
    if quota is None or used < quota:
        return
    retry_after = (next_month_start(now) - now).total_seconds()
    raise QuotaExceeded(tenant.name, used, quota, month_of(now), retry_after)
