"""The scheduler's pool topology, read from what the chart renders."""

from __future__ import annotations

from typing import Any

from deploy.k8s import K8sSpec, render, topology
from scheduler.model import PoolKind
from scheduler.spec import NodeGroupSpec, PoolSpec


def test_pools_come_from_the_rendered_clusters(spec: K8sSpec) -> None:
    found = topology(render(spec, namespace="shandong-prod"))
    pools = [PoolSpec.model_validate(p) for p in found["pools"]]
    jinan, qingdao = pools
    assert (jinan.name, jinan.city, jinan.kind, jinan.zone) == (
        "jinan-regional",
        "jinan",
        PoolKind.REGIONAL,
        "shandong-central",
    )
    # Sized at max replicas; 16 CPUs, 64Gi → MiB; the GPU group keeps its type.
    assert jinan.nodes == [
        NodeGroupSpec(count=10, cpu=16, memory_mib=65536),
        NodeGroupSpec(count=2, cpu=8, memory_mib=32768, gpu=2, gpu_type="A10"),
    ]
    # A centre named in Chinese is a pinyin pool; millicores are fractions of a core.
    assert (qingdao.city, qingdao.kind) == ("qingdao", PoolKind.INDUSTRY)
    assert qingdao.nodes == [NodeGroupSpec(count=4, cpu=0.5, memory_mib=2048)]
    assert found["addresses"] == {
        "jinan-regional": "http://brain-jinan-regional-head-svc.shandong-prod.svc:8265",
        "qingdao-marine": "http://brain-qingdao-marine-head-svc.shandong-prod.svc:8265",
    }


def test_prices_and_carbon_reach_the_pools(chart_values: dict[str, Any]) -> None:
    pools = topology(render(K8sSpec.from_values(chart_values)))["pools"]
    assert [(p["price_per_gpu_hour"], p["carbon_g_per_kwh"]) for p in pools] == [(6.5, 580.0), (7.0, 560.0)]


def test_groups_that_cannot_grow_are_not_capacity(chart_values: dict[str, Any]) -> None:
    chart_values["centres"][1]["workerGroups"].append(
        {"name": "parked", "replicas": 0, "minReplicas": 0, "maxReplicas": 0, "cpu": "4", "memory": "8Gi"}
    )
    rendered = render(K8sSpec.from_values(chart_values))
    assert len(rendered.clusters[1]["spec"]["workerGroupSpecs"]) == 2
    assert len(topology(rendered)["pools"][1]["nodes"]) == 1


def test_no_centres_no_pools() -> None:
    assert topology(render(K8sSpec())) == {"pools": [], "addresses": {}}
