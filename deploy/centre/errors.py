"""The capability centre's error hierarchy.

Every error carries the HTTP status the API answers with, and a message that says what was wrong and
what to do about it. The gateway turns them into ``{"error": message}`` bodies (plus the headers from
:meth:`ServeError.headers`, e.g. ``Retry-After``); nothing else ever reaches a client, so no traceback.
"""

from __future__ import annotations

import math

from model_hub.errors import HubError


class ServeError(Exception):
    """Root of all capability-centre errors."""

    status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def headers(self) -> dict[str, str]:
        """Extra HTTP headers the answer must carry."""
        return {}

    def body(self) -> dict[str, str]:
        """The JSON error object of the Open Inference Protocol."""
        return {"error": self.message}


# --- 400 ------------------------------------------------------------------------------------------


class BadRequest(ServeError):
    """The request is malformed or does not match the component's interface."""

    status = 400


class MalformedRequest(BadRequest):
    """The body is not an inference request at all (bad JSON, wrong field types, bad binary framing)."""


class UnknownInput(BadRequest):
    def __init__(self, name: str, expected: list[str]) -> None:
        super().__init__(
            f"input {name!r} is not an input of this component; its inputs are {', '.join(expected)} "
            f"(GET the model metadata to see names, datatypes and shapes)"
        )
        self.name = name


class MissingInput(BadRequest):
    def __init__(self, missing: list[str]) -> None:
        super().__init__(f"required input(s) {', '.join(map(repr, missing))} missing from the request")
        self.missing = missing


class UnknownOutput(BadRequest):
    def __init__(self, name: str, available: list[str]) -> None:
        super().__init__(
            f"output {name!r} was requested but this component produces only {', '.join(available)}"
        )
        self.name = name


class DatatypeMismatch(BadRequest):
    def __init__(self, name: str, got: str, expected: str) -> None:
        super().__init__(f"input {name!r} has datatype {got}, but the component expects {expected}")
        self.name = name


class ShapeMismatch(BadRequest):
    def __init__(self, name: str, got: list[int], expected: list[int]) -> None:
        super().__init__(
            f"input {name!r} has shape {got}, but the component expects {expected} (-1 is any size)"
        )
        self.name = name


class DataLengthMismatch(BadRequest):
    def __init__(self, name: str, got: int, expected: int, shape: list[int], unit: str = "elements") -> None:
        super().__init__(
            f"input {name!r} holds {got} {unit}, but its shape {shape} needs {expected}; "
            f"send the data row-major (flat or nested) with exactly that many"
        )
        self.name = name


class TooManyValues(BadRequest):
    """A request over one of the caps of what a request may hold."""

    def __init__(self, what: str, cap_name: str, cap: int) -> None:
        setting = {"tensor elements": "MAX_TENSOR_ELEMENTS", "BYTES elements": "MAX_BYTES_ELEMENTS"}.get(
            cap_name, "MAX_ROWS"
        )
        super().__init__(
            f"{what}, over the cap of {cap} {cap_name} per request; split it into smaller requests "
            f"(the operator can raise BRAIN_{setting})"
        )
        self.cap = cap


class InvalidValue(BadRequest):
    """A value cannot be represented in the tensor's datatype (wrong JSON type, out of range)."""

    def __init__(self, name: str, datatype: str, reason: str) -> None:
        super().__init__(f"input {name!r} ({datatype}): {reason}")
        self.name = name


class NonFiniteValue(BadRequest):
    def __init__(self, name: str, count: int) -> None:
        super().__init__(
            f"input {name!r} contains {count} NaN, infinite or null value(s), which this component does "
            f"not accept; replace missing values before calling it"
        )
        self.name = name


# --- 401 / 403 / 404 / 410 ------------------------------------------------------------------------------


class Unauthorized(ServeError):
    status = 401

    def __init__(self, reason: str = "no API key was sent") -> None:
        super().__init__(
            f"{reason}; send the key as `Authorization: Bearer <key>`, and ask your tenant's admin "
            f"for a new one (`brain keys issue`) if it is lost, expired or revoked"
        )

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="industry-brain"'}


class Forbidden(ServeError):
    status = 403

    def __init__(self, role: str, action: str, allowed: list[str]) -> None:
        super().__init__(
            f"role {role!r} may not {action}; it needs one of: {', '.join(allowed)}. "
            f"Use a key issued for such a role"
        )


class OperatorOnly(ServeError):
    status = 403

    def __init__(self, action: str) -> None:
        super().__init__(
            f"only the platform's operators may {action}: use an admin or ops key of the platform "
            f"operator's tenant (`platform`, or a tenant of kind operator)"
        )


class NotFound(ServeError):
    """Also what a caller gets for something that exists but is not visible to it: the two must look alike."""

    status = 404

    def __init__(self, what: str, hint: str = "") -> None:
        super().__init__(f"{what} was not found" + (f"; {hint}" if hint else ""))


class NotYours(ServeError):
    """A component the caller can see but its tenant does not own."""

    status = 403

    def __init__(self, name: str, owner: str) -> None:
        super().__init__(
            f"component {name!r} belongs to tenant {owner!r}; only that tenant's keys (admin or "
            f"developer; ops for serving) or a platform operator may change or export it"
        )


class PickleUpload(ServeError):
    """A pickle-based file sent to the registry API: refused from its name or first bytes, unread."""

    status = 422

    def __init__(self, file_name: str) -> None:
        super().__init__(
            f"file {file_name!r} is pickle-based (by its name or its first bytes) and was refused "
            f"without being loaded: loading a pickle runs code. Convert the model to ONNX on your side "
            f"(`brain components register --sklearn FILE` or `--torch` does) and upload model.onnx, "
            f"or keep torch as torch.json + weights.safetensors"
        )


class Gone(ServeError):
    """A component its owner (or an operator) deprecated: no longer served."""

    status = 410

    def __init__(self, name: str, replacement: str | None) -> None:
        instead = (
            f"use {replacement!r} instead (`GET /v2/models/{replacement}` describes it)"
            if replacement
            else "`GET /api/v1/components` lists what you can use"
        )
        super().__init__(f"component {name!r} is deprecated and no longer served; {instead}")
        self.replacement = replacement


class Conflict(ServeError):
    status = 409

    def __init__(self, what: str, hint: str) -> None:
        super().__init__(f"{what} already exists; {hint}")


# --- 413 / 429 / 503 ------------------------------------------------------------------------------


class PayloadTooLarge(ServeError):
    status = 413

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            f"request body is {size} bytes, over the limit of {limit} bytes; split the batch into "
            f"smaller requests (the operator can raise BRAIN_MAX_BODY_BYTES)"
        )
        self.size = size
        self.limit = limit


class RateLimited(ServeError):
    status = 429

    def __init__(self, tenant: str, retry_after: float, reason: str = "") -> None:
        why = reason or "is over its request rate"
        super().__init__(f"tenant {tenant!r} {why}; retry after {_whole_seconds(retry_after)} s")
        self.tenant = tenant
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(_whole_seconds(self.retry_after))}


class AuthLocked(ServeError):
    """Too many failed authentications from one address."""

    status = 429

    def __init__(self, limit: int, window: float, retry_after: float) -> None:
        super().__init__(
            f"more than {limit} failed authentications from this address within {_whole_seconds(window)} s; "
            f"retry after {_whole_seconds(retry_after)} s with a valid key (the operator can change "
            f"BRAIN_FAILED_AUTH_LIMIT and BRAIN_FAILED_AUTH_WINDOW_SECONDS)"
        )
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(_whole_seconds(self.retry_after))}


class QuotaExceeded(RateLimited):
    def __init__(self, tenant: str, used: int, quota: int, month: str, retry_after: float) -> None:
        super().__init__(
            tenant,
            retry_after,
            f"has used {used} of its {quota} calls for {month}; ask the operator to raise the monthly "
            f"quota, or wait for next month",
        )
        self.used = used
        self.quota = quota


class NotReady(ServeError):
    status = 503

    def __init__(self, what: str, retry_after: float = 1.0) -> None:
        super().__init__(f"{what} is not ready yet; retry in a few seconds")
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(_whole_seconds(self.retry_after))}


class RegistryUnavailable(NotReady):
    """The component registry (MLflow, or its database) did not answer: 503, never a 500 or a hang."""

    def __init__(self, retry_after: float = 5.0) -> None:
        ServeError.__init__(
            self,
            "the component registry (MLflow) cannot be reached, so this component cannot be looked up or "
            "loaded now; components already loaded keep serving; retry in a few seconds",
        )
        self.retry_after = retry_after


def _whole_seconds(seconds: float) -> int:
    # Retry-After takes whole seconds; round up so a client that obeys it is never early.
    return max(1, math.ceil(seconds))


class NotServable(HubError):
    """A version stored in a format the centre does not serve (pickle): 422, the message says which."""

    status = 422


class StepFailed(ServeError):
    """A pipeline's step refused its inputs (the status of its own refusal, 4xx) or could not be loaded
    (503): the step and its component named, never a 500."""

    status = 422

    def __init__(self, step: str, component: str, reason: str, status: int = 422) -> None:
        super().__init__(f"pipeline step {step!r} ({component}) failed: {reason}")
        self.status = status
        self.step = step

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "5"} if self.status == 503 else {}
