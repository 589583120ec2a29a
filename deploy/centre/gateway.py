"""The capability centre's HTTP face: the Open Inference Protocol (KServe V2) and a small REST API.

`build_api` is the FastAPI app (metadata, readiness, metrics, inference, catalogue, usage, the
registry API of `registry_routes`, and the OpenAPI description of them all); `build_app` puts the
inference fast path (`fast_path`) in front of it, which is what a replica serves. The inference
call itself is `calls.InferCall`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from deploy.centre import tenancy_routes
from deploy.centre.calls import (
    address_of,
    centre_of,
    current_centre,
    error_response,
    infer_body,
    install,
    key_of,
    read_body,
    version_of,
)
from deploy.centre.errors import BadRequest, ServeError
from deploy.centre.fast_path import InferFastPath
from deploy.centre.inference import Centre, require_operator
from deploy.centre.owner_cities import owner_cities
from deploy.centre.registry_routes import REGISTRY_STATUSES
from deploy.centre.registry_routes import router as registry_router
from deploy.centre.rows import predict_rows as _predict_rows
from deploy.metering import render_usage, usage_report
from deploy.tenancy import Principal
from model_hub import Query as CatalogueQuery
from model_hub import Viewer
from model_hub.errors import HubError
from scheduler.model import SHANDONG_CITIES, city_id

SERVER = {
    "name": "industry-brain",
    "version": "0.1.0",
    "extensions": ["binary_tensor_data", "model_repository"],
}

#: Bounds of the catalogue's paging (400 beyond them).
MAX_PAGE, MAX_PAGE_SIZE = 100_000, 100

PLATFORMS = {
    "onnx": "onnxruntime_onnx",
    "torch": "pytorch_safetensors",
    "formula": "industry_brain_formula",
    "pipeline": "industry_brain_pipeline",
}


def build_app() -> InferFastPath:
    """The ASGI app a replica serves: the inference fast path in front of the FastAPI app."""
    return InferFastPath(build_api())


def build_api() -> FastAPI:
    api = FastAPI(title="Industry Brain capability centre 能力中心", version="0.1.0", docs_url="/docs")

    @api.exception_handler(ServeError)
    async def _serveerror_response(request: Request, exc: ServeError) -> JSONResponse:
        return error_response(exc)

    @api.exception_handler(HubError)
    async def _huberror_response(request: Request, exc: HubError) -> JSONResponse:
        return error_response(exc)

    @api.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return JSONResponse({"error": f"invalid request: {where}: {first.get('msg', 'invalid')}"}, 400)

    @api.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = "no such endpoint; see /docs" if exc.status_code == 404 else str(exc.detail)
        return JSONResponse({"error": message}, exc.status_code)

    @api.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return error_response(exc)

    # --- health and server metadata --------------------------------------------------------------

    @api.get("/v2")
    async def server_metadata() -> dict[str, Any]:
        return SERVER

    @api.get("/v2/health/live")
    async def live() -> dict[str, bool]:
        return {"live": True}

    @api.get("/v2/health/ready")
    async def ready(request: Request) -> JSONResponse:
        centre = current_centre(request)
        ok = centre is not None and centre.ready
        return JSONResponse({"ready": ok}, 200 if ok else 503)

    @api.get("/metrics")
    async def metrics(request: Request) -> Response:
        centre = centre_of(request)
        # Labels name every tenant and component: for the platform's operators only (docs/security.md).
        require_operator(
            centre.authenticate(key_of(request), address_of(request)), "read the centre's metrics"
        )
        return Response(generate_latest(centre.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    # --- model metadata and readiness -------------------------------------------------------------

    @api.get("/v2/models/{name}")
    async def model_metadata(name: str, request: Request) -> dict[str, Any]:
        return await _off_loop(request, name, None, describe_model)

    @api.get("/v2/models/{name}/versions/{version}")
    async def model_version_metadata(name: str, version: str, request: Request) -> dict[str, Any]:
        return await _off_loop(request, name, version_of(version), describe_model)

    @api.get("/v2/models/{name}/ready")
    async def model_ready(name: str, request: Request) -> JSONResponse:
        return await _off_loop(request, name, None, _ready)

    @api.get("/v2/models/{name}/versions/{version}/ready")
    async def model_version_ready(name: str, version: str, request: Request) -> JSONResponse:
        return await _off_loop(request, name, version_of(version), _ready)

    # --- inference ------------------------------------------------------------------------------

    @api.post("/v2/models/{name}/infer")
    async def infer(name: str, request: Request) -> Response:
        return await _infer(request, name, None)

    @api.post("/v2/models/{name}/versions/{version}/infer")
    async def inferversion_of(name: str, version: str, request: Request) -> Response:
        return await _infer(request, name, version_of(version))

    @api.post("/api/v1/components/{name}:predict")
    async def predict_rows(name: str, request: Request) -> Response:
        return await _predict_rows(request, name)

    # --- catalogue and usage --------------------------------------------------------------------

    @api.get("/api/v1/components")
    async def catalogue(
        request: Request,
        # Query() is needed: FastAPI reads a bare list parameter from the body, so these filters were
        # silently ignored on GET.
        kind: list[str] | None = Query(None),
        industry: list[str] | None = Query(None),
        q: str | None = Query(None, max_length=200),
        owner: str | None = Query(None, max_length=64),
        city: str | None = Query(None, max_length=32),
        # Bounded here: a page number past 64 bits reached SQLite and answered 500 (found by schemathesis).
        page: int = Query(1, ge=1, le=MAX_PAGE),
        page_size: int = Query(20, ge=1, le=MAX_PAGE_SIZE),
    ) -> dict[str, Any]:
        centre = centre_of(request)
        principal = centre.authenticate(key_of(request), address_of(request))
        principal.require("read catalogue")
        viewer = Viewer(tenant=principal.tenant.name, industries=frozenset(principal.tenant.industries))
        code = None
        if city is not None and city.strip():
            code = city_id(city)
            if code is None:
                raise BadRequest(
                    f"invalid catalogue query: unknown city {city!r}; use one of Shandong's 16, by pinyin "
                    f"or Chinese name: {', '.join(SHANDONG_CITIES)}"
                )
        cities = owner_cities(centre.tenants)
        if cities.stale:  # a read of the tenancy database: off the event loop
            by_owner = await asyncio.get_running_loop().run_in_executor(centre.cold_pool, cities.current)
        else:
            by_owner = cities.current()
        owners = sorted(name for name, at in by_owner.items() if at == code) if code else []
        if code and not owners:  # no tenant in that city: nothing can match (an empty list filters nothing)
            return {"total": 0, "page": page, "items": []}
        try:
            query = CatalogueQuery(
                kinds=kind or [],  # type: ignore[arg-type]
                industries=industry or [],
                text=q,
                owner=owner,
                owners=owners,
                page=page,
                page_size=page_size,
            )
            result = centre.registry.search(query, viewer)
        except ValueError as exc:
            raise BadRequest(f"invalid catalogue query: {exc}") from None
        # The owner's city is the one fact of a tenant an entry carries: a component's city.
        items = [{**e.as_dict(), "city": by_owner.get(e.owner)} for e in result.items]
        return {"total": result.total, "page": result.page, "items": items}

    @api.get("/api/v1/components/{name}/drift")
    async def drift(name: str, request: Request) -> dict[str, Any]:
        centre = centre_of(request)
        key, address = key_of(request), address_of(request)

        def report() -> dict[str, Any]:
            principal = centre.authenticate(key, address)
            if principal.may("read drift of other tenants"):  # a platform operator: any component
                return centre.drift_report(centre.any_component(name))
            component = centre.component(name, principal)  # 404 for what the caller may not see
            if component.card.owner != principal.tenant.name:  # visible, e.g. public, but not its own
                principal.require("read drift of other tenants")
            principal.require("read drift")
            return centre.drift_report(component)

        # A name never seen is looked up in MLflow, and a key may need the database: off the event loop.
        return await asyncio.get_running_loop().run_in_executor(centre.cold_pool, report)

    @api.get("/api/v1/usage")
    async def usage(
        request: Request,
        month: str,
        tenant: str | None = None,
        component: str | None = None,
        format: str = "json",
    ) -> Response:
        centre = centre_of(request)
        principal = centre.authenticate(key_of(request))
        principal.require("read usage")
        if tenant is None:
            # every tenant's lines for a platform operator, its own tenant's for anyone else
            tenant = None if principal.may("read usage of other tenants") else principal.tenant.name
        elif tenant != principal.tenant.name:
            principal.require("read usage of other tenants")
        try:
            lines = usage_report(centre.tenants.engine, month, tenant=tenant, component=component)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        if format == "csv":
            return Response(render_usage(lines, "csv"), media_type="text/csv")
        if format != "json":
            raise BadRequest("format must be json or csv")
        return JSONResponse({"month": month, "lines": [line.as_dict() for line in lines]})

    tenancy_routes.include(api)
    # --- the registry API (register, version, release, deprecate, canary, serving, export) ---------

    # Its routes themselves (not include_router, which FastAPI mounts as one lazy entry), so that
    # _document_statuses sees each of them.
    api.router.routes.extend(registry_router.routes)

    _document_statuses(api)
    return api


#: What each status means, as the OpenAPI document says it; every answer but 200 is {"error": message}.
STATUS_MEANINGS = {
    400: "The request is malformed, or over a cap (tensor elements, BYTES elements, rows); the message says",
    401: "No API key, or one that is unknown, revoked or expired",
    403: "The key's role or tenant may not do this (another tenant's component: its owner or an operator)",
    404: "No such component or version visible to this key, or a name no component can have",
    409: "The stored artifact does not match its recorded hash, or the version does not carry the platform's "
    "signature of that hash and its number; or (registry) the name is taken",
    410: "The component is deprecated and no longer served; the message names its replacement, if any",
    413: "The body is over its limit (BRAIN_MAX_BODY_BYTES; an upload: BRAIN_MAX_MODEL_BYTES), or the model "
    "over the resident size limit",
    422: "The stored version cannot be served, or an upload is refused (card, safety checks, a pickle)",
    429: "Over the tenant's rate or monthly quota, or too many failed authentications from this address",
    503: "The centre, or the component (no active version), is not ready; retry after Retry-After",
}

_AUTHENTICATED = (401, 403, 429, 503)
_LOADS = (400, 404, 409, 410, 413, 422, *_AUTHENTICATED)

#: The statuses each route answers besides 200 (tests/security checks the document against the server).
ROUTE_STATUSES: dict[str, tuple[int, ...]] = {
    "/v2": (),
    "/v2/health/live": (),
    "/v2/health/ready": (503,),
    "/metrics": _AUTHENTICATED,
    "/v2/models/{name}": (404, 410, *_AUTHENTICATED),
    "/v2/models/{name}/versions/{version}": _LOADS,
    "/v2/models/{name}/ready": _LOADS,
    "/v2/models/{name}/versions/{version}/ready": _LOADS,
    "/v2/models/{name}/infer": _LOADS,
    "/v2/models/{name}/versions/{version}/infer": _LOADS,
    "/api/v1/components/{name}:predict": _LOADS,
    "/api/v1/components": (400, *_AUTHENTICATED),
    "/api/v1/components/{name}/drift": (404, *_AUTHENTICATED),
    "/api/v1/usage": (400, *_AUTHENTICATED),
    **tenancy_routes.STATUSES,
}


def _document_statuses(api: FastAPI) -> None:
    """Put every status a route answers into its OpenAPI responses, from ROUTE_STATUSES.

    FastAPI documents its own 422 ("Validation Error") for routes with parameters; this centre answers
    validation errors with 400, so that entry is removed.
    """
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for route in api.routes:
        if not isinstance(route, APIRoute):
            continue
        method = next(iter(route.methods or {"GET"}))
        found = REGISTRY_STATUSES.get((method, route.path), ROUTE_STATUSES.get(route.path))
        if found is None:
            continue
        statuses = found
        for status in statuses:
            route.responses[status] = {"description": STATUS_MEANINGS[status], "content": error}
    original = api.openapi

    def openapi() -> dict[str, Any]:
        doc = original()
        doc.setdefault("components", {}).setdefault("schemas", {})["Error"] = {
            "type": "object",
            "properties": {"error": {"type": "string", "description": "What was wrong and what to do"}},
            "required": ["error"],
        }
        for path in doc.get("paths", {}).values():
            for operation in path.values():
                responses = operation.get("responses", {})
                if responses.get("422", {}).get("description") == "Validation Error":
                    responses.pop("422")
        return doc

    api.openapi = openapi  # type: ignore[method-assign]


T = TypeVar("T")


async def _off_loop(
    request: Request,
    name: str,
    version: int | None,
    answer: Callable[[Centre, Principal, str, int | None], T],
) -> T:
    """Admit a metadata or readiness request like a call (rate, quota), and answer it in the cold pool
    unless its component and model are in memory: a load reads MLflow and opens a session, which must
    not stop the event loop (as for /infer in the fast path)."""
    centre = centre_of(request)
    key, address = key_of(request), address_of(request)
    if centre.is_warm(name, version) and centre.knows_key(key):
        return answer(centre, centre.authenticate(key, address), name, version)

    def run() -> T:
        return answer(centre, centre.authenticate(key, address), name, version)

    return await asyncio.get_running_loop().run_in_executor(centre.cold_pool, run)


def describe_model(centre: Centre, principal: Principal, name: str, version: int | None) -> dict[str, Any]:
    """The OIP model metadata of a component (or one version) this caller may use: every door's."""
    centre.admit(principal, "read catalogue")
    component = centre.component(name, principal)
    chosen = centre.pick_version(component, version) if version is not None else None
    card = centre.runtime(name, chosen).card if chosen is not None else component.card
    described = chosen if chosen is not None else component.route.default if component.route else None
    record = component.versions.get(described) if described is not None else None
    fmt = record.format if record is not None else "onnx"
    return {
        "name": name,
        "versions": [str(v) for v in sorted(component.active)],
        "platform": PLATFORMS.get(fmt, fmt),
        "inputs": [{"name": s.name, "datatype": s.datatype, "shape": s.shape} for s in card.inputs],
        "outputs": [{"name": s.name, "datatype": s.datatype, "shape": s.shape} for s in card.outputs],
    }


def check_model_ready(centre: Centre, principal: Principal, name: str, version: int | None) -> None:
    """Admit a readiness question and load the version if needed: ready means it can answer now.
    Raises what a call would (unknown, not visible, no active version)."""
    centre.admit(principal, "read catalogue")
    component = centre.component(name, principal)
    chosen = centre.pick_version(component, version)
    centre.runtime(name, chosen)


def _ready(centre: Centre, principal: Principal, name: str, version: int | None) -> JSONResponse:
    check_model_ready(centre, principal, name, version)
    return JSONResponse({"name": name, "ready": True})


async def _infer(request: Request, name: str, version: int | None) -> Response:
    centre = centre_of(request)
    body = await read_body(request, centre.settings.max_body_bytes)
    encoded = infer_body(
        centre,
        key_of(request),
        name,
        version,
        body,
        request.headers.get("inference-header-content-length"),
        address_of(request),
    )
    return Response(encoded.body, 200, headers=encoded.headers())


__all__ = ["SERVER", "build_api", "build_app", "check_model_ready", "describe_model", "install"]
