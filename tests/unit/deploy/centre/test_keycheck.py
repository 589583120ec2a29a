"""The centre's key check: unknown keys refused from memory, failed authentications limited per address."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import event

from deploy.centre.errors import AuthLocked, Unauthorized
from deploy.centre.keycheck import KeyCheck, client_address
from deploy.settings import PlatformSettings
from deploy.tenancy import Role, TenantSpec, TenantStore
from deploy.tenancy.keys import key_id_of

FAKE = "ibk_0badc0de_" + "2" * 40


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def check(tmp_path: Path) -> tuple[KeyCheck, Clock, str, list[str]]:
    settings = PlatformSettings(
        home=tmp_path, failed_auth_limit=3, failed_auth_window_seconds=60, unknown_key_cache_seconds=10
    )
    store = TenantStore.open(settings)
    store.create_tenant(
        TenantSpec(
            name="zibo-chem", display="淄博化工", kind="enterprise", industries=["transport"], city="zibo"
        ),
        actor="tests",
    )
    key = store.issue_key("zibo-chem", Role.consumer, "tests").secret
    queries: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *args: queries.append("q"))
    clock = Clock()
    yield KeyCheck(store, settings, clock), clock, key, queries  # type: ignore[misc]
    store.engine.dispose()


def test_an_unknown_key_is_looked_up_once_per_ttl(check: tuple[KeyCheck, Clock, str, list[str]]) -> None:
    keys, clock, _, queries = check
    for _ in range(5):
        with pytest.raises(Unauthorized, match="not recognised"):
            keys.authenticate(FAKE)  # no address: only the negative cache applies
    assert len(queries) == 1
    clock.now += 11
    with pytest.raises(Unauthorized):
        keys.authenticate(FAKE)
    assert len(queries) == 2


def test_an_address_is_locked_after_the_limit_and_unlocked_after_the_window(
    check: tuple[KeyCheck, Clock, str, list[str]],
) -> None:
    keys, clock, good, _ = check
    keys.authenticate(good, "10.1.1.1")  # verified before the lock: still served during it
    for i in range(3):
        with pytest.raises(Unauthorized):
            keys.authenticate(f"ibk_{i:08x}_" + "3" * 40, "10.1.1.1")
    with pytest.raises(AuthLocked) as locked:
        keys.authenticate("ibk_ffffffff_" + "3" * 40, "10.1.1.1")
    assert locked.value.status == 429 and locked.value.headers() == {"Retry-After": "60"}
    assert keys.authenticate(good, "10.1.1.1").tenant.name == "zibo-chem"
    with pytest.raises(Unauthorized):  # another address is not locked
        keys.authenticate("ibk_eeeeeeee_" + "3" * 40, "10.1.1.2")
    clock.now += 61
    with pytest.raises(Unauthorized):
        keys.authenticate("ibk_dddddddd_" + "3" * 40, "10.1.1.1")


def test_a_missing_key_is_401_and_not_counted(check: tuple[KeyCheck, Clock, str, list[str]]) -> None:
    keys, _, _, _ = check
    for _ in range(10):
        with pytest.raises(Unauthorized, match="no API key"):
            keys.authenticate(None, "10.1.1.3")


def test_trusted_is_a_hint_the_store_still_checks(check: tuple[KeyCheck, Clock, str, list[str]]) -> None:
    keys, _, good, _ = check
    assert not keys.trusted(good)
    keys.authenticate(good)
    assert keys.trusted(good) and not keys.trusted(FAKE) and not keys.trusted(None)
    keys.store.revoke_key(str(key_id_of(good)), "tests")
    with pytest.raises(Unauthorized, match="revoked"):
        keys.authenticate(good)
    assert not keys.trusted(good)  # its next calls go off the event loop and into the negative cache


def test_forwarded_for_is_trusted_only_from_a_local_proxy() -> None:
    assert client_address("127.0.0.1", "1.2.3.4, 10.0.0.7") == "10.0.0.7"
    assert client_address("203.0.113.5", "10.0.0.7") == "203.0.113.5"
    assert client_address("127.0.0.1", None) == "127.0.0.1"
    assert client_address(None, None) is None
