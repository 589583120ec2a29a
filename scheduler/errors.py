"""The scheduler's error hierarchy.

Every error carries the HTTP status an API should answer with, and a message that says what was wrong
and what to do about it.
"""

from __future__ import annotations

from collections.abc import Iterable


class SchedulerError(Exception):
    """Root of all scheduler errors."""

    status: int = 400
    headers: dict[str, str] | None = None
    """HTTP headers the answer carries (Retry-After of a 429)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unauthenticated(SchedulerError):
    """No API key, or one the platform does not accept (unknown, revoked, expired)."""

    status = 401

    def __init__(self, reason: str = "no API key was sent") -> None:
        super().__init__(reason)


class Forbidden(SchedulerError):
    """A valid key whose role or tenant may not do this."""

    status = 403

    def __init__(self, what: str, fix: str) -> None:
        super().__init__(f"{what}; {fix}")


class UnknownTenant(SchedulerError):
    status = 404

    def __init__(self, tenant: str) -> None:
        super().__init__(
            f"tenant {tenant!r} has no queue; add a leaf queue with `tenant: {tenant}` "
            "to the queue tree first"
        )
        self.tenant = tenant


class UnknownQueue(SchedulerError):
    status = 404

    def __init__(self, queue: str) -> None:
        super().__init__(f"queue {queue!r} does not exist; `brain queues list` shows the queue tree")
        self.queue = queue


class UnknownPool(SchedulerError):
    status = 404

    def __init__(self, pool: str) -> None:
        super().__init__(f"pool {pool!r} is not registered; `brain pools list` shows the registered pools")
        self.pool = pool


class UnknownRegion(SchedulerError):
    status = 422

    def __init__(self, region: str, known: Iterable[str]) -> None:
        names = ", ".join(sorted(known))
        super().__init__(
            f"region {region!r} is neither a Shandong city nor a residency zone of a pool; "
            f"use one of: {names}"
        )
        self.region = region


class ResourcesImpossible(SchedulerError):
    """A request no node could ever hold, or one that contradicts itself."""

    status = 422

    def __init__(self, what: str, fix: str) -> None:
        super().__init__(f"{what}; {fix}")


class QueueTreeInvalid(SchedulerError):
    status = 422

    def __init__(self, problem: str) -> None:
        super().__init__(f"the queue tree is invalid: {problem}")


class TraceNotFound(SchedulerError):
    status = 404

    def __init__(self, path: str, missing: str) -> None:
        super().__init__(
            f"trace folder {path!r} lacks {missing}; pass --trace pointing at the alibaba-gpu-v2023 folder "
            f"(set BRAIN_TRACE_DIR to make it the default)"
        )


class TraceInvalid(SchedulerError):
    """A trace file that cannot be read as the simulator needs it; names the file, the line and the fix."""

    status = 422

    def __init__(self, file: str, line: int, problem: str, fix: str) -> None:
        self.file = file
        self.line = line
        super().__init__(f"{file}, line {line}: {problem}; {fix}")


class UnknownScorer(SchedulerError):
    status = 422

    def __init__(self, name: str, known: Iterable[str]) -> None:
        super().__init__(f"placement scorer {name!r} is unknown; choose one of: {', '.join(sorted(known))}")


class JobNotFound(SchedulerError):
    status = 404

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id!r} does not exist; `brain jobs list` shows the jobs")
        self.job_id = job_id


class IdempotencyConflict(SchedulerError):
    """The same idempotency key was used before for a different job."""

    status = 409

    def __init__(self, key: str, job_id: str) -> None:
        super().__init__(
            f"idempotency key {key!r} was already used for job {job_id} with a different spec; "
            "use a new key for a new job, or resend exactly the same spec to get the same job back"
        )


class SpecInvalid(SchedulerError):
    """A spec (job, pool, queue, topology file) that does not parse or validate."""

    status = 422

    def __init__(self, what: str, problem: str) -> None:
        super().__init__(f"{what} is invalid: {problem}")


class PoolUnreachable(SchedulerError):
    status = 503

    def __init__(self, pool: str, address: str, problem: str) -> None:
        super().__init__(
            f"pool {pool!r} at {address} does not answer ({problem}); check that its Ray cluster runs and "
            "that its auth token is right (`brain pools show`)"
        )
        self.pool = pool

    @property
    def for_tenants(self) -> str:
        """The message without the pool's internal address and Ray's answer, for a tenant's key."""
        return f"pool {self.pool!r} does not answer now; try again later, or ask the platform's operators"


class TooManyJobs(SchedulerError):
    """A tenant already has as many queued jobs as the scheduler allows."""

    status = 429

    def __init__(self, tenant: str, cap: int) -> None:
        super().__init__(
            f"tenant {tenant!r} already has {cap} queued jobs, the cap per tenant "
            f"(BRAIN_MAX_QUEUED_JOBS_PER_TENANT={cap}); wait for some to start or cancel some"
        )


class BodyTooLarge(SchedulerError):
    status = 413

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"the request body is larger than {limit} bytes (BRAIN_API_MAX_BODY_BYTES); send a smaller spec"
        )


class RateLimited(SchedulerError):
    status = 429

    def __init__(self, rate: float, retry_after_s: float) -> None:
        super().__init__(
            f"too many requests with this key (limit {rate:g} per second, BRAIN_API_RATE_PER_SECOND); "
            f"retry after {retry_after_s:.1f} s"
        )
        self.headers = {"Retry-After": str(max(1, round(retry_after_s + 0.5)))}


class BackendError(Exception):
    """A pool's backend could not be reached or refused a call; the loop retries in a later cycle.

    Not a `SchedulerError`: it never reaches a user as such, the loop and the API turn it into
    `PoolUnreachable` or a retry."""


# --- what the SDK raises for the REST API's answers (`scheduler.sdk`) --------------------------------


class APIError(SchedulerError):
    """The scheduler API refused a request; `status` and `message` are the server's."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Invalid(APIError):
    """400 or 422: the request or the spec in it is wrong; the message says what."""


class NotAuthenticated(APIError):
    """401: no key, or one the platform does not accept."""


class PermissionDenied(APIError):
    """403: the key's role or tenant may not do this."""


class NotFound(APIError):
    """404: no such job, pool or tenant queue (or one of another tenant)."""


class Conflict(APIError):
    """409: the idempotency key was used before for a different job."""


class TooLarge(APIError):
    """413: the request body is over the API's limit (`api_max_body_bytes`); the message says it."""


class TooManyRequests(APIError):
    """429: over the key's request rate, the address's failed authentications, or the tenant's cap
    of queued jobs; ``retry_after`` is the server's Retry-After in seconds, when it sent one."""

    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(status, message)
        self.retry_after = retry_after


class Unavailable(APIError):
    """5xx, or no answer at all: the scheduler or a pool behind it is down."""
