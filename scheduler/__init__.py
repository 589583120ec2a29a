"""The compute scheduler (算力调度): pools, tenant queues and quotas, and a pure placement policy.

The policy (`schedule`) is pure and deterministic: a `ClusterState` in, a list of `Admit` / `Preempt`
decisions out. The live loop and the trace simulator (`scheduler.sim`) both drive it.
"""

from scheduler.errors import (
    QueueTreeInvalid,
    ResourcesImpossible,
    SchedulerError,
    TraceNotFound,
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
from scheduler.spec import JobSpec, PoolSpec, QueueSpec, ResourcesSpec
from scheduler.state import ClusterState, RunningJob

__all__ = [
    "GPU_MILLI",
    "SCORERS",
    "SHANDONG_CITIES",
    "Admit",
    "Amount",
    "BundlePlacement",
    "ClusterState",
    "Decision",
    "GangStrategy",
    "Job",
    "JobSpec",
    "Node",
    "Ordering",
    "PolicyConfig",
    "Pool",
    "PoolKind",
    "PoolSpec",
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
    "TraceNotFound",
    "UnknownPool",
    "UnknownQueue",
    "UnknownRegion",
    "UnknownScorer",
    "UnknownTenant",
    "make_scorer",
    "policy_from_settings",
    "schedule",
]
