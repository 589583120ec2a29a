"""Fair share among borrowing queues (issue 14): two enterprise queues each guaranteed one CPU on a
2-CPU pool; tenant A submits six 1-CPU jobs, tenant B one job later. B must start at the next cycle."""

from __future__ import annotations

from scheduler import Admit, ClusterState, Node, PolicyConfig, Pool, Preempt, Queue, QueueTree, schedule
from scheduler.model import Quota
from scheduler.policy import make_scorer
from tests.unit.scheduler.builders import job


def pool(guarantee: Quota) -> ClusterState:
    queues = [
        Queue("root"),
        Queue("a", parent="root", tenant="a", guaranteed=guarantee),
        Queue("b", parent="root", tenant="b", guaranteed=guarantee),
    ]
    nodes = [Node("local", "p", cpu_milli=2_000, memory_mib=16_384)]
    return ClusterState([Pool("p", city="jinan")], nodes, QueueTree(queues))


def run(state: ClusterState, preemption: bool = True) -> list[str]:
    config = PolicyConfig(scorer=make_scorer("first-fit"), preemption=preemption)
    started = []
    for decision in schedule(state, config):
        state.apply(decision)
        if isinstance(decision, Admit):
            started.append(decision.job_id)
        elif isinstance(decision, Preempt):
            started.append(f"-{decision.job_id}")
    return started


def a_fills_the_pool(state: ClusterState) -> None:
    for i in range(6):
        state.submit(job(f"a{i}", "a", cpu=1_000, mem=1_024, submit=float(i)))
    assert run(state) == ["a0", "a1"]  # A borrows B's idle CPU


def test_guarantee_naming_only_cpu_does_not_grant_zero_memory() -> None:
    # B's 1 CPU + 1 GiB job is within a guarantee of {cpu: 1}: memory is not constrained by it.
    state = pool(Quota(cpu_milli=1_000))
    a_fills_the_pool(state)
    state.now = 12.0
    state.submit(job("b0", "b", cpu=1_000, mem=1_024, submit=12.0))
    preempted, started = run(state)  # A's borrowed job gives B its guarantee back, in this cycle
    assert preempted in ("-a0", "-a1") and started == "b0"


def test_among_borrowers_the_lowest_dominant_share_goes_first() -> None:
    # Without preemption, B waits for the next free CPU, then goes before A's older jobs: A holds the
    # whole pool, B nothing.
    state = pool(Quota(cpu_milli=0))
    a_fills_the_pool(state)
    state.now = 12.0
    state.submit(job("b0", "b", cpu=1_000, mem=1_024, submit=12.0))
    assert run(state, preemption=False) == []
    state.finish("a0")
    state.now = 40.0
    assert run(state, preemption=False) == ["b0"]
    state.finish("a1")
    state.now = 41.0
    assert run(state, preemption=False) == ["a2"]


def test_aging_lifts_a_long_waiting_job_above_fair_share() -> None:
    # A job that has waited past the aging steps goes before a lower-share tenant's fresh one.
    state = pool(Quota(cpu_milli=0))
    state.submit(job("a0", "a", cpu=2_000, submit=0.0))
    assert run(state, preemption=False) == ["a0"]
    state.submit(job("a-old", "a", cpu=1_000, submit=1.0))
    state.now = 1_300.0
    state.submit(job("b-new", "b", cpu=1_000, submit=1_300.0))
    state.finish("a0")
    assert run(state, preemption=False)[0] == "a-old"
