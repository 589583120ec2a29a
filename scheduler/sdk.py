"""The Python SDK of the scheduler's REST API: submit, watch and cancel jobs with a tenant's API key.

    from scheduler.sdk import SchedulerAPI
    api = SchedulerAPI("http://127.0.0.1:8300", key="ibk_…")
    job = api.submit({"entrypoint": "/opt/venv/bin/python train.py", "bundles": [{"cpu": 2}],
                      "allowed_regions": ["济南"]}, idempotency_key="run-42")
    api.wait(job["id"])
    print(api.logs(job["id"]))

Jobs, pools and events come back as the API's JSON objects (dicts). A refusal raises an `APIError`
subclass by status, carrying the server's message (`TooLarge` for 413, `TooManyRequests` for 429
with the server's `retry_after`); a scheduler that does not answer raises `Unavailable`.
(`scheduler.control.SchedulerControl` works on the database directly, without the API.)
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from scheduler.errors import (
    APIError,
    Conflict,
    Invalid,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    TooLarge,
    TooManyRequests,
    Unavailable,
)

FINAL_STATES = ("succeeded", "failed", "cancelled")


_BY_STATUS: dict[int, type[APIError]] = {
    400: Invalid,
    401: NotAuthenticated,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    413: TooLarge,
    422: Invalid,
}


def _seconds(retry_after: str | None) -> float | None:
    """Retry-After in seconds (this API sends whole seconds; an HTTP date is not used here)."""
    try:
        return float(retry_after) if retry_after is not None else None
    except ValueError:
        return None


class SchedulerAPI:
    """A client of one scheduler API with one API key."""

    def __init__(self, url: str, key: str, timeout_s: float = 30.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"url {url!r} is not an HTTP URL; pass e.g. http://127.0.0.1:8300")
        if not key:
            raise ValueError("key is empty; pass a platform API key (ibk_…), e.g. from `brain keys issue`")
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=f"{self.url}/api/v1",
            headers={"Authorization": f"Bearer {key}"},
            timeout=timeout_s,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SchedulerAPI:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise Unavailable(0, f"the scheduler API at {self.url} does not answer: {exc}") from None
        if response.status_code < 400:
            return response.json()
        try:
            message = str(response.json()["error"])
        except (ValueError, KeyError, TypeError):
            message = response.text[:500] or response.reason_phrase
        if response.status_code == 429:
            raise TooManyRequests(429, message, _seconds(response.headers.get("retry-after")))
        kind = _BY_STATUS.get(response.status_code, Unavailable if response.status_code >= 500 else APIError)
        raise kind(response.status_code, message)

    # --- jobs -----------------------------------------------------------------------------------------

    def submit(self, spec: Mapping[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
        """Queue a job (the key's tenant unless `spec` names one); the same idempotency key, the same job."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key is not None else {}
        job: dict[str, Any] = self._call("POST", "/jobs", json=dict(spec), headers=headers)
        return job

    def jobs(
        self,
        state: str | list[str] | None = None,
        tenant: str | None = None,
        queue: str | None = None,
        pool: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> dict[str, Any]:
        """One page of jobs, oldest first: ``{"items", "total", "offset", "limit", "next_offset"}``."""
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if state is not None:
            params["state"] = [state] if isinstance(state, str) else state
        params |= {k: v for k, v in (("tenant", tenant), ("queue", queue), ("pool", pool)) if v is not None}
        page: dict[str, Any] = self._call("GET", "/jobs", params=params)
        return page

    def all_jobs(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every job matching the filters of `jobs`, page by page."""
        offset: int | None = 0
        while offset is not None:
            page = self.jobs(**filters, offset=offset)
            yield from page["items"]
            offset = page["next_offset"]

    def job(self, job_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self._call("GET", f"/jobs/{job_id}")
        return found

    def logs(self, job_id: str, tail: int | None = None) -> str:
        params = {"tail": tail} if tail is not None else {}
        return str(self._call("GET", f"/jobs/{job_id}/logs", params=params)["logs"])

    def events(self, job_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._call("GET", f"/jobs/{job_id}/events")["items"]
        return items

    def cancel(self, job_id: str) -> dict[str, Any]:
        job: dict[str, Any] = self._call("POST", f"/jobs/{job_id}/cancel")
        return job

    def wait(self, job_id: str, timeout_s: float = 600.0, poll_s: float = 0.5) -> dict[str, Any]:
        """Poll until the job has ended (or raise TimeoutError)."""
        deadline = time.monotonic() + timeout_s
        while True:
            job = self.job(job_id)
            if job["state"] in FINAL_STATES:
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job['state']} after {timeout_s:g} s")
            time.sleep(poll_s)

    # --- pools, topology, queues (operators) ---------------------------------------------------------

    def pools(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._call("GET", "/pools")["items"]
        return items

    def pool(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self._call("GET", f"/pools/{name}")
        return found

    def add_pool(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        pool: dict[str, Any] = self._call("POST", "/pools", json=dict(spec))
        return pool

    def cordon(self, name: str) -> dict[str, Any]:
        pool: dict[str, Any] = self._call("POST", f"/pools/{name}/cordon")
        return pool

    def uncordon(self, name: str) -> dict[str, Any]:
        pool: dict[str, Any] = self._call("POST", f"/pools/{name}/uncordon")
        return pool

    def drain(self, name: str, requeue: bool = False) -> dict[str, Any]:
        pool: dict[str, Any] = self._call("POST", f"/pools/{name}/drain", params={"requeue": requeue})
        return pool

    def apply(self, topology: Mapping[str, Any], replace_queues: bool = False) -> dict[str, int]:
        """Register the pools and queues of a topology (`brain pools apply`'s YAML as a mapping)."""
        counts: dict[str, int] = self._call(
            "PUT", "/topology", json=dict(topology), params={"replace_queues": replace_queues}
        )
        return counts

    def queues(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._call("GET", "/queues")["items"]
        return items
