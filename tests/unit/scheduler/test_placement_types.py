"""GPU-type sets and the extended FGD: the worked example of docs/architecture.md, "Placement"."""

from __future__ import annotations

import numpy as np
import pytest

from scheduler import Admit, ClusterState, Job, Node, PolicyConfig, Pool, QueueTree, Resources, schedule
from scheduler.errors import ResourcesImpossible
from scheduler.model import GangStrategy, parse_gpu_types
from scheduler.policy.scorers import Fgd
from tests.unit.scheduler.builders import job


def cluster() -> ClusterState:
    """Two T4 nodes and two G2 nodes of 2 GPUs each, one CPU-only node."""
    nodes = [Node(f"t4-{i}", "p", 32_000, 131_072, gpu_count=2, gpu_type="T4") for i in range(2)]
    nodes += [Node(f"g2-{i}", "p", 32_000, 131_072, gpu_count=2, gpu_type="G2") for i in range(2)]
    nodes.append(Node("cpu", "p", 32_000, 131_072))
    return ClusterState([Pool("p", city="jinan")], nodes, QueueTree.flat(["a"]))


def place(state: ClusterState, scorer: Fgd, item: Job) -> str:
    state.submit(item)
    (decision,) = schedule(state, PolicyConfig(scorer=scorer))
    state.apply(decision)
    assert isinstance(decision, Admit)
    return state.capacity.node_ids[decision.placements[0].node]


def test_parse_gpu_types() -> None:
    assert parse_gpu_types("V100M16|V100M32|V100M32") == frozenset({"V100M16", "V100M32"})
    assert parse_gpu_types(["A10"]) == frozenset({"A10"})
    assert parse_gpu_types("") is None and parse_gpu_types(None) is None


def test_a_set_of_types_is_honoured_exactly() -> None:
    state = cluster()
    scorer = Fgd([(Resources(gpu=1), 1.0)])
    for i in range(4):
        assert place(state, scorer, job(f"j{i}", gpu=1, gpu_type="G2|A10")).startswith("g2-")
    state.submit(job("late", gpu=1, gpu_type="G2|A10"))
    assert schedule(state, PolicyConfig(scorer=scorer)) == []  # T4s are free, but it does not accept them


def test_flexible_task_leaves_the_type_constrained_tasks_need() -> None:
    # Half of the arriving GPU demand accepts only T4s: a task that may run anywhere goes to a G2.
    workload = [(Resources(gpu=1, gpu_types=frozenset({"T4"})), 1.0), (Resources(gpu=1), 1.0)]
    state = cluster()
    scorer = Fgd(workload)
    pressure = scorer.pressure(state.capacity, state.alloc)
    t4, g2 = 1 + state.capacity.gpu_types.index("T4"), 1 + state.capacity.gpu_types.index("G2")
    assert pressure[t4] > 0 and pressure[g2] == 0
    assert place(state, scorer, job("any", gpu=1)).startswith("g2-")
    assert place(state, scorer, job("t4", gpu=1, gpu_type="T4")).startswith("t4-")


def test_cpu_only_task_stays_off_gpu_nodes_last_cores() -> None:
    state = cluster()
    scorer = Fgd([(Resources(cpu_milli=8_000, gpu=1), 1.0), (Resources(cpu_milli=4_000), 1.0)])
    assert place(state, scorer, job("cpu", cpu=24_000, mem=1024)) == "cpu"
    # The CPU node is full now; the CPU-only task takes a GPU node whose GPUs it starves least.
    where = place(state, scorer, job("cpu2", cpu=24_000, mem=1024))
    assert where != "cpu"


def test_whole_gpus_kept_whole_for_the_gang_class() -> None:
    state = cluster()
    scorer = Fgd([(Resources(gpu=2), 1.0), (Resources(gpu=1, gpu_milli=500), 1.0)])
    first = place(state, scorer, job("share", gpu=1, milli=500))
    second = place(state, scorer, job("share2", gpu=1, milli=500))
    assert first == second  # both halves on one GPU: three nodes stay whole for the 2-GPU class
    used = np.flatnonzero(state.alloc.gpu_free.sum(axis=1) < state.capacity.gpu_count * 1000)
    assert used.size == 1


def gang(name: str, *bundles: Resources) -> Job:
    return Job(id=name, tenant="a", queue="a", bundles=bundles, strategy=GangStrategy.STRICT_PACK)


def test_single_node_gang_is_validated_against_its_gpu_types() -> None:
    # T4 nodes have 2 GPUs, G2 nodes 4: three GPUs of which two must be T4s fit on no one node, although
    # the G2 nodes are big enough for the sum.
    nodes = [Node(f"t4-{i}", "p", 32_000, 131_072, gpu_count=2, gpu_type="T4") for i in range(2)]
    nodes += [Node(f"g2-{i}", "p", 32_000, 131_072, gpu_count=4, gpu_type="G2") for i in range(2)]
    state = ClusterState([Pool("p", city="jinan")], nodes, QueueTree.flat(["a"]))
    t4 = Resources(gpu=2, gpu_types=frozenset({"T4"}))
    with pytest.raises(ResourcesImpossible, match="3 GPU of type T4 fits on no node"):
        state.submit(gang("too-big-for-a-t4", t4, Resources(gpu=1)))
    with pytest.raises(ResourcesImpossible, match="no GPU type in common"):
        state.submit(gang("disjoint", t4, Resources(gpu=1, gpu_types=frozenset({"G2"}))))
    state.submit(gang("fits-a-g2", Resources(gpu=3), Resources(gpu=1, gpu_types=frozenset({"G2", "T4"}))))


def test_single_node_gang_lands_on_a_type_every_bundle_accepts() -> None:
    # The first bundle accepts any type and type pressure sends it to a G2; the second accepts only T4s,
    # so the gang's one node must be a T4.
    workload = [(Resources(gpu=1, gpu_types=frozenset({"T4"})), 1.0), (Resources(gpu=1), 1.0)]
    state = cluster()
    node = place(
        state, Fgd(workload), gang("g", Resources(gpu=1), Resources(gpu=1, gpu_types=frozenset({"T4"})))
    )
    assert node.startswith("t4-")
