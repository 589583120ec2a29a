"""The catalogue's city filter: a component's city is its owner tenant's, carried in each entry server-side,
so a consumer filters by city without reading the tenants list (operators only), and learns no more of
another tenant than the catalogue already showed (the visibility rules apply to the filtered result)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from deploy.centre.owner_cities import OwnerCities
from deploy.portal.sessions import LANG_COOKIE
from deploy.tenancy import TenantSpec
from tests.security.conftest import Server, error_of, portal_browser
from tests.security.test_registry_api import register_formula

ADDRESS = "10.7.9.1"


def catalogue(client: httpx.Client, server: Server, who: str, **params: Any) -> httpx.Response:
    return client.get("/api/v1/components", params=params, headers=server.headers(who, ADDRESS))


def items(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["items"]
    return found


def names(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["items"]]


def test_the_city_filter_selects_by_the_owners_city(client: httpx.Client, server: Server) -> None:
    # hualu-chem (Dezhou) publishes one; lubei-chem (Binzhou) owns the private reactor-quality.
    register_formula(client, server, "other-developer", "dezhou-public-scale", visibility="public")
    everything = catalogue(client, server, "consumer", page_size=100).json()["items"]
    city = {item["name"]: item["city"] for item in everything}
    assert city["dezhou-public-scale"] == "dezhou"
    assert city["reactor-quality"] == "binzhou"
    assert city["sum-formula"] is None  # owned by no tenant (the province's built-in): no city
    # The package's other tests register more components on the same centre: check what the filter
    # selects by each entry's city, not by a list fixed in advance.
    dezhou = items(catalogue(client, server, "consumer", city="dezhou", page_size=100))
    assert "dezhou-public-scale" in [i["name"] for i in dezhou] and {i["city"] for i in dezhou} == {"dezhou"}
    # Chinese names work as pinyin does; the other filters still apply (AND).
    binzhou = items(catalogue(client, server, "consumer", city="滨州", page_size=100))
    assert "reactor-quality" in [i["name"] for i in binzhou] and {i["city"] for i in binzhou} == {"binzhou"}
    knowledge = items(catalogue(client, server, "consumer", city="binzhou", kind="knowledge", page_size=100))
    assert all(i["kind"] == "knowledge" and i["city"] == "binzhou" for i in knowledge)
    assert "reactor-quality" not in [i["name"] for i in knowledge]  # a process component
    assert names(catalogue(client, server, "consumer", city="dezhou", owner="lubei-chem")) == []
    # A city with no tenant matches nothing rather than everything.
    assert catalogue(client, server, "consumer", city="heze").json() == {"total": 0, "page": 1, "items": []}


def test_the_city_filter_keeps_the_visibility_rules(client: httpx.Client, server: Server) -> None:
    # lubei-chem's private component is in Binzhou; hualu-chem's key does not see it there either.
    seen = items(catalogue(client, server, "other-developer", city="binzhou", page_size=100))
    assert "reactor-quality" not in [i["name"] for i in seen]
    assert all(i["visibility"] != "private" for i in seen), seen  # Binzhou's public ones only, if any


def test_an_unknown_city_is_a_400_naming_it(client: httpx.Client, server: Server) -> None:
    response = catalogue(client, server, "consumer", city="shanghai")
    assert response.status_code == 400
    assert "unknown city 'shanghai'" in error_of(response) and "jinan" in error_of(response)
    long = catalogue(client, server, "consumer", city="x" * 40)
    assert long.status_code == 400 and "city" in error_of(long)


def test_a_consumer_still_may_not_list_tenants(client: httpx.Client, server: Server) -> None:
    response = client.get("/api/v1/tenants", headers=server.headers("consumer", ADDRESS))
    assert response.status_code == 403


def test_the_portals_catalogue_filters_by_city(client: httpx.Client, server: Server) -> None:
    """The portal's page over this centre: the city select (Chinese names in zh, English in en) reaches
    the API as the filter, and each card names its owner's city."""
    register_formula(client, server, "other-developer", "dezhou-portal-scale", visibility="public")

    async def pages() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        async with portal_browser(server, "consumer") as browser:
            zh = await browser.get("/catalogue", params={"city": "dezhou"})
            bad = await browser.get("/catalogue", params={"city": "shanghai"})
            browser.cookies.set(LANG_COOKIE, "en")
            en = await browser.get("/catalogue", params={"city": "dezhou"})
            return zh, bad, en

    zh, bad, en = asyncio.run(pages())
    assert zh.status_code == 200, zh.text
    assert '<option value="dezhou" selected>德州</option>' in zh.text
    assert 'href="/components/dezhou-portal-scale"' in zh.text
    assert 'href="/components/reactor-quality"' not in zh.text  # Binzhou's
    assert '<span class="city" data-city="dezhou">德州</span>' in zh.text
    assert bad.status_code == 400 and "unknown city" in bad.text
    assert '<option value="dezhou" selected>Dezhou</option>' in en.text
    assert '<span class="city" data-city="dezhou">Dezhou</span>' in en.text


def test_owner_cities_are_read_again_after_their_ttl(server: Server) -> None:
    now = [0.0]
    cities = OwnerCities(server.centre.tenants, ttl=10.0, clock=lambda: now[0])
    assert cities.stale and cities.current()["lubei-chem"] == "binzhou" and not cities.stale
    spec = TenantSpec(
        name="liaocheng-steel",
        display="聊城钢铁",
        kind="enterprise",
        industries=["high-end-chemicals"],
        city="liaocheng",
    )
    server.centre.tenants.create_tenant(spec, actor="tests")
    assert "liaocheng-steel" not in cities.current()  # within the TTL: the map read before
    now[0] = 10.0
    assert cities.stale and cities.current()["liaocheng-steel"] == "liaocheng"
