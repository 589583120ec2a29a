"""What users write: job, pool and queue specs (pydantic, unknown fields refused).

Each spec turns itself into the scheduler's dataclasses with `to_model()`; checks that need the
topology (is this region known, does any node fit) happen in `ClusterState.validate`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from scheduler.errors import SpecInvalid
from scheduler.kinds.params import (
    SECTIONS,
    BatchInferenceParams,
    GovernanceParams,
    Kind,
    KindParams,
    TrainingParams,
    program_command,
)
from scheduler.model import (
    GPU_MILLI,
    SHANDONG_CITIES,
    GangStrategy,
    Job,
    Node,
    Pool,
    PoolKind,
    Queue,
    Quota,
    Resources,
    city_id,
    parse_gpu_types,
)

PRIORITY_CLASSES: dict[str, int] = {"best-effort": 0, "normal": 1, "high": 2, "critical": 3}
"""Named priority classes and their levels; a higher level may preempt a lower one in its queue."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ResourcesSpec(_Spec):
    """One bundle: CPU cores, memory, and GPUs (a fraction of one GPU for shared-GPU work)."""

    cpu: float = Field(default=1.0, ge=0, description="CPU cores, e.g. 0.5 or 8")
    memory_mib: int = Field(default=1024, ge=0, description="memory in MiB")
    gpu: float = Field(default=0, ge=0, description="whole GPUs (1, 2, 8), or a share of one GPU (0.25)")
    gpu_type: str | list[str] | None = Field(
        default=None,
        description="accelerator type the bundle needs, e.g. A10; or the set it accepts, as a list "
        '["V100M16", "V100M32"] or "V100M16|V100M32": it then runs on a node of one of them and no other',
    )

    @field_validator("gpu")
    @classmethod
    def _gpu_shape(cls, value: float) -> float:
        if value > 1 and value != int(value):
            raise ValueError(
                f"gpu={value}: ask for whole GPUs when you need more than one, or a share (0, 1] of one GPU"
            )
        return value

    def to_model(self) -> Resources:
        if 0 < self.gpu < 1:
            gpus, milli = 1, max(1, round(self.gpu * GPU_MILLI))
        else:
            gpus, milli = int(self.gpu), GPU_MILLI
        return Resources(
            cpu_milli=round(self.cpu * 1000),
            memory_mib=self.memory_mib,
            gpu=gpus,
            gpu_milli=milli,
            gpu_types=parse_gpu_types(self.gpu_type),
        )


class JobSpec(_Spec):
    """A job as submitted: who runs it, where it may run, and the bundles it needs together."""

    id: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._:/-]+$")
    tenant: str = Field(min_length=1)
    queue: str | None = Field(default=None, description="leaf queue; default: the tenant's queue")
    priority_class: str = "normal"
    bundles: list[ResourcesSpec] = Field(default_factory=lambda: [ResourcesSpec()], min_length=1)
    strategy: GangStrategy = GangStrategy.PACK
    allowed_regions: list[str] | None = Field(
        default=None, description="Shandong cities (济南 or jinan) or residency zones the data may go to"
    )
    submit_time: float = Field(default=0.0, ge=0)
    max_runtime_s: float | None = Field(default=None, gt=0)
    pools: list[str] | None = Field(
        default=None,
        min_length=1,
        description="pools the job may run on; default any. A tenant's own code runs only on the tenant "
        "sandbox pools it is granted, and the scheduler sets this for it",
    )

    @field_validator("priority_class")
    @classmethod
    def _known_class(cls, value: str) -> str:
        if value not in PRIORITY_CLASSES:
            raise ValueError(f"priority_class {value!r} is unknown; use one of {', '.join(PRIORITY_CLASSES)}")
        return value

    @field_validator("allowed_regions")
    @classmethod
    def _regions(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("allowed_regions is empty: the job could run nowhere; omit it to allow anywhere")
        # Cities may be written in Chinese or pinyin; the scheduler keys pools by pinyin.
        return None if value is None else [city_id(r) or r for r in value]

    def to_model(self, queue: str | None = None) -> Job:
        """The job; `queue` is the tenant's leaf queue when the spec names none."""
        return Job(
            id=self.id,
            tenant=self.tenant,
            queue=self.queue or queue or self.tenant,
            bundles=tuple(b.to_model() for b in self.bundles),
            priority=PRIORITY_CLASSES[self.priority_class],
            strategy=self.strategy,
            allowed_regions=frozenset(self.allowed_regions) if self.allowed_regions is not None else None,
            submit_time=self.submit_time,
            runtime=self.max_runtime_s,
            pools=frozenset(self.pools) if self.pools is not None else None,
        )


class NodeGroupSpec(_Spec):
    """`count` identical nodes."""

    count: int = Field(default=1, ge=1)
    cpu: float = Field(gt=0, description="CPU cores per node")
    memory_mib: int = Field(gt=0)
    gpu: int = Field(default=0, ge=0)
    gpu_type: str | None = None

    @model_validator(mode="after")
    def _typed_gpus(self) -> Self:
        if self.gpu and not self.gpu_type:
            raise ValueError("nodes with GPUs need a gpu_type (e.g. A10), so jobs can ask for it")
        return self


class PoolSpec(_Spec):
    """A pool: a Ray cluster or a labelled node group, with where it is and what it costs."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    city: str
    kind: PoolKind = PoolKind.REGIONAL
    zone: str = "shandong"
    price_per_gpu_hour: float = Field(default=0.0, ge=0)
    carbon_g_per_kwh: float = Field(default=0.0, ge=0)
    nodes: list[NodeGroupSpec] = Field(default_factory=list)

    @field_validator("city")
    @classmethod
    def _city(cls, value: str) -> str:
        found = city_id(value)
        if found is None:
            names = ", ".join(f"{p} ({h})" for p, h in SHANDONG_CITIES.items())
            raise ValueError(f"city {value!r} is not one of the 16 Shandong cities: {names}")
        return found

    def to_model(self) -> tuple[Pool, list[Node]]:
        pool = Pool(
            name=self.name,
            city=self.city,
            kind=self.kind,
            zone=self.zone,
            price_per_gpu_hour=self.price_per_gpu_hour,
            carbon_g_per_kwh=self.carbon_g_per_kwh,
        )
        nodes: list[Node] = []
        for g, group in enumerate(self.nodes):
            for i in range(group.count):
                nodes.append(
                    Node(
                        id=f"{self.name}-{g}-{i}",
                        pool=self.name,
                        cpu_milli=round(group.cpu * 1000),
                        memory_mib=group.memory_mib,
                        gpu_count=group.gpu,
                        gpu_type=group.gpu_type if group.gpu else None,
                    )
                )
        return pool, nodes


class AmountSpec(_Spec):
    """A quota. A resource left out is not constrained by it (it is not a quota of zero)."""

    cpu: float | None = Field(default=None, ge=0, description="CPU cores; left out: not constrained")
    memory_mib: int | None = Field(default=None, ge=0, description="memory in MiB; left out: not constrained")
    gpu: float | None = Field(
        default=None, ge=0, description="GPUs (fractions allowed); left out: not constrained"
    )

    def to_model(self) -> Quota:
        return Quota(
            round(self.cpu * 1000) if self.cpu is not None else None,
            self.memory_mib,
            round(self.gpu * GPU_MILLI) if self.gpu is not None else None,
        )


class QueueSpec(_Spec):
    """A queue of the tree: province → city or industry brain → tenant."""

    name: str = Field(min_length=1)
    parent: str | None = None
    tenant: str | None = None
    guaranteed: AmountSpec | None = None
    borrowing_limit: AmountSpec | None = None
    lending_limit: AmountSpec | None = None
    weight: float = Field(default=1.0, gt=0)

    @model_validator(mode="after")
    def _limits(self) -> Self:
        if self.lending_limit is not None:
            if self.guaranteed is None:
                raise ValueError(f"queue {self.name}: a lending_limit needs a guaranteed quota to lend from")
            lend, own = self.lending_limit.to_model(), self.guaranteed.to_model()
            pairs = zip(lend.as_tuple(), own.as_tuple(), strict=True)
            if any(a is not None and b is not None and a > b for a, b in pairs):
                raise ValueError(f"queue {self.name}: lending_limit exceeds the guaranteed quota")
        return self

    def to_model(self) -> Queue:
        return Queue(
            name=self.name,
            parent=self.parent,
            tenant=self.tenant,
            guaranteed=self.guaranteed.to_model() if self.guaranteed else None,
            borrowing_limit=self.borrowing_limit.to_model() if self.borrowing_limit else None,
            lending_limit=self.lending_limit.to_model() if self.lending_limit else None,
            weight=self.weight,
        )


class JobRequest(JobSpec):
    """A job for a live pool: the placement spec plus what Ray runs and how to recover it.

    The entrypoint runs with the PATH of the process that started the Ray node, so name interpreters by
    absolute path (``/opt/venv/bin/python train.py``) unless that PATH is known to be right.
    """

    id: str = Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$",
        description="letters, digits, '-' and '_', starting with a letter or digit: ids name folders and Ray "
        "submissions, so nothing that could be a path",
    )
    kind: Kind = Field(
        default="entrypoint", description="entrypoint, training, batch-inference or governance"
    )
    entrypoint: str | None = Field(
        default=None, min_length=1, description="shell command Ray runs as the job's driver (kind entrypoint)"
    )
    training: TrainingParams | None = None
    batch_inference: BatchInferenceParams | None = Field(default=None, alias="batch-inference")
    governance: GovernanceParams | None = None
    runtime_env: dict[str, Any] | None = Field(default=None, description="Ray runtime_env of the driver")
    retries: int = Field(default=0, ge=0, le=20, description="how often a failed job is run again")
    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$",
        description="resending a key returns the same job; letters, digits, '.', '_', ':' and '-'",
    )
    deadline: float | None = Field(
        default=None, gt=0, description="unix time after which the job must not start any more"
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _kind_parameters(self) -> Self:
        given = [name for name, field in SECTIONS.items() if getattr(self, field) is not None]
        if self.kind == "entrypoint":
            if self.entrypoint is None:
                raise ValueError(
                    "a job of kind entrypoint needs an entrypoint (the command Ray runs), or set kind to "
                    "training, batch-inference or governance with its section"
                )
            if given:
                raise ValueError(f"section {given[0]} belongs to kind {given[0]}; set kind: {given[0]}")
            return self
        if self.entrypoint is not None:
            raise ValueError(
                f"a job of kind {self.kind} runs the platform's program; drop entrypoint, or use kind "
                "entrypoint"
            )
        if self.kind not in given:
            raise ValueError(f"a job of kind {self.kind} needs its parameters under {self.kind}:")
        others = [name for name in given if name != self.kind]
        if others:
            raise ValueError(f"section {others[0]} does not belong to kind {self.kind}; remove it")
        return self

    @property
    def params(self) -> KindParams | None:
        """The parameters of a built-in kind; None for kind entrypoint."""
        if self.kind == "entrypoint":
            return None
        params: KindParams | None = getattr(self, SECTIONS[self.kind])
        return params

    def command(self, python: str, programs: Mapping[str, str]) -> str:
        """The command Ray runs: the user's entrypoint, or the kind's program (from ``programs``, kind →
        module) run by `python`."""
        params = self.params
        if params is None:
            assert self.entrypoint is not None
            return self.entrypoint
        if self.kind not in programs:
            raise SpecInvalid("the job spec", unoffered_kind(self.kind, programs))
        return program_command(programs[self.kind], params, self.id, python)


def unoffered_kind(kind: str, programs: Mapping[str, str]) -> str:
    """Why a job of ``kind`` cannot run here: no program is registered for it."""
    offered = ", ".join(["entrypoint", *sorted(programs)])
    return (
        f"kind {kind} is not offered by this scheduler: no program is registered for it "
        f"(BRAIN_JOB_PROGRAMS); kinds offered: {offered}"
    )


class NodeSelector(_Spec):
    """The nodes of a Ray cluster that form one pool: those with a custom resource, or with labels.

    Several pools may then share one cluster (one `address`). A custom resource (``ray start
    --resources '{"pool_qingdao_gpu": 8}'``) also keeps the job's driver and workers on the group: the
    driver asks for a sliver of it, and the built-in kinds ask for it on every worker. Labels
    (``ray start --labels group=qingdao-gpu``, Ray's label selectors, beta in Ray 2.60) select the
    driver the same way; a user's own entrypoint must pass them on to its tasks (BRAIN_NODE_LABELS).
    """

    resource: str | None = Field(default=None, min_length=1, pattern=r"^[A-Za-z0-9_./:-]+$")
    labels: dict[str, str] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one(self) -> Self:
        if (self.resource is None) == (self.labels is None):
            raise ValueError(
                "node_group selects nodes by exactly one of resource: NAME (a custom resource) or "
                "labels: {key: value}"
            )
        if self.resource in ("CPU", "GPU", "memory", "object_store_memory"):
            raise ValueError(
                f"node_group resource {self.resource!r} is on every node; name the group's custom resource"
            )
        return self

    def selects(self, resources: dict[str, float], labels: dict[str, str]) -> bool:
        """Whether a node with these resources and labels belongs to the group."""
        if self.resource is not None:
            return resources.get(self.resource, 0) > 0
        assert self.labels is not None
        return all(labels.get(k) == v for k, v in self.labels.items())


class ClusterPoolSpec(PoolSpec):
    """A pool backed by a live Ray cluster: where its Jobs API is and how to authenticate to it.

    Capacity is read from Ray itself. A pool that autoscales (KubeRay) declares `nodes` at its largest
    size instead: the policy then plans against what the cluster can grow to, and Ray's autoscaler adds
    the nodes a submitted job waits for.
    """

    address: str = Field(pattern=r"^https?://", description="the Ray dashboard / Jobs API URL")
    backend: Literal["ray-jobs"] = "ray-jobs"
    auth_token_file: str | None = Field(
        default=None, description="file holding the cluster's Ray auth token (Ray 2.60 token auth)"
    )
    auth_token: str | None = Field(
        default=None, description="the token itself; prefer auth_token_file so it stays out of files"
    )
    max_jobs: int | None = Field(
        default=None, ge=1, description="jobs in flight at most (default: the scheduler's max_jobs_per_pool)"
    )
    node_group: NodeSelector | None = Field(
        default=None, description="only these nodes of the cluster; default: the whole cluster"
    )
    sandbox_for: list[str] = Field(
        default_factory=list,
        description="tenants granted this pool as their sandbox: there they may run their own code "
        "(kind entrypoint, any runtime_env). Never a pool of the capability centre's own cluster",
    )


class TopologySpec(_Spec):
    """The whole topology in one YAML file: `brain pools apply FILE`.

    A pool's `address` may be given in the pool or in `addresses` (pool name → URL), the form
    `brain deploy render-manifests` writes for KubeRay centres.
    """

    pools: list[ClusterPoolSpec] = Field(default_factory=list)
    queues: list[QueueSpec] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _addresses(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "addresses" not in data:
            return data
        data = dict(data)
        addresses = data.pop("addresses") or {}
        if not isinstance(addresses, dict):
            raise ValueError("addresses must map pool names to Jobs API URLs")
        pools = []
        for pool in data.get("pools") or []:
            if isinstance(pool, dict) and "address" not in pool and pool.get("name") in addresses:
                pool = {**pool, "address": addresses[pool["name"]]}
            pools.append(pool)
        data["pools"] = pools
        return data
