"""The portal's sessions, CSRF tokens and rights, without a browser or an API behind them."""

from __future__ import annotations

import pytest

from deploy.portal.sessions import LoginLimiter, Refused, SessionStore, check_login_csrf

CONSUMER = {"tenant": "lubei-chem", "role": "consumer", "rights": ["read catalogue", "infer", "read usage"]}
OPERATOR = {"tenant": "platform", "role": "ops", "rights": ["read catalogue", "manage pools"]}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_session_is_found_by_its_token_never_by_the_key() -> None:
    store = SessionStore()
    session = store.open("ibk_secret", CONSUMER)
    assert store.get(session.token) is session
    assert store.get("ibk_secret") is None
    assert session.token != session.csrf and "ibk" not in session.token
    assert store.get(None) is None and store.get("") is None


def test_sessions_end_when_idle_or_too_old() -> None:
    clock = Clock()
    store = SessionStore(idle_s=60, max_age_s=300, clock=clock)
    session = store.open("k", CONSUMER)
    clock.now += 59
    assert store.get(session.token) is session  # a request renews the idle timer
    clock.now += 59
    assert store.get(session.token) is session
    clock.now += 61
    assert store.get(session.token) is None
    old = store.open("k", CONSUMER)
    for _ in range(7):
        clock.now += 50
        found = store.get(old.token)
    assert found is None  # 300 s in all, however busy


def test_logout_ends_the_session_and_the_store_stays_bounded() -> None:
    clock = Clock()
    store = SessionStore(max_sessions=3, clock=clock)
    first = store.open("k1", CONSUMER)
    for key in ("k2", "k3", "k4"):
        clock.now += 1
        store.open(key, CONSUMER)
    assert len(store) == 3 and store.get(first.token) is None  # the oldest went
    last = store.open("k5", CONSUMER)
    store.close(last.token)
    assert store.get(last.token) is None


def test_csrf_token_must_be_the_sessions_own() -> None:
    store = SessionStore()
    session, other = store.open("k", CONSUMER), store.open("k", CONSUMER)
    session.check_csrf(session.csrf)
    for wrong in (None, "", other.csrf, session.csrf[:-1]):
        with pytest.raises(Refused) as refused:
            session.check_csrf(wrong)
        assert refused.value.status == 403 and "CSRF" in refused.value.message


def test_login_csrf_is_a_double_submit() -> None:
    check_login_csrf("abc", "abc")
    for cookie, field in ((None, "abc"), ("abc", None), ("abc", "abd"), ("", "")):
        with pytest.raises(Refused):
            check_login_csrf(cookie, field)


def test_rights_come_from_whoami_and_refuse_what_is_missing() -> None:
    store = SessionStore()
    consumer, operator = store.open("k", CONSUMER), store.open("k", OPERATOR)
    assert operator.operator and not consumer.operator
    consumer.require("infer")
    with pytest.raises(Refused) as refused:
        consumer.require("manage pools")
    assert refused.value.status == 403
    assert "consumer" in refused.value.message and "manage pools" in refused.value.message


def test_bad_limits_are_refused_at_once() -> None:
    with pytest.raises(ValueError, match="positive"):
        SessionStore(idle_s=0)


def test_failed_logins_are_limited_per_address_for_a_window() -> None:
    clock = Clock()
    limiter = LoginLimiter(max_failures=3, window_s=60, clock=clock)
    for _ in range(3):
        limiter.check("10.0.0.1")
        limiter.failed("10.0.0.1")
    with pytest.raises(Refused) as refused:
        limiter.check("10.0.0.1")
    assert refused.value.status == 429 and "60 s" in refused.value.message
    limiter.check("10.0.0.2")  # another address is not affected
    clock.now += 61
    limiter.check("10.0.0.1")
