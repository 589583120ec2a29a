"""Nodes kept draining for whole-node work (docs/architecture.md, "Fair share and quotas": drains).

Three 8-GPU nodes, each running one 1-GPU job: the one on node 0 ends at t = 100, the one on node 1 at
t = 5,000, the one on node 2 never (no run time). The workload has an 8-GPU class, so the two nodes
expected to empty (`drain_nodes` = 2) are kept draining, each until then: work expected to run past
t = 100 stays off node 0, work of unknown run time off nodes 0 and 1, while other nodes have room. FGD
alone sees three nodes in the same state and takes the lowest index, node 0, for all of them.
"""

from __future__ import annotations

from dataclasses import replace

from scheduler import (
    Admit,
    ClusterState,
    Job,
    Node,
    Ordering,
    PolicyConfig,
    Pool,
    QueueTree,
    Resources,
    schedule,
)
from scheduler.model import BundlePlacement
from scheduler.policy.scorers import Fgd
from tests.unit.scheduler.builders import job

WORKLOAD = [(Resources(cpu_milli=1000, memory_mib=1024, gpu=1), 0.9), (Resources(gpu=8), 0.1)]


def cluster(others_full: bool = False) -> ClusterState:
    nodes = [Node(f"g2-{i}", "p", 96_000, 393_216, gpu_count=8, gpu_type="G2") for i in range(3)]
    state = ClusterState([Pool("p", city="jinan")], nodes, QueueTree.flat(["a"]))
    for node, ends in ((0, 100.0), (1, 5_000.0), (2, None)):
        gpus = 8 if others_full and node > 0 else 1
        running = replace(job(f"run-{node}", gpu=gpus), runtime=ends)
        placement = BundlePlacement(node=node, gpus=tuple(range(gpus)), gpu_milli=1000)
        state.restore(running, (placement,), start_time=0.0)
    state.now = 10.0
    return state


def where(state: ClusterState, item: Job, config: PolicyConfig) -> int:
    state.submit(item)
    (decision,) = schedule(state, config)
    assert isinstance(decision, Admit)
    return decision.placements[0].node


def test_long_work_stays_off_the_node_that_empties_first() -> None:
    config = PolicyConfig(scorer=Fgd(WORKLOAD))
    assert where(cluster(), replace(job("long", gpu=1), runtime=1_000.0), config) == 1
    assert where(cluster(), replace(job("longer", gpu=1), runtime=9_000.0), config) == 2
    # Unknown run time: it may run for ever, so it counts as longer than any drain.
    assert where(cluster(), job("unknown", gpu=1), config) == 2
    # Ends (t = 60) before node 0 is expected to be empty (t = 100): it may use node 0.
    assert where(cluster(), replace(job("short", gpu=1), runtime=50.0), config) == 0


def test_without_drains_fgd_takes_the_lower_index() -> None:
    config = PolicyConfig(scorer=Fgd(WORKLOAD), drain_nodes=0)
    assert where(cluster(), replace(job("long", gpu=1), runtime=1_000.0), config) == 0


def test_a_draining_node_still_takes_work_that_fits_nowhere_else() -> None:
    config = PolicyConfig(scorer=Fgd(WORKLOAD))
    assert where(cluster(others_full=True), replace(job("long", gpu=1), runtime=1_000.0), config) == 0


def test_the_whole_node_work_itself_takes_the_drained_node() -> None:
    state = cluster()
    state.finish("run-0")
    config = PolicyConfig(scorer=Fgd(WORKLOAD))
    assert where(state, replace(job("gang", gpu=8), runtime=1_000.0), config) == 0


def test_fifo_ordering_keeps_no_drains() -> None:
    # The baselines and the fill experiment (tasks never leave, nothing drains) place as FGD alone.
    config = PolicyConfig(scorer=Fgd(WORKLOAD), ordering=Ordering.FIFO, backfill=False)
    assert where(cluster(), replace(job("long", gpu=1), runtime=1_000.0), config) == 0
