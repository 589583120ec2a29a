"""The placement and admission policy, on small clusters where every number can be checked by hand."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from scheduler import (
    Admit,
    BundlePlacement,
    ClusterState,
    GangStrategy,
    Node,
    Ordering,
    PolicyConfig,
    Pool,
    Preempt,
    Queue,
    QueueTree,
    Resources,
    ResourcesImpossible,
    make_scorer,
    schedule,
)
from scheduler.policy.scorers import Fgd
from tests.unit.scheduler.builders import cycle, gpus, job, two_city_state


def node_of(state: ClusterState, decision: Admit, bundle: int = 0) -> str:
    return state.capacity.node_ids[decision.placements[bundle].node]


def test_admit_takes_exactly_what_the_job_asks() -> None:
    state = two_city_state()
    state.submit(job("j", cpu=4000, mem=8192, gpu=2))
    (decision,) = cycle(state)
    assert isinstance(decision, Admit)
    node = state.node(decision.placements[0].node)
    assert (node.cpu_used, node.memory_used) == (4000, 8192)
    assert node.gpu_used_milli == [1000, 1000, 0, 0, 0, 0, 0, 0]
    assert state.queue_usage("a").gpu_milli == 2000
    assert state.queue_usage("shandong").cpu_milli == 4000
    assert not state.pending and "j" in state.running


def test_many_admissions_in_one_cycle() -> None:
    state = two_city_state(nodes_per_pool=2)
    for i in range(32):  # 32 one-GPU jobs fill all 32 GPUs in a single cycle
        state.submit(job(f"j{i}", gpu=1, submit=i))
    decisions = cycle(state)
    assert len(decisions) == 32 and all(isinstance(d, Admit) for d in decisions)
    assert int(state.alloc.gpu_free.sum()) == 0


def test_residency_zone_and_city_are_respected() -> None:
    state = two_city_state()
    state.submit(job("east", gpu=1, regions=["east"]))
    state.submit(job("qd", gpu=1, regions=["qingdao"]))
    state.submit(job("jn", gpu=1, regions=["jinan"]))
    decisions = {d.job_id: d for d in cycle(state) if isinstance(d, Admit)}
    assert node_of(state, decisions["east"]).startswith("qingdao-1")
    assert node_of(state, decisions["qd"]).startswith("qingdao-1")
    assert node_of(state, decisions["jn"]).startswith("jinan-1")


def test_a_job_bound_to_pools_runs_there_or_waits() -> None:
    """A tenant's own code is bound to its sandbox pools: first-fit would pick jinan, it must not."""
    state = two_city_state()
    state.submit(job("fill", gpu=8, regions=["east"], submit=-1))  # one of qingdao's two nodes
    for i in range(8):
        state.submit(replace(job(f"own{i}", gpu=1), pools=frozenset({"qingdao-1"})))
    state.submit(replace(job("late", gpu=1, submit=1), pools=frozenset({"qingdao-1"})))
    decisions = {d.job_id: d for d in cycle(state) if isinstance(d, Admit)}
    assert all(node_of(state, d).startswith("qingdao-1") for d in decisions.values())
    assert "late" in state.pending  # qingdao is full; jinan has room, but the job may not go there


def test_job_too_big_for_its_region_waits_and_never_leaks_out() -> None:
    state = two_city_state()
    for i in range(2):
        state.submit(job(f"fill{i}", gpu=8, regions=["east"]))
    state.submit(job("wants-east", gpu=1, regions=["east"]))
    decisions = cycle(state)
    assert {d.job_id for d in decisions} == {"fill0", "fill1"}
    assert "wants-east" in state.pending  # jinan has 16 free GPUs, but the data may not go there


def test_gpu_type_and_cordon_filters() -> None:
    pools = [Pool("p-a10", city="jinan"), Pool("p-v100", city="jinan")]
    nodes = [
        Node("a10", "p-a10", 64_000, 262_144, gpu_count=4, gpu_type="A10"),
        Node("v100", "p-v100", 64_000, 262_144, gpu_count=4, gpu_type="V100"),
    ]
    state = ClusterState(pools, nodes, QueueTree.flat(["a"]))
    state.submit(job("v", gpu=1, gpu_type="V100"))
    (decision,) = cycle(state)
    assert isinstance(decision, Admit) and node_of(state, decision) == "v100"
    state.cordon("p-v100")
    state.submit(job("v2", gpu=1, gpu_type="V100"))
    state.submit(job("any", gpu=1))
    decisions = cycle(state)
    assert [d.job_id for d in decisions] == ["any"]
    assert node_of(state, decisions[0]) == "a10"  # type: ignore[arg-type]
    assert "v2" in state.pending


def test_gang_is_all_or_nothing() -> None:
    state = two_city_state(nodes_per_pool=1)  # 2 nodes of 8 GPUs
    state.submit(job("gang", gpu=8, bundles=3, strategy="SPREAD"))  # needs 3 whole nodes
    before = state.alloc.copy()
    assert cycle(state) == []
    assert "gang" in state.pending
    assert np.array_equal(state.alloc.gpu_free, before.gpu_free)  # no half-placed gang left behind
    assert np.array_equal(state.alloc.cpu_free, before.cpu_free)


def test_gang_strategies() -> None:
    state = two_city_state(nodes_per_pool=2)
    state.submit(job("pack", gpu=2, bundles=3, strategy="PACK", submit=0))
    state.submit(job("spread", gpu=1, bundles=3, strategy="SPREAD", submit=1))
    state.submit(job("strict", gpu=3, bundles=2, strategy="STRICT_PACK", submit=2))
    decisions = {d.job_id: d for d in cycle(state, scorer="best-fit") if isinstance(d, Admit)}
    assert len({p.node for p in decisions["pack"].placements}) == 1
    assert len({p.node for p in decisions["spread"].placements}) == 3
    assert len({p.node for p in decisions["strict"].placements}) == 1
    # Two nodes with 8 GPUs exist, but no single node with 16: refused at once, not queued forever.
    with pytest.raises(ResourcesImpossible, match="fits on no node"):
        state.submit(job("strict-too-big", gpu=8, bundles=2, strategy=GangStrategy.STRICT_PACK.value))


def test_strict_fifo_blocks_and_backfill_does_not() -> None:
    for backfill, expected in ((False, {"small0"}), (True, {"small0", "small1"})):
        state = two_city_state(nodes_per_pool=1)
        state.submit(job("small0", gpu=6, submit=0))
        state.submit(job("big", gpu=8, submit=1))
        state.submit(job("small1", gpu=2, submit=2))
        state.submit(job("blocker", gpu=8, regions=["east"], submit=-1))
        decisions = cycle(state, ordering=Ordering.FIFO, backfill=backfill, preemption=False)
        assert {d.job_id for d in decisions} - {"blocker"} == expected


def test_quota_guarantee_and_borrowing_limit() -> None:
    queues = [
        Queue("shandong"),
        Queue("a", parent="shandong", tenant="a", guaranteed=gpus(4), borrowing_limit=gpus(2)),
        Queue("b", parent="shandong", tenant="b", guaranteed=gpus(8)),
    ]
    state = two_city_state(queues=queues)
    for i in range(8):
        state.submit(job(f"a{i}", tenant="a", gpu=1, submit=i))
    cycle(state, preemption=False)
    # 4 guaranteed + 2 borrowed from b's unused guarantee; the 7th would exceed the borrowing limit.
    assert state.queue_usage("a").gpu_milli == 6000
    assert len(state.pending) == 2


def test_lending_limit_keeps_part_of_a_guarantee() -> None:
    queues = [
        Queue("shandong", guaranteed=gpus(32)),
        Queue("a", parent="shandong", tenant="a", guaranteed=gpus(2)),
        Queue("b", parent="shandong", tenant="b", guaranteed=gpus(30), lending_limit=gpus(10)),
    ]
    state = two_city_state(queues=queues)
    for i in range(20):
        state.submit(job(f"a{i}", tenant="a", gpu=1, submit=i))
    cycle(state, preemption=False)
    assert state.queue_usage("a").gpu_milli == 12_000  # its own 2 + the 10 b lends; b keeps 20


def test_preemption_reclaims_borrowed_capacity_and_loses_nothing() -> None:
    queues = [
        Queue("shandong"),
        Queue("a", parent="shandong", tenant="a", guaranteed=gpus(16)),
        Queue("b", parent="shandong", tenant="b", guaranteed=gpus(16)),
    ]
    state = two_city_state(queues=queues)
    for i in range(32):  # a borrows all of b's idle guarantee
        state.submit(job(f"a{i}", tenant="a", gpu=1, submit=i))
    cycle(state)
    assert state.queue_usage("a").gpu_milli == 32_000
    state.now = 100.0
    state.submit(job("b0", tenant="b", gpu=4, submit=100))
    decisions = cycle(state)
    preempted = [d for d in decisions if isinstance(d, Preempt)]
    admitted = [d for d in decisions if isinstance(d, Admit)]
    assert [d.job_id for d in admitted] == ["b0"]
    assert len(preempted) == 4  # exactly as many 1-GPU jobs as b0 needs, not more
    assert all(d.reason == "borrowed capacity reclaimed" and d.for_job == "b0" for d in preempted)
    # Victims are the most recently started borrowed work, and they are back in the queue.
    assert all(d.job_id in state.pending for d in preempted)
    assert len(state.pending) + len(state.running) == 33
    # The freed GPUs all sit on the one node b0 landed on.
    (b0,) = admitted
    assert state.node(b0.placements[0].node).gpu_used_milli == [1000] * 8


def test_priority_preemption_within_a_queue() -> None:
    state = two_city_state(tenants=["a"], nodes_per_pool=1)
    state.submit(job("low0", gpu=8, priority=0))
    state.submit(job("low1", gpu=8, priority=0))
    cycle(state)
    state.submit(job("high", gpu=8, priority=2))
    decisions = cycle(state)
    preempt, admit = decisions  # the victim is stopped before the new job starts
    assert isinstance(admit, Admit) and isinstance(preempt, Preempt)
    assert preempt.job_id in {"low0", "low1"} and preempt.reason == "higher priority job"
    assert "high" in state.running and len(state.pending) == 1
    # Without preemption the high-priority job waits.
    state2 = two_city_state(tenants=["a"], nodes_per_pool=1)
    state2.submit(job("low0", gpu=8))
    state2.submit(job("low1", gpu=8))
    cycle(state2)
    state2.submit(job("high", gpu=8, priority=2))
    assert cycle(state2, preemption=False) == []


def test_dominant_resource_fair_share_orders_tenants() -> None:
    state = two_city_state(nodes_per_pool=1)
    for i in range(13):  # a takes 13 of 16 GPUs: above 1.5 x its half share (the default slack)
        state.submit(job(f"a{i}", tenant="a", gpu=1, submit=i))
    cycle(state)
    state.now = 20.0
    state.submit(job("a-late", tenant="a", gpu=3, submit=1.0))  # older than b's job
    state.submit(job("b-new", tenant="b", gpu=3, submit=5.0))
    decisions = cycle(state)
    assert [d.job_id for d in decisions] == ["b-new"]  # b is under its share, so b goes first
    # Below the slack too, the dominant share decides, not age: a at 12/16 = 1.5 x its share is not yet
    # "over", but b holds nothing (it went by age here before: a's older job first, and the replay's
    # fairness fell below FIFO's at cpu050, docs/architecture.md).
    state = two_city_state(nodes_per_pool=1)
    for i in range(12):
        state.submit(job(f"a{i}", tenant="a", gpu=1, submit=i))
    cycle(state)
    state.submit(job("a-late", tenant="a", gpu=4, submit=1.0))
    state.submit(job("b-new", tenant="b", gpu=4, submit=5.0))
    assert [d.job_id for d in cycle(state)] == ["b-new"]
    # Equal shares: the older job first.
    state = two_city_state(nodes_per_pool=1)
    state.submit(job("b-new", tenant="b", gpu=4, submit=5.0))
    state.submit(job("a-old", tenant="a", gpu=4, submit=1.0))
    assert [d.job_id for d in cycle(state, max_admissions=1)] == ["a-old"]


def test_aging_lifts_a_starving_job_above_newer_higher_priority_work() -> None:
    state = two_city_state(tenants=["a"], nodes_per_pool=1)
    state.submit(job("fill", gpu=8, regions=["east"]))
    state.submit(job("fill2", gpu=4, regions=["north"]))
    cycle(state)
    state.now = 10_000.0
    state.submit(job("old-low", gpu=4, priority=0, submit=0.0))  # waited 10,000 s: +2 levels
    state.submit(job("new-high", gpu=4, priority=1, submit=9_999.0))
    decisions = cycle(state, aging_step_s=600.0, aging_max_boost=2, preemption=False)
    assert [d.job_id for d in decisions] == ["old-low"]


def test_reservation_keeps_backfill_from_starving_a_big_job() -> None:
    state = two_city_state(tenants=["a"], nodes_per_pool=1)
    state.submit(job("east", gpu=8, regions=["east"]))
    state.submit(job("half", gpu=4, regions=["north"]))
    cycle(state)
    state.now = 5_000.0
    state.submit(job("big", gpu=8, regions=["north"], submit=0.0))  # old: reserves the north node
    state.submit(job("small", gpu=2, regions=["north"], submit=4_999.0))
    decisions = cycle(state, reserve_after_s=1_800.0, preemption=False)
    assert decisions == []  # small would fit, but not on the node held for big
    decisions = cycle(state, reserve_after_s=1e9, preemption=False)
    assert [d.job_id for d in decisions] == ["small"]


def test_schedule_is_pure_and_deterministic() -> None:
    state = two_city_state()
    for i in range(20):
        state.submit(job(f"j{i}", tenant="ab"[i % 2], gpu=1, milli=300 + 30 * i, submit=i))
    config = PolicyConfig(scorer=make_scorer("fgd", [(Resources(gpu=1, gpu_milli=500), 1.0)]))
    before = state.alloc.copy()
    first = schedule(state, config)
    second = schedule(state, config)
    assert first == second and len(first) == 20
    assert np.array_equal(state.alloc.gpu_free, before.gpu_free)  # schedule() changed nothing
    assert len(state.pending) == 20


@pytest.mark.parametrize(
    ("scorer", "expected"),
    [
        ("first-fit", "jinan-1-n0"),
        ("best-fit", "qingdao-1-n0"),  # the fullest node that still fits
        ("spread", "jinan-1-n1"),  # the emptiest node, lowest index among equals
        ("price", "jinan-1-n0"),  # jinan is cheaper; best-fit inside the pool
        ("carbon", "qingdao-1-n0"),  # qingdao's grid is cleaner
        ("dot-product", "jinan-1-n1"),  # most free capacity along the GPU-heavy demand
    ],
)
def test_scorers_pick_the_node_they_promise(scorer: str, expected: str) -> None:
    state = two_city_state()
    setup = [("jinan-1-n0", 2), ("qingdao-1-n0", 6), ("qingdao-1-n1", 1)]
    for i, (node, count) in enumerate(setup):
        index = state.capacity.node_ids.index(node)
        state.submit(job(f"setup{i}", gpu=count, cpu=1000))
        state.apply(Admit(f"setup{i}", (_whole(index, count),)))
    state.submit(job("probe", gpu=1, cpu=1000))
    (decision,) = cycle(state, scorer=scorer)
    assert node_of(state, decision) == expected  # type: ignore[arg-type]


def _whole(node: int, count: int):  # type: ignore[no-untyped-def]
    from scheduler import BundlePlacement

    return BundlePlacement(node=node, gpus=tuple(range(count)), gpu_milli=1000)


def test_fgd_fragmentation_numbers() -> None:
    # Workload: half the tasks want 0.5 GPU, half a whole GPU.
    fgd = Fgd(
        [(Resources(cpu_milli=1000, gpu=1, gpu_milli=500), 1.0), (Resources(cpu_milli=1000, gpu=1), 1.0)]
    )
    free = np.array([[1000, 700, 300, 0]], dtype=np.int32)
    big = np.array([10**6])
    # For 0.5-GPU tasks the 300 free is stranded; for whole-GPU tasks 700 + 300 are.
    assert fgd.fragmentation(big, big, free)[0] == pytest.approx(0.5 * 300 + 0.5 * 1000)
    # A node out of CPU strands every free GPU for every task.
    assert fgd.fragmentation(np.array([0]), big, free)[0] == pytest.approx(2000)


def test_fgd_puts_a_shared_task_where_it_fragments_least() -> None:
    pools = [Pool("p", city="jinan")]
    nodes = [Node(f"n{i}", "p", 64_000, 262_144, gpu_count=2, gpu_type="T4") for i in range(2)]
    state = ClusterState(pools, nodes, QueueTree.flat(["a"]))
    state.submit(job("half", gpu=1, milli=500))
    state.apply(Admit("half", (_shared(0, 0, 500),)))
    workload = [(Resources(gpu=1, gpu_milli=500), 1.0), (Resources(gpu=1), 1.0)]
    state.submit(job("x", gpu=1, milli=500))
    config = PolicyConfig(scorer=make_scorer("fgd", workload))
    (decision,) = schedule(state, config)
    # Filling the half-used GPU leaves whole GPUs whole: zero new fragmentation.
    assert isinstance(decision, Admit)
    assert (decision.placements[0].node, decision.placements[0].gpus) == (0, (0,))
    # Best-fit by node totals would do the same here; first-fit by GPU order too. Now a 0.3 task:
    state.apply(decision)
    state.submit(job("y", gpu=1, milli=300))
    (decision,) = schedule(state, config)
    assert isinstance(decision, Admit)
    assert decision.placements[0].node == 0 and decision.placements[0].gpus == (1,)


def _shared(node: int, gpu: int, milli: int):  # type: ignore[no-untyped-def]
    from scheduler import BundlePlacement

    return BundlePlacement(node=node, gpus=(gpu,), gpu_milli=milli)


def test_reservation_holds_against_higher_priority_work_and_picks_the_node_that_frees_first() -> None:
    # Two 8-GPU nodes, one GPU busy on each: on the north node until t=3,000, on the east one until
    # t=90,000. The big job has waited past reserve_after_s; a small job of a higher priority class
    # arrives. It must not take the node that drains first (north), held for the big job: before, the
    # reservation was made in ordinary order, after the small job had already landed there.
    state = two_city_state(tenants=["a"], nodes_per_pool=1)
    north, east = (state.capacity.node_ids.index(n) for n in ("jinan-1-n0", "qingdao-1-n0"))
    for name, node, runtime in (("short", north, 3_000.0), ("long", east, 90_000.0)):
        running = replace(job(name, gpu=1), runtime=runtime)
        state.restore(running, (BundlePlacement(node=node, gpus=(0,), gpu_milli=1000),), start_time=0.0)
    state.now = 2_000.0
    state.submit(job("big", gpu=8, submit=0.0))
    state.submit(job("urgent", gpu=1, priority=5, submit=1_999.0))
    (decision,) = cycle(state, reserve_after_s=1_800.0, preemption=False)
    assert decision.job_id == "urgent" and isinstance(decision, Admit)
    assert decision.placements[0].node == east
    state.now = 3_000.0
    state.finish("short")
    (decision,) = cycle(state, reserve_after_s=1_800.0, preemption=False)
    assert decision.job_id == "big" and isinstance(decision, Admit) and decision.placements[0].node == north
