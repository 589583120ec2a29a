"""The inference fast path: a pure ASGI app that answers ``POST …/infer`` before FastAPI sees it."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from deploy.centre import calls
from deploy.centre.calls import error_response, infer_async, infer_body, version_of
from deploy.centre.errors import NotReady, PayloadTooLarge
from deploy.centre.keycheck import client_address
from scheduler.credentials import api_key

INFER_PATH = re.compile(r"/v2/models/([^/]+)(?:/versions/([^/]+))?/infer")


class InferFastPath:
    """Pure ASGI app that answers ``POST …/infer`` itself and hands everything else to FastAPI.

    The inference call is the platform's hot path; FastAPI's middleware stack, router, request
    objects and response classes cost as much as the rest of the request together (measured: 16 µs
    of 48 µs in-process), so the fast path sits in front of the FastAPI app, not inside it.
    Everything else (and the OpenAPI description of /infer) stays with FastAPI.

    A request whose component route or model is not in memory yet, or whose key was not verified
    lately, runs in a worker thread: a cold load reads MLflow and opens an ONNX session (10-50 ms), a
    key check may query the database, and the event loop must keep answering the warm requests
    meanwhile.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        match = INFER_PATH.fullmatch(scope["path"]) if scope["type"] == "http" else None
        if match is None or scope["method"] != "POST":
            await self.app(_absolute(scope), receive, send)
            return
        status, headers, payload = 200, [], b""
        try:
            app = scope.get("app")
            centre = getattr(app.state, "centre", None) if app is not None else None
            centre = centre or calls.installed()
            if centre is None or not centre.ready:
                raise NotReady("the capability centre")
            name, raw_version = match.group(1), match.group(2)
            version = version_of(raw_version) if raw_version is not None else None
            authorization, x_api_key, header_length, declared, forwarded = None, None, None, None, None
            for k, v in scope["headers"]:
                if k == b"authorization":
                    authorization = v.decode("latin-1")
                elif k == b"x-api-key":
                    x_api_key = v.decode("latin-1")
                elif k == b"inference-header-content-length":
                    header_length = v.decode("latin-1")
                elif k == b"content-length":
                    declared = int(v) if v.isdigit() else None
                elif k == b"x-forwarded-for":
                    forwarded = v.decode("latin-1")
            key = api_key(authorization, x_api_key)
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
                # A key not verified lately may need the database: off the event loop, like a cold load.
                if centre.is_warm(name, version) and centre.knows_key(key):
                    # A verified key needs no address: only failed authentications are counted by it.
                    encoded = await infer_async(centre, key, name, version, body, header_length)
                else:
                    client = scope.get("client")
                    address = client_address(client[0] if client else None, forwarded)
                    encoded = await asyncio.get_running_loop().run_in_executor(
                        centre.cold_pool,
                        infer_body,
                        centre,
                        key,
                        name,
                        version,
                        body,
                        header_length,
                        address,
                    )
            finally:
                centre.metrics.in_flight.dec()
            payload = encoded.body
            headers = [(k.lower().encode(), v.encode()) for k, v in encoded.headers().items()]
        except Exception as exc:
            error = error_response(exc)
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
