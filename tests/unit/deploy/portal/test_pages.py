"""The portal's refusals happen before any API is asked: no session, no CSRF token, no right.

The APIs behind the app are a closed port here, so a page that did ask one would answer 503, not the
status these tests expect.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from deploy.portal import build_portal
from deploy.portal.sessions import COOKIE, LOGIN_COOKIE, SessionStore
from tests.conftest import free_port

CONSUMER = {"tenant": "lubei-chem", "role": "consumer", "rights": ["read catalogue", "infer", "submit jobs"]}


@pytest.fixture
def store() -> SessionStore:
    return SessionStore()


class PortalClient:
    """The portal app in-process (ASGI, no server), called synchronously on one event loop."""

    def __init__(self, store: SessionStore) -> None:
        closed = f"http://127.0.0.1:{free_port()}"
        app = build_portal(closed, closed, sessions=store)
        self._loop = asyncio.Runner()
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal.test")
        self.cookies = self.http.cookies

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self._loop.run(self.http.get(path, **kwargs))

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self._loop.run(self.http.post(path, **kwargs))

    def close(self) -> None:
        self._loop.run(self.http.aclose())
        self._loop.close()


@pytest.fixture
def client(store: SessionStore) -> Iterator[PortalClient]:
    client = PortalClient(store)
    yield client
    client.close()


def test_pages_send_the_browser_to_login_without_a_session(client: PortalClient) -> None:
    for page in ("/catalogue", "/pools", "/usage", "/jobs", "/audit", "/components/energy_forecast"):
        answer = client.get(page)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")
    assert client.post("/pools/local/cordon", data={"csrf": "x"}).status_code == 401


def test_login_form_sets_a_strict_httponly_csrf_cookie_and_headers(client: PortalClient) -> None:
    answer = client.get("/login")
    assert answer.status_code == 200
    assert '<html lang="zh-CN">' in answer.text
    set_cookie = answer.headers["set-cookie"]
    assert LOGIN_COOKIE in set_cookie and "HttpOnly" in set_cookie and "SameSite=strict" in set_cookie
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["cache-control"] == "no-store"
    field = re.search(r'name="csrf" value="([^"]+)"', answer.text)
    assert field is not None and field.group(1) == client.cookies[LOGIN_COOKIE]
    assert re.search(r'<label for="key">', answer.text)


def test_login_without_its_csrf_token_is_refused(client: PortalClient) -> None:
    client.get("/login")
    answer = client.post("/login", data={"key": "ibk_x", "csrf": "forged"})
    assert answer.status_code == 403 and "CSRF" in answer.text
    assert COOKIE not in client.cookies


def test_a_role_without_the_right_gets_403_before_the_api(client: PortalClient, store: SessionStore) -> None:
    session = store.open("ibk_consumer", CONSUMER)
    client.cookies.set(COOKIE, session.token, domain="portal.test")
    assert client.get("/pools").status_code == 403
    assert client.get("/usage").status_code == 403  # CONSUMER here lacks `read usage`
    audit = client.get("/audit")
    assert audit.status_code == 403 and "read audit log" in audit.text
    assert 'href="/audit"' not in client.get("/keys").text  # no link to a page the key may not read
    refused = client.post("/pools/local/cordon", data={"csrf": session.csrf})
    assert refused.status_code == 403 and "manage pools" in refused.text
    entry = client.post("/jobs", data={"csrf": session.csrf, "kind": "entrypoint", "entrypoint": "id"})
    assert entry.status_code == 403


def test_a_form_without_the_sessions_csrf_token_is_refused(client: PortalClient, store: SessionStore) -> None:
    session = store.open("ibk_consumer", CONSUMER)
    client.cookies.set(COOKIE, session.token, domain="portal.test")
    for path in ("/logout", "/components/energy_forecast/try", "/jobs/j1/cancel", "/jobs"):
        answer = client.post(path, data={"csrf": "not-it"})
        assert answer.status_code == 403, path
    assert store.get(session.token) is session  # a forged logout ends nothing


def test_logout_ends_the_session(client: PortalClient, store: SessionStore) -> None:
    session = store.open("ibk_consumer", CONSUMER)
    client.cookies.set(COOKIE, session.token, domain="portal.test")
    answer = client.post("/logout", data={"csrf": session.csrf})
    assert answer.status_code == 303 and store.get(session.token) is None


def test_language_toggle_and_no_open_redirect(client: PortalClient) -> None:
    answer = client.get("/lang/en", params={"next": "//evil.example/"})
    assert answer.status_code == 303 and answer.headers["location"] == "/catalogue"
    assert client.get("/lang/en", params={"next": "/usage"}).headers["location"] == "/usage"
    assert '<html lang="en">' in client.get("/login").text
    assert client.get("/lang/fr").status_code == 400


def test_a_query_field_of_the_wrong_type_is_a_400_page_naming_it(
    client: PortalClient, store: SessionStore
) -> None:
    session = store.open("ibk_consumer", CONSUMER)
    client.cookies.set(COOKIE, session.token, domain="portal.test")
    for path, field in (("/jobs?offset=abc", "offset"), ("/audit?limit=many", "limit")):
        answer = client.get(path)
        assert answer.status_code == 400, path
        assert answer.headers["content-type"].startswith("text/html")
        assert f"{field}: Input should be a valid integer" in answer.text and "&#39;" in answer.text


def test_an_api_that_does_not_answer_is_a_503_page(client: PortalClient, store: SessionStore) -> None:
    session = store.open("ibk_consumer", CONSUMER)
    client.cookies.set(COOKIE, session.token, domain="portal.test")
    answer = client.get("/catalogue")
    assert answer.status_code == 503 and "does not answer" in answer.text


#: Every form of the portal but the login (route → a path of it, the right its key needs; None: any session).
FORMS: dict[str, tuple[str, str | None]] = {
    "/logout": ("/logout", None),
    "/components/{name}/try": ("/components/energy_forecast/try", "infer"),
    "/pools/{name}/{action}": ("/pools/local/cordon", "manage pools"),
    "/jobs": ("/jobs", "submit jobs"),
    "/jobs/{job_id:path}/cancel": ("/jobs/j1/cancel", "submit jobs"),
    "/keys": ("/keys", "manage keys"),
    "/keys/{prefix}/revoke": ("/keys/ibk_abc/revoke", "manage keys"),
    "/tenants": ("/tenants", "manage tenants"),
    "/tenants/{name}/limits": ("/tenants/lubei-chem/limits", "manage tenants"),
}


def test_every_form_checks_csrf_then_the_right_before_any_api(
    client: PortalClient, store: SessionStore
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    posted = {
        route.path
        for route in build_portal(closed, closed).routes
        if isinstance(route, APIRoute) and "POST" in route.methods
    }
    assert posted - {"/login"} == set(FORMS), "a new form: add it here with the right it needs"
    for path, right in FORMS.values():
        nobody = store.open("ibk_nobody", {**CONSUMER, "rights": []})
        client.cookies.set(COOKIE, nobody.token, domain="portal.test")
        forged = client.post(path, data={"csrf": "not-it"})
        assert forged.status_code == 403 and "CSRF" in forged.text, path
        refused = client.post(path, data={"csrf": nobody.csrf})
        if right is None:
            assert refused.status_code == 303, path  # logout needs no right
            continue
        assert refused.status_code == 403 and f"needs the right &#39;{right}&#39;" in refused.text, path
        allowed = store.open("ibk_allowed", {**CONSUMER, "rights": [right]})
        client.cookies.set(COOKIE, allowed.token, domain="portal.test")
        # Past the checks: the (closed) API is asked, or the form's own input is refused.
        assert client.post(path, data={"csrf": allowed.csrf}).status_code in (400, 503), path
