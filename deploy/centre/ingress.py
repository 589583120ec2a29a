"""What the replicas' HTTP servers do before Serve sees a request.

Serve watches every HTTP request for a client disconnect, to cancel its user code: a second task
per request reading the connection, and an ``asyncio.wait`` over both (``Replica._direct_ingress_asgi``).
An inference call is over in a millisecond or two, so there is nothing worth cancelling, and the
watch costs more than the call itself takes in the centre. Serve skips it for requests carrying
``x-request-disconnect-disabled: ?1``; this middleware adds that header to inference calls.

Serve applies it through ``RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH`` (``INGRESS_ENV``), to the
HTTP server in each replica behind HAProxy.

It also gives an inference call without an ``X-Request-ID`` one made from a per-process prefix and
a counter: Serve's own middleware would draw a UUID4 (a system call for random bytes) and Serve
draws a second one for its internal id anyway; the id only has to be unique, not unguessable.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

from starlette.middleware import Middleware

DISCONNECT_DISABLED = (b"x-request-disconnect-disabled", b"?1")
REQUEST_ID = b"x-request-id"

#: The env that installs :func:`middlewares` in Serve (the runner, the chart and the k8s manifests).
INGRESS_ENV = {"RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH": "deploy.centre.ingress:middlewares"}


class ShortCalls:
    """Pure ASGI middleware: inference calls are not watched for disconnects (see the module)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._prefix = os.urandom(6).hex() + "-"
        self._counter = itertools.count(1)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/infer"):
            # uvicorn gives a fresh list per request; appending is what MutableHeaders would do.
            headers: list[tuple[bytes, bytes]] = scope["headers"]
            if not any(k == REQUEST_ID for k, _ in headers):
                headers.append((REQUEST_ID, f"{self._prefix}{next(self._counter)}".encode()))
            headers.append(DISCONNECT_DISABLED)
        await self.app(scope, receive, send)


def middlewares() -> list[Middleware]:
    """Serve's HTTP callback: the middlewares of every Serve HTTP server in the cluster."""
    return [Middleware(ShortCalls)]
