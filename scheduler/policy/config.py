"""How the policy orders and admits work."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from scheduler.model import Resources
from scheduler.policy.scorers import make_scorer
from scheduler.policy.scorers.base import Scorer
from scheduler.settings import SchedulerSettings


class Ordering(StrEnum):
    FAIR = "fair"
    """Priority class (with aging) first, then the tenant with the smallest weighted dominant share."""
    FIFO = "fifo"
    """Submit time only; no tenants, no priorities (the baseline)."""


@dataclass(slots=True)
class PolicyConfig:
    scorer: Scorer
    ordering: Ordering = Ordering.FAIR
    backfill: bool = True
    """False: the first job that does not fit blocks every job behind it (strict FIFO head-of-line)."""
    preemption: bool = True
    aging_step_s: float = 600.0
    aging_max_boost: int = 2
    reserve_after_s: float = 1800.0
    """A job waiting this long that still does not fit gets one node reserved for it."""
    max_reservations: int = 8
    """Reserved nodes per cycle at most, so starving giants cannot freeze the cluster."""
    fair_share_slack: float = 0.5
    """A tenant yields to others once its dominant share exceeds (1 + slack) × its weighted fair share.

    Inside each side of that line tenants go by dominant share (DRF), then job age.

    Without slack, tenants that hover around an equal share keep swapping places and their small jobs
    wait behind each other's. The slack was chosen on a former fairness measure of the Alibaba replay (the
    tenants' mean runtime / completion time, equal by construction); on today's measure (Jain's index of
    the backlogged tenants' dominant shares, `scheduler.sim._replay`) at load 1.0, slack 0 gives 0.99478
    and slack 0.5 gives 0.99455 at the same mean wait, strict FIFO 0.99364.
    """
    drain_nodes: int = 2
    """Per whole-node shape of the workload (jobs of 4 or more GPUs, `Scorer.whole_node_shapes`), the
    nodes kept draining for it: the ones expected to empty first take only work that ends before they
    do, and other work only when it fits nowhere else. 0: none. Not with FIFO ordering (the baselines, and
    the fill experiment, in which tasks never leave). On the Alibaba replay: 1 node left gpuspec10 @ 0.8
    at 0.75 s mean wait, 2 brought it to 0.56 s, 3 to 0.51 s but cost more at load 1.0 (docs/architecture.md).
    """
    shortest_first: bool = True
    """Inside a tenant's queue, its jobs of fewer than 4 GPUs go by expected run time (`Job.runtime`, the
    spec's `max_runtime_s` live) rounded up to a power of two, then age; its whole-node jobs keep their
    places in age order (drains and reservations serve them), and jobs without a run time come last. It
    only reorders one tenant's own jobs, never one tenant before another. On the Alibaba replay it met
    gpushare40 @ 1.0 (9.43 → 8.66 s mean wait) and shortened every cell's mean wait, where sorting every
    job by run time broke fairness cells (docs/architecture.md)."""
    max_victims: int = 32
    """Running jobs looked at, at most, to make room for one preempting job."""
    max_admissions: int | None = None
    """Stop the cycle after this many admissions (None: admit everything that fits)."""


def policy_from_settings(
    settings: SchedulerSettings, workload: Sequence[tuple[Resources, float]] | None = None
) -> PolicyConfig:
    """The policy the settings describe; `workload` ((bundle, weight) classes) is needed for FGD."""
    return PolicyConfig(
        scorer=make_scorer(settings.placement_scorer, workload),
        backfill=settings.backfill,
        preemption=settings.preemption,
        aging_step_s=settings.aging_step_s,
        aging_max_boost=settings.aging_max_boost,
        reserve_after_s=settings.reserve_after_s,
        fair_share_slack=settings.fair_share_slack,
        drain_nodes=settings.drain_nodes,
        shortest_first=settings.shortest_first,
    )
