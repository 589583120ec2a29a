"""The portal's pages: a backend-for-frontend over the centre's and the scheduler's REST APIs.

Every page asks the APIs with the session's key and shows what they answer; the portal keeps no data of
its own beyond the sessions in memory. A page or button a key's rights do not allow is not shown, and the
portal refuses it (403) before the API would.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Depends, FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from deploy.metering.calendar import month_of
from deploy.portal import examples
from deploy.portal.i18n import LANGS, WORDS, pick_lang, word
from deploy.portal.sessions import (
    COOKIE,
    LANG_COOKIE,
    LOGIN_COOKIE,
    LoginLimiter,
    Refused,
    Session,
    SessionStore,
    check_login_csrf,
    new_token,
)
from deploy.portal.upstream import APIRefusal, Upstream
from model_hub.taxonomy import INDUSTRIES
from scheduler.model import SHANDONG_CITIES

HERE = Path(__file__).parent
ECHARTS = HERE / "node_modules" / "echarts" / "dist" / "echarts.esm.min.js"
"""Apache ECharts, installed from the npm registry by `make install` (package.json here), never a CDN."""

#: Components per catalogue page.
PAGE_SIZE = 48
#: Built-in job kinds a form may submit (`scheduler/kinds`); `entrypoint` only with the right to run code.
JOB_KINDS = ("training", "batch-inference", "governance")
JOB_STATES = ("queued", "admitted", "running", "stopping", "succeeded", "failed", "cancelled")
ACTIVE_STATES = ("queued", "admitted", "running", "stopping")

SECURITY_HEADERS = {
    # Only the portal's own scripts and styles; chart data travels in non-executed JSON blocks.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class NotLoggedIn(Exception):
    """No live session: the page sends the browser to the login form."""


def build_portal(
    centre_url: str,
    scheduler_url: str,
    *,
    sessions: SessionStore | None = None,
    secure_cookies: bool = False,
) -> FastAPI:
    """The portal's ASGI app. ``secure_cookies`` marks the cookies Secure (set it behind HTTPS)."""
    upstream = Upstream(centre_url, scheduler_url)
    store = sessions if sessions is not None else SessionStore()
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    logins = LoginLimiter()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await upstream.close()

    app = FastAPI(
        title="Industry Brain portal", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.state.sessions = store
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    # --- plumbing -----------------------------------------------------------------------------------

    def lang_of(request: Request) -> str:
        return pick_lang(request.cookies.get(LANG_COOKIE))

    def session_of(request: Request) -> Session:
        session = store.get(request.cookies.get(COOKIE))
        if session is None:
            raise NotLoggedIn
        return session

    def form_session(right: str | None = None) -> Any:
        """The dependency of every form (POST) but the login: the live session, the form's CSRF token
        checked against it, then ``right`` required of its key; each refusal comes before any API call."""

        async def checked(request: Request) -> Session:
            session = session_of(request)
            form = await request.form()  # parsed once: the handler's own Form fields read the same
            session.check_csrf(str(form.get("csrf", "")))
            if right is not None:
                session.require(right)
            return session

        return Depends(checked)

    def render(request: Request, template: str, code: int = 200, /, **context: Any) -> HTMLResponse:
        lang = lang_of(request)
        session = store.get(request.cookies.get(COOKIE))
        response = templates.TemplateResponse(
            request,
            template,
            {
                "lang": lang,
                "t": lambda key: word(key, lang),
                "session": session,
                "path": request.url.path,
                "here": quote(str(request.url.path) + (f"?{request.url.query}" if request.url.query else "")),
                **context,
            },
            status_code=code,
        )
        return response

    def cookie(response: Response, name: str, value: str, max_age: int | None = None) -> None:
        response.set_cookie(
            name, value, max_age=max_age, httponly=True, samesite="strict", secure=secure_cookies, path="/"
        )

    @app.middleware("http")
    async def headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        for header, value in SECURITY_HEADERS.items():
            response.headers.setdefault(header, value)
        if request.url.path.startswith(("/static", "/vendor")):
            response.headers["Cache-Control"] = "public, max-age=3600"
        else:
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.exception_handler(NotLoggedIn)
    async def to_login(request: Request, _: NotLoggedIn) -> Response:
        if request.method != "GET":
            return render(request, "error.html", 401, status=401, message="not logged in; log in again")
        return RedirectResponse(f"/login?next={quote(request.url.path)}", 303)

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        return render(request, "error.html", exc.status, status=exc.status, message=exc.message)

    @app.exception_handler(APIRefusal)
    async def api_refused(request: Request, exc: APIRefusal) -> Response:
        if exc.status == 401:  # the key was revoked or expired since login: the session is over
            store.close(request.cookies.get(COOKIE))
        return render(request, "error.html", exc.status, status=exc.status, message=exc.message)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        """A query or form field of the wrong type (``?offset=abc``): a page naming it, not FastAPI's JSON."""
        first = exc.errors()[0]
        where = " ".join(str(p) for p in first["loc"][1:]) or "request"
        message = f"{where}: {first['msg']} (got {str(first.get('input'))[:80]!r})"
        return render(request, "error.html", 400, status=400, message=message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = "no such page" if exc.status_code == 404 else str(exc.detail)
        return render(request, "error.html", exc.status_code, status=exc.status_code, message=message)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        return render(
            request, "error.html", 500, status=500, message=f"the portal failed: {type(exc).__name__}"
        )

    # --- login, logout, language -------------------------------------------------------------------

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/vendor/echarts.js")
    async def echarts() -> Response:
        if not ECHARTS.exists():
            raise Refused(
                404, "Apache ECharts is not installed: run `make install` (npm ci in deploy/portal)"
            )
        return FileResponse(ECHARTS, media_type="text/javascript")

    @app.get("/lang/{code}")
    async def set_lang(code: str, next: str = "/") -> Response:
        if code not in LANGS:
            raise Refused(400, f"unknown language {code!r}; use one of {', '.join(LANGS)}")
        response = RedirectResponse(_local(next), 303)
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, samesite="strict", path="/")
        return response

    @app.get("/login")
    async def login_form(request: Request, next: str = "/catalogue") -> Response:
        token = new_token()
        response = render(request, "login.html", csrf=token, next=_local(next), error=None)
        cookie(response, LOGIN_COOKIE, token, max_age=3600)
        return response

    @app.post("/login")
    async def login(
        request: Request,
        key: str = Form(""),
        csrf: str = Form(""),
        next: str = Form("/catalogue"),
    ) -> Response:
        check_login_csrf(request.cookies.get(LOGIN_COOKIE), csrf)
        address = request.client.host if request.client is not None else ""
        logins.check(address)
        key = key.strip()
        try:
            if not key:
                raise APIRefusal(401, "no API key given")
            identity = await upstream.centre("GET", "/api/v1/whoami", key)
        except APIRefusal as exc:
            if exc.status == 401:
                logins.failed(address)
            return render(request, "login.html", exc.status, csrf=csrf, next=_local(next), error=exc.message)
        session = store.open(key, identity)
        response = RedirectResponse(_local(next), 303)
        cookie(response, COOKIE, session.token)
        response.delete_cookie(LOGIN_COOKIE, path="/")
        return response

    @app.post("/logout")
    async def logout(session: Session = form_session()) -> Response:
        store.close(session.token)
        response = RedirectResponse("/login", 303)
        response.delete_cookie(COOKIE, path="/")
        return response

    @app.get("/")
    async def home() -> Response:
        return RedirectResponse("/catalogue", 303)

    # --- catalogue and components ------------------------------------------------------------------

    @app.get("/catalogue")
    async def catalogue(
        request: Request,
        kind: str = "",
        industry: str = "",
        owner: str = "",
        city: str = "",
        q: str = "",
        page: int = 1,
    ) -> Response:
        session = session_of(request)
        session.require("read catalogue")
        params: dict[str, Any] = {"page": max(page, 1), "page_size": PAGE_SIZE}
        given = (("kind", kind), ("industry", industry), ("owner", owner), ("city", city), ("q", q))
        for name, value in given:
            if value.strip():
                params[name] = value.strip()
        found = await upstream.centre("GET", "/api/v1/components", session.key, params=params)
        filters = {k: v for k, v in params.items() if k not in ("page", "page_size")}
        pages = max(1, -(-int(found["total"]) // PAGE_SIZE))
        return render(
            request,
            "catalogue.html",
            found=found,
            filters=filters,
            industries=INDUSTRIES,
            cities=SHANDONG_CITIES,
            page=params["page"],
            pages=pages,
            query=lambda p: urlencode({**filters, "page": p}),
        )

    async def component_view(session: Session, name: str) -> dict[str, Any]:
        meta = await upstream.centre("GET", f"/v2/models/{quote(name, safe='')}", session.key)
        found = await upstream.centre(
            "GET", "/api/v1/components", session.key, params={"q": name, "page_size": 100}
        )
        entry = next((e for e in found["items"] if e["name"] == name), None)
        example = examples.example_inputs(name, meta["inputs"])
        body = examples.oip_body(meta["inputs"], {k: json.dumps(v) for k, v in example.items()})
        output = meta["outputs"][0]["name"] if meta["outputs"] else "OUTPUT"
        usage_params: dict[str, str] = {"month": _this_month(), "component": name}
        usage = await upstream.centre("GET", "/api/v1/usage", session.key, params=usage_params)
        # The full card, versions with aliases and lineage, serving policy: the registry API's view.
        detail = await upstream.centre("GET", f"/api/v1/components/{quote(name, safe='')}", session.key)
        payloads = None
        # Payload samples are the owner's own data: shown to its admins and developers only, as the API
        # allows, and asked for only where the serving policy samples them.
        sampling = (detail.get("serving") or {}).get("payload_sample_rate") or 0
        owned = detail["card"].get("owner") == session.tenant
        if owned and sampling > 0 and session.may("read payload samples"):
            path = f"/api/v1/components/{quote(name, safe='')}/payloads"
            payloads = await upstream.centre("GET", path, session.key, params={"limit": 20})
            for item in payloads["items"]:
                item["shown_inputs"] = _short_json(item["inputs"])
                item["shown_outputs"] = _short_json(item["outputs"])
        return {
            "payloads": payloads,
            "meta": meta,
            "entry": entry,
            "detail": detail,
            "example": {k: json.dumps(v) for k, v in example.items()},
            "snippets": examples.request_examples(upstream.centre_url, name, body, output),
            "usage": usage["lines"],
        }

    @app.get("/components/{name}")
    async def component(request: Request, name: str) -> Response:
        session = session_of(request)
        session.require("read catalogue")
        view = await component_view(session, name)
        return render(request, "component.html", name=name, answer=None, fields=view["example"], **view)

    @app.post("/components/{name}/try")
    async def try_it(request: Request, name: str, session: Session = form_session("infer")) -> Response:
        form = await request.form()
        view = await component_view(session, name)
        fields = {i["name"]: str(form.get(f"input:{i['name']}", "")) for i in view["meta"]["inputs"]}
        try:
            body = examples.oip_body(view["meta"]["inputs"], fields)
        except examples.BadInput as exc:
            raise Refused(400, str(exc)) from None
        started = time.perf_counter()
        response = await upstream.centre(
            "POST", f"/v2/models/{quote(name, safe='')}/infer", session.key, json=body
        )
        elapsed_ms = (time.perf_counter() - started) * 1000
        answer = {
            "outputs": examples.answer_view(response),
            "ms": elapsed_ms,
            "version": response.get("model_version"),
        }
        return render(request, "component.html", name=name, answer=answer, **{**view, "fields": fields})

    # --- compute: queues, jobs, pools ---------------------------------------------------------------

    async def active_jobs(session: Session) -> list[dict[str, Any]]:
        params = [("state", s) for s in ACTIVE_STATES] + [("limit", "1000")]
        found = await upstream.scheduler("GET", "/jobs", session.key, params=params)
        return list(found["items"])

    @app.get("/compute")
    async def compute(request: Request) -> Response:
        session = session_of(request)
        session.require("read queues")
        queues = (await upstream.scheduler("GET", "/queues", session.key))["items"]
        jobs = await active_jobs(session)
        depth: dict[str, dict[str, int]] = defaultdict(lambda: {"waiting": 0, "running": 0})
        for job in jobs:
            depth[job["queue"] or ""]["waiting" if job["state"] == "queued" else "running"] += 1
        names = [q["name"] for q in queues]
        chart = {
            "names": names,
            "series": {
                word("waiting", lang_of(request)): [depth[n]["waiting"] for n in names],
                word("running", lang_of(request)): [depth[n]["running"] for n in names],
            },
        }
        return render(request, "compute.html", queues=queues, depth=depth, chart=chart)

    @app.get("/pools")
    async def pools(request: Request) -> Response:
        session = session_of(request)
        session.require("manage pools")
        items = (await upstream.scheduler("GET", "/pools", session.key))["items"]
        shown = [_pool_view(p) for p in items]
        cities = {
            "names": list(SHANDONG_CITIES.values() if lang_of(request) == "zh" else SHANDONG_CITIES),
            "series": {
                kind: [sum(p["cpu_total"] for p in shown if p["city"] == city and p["kind"] == kind)
                       for city in SHANDONG_CITIES]
                for kind in sorted({p["kind"] for p in shown} or {"regional"})
            },
        }  # fmt: skip
        return render(request, "pools.html", pools=shown, cities=cities, kinds=_submittable(session))

    @app.post("/pools/{name}/{action}")
    async def pool_action(
        name: str, action: str, session: Session = form_session("manage pools")
    ) -> Response:
        if action not in ("cordon", "uncordon", "drain"):
            raise Refused(404, f"no pool action {action!r}; use cordon, uncordon or drain")
        await upstream.scheduler("POST", f"/pools/{quote(name, safe='')}/{action}", session.key)
        return RedirectResponse("/pools", 303)

    @app.get("/jobs")
    async def jobs(request: Request, state: str = "", offset: int = 0) -> Response:
        session = session_of(request)
        session.require("submit jobs")
        params: list[tuple[str, str]] = [("limit", "100"), ("offset", str(max(offset, 0)))]
        if state:
            if state not in JOB_STATES:
                raise Refused(400, f"unknown job state {state!r}; use one of {', '.join(JOB_STATES)}")
            params.append(("state", state))
        found = await upstream.scheduler("GET", "/jobs", session.key, params=params)
        return render(
            request, "jobs.html", found=found, state=state, states=JOB_STATES, kinds=_submittable(session)
        )

    @app.post("/jobs")
    async def submit(
        session: Session = form_session("submit jobs"),
        kind: str = Form(""),
        params: str = Form("{}"),
        entrypoint: str = Form(""),
        cpu: float = Form(1.0),
    ) -> Response:
        if kind not in _submittable(session):
            raise Refused(403 if kind == "entrypoint" else 400, f"job kind {kind!r} cannot be submitted here")
        spec: dict[str, Any] = {"bundles": [{"cpu": cpu}]}
        if kind == "entrypoint":
            spec["entrypoint"] = entrypoint
        else:
            try:
                spec.update(kind=kind, **{kind: json.loads(params or "{}")})
            except ValueError as exc:
                raise Refused(400, f"the parameters are not JSON: {exc}") from None
        job = await upstream.scheduler("POST", "/jobs", session.key, json=spec)
        return RedirectResponse(f"/jobs/{quote(job['id'])}", 303)

    @app.get("/jobs/{job_id:path}")
    async def job(request: Request, job_id: str) -> Response:
        session = session_of(request)
        session.require("submit jobs")
        path = f"/jobs/{quote(job_id)}"
        shown = await upstream.scheduler("GET", path, session.key)
        events = (await upstream.scheduler("GET", f"{path}/events", session.key))["items"]
        try:
            logs = (await upstream.scheduler("GET", f"{path}/logs", session.key, params={"tail": 200}))[
                "logs"
            ]
        except APIRefusal as exc:
            logs = exc.message  # no log yet (queued) or its pool does not answer: say so, show the rest
        return render(request, "job.html", job=shown, events=events, logs=logs)

    @app.post("/jobs/{job_id:path}/cancel")
    async def cancel(job_id: str, session: Session = form_session("submit jobs")) -> Response:
        await upstream.scheduler("POST", f"/jobs/{quote(job_id)}/cancel", session.key)
        return RedirectResponse(f"/jobs/{quote(job_id)}", 303)

    # --- usage --------------------------------------------------------------------------------------

    @app.get("/usage")
    async def usage(request: Request, month: str = "") -> Response:
        session = session_of(request)
        session.require("read usage")
        month = month or _this_month()
        params = {"month": month}
        lines = (await upstream.centre("GET", "/api/v1/usage", session.key, params=params))["lines"]
        days = (await upstream.centre("GET", "/api/v1/usage/daily", session.key, params=params))["days"]
        by_component: dict[str, int] = defaultdict(int)
        by_tenant: dict[str, int] = defaultdict(int)
        for line in lines:
            by_component[line["component"]] += line["calls"]
            by_tenant[line["tenant"]] += line["calls"]
        own = sum(line["calls"] for line in lines if line["tenant"] == session.tenant)
        province = None
        if session.may("read assessment"):  # operators and the provincial office: sums, no tenant named
            province = await upstream.centre(
                "GET", "/api/v1/usage/assessment", session.key, params={"period": month}
            )
        return render(
            request,
            "usage.html",
            month=month,
            lines=lines,
            by_component=dict(sorted(by_component.items())),
            by_tenant=dict(sorted(by_tenant.items())),
            daily=_daily_series(days),
            province=province,
            own_calls=own,
            quota=session.identity.get("monthly_quota"),
        )

    @app.get("/audit")
    async def audit(request: Request, target: str = "", action: str = "", limit: int = 100) -> Response:
        """Who changed tenants, keys and the registry (right `read audit log`): the API's newest entries,
        filtered by a target (tenant, key id, component) or an action or family ("component.")."""
        session = session_of(request)
        session.require("read audit log")
        target, action = target.strip(), action.strip()
        params: dict[str, Any] = {"limit": limit}
        for name, value in (("target", target), ("action", action)):
            if value:
                params[name] = value  # the API checks them and says what is wrong (400)
        entries = (await upstream.centre("GET", "/api/v1/audit", session.key, params=params))["items"]
        for entry in entries:
            entry["shown_detail"] = json.dumps(entry.get("detail") or {}, ensure_ascii=False, sort_keys=True)
        return render(request, "audit.html", entries=entries, target=target, action=action, limit=limit)

    @app.get("/usage.csv")
    async def usage_csv(request: Request, month: str = "") -> Response:
        session = session_of(request)
        session.require("read usage")
        month = month or _this_month()
        text = await upstream.centre_text(
            "/api/v1/usage", session.key, params={"month": month, "format": "csv"}
        )
        return Response(
            text,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="usage-{month}.csv"'},
        )

    # --- keys and tenants (admins) ------------------------------------------------------------------

    async def keys_page(request: Request, session: Session, issued: dict[str, Any] | None = None) -> Response:
        keys = (await upstream.centre("GET", "/api/v1/keys", session.key))["items"]
        tenants = None
        if session.may("manage tenants"):
            tenants = (await upstream.centre("GET", "/api/v1/tenants", session.key))["items"]
        roles = ("consumer", "developer", "ops", "admin")
        return render(
            request,
            "keys.html",
            keys=keys,
            issued=issued,
            roles=roles,
            tenants=tenants,
            kinds=("enterprise", "government", "operator"),
            industries=INDUSTRIES,
            cities=SHANDONG_CITIES,
        )

    @app.get("/keys")
    async def keys(request: Request) -> Response:
        session = session_of(request)
        session.require("manage keys")
        return await keys_page(request, session)

    @app.post("/keys")
    async def issue_key(
        request: Request,
        session: Session = form_session("manage keys"),
        role: str = Form("consumer"),
        label: str = Form(""),
        days: str = Form(""),
    ) -> Response:
        body: dict[str, Any] = {"role": role, "label": label}
        if days.strip():
            if not days.strip().isdigit():
                raise Refused(400, f"the lifetime must be a whole number of days, not {days!r}")
            body["days"] = int(days)
        issued = await upstream.centre("POST", "/api/v1/keys", session.key, json=body)
        # The secret is in this answer only (no redirect: it must not reach a URL or a later page).
        return await keys_page(request, session, issued)

    @app.post("/keys/{prefix}/revoke")
    async def revoke_key(prefix: str, session: Session = form_session("manage keys")) -> Response:
        await upstream.centre("POST", f"/api/v1/keys/{quote(prefix, safe='')}/revoke", session.key)
        return RedirectResponse("/keys", 303)

    @app.post("/tenants")
    async def create_tenant(
        session: Session = form_session("manage tenants"),
        name: str = Form(""),
        display: str = Form(""),
        kind: str = Form("enterprise"),
        industry: str = Form(""),
        city: str = Form(""),
    ) -> Response:
        """An operator's admin creates a tenant (and, through the API, its scheduler queue)."""
        body = {
            "name": name.strip(),
            "display": display.strip(),
            "kind": kind,
            "industries": [industry],
            "city": city,
        }
        await upstream.centre("POST", "/api/v1/tenants", session.key, json=body)
        return RedirectResponse("/keys#tenants", 303)

    @app.post("/tenants/{name}/limits")
    async def set_limits(
        name: str,
        session: Session = form_session("manage tenants"),
        monthly_quota: str = Form(""),
        rate_per_second: str = Form(""),
    ) -> Response:
        """An operator's admin sets a tenant's monthly quota and request rate (empty: the default)."""
        body: dict[str, Any] = {}
        for field, text, kind in (
            ("monthly_quota", monthly_quota, int),
            ("rate_per_second", rate_per_second, float),
        ):
            if text.strip():
                try:
                    body[field] = kind(text.strip())
                except ValueError:
                    raise Refused(400, f"{field} must be a number, not {text!r}") from None
        await upstream.centre("PUT", f"/api/v1/tenants/{quote(name, safe='')}/limits", session.key, json=body)
        return RedirectResponse("/keys#tenants", 303)

    app.state.words = WORDS
    return app


def _daily_series(days: list[dict[str, Any]]) -> dict[str, Any]:
    """Calls per day of each component, for a line chart: {names: days, series: {component: [calls]}}."""
    dates = sorted({d["day"] for d in days})
    at = {day: i for i, day in enumerate(dates)}
    series: dict[str, list[int]] = {}
    for d in days:
        values = series.setdefault(d["component"], [0] * len(dates))
        values[at[d["day"]]] += d["calls"]
    return {"names": dates, "series": dict(sorted(series.items()))}


def _local(target: str) -> str:
    """A redirect target inside the portal only (no open redirect to another site)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/catalogue"
    return target


def _short_json(value: Any, limit: int = 160) -> str:
    """A sample's tensors as compact JSON, cut at ``limit`` characters: a page row, not the whole payload
    (`brain components payloads NAME --json` gives it all)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _this_month() -> str:
    """The metering calendar's month (China Standard Time), as usage is counted: at 00:30 on the 1st in
    Jinan it is still the last day of the month in UTC."""
    return month_of(datetime.now(UTC))


def _submittable(session: Session) -> tuple[str, ...]:
    return (*JOB_KINDS, "entrypoint") if session.may("run own code") else JOB_KINDS


def _pool_view(pool: dict[str, Any]) -> dict[str, Any]:
    """A pool's use and capacity per resource: Ray's usage report (used, total), or its nodes' sum."""
    nodes = pool.get("nodes") or []
    from_nodes = {
        "CPU": sum(n.get("cpu_milli", 0) for n in nodes) / 1000,
        "GPU": float(sum(n.get("gpu_count", 0) for n in nodes)),
        "memory": float(sum(n.get("memory_mib", 0) for n in nodes)),
    }
    reported = pool.get("usage") or {}
    resources = []
    for name, total in from_nodes.items():
        used, reported_total = (reported.get(name) or (0.0, total))[:2]
        if reported_total or total:
            resources.append({"name": name, "used": float(used), "total": float(reported_total or total)})
    cpu = next((r["total"] for r in resources if r["name"] == "CPU"), 0.0)
    return {
        **pool,
        "resources": resources,
        "cpu_total": cpu,
        "city_zh": SHANDONG_CITIES.get(pool["city"], ""),
    }
