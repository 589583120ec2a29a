"""The scheduler's pool topology, read from the rendered RayClusters (what `brain pools apply` takes)."""

from __future__ import annotations

from typing import Any

from kubernetes.utils import parse_quantity

from deploy.k8s.manifests import Manifests, centre_name
from scheduler.model import PoolKind
from scheduler.spec import NodeGroupSpec, PoolSpec

LABEL_PREFIX = "industry-brain.io"
GPU_TYPE_LABEL = "brain/gpu-type"
_MIB = 2**20


def _node_group(group: dict[str, Any]) -> NodeGroupSpec:
    limits = group["template"]["spec"]["containers"][0]["resources"]["limits"]
    return NodeGroupSpec(
        # Sized at max replicas: the scheduler plans against what the centre can grow to.
        count=group["maxReplicas"],
        cpu=float(parse_quantity(limits["cpu"])),
        memory_mib=max(1, int(parse_quantity(limits["memory"]) // _MIB)),
        gpu=int(limits.get("nvidia.com/gpu", 0)),
        gpu_type=(group.get("labels") or {}).get(GPU_TYPE_LABEL),
    )


def pool(cluster: dict[str, Any]) -> PoolSpec:
    """One centre's RayCluster as a scheduler pool (its labels, annotations and worker groups)."""
    labels = cluster["metadata"]["labels"]
    annotations = cluster["metadata"]["annotations"]
    return PoolSpec(
        name=centre_name(cluster),
        city=labels[f"{LABEL_PREFIX}/city"],
        kind=PoolKind(labels[f"{LABEL_PREFIX}/kind"]),
        zone=labels[f"{LABEL_PREFIX}/zone"],
        price_per_gpu_hour=float(annotations[f"{LABEL_PREFIX}/price-per-gpu-hour"]),
        carbon_g_per_kwh=float(annotations[f"{LABEL_PREFIX}/carbon-g-per-kwh"]),
        nodes=[_node_group(g) for g in cluster["spec"]["workerGroupSpecs"] if g["maxReplicas"] > 0],
    )


def topology(manifests: Manifests) -> dict[str, Any]:
    """The centres as the scheduler's pool topology: ``pools`` (each a ``scheduler.spec.PoolSpec``) and
    ``addresses``, the Jobs API of each pool's RayCluster inside Kubernetes (from the centres record)."""
    return {
        "pools": [pool(cluster).model_dump(mode="json") for cluster in manifests.clusters],
        "addresses": {str(entry["name"]): str(entry["address"]) for entry in manifests.centres},
    }
