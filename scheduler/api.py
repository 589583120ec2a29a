"""The scheduler's REST API: pools, queues and jobs over HTTP, served by the scheduler service.

Every call but ``/healthz`` carries a platform API key (``Authorization: Bearer ibk_…``). The API does
not know how keys are checked: it is given an `Authenticate` callable that turns a key into a `Caller`
(the scheduler service loads one by import path, `SchedulerSettings.api_auth`; the platform's checks its
tenant keys, so the scheduler never imports the platform).

Who may do what is the key check's answer (`Caller`): an operator (the platform's admin and ops keys)
manages pools, the topology and queues, and sees and cancels every tenant's jobs. Any other key submits,
sees and cancels only its own tenant's jobs, of the built-in kinds, with paths inside its tenant's storage
(`SchedulerControl.sandbox`); another tenant's job answers 404 exactly as a missing one, and a job id a
tenant chooses is scoped to its tenant, so that no job's existence leaks.

Every error is ``{"error": "..."}`` with its status (400 malformed request, 401 no or bad key, 403 not
allowed, 404 unknown, 409 idempotency key reused for another spec, 413 body too large, 422 invalid spec,
429 too many requests or queued jobs, 503 a pool does not answer); no traceback reaches a client. The
OpenAPI document lists them all.
"""

from __future__ import annotations

import hashlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import uvicorn
from fastapi import Body, Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scheduler.control import SchedulerControl, one_line, parse_job
from scheduler.credentials import api_key
from scheduler.errors import (
    BodyTooLarge,
    Forbidden,
    JobNotFound,
    PoolUnreachable,
    RateLimited,
    SchedulerError,
    SpecInvalid,
    Unauthenticated,
    UnknownPool,
)
from scheduler.model import ON_POOL, JobState
from scheduler.settings import SchedulerSettings
from scheduler.spec import TopologySpec
from scheduler.store import JobRow, SchedulerStore, job_id_for_key
from scheduler.views import event_json, job_json, pool_json

log = logging.getLogger("scheduler.api")

PREFIX = "/api/v1"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling, as far as the scheduler cares."""

    tenant: str
    role: str
    operator: bool
    """May manage pools, queues and the topology, and see, submit and cancel every tenant's jobs."""
    run_code: bool = False
    """May submit kind entrypoint and any runtime_env, with paths anywhere (the platform's own code)."""
    priority_classes: frozenset[str] = frozenset({"best-effort", "normal"})
    """Priority classes its jobs may have."""


Authenticate = Callable[[str | None], Caller]
"""Turns the key of a request (None when it sent none) into its caller; raises `Unauthenticated`."""


def _key(request: Request) -> str | None:
    return api_key(request.headers.get("authorization"), request.headers.get("x-api-key"))


class _Buckets:
    """Token buckets per API key (by its hash) or, without a key, per client address."""

    MAX_ENTRIES = 10_000

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, who: str) -> None:
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.get(who, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.rate)
            if tokens < 1:
                self._buckets[who] = (tokens, now)
                raise RateLimited(self.rate, (1 - tokens) / self.rate)
            if len(self._buckets) >= self.MAX_ENTRIES and who not in self._buckets:
                self._buckets.clear()  # a flood of distinct keys: start over rather than grow
            self._buckets[who] = (tokens - 1, now)


def _caller(request: Request) -> Caller:
    key = _key(request)
    buckets: _Buckets = request.app.state.buckets
    client = request.client.host if request.client else "?"
    buckets.take(hashlib.sha256(key.encode()).hexdigest() if key else f"addr:{client}")
    authenticate: Authenticate = request.app.state.authenticate
    try:
        return authenticate(key)
    except Unauthenticated:
        # Every made-up key has a bucket of its own: failures also count against the client's address.
        if key:
            buckets.take(f"addr:{client}")
        raise


# Module level: FastAPI resolves the (string) annotations of the endpoints against this module.
Who = Annotated[Caller, Depends(_caller)]


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> tuple[int, str]:
    """400 for a malformed request (not JSON, a bad query parameter or header), 422 for a body that is
    JSON but not a valid spec."""
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return 400, "the request body is not valid JSON; send a JSON object"
    parts = []
    for item in errors:
        where = ".".join(str(p) for p in item.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    in_body = any(e.get("loc", ("",))[0] == "body" for e in errors)
    return 422 if in_body else 400, "invalid request: " + "; ".join(parts)


class _BodyLimit:
    """Refuses a body over `limit` bytes before anything parses it: by its Content-Length, or, sent in
    chunks, as soon as the bytes received pass the limit (the body is then read here, at most `limit`
    bytes, and handed on)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = BodyTooLarge(self.limit)
        await _error(error.status, error.message, {"Connection": "close"})(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            if not length.isdigit() or int(length) > self.limit:
                await self._refuse(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        received = 0
        while True:
            message = await receive()
            messages.append(message)
            received += len(message.get("body", b""))
            if received > self.limit:
                await self._refuse(scope, receive, send)
                return
            if message["type"] != "http.request" or not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


class ErrorBody(BaseModel):
    """Every refusal: one line saying what was wrong and what to do."""

    error: str


_SAYS = {
    400: "malformed request (not JSON, or a bad query parameter)",
    401: "no API key, or one that is unknown, revoked or expired",
    403: "the key may not do this",
    404: "no such thing, or not visible to this key",
    409: "the idempotency key was used for another spec",
    413: "the body is larger than BRAIN_API_MAX_BODY_BYTES",
    422: "the body is not a valid spec",
    429: "too many requests with this key (Retry-After), or too many queued jobs",
    503: "a pool does not answer",
}


def _answers(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The refusals a route may answer, for the OpenAPI document (every keyed route: 400, 401, 413, 429)."""
    every = sorted({400, 401, 413, 429, *statuses})
    return {s: {"model": ErrorBody, "description": _SAYS[s]} for s in every}


def _object(body: Any, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise SpecInvalid(what, "send one JSON object")
    return dict(body)


def build_app(
    store: SchedulerStore, authenticate: Authenticate, settings: SchedulerSettings | None = None
) -> FastAPI:
    """The API over `store`; `authenticate` checks every request's key."""
    client = SchedulerControl(store, settings)
    settings = client.settings
    app = FastAPI(title="Industry Brain scheduler", version="0.1.0")
    app.state.authenticate = authenticate
    app.state.buckets = _Buckets(settings.api_rate_per_second, settings.api_burst)
    app.add_middleware(_BodyLimit, limit=settings.api_max_body_bytes)

    @app.exception_handler(SchedulerError)
    async def scheduler_error(_: Request, exc: SchedulerError) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="industry-brain"'
        return _error(exc.status, exc.message, headers or None)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(*_validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return _error(404, f"no such endpoint: {request.method} {request.url.path}; see {PREFIX}/…")
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error in the scheduler API", exc_info=exc)
        return _error(500, "internal error of the scheduler API; its log has the details")

    def operator(who: Caller, action: str) -> None:
        if not who.operator:
            raise Forbidden(
                f"role {who.role!r} of tenant {who.tenant!r} may not {action}",
                "only the admin and ops keys of a platform-operator tenant may (`brain keys issue platform "
                "--role ops`)",
            )

    def visible(job_id: str, who: Caller) -> JobRow:
        job = client.job(job_id)
        if not who.operator and job.tenant != who.tenant:
            raise JobNotFound(job_id)  # the same answer as a missing job: nothing leaks
        return job

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    # --- pools and topology (operators) --------------------------------------------------------------

    def in_flight(name: str) -> int:
        return store.count_jobs(states=ON_POOL, pool=name)

    @app.get(f"{PREFIX}/pools", responses=_answers(403))
    def list_pools(who: Who) -> dict[str, Any]:
        operator(who, "list pools")
        return {"items": [pool_json(r, in_flight(r.name)) for r in store.pools()]}

    @app.get(f"{PREFIX}/pools/{{name}}", responses=_answers(403, 404))
    def show_pool(name: str, who: Who) -> dict[str, Any]:
        operator(who, "see pools")
        return pool_json(store.pool(name), in_flight(name))

    @app.post(
        f"{PREFIX}/pools",
        responses=_answers(403, 422) | {200: {"description": "the pool was registered: its spec updated"}},
        status_code=201,
    )
    def add_pool(who: Who, body: Annotated[Any, Body()]) -> JSONResponse:
        """Register a pool (201), or update the spec of a registered one (200)."""
        operator(who, "register pools")
        data = _object(body, "the pool spec")
        try:
            store.pool(str(data.get("name")))
            existed = True
        except UnknownPool:
            existed = False
        row = client.add_pool(data)
        return JSONResponse(pool_json(row, in_flight(row.name)), status_code=200 if existed else 201)

    @app.post(f"{PREFIX}/pools/{{name}}/cordon", responses=_answers(403, 404))
    def cordon(name: str, who: Who) -> dict[str, Any]:
        operator(who, "cordon pools")
        return pool_json(store.set_cordon(name, cordoned=True), in_flight(name))

    @app.post(f"{PREFIX}/pools/{{name}}/uncordon", responses=_answers(403, 404))
    def uncordon(name: str, who: Who) -> dict[str, Any]:
        operator(who, "uncordon pools")
        return pool_json(store.set_cordon(name, cordoned=False), in_flight(name))

    @app.post(f"{PREFIX}/pools/{{name}}/drain", responses=_answers(403, 404))
    def drain(name: str, who: Who, requeue: bool = False) -> dict[str, Any]:
        """Cordon and empty a pool: running work finishes, or with `requeue` is stopped and requeued."""
        operator(who, "drain pools")
        row = store.set_cordon(name, cordoned=True, drain="requeue" if requeue else "finish")
        return pool_json(row, in_flight(name))

    @app.put(f"{PREFIX}/topology", responses=_answers(403, 422))
    def apply_topology(
        who: Who, body: Annotated[Any, Body()], replace_queues: bool = False
    ) -> dict[str, int]:
        """Register every pool and queue of a topology (the YAML of `brain pools apply`, as JSON)."""
        operator(who, "apply a topology")
        try:
            topology = TopologySpec.model_validate(_object(body, "the topology"))
        except ValidationError as exc:
            raise SpecInvalid("the topology", one_line(exc)) from None
        pools, queues = client.apply(topology, replace_queues=replace_queues)
        return {"pools": pools, "queues": queues}

    @app.get(f"{PREFIX}/queues", responses=_answers())
    def list_queues(who: Who) -> dict[str, Any]:
        """The queue tree with its quotas: all of it for an operator; for a tenant, where it stands (its
        queue and the queues above it), not the other tenants' names and quotas."""
        specs = store.queue_specs()
        if not who.operator:
            tree = store.queue_tree()
            leaf = tree.tenant_queue.get(who.tenant) if tree is not None else None
            above = set(tree.paths[leaf]) if tree is not None and leaf is not None else set()
            specs = [q for q in specs if q.name in above]
        return {"items": [q.model_dump(mode="json") for q in specs]}

    # --- jobs -----------------------------------------------------------------------------------------

    @app.post(
        f"{PREFIX}/jobs",
        responses=_answers(403, 404, 409, 422) | {200: {"description": "the idempotency key's first job"}},
        status_code=201,
    )
    def submit(
        who: Who,
        body: Annotated[Any, Body()],
        idempotency_key: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        """Queue a job (201); resending its idempotency key returns the first job (200)."""
        data = _object(body, "the job spec")
        data.setdefault("tenant", who.tenant)
        if data["tenant"] != who.tenant and not who.operator:
            raise Forbidden(
                f"a key of tenant {who.tenant!r} may not submit jobs for tenant {data['tenant']!r}",
                "leave `tenant` out or use your own tenant",
            )
        if "submit_time" in data:
            raise SpecInvalid("the job spec", "submit_time is set by the scheduler when it queues the job")
        if idempotency_key is not None:
            if data.get("idempotency_key") not in (None, idempotency_key):
                raise SpecInvalid(
                    "the request", "the Idempotency-Key header and the body's idempotency_key differ"
                )
            data["idempotency_key"] = idempotency_key
        request = parse_job(data)
        if "id" in data and not who.operator:
            # A tenant's own id names a job of its tenant only: another tenant's job of that id is
            # neither found nor reported (no 409 that would say it exists).
            request = request.model_copy(update={"id": job_id_for_key(request.tenant, f"id:{request.id}")})
        if request.priority_class not in who.priority_classes:
            raise Forbidden(
                f"role {who.role!r} of tenant {who.tenant!r} may not submit priority class "
                f"{request.priority_class!r}",
                f"use one of {', '.join(sorted(who.priority_classes))}",
            )
        if not who.run_code:
            request = client.sandbox(request)
        queue = client.validate(request)
        client.check_queued_cap(request.tenant)
        submitted = store.submit(request, queue)
        return JSONResponse(job_json(submitted.job), status_code=201 if submitted.created else 200)

    @app.get(f"{PREFIX}/jobs", responses=_answers(403))
    def list_jobs(
        who: Who,
        state: Annotated[list[JobState] | None, Query()] = None,
        tenant: str | None = None,
        queue: str | None = None,
        pool: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    ) -> dict[str, Any]:
        """Jobs oldest first; a tenant's key sees only its tenant's."""
        if not who.operator:
            if tenant not in (None, who.tenant):
                raise Forbidden(
                    f"a key of tenant {who.tenant!r} may not list the jobs of tenant {tenant!r}",
                    "leave `tenant` out, or use a key with the ops or admin role",
                )
            tenant = who.tenant
        filters: dict[str, Any] = {"states": state or None, "tenant": tenant, "queue": queue, "pool": pool}
        total = store.count_jobs(**filters)
        items = store.jobs(**filters, limit=limit, offset=offset)
        following = offset + len(items)
        return {
            "items": [job_json(j) for j in items],
            "total": total,
            "offset": offset,
            "limit": limit,
            "next_offset": following if following < total else None,
        }

    # The suffixed routes come first: a job id may contain '/', so `{job_id:path}` would swallow them.
    @app.get(f"{PREFIX}/jobs/{{job_id:path}}/logs", responses=_answers(404, 503))
    def logs(
        job_id: str, who: Who, tail: Annotated[int | None, Query(ge=1, le=1_000_000)] = None
    ) -> dict[str, Any]:
        """The driver log: from Ray while the job is there, else the tail kept when it ended."""
        visible(job_id, who)
        try:
            return {"id": job_id, "logs": client.logs(job_id, tail)}
        except PoolUnreachable as exc:
            if not who.operator:
                exc.message = exc.for_tenants  # a pool's internal address is the operators' business
            raise

    @app.get(f"{PREFIX}/jobs/{{job_id:path}}/events", responses=_answers(404))
    def events(job_id: str, who: Who) -> dict[str, Any]:
        visible(job_id, who)
        return {"items": [event_json(e) for e in store.events(job_id)]}

    @app.post(f"{PREFIX}/jobs/{{job_id:path}}/cancel", responses=_answers(404))
    def cancel(job_id: str, who: Who) -> dict[str, Any]:
        """A queued job is cancelled at once; one on a pool is stopped there by the service."""
        visible(job_id, who)
        return job_json(client.cancel(job_id))

    @app.get(f"{PREFIX}/jobs/{{job_id:path}}", responses=_answers(404))
    def show_job(job_id: str, who: Who) -> dict[str, Any]:
        return job_json(visible(job_id, who))

    return app


KEEP_ALIVE_S = 30
"""Seconds the API keeps an idle client connection open."""


class APIServer:
    """The API served by uvicorn in a thread of the scheduler service (or of a test)."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 8300) -> None:
        # Idle connections are kept longer than clients keep them (httpx and requests: 5 s, uvicorn's own
        # default too): with equal timeouts a client reuses a connection the server is closing that very
        # moment, and the request fails (28 of 10,000 in bench/scheduler_load.py).
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", lifespan="off", timeout_keep_alive=KEEP_ALIVE_S
        )
        self.server = uvicorn.Server(config)
        self.host, self.port = host, port
        self.url = f"http://{host}:{port}"
        self._thread: threading.Thread | None = None

    def start(self, timeout_s: float = 15.0) -> APIServer:
        """Start serving; raise RuntimeError when it cannot (e.g. its port is taken)."""
        # Bind here, not in uvicorn's thread: a taken port is then this call's clear error, not an
        # exception dying in a thread.
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self.host, self.port))
        except OSError as exc:
            listener.close()
            raise RuntimeError(
                f"the scheduler API could not start on {self.url}: the port is in use ({exc.strerror}); "
                "choose another with --api-port"
            ) from None
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [listener]}, name="scheduler-api", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the scheduler API did not start on {self.url} within {timeout_s:g} s")
            time.sleep(0.02)
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self.server.should_exit = True
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout_s)
