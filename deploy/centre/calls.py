"""One inference call through the whole hot path, shared by every door of the capability centre.

The OIP routes (`gateway`), the ASGI fast path (`fast_path`) and the rows API (`rows`) all run an
`InferCall`: authenticate, admit (rate, quota), resolve the component and version, load the model,
decode, predict, encode, meter. This module also holds what those doors share about the request: the
replica's installed `Centre`, the caller's key, the body read within its limit, the error response.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import numpy as np
from fastapi import Request
from fastapi.responses import JSONResponse

from deploy.centre import oip
from deploy.centre.errors import BadRequest, NotReady, PayloadTooLarge, ServeError
from deploy.centre.inference import UNKNOWN, Centre, error_status
from deploy.centre.keycheck import client_address
from deploy.centre.runtimes import PipelineRuntime
from deploy.tenancy import Principal
from model_hub.errors import HubError
from model_hub.taxonomy import Visibility
from scheduler.credentials import api_key

log = logging.getLogger("brain.gateway")

T = TypeVar("T")


def key_of(request: Request) -> str | None:
    """The API key a request carries (`scheduler.credentials.api_key`)."""
    return api_key(request.headers.get("authorization"), request.headers.get("x-api-key"))


def address_of(request: Request) -> str | None:
    """The client's address, for the limit on failed authentications (`keycheck.client_address`)."""
    peer = request.client.host if request.client is not None else None
    return client_address(peer, request.headers.get("x-forwarded-for"))


_installed: Centre | None = None


def install(centre: Centre | None) -> None:
    """Make ``centre`` the one this process's gateway serves.

    Ray Serve runs an unpickled copy of the FastAPI app in each replica, so state set on the app
    object at import time would not reach it; a module-level slot in the replica's process does.
    """
    global _installed
    _installed = centre


def installed() -> Centre | None:
    """The centre `install` made this process's (None before)."""
    return _installed


def current_centre(request: Request) -> Centre | None:
    centre: Centre | None = getattr(request.app.state, "centre", None)
    return centre or _installed


def centre_of(request: Request) -> Centre:
    centre = current_centre(request)
    if centre is None or not centre.ready:
        raise NotReady("the capability centre")
    return centre


def error_response(exc: BaseException) -> JSONResponse:
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


def version_of(raw: str) -> int:
    # ASCII digits only ("²".isdigit() is true and int() refuses it), and few enough for int() and MLflow.
    if not (0 < len(raw) <= 9 and raw.isascii() and raw.isdigit()) or int(raw) < 1:
        shown = raw if len(raw) <= 16 else raw[:16] + "…"
        raise BadRequest(f"model version {shown!r} must be a positive integer (at most 9 digits)")
    return int(raw)


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(int(declared), limit)
    body = await request.body()
    if len(body) > limit:
        raise PayloadTooLarge(len(body), limit)
    return body


def infer_body(
    centre: Centre,
    key: str | None,
    name: str,
    version: int | None,
    body: bytes,
    header_length: str | None,
    address: str | None = None,
) -> oip.EncodedBody:
    """One OIP inference from raw bytes to raw bytes, the model called inline (no batching)."""
    call = InferCall(centre, key, name, version, address)
    call.decode(body, header_length)
    return call.inline()


async def infer_async(
    centre: Centre,
    key: str | None,
    name: str,
    version: int | None,
    body: bytes,
    header_length: str | None,
    address: str | None = None,
) -> oip.EncodedBody:
    """The same, on the event loop: the call joins its component's batch when its policy batches."""
    call = InferCall(centre, key, name, version, address)
    call.decode(body, header_length)
    return call.finish(await call.predict_async())


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

    def __init__(
        self, centre: Centre, key: str | None, name: str, version: int | None, address: str | None = None
    ) -> None:
        self.started = time.perf_counter()
        self.centre, self.name = centre, name
        self.principal = centre.authenticate(key, address)
        centre.admit(self.principal)
        self.chosen: int | str = "-"
        self.rows = 0
        self.timings: dict[str, float] | None = None
        """A pipeline's per-step times in ms, once it has run."""
        try:
            self.component = centre.component(name, self.principal)
        except Exception as exc:
            # Not a component this caller may use: metered under one fixed label, never the raw name.
            self.name = UNKNOWN
            self.failed(exc)
            raise
        try:
            self.chosen = centre.pick_version(self.component, version)
            self.runtime = centre.runtime(name, self.chosen)
        except Exception as exc:
            self.failed(exc)
            raise

    def decode(self, body: bytes, header_length: str | None) -> None:
        """Read the OIP REST body (JSON or binary tensors) and check it against the card."""
        self.take(lambda: oip.decode_request(body, header_length, self.runtime.card.inputs, self.centre.caps))

    def take(self, decode: Callable[[], oip.InferenceRequest]) -> None:
        """Run a door's decode step (REST body, gRPC message) into the one request object."""
        try:
            self.decoded = decode()
            self.inputs = self.decoded.arrays()
            self.rows = row_count(self.inputs)
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

    def inline(self) -> oip.EncodedBody:
        """Predict in this thread (no batching) and encode the answer."""
        return self.finish(self.predict())

    def predict(self) -> dict[str, np.ndarray]:
        """Run the model in this thread, unbatched (a pipeline: its steps, one after the other)."""
        runtime = self.runtime
        if isinstance(runtime, PipelineRuntime):
            outputs, self.timings = self.step(
                lambda: self.centre.run_pipeline(self.principal, runtime, self.inputs)
            )
            return outputs
        return self.step(lambda: self.centre.predict(self.runtime, self.inputs))

    async def predict_async(self) -> dict[str, np.ndarray]:
        """Run the model on the event loop's side: the call joins its component's batch when its policy
        batches, else it runs inline. A pipeline's steps run inline: each step is a call of its own."""
        if isinstance(self.runtime, PipelineRuntime):
            return self.predict()
        batcher = self.centre.batcher(self.component, self.runtime)
        if batcher is None:
            return self.predict()
        return await self.step_async(batcher.predict(self.inputs, self.rows))

    def finish(self, outputs: dict[str, np.ndarray]) -> oip.EncodedBody:
        """Encode the OIP REST answer and meter the call."""
        return self.answer(
            outputs,
            lambda: oip.encode_response(
                self.decoded,
                outputs,
                model_name=self.name,
                model_version=str(self.chosen),
                output_specs=self.runtime.card.outputs,
                parameters=self.response_parameters(),
            ),
        )

    def response_parameters(self) -> dict[str, object] | None:
        """The answer's ``parameters``: a pipeline's per-step times when the request asked for them
        (``"parameters": {"timings": true}``)."""
        if self.timings is None or self.decoded.parameters.get("timings") is not True:
            return None
        total = (time.perf_counter() - self.started) * 1000.0
        return {"timings_ms": {**{k: round(v, 3) for k, v in self.timings.items()}, "total": round(total, 3)}}

    def answer(self, outputs: dict[str, np.ndarray], encode: Callable[[], T]) -> T:
        """Run a door's encode step of ``outputs``, meter the call as a success and count it into its
        version's drift statistics."""
        encoded = self.step(encode)
        self.succeeded()
        monitor = self.runtime.drift
        if monitor is not None:
            try:
                monitor.observe(self.inputs, outputs)
            except Exception:  # monitoring must never turn an answer into an error
                log.exception("drift statistics failed")
        rate = self.component.serving.payload_sample_rate
        if rate and self.runtime.card.visibility is Visibility.private:  # the policy says why private
            try:
                self.centre.payloads.offer(
                    self.name, self.runtime.version, self.principal.tenant.name, rate, self.inputs, outputs
                )
            except Exception:
                log.exception("payload sampling failed")
        return encoded

    def succeeded(self) -> None:
        record_call(self.centre, self.principal, self.name, self.chosen, self.started, self.rows, 200)

    def failed(self, exc: BaseException) -> None:
        record_call(
            self.centre, self.principal, self.name, self.chosen, self.started, self.rows, error_status(exc)
        )


def row_count(inputs: dict[str, np.ndarray]) -> int:
    first = next(iter(inputs.values()), None)
    return int(first.shape[0]) if first is not None and first.ndim > 0 else 1


def record_call(
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
