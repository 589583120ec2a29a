"""Token buckets, per-tenant rates and monthly quotas (pure: the tests pass the time)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from deploy.centre.errors import QuotaExceeded, RateLimited
from deploy.tenancy import RateLimits, Tenant, TenantKind, TokenBucket, check_quota


def _tenant(name: str = "acme", **limits: float | int | None) -> Tenant:
    return Tenant(
        name=name,
        display=name,
        kind=TenantKind.enterprise,
        industries=("high-end-chemicals",),
        city="zibo",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        **limits,  # type: ignore[arg-type]
    )


def test_bucket_allows_a_burst_then_refuses_with_the_wait() -> None:
    bucket = TokenBucket.full(rate=2.0, capacity=3, now=100.0)
    assert [bucket.take(100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(100.0) == pytest.approx(0.5)  # one token at 2/s
    assert bucket.take(100.25) == pytest.approx(0.25)  # refused calls take nothing
    assert bucket.take(100.5) == 0.0
    assert bucket.take(100.5) == pytest.approx(0.5)


def test_bucket_refills_up_to_capacity_only() -> None:
    bucket = TokenBucket.full(rate=10.0, capacity=2, now=0.0)
    bucket.take(0.0)
    bucket.take(0.0)
    assert bucket.take(1000.0) == 0.0
    assert bucket.take(1000.0) == 0.0
    assert bucket.take(1000.0) > 0.0  # 1000 s idle did not bank 10,000 tokens


def test_bucket_ignores_time_going_backwards() -> None:
    bucket = TokenBucket.full(rate=1.0, capacity=1, now=50.0)
    assert bucket.take(50.0) == 0.0
    assert bucket.take(10.0) == pytest.approx(1.0)
    assert bucket.take(51.0) == 0.0


def test_bucket_rejects_impossible_settings() -> None:
    with pytest.raises(ValueError):
        TokenBucket.full(rate=0.0, capacity=1, now=0.0)
    with pytest.raises(ValueError):
        TokenBucket.full(rate=1.0, capacity=2, now=0.0).take(0.0, cost=3)


def test_rate_limits_per_tenant_with_defaults_and_own_rates() -> None:
    limits = RateLimits(default_rate=1.0, default_burst=2)
    small, big = _tenant("small"), _tenant("big", rate_per_second=100.0, burst=5)
    limits.admit(small, 0.0)
    limits.admit(small, 0.0)
    with pytest.raises(RateLimited) as caught:
        limits.admit(small, 0.0)
    assert caught.value.status == 429
    assert caught.value.retry_after == pytest.approx(1.0)
    assert caught.value.headers() == {"Retry-After": "1"}
    for _ in range(5):  # another tenant is not slowed by the first
        limits.admit(big, 0.0)
    with pytest.raises(RateLimited):
        limits.admit(big, 0.0)
    limits.admit(small, 1.0)  # refilled


def test_changed_limits_take_effect() -> None:
    limits = RateLimits(default_rate=1.0, default_burst=1)
    limits.admit(_tenant(), 0.0)
    with pytest.raises(RateLimited):
        limits.admit(_tenant(), 0.0)
    limits.admit(_tenant(burst=10), 0.0)


def test_quota_counts_against_the_tenant_or_default_quota() -> None:
    # 2026-11-30 15:00 UTC is 23:00 in China: one hour before the month ends there.
    now = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    check_quota(_tenant(), used=99, default_quota=100, now=now)
    check_quota(_tenant(), used=10**9, default_quota=None, now=now)  # unlimited
    with pytest.raises(QuotaExceeded) as caught:
        check_quota(_tenant(), used=100, default_quota=100, now=now)
    assert caught.value.status == 429
    assert caught.value.retry_after == pytest.approx(3600.0)
    assert "100 of its 100 calls for 2026-11" in caught.value.message
    check_quota(_tenant(monthly_quota=500), used=100, default_quota=100, now=now)
    with pytest.raises(QuotaExceeded):
        check_quota(_tenant(monthly_quota=500), used=500, default_quota=None, now=now)
