"""Settings of the compute scheduler (env prefix ``BRAIN_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SchedulerSettings(BaseSettings):
    """How the scheduler places and admits work, and where the simulator finds its trace."""

    model_config = SettingsConfigDict(env_prefix="BRAIN_", extra="ignore")

    home: Path = Path("~/.industry-brain")
    """The platform's data folder (BRAIN_HOME)."""

    placement_scorer: str = "fgd"
    """Name of the placement scorer: first-fit, best-fit, dot-product, fgd, price, carbon, pack, spread."""

    cycle_interval_s: float = Field(default=1.0, gt=0)
    """Seconds between two scheduling cycles of the live loop."""

    backfill: bool = True
    """Let smaller jobs start when the job ahead of them does not fit (no head-of-line blocking)."""

    preemption: bool = True
    """Let a job within its guaranteed quota, or of a higher priority class, evict borrowers."""

    fair_share_slack: float = Field(default=0.5, ge=0)
    """A tenant yields to tenants below their share once it holds (1 + slack) × its weighted fair share."""

    aging_step_s: float = Field(default=600.0, gt=0)
    """A waiting job gains one priority level for every this many seconds it has waited."""

    aging_max_boost: int = Field(default=2, ge=0)
    """The most priority levels aging can add, so old best-effort work never outranks critical work."""

    reserve_after_s: float = Field(default=1800.0, gt=0)
    """A job waiting this long gets a node reserved for it, so backfill cannot starve it."""

    drain_nodes: int = Field(default=2, ge=0)
    """Per 4- or 8-GPU shape of the workload, nodes kept draining for it (take only work that ends first)."""

    shortest_first: bool = True
    """Inside a tenant's queue, its jobs of under 4 GPUs by declared run time (rounded up to a power of two),
    then age; whole-node jobs keep their age order (`PolicyConfig.shortest_first`)."""

    trace_dir: Path = Path("../shared/traces/alibaba-gpu-v2023")
    """Folder of the Alibaba GPU trace v2023 used by `brain sim` (BRAIN_TRACE_DIR)."""

    sim_seed: int = 2023
    """Seed of the simulator's resampling, so every run of `brain sim fill` is reproducible."""

    scheduler_db_url: str | None = None
    """SQLAlchemy URL of the scheduler's state (BRAIN_SCHEDULER_DB_URL). Default: SQLite (WAL) at
    ``$BRAIN_HOME/scheduler.db``; in production ``postgresql+psycopg://user:password@host/db``, which may be
    the platform's own database (the scheduler's tables and Alembic version table have their own names)."""

    max_jobs_per_pool: int = Field(default=24, ge=1)
    """Jobs in flight (submitted, not finished) per Ray cluster at most: Ray's Jobs API grows unstable
    past about 30 concurrent jobs and has no queue of its own (ray #37894, #41241)."""

    job_python: str | None = None
    """Interpreter (absolute path on the pools' nodes) that runs the built-in job kinds (training,
    batch-inference, governance). Default: the scheduler's own, right where the nodes share its
    environment (the embedded platform, the project's images)."""

    logs_tail_lines: int = Field(default=50, ge=0)
    """Lines of a finished job's driver log kept in the database (the full log stays in Ray)."""

    default_city: str = "jinan"
    """City of a pool registered by address alone (`--pool NAME=URL` of the scheduler service)."""

    ray_timeout_s: float = Field(default=10.0, gt=0)
    """Timeout of one call to a Ray cluster's dashboard; a pool that does not answer is unhealthy."""

    pool_lost_after_s: float = Field(default=60.0, gt=0)
    """Seconds a pool may stay unreachable before the jobs on it are given up (BRAIN_POOL_LOST_AFTER_S):
    each then follows its retry policy, as when Ray forgot it: run again elsewhere ("outcome unknown,
    retried") or ended ("marked lost"); one never accepted by the pool is simply requeued. Attempts given up
    are stopped if the pool answers again (it was cut off rather than dead). Queued work avoids an unhealthy
    pool from its first failed health check."""

    leader_lease_s: float = Field(default=15.0, gt=0)
    """Seconds the leader lease lasts (BRAIN_LEADER_LEASE_S). Of several schedulers on one database, only
    the holder of the lease places work; it renews the lease every cycle, and another takes over within
    this time plus one cycle once the holder dies (at once when it stops cleanly). Keep it well above the
    longest cycle and the clock skew between the schedulers' hosts."""

    api_host: str = "127.0.0.1"
    """Interface the REST API listens on (`python -m scheduler.service --api-port`); loopback by default."""

    api_auth: str | None = None
    """Import path ``module:factory`` of the REST API's key check (BRAIN_API_AUTH): ``factory(settings)``
    returns a callable from a request's key to its `scheduler.api.Caller`. No default: the scheduler
    knows no keys of its own, so its API does not start without one. The platform sets its tenant-key
    check here when it starts the scheduler."""

    job_programs: dict[str, str] = Field(default_factory=dict)
    """The program (a module run with ``python -m``) of each built-in job kind this scheduler offers
    (BRAIN_JOB_PROGRAMS, JSON): ``{"training": "pkg.train", …}``. A kind without a program is refused at
    submission with a message naming it; ``entrypoint`` needs none. The platform registers its own."""

    api_max_body_bytes: int = Field(default=1 << 20, ge=1024)
    """Largest request body the REST API reads (BRAIN_API_MAX_BODY_BYTES); a larger one is refused with 413
    before any of it is parsed."""

    api_rate_per_second: float = Field(default=20.0, gt=0)
    """Sustained requests per second per API key (BRAIN_API_RATE_PER_SECOND); beyond it, 429 with
    Retry-After. Requests without a valid key count against their client address."""

    api_burst: int = Field(default=40, ge=1)
    """Requests a key may send at once before the sustained rate applies (BRAIN_API_BURST)."""

    max_queued_jobs_per_tenant: int = Field(default=200, ge=1)
    """Queued jobs one tenant may hold at most (BRAIN_MAX_QUEUED_JOBS_PER_TENANT); one more is refused with
    429, so that no tenant can flood the queue and the scheduler's cycle."""

    tenant_storage: str = "tenants/{tenant}"
    """Each tenant's storage root (BRAIN_TENANT_STORAGE), relative to the home folder unless absolute;
    ``{tenant}`` is the tenant's name. Every path a tenant's job reads or writes must resolve inside it
    (or start with one of `storage_uri_prefixes`); a relative path in a job spec is taken from it."""

    storage_uri_prefixes: list[str] = Field(default_factory=list)
    """URI prefixes an operator approved for tenants' job data (BRAIN_STORAGE_URI_PREFIXES, JSON), e.g.
    ``["s3://brain-data/{tenant}/"]``; ``{tenant}`` is the job's tenant. Empty: local paths only."""

    job_env_denied_prefixes: list[str] = Field(
        default_factory=lambda: ["BRAIN_", "LD_", "PYTHON", "RAY_", "DYLD_", "PATH", "HOME", "OMP_", "CUDA_"]
    )
    """Environment variable names a tenant's job may not set (BRAIN_JOB_ENV_DENIED_PREFIXES, JSON): they
    steer the platform's code, the dynamic loader, Python or Ray. A tenant's ``runtime_env`` holds only
    ``env_vars`` whose names start with none of these."""

    centre_pools: list[str] = Field(default_factory=lambda: ["local"])
    """Pools on the capability centre's own Ray cluster (BRAIN_CENTRE_POOLS, JSON; `local` under
    `brain up`): never a tenant's sandbox, whatever their spec says, since a job there reaches the
    platform's databases, keys and Serve application."""

    def tenant_root(self, tenant: str) -> Path:
        """The storage root of `tenant`'s jobs (`tenant_storage`)."""
        root = Path(self.tenant_storage.format(tenant=tenant)).expanduser()
        return root if root.is_absolute() else self.home_dir / root

    @property
    def database_url(self) -> str:
        """`scheduler_db_url`, or the embedded SQLite file under the home folder."""
        return self.scheduler_db_url or f"sqlite:///{self.home_dir / 'scheduler.db'}"

    @property
    def home_dir(self) -> Path:
        """`home` with ``~`` expanded."""
        return self.home.expanduser()
