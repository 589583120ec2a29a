"""Kubernetes: what KubeRay runs in production, rendered by the Helm chart ``helm/industry-brain``.

The chart is the one source of the manifests; this package checks a values file, renders the chart with it
(no cluster, no helm binary, no network) and reads what the chart rendered:

- :mod:`deploy.k8s.spec` — the values a user writes, checked strictly (:class:`K8sSpec`), and the chart's
  ``values.schema.json`` generated from them (:func:`values_schema`);
- :mod:`deploy.k8s.chart` — the chart rendered in-process by Helm's Go SDK (:func:`render_chart`);
- :mod:`deploy.k8s.manifests` — the RayService, a RayCluster per centre and the centres record
  (:func:`render` → :class:`Manifests`);
- :mod:`deploy.k8s.serve_config` — the RayService's Serve config, plus dedicated components' applications;
- :mod:`deploy.k8s.topology` — the centres as the scheduler's pool topology (``brain pools apply``).

It owns no Ray, no server and no cluster access; it must not import the CLI, the capability centre's
runtime (only its naming of dedicated applications) or the scheduler's service.
"""

from deploy.k8s.chart import CHART, DEFAULT_NAMESPACE, render_chart
from deploy.k8s.errors import K8sSpecError
from deploy.k8s.manifests import Manifests, dump, render
from deploy.k8s.serve_config import DEDICATED_IMPORT_PATH, serve_config, serve_config_yaml
from deploy.k8s.spec import (
    CapabilityCentreSpec,
    DatabaseSpec,
    DataCentreSpec,
    ImageSpec,
    K8sSpec,
    ResourcesSpec,
    WorkerGroupSpec,
    explain,
    values_schema,
)
from deploy.k8s.topology import topology

__all__ = [
    "CHART",
    "DEDICATED_IMPORT_PATH",
    "DEFAULT_NAMESPACE",
    "CapabilityCentreSpec",
    "DataCentreSpec",
    "DatabaseSpec",
    "ImageSpec",
    "K8sSpec",
    "K8sSpecError",
    "Manifests",
    "ResourcesSpec",
    "WorkerGroupSpec",
    "dump",
    "explain",
    "render",
    "render_chart",
    "serve_config",
    "serve_config_yaml",
    "topology",
    "values_schema",
]
