"""The replicas' HTTP middleware: inference calls skip Serve's disconnect watch and get a cheap id."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.middleware import Middleware

from deploy.centre.ingress import INGRESS_ENV, ShortCalls, middlewares


def _call(path: str, headers: list[tuple[bytes, bytes]], method: str = "POST") -> list[tuple[bytes, bytes]]:
    seen: dict[str, Any] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen["headers"] = list(scope["headers"])

    scope = {"type": "http", "method": method, "path": path, "headers": list(headers)}
    asyncio.run(ShortCalls(app)(scope, None, None))
    return seen["headers"]


def test_inference_calls_are_not_watched_for_disconnects_and_get_an_id() -> None:
    first = dict(_call("/v2/models/mlp/infer", [(b"host", b"x")]))
    second = dict(_call("/v2/models/mlp/versions/2/infer", []))
    assert first[b"x-request-disconnect-disabled"] == b"?1"
    assert second[b"x-request-disconnect-disabled"] == b"?1"
    assert first[b"x-request-id"] != second[b"x-request-id"]  # ids are unique, not constant


def test_a_callers_request_id_is_kept() -> None:
    headers = _call("/v2/models/mlp/infer", [(b"x-request-id", b"mine")])
    assert [v for k, v in headers if k == b"x-request-id"] == [b"mine"]


def test_everything_else_passes_untouched() -> None:
    for path in ("/v2/models/mlp", "/v2/health/ready", "/metrics", "/api/v1/components/mlp:predict"):
        assert _call(path, [(b"host", b"x")]) == [(b"host", b"x")]


def test_serve_finds_the_callback_where_the_env_says() -> None:
    from ray.serve._private.http_util import validate_http_proxy_callback_return
    from ray.serve._private.utils import call_function_from_import_path

    path = INGRESS_ENV["RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH"]
    found = validate_http_proxy_callback_return(call_function_from_import_path(path))
    assert [m.cls for m in found] == [ShortCalls]
    assert isinstance(middlewares()[0], Middleware)
