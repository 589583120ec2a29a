"""The Open Inference Protocol over gRPC: `inference.GRPCInferenceService` in the centre's replicas.

Behind Serve's HAProxy ingress a gRPC call takes the same one hop as a REST call: HAProxy's gRPC
frontend (``gRPCOptions.port``, BRAIN_GRPC_PORT) speaks HTTP/2 to a gRPC server in each replica, which
calls the replica's method of the same name (``ModelInfer``, …) with the decoded message. Those methods
are :class:`InferenceService`'s, mixed into the replica class. A call runs the same `InferCall` as a
REST call: the key (metadata ``authorization: Bearer …`` or ``x-api-key``), tenancy, admission,
metering, batching and the resident models are the REST door's; only the decode and encode steps are
the gRPC codec's (``oip_grpc``). Errors keep their REST text, with the gRPC status code of their HTTP
status (:data:`STATUS_CODES`).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import grpc
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc

from deploy.centre import calls, oip_grpc
from deploy.centre.calls import InferCall, version_of
from deploy.centre.errors import NotReady, ServeError
from deploy.centre.gateway import SERVER, check_model_ready, describe_model
from deploy.centre.inference import Centre, error_status
from deploy.centre.keycheck import client_address
from model_hub.errors import HubError
from scheduler.credentials import api_key

log = logging.getLogger("brain.grpc")

T = TypeVar("T")

#: The servicer that Serve's gRPC servers register (``gRPCOptions.grpc_servicer_functions``).
SERVICER_FUNCTION = "tritonclient.grpc.service_pb2_grpc.add_GRPCInferenceServiceServicer_to_server"

#: The gRPC status of each HTTP status the centre answers with (errors.py, gateway.ROUTE_STATUSES).
STATUS_CODES: dict[int, grpc.StatusCode] = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.FAILED_PRECONDITION,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    422: grpc.StatusCode.FAILED_PRECONDITION,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    503: grpc.StatusCode.UNAVAILABLE,
}

#: The methods of Triton's service that OIP defines; the rest answer UNIMPLEMENTED.
SERVED = frozenset(
    {"ServerLive", "ServerReady", "ModelReady", "ServerMetadata", "ModelMetadata", "ModelInfer"}
)


def status_of(exc: BaseException) -> tuple[grpc.StatusCode, str, list[tuple[str, str]]]:
    """The gRPC status, details and trailing metadata of an error: the REST door's text and headers."""
    status = error_status(exc)
    code = STATUS_CODES.get(status, grpc.StatusCode.INTERNAL)
    if isinstance(exc, ServeError):
        return code, exc.message, [(k.lower(), v) for k, v in exc.headers().items()]
    if isinstance(exc, HubError):
        return code, exc.message, []
    incident = uuid.uuid4().hex[:12]
    log.error("unexpected error (incident %s)", incident, exc_info=exc)
    return code, f"internal error; the operator can find incident {incident} in the logs", []


def _metadata(context: Any) -> dict[str, str]:
    return {k: v for k, v in context.invocation_metadata() if isinstance(v, str)}


def _address(context: Any, metadata: dict[str, str]) -> str | None:
    """The caller's address for the failed-authentication limit: the peer (``ipv4:1.2.3.4:5678``) or
    HAProxy's forwarded header."""
    peer = context.peer() or ""
    host = peer.split(":", 1)[1].rsplit(":", 1)[0] if peer.startswith(("ipv4:", "ipv6:")) else None
    return client_address(host.strip("[]") if host else None, metadata.get("x-forwarded-for"))


def _version(raw: str) -> int | None:
    return version_of(raw) if raw else None


class InferenceService:
    """The methods of `inference.GRPCInferenceService`, mixed into the centre's replica class.

    Serve's replica gRPC server calls them by the method's name with the request message and its
    ``grpc_context``; an error sets the context's code and details and answers an empty message.
    """

    def _centre(self) -> Centre:
        centre = calls.installed()
        if centre is None or not centre.ready:
            raise NotReady("the capability centre")
        return centre

    def _refuse(self, context: Any, empty: Any, exc: BaseException) -> Any:
        code, details, trailing = status_of(exc)
        context.set_code(code)
        context.set_details(details)
        if trailing:
            context.set_trailing_metadata(trailing)
        return empty

    async def _off_loop(
        self, centre: Centre, key: str | None, name: str, version: int | None, fn: Callable[[], T]
    ) -> T:
        """``fn`` on the event loop when the component and the key are in memory, else in the cold pool
        (a load reads MLflow, a key check the database), as the REST door does."""
        if centre.is_warm(name, version) and centre.knows_key(key):
            return fn()
        return await asyncio.get_running_loop().run_in_executor(centre.cold_pool, fn)

    # --- health and metadata ------------------------------------------------------------------

    async def ServerLive(self, request: Any, grpc_context: Any) -> Any:
        return pb.ServerLiveResponse(live=True)

    async def ServerReady(self, request: Any, grpc_context: Any) -> Any:
        centre = calls.installed()
        return pb.ServerReadyResponse(ready=centre is not None and centre.ready)

    async def ServerMetadata(self, request: Any, grpc_context: Any) -> Any:
        return pb.ServerMetadataResponse(
            name=SERVER["name"], version=SERVER["version"], extensions=SERVER["extensions"]
        )

    async def ModelMetadata(self, request: Any, grpc_context: Any) -> Any:
        try:
            name, version = request.name, _version(request.version)
            centre = self._centre()
            key, address = self._caller(grpc_context)

            def describe() -> Any:
                doc = describe_model(centre, centre.authenticate(key, address), name, version)
                return pb.ModelMetadataResponse(
                    name=doc["name"],
                    versions=doc["versions"],
                    platform=doc["platform"],
                    inputs=[pb.ModelMetadataResponse.TensorMetadata(**t) for t in doc["inputs"]],
                    outputs=[pb.ModelMetadataResponse.TensorMetadata(**t) for t in doc["outputs"]],
                )

            return await self._off_loop(centre, key, name, version, describe)
        except Exception as exc:
            return self._refuse(grpc_context, pb.ModelMetadataResponse(), exc)

    async def ModelReady(self, request: Any, grpc_context: Any) -> Any:
        try:
            name, version = request.name, _version(request.version)
            centre = self._centre()
            key, address = self._caller(grpc_context)

            def ready() -> Any:
                check_model_ready(centre, centre.authenticate(key, address), name, version)
                return pb.ModelReadyResponse(ready=True)

            return await self._off_loop(centre, key, name, version, ready)
        except Exception as exc:
            return self._refuse(grpc_context, pb.ModelReadyResponse(), exc)

    # --- inference ----------------------------------------------------------------------------

    async def ModelInfer(self, request: Any, grpc_context: Any) -> Any:
        try:
            name, version = request.model_name, _version(request.model_version)
            centre = self._centre()
            key, address = self._caller(grpc_context)
            centre.metrics.in_flight.inc()
            try:
                if centre.is_warm(name, version) and centre.knows_key(key):
                    call = InferCall(centre, key, name, version)
                    _decode(call, request)
                    outputs = await call.predict_async()
                else:
                    call, outputs = await asyncio.get_running_loop().run_in_executor(
                        centre.cold_pool, _cold_call, centre, key, name, version, address, request
                    )
                return call.answer(outputs, lambda: _encode(call, outputs))
            finally:
                centre.metrics.in_flight.dec()
        except Exception as exc:
            return self._refuse(grpc_context, pb.ModelInferResponse(), exc)

    def _caller(self, context: Any) -> tuple[str | None, str | None]:
        metadata = _metadata(context)
        return api_key(metadata.get("authorization"), metadata.get("x-api-key")), _address(context, metadata)


def _cold_call(
    centre: Centre, key: str | None, name: str, version: int | None, address: str | None, request: Any
) -> tuple[InferCall, dict[str, Any]]:
    """The whole call but its encoding in a worker thread, unbatched, as the REST door's cold calls: the
    key check may read the database, the load MLflow and an ONNX session."""
    call = InferCall(centre, key, name, version, address)
    _decode(call, request)
    return call, call.predict()


def _decode(call: InferCall, request: Any) -> None:
    centre = call.centre
    call.take(
        lambda: oip_grpc.decode_infer(
            request, call.runtime.card.inputs, centre.caps, centre.settings.max_body_bytes
        )
    )


def _encode(call: InferCall, outputs: dict[str, Any]) -> Any:
    return oip_grpc.encode_infer(
        call.decoded,
        outputs,
        model_name=call.name,
        model_version=str(call.chosen),
        output_specs=call.runtime.card.outputs,
    )


def _unimplemented(method: str) -> Callable[..., Any]:
    async def refuse(self: InferenceService, request: Any, grpc_context: Any) -> Any:
        grpc_context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        grpc_context.set_details(
            f"{method} is not part of the Open Inference Protocol and this server does not offer it; "
            f"it offers {', '.join(sorted(SERVED))}"
        )
        return pb.ServerLiveResponse()  # never read: the status says the call failed

    refuse.__name__ = method
    return refuse


def _unimplemented_stream(method: str) -> Callable[..., AsyncIterator[Any]]:
    async def refuse(self: InferenceService, request: Any, grpc_context: Any) -> AsyncIterator[Any]:
        grpc_context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        grpc_context.set_details(f"{method} (streaming inference) is not offered; use ModelInfer")
        return
        yield  # an async generator: Serve streams what a streaming method yields

    refuse.__name__ = method
    return refuse


# Triton's service has more methods than OIP (repository, statistics, shared memory, tracing, logging):
# each answers UNIMPLEMENTED with the list of those offered, instead of Serve's "no such method" error.
for _method in dir(service_pb2_grpc.GRPCInferenceServiceServicer):
    if _method.startswith("_") or _method in SERVED:
        continue
    setattr(
        InferenceService,
        _method,
        _unimplemented_stream(_method) if _method == "ModelStreamInfer" else _unimplemented(_method),
    )
