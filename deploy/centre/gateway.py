"""The capability centre's HTTP face: the Open Inference Protocol (KServe V2) and a small REST API.

`build_api` is the FastAPI app (metadata, readiness, metrics, inference, catalogue, usage, and the
OpenAPI description of them all); `build_app` puts the inference fast path (`fast_path`) in front of
it, which is what a replica serves. The inference call itself is `calls.InferCall`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from deploy.centre.calls import (
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
from deploy.centre.rows import predict_rows as _predict_rows
from deploy.metering import render_usage, usage_report
from model_hub import Query, Viewer
from model_hub.errors import HubError

SERVER = {
    "name": "industry-brain",
    "version": "0.1.0",
    "extensions": ["binary_tensor_data", "model_repository"],
}

PLATFORMS = {"onnx": "onnxruntime_onnx", "torch": "pytorch_safetensors", "formula": "industry_brain_formula"}


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
        return Response(generate_latest(centre.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    # --- model metadata and readiness -------------------------------------------------------------

    @api.get("/v2/models/{name}")
    async def model_metadata(name: str, request: Request) -> dict[str, Any]:
        return _metadata(request, name, None)

    @api.get("/v2/models/{name}/versions/{version}")
    async def model_version_metadata(name: str, version: str, request: Request) -> dict[str, Any]:
        return _metadata(request, name, version_of(version))

    @api.get("/v2/models/{name}/ready")
    async def model_ready(name: str, request: Request) -> JSONResponse:
        return _ready(request, name, None)

    @api.get("/v2/models/{name}/versions/{version}/ready")
    async def model_version_ready(name: str, version: str, request: Request) -> JSONResponse:
        return _ready(request, name, version_of(version))

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
        kind: list[str] | None = None,
        industry: list[str] | None = None,
        q: str | None = None,
        page: int = 1,
        page_size: int = 20,
    ) -> dict[str, Any]:
        centre = centre_of(request)
        principal = centre.authenticate(key_of(request))
        principal.require("read catalogue")
        viewer = Viewer(tenant=principal.tenant.name, industries=frozenset(principal.tenant.industries))
        try:
            query = Query(kinds=kind or [], industries=industry or [], text=q, page=page, page_size=page_size)  # type: ignore[arg-type]
            result = centre.registry.search(query, viewer)
        except ValueError as exc:
            raise BadRequest(f"invalid catalogue query: {exc}") from None
        return {"total": result.total, "page": result.page, "items": [e.as_dict() for e in result.items]}

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

    return api


def _metadata(request: Request, name: str, version: int | None) -> dict[str, Any]:
    centre = centre_of(request)
    principal = centre.authenticate(key_of(request))
    principal.require("read catalogue")
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


def _ready(request: Request, name: str, version: int | None) -> JSONResponse:
    centre = centre_of(request)
    principal = centre.authenticate(key_of(request))
    component = centre.component(name, principal)
    chosen = centre.pick_version(component, version)
    centre.runtime(name, chosen)  # loads it if needed: ready means it can answer now
    return JSONResponse({"name": name, "ready": True})


async def _infer(request: Request, name: str, version: int | None) -> Response:
    centre = centre_of(request)
    body = await read_body(request, centre.settings.max_body_bytes)
    encoded = infer_body(
        centre, key_of(request), name, version, body, request.headers.get("inference-header-content-length")
    )
    return Response(encoded.body, 200, headers=encoded.headers())


__all__ = ["build_api", "build_app", "install"]
