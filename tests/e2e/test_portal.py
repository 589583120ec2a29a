"""The portal in a real browser (headless Debian chromium through Playwright) on a real `brain up`.

One platform for the module: an enterprise consumer filters the catalogue, opens a component, tries it and
sees the call on the usage page; an operator cordons the pool, sees a job wait, uncordons it and sees the
job run; a consumer is refused the operator pages by the server. Pages are checked for labels, their
language and the theme's contrast; screenshots go to tests/artifacts/portal/ (ignored by git).
Run under `flock /tmp/brain-ray.lock` like every test that starts the platform.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from model_hub import Card
from model_hub.catalog import Catalog
from tests.cards import card_data
from tests.conftest import ROOT, free_port
from tests.e2e.test_platform_flow import Platform

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = ROOT / "tests" / "artifacts" / "portal"
CATALOGUE_SIZE = 1000
"""Components in the catalogue when the first-load time is measured (the issue's figure)."""


def _playwright() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - make install puts it in the dev extras
        pytest.skip("playwright is not installed: `make install` (dev extras)")
    if CHROMIUM is None:
        pytest.skip("no chromium: `make system-deps` installs Debian's chromium")
    return sync_playwright


class Portal(Platform):
    @property
    def portal(self) -> str:
        return f"http://127.0.0.1:{self.ports['portal']}"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    names = ("mlflow", "serve", "dashboard", "scheduler", "scheduler-api", "portal")
    ports = {name: free_port() for name in names}
    p = Portal(tmp_path_factory.mktemp("portal-home"), ports)
    try:
        up = p.brain(
            "up", "--detach",
            "--mlflow-port", str(ports["mlflow"]), "--port", str(ports["serve"]),
            "--dashboard-port", str(ports["dashboard"]), "--scheduler-metrics-port", str(ports["scheduler"]),
            "--scheduler-api-port", str(ports["scheduler-api"]), "--portal-port", str(ports["portal"]),
        )  # fmt: skip
        assert f"{p.portal}/" in up.stdout, up.stdout
        p.admin_key = up.stdout.strip().splitlines()[-2].strip()  # type: ignore[attr-defined]
        p.brain(
            "tenants", "create", "lubei-chem", "--display", "鲁北化工", "--kind", "enterprise",
            "--industry", "high-end-chemicals", "--city", "binzhou",
        )  # fmt: skip
        issued = p.brain("keys", "issue", "lubei-chem", "--role", "consumer", "--json").stdout
        p.consumer_key = json.loads(issued)["key"]  # type: ignore[attr-defined]
        issued = p.brain("keys", "issue", "lubei-chem", "--role", "admin", "--json").stdout
        p.enterprise_admin_key = json.loads(issued)["key"]  # type: ignore[attr-defined]
        _fill_catalogue(p.home / "catalog.db", CATALOGUE_SIZE - 7)
        yield p
    finally:
        down = p.brain("down", check=False)
        assert down.returncode == 0, down.stderr


def _fill_catalogue(path: Path, count: int) -> None:
    """Public catalogue entries without MLflow models: the index is what the catalogue page reads.
    Timestamp 0 so that the centre's incremental sync from MLflow is not affected."""
    catalog = Catalog(path)
    try:
        rows = []
        for i in range(count):
            card = Card.parse(
                card_data(
                    name=f"bulk-{i:04d}",
                    display={"zh": f"批量组件 {i}", "en": f"Bulk component {i}"},
                    kind=("knowledge", "process", "mechanism")[i % 3],
                    owner="platform",
                )
            )
            rows.append((card, 1, 1, False, 0))
        catalog.upsert_many(rows)
    finally:
        catalog.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_playwright = _playwright()
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def _login(browser: Any, platform: Portal, key: str, width: int = 1280) -> Any:
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{platform.portal}/login")
    page.get_by_label("API 密钥").fill(key)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/catalogue")
    return page


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _check_accessibility(page: Any) -> None:
    """Every form field has a label, the page says its language, and the theme's text is readable."""
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
              .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
              .map(e => e.name || e.id)"""
    )
    assert unlabelled == [], f"form fields without a label on {page.url}: {unlabelled}"
    assert page.evaluate("document.documentElement.lang") in ("zh-CN", "en")
    pairs = page.evaluate(
        """() => {
          const css = getComputedStyle(document.documentElement);
          const v = n => css.getPropertyValue(n).trim();
          return [[v('--ink'), v('--paper')], [v('--muted'), v('--paper')], [v('--muted'), v('--panel')],
                  [v('--accent'), v('--paper')], ['#ffffff', v('--accent')], [v('--bad'), v('--paper')]];
        }"""
    )
    for fg, bg in pairs:
        assert _contrast(fg, bg) >= 4.5, (
            f"contrast of {fg} on {bg} is {_contrast(fg, bg):.2f} < 4.5 (WCAG AA)"
        )


def _contrast(fg: str, bg: str) -> float:
    def luminance(hex_colour: str) -> float:
        channels = [int(hex_colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    high, low = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_consumer_finds_tries_and_sees_usage(browser: Any, platform: Portal) -> None:
    page = _login(browser, platform, platform.consumer_key)  # type: ignore[attr-defined]
    # First load of the catalogue with 1,000 components: navigation start to the load event, in the browser.
    page.goto(f"{platform.portal}/catalogue")
    load_ms = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
    total = int(page.locator("#total").inner_text())
    print(f"\ncatalogue first load with {total} components: {load_ms:.0f} ms")
    assert total >= CATALOGUE_SIZE
    assert load_ms < 1000, f"the catalogue took {load_ms:.0f} ms to load"
    assert page.locator("nav >> text=资源池").count() == 0  # not an operator: no pools link
    _check_accessibility(page)

    # The city filter: the bulk entries' owner (the platform tenant) is in Jinan, the built-ins have none.
    page.get_by_label("城市").select_option("jinan")
    page.get_by_role("button", name="筛选").click()
    page.wait_for_url("**city=jinan**")
    assert int(page.locator("#total").inner_text()) == CATALOGUE_SIZE - 7
    assert page.locator(".card .city").first.inner_text() == "济南"
    page.get_by_label("城市").select_option("")

    page.get_by_label("类型").select_option("mechanism")
    page.get_by_label("关键词").fill("碳")
    page.get_by_role("button", name="筛选").click()
    page.wait_for_url("**kind=mechanism**")
    assert int(page.locator("#total").inner_text()) >= 1
    page.locator("a[href='/components/carbon_accounting']").click()
    page.wait_for_url("**/components/carbon_accounting")
    _check_accessibility(page)
    # The full card from the registry API: licence, intended use, versions with their aliases.
    card = page.locator("#card").inner_text()
    assert "许可证" in card and "适用场景" in card, card
    assert "production" in page.locator("#versions").inner_text()
    page.get_by_role("button", name="发送").click()
    page.wait_for_selector("#answer table.answer")
    assert page.locator("table.answer[data-output='total_tco2e'] td").count() >= 1
    _shot(page, "component-try-it")

    page.goto(f"{platform.portal}/components/energy_forecast")
    page.get_by_role("button", name="发送").click()
    page.wait_for_selector("#answer div.chart[data-drawn='true']")  # a series: drawn by ECharts
    _shot(page, "component-series-chart")

    deadline = time.monotonic() + 30
    while True:  # the meter flushes every BRAIN_USAGE_FLUSH_SECONDS (2 s)
        page.goto(f"{platform.portal}/usage")
        row = page.locator("#usage tr[data-component='carbon_accounting'] td.calls")
        if (row.count() and int(row.first.inner_text()) >= 1) or time.monotonic() > deadline:
            break
        page.wait_for_timeout(500)
    assert row.count() and int(row.first.inner_text()) >= 1, "the try-it call is not on the usage page"
    _check_accessibility(page)
    _shot(page, "usage")
    month = page.locator("#f-month").input_value()
    csv = page.request.get(f"{platform.portal}/usage.csv?month={month}")
    assert csv.status == 200
    report = httpx.get(
        f"{platform.url}/api/v1/usage",
        params={"month": month, "format": "csv"},
        headers={"Authorization": f"Bearer {platform.consumer_key}"},  # type: ignore[attr-defined]
    ).text
    assert csv.text() == report

    page.get_by_role("link", name="English").click()
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.get_by_role("link", name="Catalogue").count() == 1
    page.context.close()


def test_consumer_is_refused_the_operator_pages(browser: Any, platform: Portal) -> None:
    page = _login(browser, platform, platform.consumer_key)  # type: ignore[attr-defined]
    pools = page.request.get(f"{platform.portal}/pools")
    assert pools.status == 403 and "manage pools" in pools.text()
    csrf = page.locator("header form input[name=csrf]").input_value()
    cordon = page.request.post(f"{platform.portal}/pools/local/cordon", form={"csrf": csrf})
    assert cordon.status == 403
    entry = page.request.post(
        f"{platform.portal}/jobs", form={"csrf": csrf, "kind": "entrypoint", "entrypoint": "/usr/bin/id"}
    )
    assert entry.status == 403
    # and the API itself refuses the key, whatever the portal shows
    api = httpx.get(
        f"http://127.0.0.1:{platform.ports['scheduler-api']}/api/v1/pools",
        headers={"Authorization": f"Bearer {platform.consumer_key}"},  # type: ignore[attr-defined]
    )
    assert api.status_code == 403
    page.context.close()


def test_operator_cordons_a_pool_and_sees_a_job_queue_then_run(browser: Any, platform: Portal) -> None:
    page = _login(browser, platform, platform.admin_key)  # type: ignore[attr-defined]
    page.goto(f"{platform.portal}/pools")
    local = page.locator("tr[data-pool='local']")
    local.get_by_role("button", name="停止调度").click()
    page.wait_for_selector("tr[data-pool='local'] .cordoned")
    _check_accessibility(page)

    page.get_by_label("类型").select_option("entrypoint")
    page.get_by_label("命令").fill(f"{sys.executable} -c 'import time; time.sleep(60)'")
    page.get_by_role("button", name="提交").click()
    page.wait_for_url("**/jobs/**")
    job_url = page.url
    assert page.locator("#job-state").inner_text() == "queued"  # the only pool is cordoned
    page.goto(f"{platform.portal}/compute")
    assert page.locator("#queues").count() == 1
    _check_accessibility(page)

    page.goto(f"{platform.portal}/pools")
    page.locator("tr[data-pool='local']").get_by_role("button", name="恢复调度").click()
    page.wait_for_selector("tr[data-pool='local'] button[value='cordon']")
    deadline = time.monotonic() + 90
    state = ""
    while state != "running" and time.monotonic() < deadline:
        page.goto(job_url)
        state = page.locator("#job-state").inner_text()
        if state != "running":
            page.wait_for_timeout(500)
    assert state == "running"
    page.goto(f"{platform.portal}/pools")
    page.wait_for_selector("div.chart[data-drawn='true']")
    _shot(page, "pools")
    page.goto(job_url)
    with page.expect_navigation():
        page.get_by_role("button", name="取消").click()
    deadline = time.monotonic() + 60
    while state not in ("stopping", "cancelled") and time.monotonic() < deadline:
        page.goto(job_url)
        state = page.locator("#job-state").inner_text()
    assert state in ("stopping", "cancelled")
    page.context.close()


def test_a_phone_sees_the_catalogue(browser: Any, platform: Portal) -> None:
    page = _login(browser, platform, platform.consumer_key, width=390)  # type: ignore[attr-defined]
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the catalogue is {overflow} px wider than a phone"
    _shot(page, "catalogue-phone")
    page.context.close()


def test_whoami_names_the_keys_rights_and_refuses_a_bad_key(platform: Portal) -> None:
    url = f"{platform.url}/api/v1/whoami"
    me = httpx.get(url, headers={"Authorization": f"Bearer {platform.consumer_key}"})  # type: ignore[attr-defined]
    assert me.status_code == 200
    assert (me.json()["tenant"], me.json()["role"], me.json()["kind"]) == (
        "lubei-chem",
        "consumer",
        "enterprise",
    )
    assert "infer" in me.json()["rights"] and "manage pools" not in me.json()["rights"]
    admin = httpx.get(url, headers={"Authorization": f"Bearer {platform.admin_key}"})  # type: ignore[attr-defined]
    assert "manage pools" in admin.json()["rights"]
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer ibk_nope_nope"}).status_code == 401


def _as(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_tenancy_routes_refuse_what_the_rights_table_does_not_allow(platform: Portal) -> None:
    consumer = _as(platform.consumer_key)  # type: ignore[attr-defined]
    admin = _as(platform.enterprise_admin_key)  # type: ignore[attr-defined]
    url = platform.url
    assert httpx.get(f"{url}/api/v1/keys", headers=consumer).status_code == 403
    assert httpx.post(f"{url}/api/v1/keys", headers=consumer, json={}).status_code == 403
    assert httpx.get(f"{url}/api/v1/tenants", headers=admin).status_code == 403  # not an operator
    daily = httpx.get(f"{url}/api/v1/usage/daily", headers=consumer, params={"month": "2026-11"})
    assert daily.status_code == 200 and all(d["tenant"] == "lubei-chem" for d in daily.json()["days"])
    other = httpx.get(
        f"{url}/api/v1/usage/daily", headers=consumer, params={"month": "2026-11", "tenant": "platform"}
    )
    assert other.status_code == 403
    bad_month = httpx.get(f"{url}/api/v1/usage/daily", headers=consumer, params={"month": "11/2026"})
    assert bad_month.status_code == 400 and "month" in bad_month.json()["error"]
    # an enterprise admin manages its own tenant's keys, and nobody else's (404: no oracle)
    assert httpx.get(f"{url}/api/v1/keys", headers=admin, params={"tenant": "platform"}).status_code == 404
    assert httpx.post(f"{url}/api/v1/keys", headers=admin, json={"tenant": "platform"}).status_code == 404
    platform_key = "_".join(platform.admin_key.split("_")[:2])  # type: ignore[attr-defined]
    revoke = httpx.post(f"{url}/api/v1/keys/{platform_key}/revoke", headers=admin)
    assert revoke.status_code == 404
    wrong = httpx.post(f"{url}/api/v1/keys", headers=admin, json={"role": "king"})
    assert wrong.status_code == 400 and "role" in wrong.json()["error"]
    extra = httpx.post(f"{url}/api/v1/keys", headers=admin, json={"role": "consumer", "owner": "x"})
    assert extra.status_code == 400
    listed = httpx.get(f"{url}/api/v1/keys", headers=admin).json()
    assert {k["tenant"] for k in listed["items"]} == {"lubei-chem"}
    assert all("key" not in k for k in listed["items"])  # never a secret in a list


def test_the_provincial_office_reads_the_assessment_and_no_tenant_lines(
    browser: Any, platform: Portal
) -> None:
    """A government office's key reads calls per industry brain and city (sums, tenant counts, no tenant
    named), on the API and on the portal's usage page; an enterprise's keys are refused the sums."""
    platform.brain(
        "tenants", "create", "sd-gxt", "--display", "山东省工业和信息化厅", "--kind", "government",
        "--industry", "high-end-chemicals", "--city", "jinan",
    )  # fmt: skip
    office = json.loads(platform.brain("keys", "issue", "sd-gxt", "--role", "consumer", "--json").stdout)[
        "key"
    ]
    url = platform.url
    year = httpx.get(f"{url}/api/v1/usage/assessment", headers=_as(office), params={"period": "2026"})
    assert year.status_code == 200, year.text
    body = year.json()
    assert body["period"] == "2026" and {"calls", "errors", "tenants", "industries", "cities"} <= set(body)
    assert sum(c["calls"] for c in body["cities"]) == body["calls"]  # every call is in one city
    assert "lubei-chem" not in year.text  # sums only: no enterprise named
    lines = httpx.get(
        f"{url}/api/v1/usage", headers=_as(office), params={"month": "2026-11", "tenant": "lubei-chem"}
    )
    assert lines.status_code == 403  # the office reads no enterprise's own lines
    for key in (platform.consumer_key, platform.enterprise_admin_key):  # type: ignore[attr-defined]
        refused = httpx.get(f"{url}/api/v1/usage/assessment", headers=_as(key), params={"period": "2026"})
        assert refused.status_code == 403, refused.text
    bad = httpx.get(f"{url}/api/v1/usage/assessment", headers=_as(office), params={"period": "2026-13"})
    assert bad.status_code == 400 and "YYYY" in bad.json()["error"]
    page = _login(browser, platform, office)
    page.goto(f"{platform.portal}/usage")
    assert page.locator("#by-industry").is_visible() and page.locator("#by-city").is_visible()
    page.context.close()
    consumer = _login(browser, platform, platform.consumer_key)  # type: ignore[attr-defined]
    consumer.goto(f"{platform.portal}/usage")
    assert consumer.locator("#by-industry").count() == 0
    consumer.context.close()


def test_an_operator_creates_a_tenant_and_sets_its_quota_an_enterprise_admin_cannot(
    browser: Any, platform: Portal
) -> None:
    page = _login(browser, platform, platform.admin_key)  # type: ignore[attr-defined]
    page.goto(f"{platform.portal}/keys")
    _check_accessibility(page)
    page.locator("#tn-name").fill("weiqiao-textile")
    page.locator("#tn-display").fill("魏桥纺织")
    page.locator("#tn-industry").select_option("textiles-apparel")
    page.locator("#tn-city").select_option("binzhou")
    page.get_by_role("button", name="创建", exact=True).click()
    row = page.locator("tr[data-tenant='weiqiao-textile']")
    row.wait_for()
    row.locator("input[name='monthly_quota']").fill("5000")
    row.get_by_role("button", name="保存").click()
    page.wait_for_selector("tr[data-tenant='weiqiao-textile'] td.quota:has-text('5000')")
    # Both changes are in the audit log, newest first, found by their target.
    page.goto(f"{platform.portal}/audit")
    page.locator("#f-target").fill("weiqiao-textile")
    page.get_by_role("button", name="筛选").click()
    page.wait_for_url("**/audit?target=weiqiao-textile*")
    actions = page.locator("#audit tbody tr").evaluate_all("rows => rows.map(r => r.dataset.action)")
    assert actions == ["tenant.limits", "tenant.create"], actions
    _check_accessibility(page)
    _shot(page, "audit")
    page.context.close()
    # Its first job finds a queue: the API made one, as `brain tenants create` does.
    scheduler = f"http://127.0.0.1:{platform.ports['scheduler-api']}/api/v1/queues"
    queues = httpx.get(scheduler, headers=_as(platform.admin_key)).json()  # type: ignore[attr-defined]
    assert "weiqiao-textile" in json.dumps(queues), queues

    admin = _login(browser, platform, platform.enterprise_admin_key)  # type: ignore[attr-defined]
    admin.goto(f"{platform.portal}/keys")
    assert admin.locator("#tn-name").count() == 0  # not shown...
    assert admin.locator("header a[href='/audit']").count() == 0  # nor the audit log
    csrf = admin.locator("input[name='csrf']").first.input_value()
    refused = admin.request.post(
        f"{platform.portal}/tenants",
        form={"csrf": csrf, "name": "sneaky-co", "display": "x", "kind": "operator",
              "industry": "textiles-apparel", "city": "jinan"},
    )  # fmt: skip
    assert refused.status == 403  # ...and refused by the server
    api = httpx.post(
        f"{platform.url}/api/v1/tenants",
        headers=_as(platform.enterprise_admin_key),  # type: ignore[attr-defined]
        json={"name": "sneaky-co", "display": "x", "kind": "operator", "industries": ["textiles-apparel"],
              "city": "jinan"},
    )  # fmt: skip
    assert api.status_code == 403
    admin.context.close()


def test_admin_issues_a_key_shown_once_and_revokes_it(browser: Any, platform: Portal) -> None:
    page = _login(browser, platform, platform.enterprise_admin_key)  # type: ignore[attr-defined]
    page.goto(f"{platform.portal}/keys")
    _check_accessibility(page)
    page.get_by_label("角色").select_option("consumer")
    page.get_by_label("用途").fill("portal test")
    page.get_by_role("button", name="签发").click()
    secret = page.locator("#new-key").inner_text().strip()
    assert secret.startswith("ibk_")
    me = httpx.get(f"{platform.url}/api/v1/whoami", headers=_as(secret))
    assert me.status_code == 200 and me.json()["tenant"] == "lubei-chem"
    page.goto(f"{platform.portal}/keys")
    assert page.locator("#new-key").count() == 0 and secret not in page.content()  # shown once
    prefix = "_".join(secret.split("_")[:2])
    page.locator(f"tr[data-key='{prefix}']").get_by_role("button", name="吊销").click()
    page.wait_for_selector(f"tr[data-key='{prefix}'] td.state:text('revoked')")
    deadline = time.monotonic() + 20  # other replicas stop trusting it within key_cache_seconds
    while httpx.get(f"{platform.url}/api/v1/whoami", headers=_as(secret)).status_code != 401:
        assert time.monotonic() < deadline, "a revoked key still authenticates"
        time.sleep(0.5)
    page.context.close()
