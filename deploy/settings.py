"""Settings of the platform (env prefix ``BRAIN_``), and the scheduler's settings as the platform sets it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from deploy.jobs import PROGRAMS
from scheduler.settings import SchedulerSettings

TENANT_QUEUE: dict[str, float] = {"cpu": 4.0, "memory_mib": 16384.0}
"""The default guarantee of a new tenant's scheduler queue."""


class PlatformSettings(BaseSettings):
    """Where the platform keeps its state, where it listens, and the default limits of a tenant."""

    # Other packages read BRAIN_* variables too, so unknown ones are not an error here.
    model_config = SettingsConfigDict(env_prefix="BRAIN_", extra="ignore")

    home: Path = Field(default=Path("~/.industry-brain"))
    """The data folder of the embedded stores (BRAIN_HOME)."""

    database_url: str | None = None
    """SQLAlchemy URL of the platform state (tenants, keys, audit, usage). Default: SQLite (WAL) at
    ``$BRAIN_HOME/platform.db``; in production ``postgresql+psycopg://user:password@host/db``."""

    host: str = "127.0.0.1"
    """Interface the capability centre listens on; loopback by default so nothing is exposed by accident."""

    port: int = Field(default=8000, ge=1, le=65535)
    """HTTP port of the capability centre."""

    portal_port: int = Field(default=8400, ge=1, le=65535)
    """HTTP port of the portal (能力中心门户, `deploy/portal`), on the same interface as the centre."""

    grpc_port: int = Field(default=8001, ge=0, le=65535)
    """gRPC port of the capability centre (the Open Inference Protocol's `inference.GRPCInferenceService`,
    on the same interface as HTTP, BRAIN_HOST); 8001 as Triton's and KServe's. 0 turns gRPC off."""

    max_body_bytes: int = Field(default=16 * 1024 * 1024, gt=0)
    """Largest request body accepted; larger ones get 413."""

    max_tensor_elements: int = Field(default=4 * 1024 * 1024, gt=0)
    """Most tensor elements (all inputs together) one inference request may carry; more get 400 naming
    this cap. 4 Mi is a 16 MiB body of FP32; checked from the shapes before any array is built."""

    max_bytes_elements: int = Field(default=65_536, gt=0)
    """Most BYTES (string) elements one inference request may carry; each becomes a Python object, so
    this is far below max_tensor_elements (a 16 MiB body of empty elements would be 4 million)."""

    max_rows: int = Field(default=65_536, gt=0)
    """Most rows (the first dimension of the inputs; items of the rows API) per request; split larger
    batches."""

    failed_auth_limit: int = Field(default=20, gt=0)
    """Failed authentications one client address may make within failed_auth_window_seconds; after
    that its calls with unknown keys get 429 with Retry-After, without a database lookup."""

    failed_auth_window_seconds: float = Field(default=60.0, gt=0)
    """The window of failed_auth_limit (the address may try again when it has passed)."""

    unknown_key_cache_seconds: float = Field(default=10.0, ge=0)
    """How long a key found unknown or revoked is refused from memory, without asking the database
    again. A key issued in another process works after at most this long if it was tried before."""

    access_log: bool = False
    """Ray Serve's access log line per request. Off by default: every call is already counted (usage
    metering) and timed (Prometheus), and the log line costs about 7% of a replica's CPU."""

    drift_sample_rate: float = Field(default=0.05, ge=0, le=1)
    """Share of successful calls whose rows are counted into their version's drift histograms (one call
    in round(1/rate)); 0 turns drift monitoring off. Only versions registered with training statistics
    are monitored; no payload is kept, only bin counts. At 0.05 the statistics cost under 5% of a warm
    call's CPU in the replica (bench/drift_overhead.py); 2,000 calls/s give 100 sampled rows a second."""

    payload_samples_keep: int = Field(default=1000, ge=1, le=1_000_000)
    """Payload samples kept per component version (the newest), for private components whose owner
    turned sampling on (`ServingPolicy.payload_sample_rate`, deploy/centre/payloads.py)."""

    preload: bool = True
    """Whether a replica loads every servable component's default version in the background when it
    starts (up to its resident bound), so that first calls do not wait for a load."""

    usage_flush_seconds: float = Field(default=2.0, gt=0)
    """How often in-memory usage counters are merged into the database: a crash loses at most this much."""

    default_rate_per_second: float = Field(default=100.0, gt=0)
    """Sustained requests per second of a tenant that has no rate of its own (per replica)."""

    default_burst: int = Field(default=200, gt=0)
    """Requests a tenant may send at once above its sustained rate (the token bucket's size)."""

    default_monthly_quota: int | None = Field(default=1_000_000, gt=0)
    """Calls per calendar month of a tenant that has no quota of its own; None means unlimited."""

    onnx_threads: int = Field(default=1, ge=1)
    """Intra-op threads per ONNX session (and torch's threads in the torch runtime) of a replica. One is
    fastest for small models under load: requests are already parallel across replicas and the event
    loop, and intra-op threads would only contend with them on a small host."""

    debug: bool = False
    """BRAIN_DEBUG=1: the `brain` CLI shows the traceback of an unexpected error instead of one line."""

    key_ttl_days: int = Field(default=365, gt=0)
    """Lifetime of an API key when the issuer gives none."""

    key_cache_seconds: float = Field(default=30.0, ge=0)
    """How long a verified key is trusted without asking the database again. A revocation made in another
    process takes effect after at most this long (at once in the process that revoked it)."""

    tenant_queue_guaranteed: dict[str, float] = Field(default_factory=lambda: dict(TENANT_QUEUE))
    """Guaranteed quota of the scheduler queue that `brain tenants create` makes for a new tenant
    (BRAIN_TENANT_QUEUE_GUARANTEED, JSON: cpu, memory_mib, gpu). An operator changes one tenant's with
    `brain pools apply` (its queue in the topology file) or ``PUT /api/v1/topology``."""

    @property
    def home_dir(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home_dir / 'platform.db'}"


API_AUTH = "deploy.tenancy.scheduler_auth:authenticator"
"""The scheduler REST API's key check: the platform's tenant API keys."""


def scheduler_settings(**overrides: Any) -> SchedulerSettings:
    """The scheduler's settings as the platform composes it: the env's settings (and ``overrides``) plus
    the platform's job programs and its tenant-key check for the REST API, where the env names none."""
    settings = SchedulerSettings(**overrides)
    return settings.model_copy(
        update={
            "job_programs": {**PROGRAMS, **settings.job_programs},
            "api_auth": settings.api_auth or API_AUTH,
        }
    )


def scheduler_env() -> dict[str, str]:
    """Env vars that give a scheduler process (``python -m scheduler.service``) the platform's job programs
    and key check."""
    settings = scheduler_settings()
    return {"BRAIN_JOB_PROGRAMS": json.dumps(settings.job_programs), "BRAIN_API_AUTH": str(settings.api_auth)}
