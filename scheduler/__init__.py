"""The compute scheduler (算力调度): pools, tenant queues and quotas, and a pure placement policy.

The policy (`schedule`) is pure and deterministic: a `ClusterState` in, a list of `Admit` / `Preempt`
decisions out. The live loop and the trace simulator (`scheduler.sim`) both drive it.

The live half, not imported here so that `import scheduler` stays light: `store` (SQLAlchemy state and
its migrations; engines from `db`), `backends` (the Ray Jobs API backend), `loop` (the live loop),
`service` (the process, ``python -m scheduler.service``), `api` (its REST API), `sdk` (the Python SDK
over that API), `control` (the same operations on the database directly) and `views` (how jobs and
pools are shown). `jobs` holds the job kinds' parameters; their programs are registered by whoever
composes the platform (`SchedulerSettings.job_programs`), as is the REST API's key check.

Must not import `model_hub`, `components` or `deploy` — not even by name in a string.
"""

from scheduler.errors import (
    Forbidden,
    IdempotencyConflict,
    JobNotFound,
    PoolUnreachable,
    QueueTreeInvalid,
    ResourcesImpossible,
    SchedulerError,
    SpecInvalid,
    TraceInvalid,
    TraceNotFound,
    Unauthenticated,
    UnknownPool,
    UnknownQueue,
    UnknownRegion,
    UnknownScorer,
    UnknownTenant,
)
from scheduler.model import (
    GPU_MILLI,
    SHANDONG_CITIES,
    Admit,
    Amount,
    BundlePlacement,
    Decision,
    GangStrategy,
    Job,
    Node,
    Pool,
    PoolKind,
    Preempt,
    Queue,
    QueueTree,
    Resources,
)
from scheduler.policy import (
    SCORERS,
    Ordering,
    PolicyConfig,
    Scorer,
    make_scorer,
    policy_from_settings,
    schedule,
)
from scheduler.settings import SchedulerSettings
from scheduler.spec import (
    ClusterPoolSpec,
    JobRequest,
    JobSpec,
    PoolSpec,
    QueueSpec,
    ResourcesSpec,
    TopologySpec,
)
from scheduler.state import ClusterState, RunningJob

__all__ = [
    "GPU_MILLI",
    "SCORERS",
    "SHANDONG_CITIES",
    "Admit",
    "Amount",
    "BundlePlacement",
    "ClusterPoolSpec",
    "ClusterState",
    "Decision",
    "Forbidden",
    "GangStrategy",
    "IdempotencyConflict",
    "Job",
    "JobNotFound",
    "JobRequest",
    "JobSpec",
    "Node",
    "Ordering",
    "PolicyConfig",
    "Pool",
    "PoolKind",
    "PoolSpec",
    "PoolUnreachable",
    "Preempt",
    "Queue",
    "QueueSpec",
    "QueueTree",
    "QueueTreeInvalid",
    "Resources",
    "ResourcesImpossible",
    "ResourcesSpec",
    "RunningJob",
    "SchedulerError",
    "SchedulerSettings",
    "Scorer",
    "SpecInvalid",
    "TopologySpec",
    "TraceInvalid",
    "TraceNotFound",
    "Unauthenticated",
    "UnknownPool",
    "UnknownQueue",
    "UnknownRegion",
    "UnknownScorer",
    "UnknownTenant",
    "make_scorer",
    "policy_from_settings",
    "schedule",
]
