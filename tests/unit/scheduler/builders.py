"""Builders for the scheduler's unit tests: small clusters, jobs, one cycle applied."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from scheduler import (
    Amount,
    ClusterState,
    Decision,
    GangStrategy,
    Job,
    Node,
    PolicyConfig,
    Pool,
    Queue,
    QueueTree,
    Resources,
    make_scorer,
    schedule,
)
from scheduler.model import parse_gpu_types
from scheduler.settings import SchedulerSettings
from scheduler.sim import trace_available


def _trace_dir() -> Path:
    configured = SchedulerSettings().trace_dir.expanduser()
    if configured.is_dir():
        return configured
    # The default is relative to the repository root; tests may run from elsewhere.
    return Path(__file__).resolve().parents[3] / configured


TRACE_DIR = _trace_dir()

needs_trace = pytest.mark.skipif(
    trace_available(TRACE_DIR) is not None,
    reason=f"the Alibaba GPU trace v2023 is not at {TRACE_DIR} (set BRAIN_TRACE_DIR to where it is)",
)


def gpu_node(
    name: str, pool: str, gpus: int = 8, cpu: int = 64_000, mem: int = 262_144, kind: str = "A10"
) -> Node:
    return Node(
        id=name, pool=pool, cpu_milli=cpu, memory_mib=mem, gpu_count=gpus, gpu_type=kind if gpus else None
    )


def job(
    name: str,
    tenant: str = "a",
    *,
    cpu: int = 1000,
    mem: int = 1024,
    gpu: int = 0,
    milli: int = 1000,
    bundles: int = 1,
    priority: int = 0,
    submit: float = 0.0,
    regions: Sequence[str] | None = None,
    gpu_type: str | None = None,
    strategy: str = "PACK",
) -> Job:
    bundle = Resources(
        cpu_milli=cpu, memory_mib=mem, gpu=gpu, gpu_milli=milli, gpu_types=parse_gpu_types(gpu_type)
    )
    return Job(
        id=name,
        tenant=tenant,
        queue=tenant,
        bundles=(bundle,) * bundles,
        priority=priority,
        strategy=GangStrategy(strategy),
        allowed_regions=frozenset(regions) if regions is not None else None,
        submit_time=submit,
    )


def two_city_state(
    tenants: Sequence[str] = ("a", "b"),
    nodes_per_pool: int = 2,
    queues: Sequence[Queue] | None = None,
) -> ClusterState:
    """济南 (zone north, cheap, dirty grid) and 青岛 (zone east, dear, clean grid), A10 nodes of 8 GPUs."""
    pools = [
        Pool("jinan-1", city="jinan", zone="north", price_per_gpu_hour=8.0, carbon_g_per_kwh=600.0),
        Pool("qingdao-1", city="qingdao", zone="east", price_per_gpu_hour=12.0, carbon_g_per_kwh=300.0),
    ]
    nodes = [gpu_node(f"{p.name}-n{i}", p.name) for p in pools for i in range(nodes_per_pool)]
    tree = QueueTree(queues) if queues is not None else QueueTree.flat(tenants)
    return ClusterState(pools, nodes, tree)


def gpus(n: float) -> Amount:
    return Amount(cpu_milli=10**9, memory_mib=10**12, gpu_milli=round(n * 1000))


def cycle(state: ClusterState, scorer: str = "first-fit", **options: object) -> list[Decision]:
    """Run one scheduling cycle and apply its decisions, as the live loop does."""
    config = PolicyConfig(scorer=make_scorer(scorer, [(Resources(gpu=1), 1.0)]), **options)  # type: ignore[arg-type]
    decisions = schedule(state, config)
    for decision in decisions:
        state.apply(decision)
    return decisions
