"""Portal pages over a real capability centre for what only some keys may read.

The audit page: an operator reads who changed what (the API's `GET /api/v1/audit`, with the operator's
own key), filters it, and gets a page naming a bad filter; a tenant's admin, who lacks `read audit log`,
is refused before the API is asked and sees no link to it. Payload samples on a component's page: its
owner's admins and developers only."""

from __future__ import annotations

import asyncio
import html
import re
from typing import Any

import httpx

from deploy.centre import payloads
from deploy.portal.sessions import LANG_COOKIE
from tests.security.conftest import Server, portal_browser
from tests.security.test_registry_api import infer, register_formula, until


def pages(server: Server, who: str, paths: list[str], lang: str = "zh") -> list[httpx.Response]:
    """Log in to a portal over `server` with `who`'s key and GET each path, in one browser session."""

    async def visit() -> list[httpx.Response]:
        async with portal_browser(server, who) as browser:
            browser.cookies.set(LANG_COOKIE, lang)
            return [await browser.get(path) for path in paths]

    return asyncio.run(visit())


def rows(page: httpx.Response) -> list[dict[str, Any]]:
    """The audit table's rows (actor, action, target, detail), in the page's order (newest first)."""
    cells = (
        r'<tr data-action="([^"]+)"><td><time[^>]*>[^<]*</time></td><td>([^<]*)</td><td>[^<]*</td>'
        r'<td class="target">([^<]*)</td><td><code>([^<]*)</code>'
    )
    return [
        {"action": a, "actor": who, "target": t, "detail": html.unescape(d)}
        for a, who, t, d in re.findall(cells, page.text)
    ]


def test_an_operator_reads_and_filters_the_audit_log(client: httpx.Client, server: Server) -> None:
    register_formula(client, server, "developer", "audited-scale", visibility="public")
    everything, by_target, by_family, too_long = pages(
        server,
        "operator",
        [
            "/audit",
            "/audit?target=audited-scale",
            "/audit?action=component.&limit=500",
            f"/audit?action={'x' * 65}",
        ],
        lang="en",
    )
    assert everything.status_code == 200, everything.text
    assert 'href="/audit" aria-current="page"' in everything.text
    registered = [r for r in rows(everything) if r["target"] == "audited-scale"]
    assert [r["action"] for r in registered] == ["component.register"]
    # The entry names who did it (the developer key's id, its tenant and role), never the key's secret.
    key_id = server.centre.tenants.authenticate(server.keys["developer"]).key_id
    assert registered[0]["actor"] == f"key:ibk_{key_id}"
    assert (
        '"role": "developer"' in registered[0]["detail"]
        and '"tenant": "lubei-chem"' in registered[0]["detail"]
    )
    assert server.keys["developer"] not in everything.text
    assert by_target.status_code == 200
    assert rows(by_target) and all(r["target"] == "audited-scale" for r in rows(by_target))
    assert by_family.status_code == 200 and '<option value="500" selected>' in by_family.text
    assert rows(by_family) and all(r["action"].startswith("component.") for r in rows(by_family))
    # The API's own refusal of the filter, on a page (never a traceback, never a 500).
    assert too_long.status_code == 400 and "action" in too_long.text and "Traceback" not in too_long.text


def test_a_tenant_admin_may_not_read_the_audit_log(server: Server) -> None:
    audit, keys = pages(server, "admin", ["/audit", "/keys"])
    assert audit.status_code == 403 and "read audit log" in audit.text
    assert keys.status_code == 200 and 'href="/audit"' not in keys.text
    # The operator's consumer key lacks the right as well; its ops key holds it (and sees the link).
    assert pages(server, "operator-consumer", ["/audit"])[0].status_code == 403
    assert 'href="/audit"' in pages(server, "operator-ops", ["/catalogue"])[0].text


def test_the_owner_sees_payload_samples_on_the_component_page_and_no_one_else(
    client: httpx.Client, server: Server
) -> None:
    """Payload samples are the enterprise's own data: the component page shows them to the owner's admins
    and developers (as `GET …/payloads` allows), never to its consumers, another tenant or an operator."""
    register_formula(client, server, "developer", "portal-sampled", visibility="private")
    policy = client.put(
        "/api/v1/components/portal-sampled/serving",
        json={"payload_sample_rate": 0.1},
        headers=server.headers("admin", "10.7.11.1"),
    )
    assert policy.status_code == 200, policy.text

    def stored() -> int:
        for _ in range(10):  # the policy reaches the replica with the routes (every 2 s)
            assert infer(client, server, "developer", "portal-sampled").status_code == 200
        return payloads.count_samples(server.centre.tenants.engine, "portal-sampled")

    assert until(stored, timeout=30) >= 1
    path = "/components/portal-sampled"
    for who in ("developer", "admin"):
        (page,) = pages(server, who, [path])
        assert page.status_code == 200, page.text
        assert '<section id="payloads">' in page.text and "请求样本" in page.text, who
        assert "&#34;data&#34;:[1.0,1.0,1.0,1.0,1.0,1.0]" in page.text  # the sample's input, escaped
    # The owner's consumer sees the page without them; the component is private, so an operator and
    # another tenant do not see it at all (404, as in the catalogue).
    for who, status in (("consumer", 200), ("operator", 404), ("other-admin", 404)):
        (page,) = pages(server, who, [path])
        assert page.status_code == status, (who, page.status_code)
        assert '<section id="payloads">' not in page.text and "[1.0,1.0,1.0" not in page.text, who
