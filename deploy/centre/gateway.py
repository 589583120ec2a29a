"""The capability centre's HTTP face: the Open Inference Protocol (KServe V2) and a small REST API.

One FastAPI app, run as the single ingress deployment of the Ray Serve application (one hop:
HAProxy → this replica → ONNX Runtime in-process). Every error is ``{"error": "..."}`` with its
status; nothing unexpected leaks a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from deploy.centre import oip
from deploy.centre.errors import BadRequest, NotFound, NotReady, PayloadTooLarge, ServeError
from deploy.centre.inference import Centre, error_status
from deploy.metering import render_usage, usage_report
from deploy.tenancy import Principal
from model_hub import Query, Viewer
from model_hub.errors import HubError

log = logging.getLogger("brain.gateway")

T = TypeVar("T")

SERVER = {
    "name": "industry-brain",
    "version": "0.1.0",
    "extensions": ["binary_tensor_data", "model_repository"],
}

PLATFORMS = {"onnx": "onnxruntime_onnx", "torch": "pytorch_safetensors", "formula": "industry_brain_formula"}


def _key(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth and auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.headers.get("x-api-key")


_installed: Centre | None = None


def install(centre: Centre | None) -> None:
    """Make ``centre`` the one this process's gateway serves.

    Ray Serve runs an unpickled copy of the FastAPI app in each replica, so state set on the app
    object at import time would not reach it; a module-level slot in the replica's process does.
    """
    global _installed
    _installed = centre


def _current(request: Request) -> Centre | None:
    centre: Centre | None = getattr(request.app.state, "centre", None)
    return centre or _installed


def _centre(request: Request) -> Centre:
    centre = _current(request)
    if centre is None or not centre.ready:
        raise NotReady("the capability centre")
    return centre


def _error(exc: BaseException) -> JSONResponse:
    status = error_status(exc)
    if isinstance(exc, ServeError):
        return JSONResponse(exc.body(), status, headers=exc.headers())
    if isinstance(exc, HubError):
        return JSONResponse({"error": exc.message}, status)
    incident = uuid.uuid4().hex[:12]
    log.error("unexpected error (incident %s)", incident, exc_info=exc)
    return JSONResponse(
        {"error": f"internal error; the operator can find incident {incident} in the logs"}, 500
    )


def build_api() -> FastAPI:
    api = FastAPI(title="Industry Brain capability centre 能力中心", version="0.1.0", docs_url="/docs")

    @api.exception_handler(ServeError)
    async def _serve_error(request: Request, exc: ServeError) -> JSONResponse:
        return _error(exc)

    @api.exception_handler(HubError)
    async def _hub_error(request: Request, exc: HubError) -> JSONResponse:
        return _error(exc)

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
        return _error(exc)

    # --- health and server metadata --------------------------------------------------------------

    @api.get("/v2")
    async def server_metadata() -> dict[str, Any]:
        return SERVER

    @api.get("/v2/health/live")
    async def live() -> dict[str, bool]:
        return {"live": True}

    @api.get("/v2/health/ready")
    async def ready(request: Request) -> JSONResponse:
        centre = _current(request)
        ok = centre is not None and centre.ready
        return JSONResponse({"ready": ok}, 200 if ok else 503)

    @api.get("/metrics")
    async def metrics(request: Request) -> Response:
        centre = _centre(request)
        return Response(generate_latest(centre.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    # --- model metadata and readiness -------------------------------------------------------------

    @api.get("/v2/models/{name}")
    async def model_metadata(name: str, request: Request) -> dict[str, Any]:
        return _metadata(request, name, None)

    @api.get("/v2/models/{name}/versions/{version}")
    async def model_version_metadata(name: str, version: str, request: Request) -> dict[str, Any]:
        return _metadata(request, name, _version(version))

    @api.get("/v2/models/{name}/ready")
    async def model_ready(name: str, request: Request) -> JSONResponse:
        return _ready(request, name, None)

    @api.get("/v2/models/{name}/versions/{version}/ready")
    async def model_version_ready(name: str, version: str, request: Request) -> JSONResponse:
        return _ready(request, name, _version(version))

    # --- inference ------------------------------------------------------------------------------

    @api.post("/v2/models/{name}/infer")
    async def infer(name: str, request: Request) -> Response:
        return await _infer(request, name, None)

    @api.post("/v2/models/{name}/versions/{version}/infer")
    async def infer_version(name: str, version: str, request: Request) -> Response:
        return await _infer(request, name, _version(version))

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
        centre = _centre(request)
        principal = centre.authenticate(_key(request))
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
        centre = _centre(request)
        principal = centre.authenticate(_key(request))
        if tenant is None:
            tenant = None if principal.may("read usage") else principal.tenant.name
        elif tenant != principal.tenant.name:
            principal.require("read usage")
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


def _version(raw: str) -> int:
    if not raw.isdigit() or int(raw) < 1:
        raise BadRequest(f"model version {raw!r} must be a positive integer")
    return int(raw)


def _metadata(request: Request, name: str, version: int | None) -> dict[str, Any]:
    centre = _centre(request)
    principal = centre.authenticate(_key(request))
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
    centre = _centre(request)
    principal = centre.authenticate(_key(request))
    component = centre.component(name, principal)
    chosen = centre.pick_version(component, version)
    centre.runtime(name, chosen)  # loads it if needed: ready means it can answer now
    return JSONResponse({"name": name, "ready": True})


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(int(declared), limit)
    body = await request.body()
    if len(body) > limit:
        raise PayloadTooLarge(len(body), limit)
    return body


async def _infer(request: Request, name: str, version: int | None) -> Response:
    centre = _centre(request)
    body = await _body(request, centre.settings.max_body_bytes)
    encoded = infer_body(
        centre, _key(request), name, version, body, request.headers.get("inference-header-content-length")
    )
    return Response(encoded.body, 200, headers=encoded.headers())


def infer_body(
    centre: Centre, key: str | None, name: str, version: int | None, body: bytes, header_length: str | None
) -> oip.EncodedBody:
    """One OIP inference from raw bytes to raw bytes, the model called inline (no batching)."""
    call = InferCall(centre, key, name, version)
    call.decode(body, header_length)
    return call.finish(call.step(lambda: centre.predict(call.runtime, call.inputs)))


async def infer_async(
    centre: Centre, key: str | None, name: str, version: int | None, body: bytes, header_length: str | None
) -> oip.EncodedBody:
    """The same, on the event loop: the call joins its component's batch when its policy batches."""
    call = InferCall(centre, key, name, version)
    call.decode(body, header_length)
    batcher = centre.batcher(call.component, call.runtime)
    if batcher is None:
        return call.finish(call.step(lambda: centre.predict(call.runtime, call.inputs)))
    try:
        outputs = await batcher.predict(call.inputs, call.rows)
    except Exception as exc:
        call.failed(exc)
        raise
    return call.finish(outputs)


class InferCall:
    """One inference call through the whole hot path, shared by the inline and the batched OIP door
    and the rows API.

    Constructing it authenticates, admits (rate, quota), resolves the component and version and
    loads the model if needed; ``decode`` reads the OIP inputs (the rows API sets ``inputs`` itself
    through ``step``); ``finish`` encodes the OIP answer and ``succeeded`` meters any other. Every
    step that fails is metered as an error with the status it gets.
    """

    decoded: oip.InferenceRequest
    inputs: dict[str, np.ndarray]

    def __init__(self, centre: Centre, key: str | None, name: str, version: int | None) -> None:
        self.started = time.perf_counter()
        self.centre, self.name = centre, name
        self.principal = centre.authenticate(key)
        centre.admit(self.principal)
        self.chosen: int | str = version or "-"
        self.rows = 0
        try:
            self.component = centre.component(name, self.principal)
            self.chosen = centre.pick_version(self.component, version)
            self.runtime = centre.runtime(name, self.chosen)
        except Exception as exc:
            self.failed(exc)
            raise

    def decode(self, body: bytes, header_length: str | None) -> None:
        try:
            self.decoded = oip.decode_request(body, header_length, self.runtime.card.inputs)
            self.inputs = self.decoded.arrays()
            self.rows = _rows(self.inputs)
        except Exception as exc:
            self.failed(exc)
            raise

    def step(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except Exception as exc:
            self.failed(exc)
            raise

    async def step_async(self, pending: Awaitable[T]) -> T:
        try:
            return await pending
        except Exception as exc:
            self.failed(exc)
            raise

    def finish(self, outputs: dict[str, np.ndarray]) -> oip.EncodedBody:
        encoded = self.step(
            lambda: oip.encode_response(
                self.decoded,
                outputs,
                model_name=self.name,
                model_version=str(self.chosen),
                output_specs=self.runtime.card.outputs,
            )
        )
        self.succeeded()
        return encoded

    def succeeded(self) -> None:
        _record(self.centre, self.principal, self.name, self.chosen, self.started, self.rows, 200)

    def failed(self, exc: BaseException) -> None:
        _record(
            self.centre, self.principal, self.name, self.chosen, self.started, self.rows, error_status(exc)
        )


INFER_PATH = re.compile(r"/v2/models/([^/]+)(?:/versions/([^/]+))?/infer")


def build_app() -> InferFastPath:
    """The ASGI app a replica serves: the inference fast path in front of the FastAPI app."""
    return InferFastPath(build_api())


class InferFastPath:
    """Pure ASGI app that answers ``POST …/infer`` itself and hands everything else to FastAPI.

    The inference call is the platform's hot path; FastAPI's middleware stack, router, request
    objects and response classes cost as much as the rest of the request together (measured: 16 µs
    of 48 µs in-process), so the fast path sits in front of the FastAPI app, not inside it.
    Everything else (and the OpenAPI description of /infer) stays with FastAPI.

    A request whose component route or model is not in memory yet runs in a worker thread: a cold
    load reads MLflow and opens an ONNX session (10-50 ms), and the event loop must keep answering
    the warm requests meanwhile.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(_absolute(scope), receive, send)
        match = INFER_PATH.fullmatch(scope["path"])
        if match is None:
            return await self.app(_absolute(scope), receive, send)
        status, headers, payload = 200, [], b""
        try:
            app = scope.get("app")
            centre = getattr(app.state, "centre", None) if app is not None else None
            centre = centre or _installed
            if centre is None or not centre.ready:
                raise NotReady("the capability centre")
            name, raw_version = match.group(1), match.group(2)
            version = _version(raw_version) if raw_version is not None else None
            key, header_length, declared = None, None, None
            for k, v in scope["headers"]:
                if k == b"authorization":
                    text = v.decode("latin-1")
                    key = text[7:].strip() if text[:7].lower() == "bearer " else key
                elif k == b"x-api-key" and key is None:
                    key = v.decode("latin-1")
                elif k == b"inference-header-content-length":
                    header_length = v.decode("latin-1")
                elif k == b"content-length":
                    declared = int(v) if v.isdigit() else None
            limit = centre.settings.max_body_bytes
            if declared is not None and declared > limit:
                raise PayloadTooLarge(declared, limit)
            chunks, size = [], 0
            while True:
                message = await receive()
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(size, limit)
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
            body = b"".join(chunks)
            centre.metrics.in_flight.inc()
            try:
                if centre.is_warm(name, version):
                    encoded = await infer_async(centre, key, name, version, body, header_length)
                else:
                    encoded = await asyncio.get_running_loop().run_in_executor(
                        centre.cold_pool, infer_body, centre, key, name, version, body, header_length
                    )
            finally:
                centre.metrics.in_flight.dec()
            payload = encoded.body
            headers = [(k.lower().encode(), v.encode()) for k, v in encoded.headers().items()]
        except Exception as exc:
            error = _error(exc)
            status, payload = error.status_code, bytes(error.body)
            headers = [
                (k.encode(), v.encode()) for k, v in error.headers.items() if k.lower() != "content-length"
            ]
        headers.append((b"content-length", str(len(payload)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


def _absolute(scope: dict[str, Any]) -> dict[str, Any]:
    """The scope with no root path: routes are absolute, whatever prefix the app is mounted at.

    A dedicated component's application is mounted at ``/v2/models/NAME`` (Serve routes by prefix)
    and Serve hands it that prefix as the root path, which FastAPI would strip before routing.
    """
    if scope.get("root_path"):
        scope = {**scope, "root_path": ""}
    return scope


async def _predict_rows(request: Request, name: str) -> Response:
    """``{"rows": [...]}`` for people who do not speak OIP: one row per item, in the card's input order."""
    centre = _centre(request)
    call = InferCall(centre, _key(request), name, None)
    body = await call.step_async(_body(request, centre.settings.max_body_bytes))
    rows = call.step(lambda: _rows_of(body))
    call.inputs = call.step(lambda: _rows_to_inputs(rows, call.runtime.card))
    call.rows = len(rows)
    outputs = call.step(lambda: centre.predict(call.runtime, call.inputs))
    result = {k: np.asarray(v).tolist() for k, v in outputs.items()}
    call.succeeded()
    return JSONResponse({"component": name, "version": call.chosen, "outputs": _by_row(result, len(rows))})


def _rows_of(body: bytes) -> list[Any]:
    import json

    try:
        doc = json.loads(body or b"null")
    except json.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc.msg} at position {exc.pos}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("rows"), list) or not doc["rows"]:
        raise BadRequest('send {"rows": [row, ...]} with at least one row')
    rows: list[Any] = doc["rows"]
    return rows


def _rows_to_inputs(rows: list[Any], card: Any) -> dict[str, np.ndarray]:
    from model_hub.convert import NUMPY_DTYPES

    specs = card.inputs
    if len(specs) == 1 and not all(isinstance(r, dict) for r in rows):
        by_input = {specs[0].name: rows}
    else:
        if not all(isinstance(r, dict) for r in rows):
            raise BadRequest(
                f"this component has inputs {[s.name for s in specs]}: send each row as an object"
            )
        by_input = {}
        for spec in specs:
            missing = [i for i, r in enumerate(rows) if spec.name not in r]
            if missing:
                raise BadRequest(f"row {missing[0]} has no value for input {spec.name!r}")
            by_input[spec.name] = [r[spec.name] for r in rows]
    arrays: dict[str, np.ndarray] = {}
    for spec in specs:
        try:
            array = np.asarray(by_input[spec.name], dtype=NUMPY_DTYPES[spec.datatype])
        except (ValueError, TypeError) as exc:
            raise BadRequest(f"input {spec.name!r} cannot be read as {spec.datatype}: {exc}") from None
        if not oip.shape_matches(list(array.shape), spec.shape):
            raise BadRequest(
                f"rows of input {spec.name!r} have shape {list(array.shape)}, the card says {spec.shape}"
            )
        if array.dtype.kind == "f" and not spec.allow_non_finite and not np.isfinite(array).all():
            raise BadRequest(
                f"input {spec.name!r} contains NaN or infinity, which this component does not accept"
            )
        arrays[spec.name] = array
    return arrays


def _by_row(outputs: dict[str, list[Any]], rows: int) -> list[dict[str, Any]]:
    return [
        {k: v[i] if isinstance(v, list) and len(v) == rows else v for k, v in outputs.items()}
        for i in range(rows)
    ]


def _rows(inputs: dict[str, np.ndarray]) -> int:
    first = next(iter(inputs.values()), None)
    return int(first.shape[0]) if first is not None and first.ndim > 0 else 1


def _record(
    centre: Centre,
    principal: Principal,
    name: str,
    version: int | str,
    started: float,
    rows: int,
    status: int,
) -> None:
    try:
        centre.record(principal, name, version, started, rows, status)
    except Exception:  # metering must never turn an answer into an error
        log.exception("metering failed")


__all__ = ["NotFound", "build_api", "build_app", "install"]
