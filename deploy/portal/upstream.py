"""The portal's only way to data: the platform's REST APIs over HTTP, with the viewer's own key.

The capability centre (catalogue, OIP, usage, whoami) and the scheduler API (pools, queues, jobs) answer
every call as they answer the CLI and the SDK; their refusals (401, 403, 404, 4xx) come back as `APIRefusal`
with the API's own message, which the portal shows.
"""

from __future__ import annotations

from typing import Any

import httpx


class APIRefusal(Exception):
    """An API answered with an error status (or did not answer: status 503)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Upstream:
    """Clients of the centre and the scheduler API, shared by every session (the key goes per call)."""

    def __init__(self, centre_url: str, scheduler_url: str, timeout_s: float = 30.0) -> None:
        for url in (centre_url, scheduler_url):
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{url!r} is not an HTTP URL; pass e.g. http://127.0.0.1:8000")
        self.centre_url = centre_url.rstrip("/")
        self.scheduler_url = scheduler_url.rstrip("/")
        self._http = httpx.AsyncClient(timeout=timeout_s)

    async def close(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, url: str, key: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(
                method, url, headers={"Authorization": f"Bearer {key}"}, **kwargs
            )
        except httpx.HTTPError as exc:
            raise APIRefusal(503, f"{url.split('/api')[0].split('/v2')[0]} does not answer: {exc}") from None
        if response.status_code >= 400:
            try:
                message = str(response.json()["error"])
            except (ValueError, KeyError, TypeError):
                message = response.text[:500] or response.reason_phrase
            raise APIRefusal(response.status_code, message)
        return response

    async def centre(self, method: str, path: str, key: str, **kwargs: Any) -> Any:
        return (await self._call(method, f"{self.centre_url}{path}", key, **kwargs)).json()

    async def centre_text(self, path: str, key: str, **kwargs: Any) -> str:
        return (await self._call("GET", f"{self.centre_url}{path}", key, **kwargs)).text

    async def scheduler(self, method: str, path: str, key: str, **kwargs: Any) -> Any:
        return (await self._call(method, f"{self.scheduler_url}/api/v1{path}", key, **kwargs)).json()
