"""The KubeRay objects of a release, as the chart renders them: what `brain deploy render-manifests` prints.

- the capability centre's ``RayService`` (head + worker groups, its Serve config inside);
- one ``RayCluster`` per regional (区域中心) or industry (行业中心) centre, labelled with its city, kind and
  data-residency zone so the scheduler can federate them;
- the centres record (the ``<release>-centres`` ConfigMap): each centre's Jobs API address.

Secrets are never part of them: the database URL reaches the pods through a ``secretKeyRef``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from deploy.k8s.chart import DEFAULT_NAMESPACE, render_chart
from deploy.k8s.spec import K8sSpec


@dataclass(frozen=True)
class Manifests:
    """The Ray objects of one rendered release."""

    service: dict[str, Any]
    """The capability centre's RayService."""
    clusters: list[dict[str, Any]]
    """A RayCluster per centre, in the order of the values' ``centres``."""
    centres: list[dict[str, Any]]
    """The centres record: name, rayCluster, city, kind, zone, address, authSecret of each centre."""

    @classmethod
    def from_documents(cls, documents: list[dict[str, Any]], release: str) -> Manifests:
        services = [d for d in documents if d.get("kind") == "RayService"]
        if len(services) != 1:
            raise ValueError(f"the chart rendered {len(services)} RayServices; expected exactly one")
        record = next(
            d
            for d in documents
            if d.get("kind") == "ConfigMap" and d["metadata"]["name"] == f"{release}-centres"
        )
        return cls(
            service=services[0],
            clusters=[d for d in documents if d.get("kind") == "RayCluster"],
            centres=list(yaml.safe_load(record["data"]["centres.yaml"])["centres"]),
        )

    def files(self) -> dict[str, dict[str, Any]]:
        """Every Ray object by file name: the RayService and one RayCluster per centre."""
        out = {"rayservice-capability-centre.yaml": self.service}
        for cluster in self.clusters:
            out[f"raycluster-{centre_name(cluster)}.yaml"] = cluster
        return out


def centre_name(cluster: dict[str, Any]) -> str:
    """The centre (and scheduler pool) a rendered RayCluster belongs to."""
    name: str = cluster["metadata"]["labels"]["industry-brain.io/centre"]
    return name


def render(spec: K8sSpec, namespace: str = DEFAULT_NAMESPACE) -> Manifests:
    """The chart rendered with ``spec``'s values as release ``spec.release`` in ``namespace``."""
    return Manifests.from_documents(render_chart(spec.helm_values(), spec.release, namespace), spec.release)


def dump(manifest: dict[str, Any]) -> str:
    return yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True)
