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

#: Set to "1" by the embedded platform (one Ray node on 127.0.0.1): see :func:`loopback_internal_grpc`.
LOOPBACK_ENV = "BRAIN_SERVE_LOOPBACK"


def _on_loopback(address: str) -> str:
    return "127.0.0.1:" + address.removeprefix("[::]:") if address.startswith("[::]:") else address


def loopback_internal_grpc() -> bool:
    """Bind this replica's gRPC servers to 127.0.0.1 instead of ``[::]``.

    Ray Serve 2.60 binds two gRPC servers of a replica to every interface, with no setting: the
    inter-deployment one (``Replica._on_initialized`` passes ``"[::]:0"`` to ``add_port_to_grpc_server``)
    and, with gRPC ingress on, the replica's own OIP gRPC server that HAProxy's gRPC frontend forwards to
    (``grpc_util.start_grpc_server`` passes ``"[::]:PORT"`` to ``default_impl.add_grpc_address``). Serve
    builds the user callable (this replica's constructor) before it starts either, so replacing the two
    helpers changes the addresses they bind. Callers (HAProxy, other replicas) reach these servers at the
    node's IP, which is 127.0.0.1 on the embedded platform; on a multi-node cluster they must stay on every
    interface, so only the embedded runner turns this on. Returns whether both helpers could be replaced: a
    Ray without them is left as it is (``brain doctor`` then reports the listeners).
    """
    try:
        from ray.serve._private import default_impl, replica
    except ImportError:
        return False
    bind = getattr(replica, "add_port_to_grpc_server", None)
    add = getattr(default_impl, "add_grpc_address", None)
    if bind is None or add is None:
        return False
    if not getattr(bind, "brain_loopback", False):

        def bind_on_loopback(server: Any, address: str) -> int:
            return int(bind(server, _on_loopback(address)))

        bind_on_loopback.brain_loopback = True  # type: ignore[attr-defined]
        replica.add_port_to_grpc_server = bind_on_loopback
    if not getattr(add, "brain_loopback", False):

        def add_on_loopback(server: Any, address: str) -> None:
            add(server, _on_loopback(address))

        add_on_loopback.brain_loopback = True  # type: ignore[attr-defined]
        default_impl.add_grpc_address = add_on_loopback  # type: ignore[assignment]
    return True


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
