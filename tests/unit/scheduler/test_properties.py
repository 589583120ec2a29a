"""Property tests: whatever the cluster, queues and jobs, the policy's decisions keep the invariants."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler import (
    GPU_MILLI,
    Admit,
    Amount,
    ClusterState,
    Decision,
    GangStrategy,
    Job,
    Node,
    Ordering,
    PolicyConfig,
    Pool,
    Preempt,
    Queue,
    QueueTree,
    Resources,
    ResourcesImpossible,
    UnknownRegion,
    make_scorer,
    schedule,
)
from scheduler.policy._quota import QuotaBook

CITIES = ["jinan", "qingdao", "yantai"]
TENANTS = ["t0", "t1", "t2"]
SCORER_NAMES = ["first-fit", "best-fit", "dot-product", "fgd", "spread", "price", "carbon"]


@st.composite
def clusters(draw: st.DrawFn) -> ClusterState:
    pools = [
        Pool(f"p{i}", city=CITIES[i], zone=draw(st.sampled_from(["north", "east"])), price_per_gpu_hour=i)
        for i in range(draw(st.integers(1, 3)))
    ]
    nodes = []
    for p in pools:
        for n in range(draw(st.integers(1, 3))):
            count = draw(st.sampled_from([0, 1, 2, 4, 8]))
            nodes.append(
                Node(
                    f"{p.name}-{n}",
                    p.name,
                    cpu_milli=draw(st.sampled_from([8_000, 32_000, 96_000])),
                    memory_mib=draw(st.sampled_from([16_384, 131_072])),
                    gpu_count=count,
                    gpu_type=draw(st.sampled_from(["T4", "A10"])) if count else None,
                )
            )
    quotas = st.none() | st.builds(
        Amount, st.integers(0, 100_000), st.integers(0, 300_000), st.integers(0, 12_000)
    )
    queues = [Queue("root", guaranteed=draw(quotas))]
    for tenant in TENANTS:
        guaranteed = draw(quotas)
        lending = draw(st.none() | st.just(Amount(0, 0, 0))) if guaranteed is not None else None
        queues.append(
            Queue(
                tenant,
                parent="root",
                tenant=tenant,
                guaranteed=guaranteed,
                borrowing_limit=draw(quotas),
                lending_limit=lending,
                weight=draw(st.sampled_from([1.0, 2.0])),
            )
        )
    return ClusterState(pools, nodes, QueueTree(queues))


@st.composite
def jobs(draw: st.DrawFn, index: int, top_priority: int) -> Job:
    gpus = draw(st.sampled_from([0, 0, 1, 1, 2, 4, 8]))
    milli = draw(st.sampled_from([GPU_MILLI, 250, 500, 700])) if gpus == 1 else GPU_MILLI
    bundle = Resources(
        cpu_milli=draw(st.sampled_from([500, 2_000, 8_000])),
        memory_mib=draw(st.sampled_from([1_024, 8_192, 32_768])),
        gpu=gpus,
        gpu_milli=milli,
        gpu_types=draw(
            st.sampled_from([None, None, frozenset({"T4"}), frozenset({"A10"}), frozenset({"A10", "T4"})])
        )
        if gpus
        else None,
    )
    tenant = draw(st.sampled_from(TENANTS))
    regions = draw(st.none() | st.sets(st.sampled_from(["north", "east", *CITIES]), min_size=1, max_size=2))
    return Job(
        id=f"j{index}",
        tenant=tenant,
        queue=tenant,
        bundles=(bundle,) * draw(st.integers(1, 3)),
        priority=draw(st.integers(0, top_priority)),
        strategy=draw(st.sampled_from(list(GangStrategy))),
        allowed_regions=frozenset(regions) if regions else None,
        submit_time=float(index),
    )


def check_invariants(state: ClusterState, decisions: list[Decision], config: PolicyConfig) -> None:
    alloc, cap = state.alloc, state.capacity
    # No node over-committed, no GPU over- or under-used, nothing landed on a GPU a node lacks.
    assert (alloc.cpu_free >= 0).all() and (alloc.memory_free >= 0).all()
    assert (alloc.gpu_free >= 0).all() and (alloc.gpu_free <= GPU_MILLI).all()
    assert (alloc.gpu_free[~cap.gpu_exists] == 0).all()
    # Accounting matches the running jobs exactly.
    used_cpu = int((cap.cpu - alloc.cpu_free).sum())
    assert used_cpu == sum(r.job.demand.cpu_milli for r in state.running.values())
    used_gpu = int((cap.gpu_exists * GPU_MILLI - alloc.gpu_free).sum())
    assert used_gpu == sum(r.job.demand.gpu_milli for r in state.running.values())
    book = QuotaBook(state.queues, state.usage)
    for name, queue in state.queues.queues.items():
        usage = state.usage[name]
        # No queue above its guarantee plus borrowing limit; the root never above its quota.
        if queue.guaranteed is not None:
            limit = np.array(queue.guaranteed.as_tuple(), dtype=float)
            if queue.borrowing_limit is not None:
                assert (usage <= limit + np.array(queue.borrowing_limit.as_tuple()) + 1e-6).all()
            if queue.parent is None:
                assert (usage <= limit + 1e-6).all()
        assert (book.available(name) >= -1e-6).all() or name != "root"
    for decision in decisions:
        if not isinstance(decision, Admit):
            continue
        run = state.running[decision.job_id]
        job = run.job
        # Gang all-or-nothing: one placement per bundle, every one committed.
        assert len(decision.placements) == len(job.bundles)
        nodes = {p.node for p in decision.placements}
        if job.strategy is GangStrategy.STRICT_PACK:
            assert len(nodes) == 1
        for bundle, placement in zip(job.bundles, decision.placements, strict=True):
            pool = cap.pools[int(cap.node_pool[placement.node])]
            assert not pool.cordoned
            if job.allowed_regions is not None:  # residency
                assert pool.zone in job.allowed_regions or pool.city in job.allowed_regions
            if bundle.gpu_types is not None:  # only a node of a type the bundle accepts
                assert cap.gpu_types[cap.gpu_type[placement.node]] in bundle.gpu_types
            assert len(placement.gpus) == bundle.gpu
            assert len(set(placement.gpus)) == bundle.gpu


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    state=clusters(),
    data=st.data(),
    scorer=st.sampled_from(SCORER_NAMES),
    ordering=st.sampled_from(list(Ordering)),
    preemption=st.booleans(),
)
def test_decisions_keep_every_invariant(
    state: ClusterState, data: st.DataObject, scorer: str, ordering: Ordering, preemption: bool
) -> None:
    workload = [
        (Resources(cpu_milli=2000, gpu=1, gpu_milli=500), 1.0),
        (Resources(cpu_milli=2000, gpu=2), 1.0),
    ]
    config = PolicyConfig(
        scorer=make_scorer(scorer, workload), ordering=ordering, preemption=preemption, reserve_after_s=5.0
    )
    submitted: set[str] = set()
    index = 0
    for step in range(4):
        state.now = float(step * 4)
        for _ in range(data.draw(st.integers(1, 12))):
            job = data.draw(jobs(index, top_priority=step))  # later jobs may outrank running ones
            index += 1
            try:
                state.submit(job)
            except (ResourcesImpossible, UnknownRegion):
                continue  # fits on no node ever, or names a region no pool is in: refused at the door
            submitted.add(job.id)
        decisions = schedule(state, config)
        # Nobody is admitted twice, preempted twice, or both admitted and preempted.
        ids = [d.job_id for d in decisions]
        assert len(ids) == len(set(ids))
        for decision in decisions:
            if isinstance(decision, Preempt):
                assert decision.job_id in state.running
            else:
                assert decision.job_id in state.pending
            state.apply(decision)
        check_invariants(state, decisions, config)
        # Preempted jobs are back in the queue: every submitted job is pending or running, once.
        assert set(state.pending) | set(state.running) == submitted
        assert not set(state.pending) & set(state.running)
        # Some jobs finish.
        for job_id in sorted(state.running)[:: data.draw(st.integers(2, 4))]:
            state.finish(job_id)
            submitted.discard(job_id)
