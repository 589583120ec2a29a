"""Every error has its HTTP status, a message saying what to do, and the headers HTTP asks for."""

from __future__ import annotations

import pytest

from deploy.centre import errors


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.BadRequest("bad"), 400),
        (errors.UnknownInput("a", ["b"]), 400),
        (errors.Unauthorized(), 401),
        (errors.Forbidden("consumer", "manage keys", ["admin"]), 403),
        (errors.NotFound("component 'x'"), 404),
        (errors.Conflict("tenant 't'", "pick another name"), 409),
        (errors.PayloadTooLarge(2_000, 1_000), 413),
        (errors.RateLimited("t", 0.2), 429),
        (errors.QuotaExceeded("t", 10, 10, "2026-11", 3600), 429),
        (errors.NotReady("component 'x'"), 503),
    ],
)
def test_statuses(error: errors.ServeError, status: int) -> None:
    assert error.status == status
    assert isinstance(error, errors.ServeError)
    assert error.body() == {"error": error.message}
    assert str(error) == error.message


def test_retry_after_is_whole_seconds_rounded_up() -> None:
    assert errors.RateLimited("t", 0.2).headers() == {"Retry-After": "1"}
    assert errors.RateLimited("t", 2.01).headers() == {"Retry-After": "3"}
    quota = errors.QuotaExceeded("acme", 500, 500, "2026-11", 86_399.5)
    assert quota.headers() == {"Retry-After": "86400"}
    assert "used 500 of its 500 calls for 2026-11" in quota.message
    assert errors.NotReady("x", retry_after=5).headers() == {"Retry-After": "5"}


def test_messages_say_what_to_do() -> None:
    assert "Authorization: Bearer" in errors.Unauthorized().message
    assert "BRAIN_MAX_BODY_BYTES" in errors.PayloadTooLarge(2_000, 1_000).message
    assert "2000 bytes" in errors.PayloadTooLarge(2_000, 1_000).message
    assert "needs one of: admin, ops" in errors.Forbidden("consumer", "read usage", ["admin", "ops"]).message
    assert errors.Unauthorized().headers()["WWW-Authenticate"].startswith("Bearer")
