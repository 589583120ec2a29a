"""The ASGI fast path for /infer, driven with ASGI messages (no server, no Ray)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from deploy.centre import calls, fast_path


def call(
    path: str, body: bytes, headers: list[tuple[bytes, bytes]], method: str = "POST"
) -> tuple[int, dict[bytes, bytes], bytes, list[str]]:
    passed: list[str] = []

    async def downstream(scope: dict[str, Any], receive: Any, send: Any) -> None:
        passed.append(scope["path"])
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"downstream"})

    app = fast_path.InferFastPath(downstream)
    sent: list[dict[str, Any]] = []
    chunks = [body[:5], body[5:]]

    async def receive() -> dict[str, Any]:
        chunk = chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": headers}
    asyncio.run(app(scope, receive, send))
    start, end = sent
    return start["status"], dict(start["headers"]), end["body"], passed


def test_other_routes_go_to_fastapi() -> None:
    status, _, body, passed = call("/v2/models/x/ready", b"", [], method="GET")
    assert (status, body, passed) == (299, b"downstream", ["/v2/models/x/ready"])
    status, _, _, passed = call("/v2/models/x/infer/extra", b"{}", [])
    assert passed == ["/v2/models/x/infer/extra"]


def test_infer_without_a_centre_is_503_json() -> None:
    calls.install(None)
    status, headers, body, passed = call("/v2/models/x/infer", b'{"inputs": []}', [])
    assert status == 503 and passed == []
    assert json.loads(body) == {"error": "the capability centre is not ready yet; retry in a few seconds"}
    assert headers[b"content-length"] == str(len(body)).encode() and b"retry-after" in headers


def test_a_bad_version_in_the_path_is_400() -> None:
    class Ready:
        ready = True

    calls.install(Ready())  # type: ignore[arg-type]
    try:
        status, _, body, _ = call("/v2/models/x/versions/latest/infer", b"{}", [])
    finally:
        calls.install(None)
    assert status == 400 and "must be a positive integer" in json.loads(body)["error"]
